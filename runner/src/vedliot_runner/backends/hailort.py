"""Hailo-8 and Hailo-8L: compiled .hef files through HailoRT 4.x (`hailo_platform`, the line that
supports them; 5.x is for Hailo-10/15).

- Two API generations: the InferModel API (VDevice.create_infer_model, HailoRT 4.18+; the
  scheduler on, synchronous `run` for latency and `run_async` with the queue HailoRT sizes for
  throughput), and the vstreams of 4.11-4.17 (configure, activate, InferVStreams.infer, which
  streams the frames of a batch). `api=auto` takes the first the installed HailoRT has.
- Data: the HEF's inputs and outputs are quantized uint8. By default the runner quantizes real data
  and de-quantizes outputs itself, outside the timed call, with each tensor's qp_scale/qp_zp;
  input_format/output_format=float32 leave it to HailoRT, on the host, inside the timed call. The
  record says which.
- The record names the device (architecture, firmware, serial), HailoRT and the hailo_pci driver
  version; HailoRT refuses a driver of another version (error 76), which is reported as such.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from vedliot_runner.backends.base import Backend, BackendSettings, Feeds, OnComplete, run_threads
from vedliot_runner.errors import ModelFileError, RuntimeFailure, UnsupportedError
from vedliot_runner.options import option
from vedliot_runner.record import Scalar, TensorInfo

APIS = ("auto", "infer_model", "vstreams")
FORMATS = ("uint8", "float32")


@dataclasses.dataclass(frozen=True)
class HailoRtOptions:
    device: Optional[str] = option(None, "device id as Device.scan() lists it, e.g. 0000:01:00.0 (default: the first)")
    api: str = option("auto", "InferModel (HailoRT 4.18+) or vstreams; auto: the first HailoRT has", choices=APIS)
    input_format: str = option(
        "uint8", "uint8: the HEF's quantized input, fed as is; float32: HailoRT quantizes on the host", choices=FORMATS
    )
    output_format: str = option(
        "uint8", "uint8: quantized outputs, de-quantized by the runner outside the timed call; float32: by HailoRT "
        "on the host, inside it", choices=FORMATS,
    )  # fmt: skip
    timeout_ms: int = option(10000, "how long one inference may take before it is an error", minimum=1)


def driver_version() -> Optional[str]:
    """The hailo_pci kernel module's version (it must equal HailoRT's)."""
    root = os.environ.get("VEDLIOT_HOST_ROOT", "/")
    try:
        return Path(root, "sys/module/hailo_pci/version").read_text().strip() or None
    except OSError:
        return None


class HailoRtBackend(Backend):
    name = "hailort"
    Options = HailoRtOptions

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        import hailo_platform

        self.hp = hailo_platform
        self._vdevice = None
        self._api: Optional[str] = None
        self._identity: Dict[str, Scalar] = {}
        self._inputs: List = []  # vstream infos / InferStreams: name, shape, quant
        self._outputs: List = []
        self._contexts: List = []
        self._cim = None
        self._pipeline = None

    def version(self) -> Optional[str]:
        return getattr(self.hp, "__version__", None)

    def packages(self) -> Dict[str, Optional[str]]:
        return {"hailort": self.version(), "hailo_pci driver": driver_version()}

    # -- load ---------------------------------------------------------------------------------
    def load(self, path: Path) -> Tuple[List[TensorInfo], List[TensorInfo]]:
        hp = self.hp
        ids = list(hp.Device.scan())
        if not ids:
            raise UnsupportedError(
                "no Hailo device found (Device.scan() lists none): load the hailo_pci driver on the host "
                "and give the container --device /dev/hailo0"
            )
        self._api = self._choose_api()
        try:
            hef = hp.HEF(str(path))
        except hp.HailoRTException as exc:
            raise ModelFileError("{}: HailoRT cannot read it as a HEF ({})".format(path, exc)) from None
        self._vdevice = self._guarded(lambda: hp.VDevice(self._vdevice_params(), **self._device_ids()), path, ids)
        self._contexts.append(self._vdevice)
        self._identity = self._identify()
        if self._api == "infer_model":
            self._guarded(lambda: self._load_infer_model(path), path, ids)
        else:
            self._guarded(lambda: self._load_vstreams(hef), path, ids)
        return self._tensors(self._inputs, self.options.input_format), self._tensors(
            self._outputs, self.options.output_format
        )

    def _choose_api(self) -> str:
        has = hasattr(self.hp.VDevice, "create_infer_model")
        if self.options.api == "infer_model" and not has:
            raise UnsupportedError(
                "api=infer_model needs HailoRT 4.18 or later; this is {}: use api=vstreams".format(self.version())
            )
        if self.options.api == "auto":
            return "infer_model" if has else "vstreams"
        return self.options.api

    def _vdevice_params(self):
        params = self.hp.VDevice.create_params()
        if self._api == "infer_model":  # as Hailo's InferModel tutorials: the scheduler runs the model
            params.scheduling_algorithm = self.hp.HailoSchedulingAlgorithm.ROUND_ROBIN
        return params

    def _device_ids(self) -> Dict:
        return {"device_ids": [self.options.device]} if self.options.device else {}

    def _guarded(self, action: Callable, path: Path, ids: List[str]):
        try:
            return action()
        except self.hp.HailoRTException as exc:
            raise self._explained(exc, path, ids) from None

    def _explained(self, exc: Exception, path: Path, ids: List[str]) -> Exception:
        text, kind = str(exc), type(exc).__name__
        if "HAILO_INVALID_DRIVER_VERSION" in text or "error: 76 " in text:
            return UnsupportedError(
                "HailoRT {} and the host's hailo_pci driver {} differ (error 76, HAILO_INVALID_DRIVER_VERSION): "
                "HailoRT needs the same version on both sides; build the image with HAILORT_VERSION={}".format(
                    self.version(), driver_version() or "(version unknown)", driver_version() or "<driver version>"
                )
            )
        if "HAILO_OUT_OF_PHYSICAL_DEVICES" in text or "HAILO_DEVICE_IN_USE" in text:
            return UnsupportedError(
                "no free Hailo device ({}): Device.scan() lists {}, so another process holds it; stop it "
                "(or run both through HailoRT's multi-process service)".format(text, ", ".join(ids))
            )
        if kind in ("HailoRTHEFNotCompatibleWithDevice", "HailoRTInvalidHEFException"):
            arch = self._identity.get("architecture") or "this device"
            return UnsupportedError(
                "{}: HailoRT refuses it on {} ({}): a HEF is compiled for one architecture; compile it for "
                "this one (hailo compiler --hw-arch {})".format(path, arch, text, str(arch).lower())
            )
        return RuntimeFailure("HailoRT: {} ({})".format(text, kind))

    def _identify(self) -> Dict[str, Scalar]:
        try:
            device = self._vdevice.get_physical_devices()[0]
            info = device.control.identify()
        except Exception:  # noqa: BLE001 - identity is for the record; the run does not depend on it
            return {}
        return {
            "device_id": getattr(device, "device_id", None),
            "architecture": str(info.device_architecture),
            "firmware": str(info.firmware_version),
            "serial": str(info.serial_number).rstrip("\x00") or None,
            "product": str(info.product_name).rstrip("\x00") or None,
        }

    def _format(self, text: str):
        return self.hp.FormatType.FLOAT32 if text == "float32" else self.hp.FormatType.UINT8

    def _load_vstreams(self, hef) -> None:
        hp = self.hp
        params = hp.ConfigureParams.create_from_hef(hef, interface=hp.HailoStreamInterface.PCIe)
        network = self._vdevice.configure(hef, params)[0]
        inputs = hp.InputVStreamParams.make(network, format_type=self._format(self.options.input_format))
        outputs = hp.OutputVStreamParams.make(network, format_type=self._format(self.options.output_format))
        # Hailo's tutorial order: the pipeline, then the network group's activation
        self._pipeline = hp.InferVStreams(network, inputs, outputs).__enter__()
        self._contexts.append(self._pipeline)
        activation = network.activate(network.create_params())
        activation.__enter__()
        self._contexts.append(activation)
        self._inputs = [_Tensor.of(i) for i in hef.get_input_vstream_infos()]
        self._outputs = [_Tensor.of(o) for o in hef.get_output_vstream_infos()]

    def _load_infer_model(self, path: Path) -> None:
        model = self._vdevice.create_infer_model(str(path))
        model.set_batch_size(self.settings.batch_size)
        for stream in model.inputs:
            stream.set_format_type(self._format(self.options.input_format))
        for stream in model.outputs:
            stream.set_format_type(self._format(self.options.output_format))
        self._cim = model.configure().__enter__()
        self._contexts.append(self._cim)
        self._inputs = [_Tensor.of(s) for s in model.inputs]
        self._outputs = [_Tensor.of(s) for s in model.outputs]

    @staticmethod
    def _tensors(tensors: List[_Tensor], fmt: str) -> List[TensorInfo]:
        return [TensorInfo(name=t.name, dtype=fmt, shape=["?", *t.shape]) for t in tensors]

    def effective_precision(self) -> Tuple[Optional[str], Optional[str]]:
        io = "inputs {} ({}), outputs {} ({})".format(
            self.options.input_format, _who(self.options.input_format, "quantized"),
            self.options.output_format, _who(self.options.output_format, "de-quantized"),
        )  # fmt: skip
        return "int8", "Hailo-8: 8-bit quantized network (the Dataflow Compiler may keep some layers at 16 bits); " + io

    def resolved_options(self) -> Dict[str, Scalar]:
        resolved = super().resolved_options()
        resolved["api"] = self._api
        resolved["driver"] = driver_version()
        resolved.update(self._identity)
        return resolved

    # -- data ---------------------------------------------------------------------------------
    def encode_input(self, name: str, array: np.ndarray, dtype: str) -> np.ndarray:
        tensor = next((t for t in self._inputs if t.name == name), None)
        if tensor is None or self.options.input_format == "float32":
            return array.astype(np.float32, copy=False)
        return np.clip(np.round(array / tensor.scale + tensor.zero), 0, 255).astype(np.uint8)

    def decode_output(self, index: int, array: np.ndarray) -> np.ndarray:
        if self.options.output_format == "float32":
            return array.astype(np.float32, copy=False)
        tensor = self._outputs[index]
        return (array.astype(np.float32) - np.float32(tensor.zero)) * np.float32(tensor.scale)

    # -- inference ----------------------------------------------------------------------------
    def predict(self, feeds: Feeds) -> List[np.ndarray]:
        if self._pipeline is not None:
            out = self._pipeline.infer({t.name: feeds[t.name] for t in self._inputs})
            return [out[t.name] for t in self._outputs]
        bindings, outputs = self._bindings(feeds)
        self._cim.run(bindings, self.options.timeout_ms)
        return outputs

    def _bindings(self, feeds: Feeds):
        """One binding per frame (HailoRT's unit), writing into rows of fresh output arrays."""
        frames = len(next(iter(feeds.values())))
        dtype = np.float32 if self.options.output_format == "float32" else np.uint8
        outputs = [np.empty([frames, *t.shape], dtype=dtype) for t in self._outputs]
        bindings = [
            self._cim.create_bindings(
                input_buffers={t.name: np.ascontiguousarray(feeds[t.name][k]) for t in self._inputs},
                output_buffers={t.name: out[k] for t, out in zip(self._outputs, outputs)},
            )
            for k in range(frames)
        ]
        return bindings, outputs

    def default_requests_in_flight(self) -> int:
        if self._cim is None:
            return 1
        return max(1, int(self._cim.get_async_queue_size()) // max(1, self.settings.batch_size))

    def run_in_flight(self, feeds: Feeds, requests: int, keep_going: Callable[[], bool], done: OnComplete) -> None:
        if self._cim is None:  # vstreams: one pipeline, which streams a batch's frames itself
            run_threads([self.predict], feeds, keep_going, done)
            return
        slots = threading.Semaphore(requests)
        errors: List[BaseException] = []
        timeout_s = self.options.timeout_ms / 1000.0

        def submit() -> None:
            bindings, _ = self._bindings(feeds)
            start = time.monotonic_ns()

            def finished(completion_info) -> None:
                if completion_info.exception is not None:
                    errors.append(completion_info.exception)
                else:
                    done(start, time.monotonic_ns())
                slots.release()

            self._cim.run_async(bindings, finished)

        while keep_going() and not errors:
            if not slots.acquire(timeout=timeout_s):
                raise RuntimeFailure("HailoRT: no inference completed within {} ms".format(self.options.timeout_ms))
            self._cim.wait_for_async_ready(timeout_ms=self.options.timeout_ms, frames_count=self.settings.batch_size)
            submit()
        for _ in range(requests):  # the inferences still in flight finish before the window closes
            slots.acquire(timeout=timeout_s)
        if errors:
            raise errors[0]

    def close(self) -> None:
        for context in reversed(self._contexts):
            try:
                exit_ = getattr(context, "__exit__", None)
                exit_(None, None, None) if exit_ else context.release()
            except Exception:  # noqa: BLE001 - closing must not mask the run's own outcome
                pass
        self._contexts = []
        self._cim = self._pipeline = self._vdevice = None


def _who(fmt: str, verb: str) -> str:
    return (
        "{} by HailoRT on the host, timed".format(verb)
        if fmt == "float32"
        else "{} by the runner, untimed".format(verb)
    )


@dataclasses.dataclass(frozen=True)
class _Tensor:
    name: str
    shape: Tuple[int, ...]
    scale: float
    zero: float

    @classmethod
    def of(cls, info) -> _Tensor:
        """A vstream info (.quant_info) or an InferModel stream (.quant_infos)."""
        quant = info.quant_info if hasattr(info, "quant_info") else info.quant_infos[0]
        return cls(info.name, tuple(int(d) for d in info.shape), float(quant.qp_scale), float(quant.qp_zp))
