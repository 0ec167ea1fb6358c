from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import contract
import prepare
from vedliot_aggregator.schema import is_sidecar, problems
from vedliot_runner.cli import main as runner_main

import models

REPO = Path(__file__).resolve().parents[1]
#: Doubles of vendor Python modules this machine cannot have (tensorrt, and cuda-python's runtime
#: module, which needs a GPU to do anything): on the path of the tests and of every process they
#: start, so that the backend contract battery runs the tensorrt backend like any other.
FAKES = REPO / "tests" / "fakes"
sys.path.insert(0, str(FAKES))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FAKES), os.environ.get("PYTHONPATH")]))
# ... and NVIDIA's trtexec, whose double runs on this interpreter (it needs onnx and onnxruntime).
os.environ["PATH"] = os.pathsep.join([str(FAKES / "bin"), os.environ.get("PATH", "")])
os.environ["VEDLIOT_FAKE_PYTHON"] = sys.executable
# Engines the NVIDIA doubles build go to a directory of this session, not the user's ~/.cache.
os.environ.setdefault("VEDLIOT_ENGINE_CACHE", tempfile.mkdtemp(prefix="vedliot-engines-"))


def _build_libedgetpu_double() -> Path:
    """libedgetpu's C API double (tests/fakes/libedgetpu), compiled for this session with the
    system C compiler: a USB Edge TPU is "attached" unless a test says otherwise."""
    out = Path(tempfile.mkdtemp(prefix="vedliot-libedgetpu-")) / "libedgetpu.so.1"
    source = FAKES / "libedgetpu" / "libedgetpu_fake.c"
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(out), str(source)], check=True)
    return out


LIBEDGETPU_DOUBLE = _build_libedgetpu_double()
os.environ["VEDLIOT_FAKE_EDGETPU"] = "usb:/sys/bus/usb/devices/2-1"
contract.OPTIONS["edgetpu"] = {"library": str(LIBEDGETPU_DOUBLE)}
# A Hailo-8 on the PCIe bus for the hailo_platform double
os.environ["VEDLIOT_FAKE_HAILO"] = "0000:01:00.0"
# A Zynq UltraScale+ DPU for the xir/vart and xdputil doubles (a real KV260 B4096 fingerprint)
os.environ["VEDLIOT_FAKE_DPU"] = "DPUCZDX8G_ISA1_B4096,0x101000016010407,300,1,1"
# The i.MX 8M Plus NPU double: present, a short "graph compilation", its cache in this session.
os.environ["VEDLIOT_FAKE_VX_NPU"] = "1"
os.environ["VEDLIOT_FAKE_VX_COMPILE_S"] = "0.1"
os.environ.setdefault("VEDLIOT_VX_CACHE", tempfile.mkdtemp(prefix="vedliot-vx-"))


def _int8_exact() -> bool:
    from vedliot_runner import hostinfo

    if platform.machine() not in ("x86_64", "AMD64"):
        return True
    return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & set(hostinfo.cpu_flags(hostinfo._read("/proc/cpuinfo"))))


#: x86 CPUs without VNNI multiply int8 through vpmaddubsw, whose 16-bit sums saturate: ONNX
#: Runtime's and OpenVINO's int8 kernels then lose much of the accuracy of the zoo's symmetric-int8
#: depthwise models (MobileNets) that they keep on VNNI CPUs (ONNX Runtime documents the
#: saturation; issue 19 gives each backend the int8 form it runs best). The int8 agreement checks
#: of those two runtimes are expected to fail on such CPUs, and are marked so (xfail) there.
INT8_EXACT = _int8_exact()
INT8_SATURATION = (
    "this x86 CPU has no VNNI: ONNX Runtime's and OpenVINO's int8 kernels saturate 16-bit sums "
    "(vpmaddubsw) on the zoo's symmetric int8 MobileNets"
)
# Fast loop settings: the tests check behaviour, not speed.
QUICK = ["--warmup-iterations", "2", "--warmup-seconds", "0", "--min-iterations", "5", "--min-seconds", "0"]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    tiny = models.tiny(root / "tiny.onnx")
    models.static_batch(root / "static1.onnx")
    models.fp16(root / "fp16.onnx")
    models.qdq_int8(tiny, root / "tiny_int8.onnx")
    models.fails_at_run(root / "fails.onnx")
    models.two_symbolic(root / "seq.onnx")
    (root / "not_onnx.onnx").write_text("this is a text file, not a protobuf\n")
    data = tiny.read_bytes()
    (root / "truncated.onnx").write_bytes(data[: len(data) // 2])
    return root


_preparing: subprocess.Popen | None = None


def pytest_collection_modifyitems(session, config, items):
    """A fresh clone's zoo and Python 3.8 venvs take minutes to make, and the suite leaves about a
    core idle: what the collected tests' fixtures need is made by a background process from here on
    (tests/prepare.py), and the test modules that use them run last, kept whole and in order."""
    global _preparing
    wanted = [name for name in prepare.STEPS if any(name in item.fixturenames for item in items)]
    if not wanted or os.environ.get("VEDLIOT_TEST_PREPARE") == "0":
        return
    late = {item.module for item in items if set(wanted) & set(item.fixturenames)}
    items[:] = [i for i in items if i.module not in late] + [i for i in items if i.module in late]
    prepare.CACHE.mkdir(parents=True, exist_ok=True)
    with open(prepare.CACHE / "prepare.log", "w") as log:
        _preparing = subprocess.Popen([sys.executable, prepare.__file__, *wanted], stdout=log, stderr=subprocess.STDOUT)


def pytest_sessionfinish(session, exitstatus):
    if _preparing is not None and _preparing.poll() is None:  # the session stopped early (-x, ^C)
        _preparing.terminate()  # zoo files and venvs are marked done only once whole
        _preparing.wait()


def prepared(step) -> Path:
    """`step`'s result once the background preparation has ended (found in the cache then, or
    made here, failing with the step's own error); skips where it needs a Python 3.8 there is not."""
    if _preparing is not None:
        _preparing.wait()
    result = step()
    if result is None:
        pytest.skip("no Python 3.8 interpreter here (set VEDLIOT_PYTHON38)")
    return result


@pytest.fixture(scope="session")
def zoo_dir() -> Path:
    """The full zoo, built once into .cache/zoo (zoo build's own cache makes later runs free)."""
    return prepared(prepare.zoo_full)


@pytest.fixture(scope="session")
def digits_zoo() -> Path:
    """The trained digits model and its held-out set, built into .cache/zoo (cached after once)."""
    return prepared(prepare.zoo_digits)


def assert_valid_records(directory: Path) -> list[dict]:
    """Every record in `directory` must satisfy the contract; returns them."""
    records = []
    for path in sorted(p for p in directory.glob("*.json") if not is_sidecar(p)):
        record = json.loads(path.read_text())
        found = problems(record)
        assert not found, f"{path} breaks the schema: {found}"
        assert path.stem == record["run_id"]
        records.append(record)
    leftovers = [p.name for p in directory.iterdir() if p.name.startswith(".")]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    return records


@dataclass
class CliResult:
    code: int
    out: str
    err: str
    records: list[dict]


@pytest.fixture
def run_inproc(tmp_path, capsys):
    """Run `vedliot-runner ARGS` in this process; records land in tmp_path/out and are schema-checked."""
    out_dir = tmp_path / "out"

    def call(*args: str, output: Path | None = None) -> CliResult:
        target = output or out_dir
        code = runner_main([*args, "--output", str(target)] if args and args[0] == "run" else list(args))
        captured = capsys.readouterr()
        records = assert_valid_records(target) if target.is_dir() else []
        return CliResult(code, captured.out, captured.err, records)

    return call


def run_runner(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m vedliot_runner ARGS` in a child process, `env` on top of this process's."""
    return subprocess.run([sys.executable, "-m", "vedliot_runner", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})  # fmt: skip


@pytest.fixture
def run_subprocess(tmp_path):
    """Run the real console script in a child process (exit codes, stderr, signals)."""
    out_dir = tmp_path / "out"

    def call(*args: str, output: Path | None = None, timeout: float = 120) -> CliResult:
        target = output or out_dir
        argv = [*args, "--output", str(target)] if args and args[0] == "run" else list(args)
        proc = subprocess.run(
            [sys.executable, "-m", "vedliot_runner", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        records = assert_valid_records(target) if target.is_dir() else []
        return CliResult(proc.returncode, proc.stdout, proc.stderr, records)

    return call


@pytest.fixture(scope="session")
def measured(model_dir, tmp_path_factory):
    """Three real ONNX Runtime runs (batch 1 and 4, one sampled through a powercap tree at 30 W)."""
    from powercap import FakePowercap

    out = tmp_path_factory.mktemp("measured")
    root = tmp_path_factory.mktemp("pc") / "powercap"
    base = ["run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", "--target", "demo-host",
            *QUICK, "--threads", "1", "--output", str(out), "--quiet"]  # fmt: skip
    with FakePowercap(root, package_w=27.0, dram_w=3.0):
        assert runner_main([*base, "--power", f"rapl:root={root},interval_ms=20", "--idle-seconds", "0.2",
                            "--min-power-seconds", "1.0"]) == 0  # fmt: skip
    assert runner_main([*base, "--batch-size", "4"]) == 0
    assert runner_main([*base, "--precision", "int8", "--model", str(model_dir / "tiny_int8.onnx")]) == 0
    return out
