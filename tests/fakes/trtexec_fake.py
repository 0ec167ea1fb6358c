"""Double of NVIDIA's trtexec for the version in VEDLIOT_FAKE_TRT_VERSION (default 10.3.0).

It prints what real trtexec builds print (the line formats of the real logs in
tests/data/trtexec/, TensorRT 8.0 to 10.16), accepts the options each version's
samples/common/sampleOptions.cpp parses and refuses the others as real trtexec does ("Unknown
option: --fp16 " on 11.x), writes --exportTimes traces in the real layout (warm-up queries
included before 8.5, as sampleReporting.cpp did) and --exportLayerInfo through the tensorrt
double's inspector. It "runs" the engine on ONNX Runtime: compute times are real CPU times.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np

VERSION = os.environ.get("VEDLIOT_FAKE_TRT_VERSION", "10.3.0")
V = tuple(int(x) for x in VERSION.split("."))


def code() -> str:
    major, minor, patch = ((*V, 0, 0))[:3]
    return str(major * 10000 + minor * 100 + patch if major >= 10 else major * 1000 + minor * 100 + patch)


def say(text: str, level: str = "I") -> None:
    print("[{}] [{}] {}".format(datetime.now().strftime("%m/%d/%Y-%H:%M:%S"), level, text), flush=True)


def accepted() -> set:
    names = {
        "onnx",
        "loadEngine",
        "saveEngine",
        "shapes",
        "warmUp",
        "duration",
        "iterations",
        "exportTimes",
        "exportLayerInfo",
        "profilingVerbosity",
        "noDataTransfers",
        "device",
        "verbose",
        "help",
        "streams",
    }
    if V < (11, 0):
        names |= {"fp16", "int8"}
    else:
        names |= {"includeDataTransfers"}
    if V >= (8, 6):
        names |= {"infStreams", "skipInference"}
    names |= {"memPoolSize"} if V >= (8, 4) else set()
    names |= {"workspace"} if V < (10, 0) else set()
    return names


def options(argv: list) -> tuple:
    parsed, unknown = {}, []
    for arg in argv:
        key, _, value = arg[2:].partition("=")
        if not arg.startswith("--") or key not in accepted():
            unknown.append(arg)
        parsed[key] = value
    return parsed, unknown


def finish(status: str, argv: list) -> int:
    print("&&&& {} TensorRT.trtexec [TensorRT v{}] # trtexec {}".format(status, code(), " ".join(argv)), flush=True)
    return 0 if status == "PASSED" else 1


def main(argv: list) -> int:
    print("&&&& RUNNING TensorRT.trtexec [TensorRT v{}] # trtexec {}".format(code(), " ".join(argv)), flush=True)
    opts, unknown = options(argv)
    if "help" in opts:
        print("=== Model Options ===")
        return finish("PASSED", argv)
    if unknown:
        say("Unknown option: {} ".format(unknown[0].split("=")[0]), "E")
        return finish("FAILED", argv)
    import fakegpu
    import tensorrt as trt

    warm = float(opts.get("warmUp", 200))
    duration = float(opts.get("duration", 3))
    iterations = int(opts.get("iterations", 10))
    streams = int(opts.get("infStreams", opts.get("streams", 1)))
    say("=== Inference Options ===")
    say("Iterations: {}".format(iterations))
    say("Duration: {:g}s (+ {:g}ms warm up)".format(duration, warm))
    say("{}: {}".format("Inference Streams" if V >= (8, 6) else "Streams", streams))
    transfers = ("includeDataTransfers" in opts) if V >= (11, 0) else ("noDataTransfers" not in opts)
    say("Data transfers: {}".format("Enabled" if transfers else "Disabled"))
    if fakegpu.FAILURE:
        say("Cuda failure: no CUDA-capable device is detected", "E")
        return finish("FAILED", argv)
    say("=== Device Information ===")
    say("Selected Device: {}".format(fakegpu.NAME))
    say("Compute Capability: {}.{}".format(fakegpu.MAJOR, fakegpu.MINOR))
    engine = load_or_build(trt, opts)
    if engine is None:
        return finish("FAILED", argv)
    if "exportLayerInfo" in opts:
        with open(opts["exportLayerInfo"], "w") as out:
            out.write(engine.create_engine_inspector().get_engine_information(trt.LayerInformationFormat.JSON))
    if "skipInference" in opts:
        return finish("PASSED", argv)
    return infer(trt, engine, opts, warm, duration, iterations, streams, transfers, argv)


def load_or_build(trt, opts):
    class Logger(trt.ILogger):
        def log(self, severity, msg):
            say("[TRT] {}".format(msg), "E" if severity <= trt.ILogger.Severity.ERROR else "W")

    logger = Logger()
    start = time.monotonic()
    if "loadEngine" in opts:
        with open(opts["loadEngine"], "rb") as handle:
            plan = handle.read()
        say("Engine loaded in {:g} sec.".format(time.monotonic() - start))
    else:
        say("Model: {}".format(opts["onnx"]))
        builder = trt.Builder(logger)
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH) if V < (11, 0) else 0
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, logger)
        with open(opts["onnx"], "rb") as handle:
            if not parser.parse(handle.read()):
                for i in range(parser.num_errors):
                    say("[TRT] ModelImporter.cpp:949: {}".format(parser.get_error(i).desc()), "E")
                say("Failed to parse onnx file", "E")
                return None
        config = builder.create_builder_config()
        for flag in ("fp16", "int8"):
            if flag in opts:
                config.set_flag(getattr(trt.BuilderFlag, flag.upper()))
        if opts.get("profilingVerbosity") == "detailed":
            config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
        if "shapes" in opts:
            profile = builder.create_optimization_profile()
            for name, shape in parse_shapes(opts["shapes"]).items():
                profile.set_shape(name, shape, shape, shape)
            config.add_optimization_profile(profile)
        plan = builder.build_serialized_network(network, config)
        if plan is None:
            say("Engine could not be created from network", "E")
            return None
        say("Engine built in {:g} sec.".format(time.monotonic() - start))
        if "saveEngine" in opts:
            with open(opts["saveEngine"], "wb") as handle:
                handle.write(plan)
    engine = trt.Runtime(logger).deserialize_cuda_engine(plan)
    if engine is None:
        say("Engine deserialization failed", "E")
    return engine


def parse_shapes(text: str) -> dict:
    shapes = {}
    for item in filter(None, text.split(",")):
        name, _, dims = item.rpartition(":")
        shapes[name] = [int(d) for d in dims.split("x")]
    return shapes


def infer(trt, engine, opts, warm, duration, iterations, streams, transfers, argv) -> int:
    shapes = parse_shapes(opts.get("shapes", ""))
    feeds = {}
    for name, shape, dtype, is_input in engine.io:
        if not is_input:
            continue
        shape = tuple(shapes.get(name, shape))
        feeds[name] = np.random.default_rng(0).random(shape).astype(trt.nptype(dtype))
        if V >= (10, 0):
            say("Input binding for {} with dimensions {} is created.".format(name, "x".join(map(str, shape))))
        else:
            say("Created input binding for {} with dimensions {}".format(name, "x".join(map(str, shape))))
    outputs = engine.session.run(None, feeds)
    for (name, *_), value in zip([io for io in engine.io if not io[3]], outputs, strict=False):
        dims = "x".join(map(str, value.shape))
        if V >= (10, 0):
            say("Output binding for {} with dimensions {} is created.".format(name, dims))
        else:
            say("Created output binding for {} with dimensions {}".format(name, dims))
    say("Starting inference")
    trace = run(engine, feeds, warm, duration, iterations, transfers)
    return report(trace, warm, opts, argv)


def run(engine, feeds, warm, duration, iterations, transfers) -> list:
    copy = 0.004 if transfers else 0.0
    origin, trace, timed = time.perf_counter(), [], 0
    while True:
        now = (time.perf_counter() - origin) * 1e3
        if timed >= iterations and now >= warm + duration * 1e3:
            break
        enq = now
        start = time.perf_counter()
        engine.session.run(None, feeds)
        compute = (time.perf_counter() - start) * 1e3
        h2d_start = enq + 0.001
        compute_start = h2d_start + copy
        compute_end = compute_start + compute
        trace.append(
            {
                "startEnqMs": enq,
                "endEnqMs": enq + 0.001,
                "startH2dMs": h2d_start,
                "endH2dMs": compute_start,
                "startComputeMs": compute_start,
                "endComputeMs": compute_end,
                "startD2hMs": compute_end,
                "endD2hMs": compute_end + copy,
                "h2dMs": copy,
                "computeMs": compute,
                "d2hMs": copy,
                "latencyMs": compute + 2 * copy,
            }
        )
        timed += compute_start >= warm
    return trace


def stats(values: list) -> str:
    a = np.asarray(values)
    parts = [
        "min = {:g} ms".format(a.min()),
        "max = {:g} ms".format(a.max()),
        "mean = {:g} ms".format(a.mean()),
        "median = {:g} ms".format(np.median(a)),
    ]
    if V >= (8, 5):
        parts += ["percentile({}%) = {:g} ms".format(p, np.percentile(a, p)) for p in (90, 95, 99)]
    else:
        parts += ["percentile(99%) = {:g} ms".format(np.percentile(a, 99))]
    return ", ".join(parts)


def report(trace: list, warm: float, opts: dict, argv: list) -> int:
    warmups = sum(1 for t in trace if t["startComputeMs"] < warm)
    timed = trace[warmups:]
    say("Warmup completed {} queries over {:g} ms".format(warmups, warm))
    walltime = (timed[-1]["endD2hMs"] - timed[0]["startH2dMs"]) / 1e3
    say("Timing trace has {} queries over {:g} s".format(len(timed), walltime))
    say("=== Performance summary ===")
    say("Throughput: {:g} qps".format(len(timed) / walltime))
    say("Latency: " + stats([t["latencyMs"] for t in timed]))
    say("Enqueue Time: " + stats([t["endEnqMs"] - t["startEnqMs"] for t in timed]))
    say("H2D Latency: " + stats([t["h2dMs"] for t in timed]))
    say("GPU Compute Time: " + stats([t["computeMs"] for t in timed]))
    say("D2H Latency: " + stats([t["d2hMs"] for t in timed]))
    say("Total Host Walltime: {:g} s".format(walltime))
    say("Total GPU Compute Time: {:g} s".format(sum(t["computeMs"] for t in timed) / 1e3))
    if "exportTimes" in opts:
        exported = trace if V < (8, 5) else timed
        keys = list(exported[0])
        with open(opts["exportTimes"], "w") as out:
            out.write("[\n")
            for i, query in enumerate(exported):
                body = ", ".join('"{}" : {:g}'.format(k, query[k]) for k in keys)
                out.write("{} {{ {} }}\n".format("," if i else " ", body))
            out.write("]\n")
    return finish("PASSED", argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
