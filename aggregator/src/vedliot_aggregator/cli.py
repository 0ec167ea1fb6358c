"""The vedliot-aggregator command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from vedliot_aggregator import __version__, scoring
from vedliot_aggregator import power as power_metrics
from vedliot_aggregator.schema import check_file, load_records, record_files


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
    records, bad = load_records(paths)
    for check in bad:
        click.echo(f"{check.path}: skipped, not a valid record: {check.problems[0]}", err=True)
    annotations = scoring.Annotations(data_roots)
    scores = [s for path, record in records if (s := scoring.score_record(record, path, annotations))]
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


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


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
            f"  {s.backend:<12} {s.precision:<9} {s.effective or '-':<6} {_fmt(first_value):>7} "
            f"{_fmt(second_value):>8} {delta:>7}  {verdict}" + (f"  ({notes})" if notes else "")
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
    records, bad = load_records(paths)
    for check in bad:
        click.echo(f"{check.path}: skipped, not a valid record: {check.problems[0]}", err=True)
    rows = []
    for path, record in records:
        try:
            result = power_metrics.compute(record, meter_log, clock_offset)
        except (ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from None
        if result is None:
            continue
        rows.append((path, record, power_metrics.run_metrics(record, result)))
    if not rows:
        raise click.UsageError(f"no records with power samples under {', '.join(map(str, paths))} (run with --power)")
    for path, record, metrics in rows:
        if as_json:
            click.echo(json.dumps({"record": str(path), "run_id": record["run_id"], **metrics}))
            continue
        click.echo(
            f"{record['model']['name']} {record['software']['backend']['name']} {record['precision']['requested']} "
            f"batch {record['config']['batch_size']} [{record['power']['source']}]: "
            f"power {_fmt(metrics['power_w'])} W, idle {_fmt(metrics['idle_power_w'])} W, "
            f"energy {_fmt(metrics['energy_per_inference_mj'])} mJ/inference, "
            f"{_fmt(metrics['gops'])} GOPS, {_fmt(metrics['gops_per_w'])} GOPS/W"
        )
        for warning in metrics["warnings"]:
            click.echo(f"  warning: {warning}")


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--output", "-o", type=click.Path(file_okay=False, path_type=Path), required=True, help="Report directory."
)
@click.option(
    "--catalog",
    "catalogs",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Extra platform catalog (YAML, like catalog/platforms.yaml); repeatable, later files win.",
)
@click.option(
    "--data-root",
    "data_roots",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Where datasets are (COCO annotations for mAP); repeatable.",
)
@click.option(
    "--meter-log",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="External meter log for records made with --power external.",
)
@click.option(
    "--reference/--no-reference",
    default=True,
    show_default=True,
    help="Include D3.3's published results (results/reference/vedliot-d3.3).",
)
@click.option("--images", default="svg,png", show_default=True, help="Chart files to write: svg, png, both or none.")
@click.option("--quiet", is_flag=True, help="Print only the path of index.html.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def report(paths, output, catalogs, data_roots, meter_log, reference, images, quiet, as_json) -> None:
    """Render the comparison report (HTML, charts, tables, metrics.csv) from records under PATHS."""
    from vedliot_aggregator import catalog as catalog_module
    from vedliot_aggregator import metrics as metrics_module
    from vedliot_aggregator import reference as reference_module
    from vedliot_aggregator import report as report_module
    from vedliot_aggregator.collect import collect

    sources = list(paths)
    if reference:
        shipped = reference_module.default_records_dir()
        if shipped is None:
            click.echo("warning: published reference not found (set VEDLIOT_REFERENCE); rendering without it", err=True)
        else:
            sources.append(shipped)
    if not sources:
        raise click.UsageError("no records: give PATHS, or leave --reference on")
    formats = tuple(f for f in images.split(",") if f in ("svg", "png"))
    try:
        catalog = catalog_module.load(list(catalogs))
    except catalog_module.CatalogError as exc:
        raise click.UsageError(str(exc)) from None
    collection = collect(sources)
    for check in collection.skipped:
        if not (quiet or as_json):
            click.echo(f"skipped {check.path}: {check.problems[0]}", err=True)
    table = metrics_module.frame(collection, catalog, data_roots, meter_log)
    findings = reference_module.audit(table)
    table = reference_module.annotate(table, findings)
    show = not (quiet or as_json)
    with click.progressbar(length=4 * table["model"].nunique(), label="charts", file=sys.stderr,
                           hidden=not (show and sys.stderr.isatty())) as bar:  # fmt: skip
        result = report_module.render(collection, table, findings, output, formats, progress=lambda _: bar.update(1))
    if as_json:
        summary = {"index": str(result.index), "records": result.rows, "charts": result.charts,
                   "skipped": [str(c.path) for c in collection.skipped], "audit_findings": len(findings)}  # fmt: skip
        click.echo(json.dumps(summary))
    elif quiet:
        click.echo(str(result.index))
    else:
        click.echo(f"{result.rows} records, {result.charts} charts, {len(findings)} audit findings, "
                   f"{len(collection.skipped)} files skipped")  # fmt: skip
        click.echo(f"report: {result.index}")


def _frame_of(paths: tuple[Path, ...], catalogs=()):
    from vedliot_aggregator import catalog as catalog_module
    from vedliot_aggregator import metrics as metrics_module
    from vedliot_aggregator.collect import collect

    collection = collect(paths)
    for check in collection.skipped:
        click.echo(f"skipped {check.path}: {check.problems[0]}", err=True)
    return metrics_module.frame(collection, catalog_module.load(list(catalogs)))


@cli.command(name="compare")
@click.argument("before", type=click.Path(exists=True, path_type=Path))
@click.argument("after", type=click.Path(exists=True, path_type=Path))
@click.option("--threshold", default=5.0, show_default=True, help="Regression threshold, percent.")
@click.option("--accuracy-margin", default=1.0, show_default=True, help="Allowed accuracy drop, points.")
@click.option("--fail-on-regression", is_flag=True, help="Exit 1 when any regression is found (for CI).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per matched configuration.")
def compare_command(before, after, threshold, accuracy_margin, fail_on_regression, as_json) -> None:
    """Match the runs of BEFORE and AFTER by configuration and show what changed."""
    from vedliot_aggregator import compare as compare_module

    both, regressions, only_a, only_b = compare_module.compare(
        _frame_of((before,)), _frame_of((after,)), threshold / 100, accuracy_margin
    )
    if both.empty:
        raise click.UsageError(f"no configuration is in both {before} and {after}")
    flagged = {(r.key, r.metric) for r in regressions}
    for _, row in both.iterrows():
        key = tuple(row[k] for k in compare_module.KEY)
        if as_json:
            item = {k: (None if _isnan(row[k]) else row[k]) for k in compare_module.KEY}
            for metric in list(compare_module.METRICS) + compare_module.ACCURACY:
                item[metric] = {"before": _num(row[f"{metric}_a"]), "after": _num(row[f"{metric}_b"]),
                                "regression": (key, metric) in flagged}  # fmt: skip
            click.echo(json.dumps(item, default=str))
            continue
        parts = []
        for metric in compare_module.METRICS:
            change = row[f"{metric}_change"]
            if not _isnan(change):
                mark = " REGRESSION" if (key, metric) in flagged else ""
                parts.append(f"{metric} {_fmt(row[f'{metric}_a'])} -> {_fmt(row[f'{metric}_b'])} ({change:+.1%}){mark}")
        label = " ".join(str(k) for k in key if k not in ("", None) and not _isnan(k))
        click.echo(f"{label}: " + ("; ".join(parts) or "no comparable metric"))
    if not as_json:
        click.echo(f"{len(both)} matched, {len(regressions)} regressions beyond {threshold:g}%, "
                   f"{len(only_a)} only in {before}, {len(only_b)} only in {after}")  # fmt: skip
    sys.exit(1 if regressions and fail_on_regression else 0)


def _isnan(value) -> bool:
    return isinstance(value, float) and value != value


def _num(value):
    return None if value is None or _isnan(value) else float(value)


@cli.group(name="import")
def import_group() -> None:
    """Turn another tool's results into records (provenance: imported)."""


def _write_imported(record: dict, output: Path, quiet: bool) -> None:
    from vedliot_aggregator.schema import problems

    found = problems(record)
    if found:  # a bug here, not the user's: say it plainly
        raise click.ClickException(f"the imported record breaks the schema: {found[0]}")
    output.mkdir(parents=True, exist_ok=True)
    path = output / f"{record['run_id']}.json"
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    click.echo(str(path) if quiet else f"record: {path}")


_IMPORT_COMMON = [
    click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
                 show_default=True),
    click.option("--precision", default="fp32", show_default=True),
    click.option("--target", help="Target (platform) name in the record."),
    click.option("--ops-per-inference", type=float, help="Operations (2 x MACs) of one inference, for GOPS."),
    click.option("--quiet", is_flag=True, help="Print only the record's path."),
]  # fmt: skip


def _common(func):
    for option in reversed(_IMPORT_COMMON):
        func = option(func)
    return func


@import_group.command(name="benchmark_app")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", help="Model name (default: the report's topology).")
@_common
def import_benchmark_app(file, model, output, precision, target, ops_per_inference, quiet) -> None:
    """OpenVINO benchmark_app's JSON statistics report (benchmark_report.json)."""
    from vedliot_aggregator import importers

    try:
        record = importers.benchmark_app(file, model, precision, target, ops_per_inference)
    except importers.ImportFailure as exc:
        raise click.UsageError(str(exc)) from None
    _write_imported(record, output, quiet)


@import_group.command(name="trtexec")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", required=True, help="Model name (the file does not say).")
@click.option("--batch-size", type=int, default=1, show_default=True, help="Batch of the engine trtexec ran.")
@_common
def import_trtexec(file, model, batch_size, output, precision, target, ops_per_inference, quiet) -> None:
    """trtexec's --exportTimes JSON, with the command's own parameters given here."""
    from vedliot_aggregator import importers

    if batch_size < 1:
        raise click.UsageError(f"--batch-size {batch_size}: must be 1 or more")
    try:
        record = importers.trtexec(file, model, precision, batch_size, target, ops_per_inference)
    except importers.ImportFailure as exc:
        raise click.UsageError(str(exc)) from None
    _write_imported(record, output, quiet)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results/pulled"),
    show_default=True,
    help="Destination directory.",
)
@click.option("--docker-host", help="ssh://user@host, tcp://host:2376 or a Docker context name.")
@click.option("--image", help="Run this image there (its arguments after --) and copy its /results.")
@click.option("--container", help="Copy /results out of this finished container.")
@click.option("--volume", help="Named volume for the image's /results (default: the container's own).")
@click.option("--quiet", is_flag=True, help="Print only the copied records' paths.")
def pull(sources, into, docker_host, image, container, volume, quiet) -> None:
    """Collect records into one directory: from local SOURCES, or from a Docker host.

    A record already held (same run_id) is not copied again.
    """
    from vedliot_aggregator import pull as pull_module

    image_args: list[str] = []
    if image and sources:
        # click hands the words after "--" to SOURCES; they are the image's arguments.
        image_args, sources = [str(s) for s in sources], ()
    if not sources and not image and not container:
        raise click.UsageError("give SOURCES (directories), --image or --container")
    for source in sources:
        if not source.is_dir():
            raise click.UsageError(f"{source}: not a directory of records")
    try:
        if image:
            result = pull_module.run_image(docker_host, image, image_args, into, volume)
        elif container:
            result = pull_module.from_container(docker_host, container, into)
        else:
            result = pull_module.from_directories(sources, into)
    except pull_module.PullError as exc:
        raise click.ClickException(str(exc)) from None
    for path in result.copied:
        if quiet:
            click.echo(str(path))
    for name in result.invalid:
        click.echo(f"skipped {name}: not a record", err=True)
    if not quiet:
        click.echo(f"{len(result.copied)} records copied into {into}, {result.already} already there")


def main() -> None:
    cli()
