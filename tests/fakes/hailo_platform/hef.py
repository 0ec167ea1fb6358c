"""The double's HEF: a header, one JSON line and an ONNX model (never a real HEF's format)."""

import json
from pathlib import Path

MAGIC = b"FAKEHEF1\n"


def write(onnx_path, hef_path, arch="HAILO8", input_quant=(1.0 / 255, 0.0), output_quant=(1.0 / 64, 128.0)):
    """A double "compiled" HEF of an ONNX model: uint8 inputs and outputs with these (scale, zp)."""
    import onnx

    model = onnx.load(str(onnx_path))
    meta = {
        "arch": arch,
        "inputs": {i.name: list(input_quant) for i in model.graph.input},
        "outputs": {o.name: list(output_quant) for o in model.graph.output},
    }
    Path(hef_path).write_bytes(MAGIC + json.dumps(meta).encode() + b"\n" + Path(onnx_path).read_bytes())
    return Path(hef_path)


def read(path):
    data = Path(path).read_bytes()
    if not data.startswith(MAGIC):
        return None
    header, _, onnx_bytes = data[len(MAGIC) :].partition(b"\n")
    return json.loads(header), onnx_bytes
