"""Operations per inference of an ONNX model, counted from the graph (D3.3 §3.1.2.1).

Counted: multiply-accumulates (MACs) of Conv (grouped and depthwise included), ConvTranspose,
Gemm and MatMul, and of their quantized forms (QLinearConv, ConvInteger, QLinearMatMul,
MatMulInteger, QGemm), from shapes inferred through the graph. Operations = 2 x MACs, the
report's convention (a multiply-add is two operations). Element-wise ops (activations, Add, Mul,
pooling, normalisation) are not counted, as in the report; they are listed by type so nothing is
dropped silently. Counts are for ONE inference: a symbolic batch is set to 1, a static batch N
divides the totals by N.
"""

from __future__ import annotations

import collections
import dataclasses
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from vedliot_runner.errors import ModelFileError, UsageError

COUNTED = ("Conv", "ConvTranspose", "Gemm", "MatMul")
_QUANTIZED_ALIASES = {
    "QLinearConv": "Conv",
    "ConvInteger": "Conv",
    "QLinearMatMul": "MatMul",
    "MatMulInteger": "MatMul",
    "QGemm": "Gemm",
}
# Index of the data / weight inputs in each quantized form.
_OPERANDS = {"QLinearConv": (0, 3), "QLinearMatMul": (0, 3), "QGemm": (0, 3)}


@dataclasses.dataclass
class NodeCount:
    name: str
    op_type: str
    macs: int


@dataclasses.dataclass
class OpsCount:
    model: str
    batch: int  # the batch the graph was counted at (totals are divided by it)
    macs: int  # per inference
    by_op_type: Dict[str, int]  # MACs per inference
    nodes: List[NodeCount]  # MACs per node, for the whole counted batch
    not_counted: Dict[str, int]  # op type -> nodes (element-wise and other ops)
    unresolved: List[str]  # counted-type nodes whose shapes could not be inferred

    @property
    def gops(self) -> float:
        return 2 * self.macs / 1e9

    def to_dict(self) -> Dict[str, Any]:
        return {
            "model": self.model,
            "macs": self.macs,
            "gops": self.gops,
            "counted_at_batch": self.batch,
            "by_op_type": {k: {"macs": v, "gops": 2 * v / 1e9} for k, v in self.by_op_type.items()},
            "not_counted": self.not_counted,
            "unresolved": self.unresolved,
        }


def _prod(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def _static_batch_one(model: Any) -> int:
    """Set symbolic first dimensions of the graph inputs to 1 (in place); return the batch counted."""
    inits = {i.name for i in model.graph.initializer}
    batch = 1
    for value in model.graph.input:
        if value.name in inits:
            continue
        dims = value.type.tensor_type.shape.dim
        if not dims:
            continue
        first = dims[0]
        if first.HasField("dim_value") and first.dim_value > 0:
            batch = max(batch, first.dim_value)
        else:
            first.ClearField("dim_param")
            first.dim_value = 1
    return batch


def _shapes(model: Any) -> Dict[str, List[int]]:
    from onnx import numpy_helper

    shapes: Dict[str, List[int]] = {}
    infos = list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output)
    for info in infos:
        dims = info.type.tensor_type.shape.dim
        if info.type.HasField("tensor_type") and dims and all(d.HasField("dim_value") for d in dims):
            shapes[info.name] = [d.dim_value for d in dims]
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute:
            for attr in node.attribute:
                if attr.name == "value":
                    shapes[node.output[0]] = list(numpy_helper.to_array(attr.t).shape)
    return shapes


def _attr(node: Any, name: str, default: Any) -> Any:
    from onnx import helper

    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


def _node_macs(node: Any, kind: str, shapes: Dict[str, List[int]]) -> Optional[int]:
    data_index, weight_index = _OPERANDS.get(node.op_type, (0, 1))
    if len(node.input) <= weight_index:
        return None
    x = shapes.get(node.input[data_index])
    w = shapes.get(node.input[weight_index])
    y = shapes.get(node.output[0])
    if kind == "Conv":
        if w is None or y is None:
            return None
        # W: [Cout, Cin/groups, k...]; each output element needs Cin/groups x prod(k) MACs.
        return _prod(y) * _prod(w[1:])
    if kind == "ConvTranspose":
        if w is None or x is None:
            return None
        # W: [Cin, Cout/groups, k...]; each input element is scattered over Cout/groups x prod(k).
        return _prod(x) * _prod(w[1:])
    if kind == "Gemm":
        if x is None or w is None or len(x) != 2 or len(w) != 2:
            return None
        m, k = (x[1], x[0]) if _attr(node, "transA", 0) else (x[0], x[1])
        n = w[0] if _attr(node, "transB", 0) else w[1]
        return m * k * n
    if kind == "MatMul":
        if x is None or w is None or y is None:
            return None
        # numpy matmul semantics: y's elements each take K MACs, K = x's last dimension.
        return _prod(y) * x[-1]
    return None


def count(model_or_path: Any) -> OpsCount:
    """Count an onnx.ModelProto or a path to an .onnx file."""
    import onnx
    from onnx import shape_inference

    if isinstance(model_or_path, (str, Path)):
        path = Path(model_or_path)
        if not path.is_file():
            raise UsageError("{}: no such file".format(path))
        try:
            model = onnx.load(str(path), load_external_data=False)
        except Exception as exc:  # noqa: BLE001 - protobuf raises several unrelated types
            raise ModelFileError("{}: not a readable ONNX model ({})".format(path, type(exc).__name__)) from None
        name = path.stem
    else:
        model = onnx.ModelProto()
        model.CopyFrom(model_or_path)
        name = model.graph.name or "model"
    batch = _static_batch_one(model)
    try:
        inferred = shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001 - if inference fails, declared shapes are all there is
        inferred = model
    shapes = _shapes(inferred)

    nodes: List[NodeCount] = []
    by_type: Dict[str, int] = collections.OrderedDict()
    not_counted: Dict[str, int] = collections.Counter()
    unresolved: List[str] = []
    for index, node in enumerate(inferred.graph.node):
        kind = _QUANTIZED_ALIASES.get(node.op_type, node.op_type)
        if kind not in COUNTED:
            not_counted[node.op_type] += 1
            continue
        macs = _node_macs(node, kind, shapes)
        label = node.name or "{}#{}".format(node.op_type, index)
        if macs is None:
            unresolved.append(label)
            continue
        nodes.append(NodeCount(label, node.op_type, macs))
        by_type[node.op_type] = by_type.get(node.op_type, 0) + macs
    total = sum(n.macs for n in nodes)
    return OpsCount(
        model=name,
        batch=batch,
        macs=total // batch,
        by_op_type={k: v // batch for k, v in by_type.items()},
        nodes=nodes,
        not_counted=dict(sorted(not_counted.items())),
        unresolved=unresolved,
    )
