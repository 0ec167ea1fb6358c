"""hailo_platform.pyhailort.pyhailort double: see the package docstring."""

import enum
import json
import os

import numpy as np

from hailo_platform import hef as _hef

_VERSION = tuple(int(x) for x in os.environ.get("VEDLIOT_FAKE_HAILORT_VERSION", "4.23.0").split(".")[:3])
_STATUS = {
    2: "HAILO_INVALID_ARGUMENT",
    4: "HAILO_TIMEOUT",
    18: "HAILO_FW_CONTROL_FAILURE",
    26: "HAILO_INVALID_HEF",
    61: "HAILO_NOT_FOUND",
    69: "HAILO_NETWORK_GROUP_NOT_ACTIVATED",
    74: "HAILO_OUT_OF_PHYSICAL_DEVICES",
    76: "HAILO_INVALID_DRIVER_VERSION",
    93: "HAILO_HEF_NOT_COMPATIBLE_WITH_DEVICE",
}


class HailoRTException(Exception):
    pass


class HailoRTTimeout(HailoRTException):
    pass


class HailoRTInvalidHEFException(HailoRTException):
    pass


class HailoRTNotFoundException(HailoRTException):
    pass


class HailoRTInvalidArgumentException(HailoRTException):
    pass


class HailoRTFirmwareControlFailedException(HailoRTException):
    pass


if _VERSION >= (4, 21, 0):

    class HailoRTHEFNotCompatibleWithDevice(HailoRTException):
        pass


def _status(code):
    """ExceptionWrapper.create_exception_from_status: the class and message libhailort's code maps to."""
    name = _STATUS.get(code, "HAILO_UNKNOWN")
    if name == "HAILO_TIMEOUT":
        return HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred")
    if name == "HAILO_INVALID_HEF":
        return HailoRTInvalidHEFException("Invalid HEF. See hailort.log for more information")
    if name == "HAILO_FW_CONTROL_FAILURE":
        return HailoRTFirmwareControlFailedException("libhailort control operation failed")
    if name == "HAILO_INVALID_ARGUMENT":
        return HailoRTInvalidArgumentException("Invalid argument. See hailort.log for more information")
    if name == "HAILO_NOT_FOUND":
        return HailoRTNotFoundException("Item not found. See hailort.log for more information")
    if name == "HAILO_HEF_NOT_COMPATIBLE_WITH_DEVICE":
        return HailoRTHEFNotCompatibleWithDevice(
            "HEF file is not compatible with device. See hailort.log for more information")  # fmt: skip
    return HailoRTException("libhailort failed with error: {} ({})".format(code, name))


class FormatType(enum.IntEnum):
    AUTO = 0
    UINT8 = 1
    UINT16 = 2
    FLOAT32 = 3


class HailoStreamInterface(enum.IntEnum):
    PCIe = 0
    INTEGRATED = 1
    ETH = 2
    MIPI = 3


class HailoSchedulingAlgorithm(enum.IntEnum):
    NONE = 0
    ROUND_ROBIN = 1


class DeviceArchitectureTypes(enum.IntEnum):
    HAILO8_A0 = 0
    HAILO8 = 1
    HAILO8L = 2
    HAILO15H = 3

    def __str__(self):
        return self.name


class _Obj:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def _ids():
    return [i for i in os.environ.get("VEDLIOT_FAKE_HAILO", "").split(",") if i]


def _arch():
    return DeviceArchitectureTypes[os.environ.get("VEDLIOT_FAKE_HAILO_ARCH", "HAILO8")]


class _VStreamInfo:
    def __init__(self, name, shape, scale, zp):
        self.name, self.shape = name, tuple(shape)
        self.format = _Obj(type=FormatType.UINT8, order="NHWC")
        self.quant_info = _Obj(qp_scale=scale, qp_zp=zp)

    def __repr__(self):
        return 'VStreamInfo("{}")'.format(self.name)


class HEF:
    def __init__(self, hef_source):
        if isinstance(hef_source, str):
            found = _hef.read(hef_source) if os.path.isfile(hef_source) else None
            if found is None:
                raise _status(26 if os.path.isfile(hef_source) else 61)
        else:
            raise ValueError("HEF can only be created from a file path (str) or a buffer (bytes)")
        self._meta, self._onnx = found
        import onnxruntime

        self._session = onnxruntime.InferenceSession(self._onnx, providers=["CPUExecutionProvider"])
        self._inputs = [self._info(i, self._meta["inputs"]) for i in self._session.get_inputs()]
        self._outputs = [self._info(o, self._meta["outputs"]) for o in self._session.get_outputs()]

    @staticmethod
    def _info(tensor, quant):
        shape = [d if isinstance(d, int) else 1 for d in tensor.shape[1:]]
        if len(shape) == 3:  # vstreams are (h, w, c): the ONNX model's (c, h, w) as HailoRT shows it
            shape = shape[1:] + shape[:1]
        return _VStreamInfo(tensor.name, shape, *quant[tensor.name])

    def get_network_group_names(self):
        return ["fake_net"]

    def get_input_vstream_infos(self, name=None):
        return list(self._inputs)

    def get_output_vstream_infos(self, name=None):
        return list(self._outputs)

    def _run(self, frames, in_formats, out_formats):
        """Frames in the user's formats -> outputs in theirs, one frame at a time as a stream."""
        outputs = {o.name: [] for o in self._outputs}
        count = len(next(iter(frames.values())))
        for k in range(count):
            feeds = {}
            for info in self._inputs:
                data = np.asarray(frames[info.name][k])
                if in_formats[info.name] != FormatType.FLOAT32:
                    data = (data.astype(np.float32) - info.quant_info.qp_zp) * info.quant_info.qp_scale
                if data.ndim == 3:
                    data = data.transpose(2, 0, 1)  # NHWC frame to the ONNX model's CHW
                feeds[info.name] = data[None].astype(np.float32)
            for info, out in zip(self._outputs, self._session.run(None, feeds), strict=True):
                out = out[0].transpose(1, 2, 0) if out[0].ndim == 3 else out[0]
                if out_formats[info.name] != FormatType.FLOAT32:
                    q = np.round(out / info.quant_info.qp_scale + info.quant_info.qp_zp)
                    out = np.clip(q, 0, 255).astype(np.uint8)
                outputs[info.name].append(out.astype(np.float32) if out.dtype != np.uint8 else out)
        return {name: np.stack(frames) for name, frames in outputs.items()}


def _log(*call):
    path = os.environ.get("VEDLIOT_FAKE_HAILO_LOG")
    if path:
        with open(path, "a") as log:
            log.write(json.dumps(call) + "\n")


def _enum(name, members):
    cls = enum.IntEnum(name, [(m, i) for i, m in enumerate(members)])
    cls.__str__ = lambda self: "{}.{}".format(type(self).__name__, self.name)  # as pybind11's enums print
    return cls


DvmTypes = _enum("DvmTypes", ["AUTO", "VDD_CORE", "VDD_IO", "MIPI_AVDD", "OVERCURRENT_PROTECTION"])
PowerMeasurementTypes = _enum("PowerMeasurementTypes", ["AUTO", "SHUNT_VOLTAGE", "BUS_VOLTAGE", "POWER", "CURRENT"])
MeasurementBufferIndex = _enum("MeasurementBufferIndex", ["MEASUREMENT_BUFFER_INDEX_{}".format(i) for i in range(4)])
SamplingPeriod = _enum(
    "SamplingPeriod", ["PERIOD_{}us".format(p) for p in (140, 204, 332, 588, 1100, 2116, 4156, 8244)]
)
AveragingFactor = _enum("AveragingFactor", ["AVERAGE_{}".format(a) for a in (1, 4, 16, 64, 128, 256, 512, 1024)])


class PowerMeasurementData:
    def __init__(self, watts, samples):
        self.average_value, self.min_value, self.max_value = watts, watts * 0.96, watts * 1.04
        self.average_time_value_milliseconds, self.total_number_of_samples = 35.2, samples


class Control:
    """Device control. The power sensor: VEDLIOT_FAKE_HAILO_POWER_W watts (2.5);
    VEDLIOT_FAKE_HAILO_NO_SENSOR=1 a board without one; reads fail (HAILO_TIMEOUT) while the file
    VEDLIOT_FAKE_HAILO_POWER_FAIL_FILE names exists. Calls are logged, one JSON line each, to the file
    VEDLIOT_FAKE_HAILO_LOG names (the meter runs in a process of its own)."""

    def __init__(self, device_id):
        self._id = device_id
        self._measuring = False

    def set_power_measurement(self, buffer_index=MeasurementBufferIndex.MEASUREMENT_BUFFER_INDEX_0,
                              dvm=DvmTypes.AUTO, measurement_type=PowerMeasurementTypes.AUTO):  # fmt: skip
        if os.environ.get("VEDLIOT_FAKE_HAILO_NO_SENSOR") == "1":
            raise _status(18)
        _log("set", str(buffer_index), str(dvm), str(measurement_type))

    def start_power_measurement(self, averaging_factor=AveragingFactor.AVERAGE_256,
                                sampling_period=SamplingPeriod.PERIOD_1100us):  # fmt: skip
        self._measuring = True
        _log("start", str(averaging_factor), str(sampling_period))

    def stop_power_measurement(self):
        self._measuring = False
        _log("stop")

    def get_power_measurement(self, buffer_index=MeasurementBufferIndex.MEASUREMENT_BUFFER_INDEX_0, should_clear=True):
        failing = os.environ.get("VEDLIOT_FAKE_HAILO_POWER_FAIL_FILE")
        if failing and os.path.exists(failing):
            raise _status(4)
        return PowerMeasurementData(
            float(os.environ.get("VEDLIOT_FAKE_HAILO_POWER_W", "2.5")), 3 if self._measuring else 0
        )

    def identify(self):
        major, minor, rev = _VERSION
        return _Obj(protocol_version=2, firmware_version="{}.{}.{} (release,app)".format(major, minor, rev),
                    logger_version=0, board_name="Hailo-8", is_release=True, device_architecture=_arch(),
                    serial_number="DOUBLE-0001", part_number="DOUBLE", product_name="double")  # fmt: skip


class Device:
    @classmethod
    def scan(cls):
        return _ids()

    def __init__(self, device_id=None):
        ids = Device.scan()
        if not ids:
            raise HailoRTException("HailoRT device not found in the system")
        self._device_id = device_id or ids[0]
        self.control = Control(self._device_id)

    @property
    def device_id(self):
        return self._device_id

    def release(self):
        _log("release")


class VDevice:
    def __init__(self, params=None, *, device_ids=None):
        self._params = params or VDevice.create_params()
        driver = os.environ.get("VEDLIOT_FAKE_HAILO_DRIVER")
        if driver and driver != ".".join(map(str, _VERSION)):
            raise _status(76)
        if not _ids() or os.environ.get("VEDLIOT_FAKE_HAILO_BUSY") == "1":
            raise _status(74)
        self._ids = list(device_ids or _ids()[:1])

    @staticmethod
    def create_params():
        return _Obj(scheduling_algorithm=HailoSchedulingAlgorithm.NONE, device_count=1, group_id="")

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.release()
        return False

    def release(self):
        pass

    def get_physical_devices(self):
        return [Device(i) for i in self._ids]

    def get_physical_devices_ids(self):
        return list(self._ids)

    def _check(self, hef):
        device, wanted = _arch(), hef._meta["arch"]
        accepted = {"HAILO8": {"HAILO8", "HAILO8L", "HAILO8R"}, "HAILO8L": {"HAILO8L"}}.get(device.name, {device.name})
        if wanted not in accepted:
            raise _status(93 if _VERSION >= (4, 21, 0) else 26)

    def configure(self, hef, configure_params_by_name={}):  # noqa: B006 - HailoRT's own signature
        self._check(hef)
        return [ConfiguredNetwork(hef, self._params)]

    if _VERSION >= (4, 18, 0):

        def create_infer_model(self, hef_source, name=""):
            hef = HEF(hef_source)
            self._check(hef)
            from hailo_platform.pyhailort._infer_model import InferModel

            return InferModel(hef)


class ConfigureParams:
    @staticmethod
    def create_from_hef(hef, interface):
        return {name: _Obj(batch_size=1) for name in hef.get_network_group_names()}


class _Activation:
    def __init__(self, network):
        self._network = network

    def __enter__(self):
        self._network._active = True
        return self

    def __exit__(self, *args):
        self._network._active = False
        return False


class ConfiguredNetwork:
    def __init__(self, hef, params):
        self._hef, self._params, self._active = hef, params, False

    @property
    def name(self):
        return "fake_net"

    def create_params(self):
        return _Obj()

    def activate(self, network_group_params=None):
        return _Activation(self)

    def get_input_vstream_infos(self, network_name=None):
        return self._hef.get_input_vstream_infos()

    def get_output_vstream_infos(self, network_name=None):
        return self._hef.get_output_vstream_infos()


def _vstream_params(infos, format_type):
    return {i.name: _Obj(user_buffer_format=_Obj(type=format_type or FormatType.AUTO)) for i in infos}


class InputVStreamParams:
    @staticmethod
    def make(configured_network, quantized=None, format_type=None, timeout_ms=None, queue_size=None, network_name=None):
        return _vstream_params(configured_network.get_input_vstream_infos(), format_type)


class OutputVStreamParams:
    @staticmethod
    def make(configured_network, quantized=None, format_type=None, timeout_ms=None, queue_size=None, network_name=None):
        return _vstream_params(configured_network.get_output_vstream_infos(), format_type)


def _item_size(fmt):
    return 4 if fmt == FormatType.FLOAT32 else 1


class InferVStreams:
    def __init__(self, configured_net_group, input_vstreams_params, output_vstreams_params, tf_nms_format=False):
        self._net = configured_net_group
        self._in = {k: v.user_buffer_format.type for k, v in input_vstreams_params.items()}
        self._out = {k: v.user_buffer_format.type for k, v in output_vstreams_params.items()}

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False

    def infer(self, input_data):
        if not self._net._active and self._net._params.scheduling_algorithm == HailoSchedulingAlgorithm.NONE:
            raise _status(69)
        if not isinstance(input_data, dict):
            input_data = {self._net.get_input_vstream_infos()[0].name: input_data}
        for name, data in input_data.items():
            if name not in self._in:
                raise _status(61)
            if np.asarray(data).dtype.itemsize != _item_size(self._in[name]):
                raise HailoRTException("{} numpy array item size is {}, not {}".format(
                    name, np.asarray(data).dtype.itemsize, _item_size(self._in[name])))  # fmt: skip
        return self._net._hef._run(input_data, self._in, self._out)


def __getattr__(name):
    # the InferModel classes live in their own module of this double (4.18+ only)
    if name in ("InferModel", "ConfiguredInferModel", "AsyncInferJob") and _VERSION >= (4, 18, 0):
        from hailo_platform.pyhailort import _infer_model

        return getattr(_infer_model, name)
    raise AttributeError(name)
