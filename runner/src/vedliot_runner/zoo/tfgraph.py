"""The TensorFlow builder: the same layer methods as graph.GraphBuilder, on NHWC tf tensors, for
the TFLite variants. Used inside a tf.function trace; weights come from the same WeightSource in
the same order, so a model's TFLite file holds the weights of its ONNX file. Weights may be numpy
arrays (constants folded by the converter) or tf.Variables (training the digits model)."""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

from vedliot_runner.zoo.graph import Activations
from vedliot_runner.zoo.weights import WeightSource


class TFBuilder(Activations):
    def __init__(self, name: str, weights: WeightSource, image, integer: bool = False) -> None:
        import tensorflow as tf

        self.tf = tf
        self.name = name
        self.integer = integer  # traced for a full-integer file
        self.weights = weights
        self.image = image
        self.outputs: Dict[str, object] = {}

    def input(self, name: str, channels: int, size: int):
        return self.image

    def output(self, name: str, x):
        self.outputs[name] = self.tf.identity(x, name=name)
        return x

    def _pad(self, x, p: int):
        return self.tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]]) if p else x

    def conv(self, x, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, gain: float = 1.0):
        tf = self.tf
        weight, bias = self.weights.conv(cin, cout, kernel, groups, gain)
        # ONNX pads k//2 on every side; TF's SAME matches that only at stride 1, so strided
        # convolutions pad explicitly to keep both files computing the same function.
        padding = "SAME" if stride == 1 else "VALID"
        if stride != 1:
            x = self._pad(x, kernel // 2)
        if groups == 1:
            y = tf.nn.conv2d(x, tf.transpose(weight, [2, 3, 1, 0]), strides=stride, padding=padding)
        elif groups == cin == cout:
            kernel_hwc1 = tf.transpose(weight[:, 0], [1, 2, 0])[..., None]
            y = tf.nn.depthwise_conv2d(x, kernel_hwc1, strides=[1, stride, stride, 1], padding=padding)
        else:
            raise ValueError("grouped convolution other than depthwise is not built for TFLite")
        return tf.nn.bias_add(y, bias) if bias is not None else y

    def dense(self, x, cin: int, cout: int):
        weight, bias = self.weights.dense(cin, cout)
        return self.tf.matmul(x, self.tf.transpose(weight)) + bias

    def relu(self, x):
        return self.tf.nn.relu(x)

    def relu6(self, x):
        return self.tf.nn.relu6(x)

    def hardswish(self, x):
        if not self.integer:
            return x * self.tf.nn.relu6(x + 3.0) * (1.0 / 6.0)  # fused into HARD_SWISH by the converter
        # LiteRT's XNNPACK delegate takes only a float HARD_SWISH: an int8 one split
        # MobileNetV3-Small into 20 partitions with TFLite's own kernel between them (8.2 ms against
        # 2.6 ms here). A per-channel 1/6 escapes the converter's fusion; (x / 6) * relu6(x + 3)
        # did too, but lost accuracy to the quantized x / 6.
        sixth = np.full([int(x.shape[-1])], 1.0 / 6.0, np.float32)
        return (x * self.tf.nn.relu6(x + 3.0)) * self.tf.constant(sixth)

    def hardsigmoid(self, x):
        return self.tf.nn.relu6(x + 3.0) * (1.0 / 6.0)

    def mish(self, x):
        return x * self.tf.math.tanh(self.tf.math.softplus(x))

    def leaky_relu(self, x, alpha: float = 0.1):
        return self.tf.nn.leaky_relu(x, alpha=alpha)

    def add(self, a, b):
        return a + b

    def mul(self, a, b):
        return a * b

    def concat(self, tensors: Sequence):
        return self.tf.concat(list(tensors), axis=-1)

    def maxpool(self, x, kernel: int, stride: int):
        if stride == 1:
            return self.tf.nn.max_pool2d(x, kernel, 1, "SAME")
        # Zero padding equals ONNX's ignored padding only for non-negative inputs: the zoo's one
        # strided max pool (ResNet50's stem) follows a ReLU.
        return self.tf.nn.max_pool2d(self._pad(x, kernel // 2), kernel, stride, "VALID")

    def global_avgpool(self, x):
        return self.tf.reduce_mean(x, axis=[1, 2], keepdims=True)

    def flatten(self, x):
        return self.tf.reshape(x, [-1, x.shape[-1]])

    def upsample2x(self, x):
        size = self.tf.shape(x)[1:3] * 2
        return self.tf.image.resize(x, size, method="nearest")
