"""Running trtexec: its options per TensorRT version, one run, and the timed run as a Measurement.

The option spellings come from NVIDIA/TensorRT's samples/common/sampleOptions.cpp of each release
branch (docs/backends.md cites the lines): --streams until 8.5, --infStreams from 8.6; --workspace
(MiB) in 8.2, --memPoolSize=workspace:MiB from 8.4; --fp16/--int8 until 10.x, gone in 11;
transfers included by default until 10.x (--noDataTransfers leaves them out), excluded by default
in 11 (--includeDataTransfers puts them back); --duration in whole seconds in 8.2.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from vedliot_runner import trtexec_output
from vedliot_runner.errors import RuntimeFailure, UnsupportedError, UsageError
from vedliot_runner.record import TensorInfo

_DTYPES = {
    "fp32": "float32",
    "fp16": "float16",
    "int8": "int8",
    "int32": "int32",
    "int64": "int64",
    "bool": "bool",
    "uint8": "uint8",
}
_ONNX_DTYPES = {1: "float32", 10: "float16", 3: "int8", 2: "uint8", 6: "int32", 7: "int64", 9: "bool"}
#: [E] lines that mean "this model or machine cannot run it" rather than "it broke"
_UNSUPPORTED = (
    "UNSUPPORTED_NODE",
    "INVALID_NODE",
    "Plugin not found",
    "No importer registered",
    "CUDA initialization failure",
    "no CUDA-capable device",
    "incompatible device",
    "not compatible with this version",
)
TOOL_TIMEOUT_S = 3600


class FeedMismatch(RuntimeFailure):
    def __init__(self, name: str, shape: List[int], declared: Optional[TensorInfo]) -> None:
        wanted = "no such input" if declared is None else "the engine takes {}".format(declared.shape)
        super().__init__("input {}: shape {}, but {}".format(name, shape, wanted))


class Result(NamedTuple):
    log: trtexec_output.TrtexecLog
    trace: Optional[list]
    layers: Optional[str]
    returncode: int


class Tool:
    def __init__(self, path: str, device: int = 0) -> None:
        self.path, self.device = path, device
        self._version: Optional[str] = None

    def version(self) -> Optional[str]:
        """From the `&&&& RUNNING TensorRT.trtexec [TensorRT vNNNN]` line every run prints first."""
        if self._version is None:
            try:
                done = subprocess.run([self.path, "--help"], capture_output=True, text=True, timeout=120)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise UnsupportedError("{} --help did not run: {}".format(self.path, exc)) from None
            self._version = trtexec_output.parse(done.stdout + done.stderr).version
        return self._version

    def at_least(self, major: int, minor: int = 0) -> bool:
        parts = [int(p) for p in (self._version or "0.0").split(".")[:2] if p.isdigit()]
        return tuple(parts + [0] * (2 - len(parts))) >= (major, minor)

    def precision_flags(self, precision: str) -> List[str]:
        if self.at_least(11):
            return []  # strongly typed: the ONNX file's types decide
        return {"fp16": ["--fp16"], "int8": ["--int8"]}.get(precision, [])

    def workspace(self, megabytes: Optional[int]) -> List[str]:
        if megabytes is None:
            return []
        if self.at_least(8, 4):
            return ["--memPoolSize=workspace:{}".format(megabytes)]
        return ["--workspace={}".format(megabytes)]

    def streams(self, count: int) -> List[str]:
        return ["--infStreams={}".format(count) if self.at_least(8, 6) else "--streams={}".format(count)]

    def transfers(self, include: bool) -> List[str]:
        if self.at_least(11):
            return ["--includeDataTransfers"] if include else []
        return [] if include else ["--noDataTransfers"]

    def duration(self, seconds: float) -> str:
        if not self.at_least(8, 4):
            return "--duration={}".format(math.ceil(seconds))  # an int32 in 8.2
        return "--duration={:g}".format(seconds)

    @staticmethod
    def shape_args(shapes: Dict[str, List[int]], dynamic: bool) -> List[str]:
        if not dynamic or not shapes:
            return []
        return ["--shapes=" + ",".join("{}:{}".format(n, "x".join(str(d) for d in s)) for n, s in shapes.items())]

    def command(self, args: List[str]) -> List[str]:
        return [self.path] + args + (["--device={}".format(self.device)] if self.device else [])

    def run(self, args: List[str], times_path: str, layers_path: Optional[str] = None) -> Result:
        try:
            done = subprocess.run(
                self.command(args), capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, preexec_fn=_die_with_parent
            )
        except subprocess.TimeoutExpired:
            raise RuntimeFailure("trtexec ran past {} s".format(TOOL_TIMEOUT_S)) from None
        return finish(done.stdout + done.stderr, done.returncode, times_path, layers_path)


def finish(text: str, returncode: int, times_path: str, layers_path: Optional[str]) -> Result:
    log = trtexec_output.parse(text)
    if returncode != 0 or log.status == "FAILED":
        raise failure(log, returncode)
    return Result(log, _json(times_path), _text(layers_path), returncode)


def failure(log: trtexec_output.TrtexecLog, returncode: int) -> Exception:
    said = log.errors[-1] if log.errors else "exit code {}".format(returncode)
    if any(mark in e for e in log.errors for mark in _UNSUPPORTED):
        detail = next(e for e in log.errors if any(mark in e for mark in _UNSUPPORTED))
        return UnsupportedError("trtexec {}: {}".format(log.version or "", detail))
    if any("out of memory" in e.lower() for e in log.errors):
        return RuntimeFailure("trtexec {}: out of device memory: {}".format(log.version or "", said))
    if any(e.startswith("Unknown option") for e in log.errors):
        return RuntimeFailure("trtexec {} refused an option the runner passed: {}".format(log.version or "", said))
    return RuntimeFailure("trtexec {} failed: {}".format(log.version or "", said))


def _json(path: Optional[str]) -> Optional[list]:
    if not path or not os.path.isfile(path):
        return None
    try:
        with open(path) as handle:
            return json.load(handle)
    except ValueError as exc:
        raise RuntimeFailure("trtexec's --exportTimes file is not JSON ({})".format(exc)) from None


def _text(path: Optional[str]) -> Optional[str]:
    if not path or not os.path.isfile(path):
        return None
    with open(path) as handle:
        return handle.read()


# -- the model's inputs ---------------------------------------------------------------------------


def onnx_inputs(path: Path) -> Dict[str, Tuple[List[int], str]]:
    """{input: (dims with -1 for symbolic ones, dtype)} of an ONNX file, initializers excluded."""
    try:
        import onnx
    except ImportError:
        raise UnsupportedError("backend 'trtexec' reads the ONNX inputs with onnx: pip install onnx") from None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several unrelated types
        raise UsageError("{}: not a readable ONNX model ({})".format(path, type(exc).__name__)) from None
    constants = {i.name for i in model.graph.initializer}
    found = {}
    for value in model.graph.input:
        if value.name in constants:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim]
        found[value.name] = (dims, _ONNX_DTYPES.get(value.type.tensor_type.elem_type, "float32"))
    return found


def input_shapes(path: Path, signature: Dict[str, Tuple[List[int], str]], settings: Any):
    """({input: concrete shape}, whether any input is dynamic), refusing a batch the model fixes."""
    shapes, dynamic = {}, False
    for name, (dims, _) in signature.items():
        given = settings.input_shapes.get(name)
        if given:
            shapes[name], dynamic = list(given), True
            continue
        if dims and dims[0] < 0:
            dynamic = True
        elif dims and dims[0] != settings.batch_size:
            raise UnsupportedError(
                "{}: the model's batch is fixed at {}; batch {} needs a model with a dynamic batch dimension".format(
                    path, dims[0], settings.batch_size
                )
            )
        if any(d < 0 for d in dims[1:]):
            raise UnsupportedError(
                "input {} has symbolic dimensions besides the batch ({}); give them with --input-shape {}=...".format(
                    name, dims, name
                )
            )
        shapes[name] = [settings.batch_size if (i == 0 and d < 0) else d for i, d in enumerate(dims)]
    return shapes, dynamic


def tensor(binding: trtexec_output.Binding, signature: Dict[str, Tuple[List[int], str]]) -> TensorInfo:
    dtype = _DTYPES.get(binding.dtype or "") or signature.get(binding.name, ([], "float32"))[1]
    return TensorInfo(name=binding.name, dtype=dtype, shape=list(binding.dims))


def gpu_identity() -> str:
    """The GPU model for the engine cache key, before trtexec has said it: the NVIDIA driver's
    /proc entry (dGPU) or the device tree's model (Jetson)."""
    root = Path("/proc/driver/nvidia/gpus")
    try:
        for entry in sorted(root.iterdir()):
            for line in (entry / "information").read_text().splitlines():
                if line.startswith("Model:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        return Path("/proc/device-tree/model").read_text().rstrip("\x00").strip()
    except OSError:
        return "unknown-gpu"


# -- the timed run --------------------------------------------------------------------------------


def timed(tool: Tool, plan: Path, shapes, dynamic: bool, settings, options, stop, out, progress, first_ms):
    """Run trtexec with the loop's settings; fill `out` (a Measurement) from its trace and log."""
    warmup_ms = settings.warmup_seconds * 1000.0
    if warmup_ms <= 0 and settings.warmup_iterations > 0:
        warmup_ms = trtexec_output.DEFAULT_WARMUP_MS  # trtexec warms up by time only
    with tempfile.TemporaryDirectory(prefix="vedliot-trtexec-") as scratch:
        times = os.path.join(scratch, "times.json")
        args = ["--loadEngine={}".format(plan), *tool.shape_args(shapes, dynamic)]
        args += [
            "--warmUp={:g}".format(warmup_ms),
            tool.duration(settings.min_seconds),
            "--iterations={}".format(max(1, settings.min_iterations)),
            "--exportTimes={}".format(times),
        ]
        if settings.mode == "throughput":
            args += tool.streams(settings.in_flight)
        args += tool.transfers(options.transfers)
        text, code, end_ns, interrupted = _watch(tool.command(args), settings, stop, progress)
        if interrupted:
            out.interrupted, out.stopped_in = True, "timed"
        result = finish(text, code, times, None) if not interrupted else _partial(text, code, times)
    out.first_inference_ns = int(first_ms * 1e6) if first_ms is not None else None
    if result.trace:
        _fill(out, result, warmup_ms, end_ns)
    out.tool = {
        "name": "trtexec",
        "version": result.log.version,
        "command": result.log.command,
        "summary": trtexec_output.tool_summary(result.log, compute=True),
    }
    if progress is not None and out.window_start_ns is not None:
        progress("timed", (out.window_end_ns - out.window_start_ns) / 1e9, out.iterations, 0.0, 0)
    return out


def _watch(command: List[str], settings, stop, progress):
    """Run trtexec, ticking progress; on a stop request send it SIGINT (then SIGKILL)."""
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, text=True, preexec_fn=_die_with_parent
        )
        start, interrupted = time.monotonic(), False
        warmup_s = settings.warmup_seconds
        while process.poll() is None:
            if stop.requested and not interrupted:
                interrupted = True
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
            elapsed = time.monotonic() - start
            if progress is not None and not interrupted:
                # trtexec reports nothing until it exits: the stages follow its clock
                stage, since = ("warmup", elapsed) if elapsed < warmup_s else ("timed", elapsed - warmup_s)
                progress(stage, since, 0, settings.min_seconds, settings.min_iterations)
            time.sleep(0.05)
        end_ns = time.monotonic_ns()
        log.seek(0)
        return log.read(), process.returncode, end_ns, interrupted


def _die_with_parent() -> None:
    """In the trtexec child: the kernel kills it when the worker dies (a killed run must not
    leave trtexec holding the GPU)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass


def _partial(text: str, code: int, times: str) -> Result:
    log = trtexec_output.parse(text)
    try:
        trace = _json(times)
    except RuntimeFailure:
        trace = None
    return Result(log, trace, None, code)


def _fill(out, result: Result, warmup_ms: float, end_ns: int) -> None:
    try:
        trace = trtexec_output.read_trace(result.trace, warmup_ms)
    except trtexec_output.TraceError as exc:
        raise RuntimeFailure("trtexec's --exportTimes: {}".format(exc)) from None
    span_ns = round((trace.end_ms - trace.start_ms) * 1e6)
    # trtexec's clock starts with its inference; the trace's last copy-out ends just before it
    # exits, so the window is placed to end there on the runner's monotonic clock.
    out.window_end_ns = end_ns
    out.window_start_ns = end_ns - span_ns
    out.window_start_unix_ns = time.time_ns() - (time.monotonic_ns() - out.window_start_ns)
    out.samples_ns = [round(ms * 1e6) for ms in trace.latency_ms]
    out.warmup_iterations = trace.dropped or _warmup_count(result.log)
    out.warmup_ns = int(warmup_ms * 1e6)


def _warmup_count(log: trtexec_output.TrtexecLog) -> int:
    return log.warmup_queries or 0
