"""The doubles of NVIDIA's Python modules against the real ones.

- tensorrt: every name the double offers in a generation exists in NVIDIA's published bindings of
  that generation (names extracted from the real wheels: tests/data/tensorrt-api/), and the names
  the backend chooses its code path by exist in the double exactly when they do in the real one.
- cuda-python: the real package is installed here (it imports without a GPU): every function and
  type of the double exists in it with the same parameters, and the real one, asked for a GPU on
  this machine, fails the way the backend turns into an `unsupported` record.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FAKES, QUICK, assert_valid_records, run_runner

API = json.loads((Path(__file__).parent / "data" / "tensorrt-api" / "api-names.json").read_text())
#: the double's version -> the wheel whose names it follows
WHEELS = {"8.4.1": "8.4.1.5", "8.6.1": "8.6.1", "10.3.0": "10.3.0", "10.13.3": "10.13.3.9", "11.4.0": "11.4.0.106"}
#: what the backend and trt_engine branch on: present in the double exactly when in the real module
BRANCHED_ON = [
    "num_io_tensors",
    "num_bindings",
    "execute_async_v2",
    "execute_async_v3",
    "set_input_shape",
    "set_binding_shape",
    "TensorIOMode",
    "EXPLICIT_BATCH",
    "FP16",
    "max_workspace_size",
    "set_memory_pool_limit",
    "create_engine_inspector",
    "build_serialized_network",
    "build_engine",
]
SURFACE = """
import json, inspect, tensorrt as trt
names = set(n for n in dir(trt) if not n.startswith('_')) | {'__version__'}
for obj in list(vars(trt).values()):
    if inspect.isclass(obj) and obj.__module__.startswith('tensorrt'):
        names |= {n for n in dir(obj) if not n.startswith('_')}
print(json.dumps(sorted(names)))
"""


def _surface(version: str) -> set[str]:
    env = {**os.environ, "VEDLIOT_FAKE_TRT_VERSION": version}
    out = subprocess.run([sys.executable, "-c", SURFACE], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("version", sorted(WHEELS))
def test_the_tensorrt_double_offers_only_what_the_real_generation_has(version):
    real = API[WHEELS[version]]["names"]
    fake = _surface(version)
    invented = sorted(n for n, present in real.items() if n in fake and not present)
    assert not invented, f"the double of {version} offers names TensorRT {WHEELS[version]} lacks: {invented}"
    for name in BRANCHED_ON:
        assert (name in fake) == real[name], f"{name}: double {name in fake}, TensorRT {WHEELS[version]} {real[name]}"


REAL_CUDA = """
import inspect, json
from cuda.bindings import runtime
out = {}
for name in %r:
    obj = getattr(runtime, name, None)
    if obj is None:
        out[name] = None
        continue
    try:
        out[name] = list(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        out[name] = []
print(json.dumps(out))
"""


def _without_fakes() -> dict[str, str]:
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p) != FAKES]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def test_the_cuda_double_matches_real_cuda_python():
    sys.path.insert(0, str(FAKES))
    import inspect

    from cuda.bindings import runtime as double

    names = [n for n, obj in vars(double).items() if n.startswith("cuda") and callable(obj)]
    out = subprocess.run(
        [sys.executable, "-c", REAL_CUDA % names], capture_output=True, text=True, env=_without_fakes(), timeout=120
    )
    assert out.returncode == 0, out.stderr
    real = json.loads(out.stdout)
    missing = sorted(n for n, params in real.items() if params is None)
    assert not missing, f"the double has functions real cuda-python lacks: {missing}"
    for name, params in real.items():
        obj = getattr(double, name)
        if params and inspect.isfunction(obj):
            assert list(inspect.signature(obj).parameters) == params, name


NO_GPU = """
import json
from vedliot_runner import cuda_rt
runtime, version = cuda_rt.import_runtime()
cuda = cuda_rt.Cuda(runtime)
try:
    cuda.device(0)
except cuda_rt.CudaError as exc:
    print(json.dumps({"code": exc.code, "message": str(exc), "driver": cuda.driver_version(), "version": version}))
"""


def test_real_cuda_python_without_a_gpu_says_so():
    out = subprocess.run(
        [sys.executable, "-c", NO_GPU], capture_output=True, text=True, env=_without_fakes(), timeout=120
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["code"] in (35, 100, -1) and seen["driver"] == 0, seen
    assert "cudaGetDeviceCount" in seen["message"]


def test_the_backend_on_real_cuda_python_without_a_gpu_writes_an_unsupported_record(tmp_path):
    """The tensorrt double with the real cuda-python: the run stops at the GPU, one line, exit 3."""
    only_trt = tmp_path / "path"
    only_trt.mkdir()
    (only_trt / "tensorrt").symlink_to(FAKES / "tensorrt")
    (only_trt / "fakegpu.py").symlink_to(FAKES / "fakegpu.py")
    import models

    model = models.tiny(tmp_path / "tiny.onnx")
    env = {**_without_fakes(), "PYTHONPATH": str(only_trt)}
    argv = ["run", "--model", str(model), "--backend", "tensorrt", "--output", str(tmp_path / "out"), "--quiet", *QUICK]
    proc = run_runner(*argv, env=env)
    assert proc.returncode == 3, proc.stderr
    assert "no usable NVIDIA GPU" in proc.stderr and "--gpus all" in proc.stderr
    (record,) = assert_valid_records(tmp_path / "out")
    assert record["status"] == "unsupported" and record["software"]["packages"]["cuda-python"]
