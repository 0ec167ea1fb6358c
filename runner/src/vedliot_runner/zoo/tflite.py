"""TFLite variants, built with TensorFlow from the same definition and weights as the ONNX file:
fp32; fp16 (float16 weights, the converter's float16 quantization); and full-integer int8 with int8
input and output tensors, as the Edge TPU compiler and the i.MX8M Plus NPU require. Layout NHWC."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from types import ModuleType
from typing import Callable, Iterator

import numpy as np

from vedliot_runner.zoo.weights import HeadAdjust, WeightSource


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


@contextlib.contextmanager
def _native_output_captured():
    """TensorFlow's converter prints from C++ straight to fds 1 and 2; keep it out of the
    user's terminal, and hand it over only if the conversion fails."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            sink.seek(0)
            tail = sink.read()[-4000:].decode("utf-8", "replace")
            sys.stderr.write(tail)
            raise
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def convert(
    module: ModuleType,
    seed: int,
    head: HeadAdjust | None,
    precision: str,
    calibration: Callable[[], Iterator[np.ndarray]],
) -> bytes:
    """The .tflite bytes of `module` at `precision` (fp32, fp16 or int8).
    `calibration` yields NCHW float32 batches (the ONNX layout); they are transposed here."""
    _quiet_tensorflow()
    import tensorflow as tf

    from vedliot_runner.zoo.tfgraph import TFBuilder

    size = module.IMAGE_SIZE
    spec = tf.TensorSpec([None, size, size, 3], tf.float32, name="input")

    class Model(tf.Module):
        @tf.function(input_signature=[spec])
        def serve(self, image):
            g = TFBuilder(module.NAME, WeightSource(seed, head), image)
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
    with _native_output_captured():
        return converter.convert()
