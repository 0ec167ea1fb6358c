"""Google Coral Edge TPU (USB Accelerator, M.2/PCIe modules): `*_edgetpu.tflite` files through the
TFLite interpreter with the Edge TPU delegate, libedgetpu.so.1.

tflite-runtime is preferred where installed (Coral's own pairing, and the only one on Python 3.8
boards), else ai-edge-litert. Before anything is loaded the model's graph says whether it was
compiled for the Edge TPU and which operators stay on the CPU (edgetpu_model.py); libedgetpu's C
API says which TPUs are attached (edgetpu_device.py), so "no TPU" is told apart from "no runtime".
The record names the TPU (usb or pci, path), the runtime version and the std/max package.

An Edge TPU model is compiled for fixed shapes: a batch other than the file's is `unsupported`.
The first invoke loads the model into the TPU's memory; it is timed apart, as every first inference.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from vedliot_runner import edgetpu_device, edgetpu_model
from vedliot_runner.backends.base import BackendSettings
from vedliot_runner.backends.litert import LiteRtBackend, board_interpreter_module, first_line
from vedliot_runner.errors import ModelFileError, UnsupportedError
from vedliot_runner.options import MAX_THREADS, option
from vedliot_runner.record import Scalar, TensorInfo

LIBRARY = "libedgetpu.so.1"


@dataclasses.dataclass(frozen=True)
class EdgeTpuOptions:
    device: Optional[str] = option(
        None, "which Edge TPU: usb, usb:N, pci, pci:N or :N (default: the first found)",
        check=edgetpu_device.check_device_option,
    )  # fmt: skip
    library: str = option(LIBRARY, "the Edge TPU runtime library (libedgetpu1-std or -max installs it)")
    num_threads: Optional[int] = option(
        None, "threads for operators left on the CPU (default: --threads)", minimum=1, maximum=MAX_THREADS
    )


class EdgeTpuBackend(LiteRtBackend):
    name = "edgetpu"
    Options = EdgeTpuOptions

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        self._split: Optional[edgetpu_model.GraphSplit] = None
        self._runtime: Optional[edgetpu_device.Runtime] = None
        self._tpu: Optional[edgetpu_device.EdgeTpu] = None
        self._compiler: Optional[edgetpu_model.CompilerReport] = None
        self._package: Tuple[Optional[str], Optional[str]] = (None, None)

    @staticmethod
    def interpreter_module():
        return board_interpreter_module()

    def delegate_spec(self) -> Optional[Tuple[str, Dict[str, str]]]:
        return self.options.library, ({"device": self.options.device} if self.options.device else {})

    def delegate_failed(self, library: str, exc: Exception) -> Exception:
        if isinstance(exc, OSError):
            return UnsupportedError(
                "Edge TPU runtime {} is not installed ({}); install libedgetpu1-std (or -max) from "
                "Coral's package repository".format(library, first_line(exc))
            )
        return UnsupportedError(
            "the Edge TPU runtime did not open {} (libedgetpu: {}); is it in use by another process?".format(
                self._tpu.path if self._tpu else "the TPU", first_line(exc)
            )
        )

    def load(self, path: Path) -> Tuple[List[TensorInfo], List[TensorInfo]]:
        self._split = self._read_split(path)
        self._runtime = self._open_runtime()
        self._tpu = edgetpu_device.select(self._runtime.devices, self.options.device)
        if self._tpu is None:
            found = ", ".join("{} {}".format(d.kind, d.path) for d in self._runtime.devices) or "none"
            raise UnsupportedError(
                "no Edge TPU {}found (libedgetpu lists: {}); plug it in, or give the container "
                "--device /dev/apex_0 (PCIe) or -v /dev/bus/usb:/dev/bus/usb --privileged (USB)".format(
                    "matching device={} ".format(self.options.device) if self.options.device else "", found
                )
            )
        self._package = edgetpu_device.installed_package()
        self._compiler = _compiler_log(path)
        inputs, outputs = super().load(path)
        self._precision = ("int8", "Edge TPU: 8-bit integer arithmetic; " + (self._precision[1] or ""))
        return inputs, outputs

    def _read_split(self, path: Path) -> edgetpu_model.GraphSplit:
        try:
            split = edgetpu_model.read_graph(str(path), self._module)
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError("{}: LiteRT cannot load it: {}".format(path, first_line(exc))) from None
        if not split.compiled:
            raise UnsupportedError(
                "{}: not compiled for the Edge TPU (no {} in its graph); compile the full-integer "
                "model with: edgetpu_compiler -s {}".format(path, edgetpu_model.CUSTOM_OP, path.name)
            )
        return split

    def _open_runtime(self) -> edgetpu_device.Runtime:
        try:
            return edgetpu_device.open_runtime(self.options.library)
        except (OSError, AttributeError) as exc:
            raise self.delegate_failed(self.options.library, OSError(str(exc))) from None

    def _check_batch(self, interpreter) -> None:
        for detail in interpreter.get_input_details():
            signature = list(detail.get("shape_signature", detail["shape"]))
            if signature and signature[0] != -1 and signature[0] != self.settings.batch_size:
                raise UnsupportedError(
                    "an Edge TPU model has its batch compiled in: this one takes batch {}, not --batch-size {}".format(
                        signature[0], self.settings.batch_size
                    )
                )

    def _interpreter_for(self, path: Path):
        probe = self._module.Interpreter(model_path=str(path))
        self._check_batch(probe)
        del probe
        return super()._interpreter_for(path)

    def version(self) -> Optional[str]:
        number = edgetpu_device.runtime_number(self._runtime.version if self._runtime else None)
        litert = super().version()
        return "{} + libedgetpu runtime {}".format(litert, number) if number else litert

    def packages(self) -> Dict[str, Optional[str]]:
        packages = super().packages()
        package, version = self._package
        packages[package or "libedgetpu"] = version or (self._runtime.version if self._runtime else None)
        return packages

    def resolved_options(self) -> Dict[str, Scalar]:
        resolved = super().resolved_options()
        resolved.pop("delegation", None)
        split = self._split
        resolved.update(
            {
                "tpu": "{} {}".format(self._tpu.kind, self._tpu.path) if self._tpu else None,
                "interface": self._tpu.kind if self._tpu else None,
                "runtime": self._runtime.version if self._runtime else None,
                "clock": edgetpu_device.clock(self._package[0]),
                "tpu_subgraphs": split.tpu_subgraphs if split else None,
                "cpu_ops": split.cpu_op_count if split else None,
                "cpu_op_names": ", ".join(sorted(split.cpu_ops)) if split and split.cpu_ops else None,
            }
        )
        if self._compiler is not None:
            resolved["tpu_ops"] = self._compiler.tpu_ops
            resolved["compiler"] = self._compiler.version
        return resolved


def _compiler_log(path: Path) -> Optional[edgetpu_model.CompilerReport]:
    """edgetpu_compiler writes <model>_edgetpu.log next to <model>_edgetpu.tflite: the operator
    counts the graph alone cannot give (how many ops each TPU subgraph holds)."""
    log = path.with_suffix(".log")
    try:
        return edgetpu_model.parse_compiler_output(log.read_text(errors="replace"))
    except OSError:
        return None
