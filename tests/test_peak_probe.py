"""`vedliot-runner peak`: the C kernels compiled and run here (x86 natively, Arm through Debian's
cross compiler and qemu-user), the numpy fallback without a compiler, and the record's contract."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from vedliot_aggregator.schema import peak_problems
from vedliot_runner import hostinfo, peak_probe

from conftest import run_runner

X86 = [k for kernels in peak_probe.KERNELS.values() for k in kernels if not k.instruction.startswith("NEON")]
ARM = [k for kernels in peak_probe.KERNELS.values() for k in kernels if k.instruction.startswith("NEON")]


def test_the_widest_kernel_the_flags_allow_is_chosen():
    def chosen(precision, flags):
        kernel = peak_probe.choose(precision, flags)
        return kernel.instruction if kernel else None

    assert chosen("fp32", ["avx", "avx2", "fma", "avx512f"]) == "AVX-512 vfmadd231ps zmm"
    assert chosen("fp32", ["avx", "avx2", "fma"]) == "AVX2 vfmadd231ps ymm"
    assert chosen("int8", ["avx2", "fma", "avx_vnni"]) == "AVX-VNNI vpdpbusd ymm"
    assert chosen("int8", ["avx2", "fma"]) == "AVX2 vpmaddubsw+vpmaddwd+vpaddd ymm (ops per 3-instruction step)"
    assert chosen("int8", ["avx", "sse4_2"]) is None
    assert chosen("fp16", ["asimd", "asimdhp", "asimddp"]) == "NEON fmla v.8h"
    assert chosen("int8", ["asimd", "asimddp"]) == "NEON sdot v.4s"
    assert chosen("bf16", ["asimd"]) is None


@pytest.mark.parametrize("kernel", X86, ids=lambda k: k.instruction)
def test_every_x86_kernel_compiles_and_those_this_cpu_has_run(kernel, tmp_path):
    cc = peak_probe.compiler()
    assert cc, "a C compiler is part of the test environment (Debian's gcc)"
    binary, error = peak_probe.build(kernel, cc, str(tmp_path))
    assert binary and not error, error
    if set(kernel.flags) <= set(hostinfo.collect().cpu_flags):
        out = subprocess.run([binary, "0.05"], capture_output=True, text=True, check=True).stdout.split()
        ops, seconds = float(out[0]), float(out[1])
        # whole rounds of 4096 steps x the chains x the instruction's operations, over at least 0.05 s
        assert ops % (4096 * kernel.chains * kernel.ops) == 0 and seconds >= 0.05
    # VEX instructions reach 16 ymm registers: 16 chains and their constants went through the stack
    assert kernel.chains <= (12 if "__m256" in kernel.defines else 16)


@pytest.mark.skipif(not (shutil.which("aarch64-linux-gnu-gcc") and shutil.which("qemu-aarch64")),
                    reason="no aarch64 cross compiler or qemu-user (make installs them as root)")  # fmt: skip
@pytest.mark.parametrize("kernel", ARM, ids=lambda k: k.instruction)
def test_every_arm_kernel_builds_and_runs_under_qemu(kernel, tmp_path):
    binary, error = peak_probe.build(kernel, "aarch64-linux-gnu-gcc", str(tmp_path))
    assert binary and not error, error
    out = subprocess.run(["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", binary, "0.05"], capture_output=True,
                         text=True, check=True, timeout=60).stdout.split()  # fmt: skip
    assert float(out[0]) % (4096 * kernel.chains * kernel.ops) == 0 and float(out[1]) >= 0.05


def test_peak_writes_a_valid_record(tmp_path):
    proc = run_runner("peak", "--precision", "fp32,bf16", "--seconds", "0.1", "--repeats", "2", "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    (path,) = tmp_path.glob("*.json")
    record = json.loads(path.read_text())
    assert peak_problems(record) == [] and record["status"] == "ok"
    assert f"peak record: {path}" in proc.stdout
    fp32 = record["peaks"][0]
    assert fp32["method"] == "c-kernel" and len(fp32["runs_gops"]) == 2 and fp32["gops"] > 0
    assert fp32["gops"] == max(fp32["runs_gops"])  # a peak is the best run: other load only lowers it
    assert fp32["threads"] == hostinfo.usable_cores()
    flags = hostinfo.collect().cpu_flags
    if "avx512_bf16" in flags:
        assert record["peaks"][1]["precision"] == "bf16"
    else:
        assert record["skipped"] == [{"precision": "bf16", "reason": "no bf16 instructions on this CPU"}]
    broken = {**record, "peaks": [{**fp32, "method": "guess"}]}
    assert peak_problems(broken)[0].startswith("at peaks/0/method:")


def test_without_a_compiler_fp32_falls_back_to_numpy_and_says_so(tmp_path):
    bare = tmp_path / "bin"
    bare.mkdir()
    env = {"PATH": str(bare), "CC": ""}
    proc = run_runner("peak", "--seconds", "0.1", "--repeats", "1", "-o", str(tmp_path / "out"), "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert peak_problems(record) == []
    assert [p["method"] for p in record["peaks"]] == ["numpy-matmul"] and record["software"]["compiler"] is None
    assert {s["reason"] for s in record["skipped"]} <= {
        "no C compiler (cc, gcc or clang; or CC=...)",
        *(f"no {p} instructions on this CPU" for p in ("fp16", "bf16", "int8")),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--precision", "fp64"], "--precision fp64: choose from fp32, fp16, bf16, int8"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--seconds", "0"], "--seconds takes 0.05 to 60 and --repeats at least 1"),
    ],
)
def test_bad_options_get_one_line(args, message, tmp_path):
    proc = run_runner("peak", *args, "-o", str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.strip() == f"vedliot-runner: error: {message}"
    assert not list(tmp_path.glob("*.json"))


def test_python_path_of_the_probe_needs_no_aggregator():
    # The runner stays dependency-light: the probe module imports only the standard library.
    heavy = "('pandas', 'vedliot_aggregator', 'onnxruntime')"
    code = f"import sys, vedliot_runner.peak; print(sorted(m for m in sys.modules if m.startswith({heavy})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=True)
    assert out.stdout.strip() == "[]"
