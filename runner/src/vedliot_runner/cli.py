"""The vedliot-runner command line (argparse: the runner stays free of non-stdlib CLI packages)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

from vedliot_runner import __version__, interrupt, peak
from vedliot_runner.backends import REGISTRY
from vedliot_runner.cli_output import ProgressLine, print_summary, summary
from vedliot_runner.cli_tools import add_zoo_parser, cmd_info, cmd_ops, cmd_zoo
from vedliot_runner.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, BenchError, UsageError
from vedliot_runner.measure import LoopSettings
from vedliot_runner.request import (
    MODES,
    PRECISIONS,
    AccuracyRequest,
    BackendRequest,
    ModelRequest,
    PowerRequest,
    RunRequest,
)
from vedliot_runner.run import execute
from vedliot_runner.suite import FULL, QUICK, SUITES, SuiteRequest, run_suite


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
    _add_run_parser(sub)
    _add_suite_parser(sub)
    _add_tool_parsers(sub)
    return parser


def _add_run_parser(sub) -> None:
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
    _add_timeout_flag(run)
    _add_output_flags(run)


def _add_suite_parser(sub) -> None:
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
    suite.add_argument("--backend", help="run the matrix with this backend instead of the target's (e.g. trtexec)")
    suite.add_argument(
        "--cross-check",
        metavar="BACKEND",
        help="also run every performance configuration with this backend (e.g. trtexec), for the report's "
        "cross-check table",
    )
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
    _add_timeout_flag(suite)
    _add_output_flags(suite)


def _add_tool_parsers(sub) -> None:
    info = sub.add_parser("info", help="list the backends importable here and the host facts")
    info.add_argument("--json", action="store_true", help="print JSON")

    ops = sub.add_parser("ops", help="count the operations of one inference of an ONNX model")
    ops.add_argument("model", type=Path, help="an .onnx file")
    ops.add_argument("--json", action="store_true", help="print JSON")
    ops.add_argument("--nodes", action="store_true", help="also list MACs per node")

    add_zoo_parser(sub, _Parser, _key_value)
    peak.add_parser(sub, _Parser)


def _add_power_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--power",
        metavar="SOURCE[:K=V,...]",
        help="sample power during the run: rapl, nvml, tegrastats, ina3221, hwmon, hailo, recs, external or none; "
        "options after a colon, e.g. rapl:root=/sys/class/powercap,interval_ms=50 (see docs/power.md)",
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


def _add_timeout_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="stop a run's worker process after S seconds (a hung runtime): its record says failed (no limit)",
    )


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quiet", action="store_true", help="no progress; print only the record's path")
    group.add_argument("--json", action="store_true", help="no progress; print a JSON summary on stdout")


def _run_request(args: argparse.Namespace) -> RunRequest:
    if args.dataset is None and (args.limit or args.model_info is not None):
        option = "--limit" if args.limit else "--model-info"
        raise UsageError("{} only applies to accuracy runs: add --dataset imagenet:PATH or coco:PATH".format(option))
    accuracy = None
    if args.dataset is not None:
        accuracy = AccuracyRequest(dataset=args.dataset, limit=args.limit, model_info=args.model_info)
    return RunRequest(
        model=ModelRequest(
            model=args.model,
            zoo=args.zoo,
            name=args.model_name,
            ops_per_inference=args.ops_per_inference,
            input_shapes=dict(args.input_shape),
        ),
        backend=BackendRequest(
            name=args.backend, precision=args.precision, options=dict(args.backend_option), threads=args.threads
        ),
        loop=LoopSettings(
            mode=args.mode,
            batch_size=args.batch_size,
            warmup_iterations=args.warmup_iterations,
            warmup_seconds=args.warmup_seconds,
            min_iterations=args.min_iterations,
            min_seconds=args.min_seconds,
            requests_in_flight=args.requests,
        ),
        output=args.output,
        power=PowerRequest(args.power, args.idle_seconds, args.min_power_seconds),
        accuracy=accuracy,
        seed=args.seed,
        target=args.target,
        timeout_s=args.timeout,
    )


def _cmd_run(args: argparse.Namespace) -> int:
    request = _run_request(args)
    progress = ProgressLine(enabled=not (args.quiet or args.json))
    try:
        outcome = execute(request, progress=progress)
    finally:
        progress.clear()
    precision = outcome.record.precision
    if precision.effective not in (None, precision.requested):
        print(
            "vedliot-runner: warning: requested {} but the backend executed {} ({})".format(
                precision.requested, precision.effective, precision.detail
            ),
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(summary(outcome), indent=1))
    elif args.quiet:
        print(outcome.path)
    else:
        print_summary(summary(outcome))
    if outcome.exit_code != EXIT_OK:
        print("vedliot-runner: {}: {}".format(outcome.record.status, outcome.message), file=sys.stderr)
    return outcome.exit_code


def _suite_request(args: argparse.Namespace) -> SuiteRequest:
    loop = QUICK if args.quick else FULL
    overrides = {
        k: getattr(args, k)
        for k in ("warmup_iterations", "warmup_seconds", "min_iterations", "min_seconds")
        if getattr(args, k) is not None
    }
    split = lambda text: [item.strip() for item in text.split(",") if item.strip()] if text else None  # noqa: E731
    return SuiteRequest(
        target=args.target,
        output=args.output,
        zoo=args.zoo,
        models=split(args.models),
        precisions=split(args.precisions),
        quick=args.quick,
        loop=dataclasses.replace(loop, **overrides),
        threads=args.threads,
        backend_options=dict(args.backend_option),
        power=PowerRequest(args.power, args.idle_seconds, args.min_power_seconds),
        datasets=args.datasets,
        accuracy_limit=args.accuracy_limit,
        timeout_s=args.timeout,
        backend=args.backend or os.environ.get("VEDLIOT_BACKEND") or None,
        cross_check=args.cross_check,
    )


def _cmd_suite(args: argparse.Namespace) -> int:
    progress = ProgressLine(enabled=not (args.quiet or args.json))
    lines: List[str] = []

    def log(line: str) -> None:
        progress.clear()
        lines.append(line)
        if not (args.quiet or args.json):
            print(line, flush=True)

    code, runs = run_suite(_suite_request(args), log=log, progress=progress)
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


COMMANDS = {
    "run": _cmd_run,
    "suite": _cmd_suite,
    "info": cmd_info,
    "ops": cmd_ops,
    "zoo": cmd_zoo,
    "peak": peak.cmd_peak,
}


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
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


def console() -> int:
    """The `vedliot-runner` console script: signals are caught before the heavy imports (see entry.py)."""
    signalled = interrupt.pending()
    if signalled:
        print(
            "vedliot-runner: stopped by {} before anything ran; nothing was written".format(signalled), file=sys.stderr
        )
        return EXIT_INTERRUPTED
    return main()
