"""A tiny CNN (3x32x32 input, 10 classes, ~2 MMAC): well under 1 ms per inference on a CPU core,
for smoke runs and for measuring the harness's own overhead where it is most visible."""

from __future__ import annotations

NAME = "tinycnn"
IMAGE_SIZE = 32
CLASSES = 10
TASK = "classification"
LABELS = None
PREPROCESSING = {
    "resize_shorter": 32,
    "crop": 32,
    "channel_order": "RGB",
    "scale": 1 / 255,
    "mean": [0.5] * 3,
    "std": [0.5] * 3,
    "style": "torch",
}


def define(g, image_size: int = IMAGE_SIZE, classes: int = CLASSES) -> None:
    x = g.relu(g.conv(g.input("input", 3, image_size), 3, 16, 3))
    x = g.relu(g.conv(x, 16, 32, 3, stride=2))
    x = g.relu(g.conv(x, 32, 32, 3, groups=32))
    x = g.relu(g.conv(x, 32, 64, 1, stride=2))
    x = g.flatten(g.global_avgpool(x))
    g.output("logits", g.dense(x, 64, classes))


def output_shapes(image_size: int = IMAGE_SIZE, classes: int = CLASSES):
    return {"logits": ["batch", classes]}
