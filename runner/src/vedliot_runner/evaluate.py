"""Accuracy mode (`run --dataset KIND:PATH`): every selected sample once, through preprocessing,
the backend's inference call and post-processing, each stage timed on its own (the report's
"latency" is their sum; its "inference time" is the middle one).

The model sees exactly --batch-size samples per call: a last, partial batch is padded by repeating
its last sample and the padded predictions are dropped (backends compiled for a fixed batch, TVM
and OpenVINO, need it; the record counts the padding). First inference and warmup run on the
first batch before the timed pass, as in performance mode.

Predictions go into the record (classification: each sample's id, label and top-5 class ids) or a
COCO results file next to it (detection: `<run_id>.detections.json`); the aggregator scores them.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from vedliot_runner.backends.base import Backend, Feeds
from vedliot_runner.datasets import coco, imagenet
from vedliot_runner.errors import UsageError
from vedliot_runner.measure import LoopSettings, Measurement, Progress, StopFlag, warmup
from vedliot_runner.model_info import ModelRecipe
from vedliot_runner.record import TensorInfo

KINDS = ("imagenet", "coco")
Dataset = Union[imagenet.ClassificationSet, coco.DetectionSet]


@dataclasses.dataclass
class DatasetSpec:
    kind: str
    path: Path

    @classmethod
    def parse(cls, text: str) -> DatasetSpec:
        kind, sep, path = text.partition(":")
        if not sep or kind not in KINDS or not path:
            raise UsageError(
                "--dataset {}: expected imagenet:PATH (ImageNet layouts or class folders) or coco:PATH".format(text)
            )
        return cls(kind, Path(path))

    def load(self, limit: int) -> Dataset:
        if self.kind == "imagenet":
            return imagenet.load(self.path, limit)
        return coco.load(self.path, limit)


@dataclasses.dataclass
class Evaluation:
    """What the pass observed, whole or up to where it stopped."""

    timing: Measurement
    preprocess_ns: List[int] = dataclasses.field(default_factory=list)
    postprocess_ns: List[int] = dataclasses.field(default_factory=list)
    samples_done: int = 0
    padded: int = 0
    input_shape: Optional[List[int]] = None
    #: classification: sample ids, labels, top-5; detection: evaluated image ids
    sample_ids: List[str] = dataclasses.field(default_factory=list)
    labels: List[int] = dataclasses.field(default_factory=list)
    top5: List[List[int]] = dataclasses.field(default_factory=list)
    image_ids: List[int] = dataclasses.field(default_factory=list)
    detections: List[Dict[str, Any]] = dataclasses.field(default_factory=list)


def _chunks(count: int, size: int) -> List[Tuple[int, int]]:
    return [(start, min(start + size, count)) for start in range(0, count, size)]


class _Pipeline:
    """Preprocessing and post-processing of one model on one dataset."""

    def __init__(self, backend: Backend, tensor: TensorInfo, outputs: Sequence[TensorInfo], recipe: ModelRecipe):
        self.backend = backend
        self.tensor = tensor
        self.recipe = recipe
        self.output_index = 0
        if recipe.output is not None:
            names = [t.name for t in outputs]
            if recipe.output not in names:
                raise UsageError(
                    "{}: output {!r} is not among the model's outputs ({})".format(
                        recipe.source, recipe.output, ", ".join(names)
                    )
                )
            self.output_index = names.index(recipe.output)
        self.head_order: Optional[List[int]] = None
        if recipe.task == "detection":
            names = [t.name for t in outputs]
            wanted = recipe.detection["outputs"]
            if all(name in names for name in wanted):
                self.head_order = [names.index(name) for name in wanted]

    def preprocess(self, dataset: Dataset, start: int, end: int, batch: int) -> Tuple[Feeds, List]:
        from vedliot_runner.preprocess import classification_input, letterbox_input, load_rgb

        arrays, originals = [], []
        for index in range(start, end):
            if self.recipe.task == "classification":
                image = load_rgb(dataset.samples[index][0])
                arrays.append(classification_input(image, self.recipe.preprocessing, self.recipe.layout))
            else:
                image = load_rgb(dataset.images[index].path)
                array, size = letterbox_input(image, self.recipe.preprocessing, self.recipe.layout)
                arrays.append(array)
                originals.append(size)
        arrays.extend([arrays[-1]] * (batch - len(arrays)))
        data = np.stack(arrays)
        return {self.tensor.name: self.backend.encode_input(self.tensor.name, data, self.tensor.dtype)}, originals

    def _heads(self, outputs: List[np.ndarray]) -> List[np.ndarray]:
        heads = [self.backend.decode_output(i, out) for i, out in enumerate(outputs)]
        if self.head_order is not None:
            return [heads[i] for i in self.head_order]
        # Names differ (a converted model): the largest map has the smallest stride.
        strides = self.recipe.detection["strides"]
        by_size = sorted(heads, key=lambda h: -h.shape[-1] * h.shape[-2])
        return [by_size[sorted(strides).index(stride)] for stride in strides]

    def postprocess(self, dataset: Dataset, outputs: List[np.ndarray], start: int, end: int, originals, out) -> None:
        real = end - start
        if self.recipe.task == "classification":
            from vedliot_runner.postprocess.classification import topk

            scores = self.backend.decode_output(self.output_index, outputs[self.output_index])[:real]
            scores = scores.reshape(real, -1)[:, self.recipe.label_offset :]
            out.top5.extend(topk(scores, 5).tolist())
            for path, label in dataset.samples[start:end]:
                out.sample_ids.append(dataset.sample_id(path))
                out.labels.append(int(label))
            return
        from vedliot_runner.postprocess.yolo import detect

        heads = [h[:real] for h in self._heads(outputs)]
        info = self.recipe.detection
        ids = [image.image_id for image in dataset.images[start:end]]
        out.detections.extend(
            detect(
                heads,
                info,
                int(self.recipe.preprocessing["size"]),
                originals,
                ids,
                conf_threshold=float(info.get("conf_threshold", 0.005)),
                iou_threshold=float(info.get("iou_threshold", 0.45)),
                max_detections=int(info.get("max_detections", 100)),
            )
        )
        out.image_ids.extend(ids)


def evaluate(
    backend: Backend,
    tensor: TensorInfo,
    outputs: Sequence[TensorInfo],
    recipe: ModelRecipe,
    dataset: Dataset,
    loop: LoopSettings,
    stop: StopFlag,
    progress: Optional[Progress] = None,
) -> Evaluation:
    """Run the pass. Never raises for a failure: Evaluation.timing says where it stopped and why,
    and keeps every prediction made before."""
    pipeline = _Pipeline(backend, tensor, outputs, recipe)
    count = len(dataset.samples) if recipe.task == "classification" else len(dataset.images)
    result = Evaluation(timing=Measurement())
    m = result.timing
    clock = time.monotonic_ns
    stage = "preprocess"
    try:
        chunks = _chunks(count, loop.batch_size)
        feeds, _ = pipeline.preprocess(dataset, chunks[0][0], chunks[0][1], loop.batch_size)
        result.input_shape = list(feeds[tensor.name].shape)
        stage = "first_inference"
        t0 = clock()
        backend.predict(feeds)
        m.first_inference_ns = clock() - t0
        if not stop.requested:
            stage = "warmup"
            warmup(backend, feeds, loop, stop, m)
        m.window_start_unix_ns = time.time_ns()
        m.window_start_ns = m.window_end_ns = clock()
        for start, end in chunks:
            if stop.requested:
                break
            stage = "preprocess"
            t0 = clock()
            feeds, originals = pipeline.preprocess(dataset, start, end, loop.batch_size)
            t1 = clock()
            stage = "timed"
            raw = backend.predict(feeds)
            t2 = clock()
            stage = "postprocess"
            pipeline.postprocess(dataset, raw, start, end, originals, result)
            t3 = clock()
            result.preprocess_ns.append(t1 - t0)
            m.samples_ns.append(t2 - t1)
            result.postprocess_ns.append(t3 - t2)
            m.window_end_ns = t3
            result.samples_done = end
            result.padded += loop.batch_size - (end - start)
            if progress is not None:
                progress("accuracy", (t3 - m.window_start_ns) / 1e9, end, 0.0, count)
    except Exception as exc:  # noqa: BLE001 - any failure becomes a 'failed' record with what was done
        m.error = exc
        m.stopped_in = stage
        return result
    if stop.requested and result.samples_done < count:
        m.interrupted = True
        m.stopped_in = stage
    return result
