"""ResNet50 v1 (224x224, 1000 classes), the report's mid-sized model.

v1 puts the stride of a downsampling bottleneck on its first 1x1 convolution, as the original
paper and the Caffe/Keras models do (v1.5, torchvision's, puts it on the 3x3 and costs ~5% more):
7.72 GOps counted, against 7.78 in D3.3 Table 1.
"""

from __future__ import annotations

from vedliot_runner.zoo.preprocessing import IMAGENET_TORCH
from vedliot_runner.zoo.weights import RESIDUAL_GAIN

NAME = "resnet50"
IMAGE_SIZE = 224
CLASSES = 1000
TASK = "classification"
LABELS = "imagenet-1k"
PREPROCESSING = IMAGENET_TORCH
STAGES = ((64, 3), (128, 4), (256, 6), (512, 3))  # (bottleneck width, blocks)
EXPANSION = 4


def _bottleneck(g, x, cin: int, width: int, stride: int):
    cout = width * EXPANSION
    y = g.relu(g.conv(x, cin, width, 1, stride=stride))
    y = g.relu(g.conv(y, width, width, 3))
    y = g.conv(y, width, cout, 1, gain=RESIDUAL_GAIN)
    shortcut = g.conv(x, cin, cout, 1, stride=stride) if (stride != 1 or cin != cout) else x
    return g.relu(g.add(y, shortcut))


def define(g, image_size: int = IMAGE_SIZE, classes: int = CLASSES) -> None:
    x = g.relu(g.conv(g.input("input", 3, image_size), 3, 64, 7, stride=2))
    x = g.maxpool(x, 3, 2)
    cin = 64
    for index, (width, blocks) in enumerate(STAGES):
        for block in range(blocks):
            x = _bottleneck(g, x, cin, width, 2 if (block == 0 and index > 0) else 1)
            cin = width * EXPANSION
    x = g.flatten(g.global_avgpool(x))
    g.output("logits", g.dense(x, cin, classes))


def output_shapes(image_size: int = IMAGE_SIZE, classes: int = CLASSES):
    return {"logits": ["batch", classes]}
