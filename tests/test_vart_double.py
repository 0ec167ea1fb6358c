"""The xir/vart doubles (tests/fakes/xir, tests/fakes/vart) against Xilinx's own bindings, as recorded
from Xilinx/Vitis-AI at v1.3, v2.5 and v3.0 (tests/data/vart-api/api.json): every name the backend
uses is bound there the same way (static method, method or read-only property), with the same
argument names and defaults; the failure texts the doubles print are Xilinx's."""

from __future__ import annotations

import inspect
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import vart
import xir

import models

API = json.loads((Path(__file__).parent / "data" / "vart-api" / "api.json").read_text())
TAGS = ("v1.3", "v2.5", "v3.0")
DATA = Path(__file__).parent / "data" / "xdputil"

# (double's class, name, how the binding declares it, py::arg names or None where the binding names none)
USED = [
    (xir.Graph, "deserialize", "def_static", ["fname"]),
    (xir.Graph, "get_root_subgraph", "def", None),
    (xir.Subgraph, "get_name", "def", None),
    (xir.Subgraph, "has_attr", "def", ["name"]),
    (xir.Subgraph, "get_attr", "def", ["name"]),
    (xir.Subgraph, "toposort_child_subgraph", "def", None),
    (xir.Subgraph, "is_leaf", "def_property_readonly", None),
    (xir.Tensor, "dims", "def_property_readonly", None),
    (xir.Tensor, "dtype", "def_property_readonly", None),
    (xir.Tensor, "name", "def_property", None),
    (xir.Tensor, "get_attr", "def", ["name"]),
    (xir.Tensor, "get_data_size", "def", None),
    (vart.Runner, "create_runner", "def_static", ["subgraph", "mode"]),
    (vart.Runner, "get_input_tensors", "def", None),
    (vart.Runner, "get_output_tensors", "def", None),
    (vart.Runner, "wait", "def", None),
]


def _binding(tag: str) -> str:
    return "\n".join(
        e["text"]
        for e in API
        if f"@{tag}:" in e["source"] and ("wrapper.cpp" in e["source"] or "py_module" in e["source"])
    )


@pytest.mark.parametrize("tag", TAGS)
@pytest.mark.parametrize("cls, name, kind, args", USED, ids=[f"{c.__name__}.{n}" for c, n, _, _ in USED])
def test_every_name_the_backend_uses_is_bound_the_same_way(tag, cls, name, kind, args):
    text = _binding(tag)
    assert re.search(rf'\.{kind}\(\s*(//\s*)?"{name}"', text), f"{tag}: {kind}({name!r}) not in the recorded binding"
    attribute = inspect.getattr_static(cls, name, None)
    if kind == "def_static":
        assert isinstance(attribute, staticmethod)
    elif kind.startswith("def_property"):
        if kind == "def_property_readonly":
            assert isinstance(attribute, property) and attribute.fset is None
        else:  # read/write (Tensor.name): a plain attribute of the double's instances
            assert attribute is None and xir.Tensor("t", [1]).name == "t"
    else:
        assert inspect.isfunction(attribute)
    if args:
        parameters = list(inspect.signature(attribute.__func__ if kind == "def_static" else attribute).parameters)
        assert [p for p in parameters if p != "self"] == args


def test_create_runner_defaults_to_the_empty_mode_and_wait_takes_the_pair():
    for tag in TAGS:
        text = _binding(tag)
        assert 'py::arg("subgraph"), py::arg("mode") = ""' in text
        assert "std::pair<uint32_t, int> job_id" in text and "wait(job_id.first, -1)" in text
    assert inspect.signature(vart.Runner.create_runner).parameters["mode"].default == ""
    assert list(inspect.signature(vart.Runner.wait).parameters) == ["self", "job_id"]


def test_neither_module_has_a_version_attribute():
    """Xilinx's modules set only a docstring: the backend reads versions from `xdputil query`."""
    for tag in TAGS:
        recorded = [e for e in API if f"@{tag}:" in e["source"] and "no __version__" in e["topic"]]
        assert len(recorded) == 2, tag
    assert not hasattr(xir, "__version__") and not hasattr(vart, "__version__")


def _shape(line: str) -> str:
    """A glog line with its time, thread, numbers and path abstracted: what must match a real capture."""
    line = re.sub(r"^([IWEF])\d{4} [\d:.]+\s+\d+ ", r"\1 ", line.strip())
    return re.sub(r"0x[0-9a-f]+|file = \S+", "#", line)


def _stderr(code: str, env: dict[str, str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env})
    assert out.returncode == -signal.SIGABRT, out  # glog's FATAL aborts, as the real libraries' CHECKs
    return [_shape(line) for line in out.stderr.splitlines() if re.match(r"[IWEF]\d{4} ", line)]


def test_the_doubles_fail_as_real_captures_show(tmp_path):
    xmodel = tmp_path / "m.xmodel"
    from xir import xmodel as writer

    writer.write(models.tiny(tmp_path / "m.onnx"), xmodel)
    captured = (DATA / "error_fingerprint_vai25_kria_roboticsai_issue8.txt").read_text().splitlines()
    mismatch = ("import numpy as np, vart, xir\n"
                f"g = xir.Graph.deserialize({str(xmodel)!r})\n"
                "s = [c for c in g.get_root_subgraph().toposort_child_subgraph() if c.has_attr('device') and "
                "c.get_attr('device') == 'DPU'][0]\n"
                "r = vart.Runner.create_runner(s, 'run')\n"
                "i, o = r.get_input_tensors()[0], r.get_output_tensors()[0]\n"
                "r.wait(r.execute_async([np.zeros(i.dims, np.int8)], [np.zeros(o.dims, np.int8)]))\n")  # fmt: skip
    assert _stderr(mismatch, {"VEDLIOT_FAKE_DPU": "DPUCZDX8G_ISA1_B4096,0x101000056010407,300,1,1"}) == [
        _shape(line) for line in captured if re.match(r"[WF]\d{4} ", line)
    ]
    pb = next(e["text"] for e in API if "rendering of xir Graph.deserialize failure" in e["topic"]).splitlines()[0]
    assert _stderr(f"import xir; xir.Graph.deserialize({str(tmp_path / 'm.onnx')!r})", {}) == [_shape(pb)]
    no_xrt = (DATA / "error_query_no_xrt_factory_issue1215.txt").read_text().splitlines()
    assert _stderr(mismatch, {"VEDLIOT_FAKE_DPU": ""}) == [_shape(x) for x in no_xrt if re.match(r"F\d{4} ", x)]
