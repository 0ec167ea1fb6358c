"""Checks of `make images-test` on the edge images, on a machine without their accelerators or
their vendors' runtimes (built with images.TEST_ARGS: no Coral apt repository, no HailoRT wheel).

Each image's entrypoint must start, recognise no platform, and write clean `unsupported` records
naming what is missing (exit 0): the Edge TPU runtime (coral, on a real compiled model mounted as
a zoo), the VX delegate (imx8mp, on the int8 model its own zoo stage built), HailoRT (hailo, on a
.hef listed in a mounted zoo), the board's Vitis AI runtime (vitis-ai, on an .xmodel listed in a
mounted zoo), OpenVINO 2022.3 (myriad, built on the stand-in base instead of Intel's image). And the
one-line refusals a user meets first: the coral image built without edgetpu_compiler says how to
compile its zoo; the hailo and vitis-ai images run without a zoo on /zoo say so.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from images_nvidia import run_into, unsupported
from images_usage import NOISE, _check

REPO = Path(__file__).resolve().parents[1]
EDGETPU = REPO / "tests" / "data" / "edgetpu"
#: the Myriad image on the stand-in base has no OpenVINO (Intel's image brings 2022.3 with its MYRIAD plugin)
MYRIAD_MISSING = "backend 'openvino' is not installed here"


def _zoo(root: Path) -> Path:
    """A zoo of one model, `conv`, with a real edgetpu_compiler output and a .hef listed."""
    from vedliot_runner.zoo import manifest

    zoo = root / "edge-zoo"
    (zoo / "compiled").mkdir(parents=True)
    shutil.copy(EDGETPU / "N32-nMACs41287680_quant.tflite", zoo / "conv.int8.tflite")
    shutil.copy(EDGETPU / "N32-nMACs41287680_quant_edgetpu.tflite", zoo / "compiled" / "conv.int8_edgetpu.tflite")
    (zoo / "compiled" / "conv.int8.hef").write_bytes(b"a .hef listed in the zoo; the image has no HailoRT to read it")
    (zoo / "compiled" / "conv.int8.xmodel").write_bytes(b"an .xmodel listed in the zoo; the image has no VART")
    files = [{"format": "tflite", "precision": "int8", "path": "conv.int8.tflite"},
             {"format": "edgetpu", "precision": "int8", "path": "compiled/conv.int8_edgetpu.tflite"},
             {"format": "hef", "precision": "int8", "path": "compiled/conv.int8.hef"},
             {"format": "xmodel", "precision": "int8", "path": "compiled/conv.int8.xmodel"}]  # fmt: skip
    data = manifest.empty(0, 1)
    data["models"]["conv"] = {"task": "classification", "files": files,
                              "ops_per_inference": {"value": 82575360.0, "source": "images_edge.py"}}  # fmt: skip
    manifest.save(zoo, data)
    for path in [zoo, *zoo.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return zoo


def _refused(docker: str, image: str, root: Path, name: str, mounts: list[str], args: list[str], words: str) -> dict:
    started = time.monotonic()
    done, output, records = run_into(docker, image, root, name, mounts, args)
    ok = done.returncode == 2 and words in output and not NOISE.search(output) and not records
    return _check(image, f"refused in one line: {words!r}", ok, started, done.returncode, output)


def check_edge(docker: str, tag: str, root: Path) -> list[dict]:
    zoo = _zoo(root)
    mount = ["-v", f"{zoo}:/zoo:ro"]
    coral, hailo, imx, vitis, myriad = (
        f"vedliot/bench-{name}:{tag}" for name in ("coral", "hailo", "imx8mp", "vitis-ai", "myriad")
    )
    quick = ["--quick"]
    # fmt: off
    return [
        unsupported(docker, coral, root, "coral", [*quick, "--zoo", "/zoo", "--models", "conv"],
                    "Edge TPU runtime libedgetpu.so.1 is not installed", mount, "Edge TPU"),
        _refused(docker, coral, root, "coral-own-zoo", [], [*quick, "--models", "mobilenetv3_small"],
                 "vedliot-runner zoo edgetpu"),
        unsupported(docker, imx, root, "imx8mp", [*quick, "--models", "mobilenetv3_small"],
                    "VX delegate /usr/lib/libvx_delegate.so is not here", (), "i.MX 8M Plus"),
        unsupported(docker, hailo, root, "hailo", [*quick, "--models", "conv"],
                    "backend 'hailort' is not installed here", mount, "Hailo device"),
        # the image as is, with no zoo of HEFs mounted on /zoo
        _refused(docker, hailo, root, "hailo-no-zoo", [], [], "--zoo /zoo: no zoo.json there"),
        # the board's VART is mounted at run time: none here; the DPU's batch cannot be read either
        unsupported(docker, vitis, root, "vitis-ai", ["--target", "dpu-zynqmp", *quick, "--models", "conv"],
                    "backend 'vart' is not installed here", mount, "Xilinx DPU"),
        _refused(docker, vitis, root, "vitis-ai-no-zoo", [], ["--target", "dpu-versal"],
                 "--zoo /zoo: no zoo.json there"),
        # on Intel's image: no stick; on the stand-in base: no OpenVINO 2022.3 either
        unsupported(docker, myriad, root, "myriad", [*quick, "--models", "mobilenetv3_small"],
                    MYRIAD_MISSING, (), "Myriad X"),
    ]
    # fmt: on


if __name__ == "__main__":  # one-off: python scripts/images_edge.py [TAG]
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        os.chmod(work, 0o755)
        for check in check_edge("/usr/bin/docker", sys.argv[1] if len(sys.argv) > 1 else "latest", Path(work)):
            print(("ok   " if check["ok"] else "FAIL ") + check["check"] + ("" if check["ok"] else " " + check["last"]))
