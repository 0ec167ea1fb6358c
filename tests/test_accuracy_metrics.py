"""Top-k on crafted predictions and mAP through real pycocotools on cases worked out by hand."""

from __future__ import annotations

import pytest

from vedliot_aggregator.accuracy import coco_map, topk_accuracy


def test_topk_accuracy():
    labels = [3, 1, 7, 2]
    top5 = [[3, 0, 1, 2, 4], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [9, 8, 6, 5, 2]]
    assert topk_accuracy(labels, top5) == (25.0, 75.0)
    with pytest.raises(ValueError, match="2 labels for 1"):
        topk_accuracy([1, 2], [[1]])


def _truth():
    return {
        "images": [{"id": 1, "width": 200, "height": 200}, {"id": 2, "width": 200, "height": 200}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 50], "area": 2500, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [100, 100, 40, 60], "area": 2400, "iscrowd": 0},
            {"id": 3, "image_id": 2, "category_id": 18, "bbox": [20, 30, 80, 90], "area": 7200, "iscrowd": 0},
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}],
    }


def test_map_is_one_when_detections_equal_the_ground_truth():
    truth = _truth()
    detections = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9}
        for a in truth["annotations"]
    ]
    assert coco_map(truth, detections, [1, 2]) == pytest.approx((1.0, 1.0))


def test_map_on_a_partial_case_worked_out_by_hand():
    # Image 1 only, person: one exact hit (score 0.9), one false positive (0.8), one box missed.
    # Precision/recall: rank 1 TP (P 1, R 0.5), rank 2 FP (P 0.5, R 0.5). COCO interpolates
    # precision at 101 recall points: 1.0 for the 51 points 0.00..0.50, 0 above: AP = 51/101 at
    # every IoU threshold (the hit is exact), so mAP@.50 = mAP@[.50:.95] = 0.50495.
    truth = _truth()
    detections = [
        {"image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 50], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [150, 10, 30, 30], "score": 0.8},
    ]
    map50, map50_95 = coco_map(truth, detections, [1])
    assert map50 == pytest.approx(51 / 101, abs=1e-6)
    assert map50_95 == pytest.approx(51 / 101, abs=1e-6)


def test_no_detections_is_zero():
    assert coco_map(_truth(), [], [1, 2]) == (0.0, 0.0)
