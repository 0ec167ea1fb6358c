"""What an accuracy run must know about a model beyond its file: task, preprocessing recipe,
layout, label offset and, for detectors, how to decode the heads. Zoo models carry it in zoo.json;
a user's own model gets it from a JSON file in the same shape as a zoo.json model entry
(`--model-info FILE`, see docs/accuracy.md)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional

from vedliot_runner.errors import UsageError
from vedliot_runner.record import TensorInfo

TASKS = ("classification", "detection")
_DETECTION_KEYS = ("outputs", "strides", "anchors", "masks", "scale_x_y")


@dataclasses.dataclass
class ModelRecipe:
    task: str
    preprocessing: Dict[str, Any]
    layout: str
    #: where it came from: "zoo manifest" or the --model-info path
    source: str
    #: scores to drop before top-k: 1 for TF-slim's 1001-class models (index 0 is "background")
    label_offset: int = 0
    #: the classifier output to read (default: the first)
    output: Optional[str] = None
    detection: Optional[Dict[str, Any]] = None

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def _layout(declared: Optional[str], tensor: TensorInfo, where: str) -> str:
    if declared:
        if declared not in ("NCHW", "NHWC"):
            raise UsageError("{}: layout {!r}: choose NCHW or NHWC".format(where, declared))
        return declared
    shape = tensor.shape
    if len(shape) == 4 and shape[1] == 3:
        return "NCHW"
    if len(shape) == 4 and shape[-1] == 3:
        return "NHWC"
    raise UsageError(
        '{}: cannot tell the layout of input \'{}\' {} from its shape; add "layout": "NCHW" or "NHWC"'.format(
            where, tensor.name, shape
        )
    )


_NUMBER = (int, float)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _numbers(value: Any, count: Optional[int] = None) -> bool:
    return (
        isinstance(value, list)
        and all(isinstance(v, _NUMBER) and not isinstance(v, bool) and math.isfinite(v) for v in value)
        and (count is None or len(value) == count)
    )


# key -> (test, what it must be), for every preprocessing and detection value a run reads
_PREPROCESSING = {
    "resize_shorter": (_positive_int, "a positive integer"),
    "crop": (_positive_int, "a positive integer"),
    "size": (_positive_int, "a positive integer"),
    "pad_value": (lambda v: isinstance(v, int) and 0 <= v <= 255, "an integer from 0 to 255"),
    "scale": (lambda v: isinstance(v, _NUMBER) and math.isfinite(v) and v > 0, "a positive number"),
    "mean": (lambda v: _numbers(v, 3), "a list of 3 numbers"),
    "std": (lambda v: _numbers(v, 3) and all(x > 0 for x in v), "a list of 3 positive numbers"),
    "channel_order": (lambda v: v in ("RGB", "BGR"), "RGB or BGR"),
    "style": (lambda v: v in ("torch", "caffe", "darknet"), "torch, caffe or darknet"),
}
_DETECTION = {
    "outputs": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of output names"),
    "strides": (
        lambda v: isinstance(v, list) and v and all(_positive_int(x) for x in v),
        "a list of positive integers",
    ),
    "anchors": (lambda v: isinstance(v, list) and all(_numbers(a, 2) for a in v), "a list of [width, height] pairs"),
    "masks": (
        lambda v: isinstance(v, list) and all(isinstance(m, list) and all(isinstance(i, int) for i in m) for m in v),
        "a list of lists of anchor indices",
    ),
    "scale_x_y": (lambda v: _numbers(v), "a list of numbers"),
    "conf_threshold": (lambda v: isinstance(v, _NUMBER) and 0 <= v <= 1, "a number from 0 to 1"),
    "iou_threshold": (lambda v: isinstance(v, _NUMBER) and 0 <= v <= 1, "a number from 0 to 1"),
    "max_detections": (_positive_int, "a positive integer"),
}


def _check_values(values: Dict[str, Any], rules: Dict[str, Any], where: str, section: str) -> None:
    for key, (test, wanted) in rules.items():
        if key in values and not test(values[key]):
            raise UsageError('{}: "{}.{}" must be {} (got {!r})'.format(where, section, key, wanted, values[key]))


def _check(entry: Dict[str, Any], where: str) -> None:
    task = entry.get("task")
    if task not in TASKS:
        raise UsageError('{}: "task" must be one of {} (got {!r})'.format(where, ", ".join(TASKS), task))
    pre = entry.get("preprocessing")
    if not isinstance(pre, dict):
        raise UsageError('{}: "preprocessing" must be an object (see docs/accuracy.md)'.format(where))
    needed = ("resize_shorter", "crop") if task == "classification" else ("size",)
    missing = [key for key in needed if key not in pre]
    if missing:
        raise UsageError('{}: "preprocessing" lacks {} for a {} model'.format(where, ", ".join(missing), task))
    _check_values(pre, _PREPROCESSING, where, "preprocessing")
    offset = entry.get("label_offset", 0)
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise UsageError('{}: "label_offset" must be 0 or a positive integer (got {!r})'.format(where, offset))
    if entry.get("output") is not None and not isinstance(entry["output"], str):
        raise UsageError('{}: "output" must be the name of an output (got {!r})'.format(where, entry["output"]))
    if entry.get("layout") not in (None, "NCHW", "NHWC"):
        raise UsageError("{}: layout {!r}: choose NCHW or NHWC".format(where, entry["layout"]))
    if task == "detection":
        info = entry.get("detection")
        absent = [key for key in _DETECTION_KEYS if not isinstance(info, dict) or key not in info]
        if absent:
            raise UsageError('{}: "detection" lacks {} (YoloV4-style heads)'.format(where, ", ".join(absent)))
        _check_values(info, _DETECTION, where, "detection")
        if not len(info["strides"]) == len(info["masks"]) == len(info["scale_x_y"]):
            raise UsageError('{}: "detection" needs one mask and one scale_x_y per stride'.format(where))


@dataclasses.dataclass(frozen=True)
class RecipeSource:
    """Where an accuracy run's recipe comes from, read and checked before the run starts; the
    layout may still depend on the model's input shape, known once the model loaded."""

    entry: Dict[str, Any]
    #: "zoo manifest" or the --model-info path
    source: str
    layout: Optional[str]

    @property
    def task(self) -> str:
        return self.entry["task"]


def read_info(info_path: Path) -> RecipeSource:
    """A --model-info file, checked value by value (UsageError naming the file and the value)."""
    where = "--model-info {}".format(info_path)
    try:
        entry = json.loads(info_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError("{}: no such file".format(where)) from None
    except UnicodeDecodeError:
        raise UsageError("{}: not UTF-8 text".format(where)) from None
    except (ValueError, OSError) as exc:
        raise UsageError("{}: not readable JSON ({})".format(where, exc)) from None
    if not isinstance(entry, dict):
        raise UsageError("{}: expected a JSON object like a zoo.json model entry".format(where))
    _check(entry, where)
    return RecipeSource(entry, str(info_path), entry.get("layout"))


def from_zoo(zoo_entry: Dict[str, Any], zoo_file: Dict[str, Any]) -> RecipeSource:
    _check(zoo_entry, "zoo manifest")
    return RecipeSource(zoo_entry, "zoo manifest", zoo_file.get("layout"))


def recipe_for(inputs: List[TensorInfo], source: RecipeSource) -> ModelRecipe:
    """The recipe for a loaded model (UsageError if it has several inputs or no telling layout)."""
    if len(inputs) != 1:
        raise UsageError(
            "accuracy runs feed one image input; the model has {} ({})".format(
                len(inputs), ", ".join(t.name for t in inputs)
            )
        )
    entry = source.entry
    where = "--model-info {}".format(source.source) if source.source != "zoo manifest" else source.source
    return ModelRecipe(
        task=entry["task"],
        preprocessing=dict(entry["preprocessing"]),
        layout=_layout(source.layout, inputs[0], where),
        source=source.source,
        label_offset=int(entry.get("label_offset", 0)),
        output=entry.get("output"),
        detection=entry.get("detection"),
    )
