"""`vedliot-runner info`, `ops` and `zoo`: the commands that measure nothing."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Dict, List

from vedliot_runner import SCHEMA_ID, __version__, hostinfo
from vedliot_runner.backends import REGISTRY, backend_type, import_requirement
from vedliot_runner.errors import EXIT_OK, EXIT_RUNTIME, BackendNotInstalled, UsageError
from vedliot_runner.options import help_lines


def _backend_status() -> List[Dict[str, object]]:
    rows = []
    for name, entry in sorted(REGISTRY.items()):
        row: Dict[str, object] = {"backend": name, "extra": entry.extra, "version": None, "problem": None}
        row["options"] = help_lines(backend_type(name).Options)
        try:
            module = import_requirement(entry.requires[0])
            row["version"] = getattr(module, "__version__", "unknown")
            for package in entry.requires[1:]:
                import_requirement(package)
        except ImportError as exc:
            row["problem"] = "not installed ({}); pip install 'vedliot-runner[{}]'".format(exc, entry.extra)
        rows.append(row)
    return rows


def cmd_info(args: argparse.Namespace) -> int:
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


def cmd_ops(args: argparse.Namespace) -> int:
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


def add_zoo_parser(sub, parser_class, key_value) -> None:
    zoo = sub.add_parser("zoo", help="the built-in model zoo (needs the 'zoo' extra)")
    zoo_sub = zoo.add_subparsers(dest="zoo_command", metavar="ZOO_COMMAND", parser_class=parser_class)
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
        type=key_value,
        default=[],
        metavar="MODEL=FILE.npy",
        help="int8 calibration inputs: preprocessed float32 NCHW array (default: synthetic); repeatable",
    )
    zoo_build.add_argument(
        "--workers",
        type=int,
        default=1,
        help="models built at once, each in a process of its own (default 1; each may need several GB)",
    )
    zoo_build.add_argument("--quiet", action="store_true", help="no progress lines")
    zoo_list = zoo_sub.add_parser("list", help="show what a built zoo holds")
    zoo_list.add_argument("--zoo", type=Path, default=Path("build/zoo"), help="zoo directory (default build/zoo)")
    zoo_list.add_argument("--json", action="store_true", help="print the manifest")
    zoo_add = zoo_sub.add_parser(
        "add", help="list a file compiled elsewhere (.hef, .xmodel, *_edgetpu.tflite) in a zoo"
    )
    zoo_add.add_argument("--zoo", type=Path, default=Path("build/zoo"), help="zoo directory (default build/zoo)")
    zoo_add.add_argument("--model", required=True, help="the zoo model it was compiled from, e.g. resnet50")
    zoo_add.add_argument("--file", type=Path, required=True, help="the compiled file")
    zoo_add.add_argument("--precision", default="int8", help="the precision it runs at (default int8)")
    zoo_tpu = zoo_sub.add_parser("edgetpu", help="compile the zoo's int8 .tflite files with edgetpu_compiler")
    zoo_tpu.add_argument("--zoo", type=Path, default=Path("build/zoo"), help="zoo directory (default build/zoo)")
    zoo_tpu.add_argument("--models", help="comma-separated (default: every model with an int8 .tflite)")
    zoo_tpu.add_argument("--compiler", default="edgetpu_compiler", help="the compiler (default: edgetpu_compiler)")
    zoo_tpu.add_argument("--json", action="store_true", help="print one JSON object per model")
    zoo_tpu.add_argument("--quiet", action="store_true", help="no progress lines")


def cmd_zoo(args: argparse.Namespace) -> int:
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
                form = manifest.form_of(item)
                precision = item["precision"] + (" " + form if form else "")
                print("  {:<7} {:<10} {:>8.1f} MB  {}".format(
                    item["format"], precision, item["size_bytes"] / 1e6, args.zoo / item["path"]))  # fmt: skip
        return EXIT_OK
    if args.zoo_command in ("add", "edgetpu"):
        return _zoo_compiled(args)
    if args.zoo_command != "build":
        raise UsageError("zoo: choose a command: build, list, add or edgetpu (see vedliot-runner zoo --help)")
    try:
        from vedliot_runner.zoo import build as zoo_build
    except ImportError as exc:
        raise BackendNotInstalled(
            "zoo build needs the 'zoo' extra ({}); pip install 'vedliot-runner[zoo]'".format(exc)
        ) from None
    if args.workers < 1:
        raise UsageError("--workers {}: give the number of models to build at once, 1 or more".format(args.workers))
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
        workers=args.workers,
    )
    print(args.output / "zoo.json")
    return EXIT_OK


def _zoo_compiled(args: argparse.Namespace) -> int:
    from vedliot_runner.zoo import compiled

    if args.zoo_command == "add":
        item = compiled.add(args.zoo, args.model, args.file, args.precision)
        print("{}: {} {} -> {}".format(args.model, item["format"], item["precision"], args.zoo / item["path"]))
        return EXIT_OK
    quiet = args.quiet or args.json
    models = [m for m in (args.models or "").split(",") if m] or None
    results = compiled.compile_edgetpu(
        args.zoo,
        models,
        args.compiler,
        log=(lambda line: None) if quiet else (lambda line: print(line, file=sys.stderr)),
    )
    if args.json:
        for result in results:
            print(json.dumps(result))
    return EXIT_OK if all(r["ok"] for r in results) else EXIT_RUNTIME
