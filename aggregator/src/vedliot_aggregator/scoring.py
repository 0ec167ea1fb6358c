"""Accuracy of each accuracy-mode record, and the report's comparability check (D3.3 §3.1.4):
a compiled model's speed counts only if its accuracy matches the FP32 reference of the same model
on the same samples.

Classification records carry their ground-truth labels (read by the runner from the annotation
whose sha256 the record names), so they score anywhere. Detection records need the COCO
annotation file: it is looked up by name under the record's own dataset path and every
`--data-root`, and used only if its sha256 matches the record's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vedliot_aggregator import untrusted
from vedliot_aggregator.accuracy import coco_map, topk_accuracy
from vedliot_aggregator.records import Accuracy, ClassificationPredictions, Dataset, DetectionPredictions, Record

#: default margins of the comparability check, in points (percent / mAP x 100)
TOP1_MARGIN = 1.0
MAP_MARGIN = 1.0
REFERENCE_BACKEND = "onnxruntime"


@dataclass(frozen=True)
class Score:
    """One accuracy-mode record, scored."""

    path: Path
    run_id: str
    status: str
    model: str
    backend: str
    precision: str
    effective: str | None
    task: str
    #: what identifies the samples scored: records are only compared when it is equal
    dataset: str
    samples: int
    top1: float | None = None
    top5: float | None = None
    map50: float | None = None
    map50_95: float | None = None
    #: why the record could not be scored, or what makes its score partial
    problem: str | None = None

    @property
    def primary(self) -> float | None:
        """The figure the comparability margin applies to: Top-1 or mAP@[.50:.95], in points."""
        return self.top1 if self.task == "classification" else self.map50_95


@dataclass(frozen=True)
class Compared:
    score: Score
    reference: Score | None
    #: primary metric minus the reference's, in points
    delta: float | None
    #: False when the drop exceeds the margin ("not comparable"), None when there is nothing to compare
    comparable: bool | None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Annotations:
    """COCO annotation files found under data roots, loaded once per sha256."""

    def __init__(self, data_roots: Sequence[Path] = ()) -> None:
        self.data_roots = list(data_roots)
        self._loaded: dict[str, dict[str, Any]] = {}

    def _candidates(self, name: str, record_path: str | None) -> Iterable[Path]:
        roots = ([Path(record_path)] if record_path else []) + self.data_roots
        for root in roots:
            yield from (root / name, root / "annotations" / name, root / "coco" / "annotations" / name)
        for root in self.data_roots:
            if root.is_dir():
                yield from sorted(root.rglob(name))

    def find(self, dataset: Dataset) -> tuple[dict[str, Any] | None, str | None]:
        """(the annotations as loaded, None) or (None, why not)."""
        name, sha = dataset.annotation, dataset.annotation_sha256
        if not name or not sha:
            return None, "the record names no annotation file"
        if sha in self._loaded:
            return self._loaded[sha], None
        mismatched = []
        for candidate in self._candidates(name, dataset.path):
            if not candidate.is_file():
                continue
            if _sha256(candidate) != sha:
                mismatched.append(candidate)
                continue
            try:
                self._loaded[sha] = untrusted.load_file(candidate)
            except untrusted.Refused as exc:
                return None, f"{candidate}: {exc}"
            return self._loaded[sha], None
        if mismatched:
            return None, f"{mismatched[0]} is not the annotation file the run used (sha256 differs)"
        where = ", ".join(str(r) for r in self.data_roots) or "no --data-root given"
        return None, f"{name} not found (looked under the record's dataset path and {where}); pass --data-root"


def _dataset_key(dataset: Dataset) -> str:
    sample_key = dataset.samples_sha256 or hashlib.sha256(json.dumps(dataset.image_ids or []).encode()).hexdigest()
    return f"{dataset.name}/{dataset.split}:{dataset.samples}:{sample_key[:12]}"


def _published(base: Score, record: Record, accuracy: Accuracy) -> Score:
    """Published or imported accuracy: the figures, no predictions to score. The report
    compares each platform's precisions with its own fp32 column."""
    summary = accuracy.summary or {}
    return replace(
        base,
        dataset=f"{record.provenance.kind}:{record.target.name}:{accuracy.dataset.name}",
        top1=summary.get("top1"),
        top5=summary.get("top5"),
        map50=summary.get("map50"),
        map50_95=summary.get("map50_95"),
    )


def _detections(base: Score, path: Path, accuracy: Accuracy, annotations: Annotations, partial: str | None) -> Score:
    predictions = accuracy.predictions
    assert isinstance(predictions, DetectionPredictions)
    truth, why = annotations.find(accuracy.dataset)
    if truth is None:
        return replace(base, problem=why)
    sidecar = path.parent / predictions.detections_file
    if not sidecar.is_file():
        return replace(base, problem=f"{sidecar}: detections file missing (copy it with the record)")
    if predictions.sha256 and _sha256(sidecar) != predictions.sha256:
        return replace(base, problem=f"{sidecar}: changed since the run (sha256 differs)")
    try:
        detections = untrusted.load_file(sidecar)
        map50, map50_95 = coco_map(truth, detections, predictions.image_ids)
    except untrusted.Refused as exc:
        return replace(base, problem=f"{sidecar}: {exc}")
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:  # pycocotools on a malformed file
        return replace(base, problem=f"{sidecar}: not COCO results or annotations pycocotools can score ({exc!r:.120})")
    return replace(base, map50=100 * map50, map50_95=100 * map50_95, problem=partial)


def score_record(record: Record, path: Path, annotations: Annotations) -> Score | None:
    """The Score of an accuracy-mode record (None for a performance record)."""
    accuracy = record.accuracy
    if accuracy is None or record.config.mode != "accuracy":
        return None
    dataset = accuracy.dataset
    task = accuracy.task or ("detection" if dataset.kind == "coco" else "classification")
    base = Score(
        path=path,
        run_id=record.run_id,
        status=record.status,
        model=record.model.name,
        backend=record.backend,
        precision=record.precision.requested,
        effective=record.precision.effective,
        task=task,
        dataset=_dataset_key(dataset),
        samples=accuracy.samples_evaluated,
    )
    if accuracy.summary:
        return _published(base, record, accuracy)
    partial = None
    if base.samples < dataset.samples:
        partial = f"partial: {base.samples} of {dataset.samples} samples ({record.status})"
    predictions = accuracy.predictions
    if base.samples == 0 or predictions is None:
        error = record.error.message if record.error is not None else None
        return replace(base, problem=f"{record.status}: {error}" if error else "no samples evaluated")
    if isinstance(predictions, ClassificationPredictions):
        top1, top5 = topk_accuracy(predictions.labels, predictions.top5)
        return replace(base, top1=top1, top5=top5, problem=partial)
    return _detections(base, path, accuracy, annotations, partial)


def _pick_reference(candidates: list[Score], reference_backend: str) -> Score | None:
    fp32 = [s for s in candidates if s.precision == "fp32" and s.primary is not None and s.problem is None]
    preferred = [s for s in fp32 if s.backend == reference_backend]
    pool = preferred or fp32
    # Several reference runs (repeats): the most accurate; a worse one is itself flagged.
    return max(pool, key=lambda s: s.primary) if pool else None


def compare(
    scores: Sequence[Score],
    top1_margin: float = TOP1_MARGIN,
    map_margin: float = MAP_MARGIN,
    reference_backend: str = REFERENCE_BACKEND,
) -> list[Compared]:
    """Each score next to its FP32 reference (same model, same samples), flagged when the primary
    metric drops by more than the margin."""
    groups: dict[tuple[str, str], list[Score]] = {}
    for score in scores:
        groups.setdefault((score.model, score.dataset), []).append(score)
    rows = []
    for (_, _), members in sorted(groups.items()):
        reference = _pick_reference(members, reference_backend)
        for score in sorted(members, key=lambda s: (s.backend, _precision_order(s.precision), s.run_id)):
            notes = []
            if score.effective and score.effective != score.precision:
                notes.append(f"ran {score.effective}")
            if score.problem:
                notes.append(score.problem)
            if reference is None or score.primary is None:
                if reference is None and score.primary is not None:
                    notes.append("no fp32 reference run on these samples")
                rows.append(Compared(score, reference, None, None, tuple(notes)))
                continue
            delta = score.primary - reference.primary
            margin = top1_margin if score.task == "classification" else map_margin
            comparable = delta >= -margin
            if not comparable:
                notes.append(f"not comparable: {-delta:.2f} points below the fp32 reference (margin {margin:g})")
            rows.append(Compared(score, reference, delta, comparable, tuple(notes)))
    return rows


def _precision_order(precision: str) -> int:
    order = ("fp32", "bf16", "fp16", "mixed", "int8", "uint8", "int4")
    return order.index(precision) if precision in order else len(order)
