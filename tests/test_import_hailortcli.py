"""`vedliot-aggregator import hailortcli` on real hailortcli output (tests/data/hailortcli, SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vedliot_aggregator.cli import cli

DATA = Path(__file__).parent / "data" / "hailortcli"


def _import(tmp_path, name, *extra):
    result = CliRunner().invoke(cli, ["import", "hailortcli", str(DATA / name), "--output", str(tmp_path), *extra])
    records = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    return result, records


@pytest.mark.parametrize(
    ("name", "model", "ips", "mean_ms", "power"),
    [
        ("benchmark-solidrun_bedrock.txt", "yolov5m_wo_spp_60p", 217.911, 13.1348, 5.22191),
        ("benchmark-hailo_model_zoo.txt", None, 1328.8, 2.93646, 3.19395),
        ("run-firefly_rk3588_unattributed.txt", "yolov8n", 562.14, None, None),
    ],
)
def test_real_outputs_become_records(tmp_path, name, model, ips, mean_ms, power):
    extra = [] if model else ["--model", "resnet_v1_50"]
    result, (record,) = _import(tmp_path, name, *extra)
    assert result.exit_code == 0, result.output
    assert record["model"]["name"] == (model or "resnet_v1_50")
    assert record["provenance"]["kind"] == "imported" and record["software"]["backend"]["name"] == "hailort"
    summary = record["timing"]["summary"]
    assert summary["ips"] == pytest.approx(ips) and summary.get("mean_ms") == mean_ms
    assert (record["power"] or {}).get("summary", {}).get("power_w") == power
    assert record["provenance"]["imported"]["tool_summary"]  # verbatim, strings


def test_the_streaming_figure_is_kept_apart_from_hw_only(tmp_path):
    _, (record,) = _import(tmp_path, "benchmark-solidrun_bedrock.txt")
    imported = record["provenance"]["imported"]
    assert imported["tool_summary"]["hw_only_fps"] == "217.973"
    assert imported["warnings"] == ["IPS is the streaming FPS (217.911); hw_only: 217.973"]
    assert imported["command"] == "hailortcli benchmark yolov5m_wo_spp_60p.hef"


def test_output_without_a_summary_is_one_line(tmp_path):
    result, records = _import(tmp_path, "benchmark-idein_aicast.txt")
    assert result.exit_code == 2 and not records
    assert "benchmark-idein_aicast.txt" in result.output and "Traceback" not in result.output
