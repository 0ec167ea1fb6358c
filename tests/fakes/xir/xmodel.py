"""The double's xmodel: a header, one JSON line and an ONNX model (never a real xmodel's format).

The JSON names the DPU the model was "compiled" for (the subgraph attributes dpu_fingerprint and
dpu_name that Xilinx's compiler writes, as `xdputil xmodel` reads them), the subgraphs in the
order toposort_child_subgraph() gives them, with their `device` (USER, DPU, CPU), and the fix
point of each input and output.
"""

import json
from pathlib import Path

MAGIC = b"FAKEXMODEL1\n"
ZCU104 = ("DPUCZDX8G_ISA1_B4096", 0x101000016010407)  # a real pair (tests/data/xdputil)


def write(onnx_path, xmodel_path, dpu=ZCU104, input_fix=6, output_fix=4, cpu_tail=False, dpu_parts=1):
    """A double "compiled" xmodel of an ONNX model for one DPU (name, fingerprint)."""
    import onnx

    model = onnx.load(str(onnx_path))
    subgraphs = [{"name": "subgraph_input", "attrs": {"device": "USER"}}]
    for k in range(dpu_parts):
        attrs = {
            "device": "DPU",
            "dpu_name": dpu[0],
            "dpu_fingerprint": dpu[1],
            "runner": {"run": "libvart-dpu-runner.so"},
        }
        subgraphs.append({"name": "subgraph_dpu_{}".format(k), "attrs": attrs})
    if cpu_tail:
        subgraphs.append({"name": "subgraph_softmax", "attrs": {"device": "CPU"}})
    meta = {
        "name": Path(onnx_path).stem,
        "subgraphs": subgraphs,
        "inputs": {i.name: input_fix for i in model.graph.input},
        "outputs": {o.name: output_fix for o in model.graph.output},
    }
    Path(xmodel_path).write_bytes(MAGIC + json.dumps(meta).encode() + b"\n" + Path(onnx_path).read_bytes())
    return Path(xmodel_path)


def read(path):
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if not data.startswith(MAGIC):
        return None
    header, _, onnx_bytes = data[len(MAGIC) :].partition(b"\n")
    return json.loads(header), onnx_bytes
