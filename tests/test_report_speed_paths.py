"""The report's fast paths give what the plain ones gave: orjson reading against json, forked
rows against serial ones, cached chart files against drawn ones (benchmarks/report_10k.py times
them; tests only check they are right)."""

from __future__ import annotations

import gc
import json
import math
import os
import time

import numpy as np
import pandas as pd
import pytest

from vedliot_aggregator import catalog, chart_files, collect, metrics, parallel, report_files, schema, untrusted


def _stdlib(data: bytes):
    """untrusted.loads as it was before orjson: json, then the bounds walk."""
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=untrusted._no_constant)
    except (ValueError, RecursionError, untrusted.Refused):
        return "refused"
    try:
        untrusted.check(value)
    except untrusted.Refused:
        return "refused"
    return value


TRICKY = [
    b'{"a": [1, 2.5, -3]}',
    b'{"a": 9223372036854775807}',  # 2**63 - 1: an integer
    b'{"a": 9223372036854775808}',  # 2**63: out of range
    b'{"a": 18446744073709551616}',  # beyond 64 bits: orjson would make it a float
    b'{"a": 123456789012345678901234567890}',
    b'{"a": -9223372036854775809}',
    b'{"a": 1e300, "b": [1e19, 2]}',  # large floats are floats for both
    b'{"a": 1e999}',
    b'{"a": NaN}',
    b'{"a": "\\ud800"}',  # a lone surrogate: json takes it, orjson does not
    b'{"a": "\xc3\xa9"}',
    b"\xef\xbb\xbf{}",  # a byte-order mark
    b'{"a": 1, "a": 2}',
    b"[" * 70 + b"]" * 70,
    b"[" * 2000 + b"]" * 2000,
    # the bounds read from the bytes (untrusted._plainly_bounded), at and around each limit
    *(b"[" * n + b"1" + b"]" * n for n in (62, 63, 64, 65)),
    *(b'{"a": ' * n + b"1" + b"}" * n for n in (62, 63, 64, 65)),
    b'{"a": 9223372036854775807, "t": 1796398270996413310}',
    b'{"a": -9223372036854775808}',
    b'{"a": -9223372036854775809}',
    b'{"a": [1, 9223372036854775808]}',
    b'{"a": 99999999999999999999}',
    b'{"a": 12345678901234567890.5, "b": 0.000000000000000000001}',
    b'{"a": "12345678901234567890123", "b": "9300000000000000000"}',  # digits in strings
    b'{"a": 1e19, "b": 1E+400}',
    b'{"a": 1',
    b"",
]


@pytest.mark.parametrize("data", TRICKY, ids=range(len(TRICKY)))
def test_orjson_reading_takes_and_refuses_what_json_did(data):
    try:
        fast = untrusted.loads(data)
    except untrusted.Refused:
        fast = "refused"
    expected = _stdlib(data)
    assert fast == expected or (isinstance(fast, float) and math.isnan(fast))
    if isinstance(expected, dict) and "a" in expected:
        assert type(fast["a"]) is type(expected["a"])  # an integer stays an integer


def test_records_read_fast_equal_records_read_by_json(measured):
    for path in measured.glob("*.json"):
        data = path.read_bytes()
        assert untrusted.loads(data) == _stdlib(data)
    assert gc.isenabled()
    collect.collect([measured])
    assert gc.isenabled()  # collect turns the cyclic collector off while reading, and back on


def test_forked_map_keeps_order_and_runs_elsewhere(monkeypatch):
    items = list(range(parallel.MIN_ITEMS + 500))

    def work(i):
        time.sleep(0.0002)  # enough work per item that every worker gets some
        return i * i, os.getpid()

    out = parallel.ordered_map(work, items)
    assert [square for square, _ in out] == [i * i for i in items]
    pids = {pid for _, pid in out}
    if parallel.usable_cores() > 1:
        assert os.getpid() not in pids and len(pids) >= 2
    with pytest.raises(ZeroDivisionError):  # a worker's error reaches the caller
        parallel.ordered_map(lambda i: 1 / (i - len(items) + 10), items)
    monkeypatch.setenv("VEDLIOT_WORKERS", "1")
    assert set(parallel.ordered_map(lambda i: os.getpid(), items)) == {os.getpid()}


def test_forked_rows_equal_serial_rows(measured, monkeypatch):
    found = collect.collect([measured])
    found.records = found.records * (parallel.MIN_ITEMS // len(found.records) + 1)
    forked = metrics.frame(found, catalog.load())
    monkeypatch.setenv("VEDLIOT_WORKERS", "1")
    serial = metrics.frame(found, catalog.load())
    assert forked.drop(columns=["spread_ms"]).equals(serial.drop(columns=["spread_ms"]))
    assert forked["spread_ms"].tolist() == serial["spread_ms"].tolist()


def test_chart_files_come_from_the_cache_only_for_the_same_spec(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    axes = {"x": {"field": "x", "type": "quantitative"}, "y": {"field": "y", "type": "quantitative"}}
    spec = {"data": {"values": [{"x": 1, "y": 2}, {"x": 2, "y": 3}]}, "mark": "point", "encoding": axes}
    first, second = tmp_path / "first", tmp_path / "second"
    for directory in (first, second):
        directory.mkdir()
    drawn = chart_files.Renderer(first, ("svg", "png"))
    drawn.add(spec, "c")
    assert len(drawn.jobs) == 1  # nothing cached yet: drawn by the child process
    drawn.start()
    assert [p.name for p in drawn.finish()] == ["c.svg", "c.png"]
    again = chart_files.Renderer(second, ("svg", "png"))
    again.add(spec, "c")
    assert again.jobs == [] and [p.name for p in again.finish()] == ["c.svg", "c.png"]
    for name in ("c.svg", "c.png"):
        assert (second / name).read_bytes() == (first / name).read_bytes()
    assert (first / "c.png").read_bytes().startswith(b"\x89PNG")
    changed = chart_files.Renderer(second, ("svg",))
    changed.add({**spec, "data": {"values": [{"x": 1, "y": 5}]}}, "d")
    assert len(changed.jobs) == 1  # other data: another hash, drawn again


@pytest.mark.parametrize(("images", "suffixes"), [(None, {".svg"}), ("png,svg", {".svg", ".png"}), ("none", set())])
def test_the_report_writes_the_chart_files_asked_for(measured, tmp_path, monkeypatch, images, suffixes):
    from click.testing import CliRunner

    from vedliot_aggregator.cli import cli

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "r"
    args = ["report", str(measured), "-o", str(out), "--no-reference", "--quiet"]
    result = CliRunner().invoke(cli, args + (["--images", images] if images else []))
    assert result.exit_code == 0, result.output
    written = list((out / "charts").glob("*")) if (out / "charts").exists() else []
    assert {p.suffix for p in written} == suffixes
    if suffixes == {".svg", ".png"}:
        assert {p.stem for p in written if p.suffix == ".png"} == {p.stem for p in written if p.suffix == ".svg"}


def test_the_page_lists_the_newest_measured_runs_past_its_cap(measured, tmp_path, monkeypatch):
    from vedliot_aggregator import reference, report

    found = collect.collect([measured])
    table = metrics.frame(found, catalog.load())
    speed = table[(table["mode"] != "accuracy") & (table["model"] == "tiny")]
    newest = speed.sort_values("started_at").iloc[-1]["run_id"]
    monkeypatch.setattr(report, "MAX_PAGE_RUNS", 1)
    page = report.render(found, table, reference.audit(table), tmp_path / "r", ()).index.read_text()
    assert f"Runs ({len(speed)}; 1 here, the newest measured; all in metrics.csv)" in page
    listed = page.split(f"Runs ({len(speed)};")[1].split("</table>")[0]
    assert newest in listed and all(r not in listed for r in speed["run_id"] if r != newest)
    assert len(open(tmp_path / "r" / "metrics.csv").readlines()) == len(table) + 1


def _hostile_frame(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    bits = rng.integers(0, 2**63, rows, dtype=np.int64).view(np.float64)
    floats = np.where(np.isfinite(bits), bits, np.nan)
    floats[: rows // 4] = rng.standard_normal(rows // 4) * 10.0 ** rng.integers(-20, 20, rows // 4)
    floats[rows // 4 :: 7] = np.nan
    text = rng.choice(["plain", "=1+2", "+x", "-3", "@SUM(A1)", "\tx", "\rx", 'say "hi", then', "a\nb", "é€", ""], rows)
    mixed = [[None, True, 1.5, float("nan"), "=bad", np.float64(2.5), (1, 2), ["-a"]][i % 8] for i in range(rows)]
    small = np.where(np.isnan(floats) | (np.abs(floats) < 1e30), floats, 0.5).astype(np.float32)
    return pd.DataFrame({
        "f64": floats, "f32": small, "i64": rng.integers(-(2**62), 2**62, rows),
        "flag": rng.integers(0, 2, rows).astype(bool), "text": pd.array(text, dtype="str"),
        "text_na": pd.array([None if i % 3 else t for i, t in enumerate(text)], dtype="str"), "objects": mixed,
        "nullable": pd.array([None if i % 5 == 0 else i for i in range(rows)], dtype="Int64"),
        "when": pd.to_datetime(rng.integers(0, 2**40, rows), unit="ms"), "=formula header": text,
    })  # fmt: skip


@pytest.mark.parametrize("columns", [None, ["f64", "i64", "flag", "text", "text_na", "objects", "=formula header"]])
def test_metrics_csv_is_written_as_pandas_wrote_it(tmp_path, columns):
    """write_csv is spreadsheet_safe + to_csv byte for byte: on its own path (numbers, text,
    objects) and where dates or nullable integers send it back to pandas."""
    frame = _hostile_frame(np.random.default_rng(7), 2000)
    frame = frame if columns is None else frame[columns]
    report_files.spreadsheet_safe(frame).to_csv(tmp_path / "pandas.csv", index=False)
    report_files.write_csv(tmp_path / "fast.csv", frame)
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    if columns is not None:  # the fast path itself, not pandas, wrote it
        assert all(report_files._csv_cells(frame[name]) is not None for name in columns)


def test_record_files_lists_what_rglob_listed(tmp_path):
    root = tmp_path / "results"
    for name in ["a/b.json", "a-c.json", "a/b/c.json", "A.json", "z.JSON", ".hidden.json", ".dot/x.json",
                 "r.detections.json", "deep/er/est.json", "x.json.bak", "sp ace/é.json"]:  # fmt: skip
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("{}")
    (root / "folder.json").mkdir()  # listed, and then refused by read_one as unreadable
    (root / "linked").symlink_to(root / "a", target_is_directory=True)  # not entered
    (root / "linked.json").symlink_to(root / "a", target_is_directory=True)  # listed, not entered
    (root / "file-link.json").symlink_to(root / "A.json")
    plain = sorted(p for p in root.rglob("*.json") if not p.name.startswith(".") and not schema.is_sidecar(p))
    listed = list(schema.record_files([root, root / "a-c.json"]))
    assert listed == [*plain, root / "a-c.json"]
    assert root / "folder.json" in listed and root / "linked" / "b.json" not in listed


def test_runner_records_are_bounded_by_their_bytes_alone(measured):
    """Real records take the reading path that skips the bounds walk (its speed is the point);
    the files at a limit take the walk (test_orjson_reading_takes_and_refuses_what_json_did)."""
    assert all(untrusted._plainly_bounded(path.read_bytes()) for path in measured.glob("*.json"))
    for data in (b"[" * 64 + b"]" * 64, b"[9223372036854775808]", b"[12345678901234567890]", b'"' + b"x" * 2**20):
        assert not untrusted._plainly_bounded(data)
    assert untrusted._plainly_bounded(b"[9223372036854775807, -9223372036854775807]")
