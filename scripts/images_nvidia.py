"""Checks of `make images-test` on the NVIDIA images, on a machine without a GPU or TensorRT.

vedliot/bench-cuda is built without its TensorRT wheels (2 GB; images.TEST_ARGS) and
vedliot/bench-jetson:jp6 on the Debian stand-in for NVIDIA's L4T base: their own layers (runner,
cuda-python, NVML, the zoo, the entrypoint) are checked by running them. Each must start, find no
GPU, and write clean `unsupported` records that name what is missing, with exit code 0; the
trtexec backend must name the trtexec it did not find; the cuda image must carry the pinned
cuda-python and nvidia-ml-py.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from images_usage import NOISE, _check

CUDA_PYTHON = "12.9.4"
NVML = "13.615.71"


def _records(directory: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


def run_into(docker: str, image: str, root: Path, name: str, mounts: list[str], args: list[str]):
    """`docker run` of `image` with a fresh /results under root/name: (process, output, records)."""
    results = root / name
    results.mkdir()
    results.chmod(0o777)
    done = subprocess.run([docker, "run", "--rm", "-v", f"{results}:/results", *mounts, image, *args],
                          capture_output=True, text=True)  # fmt: skip
    return done, (done.stdout + done.stderr).strip(), _records(results)


def unsupported(docker: str, image: str, root: Path, name: str, args: list[str], words: str,
                mounts: tuple = (), platform: str = "NVIDIA board or GPU") -> dict:  # fmt: skip
    """The image runs to exit 0 with only `unsupported` records naming `words`, no noise, and says
    it recognised no platform."""
    started = time.monotonic()
    done, output, records = run_into(docker, image, root, name, list(mounts), args)
    ok = (
        done.returncode == 0
        and records
        and all(r["status"] == "unsupported" and words in r["error"]["message"] for r in records)
        and not NOISE.search(output)
        and f"no {platform} recognised" in output
    )
    label = f"no device here: {len(records)} unsupported records naming {words!r}"
    return _check(image, label, ok, started, done.returncode, output)


def _pins(docker: str, image: str) -> dict:
    started = time.monotonic()
    probe = ("import importlib.metadata as m; print(m.version('cuda-python'), m.version('nvidia-ml-py')); "
             "import vedliot_runner.backends.tensorrt")  # fmt: skip
    done = subprocess.run([docker, "run", "--rm", "--entrypoint", "python", image, "-c", probe],
                          capture_output=True, text=True)  # fmt: skip
    output = (done.stdout + done.stderr).strip()
    ok = done.returncode == 0 and output.split() == [CUDA_PYTHON, NVML]
    return _check(
        image, f"cuda-python {CUDA_PYTHON} and nvidia-ml-py {NVML} inside", ok, started, done.returncode, output
    )


def check_nvidia(docker: str, tag: str, models: str, root: Path) -> list[dict]:
    quick = ["--quick", "--models", models, "--precisions", "fp32"]
    cuda, jetson = f"vedliot/bench-cuda:{tag}", "vedliot/bench-jetson:jp6"
    return [
        unsupported(docker, cuda, root, "cuda", quick, "backend 'tensorrt' is not installed here"),
        unsupported(docker, cuda, root, "cuda-trtexec", [*quick, "--backend", "trtexec"], "no trtexec here"),
        _pins(docker, cuda),
        unsupported(docker, jetson, root, "jetson", quick, "backend 'tensorrt' is not installed here"),
    ]
