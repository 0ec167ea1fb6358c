"""The ONNX builder: each layer method appends nodes; tensors are referred to by name (NCHW).

Model definitions (resnet50.py, ...) are written once against the layer methods shared with
tfgraph.TFBuilder (input, conv, activations, add, mul, concat, maxpool, global_avgpool, flatten,
dense, upsample2x, output), so the ONNX and TFLite files come from one definition and one
WeightSource.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np

from vedliot_runner.zoo.weights import WeightSource

OPSET = 17


class Activations:
    """`activation(x, kind)` for builders that define relu, relu6, hardswish, mish and leaky_relu."""

    def activation(self, x, kind: str):
        return {
            "relu": self.relu,
            "relu6": self.relu6,
            "hswish": self.hardswish,
            "mish": self.mish,
            "leaky": self.leaky_relu,
        }[kind](x)


class GraphBuilder(Activations):
    def __init__(self, name: str, weights: WeightSource) -> None:
        self.name = name
        self.weights = weights
        self.nodes: List = []
        self.initializers: List = []
        self.inputs: List = []
        self.outputs: Dict[str, str] = {}
        self._count = 0

    # -- plumbing ---------------------------------------------------------------------------
    def _name(self, prefix: str) -> str:
        self._count += 1
        return "{}_{}".format(prefix, self._count)

    def constant(self, array: np.ndarray, prefix: str = "const") -> str:
        from onnx import numpy_helper

        name = self._name(prefix)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], prefix: Optional[str] = None, **attrs) -> str:
        from onnx import helper

        out = self._name(prefix or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    # -- graph ends -------------------------------------------------------------------------
    def input(self, name: str, channels: int, size: int) -> str:
        self.inputs.append((name, ["batch", channels, size, size]))
        return name

    def output(self, name: str, x: str) -> str:
        """Name a tensor as a model output (renames the producing node's output)."""
        for node in self.nodes:
            for index, out in enumerate(node.output):
                if out == x:
                    node.output[index] = name
            for index, inp in enumerate(node.input):
                if inp == x:
                    node.input[index] = name
        self.outputs[name] = name
        return name

    # -- layers -----------------------------------------------------------------------------
    def conv(self, x: str, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, gain: float = 1.0):
        weight, bias = self.weights.conv(cin, cout, kernel, groups, gain)
        inputs = [x, self.constant(weight, "w")]
        if bias is not None:
            inputs.append(self.constant(bias, "b"))
        pad = kernel // 2
        return self.op(
            "Conv",
            inputs,
            "conv",
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[pad, pad, pad, pad],
            group=groups,
        )

    def dense(self, x: str, cin: int, cout: int) -> str:
        weight, bias = self.weights.dense(cin, cout)
        return self.op("Gemm", [x, self.constant(weight, "fc_w"), self.constant(bias, "fc_b")], transB=1)

    def relu(self, x: str) -> str:
        return self.op("Relu", [x])

    def relu6(self, x: str) -> str:
        low = self.constant(np.array(0.0, dtype=np.float32), "clip_min")
        high = self.constant(np.array(6.0, dtype=np.float32), "clip_max")
        return self.op("Clip", [x, low, high])

    def hardswish(self, x: str) -> str:
        return self.op("HardSwish", [x])

    def hardsigmoid(self, x: str) -> str:
        # relu6(x + 3) / 6 as in PyTorch and Keras (ONNX's default alpha is 0.2, not 1/6).
        return self.op("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)

    def mish(self, x: str) -> str:
        # x * tanh(softplus(x)): what exporters emit below opset 18, and what every backend runs.
        return self.op("Mul", [x, self.op("Tanh", [self.op("Softplus", [x])])])

    def leaky_relu(self, x: str, alpha: float = 0.1) -> str:
        return self.op("LeakyRelu", [x], alpha=alpha)

    def add(self, a: str, b: str) -> str:
        return self.op("Add", [a, b])

    def mul(self, a: str, b: str) -> str:
        return self.op("Mul", [a, b])

    def concat(self, tensors: Sequence[str]) -> str:
        return self.op("Concat", list(tensors), axis=1)

    def maxpool(self, x: str, kernel: int, stride: int) -> str:
        p = kernel // 2
        return self.op("MaxPool", [x], kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[p, p, p, p])

    def global_avgpool(self, x: str) -> str:
        return self.op("GlobalAveragePool", [x])

    def flatten(self, x: str) -> str:
        return self.op("Flatten", [x], axis=1)

    def upsample2x(self, x: str) -> str:
        scales = self.constant(np.array([1.0, 1.0, 2.0, 2.0], dtype=np.float32), "scales")
        return self.op("Resize", [x, "", scales], mode="nearest")

    # -- model ------------------------------------------------------------------------------
    def model(self, output_shapes: Dict[str, Sequence]):
        """The checked onnx.ModelProto; `output_shapes` gives each output's declared shape."""
        from onnx import TensorProto, checker, helper

        graph = helper.make_graph(
            self.nodes,
            self.name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in self.inputs],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(output_shapes[n])) for n in self.outputs],
            initializer=self.initializers,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vedliot-bench", ir_version=8
        )
        checker.check_model(model)
        return model
