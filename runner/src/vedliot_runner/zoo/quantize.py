"""int8 ONNX variant: QDQ through ONNX Runtime's static quantization.

Symmetric int8 for activations and weights, per-channel weights: the explicit-QDQ form TensorRT
builds INT8 engines from (implicit calibration is deprecated there), and that OpenVINO and TVM
import as well."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import numpy as np


def quantize_qdq(fp32_path: Path, out_path: Path, input_name: str, batches: Iterator[np.ndarray]) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(batches)

        def get_next(self):
            batch = next(self._batches, None)
            return None if batch is None else {input_name: batch}

    # onnxruntime.quantization logs a "consider pre-processing" hint on the root logger every call.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_static(
            str(fp32_path),
            str(out_path),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
        )
    finally:
        root.setLevel(level)
