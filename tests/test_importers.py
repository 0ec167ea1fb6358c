"""`vedliot-aggregator import` on real outputs of the real tools: benchmark_app reports written
here by OpenVINO 2023.0 to 2026.4 (tests/data/benchmark_app), trtexec traces and console logs of
TensorRT 7.2 to 10.16 from NVIDIA's and others' repositories (tests/data/trtexec). Each import
is checked against the tool's own printed figures, and through `report` (round trip)."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from vedliot_aggregator.cli import cli
from vedliot_aggregator.importers import ImportFailure, benchmark_app, trtexec
from vedliot_aggregator.importers.check import disagreements
from vedliot_aggregator.importers.common import Given
from vedliot_runner import trtexec_output as trtexec_log

DATA = Path(__file__).parent / "data"
OPENVINO = ("2023.0.2", "2024.6.0", "2025.4.1", "2026.4.1")


def _real(tmp_path: Path, tool: str, name: str) -> Path:
    """A data file as the tool wrote it (large ones are stored gzipped)."""
    source = DATA / tool / name
    if not source.exists():
        packed = source.with_name(name + ".gz")
        source = tmp_path / name
        source.write_bytes(gzip.decompress(packed.read_bytes()))
    return source


def _import(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["import", *args])
    return result.exit_code, result.output


def _report_rows(tmp_path: Path, records: Path) -> list[dict[str, str]]:
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["report", str(records), "-o", str(out), "--no-reference", "--images", "none"])
    assert result.exit_code == 0, result.output
    with open(out / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


# -- benchmark_app ---------------------------------------------------------------------------------


def _ba(version: str, case: str) -> Path:
    folder = DATA / "benchmark_app" / version / case
    return next(folder.glob("benchmark_report.*"))


def _printed(version: str, case: str) -> dict[str, str]:
    """Execution results as the tool wrote them (JSON, or the CSV's rows)."""
    path = _ba(version, case)
    if path.suffix == ".json":
        return json.loads(path.read_text())["execution_results"]
    rows = [line.split(";", 1) for line in path.read_text().splitlines() if ";" in line]
    return dict(rows)


@pytest.mark.parametrize("version", OPENVINO)
@pytest.mark.parametrize("case", ["json", "csv", "p90-json"])
def test_benchmark_app_reports_round_trip_through_the_report(tmp_path, version, case):
    out = tmp_path / "records"
    code, output = _import("benchmark_app", str(_ba(version, case)), "-o", str(out), "--ops-per-inference", "1e9")
    assert code == 0 and "own summary" not in output, output
    printed = _printed(version, case)
    (row,) = _report_rows(tmp_path, out)
    assert float(row["ips"]) == pytest.approx(float(printed["throughput"]), abs=0.01, rel=1e-3)
    assert float(row["inference_time_ms"]) == float(printed["avg latency"])
    assert row["model"] == "tiny_static" and row["backend"] == "openvino" and row["target"] == "openvino-CPU"
    if case == "p90-json":  # -latency_percentile 90: the figure is the 90th percentile, not the median
        assert row["inference_median_ms"] == "" and float(row["inference_p90_ms"]) == float(
            printed["latency (90 percentile) (ms)"]
        )
    else:
        assert float(row["inference_median_ms"]) == float(printed["latency (ms)"])


@pytest.mark.parametrize("version", OPENVINO)
def test_benchmark_app_shape_groups_kept_apart_or_flagged(tmp_path, version):
    as_csv = benchmark_app.read(_ba(version, "groups-csv"), Given())
    groups = as_csv["provenance"]["imported"]["groups"]
    assert [g["shape"] for g in groups] == ["input: [1,3,64,64]", "input: [2,3,128,128]"]
    printed = [line for line in _ba(version, "groups-csv").read_text().splitlines() if line.startswith("avg latency;")]
    assert as_csv["timing"]["summary"]["mean_ms"] == float(printed[0].split(";")[1])  # the run's, not a group's
    assert [g["mean_ms"] for g in groups] == [line.split(";")[1] for line in printed[1:]]
    assert any("several input shapes" in w for w in as_csv["provenance"]["imported"]["warnings"])
    # The JSON report of such a run lost the overall mean: it is left out, and the record says why.
    as_json = benchmark_app.read(_ba(version, "groups-json"), Given())
    summary = as_json["timing"]["summary"]
    assert "mean_ms" not in summary and summary["median_ms"] == float(_printed(version, "groups-json")["latency (ms)"])
    assert "kept only the last shape group" in as_json["provenance"]["imported"]["warnings"][0]
    without_pcseq = benchmark_app.read(_ba(version, "shapes-json"), Given())
    assert any("several input shapes" in w for w in without_pcseq["provenance"]["imported"]["warnings"])


def test_benchmark_app_error_reports_become_failed_records(tmp_path):
    for version in OPENVINO:
        out = tmp_path / version
        code, output = _import("benchmark_app", str(_ba(version, "error-json")), "-o", str(out))
        assert code == 0, output
        (path,) = out.glob("*.json")
        record = json.loads(path.read_text())
        assert record["status"] == "failed" and record["timing"] is None
        assert "Data batch and filters rank do not match" in record["error"]["message"]  # the tool's own words
    # OpenVINO 2023.0's -api sync failed on its own (a bug of that release): also the tool's error
    record = benchmark_app.read(_ba("2023.0.2", "sync-json"), Given())
    assert record["status"] == "failed" and "ALLOW_AUTO_BATCHING" in record["error"]["message"]


@pytest.mark.parametrize("version", OPENVINO)
def test_benchmark_app_counters_reports_point_to_the_statistics_report(version):
    for case, name in (("avg-json", "benchmark_average_counters_report.json"),
                       ("avg-csv", "benchmark_average_counters_report.csv"),
                       ("det-json", "benchmark_detailed_counters_report.json")):  # fmt: skip
        path = DATA / "benchmark_app" / version / case / name
        with pytest.raises(ImportFailure, match="per-layer counters report; import the statistics report") as caught:
            benchmark_app.read(path, Given())
        assert str(path.with_name("benchmark_report" + path.suffix)) in str(caught.value)


CPP = "cpp-2026.4.1"  # the C++ benchmark_app, built here against the 2026.4.1 wheel (SOURCES.md)


@pytest.mark.parametrize("case", ["json", "csv", "p90-json", "p90-csv", "sync-json"])
def test_cpp_benchmark_app_reports_round_trip(tmp_path, case):
    path = _ba(CPP, case)
    if path.suffix == ".json":
        printed = json.loads(path.read_text())["execution_results"]
        throughput, mean = printed["throughput"], printed["latency_avg"]
        figure, percentile = printed["latency_median"], printed["percentile_boundary"]
    else:  # every field followed by ';'
        printed = {
            row[0]: row[1] for row in (line.split(";") for line in path.read_text().splitlines()) if len(row) > 2
        }
        throughput, mean, percentile = (
            printed["throughput"],
            printed["Average latency (ms)"],
            printed["Percentile boundary"],
        )
        figure = printed.get("Median latency (ms)") or printed["latency (90 percentile) (ms)"]
    out = tmp_path / "records"
    code, output = _import("benchmark_app", str(path), "-o", str(out))
    assert code == 0 and "own summary" not in output, output
    (row,) = _report_rows(tmp_path, out)
    assert float(row["ips"]) == pytest.approx(float(throughput), rel=1e-4)
    assert float(row["inference_time_ms"]) == pytest.approx(float(mean))
    column = "inference_median_ms" if int(percentile) == 50 else "inference_p90_ms"  # latency_median holds p90
    assert float(row[column]) == pytest.approx(float(figure)) and (
        column == "inference_median_ms" or not row["inference_median_ms"]
    )
    assert row["mode"] == ("latency" if case == "sync-json" else "throughput")


def test_cpp_benchmark_app_groups_errors_and_counters():
    for case in ("groups-json", "groups-csv"):  # both keep every group, in a list or a section of its own
        record = benchmark_app.read(_ba(CPP, case), Given())
        groups = record["provenance"]["imported"]["groups"]
        assert [g["shape"] for g in groups] == ["input[1,3,64,64]", "input[2,3,128,128]"]
        assert all({"median_ms", "mean_ms", "min_ms", "max_ms"} <= set(g) for g in groups)
        assert "mean_ms" in record["timing"]["summary"]  # the run's own, not lost
        # the groups' batches differ (1 and 2): inferences are the tool's count, not iterations x 1
        throughput = float(record["provenance"]["imported"]["tool_summary"]["ips"])
        duration = float(record["provenance"]["imported"]["tool_summary"]["duration_ms"]) / 1e3
        assert record["timing"]["inferences"] == round(throughput * duration) > record["timing"]["iterations"]
    for case in ("error-json", "error-csv"):  # the message runs over three lines, in CSV too
        record = benchmark_app.read(_ba(CPP, case), Given())
        assert record["status"] == "failed" and record["error"]["message"].startswith("benchmark_app reported: Check")
        assert record["error"]["message"].endswith("filters shape: [16,3,3,3]).")
    for name in ("avg-json/benchmark_average_counters_report.json", "avg-csv/benchmark_average_counters_report.csv"):
        with pytest.raises(ImportFailure, match="per-layer counters report"):
            benchmark_app.read(DATA / "benchmark_app" / CPP / name, Given())


# -- trtexec ---------------------------------------------------------------------------------------

# Console logs: TensorRT version, the tool's printed throughput (qps), mean and median latency.
LOGS = [
    ("console-trt7.2-TensorRT-IntroNotebook1-V100-resnet50.log", None, "0", "2.17729", "2.17676"),
    ("console-trt8.0.3-verbose-hackathon-GTX1070-loadEngine.log", "8.0.3", "6378.46", "0.16121", "0.160278"),
    ("console-trt8.2.5-TensorRT-qat-ptq-workflow-mobilenetv2-base.log", "8.2.5", "166.041", "9.04623", "8.99896"),
    ("console-trt8.4.1-verbose-hackathon-GTX1070-loadEngine.log", "8.4.1", "6207.5", "0.166299", "0.161987"),
    ("console-trt8.6.0-verbose-hackathon-RTX3090-loadEngine.log", "8.6.0", "21009.2", "0.0533242", "0.0517578"),
    ("console-trt10.3-TensorRT-IntroNotebook1-resnet50.log", "10.3.0", "873.17", "1.20476", "1.2041"),
    ("console-trt10.14.1-verbose-hackathon-RTX6000Ada-loadEngine-cudagraph.log", "10.14.1", "30518.1", "0.0314152",
     "0.029541"),
    ("console-trt10.16.1-hackathon-H100PCIe-onnx-default.log", "10.16.1", "15374.3", "0.0441053", "0.0440674"),
]  # fmt: skip


@pytest.mark.parametrize("name, version, qps, mean, median", LOGS)
def test_trtexec_console_logs_of_every_version_round_trip(tmp_path, name, version, qps, mean, median):
    log = _real(tmp_path, "trtexec", name)
    out = tmp_path / "records"
    code, output = _import("trtexec", str(log), "-o", str(out))
    assert code == 0, output
    record = json.loads(next(out.glob("*.json")).read_text())
    assert record["provenance"]["imported"]["tool_version"] == version
    assert record["provenance"]["imported"]["tool_summary"]["qps"] == qps
    (row,) = _report_rows(tmp_path, out)
    assert row["inference_time_ms"] and float(row["inference_time_ms"]) == float(mean)
    assert float(row["inference_median_ms"]) == float(median)
    batch = int(record["config"]["batch_size"])
    if float(qps):  # trtexec's throughput: queries x batch over the walltime, not batch / mean
        assert float(row["ips"]) == pytest.approx(float(qps) * batch, rel=1e-4)
        assert "own summary" not in output
    else:  # TensorRT 7 counted 0 queries for an explicit-batch engine: the record says so
        assert float(row["ips"]) == pytest.approx(batch * 1000 / float(mean))
        assert "counted 0 queries" in output


def test_trtexec_throughput_is_the_tools_not_batch_over_mean(tmp_path):
    log = trtexec_log.parse(_real(tmp_path, "trtexec", LOGS[2][0]).read_text())
    # TensorRT 8.2.5 overlaps copies with compute: 166 qps, while 1000 / mean latency is 110.5
    assert 1000 / float(log.stats["latency"]["mean"]) < 0.7 * float(log.throughput_qps)
    record = trtexec.read(_real(tmp_path, "trtexec", LOGS[2][0]), None, Given(), None)
    window_s = (record["timing"]["window_end_ns"] - record["timing"]["window_start_ns"]) / 1e9
    assert record["timing"]["inferences"] / window_s == pytest.approx(166.041, rel=1e-4)


def test_trtexec_trace_before_8_5_1_drops_its_warm_up(tmp_path):
    trace = DATA / "trtexec" / "exportTimes-trt8.4-TREx-RTX3090-resnet50-fp32.json"
    printed = json.loads((DATA / "trtexec" / "TREx-derived-profile.metadata-RTX3090-resnet50-fp32.json").read_text())
    summary = printed["performance_summary"]  # trtexec's printed figures, as TREx parsed them from its log
    record = trtexec.read(trace, None, Given(model="resnet50"), None)
    timing = record["timing"]
    assert (timing["iterations"], timing["warmup_iterations"]) == (248, 15)  # 263 queries in the file
    assert "15 warm-up queries dropped" in record["provenance"]["imported"]["warnings"][0]
    samples = [s / 1e6 for s in timing["samples_ns"]]
    assert sum(samples) / len(samples) == pytest.approx(summary["Latency"][2], abs=5e-5)
    assert (min(samples), max(samples)) == pytest.approx((summary["Latency"][0], summary["Latency"][1]), abs=5e-5)
    window_s = (timing["window_end_ns"] - timing["window_start_ns"]) / 1e9
    assert window_s == pytest.approx(summary["Total Host Walltime"], abs=5e-5)
    assert 248 / window_s == pytest.approx(summary["Throughput"], rel=1e-5)
    assert timing["includes_host_device_copies"] is False  # run with --noDataTransfers: all copies 0 ms
    kept_all = trtexec.read(trace, None, Given(model="resnet50"), 0.0)  # --warmup-ms 0: nothing dropped
    assert kept_all["timing"]["iterations"] == 263


def test_trtexec_trace_from_8_5_1_on_keeps_every_query(tmp_path):
    trace = _real(tmp_path, "trtexec", "exportTimes-trt10.4-fuzzylabs-RTX3060Laptop-alexnet-fp16.json")
    printed = json.loads(
        (DATA / "trtexec" / "TREx-derived-profile.metadata-trt10.4-fuzzylabs-alexnet-fp16.json").read_text()
    )
    summary = printed["performance_summary"]
    # run with --warmUp=5000: the trace starts at 5000.23 ms, after the warm-up it left out
    record = trtexec.read(trace, None, Given(model="alexnet", precision="fp16"), 5000.0)
    assert record["timing"]["iterations"] == 6039 and record["timing"]["warmup_iterations"] == 0
    window_s = (record["timing"]["window_end_ns"] - record["timing"]["window_start_ns"]) / 1e9
    assert 6039 / window_s == pytest.approx(summary["Throughput"], rel=1e-5)
    samples = sorted(record["timing"]["samples_ns"])
    assert samples[len(samples) // 2] / 1e6 == pytest.approx(summary["Latency"][3], abs=5e-5)


def test_trtexec_trace_with_a_log_that_disagrees_is_flagged(tmp_path):
    """The 8.4 trace imported with the warm-up kept (as the old importer did) and checked against
    what trtexec printed for that run: the difference is flagged in the report."""
    trace = DATA / "trtexec" / "exportTimes-trt8.4-TREx-RTX3090-resnet50-fp32.json"
    printed = json.loads((DATA / "trtexec" / "TREx-derived-profile.metadata-RTX3090-resnet50-fp32.json").read_text())
    latency = printed["performance_summary"]["Latency"]  # min, max, mean, median, p99
    theirs = {"mean_ms": str(latency[2]), "max_ms": str(latency[1]), "median_ms": str(latency[3]),
              "qps": str(printed["performance_summary"]["Throughput"])}  # fmt: skip
    right = trtexec.read(trace, None, Given(model="resnet50"), None)["timing"]
    wrong = trtexec.read(trace, None, Given(model="resnet50"), 0.0)["timing"]

    def ours(timing):
        window_s = (timing["window_end_ns"] - timing["window_start_ns"]) / 1e9
        ms = sorted(s / 1e6 for s in timing["samples_ns"])
        return {"mean_ms": sum(ms) / len(ms), "max_ms": ms[-1], "median_ms": ms[len(ms) // 2],
                "ips": timing["inferences"] / window_s, "iterations": len(ms)}  # fmt: skip

    assert disagreements("trtexec", theirs, ours(right), 1) == []
    found = disagreements("trtexec", theirs, ours(wrong), 1)
    # the 15 warm-up queries move mean and throughput by 0.3% only, but the max by 1.8%
    assert found == ["max 13.02 ms here, 12.79 ms in trtexec's own summary (+1.8%)"]
    assert disagreements("trtexec", {**theirs, "queries": "248"}, ours(wrong), 1)[0].startswith("263 timed iter")


def test_trtexec_other_exports_and_logs_without_summary_say_what_to_use(tmp_path):
    exports = (("exportProfile-trt8.4-TREx-A100-resnet-fp32.json", "--exportProfile"),
               ("exportProfile-trt10.4-fuzzylabs-RTX3060Laptop-alexnet-fp16.json", "--exportProfile"),
               ("exportLayerInfo-trt10.16.1-hackathon-H100PCIe-model-trained.json", "--exportLayerInfo"))  # fmt: skip
    for name, what in exports:
        code, output = _import("trtexec", str(DATA / "trtexec" / name), "--model", "m", "-o", str(tmp_path))
        assert code == 2 and what in output and "--exportTimes=FILE" in output and "console log" in output
    no_summary = DATA / "trtexec" / "console-trt10.16.1-hackathon-H100PCIe-dumpProfile-noSummary.log"
    code, output = _import("trtexec", str(no_summary), "-o", str(tmp_path))
    assert code == 2 and "no performance summary" in output and "--dumpProfile" in output
    trace = DATA / "trtexec" / "exportTimes-trt8.4-TREx-RTX3090-resnet50-fp32.json"
    code, output = _import("trtexec", str(trace), "-o", str(tmp_path))
    assert code == 2 and "give --model" in output


def test_trtexec_trace_and_log_together(tmp_path):
    """A trace with the console log of another run: version and batch from the log, and the
    mismatch between the two flagged at import."""
    trace = DATA / "trtexec" / "exportTimes-trt8.4-TREx-RTX3090-resnet50-fp32.json"
    log = DATA / "trtexec" / "console-trt10.3-TensorRT-IntroNotebook1-resnet50.log"
    out = tmp_path / "records"
    code, output = _import("trtexec", str(trace), "--log", str(log), "-o", str(out))
    assert code == 0, output
    record = json.loads(next(out.glob("*.json")).read_text())
    imported = record["provenance"]["imported"]
    assert imported["tool_version"] == "10.3.0" and imported["files"][0]["file"] == str(log)
    assert record["model"]["name"] == "model" and record["software"]["backend"]["version"] == "10.3.0"
    assert "in trtexec's own summary" in output  # 12.2 ms here, 1.2 ms in that log


def test_import_writes_standard_json_atomically(tmp_path):
    out = tmp_path / "records"
    code, _ = _import("benchmark_app", str(_ba("2026.4.1", "json")), "-o", str(out))
    assert code == 0
    (path,) = out.iterdir()  # no temporary file left beside it
    json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    shutil.rmtree(out)
