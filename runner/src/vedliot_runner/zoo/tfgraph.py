"""The TensorFlow builder: the same layer methods as graph.GraphBuilder, on NHWC tf tensors, for
the TFLite variants. Used inside a tf.function trace; weights come from the same WeightSource in
the same order, so a model's TFLite file holds the weights of its ONNX file. Weights may be numpy
arrays (constants folded by the converter) or tf.Variables (training the digits model).

In a full-integer trace, hard-swish and hard-sigmoid leave their constant `* 1/6` pending instead of
writing it: it rides along linear steps (global pooling, flatten, a product) and the next
convolution takes it into its weights. Each would otherwise be one more int8 MUL over the whole
tensor in XNNPACK, 28 of them in MobileNetV3-Small; without them its int8 file runs 1.09-1.12x
faster (docs/benchmarks.md). The float trace is unchanged: the converter fuses hard-swish whole."""

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
        self._scales: Dict[object, float] = {}  # tensor ref -> its pending constant factor

    # -- pending constant factors (full-integer traces) ---------------------------------------
    def _pending(self, x) -> float:
        return self._scales.get(x.ref(), 1.0) if self._scales else 1.0

    def _defer(self, x, scale: float):
        """`x`, standing for x * scale."""
        if scale != 1.0:
            self._scales[x.ref()] = scale
        return x

    def _settled(self, x):
        """`x` times its pending factor: for the steps a factor cannot pass through."""
        scale = self._pending(x)
        return x if scale == 1.0 else x * scale

    def _absorbed(self, weight, x):
        """Weights of a linear layer reading `x`, with x's pending factor taken in."""
        scale = self._pending(x)
        return weight if scale == 1.0 else weight * np.float32(scale)

    def input(self, name: str, channels: int, size: int):
        return self.image

    def output(self, name: str, x):
        self.outputs[name] = self.tf.identity(self._settled(x), name=name)
        return x

    def _pad(self, x, p: int):
        return self.tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]]) if p else x

    def conv(self, x, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, gain: float = 1.0):
        tf = self.tf
        weight, bias = self.weights.conv(cin, cout, kernel, groups, gain)
        weight = self._absorbed(weight, x)
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
        weight = self._absorbed(weight, x)
        return self.tf.matmul(x, self.tf.transpose(weight)) + bias

    def relu(self, x):
        return self.tf.nn.relu(self._settled(x))

    def relu6(self, x):
        return self.tf.nn.relu6(self._settled(x))

    def hardswish(self, x):
        if not self.integer:
            return x * self.tf.nn.relu6(x + 3.0) * (1.0 / 6.0)  # fused into HARD_SWISH by the converter
        # LiteRT's XNNPACK delegate takes only a float HARD_SWISH: an int8 one split
        # MobileNetV3-Small into 20 partitions with TFLite's own kernel between them (8.2 ms against
        # 2.6 ms here). Without its 1/6, left pending, there is no HARD_SWISH pattern to fuse.
        x = self._settled(x)
        return self._defer(x * self.tf.nn.relu6(x + 3.0), 1.0 / 6.0)

    def hardsigmoid(self, x):
        if not self.integer:
            return self.tf.nn.relu6(x + 3.0) * (1.0 / 6.0)
        # The + 3 goes into the bias of the convolution before (the converter folds it).
        return self._defer(self.tf.nn.relu6(self._settled(x) + 3.0), 1.0 / 6.0)

    def mish(self, x):
        x = self._settled(x)
        return x * self.tf.math.tanh(self.tf.math.softplus(x))

    def leaky_relu(self, x, alpha: float = 0.1):
        return self.tf.nn.leaky_relu(self._settled(x), alpha=alpha)

    def add(self, a, b):
        return self._settled(a) + self._settled(b)

    def mul(self, a, b):
        return self._defer(a * b, self._pending(a) * self._pending(b))

    def concat(self, tensors: Sequence):
        return self.tf.concat([self._settled(t) for t in tensors], axis=-1)

    def maxpool(self, x, kernel: int, stride: int):
        x = self._settled(x)
        if stride == 1:
            return self.tf.nn.max_pool2d(x, kernel, 1, "SAME")
        # Zero padding equals ONNX's ignored padding only for non-negative inputs: the zoo's one
        # strided max pool (ResNet50's stem) follows a ReLU.
        return self.tf.nn.max_pool2d(self._pad(x, kernel // 2), kernel, stride, "VALID")

    def global_avgpool(self, x):
        return self._defer(self.tf.reduce_mean(x, axis=[1, 2], keepdims=True), self._pending(x))

    def flatten(self, x):
        return self._defer(self.tf.reshape(x, [-1, x.shape[-1]]), self._pending(x))

    def upsample2x(self, x):
        x = self._settled(x)
        size = self.tf.shape(x)[1:3] * 2
        return self.tf.image.resize(x, size, method="nearest")
