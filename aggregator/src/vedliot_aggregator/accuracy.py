"""Accuracy metrics of the report (D3.3 §3.1.4): Top-1/Top-5 in percent for classifiers, and
mAP@.50 and mAP@[.50:.95] from pycocotools' COCOeval (bbox) for detectors."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any

import numpy as np


def topk_accuracy(labels: Sequence[int], top5: Sequence[Sequence[int]]) -> tuple[float, float]:
    """(Top-1 %, Top-5 %) of predictions given as each sample's best class ids, best first."""
    if len(labels) != len(top5):
        raise ValueError(f"{len(labels)} labels for {len(top5)} predictions")
    if not labels:
        raise ValueError("no predictions")
    top1 = sum(int(p[0]) == int(label) for label, p in zip(labels, top5, strict=True))
    in5 = sum(int(label) in {int(c) for c in p[:5]} for label, p in zip(labels, top5, strict=True))
    return 100.0 * top1 / len(labels), 100.0 * in5 / len(labels)


def coco_map(
    annotations: dict[str, Any], detections: list[dict[str, Any]], image_ids: Sequence[int]
) -> tuple[float, float]:
    """(mAP@.50, mAP@[.50:.95]) of COCO-format `detections` on `image_ids` of `annotations`
    (an instances_*.json as loaded). Images without detections count as misses."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        truth = COCO()
        truth.dataset = annotations
        truth.createIndex()
        if not detections:
            return 0.0, 0.0
        results = truth.loadRes([dict(d) for d in detections])
        evaluator = COCOeval(truth, results, "bbox")
        evaluator.params.imgIds = list(image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = np.asarray(evaluator.stats, dtype=float)
    # COCOeval reports -1 where no ground truth exists for the asked subset.
    return max(float(stats[1]), 0.0), max(float(stats[0]), 0.0)
