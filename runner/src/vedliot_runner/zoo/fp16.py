"""fp16 ONNX variant: float initializers cast to float16, with float32 inputs and outputs kept
(a Cast at each end), as onnxconverter-common's keep_io_types does, so pre- and post-processing
stay the same for every precision of a model."""

from __future__ import annotations

import numpy as np

# Inputs that ONNX requires to stay float32 whatever the data type: Resize's roi and scales.
_KEEP_FLOAT32 = {("Resize", 1), ("Resize", 2)}


def to_fp16(model):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    keep = {
        node.input[i] for node in graph.node for (op, i) in _KEEP_FLOAT32 if node.op_type == op and len(node.input) > i
    }
    for index, init in enumerate(graph.initializer):
        if init.data_type == TensorProto.FLOAT and init.name not in keep:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name)
            graph.initializer[index].CopyFrom(half)

    casts_in = []
    for value in graph.input:
        if value.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        half_name = value.name + "_fp16"
        casts_in.append(helper.make_node("Cast", [value.name], [half_name], name=half_name, to=TensorProto.FLOAT16))
        for node in graph.node:
            for i, name in enumerate(node.input):
                if name == value.name:
                    node.input[i] = half_name
    casts_out = []
    for value in graph.output:
        if value.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        half_name = value.name + "_fp16"
        for node in graph.node:
            for i, name in enumerate(node.output):
                if name == value.name:
                    node.output[i] = half_name
            for i, name in enumerate(node.input):
                if name == value.name:
                    node.input[i] = half_name
        casts_out.append(helper.make_node("Cast", [half_name], [value.name], name=value.name, to=TensorProto.FLOAT))
    nodes = casts_in + list(graph.node) + casts_out
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]
    onnx.checker.check_model(out)
    return out
