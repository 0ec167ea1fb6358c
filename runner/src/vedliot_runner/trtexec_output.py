"""trtexec's output, read the same way by the runner's trtexec backend and by `vedliot-aggregator
import trtexec`: its console log and its `--exportTimes` trace (Python 3.8: the runner's floor).

The console log, as TensorRT 7.x to 10.x print it (with `--verbose` or not):

- The `&&&& RUNNING|PASSED|FAILED TensorRT.trtexec [TensorRT v8205] # trtexec ...` lines give the
  version (8.x: major*1000 + minor*100 + patch; 10.x: major*10000 + minor*100 + patch; 7.x prints
  none, `TensorRT version: X` does in later ones) and the command line.
- 8.0 and later print `=== Performance summary ===`: `Throughput: X qps`, then `Latency`, `GPU
  Compute Time`, ... as `min = a ms, max = b ms, mean = c ms, median = d ms, percentile(99%) = e ms`
  (8.5 and later: percentile(90%), (95%), (99%)), and `Total Host Walltime: X s`.
- 7.x prints blocks instead: `Host Latency` (7.0: `Host latency`), then `min: a ms (end to end ...)`,
  ..., `percentile: e ms at 99%`, `throughput: X qps`, `walltime: X s`, and `GPU Compute`. For an
  explicit-batch engine 7.x counts 0 queries and prints `throughput: 0 qps`.
- `Warmup completed N queries over M ms`, `Timing trace has N queries over T s`, and the options
  block (`Duration: 3s (+ 200ms warm up)`, `Input inference shape: x=4x1x28x28`).
- `Selected Device: NAME`, `Compute Capability: M.m`; `Engine built in X sec.` (`Engine loaded`
  when it was read from a file); the I/O bindings: `Created input binding for x with dimensions
  4x1x28x28` (8.x), `Input binding for x with dimensions 1x1x28x28 [and type fp32] is created.` (10.x).
Every number is kept as printed, so that the record says exactly what the tool said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PREFIX = r"^(?:\[[^\]]*\] )*"  # "[08/09/2024-23:12:04] [I] "
_AMP = re.compile(r"^&&&& (RUNNING|PASSED|FAILED) TensorRT\.trtexec(?: \[TensorRT v(\d+)\])?(?: \[b\d+\])? # (.*)$")
_VERSION = re.compile(_PREFIX + r"TensorRT version: ([\d.]+)")
_SUMMARY = re.compile(_PREFIX + r"(Latency|GPU Compute Time|H2D Latency|D2H Latency|Enqueue Time): (min = .*)$")
_STAT = re.compile(r"(min|max|mean|median|percentile\((\d+(?:\.\d+)?)%\)) = ([-+\d.eE]+) ms")
_BLOCK = re.compile(_PREFIX + r"(Host [Ll]atency|GPU Compute|Enqueue Time)\s*$")
_OLD_STAT = re.compile(_PREFIX + r"(min|max|mean|median): ([-+\d.eE]+) ms")
_OLD_PERCENTILE = re.compile(_PREFIX + r"percentile: ([-+\d.eE]+) ms at (\d+(?:\.\d+)?)%")
_THROUGHPUT = re.compile(_PREFIX + r"[Tt]hroughput: ([-+\d.eE]+) qps")
_WALLTIME = re.compile(_PREFIX + r"(?:Total Host Walltime|walltime): ([-+\d.eE]+) s")
_WARMUP_DONE = re.compile(_PREFIX + r"Warmup completed (\d+) queries over")
_TRACE = re.compile(_PREFIX + r"Timing trace has (\d+) queries over ([\d.]+) s")
_WARMUP = re.compile(_PREFIX + r"Duration: \S+ \(\+ (\d+)ms warm up\)")
_SHAPE = re.compile(_PREFIX + r"Input inference shapes? ?: ([^=\s]+)=(\d+)x")
_MODEL = re.compile(_PREFIX + r"(?:Model|Load engine): (\S+)\s*$")
_PRECISION = re.compile(_PREFIX + r"Precision: (\S+)")
_ERROR = re.compile(_PREFIX + r"\[E\] (.*)$")
_DEVICE = re.compile(_PREFIX + r"Selected Device: (.+?)\s*$")
_CAPABILITY = re.compile(_PREFIX + r"Compute Capability: (\d+\.\d+)")
_BUILT = re.compile(_PREFIX + r"Engine (built|loaded) in ([-+\d.eE]+) sec\.")
_BINDING = re.compile(
    _PREFIX + r"(?:Created (input|output) binding for (\S+) with dimensions ([\dx]*)\s*$"
    r"|(Input|Output) binding for (\S+) with dimensions ([\dx]*)(?: and type (\w+))? is created\.)"
)
SECTIONS = {"Latency": "latency", "GPU Compute Time": "gpu_compute", "H2D Latency": "h2d", "D2H Latency": "d2h",
            "Enqueue Time": "enqueue", "Host Latency": "latency", "Host latency": "latency",
            "GPU Compute": "gpu_compute"}  # fmt: skip


@dataclass
class Binding:
    name: str
    is_input: bool
    dims: list[int]
    #: 10.x logs name it (fp32, int64, ...); earlier ones do not
    dtype: str | None = None


@dataclass
class TrtexecLog:
    """What one trtexec console log says, numbers as printed."""

    version: str | None = None
    command: str | None = None
    status: str | None = None  # RUNNING (cut short), PASSED or FAILED
    errors: list[str] = field(default_factory=list)
    model: str | None = None
    precision: str | None = None
    batch: int | None = None
    warmup_ms: float | None = None
    warmup_queries: int | None = None
    queries: int | None = None
    throughput_qps: str | None = None
    walltime_s: str | None = None
    stats: dict[str, dict[str, str]] = field(default_factory=dict)
    device: str | None = None
    compute_capability: str | None = None
    #: "built" or "loaded", and the seconds trtexec printed
    engine: str | None = None
    engine_s: str | None = None
    bindings: list[Binding] = field(default_factory=list)

    @property
    def has_summary(self) -> bool:
        return "latency" in self.stats or self.throughput_qps is not None


def decode_version(number: str) -> str:
    """`8205` -> 8.2.5, `100300` -> 10.3.0 (NV_TENSORRT_VERSION of each generation)."""
    n = int(number)
    if n >= 100000:
        return f"{n // 10000}.{n // 100 % 100}.{n % 100}"
    return f"{n // 1000}.{n // 100 % 10}.{n % 100}"


def looks_like_log(text: str) -> bool:
    return "TensorRT.trtexec" in text or "=== Performance summary ===" in text or "Trace averages of" in text


def parse(text: str) -> TrtexecLog:
    log = TrtexecLog()
    block = None
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if amp := _AMP.match(line):
            log.status, log.command = amp.group(1), amp.group(3).strip()
            log.version = decode_version(amp.group(2)) if amp.group(2) else log.version
            continue
        block = _line(log, line, block)
    _from_command(log)
    return log


def _line(log: TrtexecLog, line: str, block: str | None) -> str | None:
    """Reads one line into `log`; returns the 7.x block it opens or stays in."""
    if match := _SUMMARY.match(line):
        stats = {_stat_key(m.group(1), m.group(2)): m.group(3) for m in _STAT.finditer(match.group(2))}
        log.stats[SECTIONS[match.group(1)]] = stats
        return None
    if match := _BLOCK.match(line):
        return SECTIONS[match.group(1)]
    if block and (match := _OLD_STAT.match(line)):
        log.stats.setdefault(block, {})[match.group(1)] = match.group(2)
        return block
    if block and (match := _OLD_PERCENTILE.match(line)):
        log.stats.setdefault(block, {})[_stat_key("percentile", match.group(2))] = match.group(1)
        return block
    for pattern, apply in _SIMPLE:
        if match := pattern.match(line):
            apply(log, match)
            return block
    return block


def _stat_key(name: str, percentile: str | None) -> str:
    if not name.startswith("percentile"):
        return name
    return f"p{percentile.rstrip('0').rstrip('.') if '.' in percentile else percentile}"


def _set(name: str, group: int = 1, convert=str):
    def apply(log: TrtexecLog, match: re.Match) -> None:
        setattr(log, name, convert(match.group(group)))

    return apply


def _trace(log: TrtexecLog, match: re.Match) -> None:
    log.queries = int(match.group(1))


def _engine(log: TrtexecLog, match: re.Match) -> None:
    log.engine, log.engine_s = match.group(1), match.group(2)


def _binding(log: TrtexecLog, match: re.Match) -> None:
    old = match.group(1) is not None
    kind, name, dims = match.group(1, 2, 3) if old else match.group(4, 5, 6)
    dtype = None if old else match.group(7)
    shape = [int(d) for d in dims.split("x") if d] if dims else []
    log.bindings.append(Binding(name, kind.lower() == "input", shape, dtype))


_SIMPLE = [
    (_THROUGHPUT, _set("throughput_qps")),
    (_WALLTIME, _set("walltime_s")),
    (_TRACE, _trace),
    (_WARMUP_DONE, _set("warmup_queries", convert=int)),
    (_WARMUP, _set("warmup_ms", convert=float)),
    (_SHAPE, _set("batch", 2, int)),
    (_MODEL, _set("model")),
    (_PRECISION, _set("precision")),
    (_VERSION, _set("version")),
    (_ERROR, lambda log, m: log.errors.append(m.group(1).strip())),
    (_DEVICE, _set("device")),
    (_CAPABILITY, _set("compute_capability")),
    (_BUILT, _engine),
    (_BINDING, _binding),
]


def _from_command(log: TrtexecLog) -> None:
    """What the command line says where the options block did not (logs of older versions)."""
    words = (log.command or "").split()
    options = dict(w[2:].split("=", 1) for w in words if w.startswith("--") and "=" in w)
    if log.warmup_ms is None and "warmUp" in options:
        log.warmup_ms = float(options["warmUp"])
    if log.batch is None and options.get("batch", "").isdigit():
        log.batch = int(options["batch"])
    if log.batch is None and "shapes" in options:
        first = options["shapes"].split(",")[0].rsplit(":", 1)[-1]
        log.batch = int(first.split("x")[0]) if first.split("x")[0].isdigit() else None
    if not log.model:
        log.model = options.get("onnx") or options.get("loadEngine") or options.get("deploy") or options.get("uff")


def tool_summary(log: TrtexecLog, compute: bool = False) -> dict[str, str]:
    """trtexec's own figures, verbatim: latency statistics (`mean_ms`, `p99_ms`, ...), with
    `compute` the GPU compute time's too (`gpu_compute_mean_ms`, ...), `qps`, `walltime_s`, `queries`."""
    summary = {"{}_ms".format(k): v for k, v in log.stats.get("latency", {}).items()}
    if compute:
        summary.update({"gpu_compute_{}_ms".format(k): v for k, v in log.stats.get("gpu_compute", {}).items()})
    if log.throughput_qps is not None:
        summary["qps"] = log.throughput_qps
    if log.walltime_s is not None:
        summary["walltime_s"] = log.walltime_s
    if log.queries:
        summary["queries"] = str(log.queries)
    return summary


# -- the --exportTimes trace ----------------------------------------------------------------------

#: trtexec's --warmUp default, every version
DEFAULT_WARMUP_MS = 200.0


class TraceError(ValueError):
    """The JSON is not an --exportTimes trace (the message does not name the file)."""


@dataclass
class Trace:
    """The timed queries of a trace: latencyMs (copy in, compute, copy out) of each, in ms, and
    the window from the first timed query's copy-in start to the last query's copy-out end (what
    trtexec's throughput divides by); times count from the start of inference."""

    latency_ms: list[float]
    compute_ms: list[float]
    start_ms: float
    end_ms: float
    dropped: int
    copies: bool


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def trace_keys(data) -> tuple[str, str]:
    """The keys of the first copy-in start and last copy-out end in this version's trace."""
    if not isinstance(data, list) or not data or not all(isinstance(d, dict) for d in data):
        raise TraceError("expected trtexec --exportTimes output (a JSON list, one object per query)")
    first = data[0]
    # 7.1/7.2 wrote the copy-in times under startEnqMs and the enqueue times under startInMs (a
    # swap in their source); 7.0 had no enqueue times.
    swapped = "startH2dMs" not in first and "startEnqMs" in first and "startInMs" in first
    keys = ("startH2dMs", "startInMs", "startComputeMs")
    start = "startEnqMs" if swapped else next((k for k in keys if k in first), None)
    end = next((k for k in ("endD2hMs", "endOutMs", "endComputeMs") if k in first), None)
    missing = [k for k in ("startComputeMs", "computeMs", "latencyMs") if k not in first]
    if missing or start is None or end is None:
        raise TraceError("queries lack {}; not an --exportTimes file".format(", ".join(missing) or "start/end times"))
    for i, query in enumerate(data):
        if any(_number(query.get(k)) is None for k in (start, end, "latencyMs", "startComputeMs")):
            raise TraceError("query {} has no numeric {}/{}/latencyMs".format(i, start, end))
    return start, end


def read_trace(data, warmup_ms: float | None) -> Trace:
    """The queries after the warm-up: TensorRT before 8.5 exports the warm-up queries too, and
    trtexec's own summary leaves out those whose compute starts before --warmUp ms."""
    start_key, end_key = trace_keys(data)
    warmup = DEFAULT_WARMUP_MS if warmup_ms is None else warmup_ms
    timed = [d for d in data if d["startComputeMs"] >= warmup]
    if not timed:
        raise TraceError("every query starts before the {:g} ms warm-up; give trtexec's --warmUp".format(warmup))
    return Trace(
        latency_ms=[float(d["latencyMs"]) for d in timed],
        compute_ms=[float(_number(d.get("computeMs")) or 0.0) for d in timed],
        start_ms=float(timed[0][start_key]),
        end_ms=float(timed[-1][end_key]),
        dropped=len(data) - len(timed),
        copies=any(_number(d.get("h2dMs")) or _number(d.get("d2hMs")) for d in timed),
    )
