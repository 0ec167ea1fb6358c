"""The NVIDIA suites on the doubles: the report's matrix, `--cross-check trtexec` and the
aggregator's cross-check table, the platform recognised from real identity strings and named as
the catalog names it, and a board the catalog lacks named as found."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from vedliot_aggregator import collect, crosscheck, metrics
from vedliot_aggregator.catalog import load as load_catalog
from vedliot_runner import nvidia_platform
from vedliot_runner.cli import main

from conftest import assert_valid_records

IDENTITY = json.loads((Path(__file__).parent / "data" / "nvidia-identity" / "identity.json").read_text())


def _device_tree(root: Path, model: str, compatible: str) -> Path:
    tree = root / "proc" / "device-tree"
    tree.mkdir(parents=True)
    (tree / "model").write_bytes(model.encode() + b"\x00")
    (tree / "compatible").write_bytes(compatible.encode())
    return root


def _jetson_cases() -> list[tuple[str | None, str, str]]:
    """(catalog id or None, model, NUL-separated compatible) for every real compatible string."""
    cases = []
    for board in IDENTITY["jetson"]:
        model = board["model"][0]
        for item in board["compatible"]:
            texts = item["text"] if isinstance(item["text"], list) else [item["text"]]
            if item["kind"] == "printed":
                continue  # the same text with its NULs lost; its nul_separated twin is used
            if item["kind"] == "dts_source":
                texts = ["\x00".join(texts)]
            for text in texts:
                # Clara AGX (e3900 carrier) and the industrial modules (other clocks) are other
                # products than the catalog's devkit: named as found
                other = item["kind"].startswith("negative") or re.search("e3900|industrial", text)
                cases.append((None if other else board["catalog_id"], model, text + "\x00nvidia,tegra"))
    return cases


JETSONS = _jetson_cases()


@pytest.mark.parametrize(("catalog_id", "model", "compatible"), JETSONS)
def test_jetsons_are_recognised_from_their_real_device_tree(tmp_path, monkeypatch, catalog_id, model, compatible):
    monkeypatch.setenv("VEDLIOT_HOST_ROOT", str(_device_tree(tmp_path, model, compatible)))
    found = nvidia_platform.recognise()
    assert found is not None and found.catalog_id == catalog_id and found.name == model.strip()


def _gpu_cases() -> list[tuple[str | None, str]]:
    cases = []
    for gpu in IDENTITY["gpu"]:
        for item in gpu["names"]:
            other = re.search(r"1660 (Ti|SUPER)", item["name"])  # other GPUs than the catalog's GTX 1660
            cases.append((None if other else gpu["catalog_id"], item["name"]))
        cases += [(None, n if isinstance(n, str) else n["name"]) for n in gpu.get("negative_examples", [])]
    return cases


@pytest.mark.parametrize(("catalog_id", "name"), _gpu_cases())
def test_gpus_are_recognised_by_their_real_names(tmp_path, monkeypatch, catalog_id, name):
    info = tmp_path / "proc" / "driver" / "nvidia" / "gpus" / "0000:01:00.0"
    info.mkdir(parents=True)
    (info / "information").write_text(f"Model: \t\t {name}\nIRQ:   \t\t 130\n")
    monkeypatch.setenv("VEDLIOT_HOST_ROOT", str(tmp_path))
    found = nvidia_platform.recognise()
    assert found is not None and found.catalog_id == catalog_id and found.name == name


@pytest.mark.parametrize("query", IDENTITY["nvpmodel_q"], ids=lambda q: q["board"])
def test_the_power_mode_from_real_nvpmodel_output(query):
    mode = nvidia_platform.power_mode(query["text"])
    if "<name>" in query["text"]:
        return  # jetson-stats' emulator template, not a capture
    match = re.search(r"NV Power Mode: (\S+)\n(\d+)?", query["text"] + "\n")
    name, number = match.group(1), match.group(2)
    assert mode == (f"{name} ({number})" if number else name)


@pytest.mark.parametrize("show", [s for s in IDENTITY["jetson_clocks_show"] if s["complete"]], ids=lambda s: s["board"])
def test_whether_jetson_clocks_pinned_the_gpu_from_real_output(show):
    """The Nano's real `jetson_clocks --show` (GPU MinFreq=76800000 MaxFreq=921600000): not pinned;
    the same output after jetson_clocks (minimum raised to the maximum): pinned."""
    assert nvidia_platform.clocks_state(show["text"]) == "jetson_clocks off (GPU 77-922 MHz)"
    pinned = show["text"].replace("GPU MinFreq=76800000", "GPU MinFreq=921600000")
    assert nvidia_platform.clocks_state(pinned) == "jetson_clocks on (GPU 922 MHz)"


def test_a_jetson_suite_records_the_power_mode(digits_zoo, tmp_path, monkeypatch):
    _, model, compatible = next(j for j in JETSONS if j[0] == "jetson_orin_nx")
    monkeypatch.setenv("VEDLIOT_HOST_ROOT", str(_device_tree(tmp_path / "host", model, compatible)))
    monkeypatch.setenv("VEDLIOT_ENGINE_CACHE", str(tmp_path / "cache"))
    tools = tmp_path / "bin"
    tools.mkdir()
    query = next(q["text"] for q in IDENTITY["nvpmodel_q"] if q["text"] == "NV Power Mode: MAXN\n0")
    show = next(s["text"] for s in IDENTITY["jetson_clocks_show"] if s["complete"])
    for name, text in (("nvpmodel", query), ("jetson_clocks", show)):
        (tools / name).write_text(f"#!{sys.executable}\nprint({text!r})\n")
        (tools / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    code = main(["suite", "--target", "jetson", "--quick", "--zoo", str(digits_zoo), "--models", "digits",
                 "--precisions", "fp32", "--output", str(tmp_path / "out"), "--quiet"])  # fmt: skip
    assert code == 0
    (record,) = assert_valid_records(tmp_path / "out")
    assert record["target"]["name"] == "jetson_orin_nx"
    assert record["target"]["power_mode"] == "MAXN (0); jetson_clocks off (GPU 77-922 MHz)"


def test_every_recognised_platform_is_in_the_aggregator_catalog():
    catalog = load_catalog()
    ids = {c for _, c in nvidia_platform.JETSON_MODULES} | {c for _, c in nvidia_platform.GPUS}
    assert all(catalog.find(i) is not None for i in ids)


def test_cuda_suite_with_cross_check_and_a_recognised_board(digits_zoo, tmp_path, monkeypatch, capsys):
    _, model, compatible = next(j for j in JETSONS if j[0] == "jetson_agx_orin")
    monkeypatch.setenv("VEDLIOT_HOST_ROOT", str(_device_tree(tmp_path / "host", model, compatible)))
    monkeypatch.setenv("VEDLIOT_ENGINE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    code = main(["suite", "--target", "jetson", "--zoo", str(digits_zoo), "--models", "digits", "--precisions",
                 "fp32,fp16", "--cross-check", "trtexec", "--warmup-iterations", "1", "--warmup-seconds", "0.1",
                 "--min-iterations", "5", "--min-seconds", "0.3", "--output", str(out)])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "platform: jetson_agx_orin (/proc/device-tree/compatible: nvidia,p3737-0000+p3701-0005)" in printed
    records = assert_valid_records(out)
    # 2 precisions x (batch 1 latency, batch 8 throughput) x (tensorrt, trtexec)
    assert len(records) == 8 and {r["status"] for r in records} == {"ok"}
    assert {r["target"]["name"] for r in records} == {"jetson_agx_orin"}
    assert sorted(r["software"]["backend"]["name"] for r in records) == ["tensorrt"] * 4 + ["trtexec"] * 4
    frame = metrics.frame(collect.collect([out]), load_catalog())
    assert frame["perf_ratio"].notna().all(), frame[["backend", "perf_ratio", "warnings"]]
    cross = crosscheck.table(frame)
    assert len(cross) == 4 and set(cross["precision"]) == {"fp32", "fp16"} and cross["ips_difference"].notna().all()
    assert set(cross["mode"]) == {"latency", "throughput"}


def test_an_unknown_gpu_is_named_as_found_and_the_aggregator_says_what_to_add(digits_zoo, tmp_path, monkeypatch):
    info = tmp_path / "host" / "proc" / "driver" / "nvidia" / "gpus" / "0000:01:00.0"
    info.mkdir(parents=True)
    name = "NVIDIA GeForce GTX 1660 Ti with Max-Q Design"  # a real name (identity.json), not in the catalog
    (info / "information").write_text(f"Model: \t\t {name}\n")
    monkeypatch.setenv("VEDLIOT_HOST_ROOT", str(tmp_path / "host"))
    monkeypatch.setenv("VEDLIOT_ENGINE_CACHE", str(tmp_path / "cache"))
    code = main(["suite", "--target", "cuda", "--quick", "--zoo", str(digits_zoo), "--models", "digits",
                 "--precisions", "fp32", "--output", str(tmp_path / "out"), "--quiet"])  # fmt: skip
    assert code == 0
    (record,) = assert_valid_records(tmp_path / "out")
    assert record["target"]["name"] == name
    (row,) = metrics.frame(collect.collect([tmp_path / "out"]), load_catalog()).to_dict("records")
    assert row["perf_ratio"] is None or row["perf_ratio"] != row["perf_ratio"]
    assert f"no peak: target '{name}' is not in the platform catalog" in row["warnings"]


def test_a_wrong_option_of_the_suites_backend_is_refused_not_dropped(digits_zoo, tmp_path, capsys):
    """A cross-check backend takes the options the two share; the suite's own takes every one."""
    code = main(["suite", "--target", "cuda", "--quick", "--zoo", str(digits_zoo), "--models", "digits",
                 "--cross-check", "trtexec", "--backend-option", "strams=2", "--output", str(tmp_path)])  # fmt: skip
    assert code == 2 and "strams" in capsys.readouterr().err
