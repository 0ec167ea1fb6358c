"""The report's reading path (gather.py: rows computed where the files are read, in forked
workers, and kept in a row cache between reports) gives the table the plain path gives
(collect + metrics.frame), and the cache serves only files that did not change."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from vedliot_aggregator import catalog, collect, gather, metrics, parallel, reference, row_cache
from vedliot_aggregator.cli import cli

from conftest import runner_main

ACCURACY = "7e50f9af-b0a5-547e-9f56-87694f189d7b.json"  # a published accuracy record (scored from its summary)


@pytest.fixture
def sources(measured, tmp_path, monkeypatch):
    """The measured runs, a duplicate, a file that is no record, a peak record and one published
    accuracy record, in one directory; a private cache; files count as settled at once."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(row_cache, "SETTLE_NS", 0)
    src = tmp_path / "records"
    shutil.copytree(measured, src)
    first = sorted(src.glob("*.json"))[0]
    shutil.copyfile(first, src / "zz-duplicate.json")
    (src / "broken.json").write_text('{"schema": ')
    shutil.copyfile(reference.default_records_dir() / ACCURACY, src / ACCURACY)
    assert runner_main(["peak", "--precision", "fp32", "--seconds", "0.1", "--repeats", "1", "-o", str(src),
                        "--quiet"]) == 0  # fmt: skip
    return src


def _json(path: Path):
    try:
        return json.loads(path.read_text())
    except ValueError:  # the broken file
        return {}


def _plain(paths: list[Path]):
    return metrics.frame(collect.collect(paths), catalog.load())


def _gathered(paths: list[Path], **options):
    found = gather.gather(paths, **options)
    return found, metrics.finish(found.rows, found.scores, catalog.load(), found.peaks)


def _same(a, b) -> None:
    objects = ["spread_ms", "cpu_host"]
    assert a.drop(columns=objects).equals(b.drop(columns=objects))
    for column in objects:
        assert a[column].tolist() == b[column].tolist()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_gathered_rows_equal_the_plain_path(sources, monkeypatch, workers):
    monkeypatch.setenv("VEDLIOT_WORKERS", workers)
    monkeypatch.setattr(parallel, "MIN_ITEMS", 4)  # fork over these few files too
    plain = collect.collect([sources])
    found, table = _gathered([sources], cache=False)
    _same(table, metrics.frame(plain, catalog.load()))
    assert [c.path for c in found.skipped] == [c.path for c in plain.skipped] == [sources / "broken.json"]
    assert found.duplicates == plain.duplicates == [sources / "zz-duplicate.json"]
    assert len(found.peaks) == 1 and len(found.scores) == 1
    assert (table["peak_source"] == "measured").any()  # the peak record reached the rows of its CPU


def test_the_row_cache_serves_unchanged_files_only(sources, monkeypatch):
    monkeypatch.setenv("VEDLIOT_WORKERS", "1")  # reads are counted in this process
    read: list[str] = []
    real = gather.read_one
    monkeypatch.setattr(gather, "read_one", lambda path: read.append(path.name) or real(path))
    _, first = _gathered([sources])
    everything = sorted(read)
    assert len(everything) == len(list(sources.glob("*.json")))
    read.clear()
    found, again = _gathered([sources])
    assert read == [ACCURACY]  # a score depends on annotation files: never cached
    _same(again, first)
    assert [c.path.name for c in found.skipped] == ["broken.json"] and len(found.duplicates) == 1

    # A changed record and a newly broken one are read again; the rest still comes from the cache.
    measured_runs = [p for p in sorted(sources.glob("*.json")) if p.name != ACCURACY and "target" in _json(p)]
    changed = measured_runs[0]  # not the peak record, whose file name is a uuid as well
    record = json.loads(changed.read_text())
    record["target"]["name"] = "another-host"
    changed.write_text(json.dumps(record))
    (sources / "zz-duplicate.json").write_text("[")
    read.clear()
    _, table = _gathered([sources])
    assert sorted(read) == sorted([ACCURACY, changed.name, "zz-duplicate.json"])
    _same(table, _plain([sources]))
    assert "another-host" in set(table["target"])


def test_the_row_cache_is_left_out_when_off_damaged_or_from_other_code(sources, monkeypatch):
    monkeypatch.setenv("VEDLIOT_WORKERS", "1")
    files = len(list(sources.glob("*.json")))
    read: list[str] = []
    real = gather.read_one
    monkeypatch.setattr(gather, "read_one", lambda path: read.append(path.name) or real(path))
    _gathered([sources], cache=False)
    assert not (sources.parent / "cache" / "vedliot-bench" / "rows").exists()
    _gathered([sources])
    (cached,) = (sources.parent / "cache" / "vedliot-bench" / "rows").glob("*.pickle")
    for damage in (b"", b"not a pickle", cached.read_bytes()[:100]):
        cached.write_bytes(damage)
        read.clear()
        _, table = _gathered([sources])  # read again, no error, and the cache written anew
        assert len(read) == files
        _same(table, _plain([sources]))
    monkeypatch.setenv("VEDLIOT_ROW_CACHE", "0")
    read.clear()
    _gathered([sources])
    assert len(read) == files
    monkeypatch.delenv("VEDLIOT_ROW_CACHE")
    monkeypatch.setattr(row_cache, "code_version", lambda: "another aggregator")
    read.clear()
    _gathered([sources])
    assert len(read) == files


def test_files_written_just_now_are_not_cached(sources, monkeypatch):
    monkeypatch.setenv("VEDLIOT_WORKERS", "1")
    monkeypatch.setattr(row_cache, "SETTLE_NS", 3600 * 10**9)  # every file is "just written"
    read: list[str] = []
    real = gather.read_one
    monkeypatch.setattr(gather, "read_one", lambda path: read.append(path.name) or real(path))
    for _ in range(2):
        read.clear()
        assert gather.gather([sources]).rows
        assert len(read) == len(list(sources.glob("*.json")))


def test_report_with_and_without_the_cache_writes_the_same_metrics(sources, tmp_path):
    outputs = {}
    for name, flags in (("first", []), ("cached", []), ("uncached", ["--no-cache"])):
        out = tmp_path / name
        result = CliRunner().invoke(
            cli, ["report", str(sources), "-o", str(out), "--images", "none", "--quiet", *flags]
        )
        assert result.exit_code == 0, result.output
        outputs[name] = (out / "metrics.csv").read_text()
    assert outputs["first"] == outputs["cached"] == outputs["uncached"]


def test_background_returns_its_value_or_raises_its_error(monkeypatch):
    assert parallel.Background(os.getpid).result() != os.getpid()
    with pytest.raises(ZeroDivisionError):
        parallel.Background(lambda: 1 / 0).result()
    monkeypatch.setenv("VEDLIOT_WORKERS", "1")
    assert parallel.Background(os.getpid).result() == os.getpid()


def test_a_background_closed_before_its_value_stops_its_process():
    started = parallel.Background(lambda: time.sleep(30))
    if started._pool is None:
        pytest.skip("one usable core: Background runs inline")
    (child,) = started._pool._pool
    started.close()
    child.join(5)
    assert not child.is_alive()
    started.close()  # twice is harmless
