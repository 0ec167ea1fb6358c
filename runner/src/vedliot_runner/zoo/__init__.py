"""The built-in model zoo: the report's architectures built offline, as ONNX graphs and TFLite
files with deterministic weights (speed does not depend on weight values; accuracy needs real
weights, which users supply as files). Building needs the `zoo` extra."""

from __future__ import annotations

from types import ModuleType
from typing import Dict

from vedliot_runner.zoo import digits, mobilenetv2, mobilenetv3_small, resnet50, tinycnn, yolov4

#: the seed's model set (D3.3 §3.1.2.1) plus MobileNetV2 (the DPU's substitute)
MODELS: Dict[str, ModuleType] = {m.NAME: m for m in (resnet50, mobilenetv3_small, yolov4, mobilenetv2)}
#: models for tests, harness measurements and the demo's accuracy runs (digits: trained at build
#: time), buildable by name but not part of the default set
EXTRA_MODELS: Dict[str, ModuleType] = {tinycnn.NAME: tinycnn, digits.NAME: digits}


def build_onnx(module: ModuleType, seed: int = 0, image_size: int = 0):
    """The fp32 onnx.ModelProto of a model definition module, with the zoo's seeded random
    weights (for a trained model such as digits: its architecture, untrained)."""
    from vedliot_runner.zoo.graph import GraphBuilder
    from vedliot_runner.zoo.weights import WeightSource

    size = image_size or module.IMAGE_SIZE
    g = GraphBuilder(module.NAME, WeightSource(seed))
    module.define(g, size)
    return g.model(module.output_shapes(size))
