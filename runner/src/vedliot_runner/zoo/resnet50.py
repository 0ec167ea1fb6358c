"""ResNet50 v1 (224x224, 1000 classes), the report's mid-sized model.

v1 puts the stride of a downsampling bottleneck on its first 1x1 convolution, as the original
paper and the Caffe/Keras models do (v1.5, torchvision's, puts it on the 3x3 and costs ~5% more).
"""

from __future__ import annotations

from vedliot_runner.zoo.graph import GraphBuilder

STAGES = ((64, 3), (128, 4), (256, 6), (512, 3))  # (bottleneck width, blocks)
EXPANSION = 4


def _bottleneck(g: GraphBuilder, x: str, cin: int, width: int, stride: int) -> str:
    cout = width * EXPANSION
    y = g.relu(g.conv(x, cin, width, 1, stride=stride))
    y = g.relu(g.conv(y, width, width, 3))
    y = g.conv(y, width, cout, 1)
    shortcut = g.conv(x, cin, cout, 1, stride=stride) if (stride != 1 or cin != cout) else x
    return g.relu(g.add(y, shortcut))


def build(seed: int = 0, image_size: int = 224, classes: int = 1000):
    g = GraphBuilder("resnet50", seed=seed)
    x = g.relu(g.conv("input", 3, 64, 7, stride=2))
    x = g.maxpool(x, 3, 2)
    cin = 64
    for index, (width, blocks) in enumerate(STAGES):
        for block in range(blocks):
            stride = 2 if (block == 0 and index > 0) else 1
            x = _bottleneck(g, x, cin, width, stride)
            cin = width * EXPANSION
    x = g.flatten(g.global_avgpool(x))
    logits = g.rename_output(g.gemm(x, cin, classes), "logits")
    return g.model([("input", ["batch", 3, image_size, image_size])], [logits], [["batch", classes]])
