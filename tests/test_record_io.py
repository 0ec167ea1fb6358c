from __future__ import annotations

import json
import os

import pytest

from vedliot_runner import record as rec
from vedliot_runner import writer


def _record() -> rec.Record:
    return rec.Record(
        run_id=rec.new_run_id(),
        status="ok",
        started_at=rec.utc_now(),
        finished_at=rec.utc_now(),
        target=rec.Target("t"),
        host=rec.HostInfo("h", "os", "k", "x86_64", "cpu", 2, 1, [], 1, "3.8.18", None, [], {}),
        software=rec.Software("0", rec.BackendId("b", "1"), {}),
        model=rec.ModelInfo("m", None, None, None, "onnx"),
        precision=rec.Precision("fp32"),
        config=rec.RunConfig(1, "latency", 0, 0.0, 1, 0.0),
        timing=rec.Timing(),
    )


def test_write_is_whole_and_named_by_run_id(tmp_path):
    r = _record()
    path = writer.write_record(r, tmp_path)
    assert path.name == r.run_id + ".json"
    assert json.loads(path.read_text())["run_id"] == r.run_id
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_failed_write_leaves_neither_partial_nor_temp_file(tmp_path, monkeypatch):
    existing = writer.write_record(_record(), tmp_path)
    before = existing.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        writer.write_record(_record(), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [existing.name]
    assert existing.read_bytes() == before


def test_output_dir_problem(tmp_path):
    assert writer.output_dir_problem(tmp_path / "new" / "dir") is None
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert writer.output_dir_problem(blocker / "sub")


def test_dumps_round_trips_and_keeps_scalar_lists_on_one_line():
    data = {"a": [1, 2, 3], "b": {"c": ["x", "y,z"], "d": [{"e": None}], "f": {}}, "g": 1.5, "h": []}
    text = writer.dumps(data)
    assert json.loads(text) == data
    assert '"a": [1,2,3]' in text and '"c": ["x","y,z"]' in text
    with pytest.raises(ValueError):
        writer.dumps({"x": float("nan")})
