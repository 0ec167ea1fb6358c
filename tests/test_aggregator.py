"""The aggregator on real records from real runs: collection (bad files, duplicates, migration),
the metrics table, the HTML report in headless Chromium, compare, import and pull."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
import types
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from vedliot_aggregator import catalog, collect, metrics
from vedliot_aggregator.cli import cli

from conftest import REPO

REQUIRED = ["target", "power_mode", "model", "backend", "precision", "batch_size", "mode", "provenance", "source",
            "inference_time_ms", "ips", "ops_per_inference", "gops", "peak_gops", "perf_ratio", "power_w",
            "idle_power_w", "energy_per_inference_mj", "gops_per_w", "top1", "top5", "map50", "map50_95",
            "warnings"]  # fmt: skip


def test_collect_skips_bad_files_drops_duplicates_and_migrates(measured, tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(measured, data)
    first = sorted(data.glob("*.json"))[0]
    (data / "copy").mkdir()
    shutil.copy(first, data / "copy" / first.name)  # the same run twice
    (data / "broken.json").write_text("{")
    (data / "wrong.json").write_text(json.dumps({"schema": "vedliot-bench/result/1", "run_id": 3}))
    old = json.loads(first.read_text())
    old.update(schema="vedliot-bench/result/0", run_id=str(uuid.uuid4()))
    old["timing"]["samples"] = old["timing"].pop("samples_ns")  # a renamed field, say
    (data / "old.json").write_text(json.dumps(old))

    def v0_to_v1(record):
        record = dict(record, schema="vedliot-bench/result/1")
        record["timing"]["samples_ns"] = record["timing"].pop("samples")
        return record

    monkeypatch.setitem(collect.MIGRATIONS, "vedliot-bench/result/0", v0_to_v1)
    result = collect.collect([data])
    assert len(result.records) == 4 and result.migrated == 1 and len(result.duplicates) == 1
    reasons = {c.path.name: c.problems[0] for c in result.skipped}
    assert reasons["broken.json"].startswith("not valid JSON") and "wrong.json" in reasons


def test_metrics_table(measured, tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("- id: demo-host\n  name: this VM\n  kind: cpu\n  peak_gops: {fp32: 200, int8: 400}\n")
    table = metrics.frame(collect.collect([measured]), catalog.load([mine]))
    assert list(table.columns[: len(metrics.COLUMNS)]) == metrics.COLUMNS
    assert set(REQUIRED) <= set(table.columns)
    for _, row in table.iterrows():
        batch = row["batch_size"]
        assert row["ips"] == pytest.approx(batch * 1000 / row["inference_time_ms"])
        assert row["gops"] == pytest.approx(row["ips"] * row["ops_per_inference"] / 1e9)
        assert row["perf_ratio"] == pytest.approx(row["gops"] / row["peak_gops"])
        assert row["provenance"] == "measured" and row["source"] == row["run_id"]
    powered = table[table["power_w"].notna()].iloc[0]
    assert powered["power_w"] == pytest.approx(30.0, rel=0.1)  # the 2% check is test_power's
    assert powered["energy_per_inference_mj"] == pytest.approx(powered["power_w"] / powered["ips"] * 1e3)
    assert powered["gops_per_w"] == pytest.approx(powered["gops"] / powered["power_w"])
    # The user's catalog entry came first; without it, these CPU runs take the CPU's own peak
    # (test_cpu_peak.py), estimated where the record gives a clock, and never the catalog's.
    plain = metrics.frame(collect.collect([measured]), catalog.load())
    assert set(plain["peak_source"].dropna()) <= {"estimated"} and "catalog" in set(table["peak_source"])


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _headless(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium here: make installs it (apt-get install chromium)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000"]  # fmt: skip
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_report_renders_in_chromium_and_escapes_record_text(measured, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(measured, data)
    hostile = json.loads(sorted(data.glob("*.json"))[0].read_text())
    hostile["run_id"] = str(uuid.uuid4())
    hostile["model"]["name"] = '<img src=x onerror="document.title=1">tiny'
    (data / f"{hostile['run_id']}.json").write_text(json.dumps(hostile))
    (data / "bad.json").write_text("not json")
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["report", str(data), "--output", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["records"] > 400 and summary["charts"] >= 10 and summary["skipped"] == [str(data / "bad.json")]
    page = (out / "index.html").read_text()
    assert "<img src=x" not in page and "&lt;img src=x" in page
    assert "http://" not in page.replace("http://www.w3.org", "") or "vega" in page  # no network needed
    metrics_csv = pd.read_csv(out / "metrics.csv")
    assert set(REQUIRED) <= set(metrics_csv.columns) and (metrics_csv["provenance"] == "published").sum() > 400
    # SVG by default; PNG only when asked for (tests/test_report_speed_paths.py draws both)
    assert (out / "charts" / "resnet50_gops_vs_power.svg").is_file()
    assert not list((out / "charts").glob("*.png"))
    assert any((out / "tables").glob("jetson_xavier_nx_resnet50.md"))
    dom = _headless("--dump-dom", (out / "index.html").as_uri(), tmp_path=tmp_path).stdout
    charts = summary["charts"]
    assert dom.count('id="chart-') == charts and dom.count('data-rendered="true"') == charts
    assert dom.count('class="marks"') >= charts  # Vega drew an SVG in every chart
    assert "<title>1</title>" not in dom  # the hostile onerror never ran
    shot = tmp_path / "shot.png"
    _headless(f"--screenshot={shot}", "--window-size=1280,2400", (out / "index.html").as_uri(), tmp_path=tmp_path)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.std() > 20 and (pixels < 128).mean() > 0.01  # not a blank page


def test_compare_finds_regressions(measured, tmp_path):
    before, after = tmp_path / "a", tmp_path / "b"
    shutil.copytree(measured, before)
    after.mkdir()
    for path in measured.glob("*.json"):
        record = json.loads(path.read_text())
        record["run_id"] = str(uuid.uuid4())
        if record["config"]["batch_size"] == 4:  # 25% slower
            record["timing"]["samples_ns"] = [int(s * 1.25) for s in record["timing"]["samples_ns"]]
        (after / f"{record['run_id']}.json").write_text(json.dumps(record))
    result = CliRunner().invoke(cli, ["compare", str(before), str(after), "--fail-on-regression"])
    assert result.exit_code == 1, result.output
    assert "inference_time_ms" in result.output and "REGRESSION" in result.output
    assert "3 matched, 2 regressions" in result.output  # time up and IPS down, batch 4 only
    assert CliRunner().invoke(cli, ["compare", str(before), str(before)]).exit_code == 0


# -- pull ----------------------------------------------------------------------------------------


def test_pull_from_directories_is_idempotent(measured, tmp_path):
    into = tmp_path / "all"
    first = CliRunner().invoke(cli, ["pull", str(measured), "--into", str(into)])
    assert first.exit_code == 0 and "3 records copied" in first.output
    again = CliRunner().invoke(cli, ["pull", str(measured), "--into", str(into)])
    assert "0 records copied" in again.output and "3 already there" in again.output
    assert len(list(into.glob("*.json"))) == 3


def _docker_double(results: dict[str, bytes], exit_code: int = 0) -> types.ModuleType:
    """docker-py's documented surface: DockerClient(base_url=, use_ssh_client=), from_env(),
    containers.run(image, command=, detach=, volumes=) / .get(name), Container.wait() -> {'StatusCode'},
    get_archive(path) -> (chunks, stat), logs(), remove(); errors NotFound, ImageNotFound, APIError,
    DockerException. Contexts come from the CLI's store (tests/data/docker-context), not the SDK."""
    docker = types.ModuleType("docker")
    errors = types.ModuleType("docker.errors")

    class DockerException(Exception):
        pass

    class APIError(DockerException):
        pass

    class NotFound(APIError):
        pass

    class ImageNotFound(NotFound):
        pass

    errors.DockerException, errors.APIError, errors.NotFound, errors.ImageNotFound = (
        DockerException, APIError, NotFound, ImageNotFound)  # fmt: skip
    docker.errors = errors
    docker.calls = []

    def tar_of(files: dict[str, bytes]) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(f"results/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    class Container:
        name = "bench"

        def wait(self):
            return {"StatusCode": exit_code, "Error": None}

        def get_archive(self, path):
            docker.calls.append(("get_archive", path))
            data = tar_of(results)
            return iter([data[:1000], data[1000:]]), {"name": "results", "size": len(data)}

        def logs(self, tail=None):
            return b"line one\nvedliot-runner: error: something broke\n"

        def remove(self, v=False):
            docker.calls.append(("remove", v))

    class Containers:
        def run(self, image, command=None, detach=False, volumes=None, environment=None):
            docker.calls.append(("run", image, command, detach, volumes, environment))
            if image == "missing":
                raise ImageNotFound("404 Client Error: Not Found (no such image)")
            return Container()

        def get(self, name):
            if name != "bench":
                raise NotFound(f"No such container: {name}")
            return Container()

    class Images:
        def get(self, name):  # Image.id, Image.attrs["RepoDigests"]
            if name == "missing":
                raise ImageNotFound(f"No such image: {name}")
            return types.SimpleNamespace(id="sha256:" + "ab" * 32, attrs={"RepoDigests": []})

    class DockerClient:
        def __init__(self, base_url=None, use_ssh_client=False):
            docker.calls.append(("client", base_url, use_ssh_client))
            self.containers = Containers()
            self.images = Images()

    docker.DockerClient = DockerClient
    docker.from_env = lambda: DockerClient(base_url="unix:///var/run/docker.sock")
    return docker


def _install(monkeypatch, docker) -> None:
    monkeypatch.setitem(sys.modules, "docker", docker)
    monkeypatch.setitem(sys.modules, "docker.errors", docker.errors)
    # The Docker CLI's context store as `docker context create` (Docker 20.10) wrote it.
    monkeypatch.setenv("DOCKER_CONFIG", str(REPO / "tests" / "data" / "docker-context"))


def test_pull_runs_an_image_on_a_remote_host(measured, tmp_path, monkeypatch):
    files = {p.name: p.read_bytes() for p in measured.glob("*.json")}
    files["x.detections.json"] = b"[]"
    docker = _docker_double(files)
    _install(monkeypatch, docker)
    into = tmp_path / "pulled"
    args = ["pull", "--docker-host", "ssh://lab@jetson", "--image", "vedliot/bench-jetson", "--into", str(into),
            "--", "--quick"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "3 records copied" in result.output and len(list(into.glob("*.json"))) == 3
    assert ("client", "ssh://lab@jetson", False) in docker.calls
    run = next(c for c in docker.calls if c[0] == "run")
    assert run[1:4] == ("vedliot/bench-jetson", ["--quick"], True)
    # records copied out: no mount needed; the image's ID recorded, which the container cannot see
    assert run[5] == {"VEDLIOT_RESULTS_MOUNT": "", "VEDLIOT_IMAGE_DIGEST": "sha256:" + "ab" * 32}
    assert docker.calls[-1] == ("remove", True)  # removed with its volume after /results was copied
    again = CliRunner().invoke(cli, args)
    assert "0 records copied" in again.output and "3 already there" in again.output


def test_pull_from_a_container_by_context_and_errors(measured, tmp_path, monkeypatch):
    docker = _docker_double({p.name: p.read_bytes() for p in measured.glob("*.json")}, exit_code=1)
    _install(monkeypatch, docker)
    into = tmp_path / "pulled"
    result = CliRunner().invoke(cli, ["pull", "--docker-host", "orin", "--container", "bench", "--into", str(into)])
    assert result.exit_code == 0 and ("client", "ssh://bench@orin.lab", False) in docker.calls
    result = CliRunner().invoke(cli, ["pull", "--docker-host", "nowhere", "--container", "bench"])
    assert result.exit_code == 1 and "no such Docker context" in result.output
    result = CliRunner().invoke(cli, ["pull", "--container", "other", "--into", str(into)])
    assert result.exit_code == 1 and "no such container" in result.output
    result = CliRunner().invoke(cli, ["pull", "--image", "missing", "--into", str(into)])
    assert result.exit_code == 1 and "not found" in result.output
    # A run that failed still hands over its records, and says what went wrong.
    result = CliRunner().invoke(cli, ["pull", "--image", "vedliot/bench-x86-tvm", "--into", str(tmp_path / "f")])
    assert result.exit_code == 1 and "exited with 1: vedliot-runner: error: something broke" in result.output
    assert len(list((tmp_path / "f").glob("*.json"))) == 3
