"""Deterministic weights shared by the ONNX and TensorFlow builders.

Both builders draw from one WeightSource in the order a model definition asks for layers, so the
ONNX and TFLite files of a zoo model hold the same numbers. He initialisation keeps activations in
a sane range through deep stacks; residual branches end with a small gain so that sums over many
blocks do not grow without bound (what batch norm and training would otherwise take care of). Both
matter for fp16 (overflow above 65504) and int8 (a few outliers wreck the scale) variants.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import numpy as np

RESIDUAL_GAIN = 0.2


class HeadAdjust(NamedTuple):
    """Rescales the classifier's last layer: logits' = (logits - shift) / scale, per class.

    With random weights every input gets nearly the same logits (the mean of the pooled
    features dominates), so top-1 would be one class for all inputs and agreement between fp32
    and int8 could not fail. Centring each class on synthetic inputs makes the winner depend on
    the input, as with a trained model."""

    draw: int  # index of the weight draw of the last layer
    scale: float
    shift: np.ndarray  # per class


class WeightSource:
    def __init__(self, seed: int, head: Optional[HeadAdjust] = None) -> None:
        self.rng = np.random.default_rng(seed)
        self.head = head
        self.draws = 0

    def _adjust(self, weight: np.ndarray, bias: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        index = self.draws
        self.draws += 1
        if self.head is None or index != self.head.draw:
            return weight, bias
        scale = np.float32(self.head.scale)
        return weight / scale, ((bias - self.head.shift) / scale).astype(np.float32)

    def conv(
        self, cin: int, cout: int, kernel: int, groups: int = 1, gain: float = 1.0, bias: bool = True
    ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """ONNX layout [cout, cin/groups, k, k], and the bias (batch norm folded in)."""
        fan_in = (cin // groups) * kernel * kernel
        weight = self.rng.standard_normal((cout, cin // groups, kernel, kernel), dtype=np.float32)
        weight *= np.float32(gain * np.sqrt(2.0 / fan_in))
        if not bias:
            self.draws += 1
            return weight, None
        return self._adjust(weight, (0.01 * self.rng.standard_normal(cout, dtype=np.float32)).astype(np.float32))

    def dense(self, cin: int, cout: int) -> Tuple[np.ndarray, np.ndarray]:
        """[cout, cin] (Gemm with transB=1) and a zero bias."""
        weight = self.rng.standard_normal((cout, cin), dtype=np.float32) * np.float32(np.sqrt(1.0 / cin))
        return self._adjust(weight, np.zeros(cout, dtype=np.float32))
