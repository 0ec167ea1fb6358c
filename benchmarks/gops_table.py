"""Achieved GOPS of ResNet50 per backend x precision on this machine, batch 1 latency mode, next
to this CPU's peak (issue 4). Each cell is the median over --rounds runs of the vedliot-runner
command; GOPS = inferences/s x the record's ops_per_inference (7.716 GOps, counted).

Peak = cores x clock x operations per cycle per core (D3.3 §3.1.2.2 derives x86 peaks this way, 32
FP32 operations per cycle for two 256-bit FMA pipes). A VM's /proc/cpuinfo gives the nominal clock,
which cores under boost exceed, so the fp32 peak is MEASURED: a C probe (compiled here with gcc)
runs independent AVX-512 (or AVX2) FMA chains on every core with no memory traffic; its GFLOPS is
cores x real clock x 32. Other precisions scale it by their operations per cycle over fp32's for
this CPU's ISA flags, from the aggregator's table (cpu_peak.X86_OPS, the report's formula): int8 x4
with VNNI (4 multiply-adds per 32-bit lane) but x1.33 on AVX2 alone (vpmaddubsw, vpmaddwd, vpaddd
for 32 multiply-adds), bf16 x2 with AVX512_BF16, and x1 for a precision without units of its own
(fp16 on x86 without AVX512_FP16). Without gcc the nominal clock x 32 is used, and said.

Each backend runs the zoo's int8 form it takes (issue 19: ONNX Runtime the uint8-activation u8s8
file, the others the symmetric s8s8 one). The cells are alternated round by round (round 1 runs
every cell, then round 2, ...), so that drift on a shared machine hits every cell alike; the
int8/fp32 IPS ratio of each backend and model is printed after the table.

    .venv/bin/python benchmarks/gops_table.py [--zoo build/zoo] [--rounds 3] [--models resnet50,...]
        [--cells onnxruntime:fp32,onnxruntime:int8,...] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from vedliot_aggregator.cpu_peak import X86_OPS
from vedliot_runner.hostinfo import collect

CELLS = (
    ("onnxruntime", "fp32"),
    ("onnxruntime", "fp16"),
    ("onnxruntime", "int8"),
    ("openvino", "fp32"),
    ("openvino", "bf16"),
    ("openvino", "fp16"),
    ("openvino", "int8"),
    ("tvm", "fp32"),
    ("litert", "fp32"),
    ("litert", "fp16"),
    ("litert", "int8"),
)
PRECISIONS = ("fp32", "fp16", "bf16", "int8")

FMA_PROBE = r"""
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <omp.h>
#ifdef __AVX512F__
typedef __m512 vec;
#define LANES 16
#define SET(x) _mm512_set1_ps(x)
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#else
typedef __m256 vec;
#define LANES 8
#define SET(x) _mm256_set1_ps(x)
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#endif
int main(int argc, char **argv) {
    long iters = atol(argv[1]);
    int threads = 1;
    float sink = 0;
    double t0 = omp_get_wtime();
#pragma omp parallel reduction(+:sink)
    {
#pragma omp single
        threads = omp_get_num_threads();
        /* different starting values: identical chains would be merged by the compiler; twelve
           named accumulators stay in registers, enough to cover FMA latency x throughput */
        vec a0 = SET(1.0f), a1 = SET(1.1f), a2 = SET(1.2f), a3 = SET(1.3f), a4 = SET(1.4f), a5 = SET(1.5f);
        vec a6 = SET(1.6f), a7 = SET(1.7f), a8 = SET(1.8f), a9 = SET(1.9f), a10 = SET(2.0f), a11 = SET(2.1f);
        const vec m = SET(0.999999f), c = SET(1e-6f);
        for (long i = 0; i < iters; i++) {
            a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c);
            a4 = FMA(a4, m, c); a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c);
            a8 = FMA(a8, m, c); a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c);
        }
        a0 = FMA(a0, a1, FMA(a2, a3, FMA(a4, a5, FMA(a6, a7, FMA(a8, a9, FMA(a10, a11, c))))));
        float out[LANES];
        memcpy(out, &a0, sizeof(out));
        sink += out[0];
    }
    double dt = omp_get_wtime() - t0;
    printf("%.3f %d %f\n", threads * (double)iters * 12 * LANES * 2 / dt / 1e9, threads, sink);
    return 0;
}
"""


def measured_fp32_peak(cores: int):
    """(GFLOPS of the FMA probe on `cores` threads, best of 3), or None without gcc."""
    with tempfile.TemporaryDirectory() as tmp:
        source, binary = Path(tmp) / "fma.c", Path(tmp) / "fma"
        source.write_text("#include <string.h>\n" + FMA_PROBE)
        flags = ["-mavx512f"] if "avx512f" in Path("/proc/cpuinfo").read_text() else ["-mavx2", "-mfma"]
        try:
            subprocess.run(["gcc", "-O2", *flags, "-fopenmp", str(source), "-o", str(binary)], check=True,
                           capture_output=True)  # fmt: skip
        except (OSError, subprocess.CalledProcessError):
            return None
        env = {**os.environ, "OMP_NUM_THREADS": str(cores)}
        runs = [subprocess.run([str(binary), "100000000"], capture_output=True, text=True, env=env, check=True)
                for _ in range(3)]  # fmt: skip
        return max(float(r.stdout.split()[0]) for r in runs)


def peak_scale(flags: set[str]) -> dict[str, float]:
    """Each precision's operations per cycle over fp32's on a CPU with these flags."""

    def ops(precision: str) -> float | None:
        return next((n for need, n, _ in X86_OPS.get(precision, []) if set(need) <= flags), None)

    fp32 = ops("fp32") or 32
    return {precision: (ops(precision) or fp32) / fp32 for precision in PRECISIONS}


def _ran_as(row: dict) -> str:
    """The precision whose peak applies: what ran (OpenVINO runs an f16 hint as bf16 here)."""
    effective = row.get("effective") or []
    return effective[0] if len(effective) == 1 and effective[0] in PRECISIONS else row["precision"]


def clock_ghz() -> float | None:
    """The nominal clock /proc/cpuinfo gives, where it gives one (some VMs print none)."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("cpu MHz"):
            return float(line.split(":")[1]) / 1000
    return None


def run(zoo: Path, model: str, backend: str, precision: str, output: Path) -> dict:
    # Untuned TVM takes ~4 s per ResNet50 inference: a few iterations are all it gets.
    loop = ["--min-iterations", "3", "--min-seconds", "5"] if backend == "tvm" else ["--min-seconds", "10"]
    command = [sys.executable, "-m", "vedliot_runner", "run", "--model", f"zoo:{model}", "--zoo", str(zoo),
               "--backend", backend, "--precision", precision, "--output", str(output), "--json", *loop]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True)
    summary = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {"status": "failed"}
    if summary.get("status") == "ok":
        record = json.loads(Path(summary["record"]).read_text())
        summary["ops"] = record["model"]["ops_per_inference"]["value"]
        summary["int8_form"] = (record["model"].get("quantization") or {}).get("name")
    else:
        summary["error"] = summary.get("error") or proc.stderr.strip()[-300:]
    return summary


def _row(model: str, backend: str, precision: str, results: list[dict], peaks: dict[str, float]) -> dict:
    ok = [r for r in results if r.get("status") == "ok"]
    row = {"model": model, "backend": backend, "precision": precision, "runs": len(results), "ok": len(ok)}
    if not ok:
        row["error"] = results[-1].get("error") if results else "not run"
        return row
    ips = statistics.median(r["inferences_per_s"] for r in ok)
    row.update(
        effective=sorted({r["precision_effective"] for r in ok}),
        int8_form=ok[0].get("int8_form"),
        median_ms=statistics.median(r["median_ms"] for r in ok),
        ips=ips,
        ips_runs=[r["inferences_per_s"] for r in ok],
        gops=ips * ok[0]["ops"] / 1e9,
    )
    row["peak_gops"] = peaks.get(_ran_as(row), peaks["fp32"])
    row["share_of_peak_pct"] = 100 * row["gops"] / row["peak_gops"]
    return row


def measure(args: argparse.Namespace, cells: list[tuple[str, str, str]], peaks: dict[str, float]) -> list[dict]:
    """Round-robin: every cell once per round, so drift on a shared machine hits all cells alike."""
    output = Path("build") / "bench-records"
    results: dict[tuple[str, str, str], list[dict]] = {cell: [] for cell in cells}
    for round_ in range(args.rounds):
        for cell in cells:
            results[cell].append(run(args.zoo, *cell, output))
            if not args.json:
                done = results[cell][-1]
                print(f"round {round_ + 1}: {' '.join(cell)}: {done.get('inferences_per_s', done.get('error'))}",
                      file=sys.stderr)  # fmt: skip
    return [_row(*cell, results[cell], peaks) for cell in cells]


def speedups(rows: list[dict]) -> list[dict]:
    """int8 IPS over fp32 IPS per backend and model, from the same rounds."""
    ips = {(r["model"], r["backend"], r["precision"]): r.get("ips") for r in rows}
    out = []
    for model, backend, precision in ips:
        fp32 = ips.get((model, backend, "fp32"))
        if precision == "int8" and fp32 and ips[(model, backend, "int8")]:
            out.append({"model": model, "backend": backend, "int8_over_fp32": ips[(model, backend, "int8")] / fp32})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=Path("build/zoo"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", default="resnet50", help="comma-separated zoo models (default resnet50)")
    parser.add_argument("--cells", help="comma-separated BACKEND:PRECISION (default: every cell of CELLS)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    host = collect()
    cores, ghz = host.cpu_cores_physical or host.cpu_cores_logical, clock_ghz()
    probe = measured_fp32_peak(cores)
    if probe is None and ghz is None:
        raise SystemExit("gops_table: no gcc for the FMA probe and no clock in /proc/cpuinfo: no peak")
    fp32_peak = probe if probe else cores * ghz * 32
    derivation = (
        f"measured FMA probe {probe:.1f} GFLOPS on {cores} cores = {cores} x {probe / cores / 32:.2f} GHz x 32"
        if probe
        else f"nominal: {cores} cores x {ghz:.2f} GHz x 32 (no gcc for the probe)"
    )
    pairs = [tuple(c.split(":")) for c in args.cells.split(",")] if args.cells else list(CELLS)
    cells = [(model, backend, precision) for model in args.models.split(",") for backend, precision in pairs]
    peaks = {precision: fp32_peak * scale for precision, scale in peak_scale(set(host.cpu_flags)).items()}
    rows = measure(args, cells, peaks)
    nominal = f"nominal {ghz:.2f} GHz" if ghz else "no nominal clock given"
    result = {
        "machine": f"{host.cpu_model}, {cores} cores, {nominal}, flags {','.join(host.cpu_flags)}",
        "fp32_peak_gops": fp32_peak,
        "peak_derivation": derivation,
        "peak_gops": peaks,
        "rows": rows,
        "int8_speedups": speedups(rows),
    }
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        _print(result)
    return 0


def _print(result: dict) -> None:
    print(result["machine"])
    print("fp32 peak: " + result["peak_derivation"])
    print(
        "| model | backend | requested | effective | int8 form | median ms | IPS | GOPS | peak GOPS | share of peak |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in result["rows"]:
        if "gops" in r:
            cells = [r["model"], r["backend"], r["precision"], ", ".join(r["effective"]), r.get("int8_form") or "",
                     f"{r['median_ms']:.2f}", f"{r['ips']:.2f}", f"{r['gops']:.1f}", f"{r['peak_gops']:.0f}",
                     f"{r['share_of_peak_pct']:.1f}%"]  # fmt: skip
            print("| " + " | ".join(cells) + " |")
        else:
            print(
                f"| {r['model']} | {r['backend']} | {r['precision']} | - | - | - | - | - | - | {r.get('error', '')} |"
            )
    print("\n| model | backend | int8 IPS / fp32 IPS |\n|---|---|---|")
    for s in result["int8_speedups"]:
        print(f"| {s['model']} | {s['backend']} | {s['int8_over_fp32']:.2f}x |")


if __name__ == "__main__":
    sys.exit(main())
