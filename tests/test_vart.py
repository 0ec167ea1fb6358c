"""--backend vart against the xir/vart double (tests/fakes/xir, tests/fakes/vart: Xilinx's Python
bindings as tests/data/vart-api records them; failures end the process with glog's FATAL line, as the
real libraries' CHECKs do) and the xdputil double (the real tool's JSON and failure text)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from vedliot_aggregator import collect, metrics
from vedliot_aggregator.catalog import load as load_catalog
from vedliot_aggregator.cli import cli
from vedliot_runner import dpu_device
from vedliot_runner.zoo import manifest

import models
from conftest import QUICK, assert_valid_records, run_runner

DATA = Path(__file__).parent / "data" / "xdputil"
B1024 = "DPUCZDX8G_ISA1_B1024,0x101000016010402,325,1,1"  # the real pair of Xilinx/Vitis-AI#1072


@pytest.fixture
def xmodel_file(tmp_path):
    from xir import xmodel

    return xmodel.write(models.tiny(tmp_path / "tiny.onnx"), tmp_path / "tiny.xmodel")


def _run(run_subprocess, model, *options, extra=()):
    args = ["run", "--model", str(model), "--backend", "vart", "--precision", "int8", *QUICK, "--quiet", *extra]
    for option in options:
        args += ["--backend-option", option]
    return run_subprocess(*args)


def _without_xdputil(monkeypatch):
    path = [p for p in os.environ["PATH"].split(os.pathsep) if not Path(p, "xdputil").exists()]
    monkeypatch.setenv("PATH", os.pathsep.join(path))


@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_a_run_names_the_dpu_and_what_the_xmodel_was_compiled_for(run_subprocess, xmodel_file, monkeypatch, mode):
    monkeypatch.setenv("VEDLIOT_FAKE_DPU", "DPUCZDX8G_ISA1_B4096,0x101000016010407,200,2,1")
    result = _run(run_subprocess, xmodel_file, extra=["--mode", mode])
    assert result.code == 0, result.err
    (record,) = result.records
    options = record["config"]["backend_options"]
    assert options["dpu_arch"] == "DPUCZDX8G_ISA1_B4096" and options["dpu_fingerprint"] == "0x101000016010407"
    assert options["accelerator_config"] == "B4096 x2 @200MHz" and options["vitis_ai"] == "3.0.0"
    assert options["xmodel_fingerprint"] == "0x101000016010407" and options["xmodel_dpu"] == "DPUCZDX8G_ISA1_B4096"
    assert (options["dpu_subgraphs"], options["cpu_subgraphs"], options["dpu_batch"]) == (1, 0, 1)
    # one runner per thread in throughput mode, as Xilinx's *_mt_py examples
    assert options["runners"] == (1 if mode == "latency" else record["config"]["requests_in_flight"]) >= 1
    assert record["software"]["backend"]["version"].startswith("3.0.0-")
    assert record["precision"]["effective"] == "int8" and "untimed" in record["precision"]["detail"]
    assert record["model"]["format"] == "xmodel" and record["timing"]["iterations"] >= 5


def test_batch_is_the_dpus_and_another_is_unsupported(run_subprocess, xmodel_file, monkeypatch):
    monkeypatch.setenv("VEDLIOT_FAKE_DPU", "DPUCVDX8G_ISA3_C32B3,0x0,1250,1,3")  # a Versal DPU's batch 3
    result = _run(run_subprocess, xmodel_file)
    assert result.code == 3 and "this DPU runs batches of 3" in result.err and "--batch-size 3" in result.err
    assert result.records[0]["status"] == "unsupported"
    result = _run(run_subprocess, xmodel_file, extra=["--batch-size", "3"])
    assert result.code == 0, result.err
    (record,) = [r for r in result.records if r["status"] == "ok"]
    assert record["config"]["backend_options"]["accelerator_config"] == "C32B3L2S2"


def test_no_dpu_is_unsupported_with_xdputil_and_a_failed_record_without(run_subprocess, xmodel_file, monkeypatch):
    monkeypatch.setenv("VEDLIOT_FAKE_DPU", "")
    result = _run(run_subprocess, xmodel_file)
    assert result.code == 3 and "no DPU usable here" in result.err and "get_factory_methods" in result.err
    _without_xdputil(monkeypatch)
    result = _run(run_subprocess, xmodel_file)
    (record,) = [r for r in result.records if r["status"] == "failed"]  # the first run's record is there too
    assert result.code == 1 and "Traceback" not in result.err
    assert (
        "SIGABRT" in record["error"]["message"] and "Check failed: !get_factory_methods" in record["error"]["message"]
    )


def test_an_xmodel_for_another_fingerprint(run_subprocess, xmodel_file, monkeypatch):
    monkeypatch.setenv("VEDLIOT_FAKE_DPU", B1024)
    result = _run(run_subprocess, xmodel_file)
    assert result.code == 3 and "compiled for DPU fingerprint 0x101000016010407" in result.err
    assert "DPUCZDX8G_ISA1_B1024 (fingerprint 0x101000016010402)" in result.err and "vai_c_xir" in result.err
    # without xdputil VART's own check ends the process: the record keeps VART's two lines
    _without_xdputil(monkeypatch)
    (record,) = [r for r in _run(run_subprocess, xmodel_file).records if r["status"] == "failed"]
    assert (
        "CHECK fingerprint fail ! model_fingerprint 0x101000016010407 dpu_fingerprint 0x101000016010402"
        in (record["error"]["message"])
        and "fingerprint check failure." in record["error"]["message"]
    )
    # VART's own switch, and ours, let a user run it anyway
    monkeypatch.setenv("XLNX_ENABLE_FINGERPRINT_CHECK", "0")
    assert _run(run_subprocess, xmodel_file, "fingerprint_check=false").code == 0


def test_a_split_model_is_counted_and_the_aggregator_warns(run_subprocess, tmp_path):
    from xir import xmodel

    split = xmodel.write(models.tiny(tmp_path / "t.onnx"), tmp_path / "split.xmodel", dpu_parts=2, cpu_tail=True)
    result = _run(run_subprocess, split, "subgraph=1")
    assert result.code == 0, result.err
    options = result.records[0]["config"]["backend_options"]
    assert (options["dpu_subgraphs"], options["cpu_subgraphs"], options["subgraph"]) == (2, 1, "subgraph_dpu_1")
    (row,) = metrics.frame(collect.collect([tmp_path / "out"]), load_catalog()).to_dict("records")
    assert "split into 2 DPU and 1 CPU subgraph(s): only DPU subgraph 'subgraph_dpu_1' was timed" in row["warnings"]
    assert _run(run_subprocess, split, "subgraph=2").code == 3


def test_a_file_that_is_not_an_xmodel_is_xirs_fatal_line(run_subprocess, tmp_path):
    bad = tmp_path / "bad.xmodel"
    bad.write_bytes(b"not a protobuf")
    (record,) = _run(run_subprocess, bad).records
    assert record["status"] == "failed"
    assert "[XIR_READ_PB_FAILURE][failed to read pb file] file = " + str(bad) in record["error"]["message"]


def test_accuracy_of_a_users_xmodel_with_model_info(digits_zoo, run_subprocess, tmp_path):
    """The trained digits model, quantized by the runner with the fix points the "compiler" chose
    and de-quantized after the DPU, keeps its accuracy."""
    from xir import xmodel

    entry = json.loads((digits_zoo / "zoo.json").read_text())["models"]["digits"]
    info = tmp_path / "digits.json"
    info.write_text(json.dumps({**{k: v for k, v in entry.items() if k != "files"}, "layout": "NHWC"}))
    model = xmodel.write(digits_zoo / "digits" / "digits_fp32.onnx", tmp_path / "digits.xmodel", input_fix=6,
                         output_fix=2)  # fmt: skip
    dataset = "imagenet:{}".format(digits_zoo / "digits" / "val")
    result = _run(run_subprocess, model, extra=["--dataset", dataset, "--model-info", str(info)])
    assert result.code == 0, result.err
    scored = CliRunner().invoke(cli, ["accuracy", "--json", str(tmp_path / "out")])
    (row,) = [json.loads(line) for line in scored.output.splitlines() if line.startswith("{")]
    assert row["top1"] >= 90.0, row  # the float model's holdout top-1 is 98.6


@pytest.mark.parametrize(
    "name, arch, fingerprint, mhz, vart",
    [
        ("query_kv260_dpuczdx8g_vai25_logictronix.txt", "DPUCZDX8G_ISA1_B4096", "0x101000016010407", 300, "2.5.0"),
        ("query_kv260_dpuczdx8g_vai30_logictronix.txt", "DPUCZDX8G_ISA1_B4096", "0x101000056010407", 300, "3.0.0"),
        ("query_xczu4ev_vivadoflow_vai25_issue1072.txt", "DPUCZDX8G_ISA1_B1024", "0x101000016010402", 325, "2.5.0"),
    ],
)
def test_real_xdputil_query_outputs(name, arch, fingerprint, mhz, vart):
    text = (DATA / name).read_text()
    info = dpu_device.parse_query(text[text.index("{") :])
    (kernel,) = info.kernels
    assert (kernel.arch, kernel.fingerprint, kernel.frequency_mhz) == (arch, fingerprint, mhz)
    assert info.vai_version == vart and info.vart.startswith(vart + "-") and info.xir.startswith("xir-")
    assert info.target_factory == vart and info.config() == "B{} x1 @{}MHz".format(arch.split("_B")[1], mhz)


def test_real_xdputil_failures_give_their_fatal_line():
    for name, expected in (
        ("error_query_no_xrt_factory_issue1215.txt", "xrt_device_handle.cpp:44] Check failed: !get_factory_methods"),
        ("error_query_cu_not_found_issue1468.txt", "xrt_device_handle_imp.cpp:96] Check failed: read_result == 0"),
    ):
        assert dpu_device.fatal_line((DATA / name).read_text()).startswith(expected)


def test_dpu_suites_read_the_batch_from_a_runner_and_name_the_board(tmp_path, monkeypatch):
    from xir import xmodel

    zoo = tmp_path / "zoo"
    zoo.mkdir()
    data = manifest.empty(0, 1)
    data["models"]["mobilenetv2"] = {"task": "classification", "files": [],
                                     "ops_per_inference": {"value": 1e6, "source": "test"}}  # fmt: skip
    manifest.save(zoo, data)
    dpu = ("DPUCZDX8G_ISA1_B2304", 0x101000016010404)
    compiled = xmodel.write(models.tiny(tmp_path / "t.onnx"), tmp_path / "mobilenetv2.xmodel", dpu=dpu)
    proc = run_runner("zoo", "add", "--zoo", str(zoo), "--model", "mobilenetv2", "--file", str(compiled))
    assert proc.returncode == 0, proc.stderr
    tree = tmp_path / "host" / "proc" / "device-tree"
    tree.mkdir(parents=True)
    (tree / "model").write_bytes(b"Avnet Ultra96-V2 Rev1\x00")
    monkeypatch.setenv("VEDLIOT_HOST_ROOT", str(tmp_path / "host"))
    monkeypatch.setenv("VEDLIOT_FAKE_DPU", "DPUCZDX8G_ISA1_B2304,0x101000016010404,200,1,2")
    out = tmp_path / "out"
    proc = run_runner("suite", "--target", "dpu-zynqmp", "--zoo", str(zoo), "--models", "mobilenetv2", "--output",
                      str(out), "--min-seconds", "0.2")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "platform: avnet_ultra96_v2 (xdputil query: DPUCZDX8G_ISA1_B2304 x1" in proc.stdout
    records = assert_valid_records(out)
    assert {(r["config"]["batch_size"], r["config"]["mode"]) for r in records} == {(2, "latency"), (2, "throughput")}
    assert {r["target"]["name"] for r in records} == {"avnet_ultra96_v2"}
    assert {r["config"]["backend_options"]["accelerator_config"] for r in records} == {"B2304 x1 @200MHz"}
