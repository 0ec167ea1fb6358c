"""Double of Vitis AI's `vart` Python module (runner_py_module.cpp, Vitis AI 1.3-3.0), as Xilinx's
examples use it (tests/data/vart-api/api.json, with sources):

- Runner.create_runner(subgraph, mode="") (static; the examples pass "run"); get_input_tensors(),
  get_output_tensors() (xir.Tensor, NHWC, dims[0] the DPU's batch, dtype xint8, attr fix_point);
- execute_async(inputs, outputs) on lists of C-contiguous int8 (or float32) numpy arrays, returning
  the (job id, status) pair; wait(job_id) takes that pair and returns the status.
- Failures end the process as the real library's CHECKs do (a glog FATAL line, abort()): no DPU
  (no XRT device handle), a subgraph without runner, a buffer of another dtype, and, when a job
  runs, an xmodel for another DPU fingerprint (unless XLNX_ENABLE_FINGERPRINT_CHECK=0, the real
  library's switch).

The DPU: VEDLIOT_FAKE_DPU="ARCH,FINGERPRINT,MHZ,CORES,BATCH" (vart/_device.py; unset: no DPU).
The model runs on ONNX Runtime's CPU provider: inputs de-quantized with 2^-fix_point, outputs
quantized with 2^fix_point, frames in the DPU's (h, w, c) order.
"""

import itertools
import os

import numpy as np
import xir
from xir._glog import fatal as _fatal
from xir._glog import warning as _warning

from vart._device import dpu

_jobs = itertools.count(1)


def _nhwc(shape, batch):
    dims = [d if isinstance(d, int) else 1 for d in shape[1:]]
    if len(dims) == 3:
        dims = dims[1:] + dims[:1]
    return [batch, *dims]


class Runner:
    def __init__(self, subgraph, device):
        import onnxruntime

        graph = subgraph.get_graph()
        meta = graph._meta
        self._session = onnxruntime.InferenceSession(graph._onnx, providers=["CPUExecutionProvider"])
        self._inputs = [
            xir.Tensor(
                "{}/{}".format(subgraph.get_name(), i.name),
                _nhwc(i.shape, device.batch),
                attrs={"fix_point": meta["inputs"][i.name]},
            )
            for i in self._session.get_inputs()
        ]
        self._outputs = [
            xir.Tensor(
                "{}/{}".format(subgraph.get_name(), o.name),
                _nhwc(o.shape, device.batch),
                attrs={"fix_point": meta["outputs"][o.name]},
            )
            for o in self._session.get_outputs()
        ]
        self._onnx_inputs = [i.name for i in self._session.get_inputs()]  # fmt: skip

    @staticmethod
    def create_runner(subgraph, mode=""):
        device = dpu()
        if device is None:
            _fatal("xrt_device_handle.cpp:44", "Check failed: !get_factory_methods().empty() ")
        if not subgraph.has_attr("runner"):
            _fatal(
                "dpu_runner.cpp:194",
                "[UNILOG][FATAL][VART_RUNNER_CONSTRUCTION_FAIL][Cannot create runner] "
                "Cannot find runner attr, this subgraph may not be compiled! subgraph name: " + subgraph.get_name(),
            )
        if mode not in subgraph.get_attr("runner"):
            _fatal(
                "dpu_runner.cpp:199",
                "[UNILOG][FATAL][VART_RUNNER_CONSTRUCTION_FAIL][Cannot create runner] "
                "Cannot find runner for mode {}! subgraph name: {}".format(mode, subgraph.get_name()),
            )
        runner = Runner(subgraph, device)
        runner._fingerprints = (
            int(subgraph.get_attr("dpu_fingerprint")) if subgraph.has_attr("dpu_fingerprint") else 0,
            device.fingerprint,
        )
        return runner  # fmt: skip

    def _check_fingerprint(self):
        """As dpu_runner_base_imp.cpp (2.5): checked when a job runs; 0 on either side skips it."""
        model_fp, dpu_fp = self._fingerprints
        if model_fp and dpu_fp and model_fp != dpu_fp:
            _warning(
                "dpu_runner_base_imp.cpp:676",
                "CHECK fingerprint fail ! model_fingerprint 0x{:x} dpu_fingerprint 0x{:x} ".format(model_fp, dpu_fp),
            )
            if os.environ.get("XLNX_ENABLE_FINGERPRINT_CHECK", "1") != "0":
                _fatal("dpu_runner_base_imp.cpp:648", "fingerprint check failure.")  # fmt: skip

    def get_input_tensors(self):
        return list(self._inputs)

    def get_output_tensors(self):
        return list(self._outputs)

    def execute_async(self, inputs, outputs, enable_dynamic_array=False):
        self._check_fingerprint()
        feeds = {}
        for name, tensor, array in zip(self._onnx_inputs, self._inputs, inputs, strict=False):
            data = _buffer(array, tensor).astype(np.float32) * np.float32(2.0 ** -tensor.get_attr("fix_point"))
            feeds[name] = data.transpose(0, 3, 1, 2) if data.ndim == 4 else data
        for tensor, array, result in zip(self._outputs, outputs, self._session.run(None, feeds), strict=False):
            result = result.transpose(0, 2, 3, 1) if result.ndim == 4 else result
            quantized = np.clip(np.round(result * 2.0 ** tensor.get_attr("fix_point")), -128, 127)
            _buffer(array, tensor)[...] = quantized.reshape(tensor.dims).astype(array.dtype)
        return (next(_jobs), 0)

    def wait(self, job_id):
        if not isinstance(job_id, tuple) or len(job_id) != 2:
            raise TypeError("wait(): incompatible function arguments. The following argument types are supported:\n"
                            "    1. (self: vart.Runner, arg0: Tuple[int, int]) -> int")  # fmt: skip
        return 0


def _buffer(array, tensor):
    """The array as the binding reads it: by the runner tensor's shape, whatever the numpy shape."""
    if array.dtype not in (np.int8, np.float32):
        _fatal("runner_py_module.cpp:175", "Check failed: ret.type != xir::DataType::UNKNOWN unsupported data type")
    if not array.flags["C_CONTIGUOUS"]:
        raise BufferError("ndarray is not C-contiguous")
    return array.reshape(-1)[: tensor.get_element_num()].reshape(tensor.dims)
