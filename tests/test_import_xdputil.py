"""`vedliot-aggregator import xdputil` on real `xdputil benchmark` and test_performance_* outputs
(tests/data/xdputil, SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vedliot_aggregator.cli import cli

DATA = Path(__file__).parent / "data" / "xdputil"


def _import(tmp_path, source: Path, *extra):
    result = CliRunner().invoke(cli, ["import", "xdputil", str(source), "--output", str(tmp_path), *extra])
    records = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    return result, records


@pytest.mark.parametrize(
    ("name", "fps", "frames", "threads", "model"),
    [
        ("benchmark_vck190_dpucvdx8g_vai14_test_dpu_runner_mt.txt", 1229.55, 73776, 1, None),
        ("benchmark_vck190_dpucvdx8g_vai20.txt", 1254.93, 75300, 1, None),
        ("benchmark_vck190_dpucvdx8g_vai30.txt", 1365.05, 81906, 1, None),
        ("benchmark_vck190_dpucvdx8g_vai30pre_testpass.txt", 1358.31, 81501, 1, None),
        ("benchmark_dpucv2dx8g_vai35_doc.txt", 337.061, 20225, 1, None),  # hand-edited: no space after `=`
    ],
)
def test_real_xdputil_benchmark_outputs(tmp_path, name, fps, frames, threads, model):
    result, (record,) = _import(tmp_path, DATA / name, "--model", "resnet50", "--target", "xilinx_vck190")
    assert result.exit_code == 0, result.output
    assert record["status"] == "ok" and record["model"]["name"] == "resnet50"
    assert record["software"]["backend"]["name"] == "vart" and record["precision"]["requested"] == "int8"
    assert record["timing"]["summary"]["ips"] == pytest.approx(fps) and record["timing"]["inferences"] == frames
    assert record["config"]["threads"] == threads and record["config"]["mode"] == "throughput"
    imported = record["provenance"]["imported"]
    assert imported["tool"] == "xdputil" and imported["tool_summary"]["number_of_frames"] == str(frames)
    assert "DPU only" in imported["warnings"][0]


@pytest.mark.parametrize(
    ("name", "model", "fps", "mean_ms", "threads"),
    [
        ("test_performance_facedetect_zcu102_vai10_1thread.txt", "densebox_320_320", 386.133, 1.34691, None),
        ("test_performance_facedetect_zcu102_vai10_8threads.txt", "densebox_320_320", 1441.82, 3.92453, 8),
        ("test_performance_refinedet_pruned_zcu104_vai13_4threads.txt", "refinedet_pruned_0_96", 216.327, 15.7116, 4),
    ],
)
def test_real_test_performance_reports(tmp_path, name, model, fps, mean_ms, threads):
    result, (record,) = _import(tmp_path, DATA / name)
    assert result.exit_code == 0, result.output
    assert record["model"]["name"] == model and record["timing"]["summary"]["ips"] == pytest.approx(fps)
    assert record["timing"]["summary"]["mean_ms"] == pytest.approx(mean_ms)
    assert record["config"]["threads"] == (threads or 1)
    assert record["provenance"]["imported"]["tool_summary"]["E2E_MEAN"]


def test_the_xmodel_names_the_model_when_the_command_was_captured(tmp_path):
    text = (DATA / "benchmark_vck190_dpucvdx8g_vai30.txt").read_text()
    source = tmp_path / "log.txt"
    source.write_text(
        "% xdputil benchmark /usr/share/vitis_ai_library/models/resnet50/resnet50.xmodel -i -1 1\n" + text
    )
    result, (record,) = _import(tmp_path / "out", source)
    assert result.exit_code == 0, result.output
    assert record["model"]["name"] == "resnet50"


def test_cut_short_failed_and_foreign_outputs(tmp_path):
    text = (DATA / "benchmark_vck190_dpucvdx8g_vai30.txt").read_text()
    cut = tmp_path / "cut.txt"
    cut.write_text(text.split("FPS=")[0])
    result, records = _import(tmp_path / "a", cut, "--model", "resnet50")
    assert result.exit_code == 2 and "without its `FPS= ... number_of_frames=` line (cut short?)" in result.output
    assert not records
    failed = tmp_path / "failed.txt"
    failed.write_text(text.replace("BYEBYE", "BYEBYE\nTest Failed!!!"))
    result, (record,) = _import(tmp_path / "b", failed, "--model", "resnet50")
    assert result.exit_code == 0 and record["status"] == "failed" and "Test Failed!!!" in record["error"]["message"]
    result, _ = _import(tmp_path / "c", DATA / "benchmark_vck190_dpucvdx8g_vai30.txt")
    assert result.exit_code == 2 and "does not name the model; give --model" in result.output
    result, _ = _import(tmp_path / "d", DATA / "query_kv260_dpuczdx8g_vai30_logictronix.txt")
    assert result.exit_code == 2 and "neither `xdputil benchmark` output" in result.output
