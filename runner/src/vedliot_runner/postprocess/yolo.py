"""YoloV4 post-processing as darknet does it: decode the three raw head maps (sigmoid on x/y with
scale_x_y, exp on w/h times the anchor, sigmoid objectness and class scores), keep detections above
a confidence threshold, class-wise non-maximum suppression, then boxes back from the letterboxed
network input to original-image pixels, and COCO-80 class indices to COCO category ids."""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

# COCO's 80 detection classes as category ids of instances_*.json (1..90 with gaps).
COCO80_TO_CATEGORY_ID = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33, 34,
    35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63,
    64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
)  # fmt: skip


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


def decode(
    outputs: Sequence[np.ndarray], info: Dict, input_size: int, conf_threshold: float = 0.001
) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Raw head maps ([N, A*(5+C), H, W] each, in `info["outputs"]` order) -> per image
    (boxes [M, 4] as x1, y1, x2, y2 in network-input pixels, scores [M], class indices [M])."""
    anchors = np.asarray(info["anchors"], dtype=np.float32)
    batch = outputs[0].shape[0]
    per_image: List[List] = [[] for _ in range(batch)]
    for out, stride, mask, sxy in zip(outputs, info["strides"], info["masks"], info["scale_x_y"]):
        n, channels, h, w = out.shape
        a = len(mask)
        maps = out.reshape(n, a, channels // a, h, w).astype(np.float32)
        grid_y, grid_x = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
        for k, anchor_index in enumerate(mask):
            m = maps[:, k]
            cx = (_sigmoid(m[:, 0]) * sxy - (sxy - 1) / 2 + grid_x) * stride
            cy = (_sigmoid(m[:, 1]) * sxy - (sxy - 1) / 2 + grid_y) * stride
            bw = np.exp(np.clip(m[:, 2], -20.0, 20.0)) * anchors[anchor_index, 0]
            bh = np.exp(np.clip(m[:, 3], -20.0, 20.0)) * anchors[anchor_index, 1]
            scores = _sigmoid(m[:, 4])[:, None] * _sigmoid(m[:, 5:])  # [N, C, H, W]
            for i in range(n):
                cls, ys, xs = np.nonzero(scores[i] > conf_threshold)
                if cls.size == 0:
                    continue
                x, y, ww, hh = cx[i, ys, xs], cy[i, ys, xs], bw[i, ys, xs], bh[i, ys, xs]
                boxes = np.stack([x - ww / 2, y - hh / 2, x + ww / 2, y + hh / 2], axis=1)
                per_image[i].append((boxes, scores[i, cls, ys, xs], cls))
    result = []
    for parts in per_image:
        if parts:
            boxes = np.concatenate([p[0] for p in parts])
            result.append(
                (
                    np.clip(boxes, 0, input_size),
                    np.concatenate([p[1] for p in parts]),
                    np.concatenate([p[2] for p in parts]),
                )
            )
        else:
            result.append((np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)))
    return result


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def nms(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float = 0.45, max_detections: int = 300
) -> np.ndarray:
    """Indices kept by greedy class-wise NMS, highest score first."""
    keep: List[int] = []
    for cls in np.unique(classes):
        index = np.nonzero(classes == cls)[0]
        order = index[np.argsort(-scores[index], kind="stable")]
        while order.size:
            best = order[0]
            keep.append(int(best))
            if order.size == 1:
                break
            rest = order[1:]
            order = rest[iou(boxes[best], boxes[rest]) <= iou_threshold]
    kept = np.asarray(keep, dtype=np.int64)
    return kept[np.argsort(-scores[kept], kind="stable")][:max_detections]


def letterbox_params(width: int, height: int, size: int) -> Tuple[float, float, float]:
    """(scale, pad_x, pad_y) of darknet's letterbox of a width x height image into size x size."""
    scale = min(size / width, size / height)
    # Integer offsets: the resized image is pasted at whole pixels.
    return scale, (size - round(width * scale)) // 2, (size - round(height * scale)) // 2


def to_original(boxes: np.ndarray, width: int, height: int, size: int) -> np.ndarray:
    """Network-input boxes (x1, y1, x2, y2) back to the original image's pixels, clipped."""
    scale, pad_x, pad_y = letterbox_params(width, height, size)
    out = boxes.astype(np.float64).copy()
    out[:, [0, 2]] = np.clip((out[:, [0, 2]] - pad_x) / scale, 0, width)
    out[:, [1, 3]] = np.clip((out[:, [1, 3]] - pad_y) / scale, 0, height)
    return out


def coco_results(image_id: int, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> List[Dict]:
    """COCO results-format entries (bbox as x, y, width, height) for one image."""
    return [
        {
            "image_id": int(image_id),
            "category_id": COCO80_TO_CATEGORY_ID[int(c)],
            "bbox": [
                round(float(b[0]), 2),
                round(float(b[1]), 2),
                round(float(b[2] - b[0]), 2),
                round(float(b[3] - b[1]), 2),
            ],
            "score": round(float(s), 5),
        }
        for b, s, c in zip(boxes, scores, classes)
    ]


def detect(
    outputs: Sequence[np.ndarray],
    info: Dict,
    input_size: int,
    originals: Sequence[Tuple[int, int]],
    image_ids: Sequence[int],
    conf_threshold: float = 0.005,
    iou_threshold: float = 0.45,
    max_detections: int = 100,
    max_candidates: int = 3000,
) -> List[Dict]:
    """The whole chain for a batch: decode, keep the `max_candidates` best per image (an untrained
    or badly quantized net scores thousands of boxes; NMS over all of them would dominate the
    post-processing time), class-wise NMS, boxes to each original (width, height), COCO entries.
    Thresholds default to darknet's `detector map` (0.005, NMS 0.45) and COCO's 100 per image."""
    results: List[Dict] = []
    decoded = decode(outputs, info, input_size, conf_threshold)
    for (boxes, scores, classes), (width, height), image_id in zip(decoded, originals, image_ids):
        if scores.size > max_candidates:
            best = np.argpartition(-scores, max_candidates - 1)[:max_candidates]
            boxes, scores, classes = boxes[best], scores[best], classes[best]
        keep = nms(boxes, scores, classes, iou_threshold, max_detections)
        boxes = to_original(boxes[keep], width, height, input_size)
        results.extend(coco_results(image_id, boxes, scores[keep], classes[keep]))
    return results
