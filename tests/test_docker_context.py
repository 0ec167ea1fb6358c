"""Docker contexts by name from the Docker CLI's store (what `docker context create` of Docker
20.10.24 wrote: tests/data/docker-context), without a ~/.docker/config.json beside it."""

from __future__ import annotations

import pytest

from vedliot_aggregator import docker_context
from vedliot_aggregator.pull import PullError, engine_client

from conftest import REPO

STORE = REPO / "tests" / "data" / "docker-context"


@pytest.fixture(autouse=True)
def _store(monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(STORE))


def test_a_context_is_found_by_name():
    orin = docker_context.find("orin")
    assert orin.host == "ssh://bench@orin.lab" and not orin.skip_tls_verify and orin.ca is None
    assert docker_context.client_options(orin) == {"base_url": "ssh://bench@orin.lab"}


def test_a_tls_context_brings_its_ca():
    docker = pytest.importorskip("docker")
    lab = docker_context.find("lab-tls")
    assert lab.host == "tcp://lab.example:2376" and lab.ca is not None and lab.ca.name == "ca.pem"
    options = docker_context.client_options(lab)
    assert isinstance(options["tls"], docker.tls.TLSConfig) and options["tls"].verify == str(lab.ca)


def test_an_unknown_context_is_one_line(tmp_path, monkeypatch):
    with pytest.raises(docker_context.ContextError, match=r"nowhere: no such Docker context in .*docker context ls"):
        docker_context.find("nowhere")
    broken = tmp_path / "contexts" / "meta"
    digest = docker_context.hashlib.sha256(b"half").hexdigest()
    (broken / digest).mkdir(parents=True)
    (broken / digest / "meta.json").write_text('{"Name": "half"}')
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    with pytest.raises(docker_context.ContextError, match="cannot read its Docker context"):
        docker_context.find("half")


def test_the_sdk_client_goes_where_the_context_points(tmp_path, monkeypatch):
    """docker-py asks the engine its API version on creation: a context naming a socket that does
    not exist is a one-line PullError naming the context (images_test reaches a live engine
    through a context)."""
    pytest.importorskip("docker")
    with pytest.raises(PullError, match="nowhere: no such Docker context"):
        engine_client("nowhere")
    digest = docker_context.hashlib.sha256(b"gone").hexdigest()
    (tmp_path / "contexts" / "meta" / digest).mkdir(parents=True)
    meta = '{"Name":"gone","Metadata":{},"Endpoints":{"docker":{"Host":"unix:///nonexistent/docker.sock"}}}'
    (tmp_path / "contexts" / "meta" / digest / "meta.json").write_text(meta)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    with pytest.raises(PullError, match="cannot reach the Docker engine at gone"):
        engine_client("gone")
