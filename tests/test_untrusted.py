"""Each defect the aggregator audit found (issue 14), on real records the runner wrote: bad
files skipped with their reason in every command, pull confined to --into, the regression gate,
escaping of record strings in every file the report writes, published power summaries."""

from __future__ import annotations

import copy
import csv
import json
import os
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from vedliot_aggregator import untrusted
from vedliot_aggregator.cli import cli

from conftest import REPO

COMMANDS = ("validate", "report", "compare", "accuracy", "power")


def _invoke(*args: str):
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args[0]} raised {result.exception!r}") from result.exception
    return result


def _records(measured: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(measured.glob("*.json"))]


def _write(directory: Path, record: dict, name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name or record['run_id']}.json"
    path.write_text(json.dumps(record))
    return path


def _fresh(record: dict, **changes) -> dict:
    out = copy.deepcopy(record)
    out["run_id"] = str(uuid.uuid4())
    out.update(changes)
    return out


BAD_FILES = {
    "deep.json": b"[" * 5000 + b"]" * 5000,  # RecursionError in every command before
    "nan.json": b'{"schema": "vedliot-bench/result/2", "x": NaN}',
    "infinity.json": b'{"x": -Infinity}',
    "overflow-float.json": b'{"x": 1e999}',
    "overflow-int.json": b'{"x": ' + b"9" * 400 + b"}",
    "not-utf8.json": b"\xff\xfe\x00",
    "empty.json": b"",
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_file_never_stops_a_command(measured, tmp_path, command):
    data = tmp_path / "data"
    for record in _records(measured):
        _write(data, record)
    for name, content in BAD_FILES.items():
        (data / name).write_bytes(content)
    (data / "loop-a.json").symlink_to(data / "loop-b.json")
    (data / "loop-b.json").symlink_to(data / "loop-a.json")
    report = [str(data), "-o", str(tmp_path / "r"), "--no-reference", "--images", "none"]
    args = {"report": report, "compare": [str(data), str(data)]}.get(command, [str(data)])
    result = _invoke(command, *args)
    assert "Traceback" not in result.output
    for name in [*BAD_FILES, "loop-a.json"]:
        assert str(data / name) in result.output, (name, result.output)  # listed, with its reason
    assert "nested deeper than" in result.output and "NaN is not JSON" in result.output
    assert "a number out of range" in result.output and "Too many levels of symbolic links" in result.output
    if command == "report":
        assert result.exit_code == 0 and "3 records" in result.output
    if command == "validate":
        assert result.exit_code == 1 and "3 valid" in result.output


def test_records_whose_parts_disagree_are_skipped_with_why(measured, tmp_path):
    power = next(r for r in _records(measured) if r["power"])
    cases = {}
    r = _fresh(power)
    r["power"]["summed"] = ["nope"]
    cases["summed"] = (r, "rail 'nope' has no samples")
    r = _fresh(power)
    rail = next(iter(r["power"]["samples"]["values"]))
    r["power"]["samples"]["values"][rail] = r["power"]["samples"]["values"][rail][:2]
    cases["short"] = (r, "2 readings for")
    r = _fresh(power)
    r["timing"]["window_end_ns"] = r["timing"]["window_start_ns"] - 1
    cases["window"] = (r, "the window ends before it starts")
    r = _fresh(power)
    r["power"]["samples"]["t_ns"] = r["power"]["samples"]["t_ns"][::-1]
    cases["backwards"] = (r, "times go backwards")
    cases["long name"] = (_fresh(power, target={"name": "t" * 300}), "is too long")
    data = tmp_path / "data"
    for name, (record, _why) in cases.items():
        _write(data, record, name.replace(" ", "-"))
    for command in ("report", "power", "compare"):
        args = [str(data), "-o", str(tmp_path / "r")] if command == "report" else [str(data)]
        args = [str(data), str(data)] if command == "compare" else args
        result = _invoke(command, *args)
        assert "Traceback" not in result.output
    validate = _invoke("validate", str(data))
    assert validate.exit_code == 1
    for _record, why in cases.values():
        assert why in validate.output


def test_report_file_names_and_every_written_file_are_safe(measured, tmp_path):
    base = _records(measured)[0]
    hostile = {
        '=HYPERLINK("http://evil","x")': "formula",
        "<script>alert(1)</script>": "markup",
        "x" * 199: "long",
        "../../escape": "path",
    }
    data = tmp_path / "data"
    for name in hostile:
        _write(data, _fresh(base, target={"name": name}))
    out = tmp_path / "report"
    result = _invoke("report", str(data), "-o", str(out), "--no-reference", "--images", "none")
    assert result.exit_code == 0, result.output
    for path in out.rglob("*"):
        assert out.resolve() in path.resolve().parents and len(path.name) <= 120
    tables = [p.read_text() for p in (out / "tables").glob("*.md")]
    assert tables and not any("<script>" in text for text in tables)
    assert any("&lt;script&gt;" in text for text in tables)
    for csv_file in [out / "metrics.csv", *(out / "tables").glob("*.csv")]:
        cells = [c for row in csv.reader(open(csv_file, newline="")) for c in row]
        assert not [c for c in cells if c.startswith(("=", "+", "@"))], csv_file
    assert "'=HYPERLINK" in (out / "metrics.csv").read_text()  # quoted, still readable


def test_compare_gate_catches_a_broken_build(measured, tmp_path):
    records = _records(measured)
    before, after = tmp_path / "a", tmp_path / "b"
    for record in records:
        _write(before, record)
    broken = _fresh(records[0], status="failed", error={"type": "RuntimeError", "message": "segfault in the kernel"})
    _write(after, broken)  # ok before, failed now
    _write(after, _fresh(records[1]))  # unchanged; records[2] is gone
    result = _invoke("compare", str(before), str(after), "--fail-on-regression")
    assert result.exit_code == 1, result.output
    assert "ok -> failed REGRESSION (failed: segfault in the kernel)" in result.output
    assert "ok -> missing REGRESSION" in result.output and "2 ok before and not now" in result.output
    assert _invoke("compare", str(before), str(after)).exit_code == 0  # reported, gate off
    for bad in ("nan", "-5", "inf"):
        result = _invoke("compare", str(before), str(before), "--threshold", bad, "--fail-on-regression")
        assert result.exit_code == 2 and "--threshold" in result.output, result.output


def test_pull_stays_inside_into_and_copies_only_valid_records(measured, tmp_path):
    good = _records(measured)[0]
    source = tmp_path / "source"
    _write(source, good, "renamed-on-the-board")
    (source / "renamed-on-the-board.detections.json").write_text("[]")
    for run_id in ("../../../escaped", "/tmp/absolute-escape", "a/b"):
        _write(source, {**good, "run_id": run_id}, f"bad-{abs(hash(run_id))}")
    (source / "nan.json").write_bytes(b'{"run_id": NaN}')
    into = tmp_path / "deep" / "into"
    result = _invoke("pull", str(source), "--into", str(into))
    assert result.exit_code == 1 and result.output.count("skipped") >= 4, result.output
    assert "does not match" in result.output  # the schema's run_id pattern names the problem
    written = sorted(p.name for p in into.iterdir())
    assert written == [f"{good['run_id']}.detections.json", f"{good['run_id']}.json"]
    assert not (tmp_path / "escaped.json").exists() and not Path("/tmp/absolute-escape.json").exists()


def test_pull_from_a_container_stays_inside_into(measured, tmp_path, monkeypatch):
    from test_aggregator import _docker_double, _install

    good = _records(measured)[0]
    files = {"ok.json": json.dumps(good).encode(), "evil.json": json.dumps({**good, "run_id": "../../x"}).encode()}
    _install(monkeypatch, _docker_double(files))
    into = tmp_path / "into"
    result = _invoke("pull", "--container", "bench", "--into", str(into))
    assert result.exit_code == 1 and "skipped results/evil.json" in result.output
    assert [p.name for p in into.iterdir()] == [f"{good['run_id']}.json"]


def test_pull_without_the_docker_sdk_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "docker", None)  # import docker -> ImportError
    for args in (["--image", "vedliot/bench-x86-onnxruntime"], ["--container", "bench"]):
        result = _invoke("pull", *args, "--into", str(tmp_path))
        assert result.exit_code == 1 and "pip install 'vedliot-aggregator[docker]'" in result.output
        assert "Traceback" not in result.output and "ModuleNotFoundError" not in result.output


def test_ssh_transport_is_installed_with_the_docker_extra():
    import docker.transport
    import paramiko  # noqa: F401 - docker-py's ssh:// transport needs it, even with the system ssh client

    assert hasattr(docker.transport, "SSHHTTPAdapter")
    extra = (REPO / "aggregator" / "pyproject.toml").read_text()
    assert 'docker = ["docker>=7", "paramiko>=3"]' in extra


def test_power_on_the_shipped_d33_records():
    result = _invoke("power", str(REPO / "results" / "reference" / "vedliot-d3.3"))
    assert result.exit_code == 0, result.output
    assert "published figures: no samples" in result.output and "power 87.00 W" in result.output


def test_untrusted_loader_bounds(tmp_path, monkeypatch):
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"x": "y" * 2000}))
    monkeypatch.setattr(untrusted, "MAX_BYTES", 1000)
    with pytest.raises(untrusted.Refused, match="larger than"):
        untrusted.load_file(big, max_bytes=1000)
    monkeypatch.setattr(untrusted, "MAX_STRING", 100)
    with pytest.raises(untrusted.Refused, match="a string longer than 100"):
        untrusted.loads(json.dumps({"a": [{"b": "z" * 101}]}))
    with pytest.raises(untrusted.Refused, match="a string longer than 100"):  # a list of strings (CPU flags)
        untrusted.loads(json.dumps({"a": ["avx", "z" * 101, "fma"]}))
    with pytest.raises(untrusted.Refused, match="a string longer than 100"):  # lists compare item by item
        untrusted.loads(json.dumps({"a": [["a"], ["b", "z" * 101]]}))
    for long in ({"a": {"b": "z" * 101}}, {"z" * 101: 1}, {"a": ["avx", "z" * 101]}):  # bytes: orjson's path
        with pytest.raises(untrusted.Refused, match="longer than 100"):
            untrusted.loads(json.dumps(long).encode())
    assert untrusted.loads(json.dumps({"a": "z" * 90}).encode()) == {"a": "z" * 90}
    with pytest.raises(untrusted.Refused, match="a number out of range"):
        untrusted.loads(json.dumps({"a": [[1], [2**64]]}))
    assert untrusted.loads(json.dumps({"a": ["avx", "z" * 100, None, [1, "x"]]}))
    with pytest.raises(untrusted.Refused, match="nested deeper than 64"):
        untrusted.loads("[" * 70 + "]" * 70)  # under Python's own limit, over ours
    assert untrusted.loads("[" * 60 + "]" * 60)
    with pytest.raises(ValueError):
        untrusted.dumps({"x": float("nan")})


def test_import_refuses_what_no_record_may_hold(tmp_path):
    """A trace with a negative latency (a corrupt file): refused, nothing written."""
    trace = json.loads((REPO / "tests/data/trtexec/exportTimes-trt8.4-TREx-RTX3090-resnet50-fp32.json").read_text())
    trace[20]["latencyMs"] = -3.0
    path = tmp_path / "times.json"
    path.write_text(json.dumps(trace))
    out = tmp_path / "out"
    result = _invoke("import", "trtexec", str(path), "--model", "m", "-o", str(out))
    assert result.exit_code == 1 and "nothing written" in result.output and "minimum" in result.output
    assert not out.exists() or not list(out.iterdir())


def test_import_is_atomic_for_a_concurrent_reader(tmp_path):
    """Re-importing one file (the same run_id, the same path) while a reader polls it: the reader
    sees the whole record or nothing, never an empty or cut one (50 of 50 rounds did before)."""
    import threading

    report = REPO / "tests/data/benchmark_app/2026.4.1/json/benchmark_report.json"
    out = tmp_path / "out"
    assert _invoke("import", "benchmark_app", str(report), "-o", str(out)).exit_code == 0
    (path,) = out.glob("*.json")
    stop, seen, broken = threading.Event(), [0], []

    def read() -> None:
        while not stop.is_set():
            try:
                text = path.read_text()
            except FileNotFoundError:
                continue
            seen[0] += 1
            try:
                json.loads(text)
            except ValueError:
                broken.append(len(text))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(50):
            assert _invoke("import", "benchmark_app", str(report), "-o", str(out), "--quiet").exit_code == 0
    finally:
        stop.set()
        reader.join()
    assert seen[0] > 50 and broken == []
    assert [p.name for p in out.iterdir()] == [path.name]  # no temporary file left behind


@pytest.mark.parametrize("tool", ["benchmark_app", "trtexec"])
def test_import_of_malformed_files_is_one_line(tmp_path, tool):
    import fuzz

    real = {"benchmark_app": "tests/data/benchmark_app/2025.4.1/json/benchmark_report.json",
            "trtexec": "tests/data/trtexec/exportTimes-trt8.4-TREx-RTX3090-resnet50-fp32.json"}[tool]  # fmt: skip
    text = (REPO / real).read_bytes()
    for index, content in enumerate([*fuzz.RAW, text[: len(text) // 2], text.replace(b"1", b"\xff", 3)]):
        path = tmp_path / f"bad{index}.json"
        path.write_bytes(content)
        result = _invoke("import", tool, str(path), "--model", "m", "-o", str(tmp_path / "out"))
        assert result.exit_code == 2 and str(path) in result.output, (content[:40], result.output)
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_report_into_a_directory_it_cannot_write_is_one_line(measured, tmp_path):
    """As in the aggregator image with a bind-mounted /results owned by someone else: before, a
    PermissionError traceback."""
    if os.geteuid() == 0:  # root writes anywhere: make the directory a file's child instead
        blocked = tmp_path / "a-file"
        blocked.write_text("")
        output = blocked / "report"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        output = locked / "report"
    result = _invoke("report", str(measured), "-o", str(output), "--no-reference", "--images", "none")
    assert result.exit_code == 1 and f"--output {output}: cannot write there" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("images", ["jpg", "svg,gif", "none,svg", ""])
def test_an_unknown_image_format_is_one_line_before_any_work(measured, tmp_path, images):
    """Before, an unknown name was dropped without a word: `--images pdf` wrote no chart files."""
    output = tmp_path / "report"
    result = _invoke("report", str(measured), "-o", str(output), "--no-reference", "--images", images)
    assert result.exit_code == 2 and "--images" in result.output and "svg, png, svg,png or none" in result.output
    assert "Traceback" not in result.output and not output.exists()
