"""OpenVINO benchmark_app's statistics report, as the tool writes it with `-report_folder DIR`:
`benchmark_report.json` (`-json_stats`) or `benchmark_report.csv` (the default), from the Python
tool (OpenVINO 2023.0 to 2026.4 tested) and the C++ one (2026.4 tested).

Both hold three sections: command line, configuration and execution results. The Python tool
writes its CSV labels as JSON keys, values as strings; the C++ tool has JSON names of its own
(`latency_median`, `latency_avg`, `iterations_num`, ...), numbers as numbers, and ends every CSV
field with ';'. The numbers kept: median (or the percentile `-latency_percentile N` asked for:
Python labels it `latency (N percentile) (ms)`, C++ keeps `latency_median` beside
`percentile_boundary`), average, min, max latency, throughput (FPS), iterations, duration.
Shape groups (`-pcseq`): C++ writes a list (JSON) or a section (CSV); the Python tool appends each
group's average, min and max under the same names, which the CSV keeps in order but its JSON
report turns into one object: each group overwrites the overall figures and the group before it.
The overall median and throughput survive; the overall average, min and max do not, and are then
left out. A failed run's report holds the tool's `error` and becomes a `failed` record.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from vedliot_aggregator.importers.common import (
    Given,
    ImportFailure,
    failed,
    load_json,
    number,
    read_text,
    skeleton,
    with_imported,
)

TOOL = "benchmark_app"
SECTIONS = {"command line parameters": "cmd_options", "configuration setup": "configuration_setup",
            "execution results": "execution_results"}  # fmt: skip
COUNTERS_HINT = (
    "{path}: this is benchmark_app's per-layer counters report; import the statistics report "
    "written beside it: {sibling}"
)
WRITE_HINT = "write one with: benchmark_app ... -report_type no_counters [-json_stats] -report_folder DIR"
_PERCENTILE = re.compile(r"latency \((\d+) percentile\) \(ms\)$")
# Result keys -> summary keys: the Python tool's (JSON and CSV), then the C++ tool's JSON names
# and CSV labels (samples/cpp/benchmark_app).
KEYS = {
    "avg latency": "mean_ms",
    "min latency": "min_ms",
    "max latency": "max_ms",
    "latency (ms)": "median_ms",
    "throughput": "ips",
    "first inference time (ms)": "first_inference_ms",
    "total execution time (ms)": "duration_ms",
    "total number of iterations": "iterations",
    "latency_median": "median_ms",
    "latency_avg": "mean_ms",
    "latency_average": "mean_ms",
    "latency_min": "min_ms",
    "latency_max": "max_ms",
    "first_inference_time": "first_inference_ms",
    "execution_time": "duration_ms",
    "iterations_num": "iterations",
    "median latency (ms)": "median_ms",
    "average latency (ms)": "mean_ms",
    "min latency (ms)": "min_ms",
    "max latency (ms)": "max_ms",
    "percentile_boundary": "percentile",
    "percentile boundary": "percentile",
}
SETUP = {"target device": "device", "target_device": "device", "api": "api", "batch size": "batch",
         "batch_size": "batch", "number of parallel infer requests": "requests", "nireq": "requests"}  # fmt: skip
GROUP_KEYS = ("mean_ms", "min_ms", "max_ms", "median_ms")


def _counters_report(path: Path) -> ImportFailure:
    sibling = path.with_name("benchmark_report" + path.suffix)
    where = str(sibling) if sibling.exists() else f"benchmark_report{path.suffix} in the same -report_folder"
    return ImportFailure(COUNTERS_HINT.format(path=path, sibling=where))


def _sections_json(path: Path) -> dict[str, list[tuple[str, Any]]]:
    data = load_json(path, "benchmark_app report")
    if isinstance(data, dict) and ("report_type" in data or "avg_performance" in data):
        raise _counters_report(path)
    if isinstance(data, list) and data and isinstance(data[0], dict) and "nodes" in data[0]:
        raise _counters_report(path)
    if not isinstance(data, dict) or not isinstance(data.get("execution_results"), dict):
        raise ImportFailure(f"{path}: not a benchmark_app statistics report (no execution_results); {WRITE_HINT}")
    return {name: list(section.items()) for name, section in data.items() if isinstance(section, dict)}


def _sections_csv(path: Path) -> dict[str, list[tuple[str, Any]]]:
    text = read_text(path, "a benchmark_app report")
    if text.startswith("layerName;") or "\nlayerName;" in text[:4000]:
        raise _counters_report(path)
    sections: dict[str, list[tuple[str, Any]]] = {}
    current: list[tuple[str, Any]] | None = None
    for row in csv.reader(io.StringIO(text), delimiter=";"):
        while row and not row[-1].strip():  # the C++ tool ends every field with ';'
            row = row[:-1]
        title = row[0].strip().lower() if len(row) == 1 else None
        if not row:
            current = None
        elif title in SECTIONS or title == "group latencies":
            current = sections.setdefault(SECTIONS.get(title, "group_latencies"), [])
        elif current is not None:
            current.append((row[0], row[1:] if len(row) > 2 else ";".join(row[1:])))
    if "execution_results" not in sections:
        raise ImportFailure(f"{path}: not a benchmark_app statistics report (no 'Execution results'); {WRITE_HINT}")
    return sections


def _results(rows: list[tuple[str, Any]]) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The overall figures and each shape group's, as the tool printed them (Python: a `group`
    row followed by that group's figures; C++: a `group_latencies` list)."""
    overall: dict[str, str] = {}
    groups: list[dict[str, str]] = []
    python_group: dict[str, str] | None = None  # the figures that follow a `group` row are its own
    for raw, value in rows:
        key = raw.strip().lower()
        if "error" in overall and value == "" and not _known(key):  # a CSV error message's next line
            overall["error"] += "\n" + raw
            continue
        if key == "group_latencies" and isinstance(value, list):
            groups += [_cpp_group(item) for item in value if isinstance(item, dict)]
            continue
        text = str(value).strip()
        if key == "group":
            groups.append({"shape": text})
            python_group = groups[-1]
            continue
        percentile = _PERCENTILE.match(key)
        name = "error" if key == "error" else f"p{percentile.group(1)}_ms" if percentile else KEYS.get(key)
        if name is None:
            continue
        target = python_group if python_group is not None and name in GROUP_KEYS else overall
        target[name] = text
    boundary = overall.pop("percentile", None)
    if boundary is not None and number(boundary) not in (None, 50.0) and "median_ms" in overall:
        # C++: `latency_median` holds whichever percentile -latency_percentile asked for
        overall[f"p{int(number(boundary))}_ms"] = overall.pop("median_ms")
    return overall, groups


def _known(key: str) -> bool:
    return (
        key in KEYS
        or key in ("error", "group", "group_latencies")
        or key.endswith("time (ms)")
        or (_PERCENTILE.match(key) is not None)
    )


def _cpp_group(item: dict[str, Any]) -> dict[str, str]:
    group = {"shape": str(item.get("data_shape", ""))}
    group.update({KEYS[k]: str(v) for k, v in item.items() if k in KEYS and KEYS[k] in GROUP_KEYS})
    return group


def _cpp_csv_groups(rows: list[tuple[str, Any]]) -> list[dict[str, str]]:
    """The C++ CSV's 'Group Latencies' section: a header, then data_shape;median;avg;min;max."""
    groups = []
    for shape, cells in rows:
        if isinstance(cells, list) and len(cells) == 4 and number(cells[0]) is not None:
            groups.append(
                dict(zip(("shape", "median_ms", "mean_ms", "min_ms", "max_ms"), [shape, *cells], strict=True))
            )
    return groups


def _several_shapes(options: dict[str, Any]) -> bool:
    return any("][" in str(options.get(flag, "")) for flag in ("-data_shape", "-shape", "data_shape", "shape"))


def _setup(sections: dict[str, list[tuple[str, Any]]]) -> tuple[dict[str, str], dict[str, str]]:
    """The configuration under one set of names, and the streams per device."""
    rows = [(str(k).strip().lower(), v) for k, v in sections.get("configuration_setup", [])]
    setup = {SETUP[k]: str(v) for k, v in rows if k in SETUP}
    streams = {k: str(v) for k, v in rows if k.endswith("streams") or k.endswith("_streams_num")}
    return setup, streams


def read(path: Path, given: Given) -> dict:
    """The record of one benchmark_app report (JSON or CSV, Python or C++ tool, by content)."""
    is_json = read_text(path, "a benchmark_app report").lstrip()[:1] in ("{", "[")
    sections = _sections_json(path) if is_json else _sections_csv(path)
    options = {str(k).lstrip("-"): v for k, v in sections.get("cmd_options", [])}
    setup, streams = _setup(sections)
    overall, groups = _results(sections["execution_results"])
    groups += _cpp_csv_groups(sections.get("group_latencies", []))
    model_file = str(options.get("m") or "")
    name = given.model or (Path(model_file).stem if model_file else None) or path.stem
    device = setup.get("device") or str(options.get("d") or "CPU")
    batch = int(number(setup.get("batch")) or 1)
    record = skeleton(TOOL, [path], given, name, "openvino", batch, given.target or f"openvino-{device}")
    if "error" in overall:
        return failed(record, f"benchmark_app reported: {overall['error'].strip()}")
    requests = int(number(setup.get("requests")) or 1)
    record["config"].update(mode="throughput" if requests > 1 else "latency", requests_in_flight=requests)
    record["config"]["backend_options"] = {**streams, "device": device, "api": setup.get("api")}
    return _measured(record, is_json, options, overall, groups)


def _measured(record: dict, is_json: bool, options: dict, overall: dict, groups: list) -> dict:
    # The Python tool's JSON turned its repeated keys into one object: the overall avg/min/max
    # hold the last group's, and the groups kept only their names.
    lossy = is_json and any(set(group) == {"shape"} for group in groups)
    warnings = []
    if lossy:
        overall = {k: v for k, v in overall.items() if k not in ("mean_ms", "min_ms", "max_ms")}
        warnings.append(
            f"benchmark_app's JSON report kept only the last shape group's average, min and max latency "
            f"({groups[-1]['shape']}); the run's mean is unknown (its CSV report keeps every group)"
        )
    elif groups or _several_shapes(options):
        warnings.append("several input shapes in one run: the latency figures mix them")
    if not any(k in overall for k in ("mean_ms", "median_ms", "ips")) and not any(k.startswith("p") for k in overall):
        raise ImportFailure(
            f"{record['provenance']['imported']['file']}: the report has neither latency nor throughput"
        )
    requests = record["config"]["requests_in_flight"]
    record["timing"] = _timing(overall, record["config"]["batch_size"], requests, mixed=bool(warnings))
    return with_imported(record, tool_summary=overall, groups=groups or None, warnings=warnings or None)


def _timing(overall: dict[str, str], batch: int, requests: int, mixed: bool) -> dict:
    """Timing of the run; with several input shapes the report's one batch size is not every
    iteration's, so the inferences are the tool's own count (throughput x duration)."""
    iterations = int(number(overall.get("iterations")) or 0)
    duration, throughput = number(overall.get("duration_ms")), number(overall.get("ips"))
    inferences = round(throughput * duration / 1e3) if mixed and duration and throughput else iterations * batch
    summary = {k: number(v) for k, v in overall.items() if k.endswith("_ms") and k != "duration_ms"}
    timing: dict[str, Any] = {
        "clock": "monotonic_ns",
        "iterations": iterations,
        "inferences": inferences,
        "requests_in_flight": requests,
        "first_inference_ms": summary.pop("first_inference_ms", None),
    }
    if duration and iterations:
        # The tool's clock, not this host's: only the window's length means anything.
        timing.update(window_start_ns=0, window_end_ns=round(duration * 1e6))
    else:
        summary["ips"] = throughput
    timing["summary"] = {k: v for k, v in summary.items() if v is not None}
    return timing
