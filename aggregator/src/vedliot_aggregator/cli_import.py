"""`vedliot-aggregator import` (other tools' results as records) and `pull` (records from
directories and Docker hosts)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group(name="import")
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


@click.command(context_settings={"ignore_unknown_options": True})
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
