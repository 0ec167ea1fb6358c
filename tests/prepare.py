"""What some tests need that a fresh clone must make first: the model zoo (minutes of converters)
and Python 3.8 venvs (a minute of pip), all cached in .cache/.

conftest.py starts `python tests/prepare.py STEP...` in the background once the tests are
collected, for the steps whose fixtures they use, and runs the modules that use them last (the
suite leaves about a core idle). Each fixture waits for that process, then runs its step itself:
done, it finds it cached; failed, it fails with the step's own error.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache"
ZOO = CACHE / "zoo"
OPENVINO_2022 = "openvino==2022.3.2"


def _quiet(_line: str) -> None:
    pass


def zoo_full(log: Callable[[str], None] = _quiet) -> Path:
    """The full zoo (200 s on one core from a fresh clone, 2 workers here)."""
    from vedliot_runner.zoo import build as zoo_build

    zoo_build.build(ZOO, log=log, workers=2)
    return ZOO


def zoo_digits(log: Callable[[str], None] = _quiet) -> Path:
    """The trained digits model and its held-out set."""
    from vedliot_runner.zoo import build as zoo_build

    zoo_build.build(ZOO, models=["digits"], log=log)
    return ZOO


def python38() -> str | None:
    candidates = [os.environ.get("VEDLIOT_PYTHON38"), shutil.which("python3.8")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.8*/bin/python3.8")))
    for candidate in filter(None, candidates):
        try:
            out = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True, timeout=30
            )
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == "(3, 8)":
            return candidate
    return None


def venv38(name: str, *packages: str, base: str | None = None) -> Path | None:
    """The Python of a Python 3.8 venv in .cache holding `packages` (made once); None without 3.8."""
    interpreter = base or python38()
    if interpreter is None:
        return None
    venv = CACHE / name
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        subprocess.run([interpreter, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True, timeout=900)
        (venv / ".installed").touch()
    return python


def py38(log: Callable[[str], None] = _quiet) -> Path | None:
    """The loosest numpy the runner allows on 3.8: what a JetPack 5 board would have."""
    return venv38("py38-venv", "numpy<1.25")


def py38_accuracy(log: Callable[[str], None] = _quiet) -> Path | None:
    """A second 3.8 venv with what a board's accuracy run adds: Pillow and ONNX Runtime."""
    base = py38()
    if base is None:
        return None
    return venv38("py38-accuracy-venv", "numpy<1.25", "Pillow", "onnxruntime", "onnx", base=str(base))


def ov2022(log: Callable[[str], None] = _quiet) -> Path | None:
    """OpenVINO 2022.3 LTS (the last with the MYRIAD plugin) on Python 3.8, the Myriad image's."""
    return venv38("py38-openvino2022-venv", OPENVINO_2022, "numpy<1.25")


#: fixture name -> its step, in the order the background process runs them
STEPS: dict[str, Callable[..., Path | None]] = {
    "digits_zoo": zoo_digits,
    "py38": py38,
    "py38_accuracy": py38_accuracy,
    "ov2022": ov2022,
    "zoo_dir": zoo_full,
}


def main(names: list[str]) -> int:
    failed = 0
    for name in names:
        print(f"prepare: {name}", flush=True)
        try:
            STEPS[name](log=lambda line: print(line, flush=True))
        except Exception as exc:  # noqa: BLE001 - any failure: the fixture runs the step again and fails with it
            print(f"prepare: {name} failed: {exc!r}", flush=True)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
