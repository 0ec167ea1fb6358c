from __future__ import annotations

import json

from click.testing import CliRunner

from vedliot_aggregator.cli import cli
from vedliot_runner.cli import main as runner_main

from conftest import QUICK


def test_validate_reports_each_bad_file_and_exits_1(model_dir, tmp_path):
    assert (
        runner_main(
            [
                "run",
                "--model",
                str(model_dir / "tiny.onnx"),
                "--backend",
                "onnxruntime",
                "--quiet",
                *QUICK,
                "--output",
                str(tmp_path),
            ]
        )
        == 0
    )
    (good,) = tmp_path.glob("*.json")
    record = json.loads(good.read_text())
    del record["status"]
    (tmp_path / "missing-status.json").write_text(json.dumps(record))
    (tmp_path / "garbage.json").write_text("{not json")
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{good}: valid" in lines
    assert any(
        line.startswith(str(tmp_path / "missing-status.json")) and "'status' is a required property" in line
        for line in lines
    )
    assert any("garbage.json: invalid: not valid JSON" in line for line in lines)


def test_validate_all_good_exits_0_and_json_mode(model_dir, tmp_path):
    assert (
        runner_main(
            [
                "run",
                "--model",
                str(model_dir / "tiny.onnx"),
                "--backend",
                "onnxruntime",
                "--quiet",
                *QUICK,
                "--output",
                str(tmp_path),
            ]
        )
        == 0
    )
    result = CliRunner().invoke(cli, ["validate", "--json", str(tmp_path)])
    assert result.exit_code == 0
    (line,) = result.output.splitlines()
    assert json.loads(line)["valid"] is True


def test_validate_missing_path_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "absent")])
    assert result.exit_code == 2 and "does not exist" in result.output
