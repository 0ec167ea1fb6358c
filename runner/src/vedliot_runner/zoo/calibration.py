"""Calibration inputs of the zoo's int8 files, and the synthetic images they default to."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Iterator, Optional

import numpy as np

from vedliot_runner.digest import sha256_of
from vedliot_runner.errors import UsageError

CALIBRATION_SAMPLES = 16


def synthetic_images(rng: np.random.Generator, count: int, size: int) -> np.ndarray:
    """Normalised NCHW "images" with structure: coarse random blocks plus fine noise.

    White noise makes every image look alike to a CNN (global pooling averages it away), so a
    classifier would give nearly the same logits for all of them; blocks give each sample its own
    content, which int8 calibration and top-1 agreement checks need to mean anything."""
    cells = 7
    low = rng.standard_normal((count, 3, cells, cells), dtype=np.float32)
    step = -(-size // cells)
    blocks = np.repeat(np.repeat(low, step, axis=2), step, axis=3)[:, :, :size, :size]
    return (blocks + 0.3 * rng.standard_normal(blocks.shape, dtype=np.float32)).astype(np.float32)


class Calibration:
    """Calibration inputs of one model: a user's .npy of preprocessed NCHW float32 inputs, or
    seeded synthetic_images (enough for speed benchmarks; accuracy needs real data)."""

    def __init__(self, module: ModuleType, seed: int, path: Optional[Path] = None, samples: int = 0) -> None:
        self.shape = (3, module.IMAGE_SIZE, module.IMAGE_SIZE)
        self.seed = seed
        self.path = path
        self.samples = samples or CALIBRATION_SAMPLES
        if path is not None:
            data = np.load(str(path), mmap_mode="r")
            if data.ndim != 4 or tuple(data.shape[1:]) != self.shape:
                raise UsageError(
                    "--calibration {}={}: expected a float32 array N x {}, got shape {}".format(
                        module.NAME, path, "x".join(map(str, self.shape)), "x".join(map(str, data.shape))
                    )
                )
            self.identity = "file:" + sha256_of(path)
        else:
            self.identity = "synthetic:blocks:seed={}:n={}".format(seed, self.samples)

    def batches(self, batch: int = 4) -> Iterator[np.ndarray]:
        if self.path is not None:
            data = np.load(str(self.path), mmap_mode="r")
            for start in range(0, len(data), batch):
                yield np.ascontiguousarray(data[start : start + batch], dtype=np.float32)
            return
        rng = np.random.default_rng(self.seed + 1000)
        for start in range(0, self.samples, batch):
            yield synthetic_images(rng, min(batch, self.samples - start), self.shape[-1])
