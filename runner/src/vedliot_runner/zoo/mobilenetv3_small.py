"""MobileNetV3-Small (224x224, 1000 classes, width 1.0): hard-swish and squeeze-excite, as in
Howard et al. 2019, Table 2, laid out like the torchvision/Keras reference implementations.

Counted: 56.5M multiply-adds (0.113 GOps), the paper's 56M. D3.3 Table 1 gives 89M (0.178 GOps)
and uses that figure in every MobileNetV3 table; see docs/zoo.md for why the zoo manifest follows it.
"""

from __future__ import annotations

from vedliot_runner.zoo.preprocessing import IMAGENET_TORCH
from vedliot_runner.zoo.weights import RESIDUAL_GAIN

NAME = "mobilenetv3_small"
IMAGE_SIZE = 224
CLASSES = 1000
TASK = "classification"
LABELS = "imagenet-1k"
PREPROCESSING = IMAGENET_TORCH
# D3.3 Table 1 and every MobileNetV3 table use 0.178 GOps; see docs/zoo.md.
PUBLISHED_GOPS = 0.178
# kernel, expansion, out channels, squeeze-excite, activation, stride
BLOCKS = (
    (3, 16, 16, True, "relu", 2),
    (3, 72, 24, False, "relu", 2),
    (3, 88, 24, False, "relu", 1),
    (5, 96, 40, True, "hswish", 2),
    (5, 240, 40, True, "hswish", 1),
    (5, 240, 40, True, "hswish", 1),
    (5, 120, 48, True, "hswish", 1),
    (5, 144, 48, True, "hswish", 1),
    (5, 288, 96, True, "hswish", 2),
    (5, 576, 96, True, "hswish", 1),
    (5, 576, 96, True, "hswish", 1),
)
LAST_CONV = 576
HEAD = 1024


def make_divisible(value: float, divisor: int = 8) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _squeeze_excite(g, x, channels: int):
    squeeze = make_divisible(channels / 4)
    s = g.global_avgpool(x)
    s = g.relu(g.conv(s, channels, squeeze, 1))
    s = g.hardsigmoid(g.conv(s, squeeze, channels, 1))
    return g.mul(x, s)


def _inverted_residual(g, x, cin: int, block):
    kernel, expansion, cout, se, act, stride = block
    residual = stride == 1 and cin == cout
    y = x
    if expansion != cin:
        y = g.activation(g.conv(y, cin, expansion, 1), act)
    y = g.activation(g.conv(y, expansion, expansion, kernel, stride=stride, groups=expansion), act)
    if se:
        y = _squeeze_excite(g, y, expansion)
    y = g.conv(y, expansion, cout, 1, gain=RESIDUAL_GAIN if residual else 1.0)
    return g.add(y, x) if residual else y


def define(g, image_size: int = IMAGE_SIZE, classes: int = CLASSES) -> None:
    x = g.hardswish(g.conv(g.input("input", 3, image_size), 3, 16, 3, stride=2))
    cin = 16
    for block in BLOCKS:
        x = _inverted_residual(g, x, cin, block)
        cin = block[2]
    x = g.hardswish(g.conv(x, cin, LAST_CONV, 1))
    x = g.global_avgpool(x)
    x = g.hardswish(g.conv(x, LAST_CONV, HEAD, 1))
    g.output("logits", g.flatten(g.conv(x, HEAD, classes, 1)))


def output_shapes(image_size: int = IMAGE_SIZE, classes: int = CLASSES):
    return {"logits": ["batch", classes]}
