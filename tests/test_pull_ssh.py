"""`pull --docker-host ssh://...` for real: OpenSSH's sshd on loopback in front of a real Docker
engine, docker-py's ssh transport (paramiko, from the `docker` extra) reading a ~/.ssh/config and
known_hosts as a user's would. Needs root, sshd and a running Docker engine; skipped, saying
which is missing, on a machine without them (the image tests' machine has them)."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from vedliot_aggregator.cli import cli


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (sshd, docker)"
    if not Path("/usr/sbin/sshd").exists() or not shutil.which("ssh-keygen"):
        return "no OpenSSH server (apt-get install openssh-server)"
    if not shutil.which("docker"):
        return "no docker CLI (the remote end of docker's ssh transport)"
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:  # noqa: BLE001 - any reason the engine is not there
        return f"no Docker engine ({type(exc).__name__})"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def sshd(tmp_path):
    """An sshd on 127.0.0.1 taking one key for root, and a HOME whose ~/.ssh knows it."""
    keys = tmp_path / "keys"
    keys.mkdir()
    for name in ("host", "user"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True)
    (keys / "authorized_keys").write_text((keys / "user.pub").read_text())
    port = _free_port()
    config = tmp_path / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {keys / 'host'}\nPidFile {tmp_path / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {keys / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nStrictModes no\nUsePAM no\n"
    )
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege-separation directory
    server = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(f"Host 127.0.0.1\n  IdentityFile {keys / 'user'}\n")
    host_key = (keys / "host.pub").read_text().split()
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    yield port, home
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def finished_container(measured):
    """A created container whose /results holds a real record and a hostile one."""
    import docker

    client = docker.from_env()
    record = json.loads(next(measured.glob("*.json")).read_text())
    files = {"results/ok.json": json.dumps(record), "results/evil.json": json.dumps({**record, "run_id": "../x"})}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    repository, version = "vedliot-test-results", uuid.uuid4().hex[:8]
    client.api.import_image_from_data(buffer.getvalue(), repository=repository, tag=version)
    tag = f"{repository}:{version}"
    container = client.containers.create(tag, command=["/nothing"], name=f"bench-{uuid.uuid4().hex[:8]}")
    yield container.name, record["run_id"]
    container.remove(force=True)
    client.images.remove(tag, force=True)


def test_pull_over_ssh_from_a_real_engine(sshd, finished_container, tmp_path, monkeypatch):
    port, home = sshd
    name, run_id = finished_container
    monkeypatch.setenv("HOME", str(home))
    into = tmp_path / "into"
    args = ["pull", "--docker-host", f"ssh://root@127.0.0.1:{port}", "--container", name, "--into", str(into)]
    result = CliRunner().invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1 and "skipped results/evil.json" in result.output, result.output
    assert [p.name for p in into.iterdir()] == [f"{run_id}.json"]
    # An unknown host key is refused, in one line that says what to check.
    (home / ".ssh" / "known_hosts").write_text("")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "known_hosts" in result.output and "Traceback" not in result.output
