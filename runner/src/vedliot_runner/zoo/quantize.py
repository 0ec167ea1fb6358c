"""int8 ONNX variants: QDQ through ONNX Runtime's static quantization, one calibration, two forms.

- `s8s8`: symmetric int8 activations and weights, per-channel weights: the explicit-QDQ form
  TensorRT builds INT8 engines from (implicit calibration is deprecated there), and that OpenVINO
  and TVM import as well.
- `u8s8`: asymmetric uint8 activations, symmetric per-channel int8 weights: the form ONNX Runtime's
  CPU kernels run fastest (its documentation's default; its x86 int8 GEMMs take u8 x s8).
Which backend takes which: BackendEntry.int8_form (backends/__init__.py).

The u8s8 file also writes hard-swish and hard-sigmoid as Add, Clip and Mul before quantizing, so
that ONNX Runtime runs them in uint8 rather than as float islands (qdq_hard.py)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator, List

import numpy as np

DEFAULT_FORM = "s8s8"
#: form -> what a record states of it
INT8_FORMS = {
    "s8s8": {"name": "s8s8", "activations": "int8", "weights": "int8", "per_channel": True,
             "symmetric_activations": True},
    "u8s8": {"name": "u8s8", "activations": "uint8", "weights": "int8", "per_channel": True,
             "symmetric_activations": False},
}  # fmt: skip
#: forms whose graph differs from the fp32 one, by revision: a zoo recipe key, so a cached
#: file made the old way is rebuilt (zoo/build.py)
GRAPH_REVISION = {"u8s8": 2}


def quantize_qdq(
    fp32_path: Path, out_path: Path, input_name: str, batches: Iterator[np.ndarray], form: str = DEFAULT_FORM
) -> None:
    import onnx

    from vedliot_runner.zoo import qdq_hard

    source, gates = fp32_path, []
    if form in GRAPH_REVISION:
        decomposed = qdq_hard.decompose(onnx.load(str(fp32_path)))
        gates = qdq_hard.gate_scales(decomposed)
        if gates:
            source = out_path.with_name(out_path.name + ".hard.onnx")
            onnx.save(decomposed, str(source))
    try:
        _quantize_static(source, out_path, input_name, batches, form, gates)
    finally:
        if source != fp32_path:
            source.unlink()
    if gates:
        onnx.save(qdq_hard.fold_gate_scales(onnx.load(str(out_path))), str(out_path))


def _quantize_static(
    source: Path, out_path: Path, input_name: str, batches: Iterator[np.ndarray], form: str, excluded: List[str]
) -> None:
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
            str(source),
            str(out_path),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8 if INT8_FORMS[form]["activations"] == "uint8" else QuantType.QInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=excluded,
            extra_options={"ActivationSymmetric": INT8_FORMS[form]["symmetric_activations"], "WeightSymmetric": True},
        )
    finally:
        root.setLevel(level)
