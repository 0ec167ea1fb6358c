"""MobileNetV2 (224x224, 1000 classes, width 1.0, ReLU6), Sandler et al. 2018: the model the
report ran on the Xilinx DPU in place of MobileNetV3-Small. 0.60 GOps (the paper's 300M MAdds)."""

from __future__ import annotations

from vedliot_runner.zoo.preprocessing import IMAGENET_TORCH
from vedliot_runner.zoo.weights import RESIDUAL_GAIN

NAME = "mobilenetv2"
IMAGE_SIZE = 224
CLASSES = 1000
TASK = "classification"
LABELS = "imagenet-1k"
PREPROCESSING = IMAGENET_TORCH
# expansion t, out channels c, repeats n, first stride s (paper Table 2)
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
LAST_CONV = 1280


def _inverted_residual(g, x, cin: int, cout: int, stride: int, expansion: int):
    hidden = cin * expansion
    residual = stride == 1 and cin == cout
    y = g.relu6(g.conv(x, cin, hidden, 1)) if expansion != 1 else x
    y = g.relu6(g.conv(y, hidden, hidden, 3, stride=stride, groups=hidden))
    y = g.conv(y, hidden, cout, 1, gain=RESIDUAL_GAIN if residual else 1.0)
    return g.add(y, x) if residual else y


def define(g, image_size: int = IMAGE_SIZE, classes: int = CLASSES) -> None:
    x = g.relu6(g.conv(g.input("input", 3, image_size), 3, 32, 3, stride=2))
    cin = 32
    for expansion, cout, repeats, stride in SETTINGS:
        for index in range(repeats):
            x = _inverted_residual(g, x, cin, cout, stride if index == 0 else 1, expansion)
            cin = cout
    x = g.relu6(g.conv(x, cin, LAST_CONV, 1))
    x = g.flatten(g.global_avgpool(x))
    g.output("logits", g.dense(x, LAST_CONV, classes))


def output_shapes(image_size: int = IMAGE_SIZE, classes: int = CLASSES):
    return {"logits": ["batch", classes]}
