"""The vedliot-aggregator command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from vedliot_aggregator import __version__, scoring
from vedliot_aggregator import power as power_metrics
from vedliot_aggregator.cli_fleet import fleet
from vedliot_aggregator.cli_import import import_group, pull
from vedliot_aggregator.cli_report import compare_command, fmt, report
from vedliot_aggregator.collect import collect
from vedliot_aggregator.records import PowerSummary
from vedliot_aggregator.schema import check_file, record_files


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vedliot-aggregator")
def cli() -> None:
    """Collect vedliot-bench result records, validate them, and (soon) report on them."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
@click.option("--quiet", is_flag=True, help="Print only the files that are invalid.")
def validate(paths: tuple[Path, ...], as_json: bool, quiet: bool) -> None:
    """Check record files (or every *.json under directories) against the result schema.

    Exit code 0 when all are valid, 1 when any is not.
    """
    checks = [check_file(p) for p in record_files(paths)]
    if not checks:
        raise click.UsageError(f"no *.json files under {', '.join(map(str, paths))}")
    for check in checks:
        if as_json:
            click.echo(json.dumps({"path": str(check.path), "valid": check.ok, "problems": list(check.problems)}))
        elif not check.ok:
            click.echo(
                f"{check.path}: invalid: {check.problems[0]}"
                + (f" (and {len(check.problems) - 1} more)" if len(check.problems) > 1 else "")
            )
        elif not quiet:
            click.echo(f"{check.path}: valid")
    bad = sum(not c.ok for c in checks)
    if not as_json and not quiet:
        click.echo(f"{len(checks) - bad} valid, {bad} invalid", err=True)
    sys.exit(1 if bad else 0)


def _collect(paths):
    """Valid records under `paths` (older versions migrated), each skipped file named on stderr."""
    collection = collect(paths)
    for check in collection.skipped:
        click.echo(f"{check.path}: skipped, not a valid record: {check.problems[0]}", err=True)
    return collection


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--data-root",
    "data_roots",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory holding datasets (COCO annotations are looked up below it); repeatable.",
)
@click.option("--top1-margin", default=scoring.TOP1_MARGIN, show_default=True, help="Allowed Top-1 drop, points.")
@click.option("--map-margin", default=scoring.MAP_MARGIN, show_default=True, help="Allowed mAP drop, points.")
@click.option(
    "--reference-backend",
    default=scoring.REFERENCE_BACKEND,
    show_default=True,
    help="Backend whose fp32 run is the reference (else the best fp32 run).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per run.")
def accuracy(
    paths: tuple[Path, ...],
    data_roots: tuple[Path, ...],
    top1_margin: float,
    map_margin: float,
    reference_backend: str,
    as_json: bool,
) -> None:
    """Score accuracy-mode records and compare each with its model's fp32 reference.

    A drop of more than the margin marks the run "not comparable": its speed is not the
    speed of the same model (D3.3 §3.1.4).
    """
    collection = _collect(paths)
    annotations = scoring.Annotations(data_roots)
    scores = [s for item in collection.records if (s := scoring.score_record(item.record, item.path, annotations))]
    if not scores:
        raise click.UsageError(
            f"no accuracy-mode records under {', '.join(map(str, paths))} "
            "(make them with: vedliot-runner run ... --dataset KIND:PATH)"
        )
    rows = scoring.compare(scores, top1_margin, map_margin, reference_backend)
    if as_json:
        for row in rows:
            click.echo(json.dumps(_accuracy_json(row)))
        return
    _print_accuracy(rows)


def _accuracy_json(row: scoring.Compared) -> dict:
    s = row.score
    return {
        "record": str(s.path),
        "run_id": s.run_id,
        "status": s.status,
        "model": s.model,
        "dataset": s.dataset,
        "samples": s.samples,
        "backend": s.backend,
        "precision": s.precision,
        "effective_precision": s.effective,
        "top1": s.top1,
        "top5": s.top5,
        "map50": s.map50,
        "map50_95": s.map50_95,
        "reference_run_id": row.reference.run_id if row.reference else None,
        "delta": row.delta,
        "comparable": row.comparable,
        "notes": list(row.notes),
    }


def _print_accuracy(rows: list[scoring.Compared]) -> None:
    group = None
    for row in rows:
        s = row.score
        if (s.model, s.dataset) != group:
            group = (s.model, s.dataset)
            first, second = ("top-1", "top-5") if s.task == "classification" else ("mAP50", "mAP50-95")
            click.echo(f"\n{s.model} on {s.dataset.split(':')[0]} ({s.samples} samples)")
            click.echo(f"  {'backend':<12} {'precision':<9} {'ran':<6} {first:>7} {second:>8} {'delta':>7}  verdict")
        first_value, second_value = (s.top1, s.top5) if s.task == "classification" else (s.map50, s.map50_95)
        if row.reference is not None and row.reference.run_id == s.run_id:
            verdict = "reference"
        elif row.comparable is None:
            verdict = s.status if s.status != "ok" else "-"
        else:
            verdict = "comparable" if row.comparable else "NOT COMPARABLE"
        delta = "-" if row.delta is None else f"{row.delta:+.2f}"
        notes = "; ".join(n.removeprefix(f"{verdict}: ") for n in row.notes if not n.startswith("not comparable"))
        click.echo(
            f"  {s.backend:<12} {s.precision:<9} {s.effective or '-':<6} {fmt(first_value):>7} "
            f"{fmt(second_value):>8} {delta:>7}  {verdict}" + (f"  ({notes})" if notes else "")
        )


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--meter-log",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="External meter's log (timestamp,watts CSV or PTDaemon) for records made with --power external.",
)
@click.option("--clock-offset", type=float, help="Meter clock minus host clock, s (default: the run's offset_s).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per run.")
def power(paths: tuple[Path, ...], meter_log: Path | None, clock_offset: float | None, as_json: bool) -> None:
    """Power, idle power, energy per inference and GOPS/W of records made with --power."""
    rows = []
    for item in _collect(paths).records:
        path, record = item.path, item.record
        if isinstance(record.power, PowerSummary):  # published: the figures as printed
            rows.append((path, record, power_metrics.summary_metrics(record.power)))
            continue
        try:
            result = power_metrics.compute(record, meter_log, clock_offset)
        except (ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from None
        if result is None:
            continue
        rows.append((path, record, power_metrics.run_metrics(record, result)))
    if not rows:
        raise click.UsageError(f"no records with power under {', '.join(map(str, paths))} (run with --power)")
    for path, record, metrics in rows:
        if as_json:
            click.echo(json.dumps({"record": str(path), "run_id": record.run_id, **metrics}))
            continue
        click.echo(
            f"{record.model.name} {record.backend} {record.precision.requested} "
            f"batch {record.config.batch_size} [{record.power.source}]: "
            f"power {fmt(metrics['power_w'])} W, idle {fmt(metrics['idle_power_w'])} W, "
            f"energy {fmt(metrics['energy_per_inference_mj'])} mJ/inference, "
            f"{fmt(metrics['gops'])} GOPS, {fmt(metrics['gops_per_w'])} GOPS/W"
        )
        for warning in metrics["warnings"]:
            click.echo(f"  warning: {warning}")


for _command in (report, compare_command, import_group, pull, fleet):
    cli.add_command(_command)


def main() -> None:
    cli()
