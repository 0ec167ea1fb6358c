"""The vedliot-runner command line (argparse: the runner stays free of non-stdlib CLI packages)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

from vedliot_runner import SCHEMA_ID, __version__, hostinfo
from vedliot_runner.backends import REGISTRY, import_requirement
from vedliot_runner.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUNTIME,
    EXIT_USAGE,
    BackendNotInstalled,
    BenchError,
    UsageError,
)
from vedliot_runner.evaluate import topk_percent
from vedliot_runner.run import MODES, PRECISIONS, RunOutcome, RunRequest, execute
from vedliot_runner.stats import summarize
from vedliot_runner.suite import FULL, QUICK, SUITES, run_suite


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints the whole usage block; one line (and exit 2) is what we promise.
        self.exit(EXIT_USAGE, "vedliot-runner: error: {} (see --help)\n".format(message))


def _key_value(text: str) -> tuple:
    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError("expected KEY=VALUE, got {!r}".format(text))
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def _shape(text: str) -> tuple:
    name, dims = _key_value(text)
    try:
        shape = [int(d) for d in dims.replace("x", ",").split(",") if d.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected NAME=D0,D1,... with integers, got {!r}".format(text)) from None
    if not shape or any(d < 0 for d in shape):
        raise argparse.ArgumentTypeError("expected NAME=D0,D1,... with non-negative integers, got {!r}".format(text))
    return name, shape


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vedliot-runner", description="Benchmark a model on one backend; write raw JSON records.")
    parser.add_argument("--version", action="version", version="vedliot-runner " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="benchmark one model with one backend and write one record")
    run.add_argument(
        "--model",
        required=True,
        type=Path,
        help="model file (.onnx for onnxruntime), or zoo:NAME for a built zoo model",
    )
    run.add_argument("--zoo", type=Path, help="built zoo directory for zoo:NAME (default $VEDLIOT_ZOO, else build/zoo)")
    run.add_argument("--backend", required=True, help="one of: " + ", ".join(sorted(REGISTRY)))
    run.add_argument("--precision", default="fp32", choices=PRECISIONS, help="precision requested (default fp32)")
    run.add_argument("--batch-size", type=int, default=1, help="inferences per call (default 1)")
    run.add_argument("--mode", default="latency", choices=MODES, help="latency: one request in flight (default)")
    run.add_argument("--output", type=Path, default=Path("results"), help="directory for the record (default results)")
    run.add_argument("--warmup-iterations", type=int, default=10, help="untimed calls after the first (default 10)")
    run.add_argument("--warmup-seconds", type=float, default=1.0, help="minimum warmup duration (default 1.0)")
    run.add_argument("--min-iterations", type=int, default=100, help="minimum timed calls (default 100)")
    run.add_argument("--min-seconds", type=float, default=10.0, help="minimum timed duration (default 10.0)")
    run.add_argument("--threads", type=int, help="CPU threads for the backend (default: backend's choice)")
    run.add_argument("--requests", type=int, help="requests in flight in throughput mode (default: backend's choice)")
    run.add_argument("--seed", type=int, default=0, help="seed of the synthetic inputs (default 0)")
    run.add_argument("--target", help="target name in the record (default $VEDLIOT_TARGET or 'local')")
    run.add_argument("--model-name", help="model name in the record (default: file name without extension)")
    run.add_argument(
        "--ops-per-inference",
        type=float,
        help="operations (2 x MACs) of one inference, if the zoo manifest or the ONNX counter should not decide",
    )
    run.add_argument(
        "--backend-option", action="append", type=_key_value, default=[], metavar="KEY=VALUE", help="repeatable"
    )
    run.add_argument(
        "--dataset",
        metavar="KIND:PATH",
        help="accuracy run: imagenet:DIR (ImageNet val layouts or class folders) or coco:DIR (val2017); "
        "every selected sample once, predictions in the record",
    )
    run.add_argument("--limit", type=int, default=0, help="accuracy run: N samples, evenly spread (default: all)")
    run.add_argument(
        "--model-info",
        type=Path,
        metavar="FILE.json",
        help="accuracy run of your own model: task, preprocessing, layout (see docs/accuracy.md)",
    )
    run.add_argument(
        "--input-shape",
        action="append",
        type=_shape,
        default=[],
        metavar="NAME=D0,D1,...",
        help="shape for an input with symbolic dimensions besides the batch (repeatable)",
    )
    _add_power_flags(run)
    _add_output_flags(run)

    suite = sub.add_parser("suite", help="run a target's default matrix (models x precisions x batch 1/8)")
    suite.add_argument("--target", required=True, help="one of: " + ", ".join(sorted(SUITES)))
    suite.add_argument("--output", type=Path, default=Path("results"), help="directory for the records (results)")
    suite.add_argument("--zoo", type=Path, help="built zoo (default $VEDLIOT_ZOO, else build/zoo)")
    suite.add_argument("--models", help="comma-separated zoo models (default resnet50,mobilenetv3_small,yolov4)")
    suite.add_argument("--precisions", help="comma-separated (default: the target's, e.g. fp32,fp16,int8)")
    suite.add_argument("--quick", action="store_true", help="batch 1 only and very short windows (demos, smoke tests)")
    suite.add_argument("--threads", type=int, help="CPU threads for the backend (default: backend's choice)")
    suite.add_argument(
        "--datasets",
        type=Path,
        help="directory with imagenet/ and/or coco/: also evaluate each model's accuracy on them",
    )
    suite.add_argument("--accuracy-limit", type=int, default=0, help="samples per accuracy run (default: all)")
    suite.add_argument(
        "--no-fail",
        action="store_true",
        help="exit 0 even when some runs failed (their records say so): for orchestrators such as compose, "
        "whose next step starts only on success",
    )
    suite.add_argument("--warmup-iterations", type=int, help="(suite default 5; --quick 1)")
    suite.add_argument("--warmup-seconds", type=float, help="(suite default 1.0; --quick 0)")
    suite.add_argument("--min-iterations", type=int, help="(suite default 20; --quick 3)")
    suite.add_argument("--min-seconds", type=float, help="(suite default 10.0; --quick 0.5)")
    suite.add_argument(
        "--backend-option", action="append", type=_key_value, default=[], metavar="KEY=VALUE", help="repeatable"
    )
    _add_power_flags(suite)
    _add_output_flags(suite)

    info = sub.add_parser("info", help="list the backends importable here and the host facts")
    info.add_argument("--json", action="store_true", help="print JSON")

    ops = sub.add_parser("ops", help="count the operations of one inference of an ONNX model")
    ops.add_argument("model", type=Path, help="an .onnx file")
    ops.add_argument("--json", action="store_true", help="print JSON")
    ops.add_argument("--nodes", action="store_true", help="also list MACs per node")

    zoo = sub.add_parser("zoo", help="the built-in model zoo (needs the 'zoo' extra)")
    zoo_sub = zoo.add_subparsers(dest="zoo_command", metavar="ZOO_COMMAND", parser_class=_Parser)
    zoo_build = zoo_sub.add_parser("build", help="build zoo models offline (cached) and write DIR/zoo.json")
    zoo_build.add_argument("--output", type=Path, default=Path("build/zoo"), help="zoo directory (default build/zoo)")
    zoo_build.add_argument(
        "--models", default="resnet50,mobilenetv3_small,yolov4,mobilenetv2", help="comma-separated (default: all four)"
    )
    zoo_build.add_argument("--precisions", default="fp32,fp16,int8", help="comma-separated (default fp32,fp16,int8)")
    zoo_build.add_argument("--formats", default="onnx,tflite", help="comma-separated (default onnx,tflite)")
    zoo_build.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    zoo_build.add_argument(
        "--calibration",
        action="append",
        type=_key_value,
        default=[],
        metavar="MODEL=FILE.npy",
        help="int8 calibration inputs: preprocessed float32 NCHW array (default: synthetic); repeatable",
    )
    zoo_build.add_argument("--quiet", action="store_true", help="no progress lines")
    zoo_list = zoo_sub.add_parser("list", help="show what a built zoo holds")
    zoo_list.add_argument("--zoo", type=Path, default=Path("build/zoo"), help="zoo directory (default build/zoo)")
    zoo_list.add_argument("--json", action="store_true", help="print the manifest")
    return parser


def _add_power_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--power",
        metavar="SOURCE[:K=V,...]",
        help="sample power during the run: rapl, nvml, tegrastats, hailo, recs, external or none; options "
        "after a colon, e.g. rapl:root=/sys/class/powercap,interval_ms=50 (see docs/power.md)",
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=5.0, help="idle power measured first on the same source (default 5)"
    )
    parser.add_argument(
        "--min-power-seconds",
        type=float,
        help="with --power, the timed window lasts at least this long (default: 5 sampling intervals and "
        "twice the sensor's averaging period)",
    )


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quiet", action="store_true", help="no progress; print only the record's path")
    group.add_argument("--json", action="store_true", help="no progress; print a JSON summary on stdout")


class _ProgressLine:
    """A one-line progress display on stderr, only when stderr is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.shown = False

    def __call__(self, stage: str, elapsed: float, iterations: int, min_seconds: float, min_iterations: int) -> None:
        if not self.enabled:
            return
        done = min(1.0, elapsed / min_seconds if min_seconds > 0 else 1.0, iterations / max(min_iterations, 1))
        if stage == "warmup":
            line = "warming up..."
        elif stage == "accuracy":
            line = "accuracy {:6d}/{} samples [{:<20}] {:3.0%}".format(
                iterations, min_iterations, "#" * int(done * 20), done
            )
        else:
            line = "timed {:5.1f}s {:6d} it  [{:<20}] {:3.0%}".format(elapsed, iterations, "#" * int(done * 20), done)
        sys.stderr.write("\r" + line + " " * 8)
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 70 + "\r")
            sys.stderr.flush()


def _summary(outcome: RunOutcome) -> Dict[str, object]:
    record = outcome.record
    timing = record.timing
    stats: Dict[str, float] = {}
    if timing is not None and timing.samples_ns and timing.window_start_ns is not None:
        stats = summarize(timing.samples_ns, timing.inferences, timing.window_end_ns - timing.window_start_ns)
    accuracy = _accuracy_summary(record)
    return {
        **accuracy,
        "record": str(outcome.path),
        "run_id": record.run_id,
        "status": record.status,
        "error": outcome.message,
        "model": record.model.name,
        "backend": record.software.backend.name,
        "precision_requested": record.precision.requested,
        "precision_effective": record.precision.effective,
        "batch_size": record.config.batch_size,
        "mode": record.config.mode,
        "first_inference_ms": timing.first_inference_ms if timing else None,
        **stats,
    }


def _accuracy_summary(record) -> Dict[str, object]:
    """A first look at an accuracy run (the aggregator scores it against its reference)."""
    section = record.accuracy
    if not section:
        return {}
    out: Dict[str, object] = {"dataset": section["dataset"]["name"], "samples": section["samples_evaluated"]}
    predictions = section.get("predictions") or {}
    scores = topk_percent(predictions)
    if scores is not None:
        out["top1_percent"], out["top5_percent"] = scores
    if "detections" in predictions:
        out["detections"] = predictions["detections"]
        out["detections_file"] = predictions["detections_file"]
    timing = record.timing
    if timing is not None and timing.preprocess_samples_ns:
        for key, samples in (
            ("preprocess_mean_ms", timing.preprocess_samples_ns),
            ("postprocess_mean_ms", timing.postprocess_samples_ns),
        ):
            out[key] = sum(samples) / len(samples) / 1e6
    return out


def _print_summary(summary: Dict[str, object]) -> None:
    print("record: {}".format(summary["record"]))
    print(
        "{status}: {model} on {backend}, {precision_requested} (effective {precision_effective}), "
        "batch {batch_size}, {mode}".format(**summary)
    )
    if "samples" in summary:
        scored = ""
        if "top1_percent" in summary:
            scored = ": top-1 {top1_percent:.2f}%, top-5 {top5_percent:.2f}%".format(**summary)
        elif "detections" in summary:
            scored = ": {detections} detections in {detections_file}".format(**summary)
        print("  {} samples of {}{}".format(summary["samples"], summary["dataset"], scored))
        if "mean_ms" in summary and "preprocess_mean_ms" in summary:
            print(
                "  per batch: preprocess {preprocess_mean_ms:.3f} ms  inference {mean_ms:.3f} ms  "
                "postprocess {postprocess_mean_ms:.3f} ms".format(**summary)
            )
        return
    if "mean_ms" in summary:
        print(
            "  mean {mean_ms:.3f} ms  median {median_ms:.3f}  p90 {p90_ms:.3f}  p99 {p99_ms:.3f}  "
            "| {inferences_per_s:.2f} inferences/s over {iterations} iterations".format(**summary)
        )


def _cmd_run(args: argparse.Namespace) -> int:
    request = RunRequest(
        model=args.model,
        backend=args.backend,
        output=args.output,
        precision=args.precision,
        batch_size=args.batch_size,
        mode=args.mode,
        warmup_iterations=args.warmup_iterations,
        warmup_seconds=args.warmup_seconds,
        min_iterations=args.min_iterations,
        min_seconds=args.min_seconds,
        threads=args.threads,
        requests_in_flight=args.requests,
        seed=args.seed,
        target=args.target,
        model_name=args.model_name,
        backend_options=dict(args.backend_option),
        input_shapes=dict(args.input_shape),
        zoo=args.zoo,
        ops_per_inference=args.ops_per_inference,
        dataset=args.dataset,
        limit=args.limit,
        model_info=args.model_info,
        power=args.power,
        idle_seconds=args.idle_seconds,
        min_power_seconds=args.min_power_seconds,
    )
    progress = _ProgressLine(enabled=not (args.quiet or args.json))
    try:
        outcome = execute(request, progress=progress)
    finally:
        progress.clear()
    summary = _summary(outcome)
    if outcome.record.precision.effective not in (None, outcome.record.precision.requested):
        print(
            "vedliot-runner: warning: requested {} but the backend executed {} ({})".format(
                outcome.record.precision.requested, outcome.record.precision.effective, outcome.record.precision.detail
            ),
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(summary, indent=1))
    elif args.quiet:
        print(outcome.path)
    else:
        _print_summary(summary)
    if outcome.exit_code != EXIT_OK:
        print("vedliot-runner: {}: {}".format(outcome.record.status, outcome.message), file=sys.stderr)
    return outcome.exit_code


def _cmd_suite(args: argparse.Namespace) -> int:
    loop = QUICK if args.quick else FULL
    overrides = {
        k: getattr(args, k)
        for k in ("warmup_iterations", "warmup_seconds", "min_iterations", "min_seconds")
        if getattr(args, k) is not None
    }
    loop = dataclasses.replace(loop, **overrides)
    split = lambda text: [item.strip() for item in text.split(",") if item.strip()] if text else None  # noqa: E731
    progress = _ProgressLine(enabled=not (args.quiet or args.json))
    lines: List[str] = []

    def log(line: str) -> None:
        progress.clear()
        lines.append(line)
        if not (args.quiet or args.json):
            print(line, flush=True)

    code, runs = run_suite(
        args.target,
        args.output,
        zoo=args.zoo,
        models=split(args.models),
        precisions=split(args.precisions),
        quick=args.quick,
        loop=loop,
        threads=args.threads,
        backend_options=dict(args.backend_option),
        power=args.power,
        idle_seconds=args.idle_seconds,
        min_power_seconds=args.min_power_seconds,
        datasets=args.datasets,
        accuracy_limit=args.accuracy_limit,
        log=log,
        progress=progress,
    )
    progress.clear()
    records = [str(r.outcome.path) for r in runs if r.outcome is not None]
    if args.json:
        print(json.dumps({"target": args.target, "exit_code": code, "runs": lines, "records": records}, indent=1))
    elif args.quiet:
        for path in records:
            print(path)
    else:
        statuses = [r.outcome.record.status if r.outcome else "not run" for r in runs]
        counts = ", ".join("{} {}".format(statuses.count(s), s) for s in sorted(set(statuses)))
        print("{}: {} records in {} ({})".format(args.target, len(records), args.output, counts))
    if code not in (EXIT_OK, EXIT_INTERRUPTED) and runs and runs[-1].outcome is None:
        print("vedliot-runner: error: {}".format(runs[-1].message), file=sys.stderr)
        return code
    if code == EXIT_RUNTIME and args.no_fail:
        return EXIT_OK
    return code


def _backend_status() -> List[Dict[str, Optional[str]]]:
    rows = []
    for name, entry in sorted(REGISTRY.items()):
        row: Dict[str, Optional[str]] = {"backend": name, "extra": entry.extra, "version": None, "problem": None}
        try:
            module = import_requirement(entry.requires[0])
            row["version"] = getattr(module, "__version__", "unknown")
            for package in entry.requires[1:]:
                import_requirement(package)
        except ImportError as exc:
            row["problem"] = "not installed ({}); pip install 'vedliot-runner[{}]'".format(exc, entry.extra)
        rows.append(row)
    return rows


def _cmd_info(args: argparse.Namespace) -> int:
    import numpy

    info = {
        "runner": __version__,
        "schema": SCHEMA_ID,
        "numpy": numpy.__version__,
        "backends": _backend_status(),
        "host": dataclasses.asdict(hostinfo.collect()),
    }
    if args.json:
        print(json.dumps(info, indent=1))
        return EXIT_OK
    print("vedliot-runner {} (records: {}), numpy {}".format(__version__, SCHEMA_ID, numpy.__version__))
    print("backends:")
    for row in info["backends"]:
        state = row["version"] if row["problem"] is None else row["problem"]
        print("  {:<12} {}".format(row["backend"], state))
    print("host:")
    for key, value in info["host"].items():
        print("  {:<18} {}".format(key, value))
    return EXIT_OK


def _cmd_ops(args: argparse.Namespace) -> int:
    from vedliot_runner import ops

    counted = ops.count(args.model)
    if args.json:
        data = counted.to_dict()
        if args.nodes:
            data["nodes"] = [dataclasses.asdict(n) for n in counted.nodes]
        print(json.dumps(data, indent=1))
        return EXIT_OK
    batch = " (counted at its static batch {}, divided by it)".format(counted.batch) if counted.batch > 1 else ""
    print("{}: {:,} MACs = {:.4f} GOps per inference{}".format(args.model, counted.macs, counted.gops, batch))
    for op_type, macs in counted.by_op_type.items():
        print("  {:<14} {:>16,} MACs  {:>9.4f} GOps".format(op_type, macs, 2 * macs / 1e9))
    if counted.not_counted:
        listed = ", ".join("{} x{}".format(k, v) for k, v in counted.not_counted.items())
        print("not counted (element-wise and other ops): " + listed)
    if counted.unresolved:
        print("NOT COUNTED, shapes unknown: " + ", ".join(counted.unresolved))
    if args.nodes:
        for node in counted.nodes:
            print("  {:<40} {:<14} {:>14,}".format(node.name, node.op_type, node.macs))
    return EXIT_OK


def _cmd_zoo(args: argparse.Namespace) -> int:
    if args.zoo_command == "list":
        from vedliot_runner.zoo import manifest

        data = manifest.load(args.zoo)
        if args.json:
            print(json.dumps(data, indent=1))
            return EXIT_OK
        for name, entry in sorted(data["models"].items()):
            ops = entry["ops_per_inference"]
            print("{} ({}, {:.4g} GOps, {})".format(name, entry["task"], ops["value"] / 1e9, ops["source"]))
            for item in entry["files"]:
                print(
                    "  {:<7} {:<5} {:>8.1f} MB  {}".format(
                        item["format"], item["precision"], item["size_bytes"] / 1e6, args.zoo / item["path"]
                    )
                )
        return EXIT_OK
    if args.zoo_command != "build":
        raise UsageError("zoo: choose a command: build or list (see vedliot-runner zoo --help)")
    try:
        from vedliot_runner.zoo import build as zoo_build
    except ImportError as exc:
        raise BackendNotInstalled(
            "zoo build needs the 'zoo' extra ({}); pip install 'vedliot-runner[zoo]'".format(exc)
        ) from None
    calibration = {name: Path(path) for name, path in args.calibration}
    for name, path in calibration.items():
        if not path.is_file():
            raise UsageError("--calibration {}={}: no such file".format(name, path))
    zoo_build.build(
        args.output,
        models=zoo_build.parse_list(args.models),
        precisions=zoo_build.parse_list(args.precisions),
        formats=zoo_build.parse_list(args.formats),
        seed=args.seed,
        calibration=calibration,
        log=(lambda line: None) if args.quiet else zoo_build._stderr,
    )
    print(args.output / "zoo.json")
    return EXIT_OK


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        commands = {"run": _cmd_run, "suite": _cmd_suite, "info": _cmd_info, "ops": _cmd_ops, "zoo": _cmd_zoo}
        return commands[args.command](args)
    except BenchError as exc:
        print("vedliot-runner: error: {}".format(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("vedliot-runner: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        # Disk full, permissions changed mid-run: the environment, not a bug.
        where = " ({})".format(exc.filename) if exc.filename else ""
        print("vedliot-runner: error: {}{}".format(exc.strerror or exc, where), file=sys.stderr)
        return EXIT_RUNTIME
