"""The OpenVINO 2022.3 Python API (PyPI wheel, which has no MYRIAD plugin), probed on CPU. See SOURCES.md."""

import sys

import numpy as np
import openvino
import openvino.runtime as ovr
import openvino.runtime.opset10 as ops
from openvino.runtime import Core, Model, Tensor, get_version


def attempt(label, fn):
    print("---", label)
    try:
        print("result:", repr(fn()))
    except Exception as exc:  # noqa: BLE001 - record exactly what OpenVINO raises
        print("exception type:", type(exc).__module__ + "." + type(exc).__qualname__)
        print("str(exc):", repr(str(exc)))


print("python:", sys.version.split()[0])
attempt('hasattr(openvino, "Core")', lambda: hasattr(openvino, "Core"))
attempt('getattr(openvino, "__version__", None)', lambda: getattr(openvino, "__version__", None))
attempt("openvino.get_version()", lambda: openvino.get_version())
print("openvino.runtime.get_version():", get_version())
print("openvino.runtime.__version__:", ovr.__version__)
core = Core()
print("core.available_devices:", core.available_devices)
param = ops.parameter([1, 3, 8, 8], np.float32, name="input")
model = Model([ops.relu(param)], [param], "tiny")
attempt('core.compile_model(model, "MYRIAD")', lambda: core.compile_model(model, "MYRIAD"))
attempt('core.get_property("MYRIAD", "FULL_DEVICE_NAME")', lambda: core.get_property("MYRIAD", "FULL_DEVICE_NAME"))
attempt('core.get_versions("MYRIAD")', lambda: core.get_versions("MYRIAD"))
cm = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": "f32"})
attempt(
    'cpu compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")',
    lambda: cm.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"),
)
attempt('cpu compiled.get_property("INFERENCE_PRECISION_HINT")', lambda: cm.get_property("INFERENCE_PRECISION_HINT"))
req = cm.create_infer_request()
x = np.zeros((1, 3, 8, 8), np.float32)
attempt(
    'req.infer({"input": x}, share_inputs=True, share_outputs=False)',
    lambda: list(req.infer({"input": x}, share_inputs=True, share_outputs=False).keys()),
)
attempt("Tensor(x, shared_memory=True).shape", lambda: Tensor(x, shared_memory=True).shape)
op = cm.get_runtime_model().get_ordered_ops()[1]
info = op.get_rt_info()
attempt('"layerType" in rt_info', lambda: "layerType" in info)
attempt('rt_info["layerType"].astype(str)', lambda: info["layerType"].astype(str))
attempt('rt_info["runtimePrecision"].astype(str)', lambda: info["runtimePrecision"].astype(str))
attempt("port.get_element_type().to_dtype()", lambda: model.inputs[0].get_element_type().to_dtype())
