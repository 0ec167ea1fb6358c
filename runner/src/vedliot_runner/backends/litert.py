"""LiteRT backend (`ai-edge-litert`, the successor of tflite-runtime, which boards stuck on
Python 3.8 still use): .tflite models on the CPU (XNNPACK) or through a delegate such as the Edge
TPU's libedgetpu.so.1 or the i.MX8M Plus NPU's libvx_delegate.so.

Integer models take and give int8/uint8 tensors: the runner feeds them as they are (synthetic
data in the tensor's type); quantize()/dequantize() convert real data with the tensor's scale and
zero point, outside the timed call (pre- and post-processing).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import gc
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from vedliot_runner import hostinfo
from vedliot_runner.backends.base import Backend, BackendSettings, Feeds, OnComplete, run_threads
from vedliot_runner.errors import ModelFileError, UnsupportedError, UsageError
from vedliot_runner.options import MAX_THREADS, option
from vedliot_runner.quiet import native_output_captured
from vedliot_runner.record import Scalar, TensorInfo


def _interpreter_module():
    try:
        from ai_edge_litert import interpreter
    except ImportError:
        from tflite_runtime import interpreter  # Python 3.8 boards: tflite-runtime <= 2.14
    return interpreter


def board_interpreter_module():
    """tflite_runtime first: the package the accelerator vendors pair their delegates with (Coral's
    apt repository, NXP's eIQ); ai-edge-litert where only it is installed."""
    try:
        from tflite_runtime import interpreter
    except ImportError:
        from ai_edge_litert import interpreter
    return interpreter


def _public_name(name: str) -> str:
    # The TF converter names tensors "serving_default_<name>:0"; the signature name is the real one.
    if name.startswith("serving_default_"):
        name = name[len("serving_default_") :]
    return name.rsplit(":", 1)[0] if name.endswith(":0") else name


def quantize(array: np.ndarray, detail: Dict) -> np.ndarray:
    """Float data to an integer input tensor's type, with its scale and zero point."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind not in "iu":
        return array.astype(dtype)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(array / scale + zero), info.min, info.max).astype(dtype)


def dequantize(array: np.ndarray, detail: Dict) -> np.ndarray:
    """An integer output tensor back to float32 with its scale and zero point."""
    if np.dtype(detail["dtype"]).kind not in "iu":
        return array
    scale, zero = detail["quantization"]
    return (array.astype(np.float32) - zero) * np.float32(scale)


def parse_delegate_options(text: str) -> Dict[str, str]:
    options = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        key, _, value = item.partition("=")
        options[key.strip()] = value.strip()
    return options


def _delegate_options_text(text: str) -> Optional[str]:
    for item in filter(None, (part.strip() for part in text.split(";"))):
        if "=" not in item or not item.split("=", 1)[0].strip():
            return "expected key=value;key=value"
    return None


@dataclasses.dataclass(frozen=True)
class LiteRtOptions:
    delegate: Optional[str] = option(
        None, "delegate library, e.g. libedgetpu.so.1 or /usr/lib/libvx_delegate.so (default: CPU, XNNPACK)"
    )
    delegate_options: str = option("", "key=value;key=value passed to the delegate", check=_delegate_options_text)
    device: Optional[str] = option(
        None, "Edge TPU device for libedgetpu (usb, usb:0, pci:0); shortcut for delegate_options=device=..."
    )
    num_threads: Optional[int] = option(
        None, "interpreter threads (default: --threads, else every usable CPU)", minimum=1, maximum=MAX_THREADS
    )


class LiteRtBackend(Backend):
    name = "litert"
    Options = LiteRtOptions

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        self._module = self.interpreter_module()
        self._interpreter = None
        self._path: Optional[Path] = None
        self._inputs: List[Dict] = []
        self._outputs: List[Dict] = []
        self._precision: Tuple[Optional[str], Optional[str]] = (None, None)
        self._delegated: Optional[str] = None
        self._ops: List[Dict] = []
        # LiteRT's own default (num_threads unset) runs XNNPACK on one thread, where ONNX Runtime
        # and OpenVINO take every core: side by side, LiteRT's CPU figures were one-thread figures.
        self._threads = self.options.num_threads or self.threads or hostinfo.usable_cores() or 1
        self._delegate = self.delegate_spec()

    @staticmethod
    def interpreter_module():
        return _interpreter_module()

    def delegate_spec(self) -> Optional[Tuple[str, Dict[str, str]]]:
        """(library, options) of the delegate to load, or None for the CPU."""
        if not self.options.delegate:
            return None
        options = parse_delegate_options(self.options.delegate_options)
        if self.options.device is not None:
            options.setdefault("device", self.options.device)
        return self.options.delegate, options

    def interpreter_kwargs(self) -> Dict:
        """More keyword arguments of Interpreter() (a backend turning off the default delegates)."""
        return {}

    def delegate_failed(self, library: str, exc: Exception) -> Exception:
        """The error to raise when load_delegate(library) raised `exc`."""
        return UnsupportedError(
            "LiteRT delegate {} could not be loaded ({}); is its runtime and device present?".format(
                library, first_line(exc)
            )
        )

    def version(self) -> Optional[str]:
        import importlib

        package = self._module.__name__.split(".", 1)[0]
        module = importlib.import_module(package)
        return getattr(module, "__version__", None) or _metadata_version(package.replace("_", "-"))

    def packages(self) -> Dict[str, Optional[str]]:
        package = self._module.__name__.split(".", 1)[0]
        return {package.replace("_", "-"): self.version()}

    def _delegates(self) -> list:
        if self._delegate is None:
            return []
        library, options = self._delegate
        failure = None
        with _delegate_cleanup_quiet():
            try:
                with native_output_captured():
                    return [self._module.load_delegate(library, options)]
            except (ValueError, OSError, RuntimeError) as exc:
                failure = self.delegate_failed(library, exc)
            gc.collect()  # the half-built Delegate goes now, while its __del__ error is hushed
        raise failure

    def _interpreter_for(self, path: Path):
        """A ready interpreter of `path`: delegates applied, inputs resized, tensors allocated.
        Returns (interpreter, the inputs as the file declares them, whether a delegate is used)."""
        delegates = self._delegates()
        try:
            with native_output_captured():
                interpreter = self._module.Interpreter(
                    model_path=str(path),
                    experimental_delegates=delegates or None,
                    num_threads=self._threads,
                    **self.interpreter_kwargs(),
                )
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError("{}: LiteRT cannot load it: {}".format(path, first_line(exc))) from None
        declared = [self._tensor(d) for d in interpreter.get_input_details()]
        for detail in interpreter.get_input_details():
            signature = list(detail.get("shape_signature", detail["shape"]))
            if signature and signature[0] == -1:
                signature[0] = self.settings.batch_size
            override = self.settings.input_shapes.get(_public_name(detail["name"]))
            shape = list(override) if override else signature
            if any(d < 0 for d in shape):
                raise UsageError(
                    "input '{}' has unknown dimensions {}; give them with --input-shape".format(
                        _public_name(detail["name"]), shape
                    )
                )
            if list(detail["shape"]) != shape:
                interpreter.resize_tensor_input(detail["index"], shape)
        with native_output_captured():  # the XNNPACK banner comes with the allocation
            interpreter.allocate_tensors()
        return interpreter, declared, bool(delegates)

    def load(self, path: Path) -> Tuple[List[TensorInfo], List[TensorInfo]]:
        interpreter, declared_inputs, delegated = self._interpreter_for(path)
        self._path = path
        self._interpreter = interpreter
        self._inputs = interpreter.get_input_details()
        self._outputs = interpreter.get_output_details()
        self._precision = self._tensor_precision(delegated)
        self._ops = interpreter._get_ops_details()
        kernels = sum(1 for op in self._ops if op["op_name"] == "DELEGATE")
        self._delegated = "{} of {} ops in {} delegate kernel(s)".format(
            len(delegated_nodes(self._ops)), len(self._ops) - kernels, kernels
        )
        return declared_inputs, [self._tensor(d) for d in self._outputs]

    @staticmethod
    def _tensor(detail: Dict) -> TensorInfo:
        shape = [int(d) if d >= 0 else "?" for d in detail.get("shape_signature", detail["shape"])]
        return TensorInfo(name=_public_name(detail["name"]), dtype=np.dtype(detail["dtype"]).name, shape=shape)

    def _tensor_precision(self, delegated: bool) -> Tuple[Optional[str], str]:
        counts = collections.Counter(np.dtype(t["dtype"]).name for t in self._interpreter.get_tensor_details())
        detail = "tensors: " + ", ".join("{} {}".format(n, t) for t, n in counts.most_common())
        io = ", ".join("{} {}".format(_public_name(d["name"]), np.dtype(d["dtype"]).name) for d in self._inputs)
        detail += "; inputs: " + io
        if counts.get("int8", 0) + counts.get("uint8", 0) > counts.get("float32", 0):
            return "int8", detail
        if counts.get("float16"):
            if delegated:
                return "fp16", detail + "; float16 weights, compute precision chosen by the delegate"
            return "fp32", detail + "; float16 weights dequantized to float32 by the CPU interpreter"
        return "fp32", detail

    def effective_precision(self) -> Tuple[Optional[str], Optional[str]]:
        return self._precision

    def resolved_options(self) -> Dict[str, Scalar]:
        resolved = super().resolved_options()
        resolved["num_threads"] = self._threads
        resolved["delegation"] = self._delegated
        return resolved

    def input_details(self) -> List[Dict]:
        return list(self._inputs)

    def output_details(self) -> List[Dict]:
        return list(self._outputs)

    def encode_input(self, name: str, array: np.ndarray, dtype: str) -> np.ndarray:
        for detail in self._inputs:
            if _public_name(detail["name"]) == name:
                return quantize(array, detail)
        return super().encode_input(name, array, dtype)

    def decode_output(self, index: int, array: np.ndarray) -> np.ndarray:
        return dequantize(array, self._outputs[index]).astype(np.float32, copy=False)

    def predict(self, feeds: Feeds) -> List[np.ndarray]:
        return self._invoke(self._interpreter, feeds)

    def _invoke(self, interpreter, feeds: Feeds) -> List[np.ndarray]:
        for detail in self._inputs:
            interpreter.set_tensor(detail["index"], feeds[_public_name(detail["name"])])
        interpreter.invoke()
        return [interpreter.get_tensor(detail["index"]) for detail in self._outputs]

    def run_in_flight(self, feeds: Feeds, requests: int, keep_going: Callable[[], bool], done: OnComplete) -> None:
        # An interpreter is not thread-safe (LiteRT's documentation): each request in flight gets
        # one of its own, on the same model and delegate, as the Edge TPU examples do.
        interpreters = [self._interpreter] + [self._interpreter_for(self._path)[0] for _ in range(requests - 1)]
        run_threads([functools.partial(self._invoke, i) for i in interpreters], feeds, keep_going, done)

    def close(self) -> None:
        self._interpreter = None


@contextlib.contextmanager
def _delegate_cleanup_quiet():
    """LiteRT's Delegate.__del__ fails on an object whose library did not load ("'Delegate' object
    has no attribute '_library'", printed as an ignored exception with a traceback): that is the
    runtime's noise after an error already reported in one line, so it is not printed."""
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if not (isinstance(unraisable.exc_value, AttributeError) and "Delegate" in repr(unraisable.object)):
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def delegated_nodes(ops: List[Dict]) -> set:
    """Indices of the operators a delegate took over. LiteRT keeps every original node in
    _get_ops_details() and appends one DELEGATE node per partition, whose outputs are the
    partition's outputs and whose inputs its inputs: the taken nodes are those reached walking
    back from a DELEGATE node's outputs to its inputs."""
    producers = {}
    for op in ops:
        if op["op_name"] != "DELEGATE":
            producers.update((int(t), op["index"]) for t in op["outputs"])
    taken = set()
    for op in ops:
        if op["op_name"] != "DELEGATE":
            continue
        stop = {int(t) for t in op["inputs"]}
        stack = [int(t) for t in op["outputs"]]
        while stack:
            tensor = stack.pop()
            if tensor in stop or tensor not in producers or producers[tensor] in taken:
                continue
            node = producers[tensor]
            taken.add(node)
            stack.extend(int(t) for t in ops[node]["inputs"] if int(t) >= 0)
    return taken


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _metadata_version(distribution: str) -> Optional[str]:
    try:
        from importlib import metadata
    except ImportError:  # Python 3.7
        return None
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
