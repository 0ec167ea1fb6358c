"""The vedliot-aggregator command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from vedliot_aggregator import __version__
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


def main() -> None:
    cli()
