"""A small ONNX graph builder: layers as methods, numpy weights from a seeded generator.

Convolutions carry a bias (batch norm folded in, as deployed models are). Weights use He
initialisation so activations keep a sane range through deep stacks, which reduced-precision
variants need to stay comparable with fp32.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np


class GraphBuilder:
    def __init__(self, name: str, seed: int = 0, opset: int = 17) -> None:
        self.name = name
        self.opset = opset
        self.rng = np.random.default_rng(seed)
        self.nodes: List = []
        self.initializers: List = []
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

    # -- layers -----------------------------------------------------------------------------
    def conv(
        self, x: str, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = True
    ) -> str:
        fan_in = (cin // groups) * kernel * kernel
        weight = self.rng.standard_normal((cout, cin // groups, kernel, kernel)).astype(np.float32)
        weight *= np.float32(np.sqrt(2.0 / fan_in))
        inputs = [x, self.constant(weight, "w")]
        if bias:
            inputs.append(self.constant((0.01 * self.rng.standard_normal(cout)).astype(np.float32), "b"))
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

    def relu(self, x: str) -> str:
        return self.op("Relu", [x])

    def add(self, a: str, b: str) -> str:
        return self.op("Add", [a, b])

    def maxpool(self, x: str, kernel: int, stride: int, pad: Optional[int] = None) -> str:
        p = kernel // 2 if pad is None else pad
        return self.op("MaxPool", [x], kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[p, p, p, p])

    def global_avgpool(self, x: str) -> str:
        return self.op("GlobalAveragePool", [x])

    def flatten(self, x: str) -> str:
        return self.op("Flatten", [x], axis=1)

    def gemm(self, x: str, cin: int, cout: int) -> str:
        weight = (self.rng.standard_normal((cout, cin)) * np.sqrt(1.0 / cin)).astype(np.float32)
        bias = np.zeros(cout, dtype=np.float32)
        return self.op("Gemm", [x, self.constant(weight, "fc_w"), self.constant(bias, "fc_b")], transB=1)

    # -- model ------------------------------------------------------------------------------
    def model(self, inputs: Sequence, outputs: Sequence[str], output_shapes: Sequence[Sequence]):
        """`inputs`: (name, shape) pairs with a symbolic "batch" first dimension; float32 tensors."""
        from onnx import TensorProto, checker, helper

        graph = helper.make_graph(
            self.nodes,
            self.name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs],
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, list(s)) for o, s in zip(outputs, output_shapes)],
            initializer=self.initializers,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", self.opset)],
            producer_name="vedliot-bench",
            ir_version=8,
        )
        checker.check_model(model)
        return model

    def rename_output(self, current: str, name: str) -> str:
        """Give the last node's output a stable public name (e.g. 'logits')."""
        node = self.nodes[-1]
        assert node.output[0] == current
        node.output[0] = name
        return name
