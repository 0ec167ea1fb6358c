"""The CPU peak of runs on CPUs the catalog does not list: estimated from the record's host facts
by D3.3's formula, or measured by `vedliot-runner peak` (tests/test_peak_probe.py) and preferred."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vedliot_aggregator import catalog, collect, cpu_peak, metrics
from vedliot_aggregator.schema import peak_problems

from conftest import runner_main

XEON_D_1577 = {"arch": "x86_64", "cpu_model": "Intel(R) Xeon(R) CPU D-1577 @ 1.30GHz", "cpu_cores_physical": 16,
               "cpu_cores_logical": 32, "cpu_cores_usable": 32, "cpu_flags": ["avx", "avx2", "fma"],
               "cpu_clock_base_mhz": 1300.0}  # fmt: skip


def test_the_estimate_gives_d33s_table_2_for_its_two_x86_cpus():
    xeon = catalog.load().find("xeon_d_1577")
    assert cpu_peak.estimate(XEON_D_1577, "fp32").gops == pytest.approx(xeon.peak_gops["fp32"])  # 665.6
    assert cpu_peak.estimate(XEON_D_1577, "fp16").gops == pytest.approx(xeon.peak_gops["fp16"])  # 1331.2
    epyc = {**XEON_D_1577, "cpu_model": "AMD EPYC Embedded 3451", "cpu_clock_base_mhz": 2140.0}
    assert cpu_peak.estimate(epyc, "fp32").gops == pytest.approx(1095.68)
    found = cpu_peak.estimate(XEON_D_1577, "fp32")
    assert found.source == "estimated" and found.derivation.startswith("16 cores x 1.3 GHz (base) x 32 ops/cycle")


@pytest.mark.parametrize(
    ("flags", "precision", "per_core"),
    [
        (["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni"], "int8", 256),
        (["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "amx_int8"], "int8", 2048),
        (["avx2", "fma", "avx_vnni"], "int8", 128),
        (["avx2", "fma", "avx512f", "avx512_bf16"], "bf16", 128),
        (["avx2", "fma", "avx512f", "amx_bf16"], "bf16", 1024),
        (["avx2", "fma"], "bf16", 32),  # no bf16 unit: the fp32 rate
        (["avx2", "fma", "avx512f"], "fp32", 64),
    ],
)
def test_the_estimate_takes_the_widest_unit_of_the_precision(flags, precision, per_core):
    host = {"arch": "x86_64", "cpu_cores_physical": 2, "cpu_cores_usable": 2, "cpu_flags": flags,
            "cpu_clock_reported_mhz": 2000.0}  # fmt: skip
    assert cpu_peak.estimate(host, precision).gops == pytest.approx(2 * 2.0 * per_core)


def test_arm_cores_count_their_neon_pipes_and_cores_in_use():
    orin = {"arch": "aarch64", "cpu_cores_logical": 12, "cpu_cores_usable": 8, "cpu_parts": ["0x41:0xd42"],
            "cpu_flags": ["asimd", "asimdhp", "asimddp"], "cpu_clock_max_mhz": 2201.6}  # fmt: skip
    assert cpu_peak.estimate(orin, "fp32").gops == pytest.approx(8 * 2.2016 * 8 * 2)  # 8 of 12 cores usable
    assert cpu_peak.estimate(orin, "int8").gops == pytest.approx(8 * 2.2016 * 32 * 2)
    a53 = {**orin, "cpu_parts": ["0x41:0xd03"], "cpu_flags": ["asimd"], "cpu_cores_usable": 4}
    assert cpu_peak.estimate(a53, "fp32").gops == pytest.approx(4 * 2.2016 * 8 * 0.5)
    assert cpu_peak.estimate({**orin, "cpu_clock_max_mhz": None}, "fp32") is None  # no clock, no estimate


@pytest.mark.parametrize(
    ("backend", "options", "expected"),
    [
        ("onnxruntime", {"providers": "CPUExecutionProvider"}, True),
        ("onnxruntime", {"providers": "CUDAExecutionProvider,CPUExecutionProvider"}, False),
        ("openvino", {"device": "CPU"}, True),
        ("openvino", {"device": "MYRIAD"}, False),
        ("tvm", {"target": "llvm -mcpu=skylake-avx512"}, True),
        ("tvm", {"target": "cuda"}, False),
        ("litert", {"delegate": None}, True),
        ("litert", {"delegate": "/usr/lib/libvx_delegate.so"}, False),
        ("tensorrt", {}, False),
        ("hailort", {}, False),
    ],
)
def test_only_runs_on_the_cpu_take_a_cpu_peak(backend, options, expected):
    assert cpu_peak.on_cpu(backend, options) is expected


def _with_host(source: Path, target: Path, **host) -> Path:
    target.mkdir()
    for path in source.glob("*.json"):
        record = json.loads(path.read_text())
        record["host"].update(host)
        (target / path.name).write_text(json.dumps(record))
    return target


def test_measured_peak_wins_then_estimate_then_a_warning(measured, tmp_path):
    peaks = tmp_path / "peaks"
    args = ["peak", "--precision", "fp32,int8", "--seconds", "0.1", "--repeats", "1", "-o", str(peaks), "--quiet"]
    assert runner_main(args) == 0
    (peak_file,) = peaks.glob("*.json")
    peak = json.loads(peak_file.read_text())
    assert peak_problems(peak) == []
    clocked = _with_host(measured, tmp_path / "clocked", cpu_clock_reported_mhz=2000.0, cpu_clock_base_mhz=None,
                         cpu_clock_max_mhz=None)  # fmt: skip
    table = metrics.frame(collect.collect([clocked, peaks]), catalog.load())
    fp32 = table[table["precision"] == "fp32"]
    assert (fp32["peak_source"] == "measured").all()
    assert fp32["peak_gops"].tolist() == [pytest.approx(peak["peaks"][0]["gops"])] * len(fp32)
    assert fp32["perf_ratio"].tolist() == pytest.approx((fp32["gops"] / fp32["peak_gops"]).tolist())
    int8 = table[table["precision"] == "int8"].iloc[0]
    flags = set(json.loads(next(clocked.glob("*.json")).read_text())["host"]["cpu_flags"])
    if "amx_int8" in flags:  # the probe has no AMX kernel: its figure is partial, the estimate counts AMX
        assert peak["peaks"][1]["partial"] is True and int8["peak_source"] == "estimated"
    elif "int8" in {skipped["precision"] for skipped in peak["skipped"]}:  # no int8 kernel for this CPU
        assert int8["peak_source"] == "estimated"
    else:
        assert int8["peak_source"] == "measured"
    # Without the peak record: the estimate, with how it was made.
    alone = metrics.frame(collect.collect([clocked]), catalog.load())
    assert (alone["peak_source"] == "estimated").all()
    assert alone["peak_basis"].str.contains("GHz \\(cpuinfo 'cpu MHz'\\) x").all()
    # A record without any clock: no ratio, and the warning says what to do.
    bare = _with_host(measured, tmp_path / "bare", cpu_clock_reported_mhz=None)
    plain = metrics.frame(collect.collect([bare]), catalog.load())
    assert plain["perf_ratio"].isna().all()
    assert plain["warnings"].str.contains("run `vedliot-runner peak` on that host").all()


def test_a_row_above_its_peak_is_flagged(measured, tmp_path):
    """A peak measured on a loaded host can come out below what a model then reaches (the demo
    once showed 123.5%): the row keeps its ratio, and says which figure to distrust."""
    peaks = tmp_path / "peaks"
    args = ["peak", "--precision", "fp32", "--seconds", "0.2", "--repeats", "3", "-o", str(peaks), "--quiet"]
    assert runner_main(args) == 0
    (peak_file,) = peaks.glob("*.json")
    fair = metrics.frame(collect.collect([measured, peaks]), catalog.load())
    fp32 = fair[fair["precision"] == "fp32"]
    # a peak measured for 0.1 s beside other work (the suite's background builds) can come out
    # low enough for a run to pass it: whichever rows are below it are not flagged
    below = fp32["gops"] < fp32["peak_gops"]
    assert below.any() and (fp32["perf_ratio"][below] < 1).all()
    assert not fp32["warnings"][below].str.contains("above it").any()
    assert fp32["warnings"][~below].str.contains("above it").all()
    peak = json.loads(peak_file.read_text())
    peak["peaks"][0]["gops"] = peak["peaks"][0]["runs_gops"][0] = 1e-3
    peak_file.write_text(json.dumps(peak))
    low = metrics.frame(collect.collect([measured, peaks]), catalog.load())
    fp32 = low[low["precision"] == "fp32"]
    assert (fp32["perf_ratio"] > 1).all()
    assert fp32["warnings"].str.contains("of the measured peak \\(0.001 GOPS\\): above it").all()


def test_published_rows_keep_the_catalogs_peak_and_bad_peak_records_are_skipped(measured, tmp_path):
    from vedliot_aggregator import reference

    peaks = tmp_path / "peaks"
    assert runner_main(["peak", "--precision", "fp32", "--seconds", "0.1", "--repeats", "1", "-o", str(peaks),
                        "--quiet"]) == 0  # fmt: skip
    good = next(peaks.glob("*.json"))
    bad = json.loads(good.read_text())
    bad["run_id"] = "00000000-0000-4000-8000-000000000000"
    bad["peaks"][0]["gops"] = -1
    (peaks / "bad.json").write_text(json.dumps(bad))
    found = collect.collect([reference.default_records_dir(), peaks])
    assert len(found.peaks) == 1 and [c.path.name for c in found.skipped] == ["bad.json"]
    assert "at peaks/0/gops" in found.skipped[0].problems[0]
    table = metrics.frame(found, catalog.load())
    published = table[table["provenance"] == "published"]
    assert set(published["peak_source"].dropna()) == {"catalog"}


def test_the_peak_is_that_of_the_precision_that_ran(measured, tmp_path):
    """OpenVINO runs an fp16 request as bf16 on an AMX CPU (its record says so): the bf16 peak; a
    'mixed' int8 model (some layers left in fp32) keeps the int8 peak, not fp32's."""
    host = {"cpu_flags": ["avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16"],
            "cpu_clock_reported_mhz": 2000.0, "cpu_clock_base_mhz": None, "cpu_clock_max_mhz": None}  # fmt: skip
    directory = _with_host(measured, tmp_path / "ran", **host)
    ran = {"fp32": ("fp16", "bf16"), "int8": ("int8", "mixed")}
    for path in directory.glob("*.json"):
        record = json.loads(path.read_text())
        requested, effective = ran[record["precision"]["requested"]]
        record["precision"].update(requested=requested, effective=effective)
        path.write_text(json.dumps(record))
    table = metrics.frame(collect.collect([directory]), catalog.load())
    cores = json.loads(next(directory.glob("*.json")).read_text())["host"]
    n = min(c for c in (cores["cpu_cores_physical"], cores["cpu_cores_usable"]) if c)
    by_effective = dict(zip(table["effective_precision"], table["peak_gops"], strict=False))
    assert by_effective["bf16"] == pytest.approx(n * 2.0 * 128)
    assert by_effective["mixed"] == pytest.approx(n * 2.0 * 256)
