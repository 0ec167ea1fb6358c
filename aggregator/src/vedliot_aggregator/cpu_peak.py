"""A peak for runs on a CPU that the platform catalog does not list (D3.3 §3.1.2.2: "x86
processors where the AVX2 unit process 32 FP32 operations [per cycle]. Multiplying this with the
number of cores and the frequency, the theoretical maximum could be determined"; Table 2).

- `measured`: a peak record (`vedliot-runner peak`) of the same CPU, preferred when present;
- `estimated`: cores x clock x operations per cycle per core, from the record's own host facts
  (ISA flags, cores, clock; Arm core parts), with the derivation written out.

The catalog's peak, where the target is listed, comes first (metrics.py); published rows keep it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the precisions a CPU peak is given for
PRECISIONS = ("fp32", "fp16", "bf16", "int8")
#: operations (a multiply-add is 2) per cycle per core, widest unit first: (flags needed, ops, unit)
X86_OPS: dict[str, list[tuple[tuple[str, ...], float, str]]] = {
    "fp32": [
        (("avx512f",), 64, "AVX-512: 2 FMA units x 16 lanes x 2"),
        (("avx2", "fma"), 32, "AVX2: 2 FMA units x 8 lanes x 2 (D3.3 3.1.2.2)"),
        (("avx",), 16, "AVX: 1 add + 1 multiply unit x 8 lanes"),
    ],
    "int8": [
        (("amx_int8",), 2048, "AMX-INT8 tile unit (Intel: 2048 int8 ops per cycle per core)"),
        (("avx512_vnni",), 256, "AVX-512 VNNI: 2 units x 64 multiply-adds x 2"),
        (("avx_vnni",), 128, "AVX-VNNI: 2 units x 32 multiply-adds x 2"),
        (("avx512bw",), 256 / 3, "AVX-512BW: 2 units x 64 multiply-adds per 3 instructions x 2"),
        (("avx2",), 128 / 3, "AVX2: 2 units x 32 multiply-adds per 3 instructions x 2"),
    ],
    "bf16": [
        (("amx_bf16",), 1024, "AMX-BF16 tile unit (Intel: 1024 bf16 ops per cycle per core)"),
        (("avx512_bf16",), 128, "AVX-512 BF16: 2 units x 32 multiply-adds x 2"),
    ],
}
#: Arm: 128-bit NEON operations per pipe and cycle; the pipes per core are ARM_PIPES
ARM_OPS: dict[str, list[tuple[tuple[str, ...], float, str]]] = {
    "fp32": [(("asimd",), 8, "NEON fmla: 4 lanes x 2")],
    "fp16": [(("asimdhp",), 16, "NEON fp16 fmla: 8 lanes x 2")],
    "int8": [(("i8mm",), 64, "NEON smmla: 32 multiply-adds x 2"), (("asimddp",), 32, "NEON sdot: 16 x 2")],
    "bf16": [(("bf16",), 16, "NEON bfdot: 8 multiply-adds x 2")],
}
#: 128-bit FP/NEON pipes per core by 'implementer:part' (Arm's optimization guides; 64-bit-wide
#: pipes count as half). Unknown cores count 1.
ARM_PIPES = {
    "0x41:0xd03": 0.5,  # Cortex-A53
    "0x41:0xd04": 0.5,  # Cortex-A35
    "0x41:0xd05": 1,  # Cortex-A55
    "0x41:0xd07": 1,  # Cortex-A57
    "0x41:0xd08": 2,  # Cortex-A72
    "0x41:0xd09": 2,  # Cortex-A73
    "0x41:0xd0a": 2,  # Cortex-A75
    "0x41:0xd0b": 2,  # Cortex-A76
    "0x41:0xd0c": 2,  # Neoverse N1
    "0x41:0xd0d": 2,  # Cortex-A77
    "0x41:0xd41": 2,  # Cortex-A78
    "0x41:0xd42": 2,  # Cortex-A78AE (Jetson Orin)
    "0x41:0xd40": 4,  # Neoverse V1
    "0x41:0xd44": 4,  # Cortex-X1
    "0x4e:0x004": 2,  # NVIDIA Carmel (Jetson Xavier)
}


@dataclass(frozen=True)
class PeakRecord:
    """A valid peak record (schema $defs/peak_record)."""

    path: Path
    run_id: str
    status: str
    started_at: str
    host: dict[str, Any]
    peaks: tuple[dict[str, Any], ...]

    @classmethod
    def load(cls, path: Path, data: dict[str, Any]) -> PeakRecord:
        return cls(path, data["run_id"], data["status"], data["started_at"], data["host"], tuple(data["peaks"]))

    def entry(self, precision: str) -> dict[str, Any] | None:
        return next((p for p in self.peaks if p["precision"] == precision), None)


@dataclass(frozen=True)
class HostPeak:
    gops: float
    source: str  # "measured" or "estimated"
    derivation: str


def on_cpu(backend: str, options: dict[str, Any]) -> bool:
    """Whether the timed work ran on the host CPU (the backends that can run there, set so)."""
    if backend == "onnxruntime":
        providers = str(options.get("providers") or "CPUExecutionProvider")
        return providers.split(",")[0].strip() == "CPUExecutionProvider"
    if backend == "openvino":
        return str(options.get("device") or "CPU").upper() == "CPU"
    if backend == "tvm":
        return str(options.get("target") or "llvm").startswith("llvm")
    if backend == "litert":
        return not options.get("delegate")
    return False


def _clock(host: dict[str, Any]) -> tuple[float, str] | None:
    for key, label in (("cpu_clock_base_mhz", "base"), ("cpu_clock_max_mhz", "maximum"),
                       ("cpu_clock_reported_mhz", "cpuinfo 'cpu MHz'")):  # fmt: skip
        if host.get(key):
            return float(host[key]) / 1000, label
    return None


def _per_core(host: dict[str, Any], precision: str) -> tuple[float, str] | None:
    flags = set(host.get("cpu_flags") or [])
    arm = str(host.get("arch", "")).startswith(("aarch64", "arm"))
    table = ARM_OPS if arm else X86_OPS
    for wanted in (precision, "fp32"):
        for needed, ops, unit in table.get(wanted, []):
            if flags.issuperset(needed):
                if precision == "fp16" and wanted == "fp32" and not arm:
                    return ops * 2, unit + "; fp16 counted as 2x fp32 (D3.3 Table 2)"
                if wanted != precision:
                    unit += f"; {precision} counted at the fp32 rate"
                if arm:
                    parts = host.get("cpu_parts") or []
                    pipes = max((ARM_PIPES.get(p, 1) for p in parts), default=1)
                    return ops * pipes, f"{unit} x {pipes:g} pipes"
                return ops, unit
    return None


def estimate(host: dict[str, Any], precision: str) -> HostPeak | None:
    """cores x clock x operations per cycle, or None when the record lacks a fact it needs."""
    per_core, clock = _per_core(host, precision), _clock(host)
    cores = [c for c in (host.get("cpu_cores_physical"), host.get("cpu_cores_usable"), host.get("cpu_cores_logical"))
             if c]  # fmt: skip
    if per_core is None or clock is None or not cores:
        return None
    n = min(cores[:2]) if len(cores) > 1 else cores[0]
    gops = n * clock[0] * per_core[0]
    return HostPeak(gops, "estimated", f"{n} cores x {clock[0]:g} GHz ({clock[1]}) x {per_core[0]:g} ops/cycle "
                                       f"({per_core[1]})")  # fmt: skip


def _same_cpu(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same CPU model and as many cores to use (a container's hostname is its id: not compared)."""

    def key(host: dict[str, Any]) -> tuple:
        return host.get("arch"), host.get("cpu_model"), host.get("cpu_cores_usable") or host.get("cpu_cores_logical")

    return key(a) == key(b)


def host_key(host: dict[str, Any]) -> tuple:
    """What estimate() and measured() read of a host, hashable: hosts with equal keys get the same peak."""
    return tuple(tuple(v) if isinstance(v := host.get(k), list) else v for k in _HOST_FACTS)


_HOST_FACTS = ("arch", "cpu_model", "hostname", "cpu_flags", "cpu_parts", "cpu_cores_physical", "cpu_cores_usable",
               "cpu_cores_logical", "cpu_clock_base_mhz", "cpu_clock_max_mhz", "cpu_clock_reported_mhz")  # fmt: skip


def measured(host: dict[str, Any], precision: str, peaks: list[Any]) -> HostPeak | None:
    """The newest measured peak of this precision on the same CPU, one from the same hostname
    first; None when none measured this precision in full."""
    matching = [p for p in peaks if _same_cpu(p.host, host)]
    matching.sort(key=lambda p: (p.host.get("hostname") == host.get("hostname"), p.started_at), reverse=True)
    for peak in matching:
        entry = peak.entry(precision)
        if entry is not None and not entry.get("partial"):
            how = entry.get("instruction") or entry.get("method")
            return HostPeak(float(entry["gops"]), "measured", f"vedliot-runner peak {peak.run_id[:8]}: {how}")
    return None


def host_peak(host: dict[str, Any], precision: str, peaks: list[Any]) -> HostPeak | None:
    return measured(host, precision, peaks) or estimate(host, precision)
