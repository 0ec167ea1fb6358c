"""`vedliot-aggregator import` (other tools' results as records) and `pull` (records from
directories and Docker hosts)."""

from __future__ import annotations

from pathlib import Path

import click

from vedliot_aggregator import records
from vedliot_aggregator.importers.common import Given


@click.group(name="import")
def import_group() -> None:
    """Turn another tool's results into records (provenance: imported)."""


def _write_imported(record: dict, output: Path, quiet: bool) -> None:
    from vedliot_aggregator import catalog, collect, metrics, writing
    from vedliot_aggregator.schema import problems

    found = problems(record)
    if found:  # the file holds what no record may (a negative time): refuse it whole
        source = record["provenance"]["imported"]["file"]
        raise click.ClickException(f"{source}: gives a record the schema refuses ({found[0]}); nothing written")
    path = writing.write_record(record, output)
    if quiet:
        click.echo(str(path))
        return
    row = metrics.row(collect.Loaded(path, records.load(record)), catalog.load())
    message = record["error"]["message"].splitlines()[0][:300] if record["error"] else ""
    click.echo(f"record: {path}" + (f" ({record['status']}: {message})" if message else ""))
    for line in row["warnings"]:
        if not line.startswith(f"{record['status']}: "):
            click.echo(f"warning: {line}", err=True)


def _given(model, precision: str, batch, target, ops) -> Given:
    return Given(model=model, precision=precision, batch=batch, target=target, ops=ops)


def _import_with(read, output: Path, quiet: bool) -> None:
    """Run an importer; its refusal is one usage line (exit 2), else the record is written."""
    from vedliot_aggregator.importers import ImportFailure

    try:
        record = read()
    except ImportFailure as exc:
        raise click.UsageError(str(exc)) from None
    _write_imported(record, output, quiet)


_IMPORT_COMMON = [
    click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
                 show_default=True),
    click.option("--precision", help="Precision the run was asked for (default fp32; xdputil: int8, all a DPU runs)."),
    click.option("--target", help="Target (platform) name in the record."),
    click.option("--ops-per-inference", type=click.FloatRange(min=0, min_open=True),
                 help="Operations (2 x MACs) of one inference, for GOPS."),
    click.option("--quiet", is_flag=True, help="Print only the record's path."),
]  # fmt: skip


def _common(func):
    for option in reversed(_IMPORT_COMMON):
        func = option(func)
    return func


@import_group.command(name="benchmark_app")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", help="Model name (default: the report's -m file name).")
@_common
def import_benchmark_app(file, model, output, precision, target, ops_per_inference, quiet) -> None:
    """OpenVINO benchmark_app's statistics report: benchmark_report.json (-json_stats) or .csv."""
    from vedliot_aggregator.importers import benchmark_app

    _import_with(
        lambda: benchmark_app.read(file, _given(model, precision or "fp32", None, target, ops_per_inference)),
        output,
        quiet,
    )


@import_group.command(name="trtexec")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--log",
    "log_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The same run's console log: version, batch and trtexec's own summary, compared with ours.",
)
@click.option("--model", help="Model name (default: the log's model file name).")
@click.option(
    "--batch-size", type=click.IntRange(min=1), help="Batch of the engine trtexec ran (default: the log's, else 1)."
)
@click.option(
    "--warmup-ms",
    type=click.FloatRange(min=0),
    help="trtexec's --warmUp, to drop warm-up queries from traces of TensorRT < 8.5.1 (default: the log's, else 200).",
)
@_common
def import_trtexec(
    file, log_path, model, batch_size, warmup_ms, output, precision, target, ops_per_inference, quiet
) -> None:
    """trtexec's --exportTimes JSON (with --log for its console log), or the console log alone."""
    from vedliot_aggregator.importers import trtexec

    _import_with(
        lambda: trtexec.read(
            file, log_path, _given(model, precision or "fp32", batch_size, target, ops_per_inference), warmup_ms
        ),
        output,
        quiet,
    )


@import_group.command(name="hailortcli")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", help="Model name (default: the network's name in the output).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Batch the HEF was compiled for (default 1).")
@_common
def import_hailortcli(file, model, batch_size, output, precision, target, ops_per_inference, quiet) -> None:
    """Hailo's `hailortcli benchmark` or `hailortcli run` console output (saved with `| tee FILE`)."""
    from vedliot_aggregator.importers import hailortcli

    _import_with(
        lambda: hailortcli.read(file, _given(model, precision or "fp32", batch_size, target, ops_per_inference)),
        output,
        quiet,
    )


@import_group.command(name="xdputil")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", help="Model name (default: the xmodel or model named in the output).")
@click.option("--batch-size", type=click.IntRange(min=1), help="The DPU's batch (default 1).")
@_common
def import_xdputil(file, model, batch_size, output, precision, target, ops_per_inference, quiet) -> None:
    """Vitis AI's `xdputil benchmark` or a Vitis AI Library test_performance_* output (saved with 2>&1 | tee FILE)."""
    from vedliot_aggregator.importers import xdputil

    _import_with(
        lambda: xdputil.read(file, _given(model, precision or "int8", batch_size, target, ops_per_inference)),
        output,
        quiet,
    )


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
    for name, why in result.invalid:
        click.echo(f"skipped {name}: {why}", err=True)
    if not quiet:
        skipped = f", {len(result.invalid)} skipped" if result.invalid else ""
        click.echo(f"{len(result.copied)} records copied into {into}, {result.already} already there{skipped}")
    if result.invalid:
        raise SystemExit(1)
