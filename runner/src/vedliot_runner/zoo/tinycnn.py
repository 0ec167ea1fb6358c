"""A tiny CNN (3x32x32 input, 10 classes, ~5 MMAC): well under 1 ms per inference on a CPU core,
for smoke runs and for measuring the harness's own overhead where it is most visible."""

from __future__ import annotations

from vedliot_runner.zoo.graph import GraphBuilder


def build(seed: int = 0, image_size: int = 32, classes: int = 10):
    g = GraphBuilder("tinycnn", seed=seed)
    x = g.relu(g.conv("input", 3, 16, 3))
    x = g.relu(g.conv(x, 16, 32, 3, stride=2))
    x = g.relu(g.conv(x, 32, 32, 3, groups=32))
    x = g.relu(g.conv(x, 32, 64, 1, stride=2))
    x = g.flatten(g.global_avgpool(x))
    logits = g.rename_output(g.gemm(x, 64, classes), "logits")
    return g.model([("input", ["batch", 3, image_size, image_size])], [logits], [["batch", classes]])
