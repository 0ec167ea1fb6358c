"""`vedliot-aggregator import TOOL FILE`: other tools' results as records (provenance `imported`).

One module per tool: `benchmark_app` (OpenVINO's benchmark_app reports, Python and C++, JSON and
CSV), `trtexec` (TensorRT trtexec's `--exportTimes` trace and console log), `hailortcli` (Hailo's
`hailortcli benchmark`/`run` console output), `xdputil` (Vitis AI's `xdputil benchmark` and the
Vitis AI Library's test_performance_* reports). Each keeps the tool's
own printed summary in `provenance.imported.tool_summary`, verbatim, so that the aggregator can
compare what it recomputes with what the tool said (`check.py`).
"""

from vedliot_aggregator.importers.common import ImportFailure

__all__ = ["ImportFailure"]
