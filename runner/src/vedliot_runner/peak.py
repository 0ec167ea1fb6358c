"""`vedliot-runner peak`: measure this CPU's sustained peak per precision and write it as a peak
record (schema `vedliot-bench/peak/1`, in schema/result.schema.json's $defs). The aggregator takes
it, where host and CPU match, before the peak it estimates from the record's CPU facts."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from vedliot_runner import __version__, hostinfo, peak_probe
from vedliot_runner.errors import EXIT_OK, EXIT_RUNTIME, UsageError
from vedliot_runner.record import new_run_id, utc_now
from vedliot_runner.writer import dumps, write_atomic

PEAK_SCHEMA_ID = "vedliot-bench/peak/1"
PRECISIONS = ("fp32", "fp16", "bf16", "int8")


def add_parser(sub, parser_class) -> None:
    peak = sub.add_parser(
        "peak", help="measure this CPU's sustained peak per precision (FMA, VNNI) and write a peak record"
    )
    peak.add_argument("--output", "-o", type=Path, default=Path("results"), help="directory for the record")
    peak.add_argument("--precision", default=",".join(PRECISIONS), help="comma-separated (default: all four)")
    peak.add_argument("--threads", type=int, help="cores to load at once (default: every usable core)")
    peak.add_argument("--seconds", type=float, default=1.0, help="length of one measurement (default 1)")
    peak.add_argument("--repeats", type=int, default=3, help="measurements per precision; the best is kept")
    peak.add_argument("--json", action="store_true", help="print the record")
    peak.add_argument("--quiet", action="store_true", help="print only the record's path")


def _check(args: argparse.Namespace) -> List[str]:
    precisions = [p.strip() for p in args.precision.split(",") if p.strip()]
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown or not precisions:
        raise UsageError("--precision {}: choose from {}".format(args.precision, ", ".join(PRECISIONS)))
    if args.threads is not None and args.threads < 1:
        raise UsageError("--threads must be at least 1")
    if not 0.05 <= args.seconds <= 60 or args.repeats < 1:
        raise UsageError("--seconds takes 0.05 to 60 and --repeats at least 1")
    return precisions


def _one(
    precision: str, kernel: Any, cc: Any, tmp: str, args: argparse.Namespace, threads: int, flags: List[str]
) -> Tuple[Dict[str, Any], str]:
    """(the peak entry, "") or ({}, why this precision was not measured)."""
    if kernel is not None and cc is not None:
        binary, error = peak_probe.build(kernel, cc, tmp)
        if binary is None:
            return {}, "{} did not compile ({})".format(kernel.instruction, error)
        runs = [peak_probe.run_kernel(binary, threads, args.seconds) for _ in range(args.repeats)]
        # The best run: another load on the cores can only lower a peak (a shared VM's median was 62%
        # of its best, below what ONNX Runtime reached on ResNet50).
        entry = {"method": "c-kernel", "instruction": kernel.instruction, "ops_per_instruction": kernel.ops,
                 "threads": threads, "gops": max(runs), "runs_gops": runs}  # fmt: skip
        if "amx_" + precision in flags:
            # AMX needs the kernel's permission to use tile state and a tile layout: not probed
            entry["partial"] = True
            entry["note"] = "this CPU's AMX unit (amx_{}) is faster and not measured".format(precision)
        return entry, ""
    if precision == "fp32":
        runs = [peak_probe.numpy_matmul(args.seconds) for _ in range(args.repeats)]
        return {"method": "numpy-matmul", "instruction": "numpy float32 matmul (BLAS), a lower bound",
                "threads": None, "gops": max(runs), "runs_gops": runs}, ""  # fmt: skip
    if kernel is None:
        return {}, "no {} instructions on this CPU".format(precision)
    return {}, "no C compiler (cc, gcc or clang; or CC=...)"


def measure(args: argparse.Namespace, precisions: List[str], log: Callable[[str], None]) -> Dict[str, Any]:
    host = hostinfo.collect()
    threads = args.threads or host.cpu_cores_usable or 1
    cc = peak_probe.compiler()
    started, peaks, skipped = utc_now(), [], []
    with tempfile.TemporaryDirectory(prefix="vedliot-peak-") as tmp:
        for precision in precisions:
            kernel = peak_probe.choose(precision, host.cpu_flags)
            entry, why = _one(precision, kernel, cc, tmp, args, threads, host.cpu_flags)
            if entry:
                peaks.append(dict(precision=precision, **entry))
                log("{:<5} {:>10.1f} GOPS  {}".format(precision, entry["gops"], entry["instruction"]))
            else:
                skipped.append({"precision": precision, "reason": why})
                log("{:<5} not measured: {}".format(precision, why))
    return {
        "schema": PEAK_SCHEMA_ID,
        "run_id": new_run_id(),
        "status": "ok" if peaks else "failed",
        "error": None if peaks else {"type": "NothingMeasured", "message": "; ".join(s["reason"] for s in skipped)},
        "started_at": started,
        "finished_at": utc_now(),
        "host": dataclasses.asdict(host),
        "software": {"runner": __version__, "compiler": peak_probe.compiler_version(cc) if cc else None},
        "config": {"seconds": args.seconds, "repeats": args.repeats, "threads": threads},
        "peaks": peaks,
        "skipped": skipped,
    }


def cmd_peak(args: argparse.Namespace) -> int:
    precisions = _check(args)
    show = not (args.quiet or args.json)

    def log(line: str) -> None:
        if show:
            print(line, flush=True)

    record = measure(args, precisions, log)
    path = write_atomic(Path(args.output) / (record["run_id"] + ".json"), dumps(record))
    if args.json:
        print(json.dumps(record, indent=1))
    elif args.quiet:
        print(path)
    else:
        print("peak record: {}".format(path))
    if record["status"] != "ok":
        print("vedliot-runner: error: nothing measured: {}".format(record["error"]["message"]), file=sys.stderr)
        return EXIT_RUNTIME
    return EXIT_OK
