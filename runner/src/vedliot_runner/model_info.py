"""What an accuracy run must know about a model beyond its file: task, preprocessing recipe,
layout, label offset and, for detectors, how to decode the heads. Zoo models carry it in zoo.json;
a user's own model gets it from a JSON file in the same shape as a zoo.json model entry
(`--model-info FILE`, see docs/accuracy.md)."""

from __future__ import annotations

import dataclasses
import json
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
    if pre.get("style", "torch") not in ("torch", "caffe", "darknet"):
        raise UsageError("{}: preprocessing style {!r}: choose torch, caffe or darknet".format(where, pre["style"]))
    if task == "detection":
        info = entry.get("detection")
        absent = [key for key in _DETECTION_KEYS if not isinstance(info, dict) or key not in info]
        if absent:
            raise UsageError('{}: "detection" lacks {} (YoloV4-style heads)'.format(where, ", ".join(absent)))


def recipe_for(
    inputs: List[TensorInfo],
    zoo_entry: Optional[Dict[str, Any]],
    zoo_file: Optional[Dict[str, Any]],
    info_path: Optional[Path],
) -> ModelRecipe:
    """The recipe from --model-info if given, else from the zoo manifest; UsageError otherwise."""
    if len(inputs) != 1:
        raise UsageError(
            "accuracy runs feed one image input; the model has {} ({})".format(
                len(inputs), ", ".join(t.name for t in inputs)
            )
        )
    if info_path is not None:
        where = "--model-info {}".format(info_path)
        try:
            entry = json.loads(info_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError("{}: no such file".format(where)) from None
        except (ValueError, OSError) as exc:
            raise UsageError("{}: not readable JSON ({})".format(where, exc)) from None
        if not isinstance(entry, dict):
            raise UsageError("{}: expected a JSON object like a zoo.json model entry".format(where))
        source, layout = str(info_path), entry.get("layout")
    elif zoo_entry is not None:
        where, entry, source = "zoo manifest", zoo_entry, "zoo manifest"
        layout = (zoo_file or {}).get("layout")
    else:
        raise UsageError(
            "--dataset needs to know how to preprocess this model: use a zoo:NAME model or give "
            "--model-info FILE.json (see docs/accuracy.md)"
        )
    _check(entry, where)
    return ModelRecipe(
        task=entry["task"],
        preprocessing=dict(entry["preprocessing"]),
        layout=_layout(layout, inputs[0], where),
        source=source,
        label_offset=int(entry.get("label_offset", 0)),
        output=entry.get("output"),
        detection=entry.get("detection"),
    )
