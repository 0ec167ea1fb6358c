"""TFLite variants, built with TensorFlow from the same definition and weights as the ONNX file:
fp32; fp16 (float16 weights, the converter's float16 quantization); and full-integer int8 with int8
input and output tensors, as the Edge TPU compiler and the i.MX8M Plus NPU require. Layout NHWC."""

from __future__ import annotations

import os
from types import ModuleType
from typing import Callable, Iterator

import numpy as np

from vedliot_runner.quiet import native_output_captured
from vedliot_runner.zoo.weights import WeightSource


def quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def convert(
    module: ModuleType,
    weights: Callable[[], WeightSource],
    precision: str,
    calibration: Callable[[], Iterator[np.ndarray]],
) -> bytes:
    """The .tflite bytes of `module` at `precision` (fp32, fp16 or int8). `weights` makes a fresh
    weight source (the one the ONNX file was built from); `calibration` yields NCHW float32
    batches (the ONNX layout), transposed here."""
    quiet_tensorflow()
    import tensorflow as tf

    from vedliot_runner.zoo.tfgraph import TFBuilder

    size = module.IMAGE_SIZE
    spec = tf.TensorSpec([None, size, size, 3], tf.float32, name="input")

    class Model(tf.Module):
        @tf.function(input_signature=[spec])
        def serve(self, image):
            g = TFBuilder(module.NAME, weights(), image, integer=precision == "int8")
            module.define(g, size)
            return g.outputs

    model = Model()
    concrete = model.serve.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":

        def representative():
            for batch in calibration():
                for sample in batch:
                    yield [np.ascontiguousarray(sample.transpose(1, 2, 0)[None])]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif precision != "fp32":
        raise ValueError("no TFLite recipe for " + precision)
    with native_output_captured():
        return converter.convert()
