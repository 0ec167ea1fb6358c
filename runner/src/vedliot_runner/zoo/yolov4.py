"""YoloV4 (416x416, 80 COCO classes), Bochkovskiy et al. 2020, laid out as darknet's yolov4.cfg:
CSPDarknet53 backbone (Mish), SPP, PAN neck (leaky ReLU 0.1) and three YOLOv3 heads whose raw
outputs (before sigmoid and decoding) are the model's outputs, stride 8 first. 60.1 GOps counted
(darknet reports 60.1 BFLOPs at 416), against 60.4 in D3.3 Table 1."""

from __future__ import annotations

from vedliot_runner.zoo.preprocessing import DARKNET_LETTERBOX
from vedliot_runner.zoo.weights import RESIDUAL_GAIN

NAME = "yolov4"
IMAGE_SIZE = 416
CLASSES = 80
TASK = "detection"
LABELS = "coco-80"
PREPROCESSING = DARKNET_LETTERBOX
ANCHORS = ((12, 16), (19, 36), (40, 28), (36, 75), (76, 55), (72, 146), (142, 110), (192, 243), (459, 401))
STRIDES = (8, 16, 32)
MASKS = ((0, 1, 2), (3, 4, 5), (6, 7, 8))  # anchors of each output, as darknet's [yolo] mask=
SCALE_X_Y = (1.2, 1.1, 1.05)
OUTPUTS = ("boxes_stride8", "boxes_stride16", "boxes_stride32")


def _cba(g, x, cin: int, cout: int, kernel: int, act: str, stride: int = 1, gain: float = 1.0):
    """darknet [convolutional]: convolution, batch norm (folded) and activation."""
    return g.activation(g.conv(x, cin, cout, kernel, stride=stride, gain=gain), act)


def _csp_stage(g, x, cin: int, cout: int, blocks: int):
    x = _cba(g, x, cin, cout, 3, "mish", stride=2)
    # The first stage keeps full width in both halves; the others split it in two.
    half = cout if blocks == 1 else cout // 2
    hidden = cout // 2 if blocks == 1 else half
    part_a = _cba(g, x, cout, half, 1, "mish")
    part_b = _cba(g, x, cout, half, 1, "mish")
    for _ in range(blocks):
        y = _cba(g, part_b, half, hidden, 1, "mish")
        part_b = g.add(part_b, _cba(g, y, hidden, half, 3, "mish", gain=RESIDUAL_GAIN))
    part_b = _cba(g, part_b, half, half, 1, "mish")
    return _cba(g, g.concat([part_b, part_a]), 2 * half, cout, 1, "mish")


def _five(g, x, cin: int, width: int):
    """The PAN's alternating stack: 1x1 w, 3x3 2w, 1x1 w, 3x3 2w, 1x1 w."""
    x = _cba(g, x, cin, width, 1, "leaky")
    x = _cba(g, x, width, 2 * width, 3, "leaky")
    x = _cba(g, x, 2 * width, width, 1, "leaky")
    x = _cba(g, x, width, 2 * width, 3, "leaky")
    return _cba(g, x, 2 * width, width, 1, "leaky")


def define(g, image_size: int = IMAGE_SIZE, classes: int = CLASSES) -> None:
    head = 3 * (5 + classes)
    x = _cba(g, g.input("input", 3, image_size), 3, 32, 3, "mish")
    x = _csp_stage(g, x, 32, 64, 1)
    x = _csp_stage(g, x, 64, 128, 2)
    c3 = x = _csp_stage(g, x, 128, 256, 8)
    c4 = x = _csp_stage(g, x, 256, 512, 8)
    x = _csp_stage(g, x, 512, 1024, 4)

    # SPP
    x = _cba(g, x, 1024, 512, 1, "leaky")
    x = _cba(g, x, 512, 1024, 3, "leaky")
    x = _cba(g, x, 1024, 512, 1, "leaky")
    x = g.concat([g.maxpool(x, 13, 1), g.maxpool(x, 9, 1), g.maxpool(x, 5, 1), x])
    x = _cba(g, x, 2048, 512, 1, "leaky")
    x = _cba(g, x, 512, 1024, 3, "leaky")
    p5 = _cba(g, x, 1024, 512, 1, "leaky")

    # PAN, top-down
    up = g.upsample2x(_cba(g, p5, 512, 256, 1, "leaky"))
    p4 = _five(g, g.concat([_cba(g, c4, 512, 256, 1, "leaky"), up]), 512, 256)
    up = g.upsample2x(_cba(g, p4, 256, 128, 1, "leaky"))
    p3 = _five(g, g.concat([_cba(g, c3, 256, 128, 1, "leaky"), up]), 256, 128)

    # heads, bottom-up
    g.output(OUTPUTS[0], g.conv(_cba(g, p3, 128, 256, 3, "leaky"), 256, head, 1))
    n4 = _five(g, g.concat([_cba(g, p3, 128, 256, 3, "leaky", stride=2), p4]), 512, 256)
    g.output(OUTPUTS[1], g.conv(_cba(g, n4, 256, 512, 3, "leaky"), 512, head, 1))
    n5 = _five(g, g.concat([_cba(g, n4, 256, 512, 3, "leaky", stride=2), p5]), 1024, 512)
    g.output(OUTPUTS[2], g.conv(_cba(g, n5, 512, 1024, 3, "leaky"), 1024, head, 1))


def output_shapes(image_size: int = IMAGE_SIZE, classes: int = CLASSES):
    return {name: ["batch", 3 * (5 + classes), image_size // s, image_size // s] for name, s in zip(OUTPUTS, STRIDES)}


def detection_info():
    """What post-processing needs to decode the raw outputs (manifest 'detection')."""
    return {
        "outputs": list(OUTPUTS),
        "strides": list(STRIDES),
        "anchors": [list(a) for a in ANCHORS],
        "masks": [list(m) for m in MASKS],
        "scale_x_y": list(SCALE_X_Y),
        "activation": "sigmoid on xy (with scale_x_y), objectness and classes; exp on wh times anchor",
    }
