"""Post-processing on crafted outputs whose right answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from vedliot_runner.postprocess.classification import topk
from vedliot_runner.postprocess.yolo import (
    COCO80_TO_CATEGORY_ID,
    coco_results,
    decode,
    letterbox_params,
    nms,
    to_original,
)
from vedliot_runner.zoo import yolov4

INFO = yolov4.detection_info()
SIZE = 416


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _heads(boxes):
    """Raw head maps in which each (output, anchor k, cx, cy, w, h, class) is one confident
    detection in the cell holding its centre; every other cell has objectness sigmoid(-20)."""
    heads = [np.full((1, 255, SIZE // s, SIZE // s), -20.0, dtype=np.float32) for s in INFO["strides"]]
    for out, k, cx, cy, w, h, cls in boxes:
        stride, sxy = INFO["strides"][out], INFO["scale_x_y"][out]
        row, col = int(cy // stride), int(cx // stride)
        anchor = INFO["anchors"][INFO["masks"][out][k]]
        channel = k * 85
        # invert cx = (sigmoid(tx) * sxy - (sxy - 1) / 2 + col) * stride
        heads[out][0, channel + 0, row, col] = _logit((cx / stride - col + (sxy - 1) / 2) / sxy)
        heads[out][0, channel + 1, row, col] = _logit((cy / stride - row + (sxy - 1) / 2) / sxy)
        heads[out][0, channel + 2, row, col] = np.log(w / anchor[0])
        heads[out][0, channel + 3, row, col] = np.log(h / anchor[1])
        heads[out][0, channel + 4, row, col] = 8.0  # objectness ~0.9997
        heads[out][0, channel + 5 + cls, row, col] = 8.0
    return heads


def test_topk_orders_by_score_and_breaks_ties_by_id():
    scores = np.array([[0.1, 0.9, 0.3, 0.9, 0.0], [5, 4, 3, 2, 1]], dtype=np.float32)
    assert topk(scores, 3).tolist() == [[1, 3, 2], [0, 1, 2]]
    assert topk(scores, 10).shape == (2, 5)


def test_decode_recovers_known_boxes():
    wanted = [
        (0, 1, 165.0, 85.0, 30.0, 40.0, 0),  # stride 8: person
        (1, 2, 120.0, 44.0, 50.0, 80.0, 16),  # stride 16
        (2, 0, 208.0, 208.0, 300.0, 200.0, 79),  # stride 32, the last class
    ]
    ((boxes, scores, classes),) = decode(_heads(wanted), INFO, SIZE, conf_threshold=0.5)
    assert len(boxes) == 3
    order = np.argsort(classes)
    for (*_, cx, cy, w, h, cls), i in zip(wanted, order, strict=True):
        assert classes[i] == cls
        np.testing.assert_allclose(boxes[i], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], atol=1e-2)
        assert scores[i] == pytest.approx(float(1 / (1 + np.exp(-8.0))) ** 2, rel=1e-4)


def test_nms_is_class_wise():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], dtype=np.float32)
    classes = np.array([3, 3, 5, 3])
    kept = nms(boxes, scores, classes, iou_threshold=0.45)
    # box 1 overlaps box 0 (IoU 0.68) of the same class: gone; box 2 is the same place but another class.
    assert kept.tolist() == [0, 2, 3]


def test_letterbox_round_trip_to_original_pixels():
    width, height = 640, 480
    scale, pad_x, pad_y = letterbox_params(width, height, SIZE)
    assert scale == pytest.approx(0.65) and pad_x == 0 and pad_y == pytest.approx(52)
    original = np.array([[100.0, 50.0, 300.0, 400.0]])
    network = original * scale + [pad_x, pad_y, pad_x, pad_y]
    np.testing.assert_allclose(to_original(network, width, height, SIZE), original, atol=1e-6)


def test_category_ids_and_results_format():
    assert len(COCO80_TO_CATEGORY_ID) == 80 and len(set(COCO80_TO_CATEGORY_ID)) == 80
    assert COCO80_TO_CATEGORY_ID[0] == 1 and COCO80_TO_CATEGORY_ID[11] == 13 and COCO80_TO_CATEGORY_ID[-1] == 90
    assert not {12, 26, 29, 30, 45, 66, 68, 69, 71, 83} & set(COCO80_TO_CATEGORY_ID)
    (entry,) = coco_results(42, np.array([[10.0, 20.0, 110.0, 70.0]]), np.array([0.5]), np.array([11]))
    assert entry == {"image_id": 42, "category_id": 13, "bbox": [10.0, 20.0, 100.0, 50.0], "score": 0.5}
