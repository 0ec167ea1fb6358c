"""tflite_runtime.interpreter double: see the package docstring."""

import ctypes
import hashlib
import os
import time
from pathlib import Path

from ai_edge_litert import interpreter as _real

OpResolverType = _real.OpResolverType


class _Device(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("path", ctypes.c_char_p)]


class _Accelerator:
    """What load_delegate returns for an accelerator the double provides."""

    def __init__(self, kind, library, options):
        self.kind, self.library, self.options = kind, library, dict(options or {})


def _edgetpus(library):
    lib = ctypes.pydll.LoadLibrary(library)  # OSError as the real Delegate raises it
    lib.edgetpu_list_devices.restype = ctypes.POINTER(_Device)
    count = ctypes.c_size_t(0)
    array = lib.edgetpu_list_devices(ctypes.byref(count))
    return [("pci" if array[i].type == 0 else "usb") for i in range(count.value)] if array else []


def _matches(kinds, wanted):
    if not wanted:
        return bool(kinds)
    kind, _, index = wanted.partition(":")
    pool = [k for k in kinds if not kind or k == kind]
    return (int(index) if index else 0) < len(pool) if kind in ("usb", "pci", "") else False


def load_delegate(library, options=None):
    name = os.path.basename(library)
    if name.startswith("libedgetpu"):
        kinds = _edgetpus(library)
        if _matches(kinds, (options or {}).get("device")) and os.environ.get("VEDLIOT_FAKE_EDGETPU_BUSY") != "1":
            return _Accelerator("edgetpu", library, options)
    elif "vx_delegate" in name and os.environ.get("VEDLIOT_FAKE_VX_NPU") == "1":
        return _Accelerator("vx", library, options)
    return _real.load_delegate(library, options)


def _cpu_twin(path):
    path = Path(path)
    if not path.stem.endswith("_edgetpu"):
        return path
    twin = path.with_name(path.stem[: -len("_edgetpu")] + path.suffix)
    if not twin.is_file():  # the zoo's layout: compiled/ beside the models it was compiled from
        twin = path.parent.parent / twin.name
    if not twin.is_file():
        raise RuntimeError("tflite_runtime double: no {} to run in place of the Edge TPU".format(twin))
    return twin


class Interpreter:
    def __init__(self, model_path=None, experimental_delegates=None, num_threads=None, **kwargs):
        delegates = list(experimental_delegates or [])
        fakes = [d for d in delegates if isinstance(d, _Accelerator)]
        real = [d for d in delegates if not isinstance(d, _Accelerator)] or None
        self._accelerator = fakes[0] if fakes else None
        self._model_path = model_path
        run = _cpu_twin(model_path) if self._accelerator and self._accelerator.kind == "edgetpu" else model_path
        self._impl = _real.Interpreter(
            model_path=str(run), experimental_delegates=real, num_threads=num_threads, **kwargs
        )
        self._compiled = False

    def __getattr__(self, name):
        return getattr(self._impl, name)

    def _get_ops_details(self):
        if self._accelerator is None:
            return self._impl._get_ops_details()
        if self._accelerator.kind == "edgetpu":
            return _real.Interpreter(model_path=str(self._model_path))._get_ops_details()
        return _with_partition(_real.Interpreter(model_path=str(self._model_path))._get_ops_details())

    def invoke(self):
        if self._accelerator is not None and self._accelerator.kind == "vx" and not self._compiled:
            self._compile_graph()
        return self._impl.invoke()

    def _compile_graph(self):
        self._compiled = True
        cache = (
            os.environ.get("VIV_VX_CACHE_BINARY_GRAPH_DIR")
            if os.environ.get("VIV_VX_ENABLE_CACHE_GRAPH_BINARY") == "1"
            else None
        )
        digest = hashlib.sha1(Path(self._model_path).read_bytes()).hexdigest()
        entry = Path(cache) / "{}.nb".format(digest) if cache else None
        if entry is not None and entry.is_file():
            return
        time.sleep(float(os.environ.get("VEDLIOT_FAKE_VX_COMPILE_S", "0.3")))
        if entry is not None:
            entry.write_bytes(b"fake graph binary")


def _with_partition(ops):
    """The original nodes and one DELEGATE node over those the NPU takes."""
    cpu = set(filter(None, os.environ.get("VEDLIOT_FAKE_VX_CPU_OPS", "").split(",")))
    taken = [op for op in ops if op["op_name"] not in cpu]
    if not taken:
        return ops
    produced = {int(t) for op in taken for t in op["outputs"]}
    consumed_outside = {int(t) for op in ops if op["op_name"] in cpu for t in op["inputs"]}
    all_inputs = {int(t) for op in ops for t in op["inputs"]}
    inputs = sorted({int(t) for op in taken for t in op["inputs"] if int(t) >= 0} - produced)
    outputs = sorted(t for t in produced if t in consumed_outside or t not in all_inputs)
    node = {"index": len(ops), "op_name": "DELEGATE", "inputs": inputs, "outputs": outputs}
    return [*ops, node]
