"""The TensorFlow builder's full-integer trace: hard-swish's and hard-sigmoid's 1/6 left pending and
taken into the next convolution's weights (zoo/tfgraph.py). Same function, fewer int8 MULs."""

from __future__ import annotations

import numpy as np
import pytest

from vedliot_runner.zoo import mobilenetv3_small
from vedliot_runner.zoo.tflite import quiet_tensorflow
from vedliot_runner.zoo.weights import WeightSource

tf = pytest.importorskip("tensorflow")


def _block(g, x):
    """Every path a pending factor takes in MobileNetV3, and the ones it must stop at."""
    y = g.hardswish(g.conv(x, 3, 8, 3, stride=2))  # padded before a strided conv
    y = g.hardswish(g.conv(y, 8, 8, 3, groups=8))  # depthwise
    s = g.hardsigmoid(g.conv(g.relu(g.conv(g.global_avgpool(y), 8, 4, 1)), 4, 8, 1))
    y = g.conv(g.mul(y, s), 8, 8, 1)  # both factors of a product
    y = g.add(g.hardswish(y), y)  # settled before an addition
    y = g.relu(g.hardswish(y))  # and before a non-linear step
    z = g.flatten(g.global_avgpool(g.hardswish(y)))
    g.output("dense", g.dense(z, 8, 5))
    g.output("pooled", g.flatten(g.global_avgpool(g.hardswish(y))))  # pending at an output


def _trace(integer: bool, image):
    from vedliot_runner.zoo.tfgraph import TFBuilder

    g = TFBuilder("probe", WeightSource(3), image, integer=integer)
    _block(g, image)
    return g


def test_integer_trace_computes_the_float_function():
    quiet_tensorflow()
    image = tf.constant(np.random.default_rng(0).standard_normal((2, 12, 12, 3)).astype(np.float32) * 3)
    plain, folded = _trace(False, image), _trace(True, image)
    for name in ("dense", "pooled"):
        np.testing.assert_allclose(folded.outputs[name].numpy(), plain.outputs[name].numpy(), rtol=1e-5, atol=1e-6)


def _constant_muls(integer: bool, define) -> int:
    """Mul ops of the traced graph with a constant operand."""
    quiet_tensorflow()
    from vedliot_runner.zoo.tfgraph import TFBuilder

    @tf.function(input_signature=[tf.TensorSpec([1, 32, 32, 3], tf.float32)])
    def serve(image):
        g = TFBuilder("probe", WeightSource(3), image, integer=integer)
        define(g, 32)
        return g.outputs

    graph = serve.get_concrete_function().graph
    ops = {op.name: op for op in graph.get_operations()}
    return sum(
        1
        for op in graph.get_operations()
        if op.type == "Mul" and any(ops[t.op.name].type == "Const" for t in op.inputs)
    )


def test_integer_mobilenetv3_writes_no_multiply_by_a_constant():
    # The float trace has them (19 hard-swish and 9 hard-sigmoid): the converter fuses those.
    assert _constant_muls(False, mobilenetv3_small.define) == 28
    assert _constant_muls(True, mobilenetv3_small.define) == 0
