"""`pull`: bring records (and their sidecars) into one directory, without duplicates.

- from local directories (a board's results copied over, an NFS mount);
- from a Docker host (`--docker-host ssh://user@host`, tcp://..., or a Docker context by name)
  through the Docker SDK: run an image (`--image`, its arguments after `--`) with /results in a
  container, or copy /results out of a finished container (`--container`); the container's
  /results arrives as a tar stream (Container.get_archive).

Idempotent: a record whose run_id the destination already holds is not copied again. Every file
is untrusted: read within bounds (untrusted.py), checked against the schema before anything is
written, and written as `<run_id>.json`, a name the schema restricts to a UUID, inside the
destination; a file that fails is listed with its reason and not copied.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from vedliot_aggregator import docker_context, untrusted
from vedliot_aggregator.migrate import migrate
from vedliot_aggregator.schema import SCHEMA_ID, is_sidecar, problems, record_files

DOCKER_HINT = "pulling from Docker hosts needs the Docker SDK: pip install 'vedliot-aggregator[docker]'"


class PullError(RuntimeError):
    pass


@dataclass
class PullResult:
    copied: list[Path] = field(default_factory=list)
    already: int = 0
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (file, why)


def _held(destination: Path) -> set[str]:
    ids = set()
    for path in record_files([destination]) if destination.is_dir() else []:
        try:
            record = untrusted.load_file(path)
        except untrusted.Refused:
            continue
        if isinstance(record, dict) and isinstance(record.get("run_id"), str):
            ids.add(record["run_id"])
    return ids


def _valid_run_id(name: str, data: bytes, result: PullResult) -> str | None:
    """The run_id of a valid record (of this schema version or an older one), else None with the
    file listed as invalid."""
    try:
        record = untrusted.loads(data)
    except untrusted.Refused as exc:
        result.invalid.append((name, str(exc)))
        return None
    if isinstance(record, dict) and record.get("schema") != SCHEMA_ID:
        record, _ = migrate(record)
    found = problems(record)
    if found:
        result.invalid.append((name, found[0]))
        return None
    return record["run_id"]


def _inside(destination: Path, name: str) -> Path:
    target = destination / name
    if Path(name).name != name or os.path.dirname(os.path.realpath(target)) != os.path.realpath(destination):
        raise PullError(f"refusing to write {name!r} outside {destination}")  # the schema makes this unreachable
    return target


def _write(target: Path, data: bytes) -> None:
    temp = target.with_name(f".{target.name}.{id(data):x}.tmp")
    temp.write_bytes(data)
    temp.replace(target)


def _accept(name: str, data: bytes, destination: Path, held: set[str], result: PullResult) -> str | None:
    """Copies one record; returns its run_id when it was copied."""
    run_id = _valid_run_id(name, data, result)
    if run_id is None:
        return None
    if run_id in held:
        result.already += 1
        return None
    target = _inside(destination, f"{run_id}.json")
    _write(target, data)
    held.add(run_id)
    result.copied.append(target)
    return run_id


def _sidecar_name(run_id: str, source_stem: str, sidecar_name: str) -> str:
    """`<source stem>.detections.json` -> `<run_id>.detections.json`."""
    return run_id + sidecar_name[len(source_stem) :]


def _read(path: Path, result: PullResult) -> bytes | None:
    """The file's bytes, or None with it listed as skipped (too large, unreadable)."""
    try:
        return untrusted.read_bytes(path)
    except untrusted.Refused as exc:
        result.invalid.append((str(path), str(exc)))
        return None


def from_directories(sources: Iterable[Path], destination: Path) -> PullResult:
    destination.mkdir(parents=True, exist_ok=True)
    held, result = _held(destination), PullResult()
    here = os.path.realpath(destination)
    for path in record_files(sources):
        if os.path.dirname(os.path.realpath(path)) == here:  # realpath: no error on a loop of links
            continue
        data = _read(path, result)
        run_id = None if data is None else _accept(str(path), data, destination, held, result)
        if run_id is None:
            continue
        for sidecar in path.parent.glob(path.stem + ".*.json"):
            if is_sidecar(sidecar) and (data := _read(sidecar, result)) is not None:
                _write(_inside(destination, _sidecar_name(run_id, path.stem, sidecar.name)), data)
    return result


def _docker():
    try:
        import docker
    except ImportError:
        raise PullError(DOCKER_HINT) from None
    return docker


def engine_client(docker_host: str | None):
    docker = _docker()
    try:
        if docker_host and "://" not in docker_host:  # a context name
            try:
                context = docker_context.find(docker_host)
            except docker_context.ContextError as exc:
                raise PullError(str(exc)) from None
            return docker.DockerClient(**docker_context.client_options(context), use_ssh_client=False)
        if docker_host:
            # ssh:// through paramiko (in the docker extra), not the ssh program: the aggregator's
            # image has none. It reads ~/.ssh/config and known_hosts as ssh would.
            return docker.DockerClient(base_url=docker_host, use_ssh_client=False)
        return docker.from_env()
    except PullError:
        raise
    except Exception as exc:  # noqa: BLE001 - docker-py, requests and paramiko each raise their own
        hint = " (ssh: is the host in ~/.ssh/known_hosts, and your key in its authorized_keys?)"
        hint = hint if (docker_host or "").startswith("ssh://") else ""
        where = docker_host or "DOCKER_HOST"
        raise PullError(f"cannot reach the Docker engine at {where}: {type(exc).__name__}: {exc}{hint}") from None


def extract(container, destination: Path, result: PullResult) -> None:
    docker = _docker()
    try:
        stream, _stat = container.get_archive("/results")
    except docker.errors.NotFound:
        raise PullError(f"container {container.name}: it has no /results") from None
    archive = io.BytesIO(b"".join(stream))
    held = _held(destination)
    with tarfile.open(fileobj=archive) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".json")]
        records = [m for m in members if not is_sidecar(Path(m.name)) and not Path(m.name).name.startswith(".")]
        for member in records:
            if member.size > untrusted.MAX_BYTES:
                result.invalid.append((member.name, f"larger than {untrusted.MAX_BYTES // 2**20} MiB"))
                continue
            run_id = _accept(member.name, tar.extractfile(member).read(), destination, held, result)
            if run_id is None:
                continue
            stem = Path(member.name).stem
            for sidecar in members:
                name = Path(sidecar.name).name
                if name.startswith(stem + ".") and is_sidecar(Path(name)) and sidecar.size <= untrusted.MAX_BYTES:
                    target = _inside(destination, _sidecar_name(run_id, stem, name))
                    _write(target, tar.extractfile(sidecar).read())


def from_container(docker_host: str | None, container_name: str, destination: Path) -> PullResult:
    client = engine_client(docker_host)
    docker = _docker()
    destination.mkdir(parents=True, exist_ok=True)
    try:
        container = client.containers.get(container_name)
    except docker.errors.NotFound:
        raise PullError(f"--container {container_name}: no such container on {docker_host or 'this host'}") from None
    result = PullResult()
    extract(container, destination, result)
    return result


def image_digest(client, image: str) -> str:
    """What the engine knows of the image: its registry digest when pulled from one, else its ID
    (the runner records it; a container cannot see it itself)."""
    try:
        found = client.images.get(image)
    except Exception:  # noqa: BLE001 - not there: containers.run below says so in its own words
        return ""
    digests = found.attrs.get("RepoDigests") or []
    return digests[0] if digests else found.id


def run_image(docker_host: str | None, image: str, args: list[str], destination: Path, volume: str | None = None):
    """Run `image` (its entrypoint writes records to /results), wait, copy them, remove it."""
    client = engine_client(docker_host)
    docker = _docker()
    destination.mkdir(parents=True, exist_ok=True)
    volumes = {volume: {"bind": "/results", "mode": "rw"}} if volume else None
    try:
        # Not remove=True: the daemon would delete the container before its /results is copied.
        # Without a volume the records stay in the container until copied out: tell the runner's
        # mount check (VEDLIOT_RESULTS_MOUNT) that this is intended.
        environment = {"VEDLIOT_IMAGE_DIGEST": image_digest(client, image)}
        if not volume:
            environment["VEDLIOT_RESULTS_MOUNT"] = ""
        container = client.containers.run(image, command=args or None, detach=True, volumes=volumes,
                                          environment=environment)  # fmt: skip
    except docker.errors.ImageNotFound:
        raise PullError(f"--image {image}: not found on {docker_host or 'this host'} (build or pull it)") from None
    except docker.errors.APIError as exc:
        raise PullError(f"--image {image}: the engine refused to run it: {exc}") from None
    try:
        status = container.wait()
        result = PullResult()
        extract(container, destination, result)
        code = status.get("StatusCode", 0)
        if code not in (0, 3):  # 3: some runs unsupported, their records say so
            tail = container.logs(tail=5).decode("utf-8", "replace").strip().splitlines()
            raise PullError(f"{image} exited with {code}: {tail[-1] if tail else 'no output'} "
                            f"({len(result.copied)} records copied)")  # fmt: skip
        return result
    finally:
        container.remove(v=True)  # and the anonymous volume the image's VOLUME /results made
