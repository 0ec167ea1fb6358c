"""What a modern OpenVINO (no MYRIAD plugin) says when asked for MYRIAD. See SOURCES.md."""

import sys

import numpy as np
import openvino as ov
import openvino.opset13 as ops


def attempt(label, fn):
    print("---", label)
    try:
        print("result:", repr(fn()))
    except Exception as exc:  # noqa: BLE001 - record exactly what OpenVINO raises
        print("exception type:", type(exc).__module__ + "." + type(exc).__qualname__)
        print("str(exc):", repr(str(exc)))


print("openvino.__version__:", ov.__version__)
print("openvino.get_version():", ov.get_version())
print("python:", sys.version.split()[0])
core = ov.Core()
print("core.available_devices:", core.available_devices)

param = ops.parameter([1, 3, 8, 8], np.float32, name="input")
model = ov.Model([ops.relu(param)], [param], "tiny")

attempt('core.compile_model(model, "MYRIAD")', lambda: core.compile_model(model, "MYRIAD"))
attempt(
    'core.compile_model(model, "MYRIAD", {"PERFORMANCE_HINT": "THROUGHPUT"})',
    lambda: core.compile_model(model, "MYRIAD", {"PERFORMANCE_HINT": "THROUGHPUT"}),
)
attempt('core.get_property("MYRIAD", "FULL_DEVICE_NAME")', lambda: core.get_property("MYRIAD", "FULL_DEVICE_NAME"))
attempt('core.get_property("MYRIAD", "AVAILABLE_DEVICES")', lambda: core.get_property("MYRIAD", "AVAILABLE_DEVICES"))
attempt('core.get_versions("MYRIAD")', lambda: core.get_versions("MYRIAD"))
attempt('core.compile_model(model, "MYRIAD.1.2-ma2480")', lambda: core.compile_model(model, "MYRIAD.1.2-ma2480"))
attempt(
    'core.compile_model(model, "CPU").get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")',
    lambda: core.compile_model(model, "CPU").get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"),
)
