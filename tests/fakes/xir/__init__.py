"""Double of Vitis AI's `xir` Python module (the pybind11 wrapper of libxir, Vitis AI 1.3-3.0): the
classes, methods and properties the vart backend uses, with the names, signatures and behaviour of
Xilinx's wrapper.cpp (tests/data/vart-api/api.json, with sources):

- Graph.deserialize(fname) (static), Graph.get_root_subgraph(), Graph.get_name();
- Subgraph.get_name(), has_attr(name), get_attr(name), toposort_child_subgraph(), get_children(),
  and the read-only properties is_root and is_leaf (no `name` property);
- Tensor.name, .ndim, .dims, .dtype (lower case, "xint8"), get_data_size(), has_attr, get_attr.
- Failures are glog FATAL lines and an abort, as the real library's CHECKs (UNI_LOG_FATAL) are.

An "xmodel" of this double is `FAKEXMODEL1\\n`, one JSON line (the DPU it was compiled for, its
subgraphs, the fix points) and an ONNX model (tests/fakes/xir/xmodel.py); never a real xmodel.
"""

from xir import xmodel as _xmodel
from xir._glog import fatal as _fatal


class Tensor:
    def __init__(self, name, dims, dtype="xint8", attrs=None):
        self.name = name
        self._dims = [int(d) for d in dims]
        self._dtype = dtype
        self._attrs = dict(attrs or {})

    @property
    def ndim(self):
        return len(self._dims)

    @property
    def dims(self):
        return list(self._dims)

    @property
    def dtype(self):
        return self._dtype

    def get_element_num(self):
        n = 1
        for d in self._dims:
            n *= d
        return n

    def get_data_size(self):
        return self.get_element_num() * (1 if self._dtype.endswith("int8") else 4)

    def has_attr(self, name):
        return name in self._attrs

    def get_attr(self, name):
        if name not in self._attrs:
            _fatal("tensor_imp.cpp:124", "[UNILOG][FATAL][XIR_UNREGISTERED_ATTR][Unregistered attribute!] "
                   "Attrs doesn't contain attribute " + name)  # fmt: skip
        return self._attrs[name]

    def __repr__(self):
        return "{{name: '{}', shape: {}, type: '{}'}}".format(self.name, self._dims, self._dtype)


class Subgraph:
    def __init__(self, name, attrs, children=(), graph=None):
        self._name = name
        self._attrs = dict(attrs)
        self._children = list(children)
        self._graph = graph
        self._parent = None
        for child in self._children:
            child._parent = self

    def get_name(self):
        return self._name

    @property
    def is_root(self):
        return self._parent is None

    @property
    def is_leaf(self):
        return not self._children

    def get_children(self):
        return set(self._children)

    def get_children_num(self):
        return len(self._children)

    def toposort_child_subgraph(self):
        return list(self._children)

    def has_attr(self, name):
        return name in self._attrs

    def get_attr(self, name):
        if name not in self._attrs:
            _fatal("attrs_imp.cpp:35", "[UNILOG][FATAL][XIR_UNREGISTERED_ATTR][Unregistered attribute!] "
                   "Attrs doesn't contain attribute " + name)  # fmt: skip
        return self._attrs[name]

    def get_graph(self):
        return self._graph

    def __repr__(self):
        return "Subgraph(name={})".format(self._name)


class Graph:
    def __init__(self, name, meta, onnx_bytes):
        self._name = name
        self._meta = meta
        self._onnx = onnx_bytes
        children = [Subgraph(s["name"], s["attrs"], graph=self) for s in meta["subgraphs"]]
        self._root = Subgraph("root", {}, children, graph=self)

    @staticmethod
    def deserialize(fname):
        found = _xmodel.read(fname)
        if found is None:
            _fatal("serialize_v2.cpp:705", "[UNILOG][FATAL][XIR_READ_PB_FAILURE][failed to read pb file] "
                   "file = " + fname)  # fmt: skip
        meta, onnx_bytes = found
        return Graph(meta.get("name", "fake_xmodel"), meta, onnx_bytes)

    def get_name(self):
        return self._name

    def get_root_subgraph(self):
        return self._root

    def __repr__(self):
        return "Graph(name={})".format(self._name)
