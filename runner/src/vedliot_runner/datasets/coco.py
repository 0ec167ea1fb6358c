"""COCO val2017: images and instances_val2017.json (at the root, or under annotations/), images
at the root or under val2017/."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Dict, List

from vedliot_runner.datasets import spread_subset
from vedliot_runner.digest import sha256_of
from vedliot_runner.errors import UsageError

ANNOTATIONS = "instances_val2017.json"


@dataclasses.dataclass
class CocoImage:
    image_id: int
    path: Path
    width: int
    height: int


@dataclasses.dataclass
class DetectionSet:
    root: Path
    annotation: Path
    images: List[CocoImage]
    total: int

    def identity(self) -> Dict[str, object]:
        return {
            "name": "coco",
            "split": "val2017",
            "samples": len(self.images),
            "total": self.total,
            "annotation": self.annotation.name,
            "annotation_sha256": sha256_of(self.annotation),
            "image_ids": [image.image_id for image in self.images],
        }


def load(root: Path, limit: int = 0) -> DetectionSet:
    if not root.is_dir():
        raise UsageError("--dataset coco:{}: no such directory".format(root))
    candidates = [root / ANNOTATIONS, root / "annotations" / ANNOTATIONS]
    annotation = next((p for p in candidates if p.is_file()), None)
    if annotation is None:
        raise UsageError("--dataset coco:{}: {} not found there or under annotations/".format(root, ANNOTATIONS))
    try:
        data = json.loads(annotation.read_text(encoding="utf-8"))
        entries = sorted(data["images"], key=lambda e: e["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError("{}: not a COCO instances file ({})".format(annotation, exc)) from None
    image_dir = root / "val2017" if (root / "val2017").is_dir() else root
    chosen = spread_subset(entries, limit)
    images = [CocoImage(e["id"], image_dir / e["file_name"], e["width"], e["height"]) for e in chosen]
    missing = [image.path for image in images if not image.path.is_file()]
    if missing:
        raise UsageError(
            "{}: {} images of {} missing (first: {})".format(image_dir, len(missing), annotation.name, missing[0].name)
        )
    return DetectionSet(root, annotation, images, len(entries))
