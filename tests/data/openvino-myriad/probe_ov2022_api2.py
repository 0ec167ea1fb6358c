"""More of the OpenVINO 2022.3 Python API (PyPI wheel) on CPU: reshape, AsyncInferQueue, properties. See SOURCES.md."""

import time

import numpy as np
import openvino.runtime.opset10 as ops
from openvino.runtime import AsyncInferQueue, Core, Dimension, Model, PartialShape, Tensor

CACHE = "/tmp/research/ovcache"


def attempt(label, fn):
    print("---", label)
    try:
        print("result:", repr(fn()))
    except Exception as exc:  # noqa: BLE001 - record exactly what OpenVINO raises
        print("exception type:", type(exc).__module__ + "." + type(exc).__qualname__)
        print("str(exc):", repr(str(exc)))


core = Core()
param = ops.parameter(PartialShape([Dimension(-1), 3, 8, 8]), np.float32, name="input")
model = Model([ops.relu(param)], [param], "tiny")
port = model.inputs[0]
attempt(
    "model.reshape({port: PartialShape([Dimension(2), 3, 8, 8])})",
    lambda: model.reshape({port: PartialShape([Dimension(2), 3, 8, 8])}),
)
attempt("port.get_partial_shape()", lambda: port.get_partial_shape())
cm = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
q = AsyncInferQueue(cm, 2)
x = np.zeros((2, 3, 8, 8), np.float32)
for r in q:
    r.set_tensor("input", Tensor(x, shared_memory=True))
seen = []
q.set_callback(lambda req, ud: seen.append(ud))
attempt("q.get_idle_request_id()", lambda: q.get_idle_request_id())
attempt("q.start_async(userdata=1)", lambda: q.start_async(userdata=1))
q.wait_all()
time.sleep(0.05)
print("callback userdata seen:", seen)
attempt('req.infer({"input": x})', lambda: list(cm.create_infer_request().infer({"input": x}).keys()))
attempt('cm.get_property("SUPPORTED_PROPERTIES")', lambda: cm.get_property("SUPPORTED_PROPERTIES"))
attempt('core.get_property("CPU", "SUPPORTED_PROPERTIES")', lambda: core.get_property("CPU", "SUPPORTED_PROPERTIES"))
attempt('core.set_property({"CACHE_DIR": "' + CACHE + '"})', lambda: core.set_property({"CACHE_DIR": CACHE}))
