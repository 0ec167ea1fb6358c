"""`vedliot-aggregator fleet run FLEET.yaml --into results/`: the scale-out path (fleet.py)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import click

from vedliot_aggregator.cli_report import report


@click.group()
def fleet() -> None:
    """Run the benchmark on many boards, each through its own Docker engine."""


@fleet.command(name="run")
@click.argument("fleet_file", metavar="FLEET.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results/fleet"),
    show_default=True,
    help="Records land in INTO/<device>/.",
)
@click.option("--again", is_flag=True, help="Repeat devices a previous call finished (default: skip them).")
@click.option("--report", "with_report", is_flag=True, help="Then render INTO/report/index.html.")
@click.option("--quiet", is_flag=True, help="Print only failures.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.pass_context
def run_command(ctx, fleet_file: Path, into: Path, again: bool, with_report: bool, quiet: bool, as_json: bool):
    """Run every device's image on its engine, in parallel, and copy the records back.

    Exits 1 when a device failed (its failed record says why); the others still run.
    """
    from vedliot_aggregator import fleet as fleet_module
    from vedliot_aggregator import fleet_file as fleet_file_module
    from vedliot_aggregator.pull import DOCKER_HINT

    try:
        import docker  # noqa: F401 - the SDK is the transport
    except ImportError:
        raise click.ClickException(DOCKER_HINT) from None
    try:
        loaded = fleet_file_module.load(fleet_file)
    except fleet_file_module.FleetFileError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        into.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.UsageError(f"--into {into}: cannot create it ({exc.strerror})") from None
    show = not (quiet or as_json)
    try:
        outcomes = fleet_module.run(loaded, into, again, say=lambda line: click.echo(line, err=True) if show else None)
    except KeyboardInterrupt:
        click.echo("interrupted: the containers go on on their boards; the same command again collects them", err=True)
        raise SystemExit(130) from None
    for outcome in outcomes:
        if quiet and outcome.status == "failed":
            click.echo(f"{outcome.device}: failed: {outcome.message}", err=True)
    summary = fleet_module.summary(outcomes)
    if show:
        click.echo(f"{summary['done']} done, {summary['skipped']} already done, {summary['failed']} failed; "
                   f"records in {into}")  # fmt: skip
    if with_report:
        # In --json mode the report's own line would break the one JSON document on stdout.
        with contextlib.redirect_stdout(io.StringIO()) if as_json else contextlib.nullcontext():
            ctx.invoke(report, paths=(into,), output=into / "report", quiet=quiet or as_json, as_json=False,
                       catalogs=(), data_roots=(), meter_log=None, reference=True, images="svg,png")  # fmt: skip
        summary["report"] = str(into / "report" / "index.html")
    if as_json:
        click.echo(json.dumps(summary))
    if summary["failed"]:
        raise SystemExit(1)
