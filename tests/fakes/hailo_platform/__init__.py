"""Double of HailoRT's Python package `hailo_platform` (4.x, the Hailo-8 line), one API generation
at a time: VEDLIOT_FAKE_HAILORT_VERSION (default 4.23.0) >= 4.18 has the InferModel API
(VDevice.create_infer_model) besides the vstream API; 4.17 and older have the vstreams only.
Names, signatures, exception classes and messages follow pyhailort.py of those versions
(tests/data/hailort-api/api.json, with sources).

The device: VEDLIOT_FAKE_HAILO lists the device ids Device.scan() returns (default none: no
device); VEDLIOT_FAKE_HAILO_ARCH its architecture (HAILO8); VEDLIOT_FAKE_HAILO_DRIVER the hailo_pci
driver version (default: the library's; another gives status 76 as the real library does);
VEDLIOT_FAKE_HAILO_BUSY=1 a device held by another process (status 74 from VDevice()).

A "HEF" of this double is `FAKEHEF1\\n`, one JSON line (architecture; quantization of each input
and output) and an ONNX model, which it runs on ONNX Runtime's CPU provider, frames in HailoRT's (h, w, c)
order (tests/fakes/hailo_platform/hef.py).
"""

import os

__version__ = os.environ.get("VEDLIOT_FAKE_HAILORT_VERSION", "4.23.0")

from hailo_platform.pyhailort.pyhailort import (
    HEF,
    AveragingFactor,
    ConfigureParams,
    Device,
    DvmTypes,
    FormatType,
    HailoRTException,
    HailoSchedulingAlgorithm,
    HailoStreamInterface,
    InferVStreams,
    InputVStreamParams,
    MeasurementBufferIndex,
    OutputVStreamParams,
    PowerMeasurementTypes,
    SamplingPeriod,
    VDevice,
)

__all__ = [
    "HEF",
    "AveragingFactor",
    "ConfigureParams",
    "Device",
    "DvmTypes",
    "FormatType",
    "HailoRTException",
    "HailoSchedulingAlgorithm",
    "HailoStreamInterface",
    "InferVStreams",
    "InputVStreamParams",
    "MeasurementBufferIndex",
    "OutputVStreamParams",
    "PowerMeasurementTypes",
    "SamplingPeriod",
    "VDevice",
]
