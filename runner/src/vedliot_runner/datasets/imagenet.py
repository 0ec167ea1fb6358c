"""ImageNet-2012 validation in its usual layouts.

- one folder per class (`val/n01440764/*.JPEG`, ...): labels are the folder names' sorted order,
  which for the 1000 WNIDs is the order of torchvision and Keras models (any other folder names
  work too, e.g. a subset or the trained demo set, with their sorted order as labels);
- a flat folder of ILSVRC2012_val_*.JPEG with Kaggle's LOC_val_solution.csv (WNID per image) and,
  if present, LOC_synset_mapping.txt (the label order; else the sorted WNIDs of the CSV);
- a flat folder with the devkit's ILSVRC2012_validation_ground_truth.txt (one ILSVRC2012_ID per
  image, in file-name order): labels are ID - 1, the devkit's order, which is NOT the sorted-WNID
  order most models use; the dataset identity says `label_order: devkit` so nobody mistakes it.

The same reader takes any class-folder dataset; a dataset.json there ({"name": ..., "split": ...})
gives its name in records, else it is called imagenet/val.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from vedliot_runner.datasets import spread_subset
from vedliot_runner.digest import sha256_of
from vedliot_runner.errors import UsageError

IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}
GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt"
SOLUTION = "LOC_val_solution.csv"
SYNSETS = "LOC_synset_mapping.txt"
#: a dataset.json next to the class folders names a set that is not ImageNet (the digits demo set)
META = "dataset.json"
LABEL_ORDERS = {"folders": "sorted_folder_names", "loc_csv": "synset_mapping", "devkit": "devkit"}


@dataclasses.dataclass
class ClassificationSet:
    name: str
    split: str
    root: Path
    samples: List[Tuple[Path, int]]
    #: how labels were derived ("folders", "loc_csv", "devkit") and the file holding them
    label_order: str
    annotation: Optional[Path]
    total: int

    def identity(self) -> Dict[str, object]:
        return {
            "name": self.name,
            "split": self.split,
            "layout": self.label_order,
            "label_order": LABEL_ORDERS[self.label_order],
            "samples": len(self.samples),
            "total": self.total,
            "annotation": self.annotation.name if self.annotation else None,
            "annotation_sha256": sha256_of(self.annotation) if self.annotation else None,
            # Two records are scored on the same data only if this matches: it covers the folder
            # layout (no annotation file) and --limit subsets.
            "samples_sha256": hashlib.sha256(
                "".join("{}\t{}\n".format(self.sample_id(p), label) for p, label in self.samples).encode()
            ).hexdigest(),
        }

    def __len__(self) -> int:
        return len(self.samples)

    def sample_id(self, path: Path) -> str:
        """The sample's path relative to the dataset root, with forward slashes."""
        return path.relative_to(self.root).as_posix()


def _text(path: Path) -> str:
    """An annotation file's text; UsageError naming it when it is not UTF-8 (or ASCII) text."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError("{}: not UTF-8 text (byte {} at offset {}); convert it to UTF-8".format(
            path, hex(exc.object[exc.start]), exc.start)) from None  # fmt: skip
    except OSError as exc:
        raise UsageError("{}: cannot read it ({})".format(path, exc.strerror or exc)) from None


def _images(directory: Path) -> List[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def load(root: Path, limit: int = 0) -> ClassificationSet:
    if not root.is_dir():
        raise UsageError("--dataset imagenet:{}: no such directory".format(root))
    if (root / GROUND_TRUTH).is_file():
        samples, order, annotation = _devkit(root)
    elif (root / SOLUTION).is_file():
        samples, order, annotation = _kaggle(root)
    else:
        samples, order, annotation = _folders(root)
    name, split = _name_and_split(root)
    return ClassificationSet(name, split, root, spread_subset(samples, limit), order, annotation, len(samples))


def _name_and_split(root: Path) -> Tuple[str, str]:
    path = root / META
    if not path.is_file():
        return "imagenet", "val"
    try:
        meta = json.loads(_text(path))
        return str(meta["name"]), str(meta.get("split", "val"))
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError("{}: expected a JSON object with 'name' and 'split' ({!r})".format(path, exc)) from None


def _devkit(root: Path):
    images = _images(root)
    path = root / GROUND_TRUTH
    labels = [line.strip() for line in _text(path).splitlines() if line.strip()]
    if len(labels) != len(images):
        raise UsageError(
            "{}: {} labels for {} images in {}; the file lists one label per image in file-name order".format(
                path, len(labels), len(images), root
            )
        )
    try:
        return [(image, int(label) - 1) for image, label in zip(images, labels)], "devkit", path
    except ValueError:
        raise UsageError("{}: expected one integer ILSVRC2012_ID per line".format(path)) from None


def _kaggle(root: Path):
    path = root / SOLUTION
    wnid_of: Dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(_text(path), newline="")):
        try:
            wnid_of[row["ImageId"]] = row["PredictionString"].split()[0]
        except (KeyError, IndexError, AttributeError):
            raise UsageError("{}: expected columns ImageId,PredictionString".format(path)) from None
    synsets = root / SYNSETS
    if synsets.is_file():
        order = [line.split()[0] for line in _text(synsets).splitlines() if line.strip()]
    else:
        order = sorted(set(wnid_of.values()))
    index = {wnid: i for i, wnid in enumerate(order)}
    images = [p for p in _images(root) if p.stem in wnid_of]
    missing = sorted(set(wnid_of) - {p.stem for p in images})
    if missing:
        raise UsageError("{}: {} images listed but not in {} (first: {})".format(path, len(missing), root, missing[0]))
    unknown = sorted({wnid_of[p.stem] for p in images} - set(index))
    if unknown:
        raise UsageError("{}: WNID {} is not in {}".format(path, unknown[0], synsets))
    return [(p, index[wnid_of[p.stem]]) for p in images], "loc_csv", path


def _folders(root: Path):
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise UsageError(
            "--dataset imagenet:{}: neither class folders nor {} or {} found".format(root, GROUND_TRUTH, SOLUTION)
        )
    samples = [(image, label) for label, name in enumerate(classes) for image in _images(root / name)]
    if not samples:
        raise UsageError("--dataset imagenet:{}: class folders hold no .JPEG/.jpg/.png images".format(root))
    return samples, "folders", None
