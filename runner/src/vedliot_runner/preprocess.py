"""Image preprocessing driven by a model's manifest recipe (zoo.json "preprocessing").

Classification: resize the shorter side, centre crop, channel order, torch style (scale to 0..1,
then mean/std) or caffe style (0..255 minus a per-channel mean), NCHW or NHWC. Detection
(darknet): letterbox into a square with a grey border, scale to 0..1. Needs Pillow (the
`datasets` extra); imported lazily so the runner's core stays numpy-only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Tuple

import numpy as np

from vedliot_runner.errors import UsageError


def load_rgb(path: Path):
    """The image at `path` as an RGB PIL image; a clear error naming the file otherwise."""
    try:
        from PIL import Image
    except ImportError:
        raise UsageError("reading images needs Pillow: pip install 'vedliot-runner[datasets]'") from None
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except FileNotFoundError:
        raise UsageError("{}: image missing".format(path)) from None
    except OSError as exc:
        # Pillow repeats the path inside its message; once is enough.
        reason = str(exc).replace(" {!r}".format(str(path)), "").strip() or type(exc).__name__
        raise UsageError("{}: unreadable image ({})".format(path, reason)) from None


def _normalise(pixels: np.ndarray, recipe: Dict[str, Any]) -> np.ndarray:
    """HWC RGB float32 0..255 -> normalised HWC in the recipe's channel order."""
    if recipe.get("channel_order", "RGB") == "BGR":
        pixels = pixels[..., ::-1]
    if recipe.get("style") == "caffe":
        return pixels - np.asarray(recipe["mean"], dtype=np.float32)
    scaled = pixels * np.float32(recipe.get("scale", 1 / 255))
    mean = np.asarray(recipe.get("mean", [0.0, 0.0, 0.0]), dtype=np.float32)
    std = np.asarray(recipe.get("std", [1.0, 1.0, 1.0]), dtype=np.float32)
    return (scaled - mean) / std


def _layout(hwc: np.ndarray, layout: str) -> np.ndarray:
    return np.ascontiguousarray(hwc.transpose(2, 0, 1) if layout == "NCHW" else hwc, dtype=np.float32)


def classification_input(image, recipe: Dict[str, Any], layout: str = "NCHW") -> np.ndarray:
    """One image -> [3, crop, crop] (NCHW) or [crop, crop, 3] (NHWC) float32."""
    from PIL import Image

    shorter, crop = int(recipe["resize_shorter"]), int(recipe["crop"])
    width, height = image.size
    scale = shorter / min(width, height)
    size = (max(crop, round(width * scale)), max(crop, round(height * scale)))
    resized = image.resize(size, Image.BILINEAR)
    left, top = (size[0] - crop) // 2, (size[1] - crop) // 2
    cropped = resized.crop((left, top, left + crop, top + crop))
    return _layout(_normalise(np.asarray(cropped, dtype=np.float32), recipe), layout)


def letterbox_input(image, recipe: Dict[str, Any], layout: str = "NCHW") -> Tuple[np.ndarray, Tuple[int, int]]:
    """One image -> (the letterboxed, normalised input, the original (width, height))."""
    from PIL import Image

    from vedliot_runner.postprocess.yolo import letterbox_params

    size = int(recipe["size"])
    width, height = image.size
    scale, pad_x, pad_y = letterbox_params(width, height, size)
    resized = image.resize((round(width * scale), round(height * scale)), Image.BILINEAR)
    pad = int(recipe.get("pad_value", 128))
    canvas = Image.new("RGB", (size, size), (pad, pad, pad))
    canvas.paste(resized, (int(pad_x), int(pad_y)))
    return _layout(_normalise(np.asarray(canvas, dtype=np.float32), recipe), layout), (width, height)
