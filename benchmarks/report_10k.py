"""Time `vedliot-aggregator report` over 10,000 generated records plus the published D3.3
reference (issue 7 goal: under 20 s on this 2-core machine), charts as SVG and PNG included.

    .venv/bin/python benchmarks/report_10k.py [--records 10000] [--runs 3] [--json]

The records are variations of one real record (a tinycnn ONNX Runtime run made here): 8 targets x
4 models x 3 precisions x 2 batches, repeated; each with 200 iteration samples and power readings.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from vedliot_runner.hostinfo import collect

REPO = Path(__file__).resolve().parents[1]
TARGETS = ["x86-onnxruntime", "x86-openvino", "x86-tvm", "jetson", "hailo", "coral", "vitis-ai", "cuda"]
MODELS = {"resnet50": 7.78e9, "mobilenetv3_small": 0.178e9, "yolov4": 60.4e9, "mobilenetv2": 0.6e9}


def template(directory: Path) -> dict:
    sys.path.insert(0, str(REPO / "tests"))
    import models

    path = models.tiny(directory / "tiny.onnx")
    out = directory / "template"
    command = [sys.executable, "-m", "vedliot_runner", "run", "--model", str(path), "--backend", "onnxruntime",
               "--quiet", "--min-iterations", "5", "--min-seconds", "0", "--warmup-seconds", "0", "--output",
               str(out)]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads(next(out.glob("*.json")).read_text())


def generate(base: dict, count: int, directory: Path) -> None:
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True)
    for i in range(count):
        record = json.loads(json.dumps(base))
        model = list(MODELS)[i % 4]
        record["run_id"] = str(uuid.UUID(int=rng.integers(0, 2**63) << 64 | i))
        record["target"]["name"] = TARGETS[(i // 4) % len(TARGETS)]
        record["model"]["name"] = model
        record["model"]["ops_per_inference"] = {"value": MODELS[model], "source": "given"}
        record["precision"]["requested"] = ("fp32", "fp16", "int8")[(i // 32) % 3]
        record["config"]["batch_size"] = (1, 8)[(i // 96) % 2]
        mean = rng.uniform(0.5, 50) * 1e6
        samples = rng.normal(mean, mean * 0.03, 200).clip(1).astype(int).tolist()
        timing = record["timing"]
        timing["samples_ns"] = samples
        timing["iterations"] = len(samples)
        timing["inferences"] = len(samples) * record["config"]["batch_size"]
        timing["window_end_ns"] = timing["window_start_ns"] + sum(samples)
        t = np.linspace(timing["window_start_ns"] - 1e9, timing["window_end_ns"] + 1e8, 60).astype(int).tolist()
        watts = rng.uniform(3, 300)
        record["power"] = {
            "source": "rapl", "kind": "power", "unit": "W", "averaging": "instant", "interval_ms": 100,
            "rails": ["package"], "summed": ["package"], "samples": {"t_ns": t, "values": {"package": [watts] * 60}},
            "idle": {"start_ns": t[0], "end_ns": t[5], "start_unix_ns": 0}, "errors": [], "validity": {"samples": 60},
        }  # fmt: skip
        (directory / f"{record['run_id']}.json").write_text(json.dumps(record))


def make(count: int, directory: Path) -> Path:
    """Generate `count` records under directory/records (for profiling)."""
    records = directory / "records"
    generate(template(directory), count, records)
    return records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = template(Path(tmp))
        records = Path(tmp) / "records"
        generate(base, args.records, records)
        times = []
        for run in range(args.runs):
            command = [sys.executable, "-m", "vedliot_aggregator", "report", str(records),
                       "--output", str(Path(tmp) / f"report{run}"), "--quiet"]  # fmt: skip
            start = time.monotonic()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            times.append(time.monotonic() - start)
    host = collect()
    median = round(statistics.median(times), 2)
    result = {"records": args.records, "runs": [round(t, 2) for t in times], "median_s": median, "goal_s": 20,
              "cpu": host.cpu_model, "cores": host.cpu_cores_logical}  # fmt: skip
    if args.json:
        print(json.dumps(result))
    else:
        print(f"report over {args.records} records + the D3.3 reference: median {result['median_s']} s "
              f"of {result['runs']} (goal < 20 s) on {host.cpu_model}, {host.cpu_cores_logical} cores")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
