"""`vedliot-aggregator report` and `compare`."""

from __future__ import annotations

import errno
import json
import math
import os
import sys
from pathlib import Path

import click


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


@click.command()
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
# SVG only by default: the page draws its own charts, SVG is what a paper takes, and PNG
# rasterising is 60% of vl-convert's time (a report whose data changed waits for it).
@click.option("--images", default="svg", show_default=True, help="Chart files to write: svg, png, svg,png or none.")
@click.option(
    "--cache/--no-cache",
    default=True,
    show_default=True,
    help="Take the rows of record files unchanged since an earlier report from its cache (VEDLIOT_ROW_CACHE=0: off).",
)
@click.option("--quiet", is_flag=True, help="Print only the path of index.html.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def report(paths, output, catalogs, data_roots, meter_log, reference, images, cache, quiet, as_json) -> None:
    """Render the comparison report (HTML, charts, tables, metrics.csv) from records under PATHS."""
    from vedliot_aggregator import catalog as catalog_module
    from vedliot_aggregator import metrics as metrics_module
    from vedliot_aggregator import reference as reference_module
    from vedliot_aggregator import report as report_module
    from vedliot_aggregator.gather import gather

    sources = list(paths)
    if reference:
        shipped = reference_module.default_records_dir()
        if shipped is None:
            click.echo("warning: published reference not found (set VEDLIOT_REFERENCE); rendering without it", err=True)
        else:
            sources.append(shipped)
    if not sources:
        raise click.UsageError("no records: give PATHS, or leave --reference on")
    formats = _image_formats(images)
    _writable(output)
    try:
        catalog = catalog_module.load(list(catalogs))
    except catalog_module.CatalogError as exc:
        raise click.UsageError(str(exc)) from None
    collection = gather(sources, data_roots, meter_log, cache=cache)
    for check in collection.skipped:
        if not (quiet or as_json):
            click.echo(f"skipped {check.path}: {check.problems[0]}", err=True)
    table = metrics_module.finish(collection.rows, collection.scores, catalog, collection.peaks)
    findings = reference_module.audit(table)
    table = reference_module.annotate(table, findings)
    show = not (quiet or as_json)
    with click.progressbar(length=4 * table["model"].nunique(), label="charts", file=sys.stderr,
                           hidden=not (show and sys.stderr.isatty())) as bar:  # fmt: skip
        try:
            result = report_module.render(
                collection, table, findings, output, formats, progress=lambda _: bar.update(1)
            )
        except OSError as exc:  # the disk filled up, the directory went away
            raise click.ClickException(f"--output {output}: cannot write the report ({exc.strerror or exc})") from None
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


def _image_formats(images: str) -> tuple[str, ...]:
    names = [name.strip().lower() for name in images.split(",") if name.strip()]
    unknown = [name for name in names if name not in ("svg", "png", "none")]
    if unknown or not names or ("none" in names and len(names) > 1):
        raise click.BadParameter(f"{images!r}: give svg, png, svg,png or none", param_hint="--images")
    return tuple(dict.fromkeys(name for name in names if name != "none"))


def _writable(output: Path) -> None:
    """The output directory exists and takes files, or one line says why and what to do."""
    try:
        output.mkdir(parents=True, exist_ok=True)
        probe = output / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        hint = ""
        if exc.errno == errno.EROFS:
            hint = "; mount it read-write (no :ro)"
        elif isinstance(exc, PermissionError):
            hint = (
                "; in a container, a bind-mounted directory must be writable by the container's user: "
                "docker run --user $(id -u):$(id -g) ..."
            )
        raise click.ClickException(f"--output {output}: cannot write there ({exc.strerror or exc}){hint}") from None


def _frame_of(paths: tuple[Path, ...], catalogs=()):
    from vedliot_aggregator import catalog as catalog_module
    from vedliot_aggregator import metrics as metrics_module
    from vedliot_aggregator.gather import gather

    found = gather(paths)
    for check in found.skipped:
        click.echo(f"skipped {check.path}: {check.problems[0]}", err=True)
    return metrics_module.finish(found.rows, found.scores, catalog_module.load(list(catalogs)), found.peaks)


def _margin(ctx, param, value: float) -> float:
    if not (math.isfinite(value) and value >= 0):  # NaN or infinity would switch the gate off
        raise click.BadParameter(f"{value}: give a finite number >= 0", ctx, param)
    return value


@click.command(name="compare")
@click.argument("before", type=click.Path(exists=True, path_type=Path))
@click.argument("after", type=click.Path(exists=True, path_type=Path))
@click.option("--threshold", default=5.0, show_default=True, callback=_margin, help="Regression threshold, percent.")
@click.option("--accuracy-margin", default=1.0, show_default=True, callback=_margin,
              help="Allowed accuracy drop, points.")  # fmt: skip
@click.option("--fail-on-regression", is_flag=True,
              help="Exit 1 on any regression, or a configuration ok before and not now (for CI).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per matched configuration.")
def compare_command(before, after, threshold, accuracy_margin, fail_on_regression, as_json) -> None:
    """Match the runs of BEFORE and AFTER by configuration and show what changed."""
    from vedliot_aggregator import compare as compare_module

    result = compare_module.compare(_frame_of((before,)), _frame_of((after,)), threshold / 100, accuracy_margin)
    if result.both.empty and not result.lost:
        raise click.UsageError(f"no configuration is in both {before} and {after}")
    flagged = {(r.key, r.metric) for r in result.regressions}
    for _, row in result.both.iterrows():
        key = tuple(row[k] for k in compare_module.KEY)
        click.echo(json.dumps(_json_row(row, key, flagged), default=str) if as_json else _text_row(row, key, flagged))
    for lost in result.lost:
        if as_json:
            item = dict(zip(compare_module.KEY, lost.key, strict=True))
            click.echo(json.dumps({**item, "lost": {"before": "ok", "after": lost.after, "message": lost.message}}))
        else:
            click.echo(
                f"{_label(lost.key)}: ok -> {lost.after} REGRESSION" + (f" ({lost.message})" if lost.message else "")
            )
    if not as_json:
        click.echo(f"{len(result.both)} matched, {len(result.regressions)} regressions beyond {threshold:g}%, "
                   f"{len(result.lost)} ok before and not now, {len(result.only_a)} only in {before}, "
                   f"{len(result.only_b)} only in {after}")  # fmt: skip
        for key in result.only_b[compare_module.KEY].itertuples(index=False):
            click.echo(f"not compared (only in {after}): {_label(tuple(key))}")
    sys.exit(1 if result.failed and fail_on_regression else 0)


def _label(key: tuple) -> str:
    return " ".join(str(k) for k in key if k not in ("", None) and not _isnan(k))


def _json_row(row, key: tuple, flagged: set) -> dict:
    from vedliot_aggregator import compare as compare_module

    item = {k: (None if _isnan(row[k]) else row[k]) for k in compare_module.KEY}
    for metric in list(compare_module.METRICS) + compare_module.ACCURACY:
        item[metric] = {"before": _num(row[f"{metric}_a"]), "after": _num(row[f"{metric}_b"]),
                        "regression": (key, metric) in flagged}  # fmt: skip
    return item


def _text_row(row, key: tuple, flagged: set) -> str:
    from vedliot_aggregator import compare as compare_module

    parts = []
    for metric in compare_module.METRICS:
        change = row[f"{metric}_change"]
        if not _isnan(change):
            mark = " REGRESSION" if (key, metric) in flagged else ""
            parts.append(f"{metric} {fmt(row[f'{metric}_a'])} -> {fmt(row[f'{metric}_b'])} ({change:+.1%}){mark}")
    return f"{_label(key)}: " + ("; ".join(parts) or "no comparable metric")


def _isnan(value) -> bool:
    return isinstance(value, float) and value != value


def _num(value):
    return None if value is None or _isnan(value) else float(value)
