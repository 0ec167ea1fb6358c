"""trtexec's console log, as TensorRT 7.x to 10.x print it (with `--verbose` or not).

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
_TRACE = re.compile(_PREFIX + r"Timing trace has (\d+) queries over ([\d.]+) s")
_WARMUP = re.compile(_PREFIX + r"Duration: \S+ \(\+ (\d+)ms warm up\)")
_SHAPE = re.compile(_PREFIX + r"Input inference shapes? ?: ([^=\s]+)=(\d+)x")
_MODEL = re.compile(_PREFIX + r"(?:Model|Load engine): (\S+)\s*$")
_PRECISION = re.compile(_PREFIX + r"Precision: (\S+)")
_ERROR = re.compile(_PREFIX + r"\[E\] (.*)$")
SECTIONS = {"Latency": "latency", "GPU Compute Time": "gpu_compute", "H2D Latency": "h2d", "D2H Latency": "d2h",
            "Enqueue Time": "enqueue", "Host Latency": "latency", "Host latency": "latency",
            "GPU Compute": "gpu_compute"}  # fmt: skip


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
    queries: int | None = None
    throughput_qps: str | None = None
    walltime_s: str | None = None
    stats: dict[str, dict[str, str]] = field(default_factory=dict)

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


_SIMPLE = [
    (_THROUGHPUT, _set("throughput_qps")),
    (_WALLTIME, _set("walltime_s")),
    (_TRACE, _trace),
    (_WARMUP, _set("warmup_ms", convert=float)),
    (_SHAPE, _set("batch", 2, int)),
    (_MODEL, _set("model")),
    (_PRECISION, _set("precision")),
    (_VERSION, _set("version")),
    (_ERROR, lambda log, m: log.errors.append(m.group(1).strip())),
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
