"""The numeric precision an ONNX file really holds, read from its tensor types and quantization nodes."""

from __future__ import annotations

import collections
from typing import Any, Counter, Optional, Tuple

QUANTIZE_OPS = {
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "QLinearConv",
    "QLinearMatMul",
    "ConvInteger",
    "MatMulInteger",
    "QLinearAdd",
    "QLinearMul",
    "QGemm",
}

# Below this share, a second float type is incidental (a Cast'ed scale, an fp32 head left as is).
_MIXED_SHARE = 0.10


def _float_params(model: Any) -> Counter[str]:
    """Number of float parameters by type name (float, float16, bfloat16)."""
    from onnx import TensorProto

    names = {TensorProto.FLOAT: "fp32", TensorProto.FLOAT16: "fp16", TensorProto.BFLOAT16: "bf16"}
    counts: Counter[str] = collections.Counter()
    for init in model.graph.initializer:
        kind = names.get(init.data_type)
        if kind:
            size = 1
            for dim in init.dims:
                size *= dim
            counts[kind] += size
    if not counts:
        # Weights fed as inputs, or none at all: judge by the declared inputs.
        for value in model.graph.input:
            kind = names.get(value.type.tensor_type.elem_type)
            if kind:
                counts[kind] += 1
    return counts


def _quantized_types(model: Any) -> Tuple[set, int]:
    """Integer types of the zero points (activations and weights) and the count of quantization nodes."""
    from onnx import TensorProto

    inits = {init.name: init for init in model.graph.initializer}
    int_types = set()
    count = 0
    for node in model.graph.node:
        if node.op_type not in QUANTIZE_OPS:
            continue
        count += 1
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 2:
            zero_point = inits.get(node.input[2])
            if zero_point is not None:
                int_types.add(TensorProto.DataType.Name(zero_point.data_type).lower())
    return int_types, count


def precision_of(model: Any) -> Tuple[Optional[str], str]:
    """(precision, detail) for a loaded onnx.ModelProto."""
    int_types, quant_nodes = _quantized_types(model)
    # int32 zero points belong to quantized biases, which every 8-bit scheme has.
    int_types.discard("int32")
    if quant_nodes:
        kinds = ", ".join(sorted(int_types)) or "8-bit"
        if int_types and int_types - {"int8", "uint8"}:
            return "mixed", "{} quantization nodes with zero points {}".format(quant_nodes, kinds)
        return "int8", "quantized: {} quantization nodes, zero points {}".format(quant_nodes, kinds)
    counts = _float_params(model)
    total = sum(counts.values())
    if not total:
        return None, "no float or quantized tensors found"
    shares = {kind: n / total for kind, n in counts.items()}
    detail = ", ".join("{} {:.0%}".format(kind, share) for kind, share in sorted(shares.items(), key=lambda kv: -kv[1]))
    major = [kind for kind, share in shares.items() if share >= _MIXED_SHARE]
    if len(major) > 1:
        return "mixed", "float parameters: " + detail
    return major[0], "float parameters: " + detail


def count_ops(model: Any, op_type: str) -> int:
    return sum(1 for node in model.graph.node if node.op_type == op_type)
