"""Compiled files in the zoo: what a vendor compiler made from the zoo's models, listed in its
manifest so that `run --model zoo:NAME` and the suites find them like any other file.

- `zoo edgetpu`: edgetpu_compiler (Coral's Debian package, x86-64) run on each full-integer
  .tflite; the compiled file and its operation log land next to it, and the manifest records the
  compiler's version and how many operators it mapped to the Edge TPU and left on the CPU.
- `zoo add`: a file compiled elsewhere (a Hailo .hef from the Dataflow Compiler, which needs
  Hailo's login-only download and a GPU; a Xilinx .xmodel from Vitis AI's quantizer and vai_c_xir,
  in Xilinx's Docker image; an Edge TPU model compiled on another machine).

Stdlib only, like the manifest it edits: it runs on the boards.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from vedliot_runner import edgetpu_model
from vedliot_runner.digest import sha256_of
from vedliot_runner.errors import UsageError
from vedliot_runner.zoo import manifest

COMPILER = "edgetpu_compiler"


def format_of(path: Path) -> Optional[str]:
    if path.name.endswith("_edgetpu.tflite"):
        return "edgetpu"
    return {".hef": "hef", ".xmodel": "xmodel"}.get(path.suffix.lower())


def _entry(directory: Path, path: Path, fmt: str, precision: str, **extra) -> Dict:
    item = {"format": fmt, "precision": precision, "path": str(path.relative_to(directory)),
            "size_bytes": path.stat().st_size, "sha256": sha256_of(path)}  # fmt: skip
    item.update(extra)
    return item


def _replace_file(data: Dict, name: str, item: Dict) -> None:
    files = data["models"][name].setdefault("files", [])
    files[:] = [f for f in files if not (f["format"] == item["format"] and f["precision"] == item["precision"])]
    files.append(item)


def add(directory: Path, name: str, source: Path, precision: str = "int8") -> Dict:
    """Copy a compiled file into the zoo as model `name`'s file of its format at `precision`."""
    data = manifest.load(directory)
    if name not in data["models"]:
        raise UsageError("--model {}: not in {} (it has: {})".format(
            name, directory / manifest.MANIFEST, ", ".join(manifest.model_names(data))))  # fmt: skip
    if not source.is_file():
        raise UsageError("--file {}: no such file".format(source))
    fmt = format_of(source)
    if fmt is None:
        raise UsageError(
            "--file {}: not a compiled file the zoo takes (a .hef, an .xmodel, or a *_edgetpu.tflite)".format(source)
        )
    suffix = {"edgetpu": "_edgetpu.tflite"}.get(fmt, "." + fmt)
    target = directory / "compiled" / "{}.{}{}".format(name, precision, suffix)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(str(source), str(target))
    # HailoRT's frames and a DPU's tensors are NHWC whatever layout the ONNX model had
    extra = {"layout": "NHWC"} if fmt in ("hef", "xmodel") else {}
    item = _entry(directory, target, fmt, precision, added_from=str(source), **extra)
    _replace_file(data, name, item)
    manifest.save(directory, data)
    return item


def compile_edgetpu(
    directory: Path, models: Optional[Sequence[str]] = None, compiler: str = COMPILER, log: Callable = print
) -> List[Dict]:
    """Compile each model's int8 .tflite for the Edge TPU; returns one result per model."""
    program = shutil.which(compiler)
    if program is None:
        raise UsageError(
            "{} is not installed: it is Coral's Debian package edgetpu-compiler (x86-64 only), or give its path "
            "with --compiler".format(compiler)
        )
    data = manifest.load(directory)
    results = []
    for name in models or manifest.model_names(data):
        item = manifest.find_file(data["models"].get(name, {}), "tflite", "int8")
        if item is None:
            log("{}: no int8 .tflite in the zoo; build it with: vedliot-runner zoo build --models {} "
                "--formats tflite --precisions int8".format(name, name))  # fmt: skip
            continue
        result = _compile_one(directory, name, directory / item["path"], program)
        if result.get("file") is not None:
            _replace_file(data, name, result.pop("file"))
        log(_describe(name, result))
        results.append(result)
    manifest.save(directory, data)
    return results


def _compile_one(directory: Path, name: str, source: Path, program: str) -> Dict:
    out = directory / "compiled"
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([program, "-s", "-o", str(out), str(source)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    compiled = out / (source.stem + "_edgetpu.tflite")
    log_file = out / (source.stem + "_edgetpu.log")
    report = edgetpu_model.parse_compiler_output(
        log_file.read_text(errors="replace") if log_file.is_file() else proc.stdout
    )
    console = edgetpu_model.parse_compiler_output(proc.stdout)
    failure = console.failure or report.failure
    if failure or not compiled.is_file():
        why = failure or "no {} written (exit {})".format(compiled.name, proc.returncode)
        return {"model": name, "ok": False, "why": why, "output": proc.stdout.strip()[-2000:]}
    compiler = {"version": report.version or console.version, "tpu_ops": report.tpu_ops, "cpu_ops": report.cpu_ops,
                "log": str(log_file.relative_to(directory)) if log_file.is_file() else None}  # fmt: skip
    return {"model": name, "ok": True, "compiler": compiler,
            "file": _entry(directory, compiled, "edgetpu", "int8", compiler=compiler)}  # fmt: skip


def _describe(name: str, result: Dict) -> str:
    if not result["ok"]:
        return "{}: edgetpu_compiler failed: {}".format(name, result["why"])
    c = result["compiler"]
    return "{}: compiled by edgetpu_compiler {}: {} operator(s) on the Edge TPU, {} on the CPU".format(
        name,
        c["version"] or "?",
        "?" if c["tpu_ops"] is None else c["tpu_ops"],
        "?" if c["cpu_ops"] is None else c["cpu_ops"],
    )
