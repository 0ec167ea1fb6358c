"""COCO val2017: images and instances_val2017.json (at the root, or under annotations/), images
at the root or under val2017/."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Dict, List

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

    def __len__(self) -> int:
        return len(self.images)

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


def _images(data: Any, annotation: Path, image_dir: Path) -> List[CocoImage]:
    """The `images` entries as CocoImages; UsageError naming the first malformed one."""
    entries = data.get("images") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UsageError("{}: not a COCO instances file (no 'images' list)".format(annotation))
    images = []
    for index, entry in enumerate(entries):
        try:
            image = CocoImage(
                int(entry["id"]), image_dir / str(entry["file_name"]), int(entry["width"]), int(entry["height"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(
                "{}: images[{}] is malformed ({}: {}); each needs id, file_name, width, height".format(
                    annotation, index, type(exc).__name__, exc
                )
            ) from None
        images.append(image)
    return images


def load(root: Path, limit: int = 0) -> DetectionSet:
    if not root.is_dir():
        raise UsageError("--dataset coco:{}: no such directory".format(root))
    candidates = [root / ANNOTATIONS, root / "annotations" / ANNOTATIONS]
    annotation = next((p for p in candidates if p.is_file()), None)
    if annotation is None:
        raise UsageError("--dataset coco:{}: {} not found there or under annotations/".format(root, ANNOTATIONS))
    try:
        data = json.loads(annotation.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UsageError("{}: not UTF-8 text; is it the COCO instances file?".format(annotation)) from None
    except ValueError as exc:
        raise UsageError("{}: not a COCO instances file ({})".format(annotation, exc)) from None
    image_dir = root / "val2017" if (root / "val2017").is_dir() else root
    entries = sorted(_images(data, annotation, image_dir), key=lambda image: image.image_id)
    images = spread_subset(entries, limit)
    missing = [image.path for image in images if not image.path.is_file()]
    if missing:
        raise UsageError(
            "{}: {} images of {} missing (first: {})".format(image_dir, len(missing), annotation.name, missing[0].name)
        )
    return DetectionSet(root, annotation, images, len(entries))
