"""The sustained arithmetic peak of this CPU, measured: one small C kernel per precision (FMA,
VNNI dot products, bf16 and fp16 FMA), compiled here with the system's C compiler, run on every
usable core at once with no memory traffic. Its operations per second are the peak a performance
ratio can be taken against (`vedliot-runner peak`, docs/peak.md).

Each kernel keeps independent accumulator chains in registers, more than latency x issue width
of any current core, so the loop runs at the execution units' throughput: 16 where 32 vector
registers are there (AVX-512, NEON), 12 where the instructions reach only 16 (AVX2 and other VEX
encodings: 16 chains and their constants sent three chains through the stack every step, and an
AVX2 CPU measured 111 GFLOPS on 2 cores, below the 150 ONNX Runtime reached on it; 12 chains: 99
on one), 8 for AVX2's three-instruction int8 step. The instruction, its operations per
instruction and the chains are listed in KERNELS. Without a compiler (or a kernel for a
precision) fp32 falls back to numpy's matrix product: a lower bound, recorded as such.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

_SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#else
#include <arm_neon.h>
#endif
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0, t0 = now(), t;
    long steps = 0;
    ACC a0 = INIT(1), a1 = INIT(2), a2 = INIT(3), a3 = INIT(4), a4 = INIT(5), a5 = INIT(6), a6 = INIT(7);
    ACC a7 = INIT(8), a8 = INIT(9), a9 = INIT(10), a10 = INIT(11), a11 = INIT(12), a12 = INIT(13);
    ACC a13 = INIT(14), a14 = INIT(15), a15 = INIT(16);
    SETUP;
    do {
        for (int i = 0; i < 4096; i++) {
            STEP(a0); STEP(a1); STEP(a2); STEP(a3); STEP(a4); STEP(a5); STEP(a6); STEP(a7);
#if CHAINS > 8
            STEP(a8); STEP(a9);
#endif
#if CHAINS > 10
            STEP(a10); STEP(a11);
#endif
#if CHAINS > 12
            STEP(a12); STEP(a13); STEP(a14); STEP(a15);
#endif
        }
        steps += 4096;
    } while ((t = now()) - t0 < seconds);
    /* every chain reaches the output: none of them is dead code */
    ACC all[16] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15};
    unsigned char bytes[sizeof(all)];
    memcpy(bytes, all, sizeof(all));
    unsigned sink = 0;
    for (size_t i = 0; i < sizeof(bytes); i++) sink += bytes[i];
    printf("%.17g %.9f %u\n", (double)steps * CHAINS * OPS, t - t0, sink);
    return 0;
}
"""


@dataclass(frozen=True)
class Kernel:
    precision: str
    instruction: str
    flags: Tuple[str, ...]  # all of these in the host's cpu_flags
    cflags: Tuple[str, ...]
    defines: str
    ops: int  # operations (a multiply-add is 2) per instruction
    chains: int  # independent accumulators, all in registers


def _kernel(precision, instruction, flags, cflags, acc, init, setup, step, ops, chains=None) -> Kernel:
    if chains is None:  # VEX: 16 ymm registers (see the module's docstring)
        chains = 12 if acc.startswith("__m256") else 16
    if chains not in (8, 10, 12, 16):  # the counts _SOURCE's #if blocks run; another would be miscounted
        raise ValueError("chains must be 8, 10, 12 or 16, not {}".format(chains))
    defines = "#define ACC {}\n#define INIT(k) {}\n#define SETUP {}\n#define STEP(a) {}\n#define OPS {}\n".format(
        acc, init, setup, step, ops
    ) + "#define CHAINS {}\n".format(chains)
    return Kernel(precision, instruction, tuple(flags), tuple(cflags), defines, ops, chains)


#: per precision, the widest kernel first; chosen by the host's flags (hostinfo.cpu_flags)
KERNELS: Dict[str, List[Kernel]] = {
    "fp32": [
        _kernel("fp32", "AVX-512 vfmadd231ps zmm", ["avx512f"], ["-mavx512f"], "__m512",
                "_mm512_set1_ps(1.0f + (k) * 1e-3f)",
                "const __m512 m = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-4f)",
                "a = _mm512_fmadd_ps(a, m, c)", 32),
        _kernel("fp32", "AVX2 vfmadd231ps ymm", ["avx2", "fma"], ["-mavx2", "-mfma"], "__m256",
                "_mm256_set1_ps(1.0f + (k) * 1e-3f)",
                "const __m256 m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f)",
                "a = _mm256_fmadd_ps(a, m, c)", 16),
        _kernel("fp32", "NEON fmla v.4s", ["asimd"], [], "float32x4_t", "vdupq_n_f32(1.0f + (k) * 1e-3f)",
                "const float32x4_t m = vdupq_n_f32(0.9999f), c = vdupq_n_f32(1e-4f)", "a = vfmaq_f32(c, a, m)", 8),
    ],
    "int8": [
        _kernel("int8", "AVX-512 VNNI vpdpbusd zmm", ["avx512_vnni"], ["-mavx512f", "-mavx512vnni"], "__m512i",
                "_mm512_set1_epi32(k)", "const __m512i u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(-2)",
                "a = _mm512_dpbusd_epi32(a, u, s)", 128),
        _kernel("int8", "AVX-VNNI vpdpbusd ymm", ["avx_vnni"], ["-mavx2", "-mavxvnni"], "__m256i",
                "_mm256_set1_epi32(k)", "const __m256i u = _mm256_set1_epi8(3), s = _mm256_set1_epi8(-2)",
                "a = _mm256_dpbusd_avx_epi32(a, u, s)", 64),
        # no dot-product instruction: u8 x s8 pairs to s16 (vpmaddubsw), pairs to s32 (vpmaddwd), then
        # added; the sequence is counted as one step of 32 multiply-adds (D3.3's "per 3 instructions").
        # The accumulator is also the u8 operand, so no part of the step can leave the loop
        _kernel("int8", "AVX2 vpmaddubsw+vpmaddwd+vpaddd ymm (ops per 3-instruction step)", ["avx2"], ["-mavx2"],
                "__m256i", "_mm256_set1_epi32(k)",
                "const __m256i s = _mm256_set1_epi8(-2), one = _mm256_set1_epi16(1)",
                "a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(a, s), one))", 64,
                chains=8),  # its temporaries spilled 12 chains too: 130 GOPS a core, 8 chains 150-163
        _kernel("int8", "NEON sdot v.4s", ["asimddp"], ["-march=armv8.2-a+dotprod"], "int32x4_t", "vdupq_n_s32(k)",
                "const int8x16_t u = vdupq_n_s8(3), s = vdupq_n_s8(-2)", "a = vdotq_s32(a, u, s)", 32),
    ],
    "bf16": [
        _kernel("bf16", "AVX-512 BF16 vdpbf16ps zmm", ["avx512_bf16"], ["-mavx512f", "-mavx512bf16"], "__m512",
                "_mm512_set1_ps((k) * 1e-3f)",
                "const __m512bh u = (__m512bh)_mm512_set1_epi16(0x3f80), s = (__m512bh)_mm512_set1_epi16(0x3c00)",
                "a = _mm512_dpbf16_ps(a, u, s)", 64),
    ],
    "fp16": [
        _kernel("fp16", "AVX-512 FP16 vfmadd231ph zmm", ["avx512_fp16"], ["-mavx512f", "-mavx512fp16"], "__m512h",
                "_mm512_set1_ph((_Float16)(1.0f + (k) * 1e-2f))",
                "const __m512h m = _mm512_set1_ph((_Float16)0.999f), c = _mm512_set1_ph((_Float16)1e-3f)",
                "a = _mm512_fmadd_ph(a, m, c)", 64),
        _kernel("fp16", "NEON fmla v.8h", ["asimdhp"], ["-march=armv8.2-a+fp16"], "float16x8_t",
                "vdupq_n_f16(1.0f + (k) * 1e-2f)", "const float16x8_t m = vdupq_n_f16(0.999f), c = vdupq_n_f16(1e-3f)",
                "a = vfmaq_f16(c, a, m)", 16),
    ],
}  # fmt: skip


@dataclass
class Measured:
    precision: str
    gops: float
    method: str  # "c-kernel" or "numpy-matmul"
    instruction: str
    runs_gops: List[float]
    threads: int
    seconds: float


def compiler() -> Optional[str]:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def compiler_version(path: str) -> Optional[str]:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0].strip() if out else None


def choose(precision: str, flags: List[str]) -> Optional[Kernel]:
    for kernel in KERNELS.get(precision, []):
        if all(flag in flags for flag in kernel.flags):
            return kernel
    return None


def build(kernel: Kernel, cc: str, directory: str) -> Tuple[Optional[str], str]:
    """(the compiled probe, "") or (None, the compiler's last line)."""
    source = os.path.join(directory, kernel.precision + ".c")
    binary = os.path.join(directory, kernel.precision)
    with open(source, "w") as handle:
        handle.write(kernel.defines + _SOURCE)
    result = subprocess.run([cc, "-O2", *kernel.cflags, source, "-o", binary], capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if "error" in line] or result.stderr.splitlines()
        return None, lines[0].strip() if lines else "exit code {}".format(result.returncode)
    return binary, ""


def _cpus(threads: int) -> List[int]:
    try:
        return sorted(os.sched_getaffinity(0))[:threads]
    except AttributeError:
        return list(range(threads))


def run_kernel(binary: str, threads: int, seconds: float) -> float:
    """GOPS of `threads` copies of the probe running at once, each on a core of its own."""
    children = []
    for cpu in _cpus(threads):
        # pinned: two copies on one core would each run at half speed and sum to the same
        preexec = (lambda c=cpu: os.sched_setaffinity(0, {c})) if hasattr(os, "sched_setaffinity") else None
        children.append(subprocess.Popen([binary, str(seconds)], stdout=subprocess.PIPE, text=True,
                                         preexec_fn=preexec))  # fmt: skip
    total = 0.0
    for child in children:
        out, _ = child.communicate()
        if child.returncode != 0:
            raise RuntimeError("the probe ended with exit code {}".format(child.returncode))
        ops, elapsed = (float(x) for x in out.split()[:2])
        total += ops / elapsed
    return total / 1e9


def numpy_matmul(seconds: float) -> float:
    """GFLOPS of numpy's float32 matrix product (BLAS, its own threads): what software reaches,
    below the peak."""
    import numpy

    n = 1024
    a = numpy.random.default_rng(0).random((n, n), dtype=numpy.float32)
    b = a.T.copy()
    a @ b  # the first call sets BLAS's threads up
    count, start = 0, time.perf_counter()
    while True:
        a @ b
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count * 2.0 * n**3 / elapsed / 1e9
