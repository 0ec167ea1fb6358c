"""Xilinx DPU (DPUCZDX8G on Zynq UltraScale+, DPUCVDX8G on Versal): compiled .xmodel files through
Vitis AI's runtime, the `xir` and `vart` Python modules of the board image, as Xilinx's own
examples drive them (examples/vai_runtime/*_py).

- The graph is deserialized with xir; the DPU subgraphs are the root's children whose `device`
  attribute is DPU. A model the compiler split (CPU operators between DPU parts) has several, or
  CPU subgraphs: one DPU subgraph runs (`subgraph=`), and the record counts the others.
- Tensors are NHWC, 8-bit fixed point: an input is round(x * 2^fix_point), an output is
  y * 2^-fix_point. The runner quantizes and de-quantizes outside the timed call (they are the
  pre/post-processing of accuracy runs); the timed call is execute_async + wait on int8 buffers.
- dims[0] is the DPU's batch, fixed by the hardware (the DPU IP's configuration): --batch-size must
  equal it. Throughput mode runs one runner per thread, as the examples do.
- The DPU's architecture, fingerprint and clock come from `xdputil query` where the board has it
  (VART has no Python call for them); an xmodel compiled for another fingerprint is refused before
  VART aborts on it.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from vedliot_runner.backends.base import Backend, BackendSettings, Feeds, OnComplete, run_threads
from vedliot_runner.dpu_device import DpuInfo, query_dpu, subgraph_identity
from vedliot_runner.errors import ModelFileError, RuntimeFailure, UnsupportedError
from vedliot_runner.options import option
from vedliot_runner.record import Scalar, TensorInfo


@dataclasses.dataclass(frozen=True)
class VartOptions:
    subgraph: int = option(0, "which DPU subgraph to run, by its order in the graph (a split model has several)",
                           minimum=0)  # fmt: skip
    fingerprint_check: bool = option(
        True, "compare the xmodel's DPU fingerprint with the board's (xdputil query) before VART does"
    )


@dataclasses.dataclass(frozen=True)
class _Tensor:
    name: str
    dims: Tuple[int, ...]
    fix_point: int

    @classmethod
    def of(cls, tensor) -> _Tensor:
        return cls(tensor.name, tuple(int(d) for d in tensor.dims), int(tensor.get_attr("fix_point")))


class VartBackend(Backend):
    name = "vart"
    Options = VartOptions

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        import vart
        import xir

        self.xir, self.vart = xir, vart
        self._subgraph = None
        self._runners: List = []
        self._inputs: List[_Tensor] = []
        self._outputs: List[_Tensor] = []
        self._identity: Dict[str, Scalar] = {}
        self._dpu: Optional[DpuInfo] = None
        self._queried = False

    def _board(self) -> Optional[DpuInfo]:
        """`xdputil query`, asked once (None: the board has no xdputil)."""
        if not self._queried:
            self._dpu, self._queried = query_dpu(), True
        return self._dpu

    def version(self) -> Optional[str]:
        return (self._board() or DpuInfo()).vart

    def packages(self) -> Dict[str, Optional[str]]:
        dpu = self._board() or DpuInfo()
        return {"vart": dpu.vart, "xir": dpu.xir, "target-factory": dpu.target_factory, "vitis-ai": dpu.vai_version}

    @classmethod
    def fixed_batch(cls, path: Path) -> Optional[int]:
        """dims[0] of a runner's input: the DPU's batch (a Versal DPU's is its batch handlers'). Read in
        a process of its own, as VART aborts the process it runs in when it finds no DPU."""
        try:
            out = subprocess.run([sys.executable, "-c", _BATCH_PROBE, str(path)], capture_output=True, text=True,
                                 timeout=120)  # fmt: skip
            return int(out.stdout.strip()) if out.returncode == 0 else None
        except (OSError, subprocess.SubprocessError, ValueError):
            return None

    # -- load ---------------------------------------------------------------------------------
    def load(self, path: Path) -> Tuple[List[TensorInfo], List[TensorInfo]]:
        try:
            graph = self.xir.Graph.deserialize(str(path))
        except Exception as exc:  # noqa: BLE001 - xir raises what its C++ CHECKs give
            raise ModelFileError("{}: xir cannot read it as an xmodel ({})".format(path, _first_line(exc))) from None
        children = graph.get_root_subgraph().toposort_child_subgraph()
        dpus = [s for s in children if _device(s) == "DPU"]
        if not dpus:
            raise ModelFileError(
                "{}: no DPU subgraph (device=DPU): it is not compiled for a DPU; compile the quantized model with "
                "vai_c_xir -a <arch.json> (docs/edge.md)".format(path)
            )
        if self.options.subgraph >= len(dpus):
            raise UnsupportedError("--backend-option subgraph={}: the xmodel has {} DPU subgraph(s) (0..{})".format(
                self.options.subgraph, len(dpus), len(dpus) - 1))  # fmt: skip
        self._subgraph = dpus[self.options.subgraph]
        self._identity = subgraph_identity(self._subgraph, children)
        self._board()
        self._check_device(path)
        self._runners = [self._create_runner()]
        self._inputs = [_Tensor.of(t) for t in self._runners[0].get_input_tensors()]
        self._outputs = [_Tensor.of(t) for t in self._runners[0].get_output_tensors()]
        batch = self._inputs[0].dims[0]
        if self.settings.batch_size != batch:
            raise UnsupportedError(
                "this DPU runs batches of {0} (dims[0] of the xmodel's input on this DPU, fixed by the hardware): "
                "run with --batch-size {0}".format(batch)
            )
        return [self._info(t) for t in self._inputs], [self._info(t) for t in self._outputs]

    def _check_device(self, path: Path) -> None:
        dpu, wanted = self._dpu, self._identity.get("xmodel_fingerprint")
        if dpu is not None and dpu.error:  # VART would abort the process on the same cause
            raise UnsupportedError(
                "no DPU usable here ({}): load the DPU's firmware on the board (xmutil loadapp on Kria) and give "
                "the container the DPU device and XRT (see docs/edge.md)".format(dpu.error)
            )
        if dpu is None or not dpu.kernels:
            return  # no xdputil here: VART checks the fingerprint itself when a job runs
        board = [f for f in dpu.fingerprints() if int(f, 16)]  # 0: not checked, as VART (the Vivado flow's DPU)
        if self.options.fingerprint_check and wanted and int(wanted, 16) and board and wanted not in board:
            raise UnsupportedError(
                "{}: compiled for DPU fingerprint {} ({}), this board's DPU is {}: re-compile it with vai_c_xir "
                "-a an arch.json of this DPU (Vitis AI {})".format(
                    path, wanted, self._identity.get("xmodel_dpu") or "?", dpu.describe(), dpu.vai_version or "?"
                )
            )

    def _create_runner(self):
        # VART ends the process on its failures (glog CHECK, abort): the record then says failed, with
        # VART's FATAL line; the checks above catch the usual causes first.
        return self.vart.Runner.create_runner(self._subgraph, "run")

    @staticmethod
    def _info(tensor: _Tensor) -> TensorInfo:
        return TensorInfo(name=tensor.name, dtype="int8", shape=list(tensor.dims))

    def effective_precision(self) -> Tuple[Optional[str], Optional[str]]:
        points = ", ".join("{} 2^{}".format(t.name, t.fix_point) for t in self._inputs + self._outputs)
        return "int8", "DPU: 8-bit fixed point (xint8; fix points: {}); quantized and de-quantized by the runner, " \
            "untimed".format(points)  # fmt: skip

    def resolved_options(self) -> Dict[str, Scalar]:
        resolved = super().resolved_options()
        resolved.update(self._identity)
        if self._dpu is not None:
            resolved.update(self._dpu.record())
        resolved["dpu_batch"] = self._inputs[0].dims[0] if self._inputs else None
        resolved["runners"] = len(self._runners)
        return resolved

    # -- data ---------------------------------------------------------------------------------
    def encode_input(self, name: str, array: np.ndarray, dtype: str) -> np.ndarray:
        tensor = next((t for t in self._inputs if t.name == name), self._inputs[0])
        return np.clip(np.round(array * (2.0**tensor.fix_point)), -128, 127).astype(np.int8)

    def decode_output(self, index: int, array: np.ndarray) -> np.ndarray:
        return array.astype(np.float32) * np.float32(2.0 ** -self._outputs[index].fix_point)

    # -- inference ----------------------------------------------------------------------------
    def predict(self, feeds: Feeds) -> List[np.ndarray]:
        return self._execute(self._runners[0], feeds)

    def _execute(self, runner, feeds: Feeds) -> List[np.ndarray]:
        inputs = [np.ascontiguousarray(feeds[t.name], dtype=np.int8) for t in self._inputs]
        outputs = [np.empty(t.dims, dtype=np.int8) for t in self._outputs]
        job = runner.execute_async(inputs, outputs)  # (job id, status): wait() takes the pair
        status = runner.wait(job)
        if status:
            raise RuntimeFailure("VART: execute_async/wait returned status {}".format(status))
        return outputs

    def default_requests_in_flight(self) -> int:
        return 1 if self.mode == "latency" else len(self._dpu.kernels) * 2 if self._dpu and self._dpu.kernels else 2

    def run_in_flight(self, feeds: Feeds, requests: int, keep_going: Callable[[], bool], done: OnComplete) -> None:
        while len(self._runners) < requests:  # created once, in the warmup: one runner per thread
            self._runners.append(self._create_runner())
        predicts = [lambda f, r=runner: self._execute(r, f) for runner in self._runners[:requests]]
        run_threads(predicts, feeds, keep_going, done)

    def close(self) -> None:
        self._runners = []
        self._subgraph = None


_BATCH_PROBE = """
import sys, vart, xir
children = xir.Graph.deserialize(sys.argv[1]).get_root_subgraph().toposort_child_subgraph()
dpu = next(s for s in children if s.has_attr("device") and str(s.get_attr("device")).upper() == "DPU")
print(vart.Runner.create_runner(dpu, "run").get_input_tensors()[0].dims[0])
"""


def _device(subgraph) -> Optional[str]:
    return str(subgraph.get_attr("device")).upper() if subgraph.has_attr("device") else None


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
