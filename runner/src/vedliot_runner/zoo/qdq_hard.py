"""Hard-swish and hard-sigmoid in a form ONNX Runtime's CPU int8 kernels keep in uint8.

ONNX Runtime has no quantized HardSwish or HardSigmoid kernel, so a QDQ file runs each one as a
float island: DequantizeLinear, HardSigmoid, Mul, QuantizeLinear, four passes over the tensor.
MobileNetV3-Small has 28 of them, and they made its u8s8 file slower than fp32 (docs/benchmarks.md).

Written as what they are, Add, Clip and Mul, they fuse into QLinearAdd and QLinearMul, and the
Clip disappears into the uint8 range of the Add's output:

    hard_sigmoid(x) = clip(x + beta/alpha, 0, 1/alpha) * alpha
    hard_swish(x)   = x * hard_sigmoid(x)        (alpha = 1/6, beta = 1/2)

The constant `* alpha` would be one more quantized operator per activation. It is left out of the
quantization instead (`gate_scales`) and `fold_gate_scales` then moves it into the scale of the
DequantizeLinear that reads the gate: DQ(t; s) * alpha == DQ(t; s * alpha), exactly.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

#: suffix of the Mul nodes that carry `* alpha`: left out of quantization, then folded
_SCALE = "_gate_scale"


def _floats(name: str, value: float):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.array(value, dtype=np.float32), name)


def _alpha_beta(node) -> Tuple[float, float]:
    if node.op_type == "HardSwish":
        return 1.0 / 6.0, 0.5
    attrs = {a.name: a.f for a in node.attribute}
    return attrs.get("alpha", 0.2), attrs.get("beta", 0.5)  # ONNX's defaults


def _expand(node, prefix: str) -> Tuple[List, List]:
    from onnx import helper

    alpha, beta = _alpha_beta(node)
    p = prefix
    consts = {p + "_shift": beta / alpha, p + "_low": 0.0, p + "_high": 1.0 / alpha, p + "_alpha": alpha}
    x = node.input[0]
    gate = node.output[0] if node.op_type == "HardSigmoid" else p + "_gate"
    nodes = [
        helper.make_node("Add", [x, p + "_shift"], [p + "_shifted"], name=p + "_add"),
        helper.make_node("Clip", [p + "_shifted", p + "_low", p + "_high"], [p + "_clipped"], name=p + "_clip"),
        helper.make_node("Mul", [p + "_clipped", p + "_alpha"], [gate], name=p + _SCALE),
    ]
    if node.op_type == "HardSwish":
        nodes.append(helper.make_node("Mul", [x, gate], [node.output[0]], name=p + "_mul"))
    return nodes, [_floats(name, value) for name, value in consts.items()]


def decompose(model):
    """A copy of `model` with every HardSwish and HardSigmoid written as Add, Clip and Mul; `model`
    itself when it has none (ResNet50 and YoloV4 are not copied for nothing)."""
    import onnx

    if not any(node.op_type in ("HardSwish", "HardSigmoid") for node in model.graph.node):
        return model
    out = onnx.ModelProto()
    out.CopyFrom(model)
    nodes = []
    for index, node in enumerate(out.graph.node):
        if node.op_type not in ("HardSwish", "HardSigmoid"):
            nodes.append(node)
            continue
        expanded, constants = _expand(node, "{}_hard{}".format(node.name or node.op_type, index))
        nodes.extend(expanded)
        out.graph.initializer.extend(constants)
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out


def gate_scales(model) -> List[str]:
    """The nodes `decompose` added that quantization must leave in float, for fold_gate_scales."""
    return [node.name for node in model.graph.node if node.op_type == "Mul" and node.name.endswith(_SCALE)]


def _consumers(graph) -> Dict[str, List]:
    found: Dict[str, List] = {}
    for node in graph.node:
        for name in node.input:
            found.setdefault(name, []).append(node)
    return found


def fold_gate_scales(model):
    """A copy of a quantized `model` where each DQ(t) -> Mul(alpha) -> Q(h) -> DQ(h) is DQ(t) with scale s_t * alpha.

    Raises ValueError when a gate is not in that pattern: a float Mul left in place would run
    as a float island again, the slowness this module exists to remove."""
    import onnx
    from onnx import numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    constants = {i.name: i for i in graph.initializer}
    producer = {name: node for node in graph.node for name in node.output}
    consumers = _consumers(graph)
    dropped = set()  # by output name: unique in a graph, unlike node names
    gates = set(gate_scales(out))
    for mul in [n for n in graph.node if n.name in gates]:
        dq = producer.get(mul.input[0])
        after = consumers.get(mul.output[0], [])
        if not after and mul.output[0] in {o.name for o in graph.output}:
            continue  # a float output anyway: DQ -> Mul is what it takes
        if dq is None or dq.op_type != "DequantizeLinear" or [n.op_type for n in after] != ["QuantizeLinear"]:
            raise ValueError("{}: not between a DequantizeLinear and a QuantizeLinear".format(mul.name))
        alpha = float(numpy_helper.to_array(constants[mul.input[1]]))
        scale = numpy_helper.to_array(constants[dq.input[1]]) * np.float32(alpha)
        folded = numpy_helper.from_array(scale.astype(np.float32), mul.name + "_folded")
        graph.initializer.append(folded)
        for reader in consumers[after[0].output[0]]:
            if reader.op_type != "DequantizeLinear":
                raise ValueError("{}: its gate is read by {}, not a DequantizeLinear".format(mul.name, reader.op_type))
            del reader.input[:]
            reader.input.extend([dq.input[0], folded.name, *dq.input[2:]])
        dropped.update({mul.output[0], after[0].output[0]})
        if len(consumers[dq.output[0]]) == 1:
            dropped.add(dq.output[0])
    kept = [node for node in graph.node if node.output[0] not in dropped]
    del graph.node[:]
    graph.node.extend(kept)
    used = {name for node in kept for name in node.input} | {o.name for o in graph.output}
    unused = [i for i in graph.initializer if i.name not in used]
    for initializer in unused:
        graph.initializer.remove(initializer)
    return out
