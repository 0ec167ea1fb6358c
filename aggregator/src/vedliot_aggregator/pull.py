"""`pull`: bring records (and their sidecars) into one directory, without duplicates.

- from local directories (a board's results copied over, an NFS mount);
- from a Docker host (`--docker-host ssh://user@host`, tcp://..., or a Docker context by name)
  through the Docker SDK: run an image (`--image`, its arguments after `--`) with /results in a
  container, or copy /results out of a finished container (`--container`); the container's
  /results arrives as a tar stream (Container.get_archive).

Idempotent: a record whose run_id the destination already holds is not copied again.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from vedliot_aggregator.schema import is_sidecar, record_files


class PullError(RuntimeError):
    pass


@dataclass
class PullResult:
    copied: list[Path] = field(default_factory=list)
    already: int = 0
    invalid: list[str] = field(default_factory=list)


def _held(destination: Path) -> set[str]:
    ids = set()
    for path in record_files([destination]) if destination.is_dir() else []:
        try:
            ids.add(json.loads(path.read_text(encoding="utf-8"))["run_id"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return ids


def _accept(name: str, data: bytes, destination: Path, held: set[str], result: PullResult) -> None:
    try:
        run_id = json.loads(data.decode("utf-8"))["run_id"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        result.invalid.append(name)
        return
    if run_id in held:
        result.already += 1
        return
    target = destination / f"{run_id}.json"
    tmp = target.with_name("." + target.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    held.add(run_id)
    result.copied.append(target)


def from_directories(sources: Iterable[Path], destination: Path) -> PullResult:
    destination.mkdir(parents=True, exist_ok=True)
    held, result = _held(destination), PullResult()
    for path in record_files(sources):
        if path.resolve().parent == destination.resolve():
            continue
        before = len(result.copied)
        _accept(str(path), path.read_bytes(), destination, held, result)
        if len(result.copied) > before:
            for sidecar in path.parent.glob(path.stem + ".*.json"):
                shutil.copyfile(sidecar, destination / sidecar.name)
    return result


def _client(docker_host: str | None):
    try:
        import docker
    except ImportError:
        raise PullError("pulling from Docker hosts needs the Docker SDK: pip install docker") from None
    try:
        if docker_host and "://" not in docker_host:  # a context name
            from docker.context import ContextAPI

            context = ContextAPI.get_context(docker_host)
            if context is None:
                raise PullError(f"--docker-host {docker_host}: no such Docker context (docker context ls)")
            return docker.DockerClient(base_url=context.Host, use_ssh_client=context.Host.startswith("ssh://"))
        if docker_host:
            return docker.DockerClient(base_url=docker_host, use_ssh_client=docker_host.startswith("ssh://"))
        return docker.from_env()
    except docker.errors.DockerException as exc:
        raise PullError(f"cannot reach the Docker engine at {docker_host or 'DOCKER_HOST'}: {exc}") from None


def _extract(container, destination: Path, result: PullResult) -> None:
    import docker

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
            before = len(result.copied)
            _accept(member.name, tar.extractfile(member).read(), destination, held, result)
            if len(result.copied) > before:
                stem = Path(member.name).stem
                for sidecar in members:
                    if Path(sidecar.name).name.startswith(stem + ".") and is_sidecar(Path(sidecar.name)):
                        (destination / Path(sidecar.name).name).write_bytes(tar.extractfile(sidecar).read())


def from_container(docker_host: str | None, container_name: str, destination: Path) -> PullResult:
    import docker

    client = _client(docker_host)
    destination.mkdir(parents=True, exist_ok=True)
    try:
        container = client.containers.get(container_name)
    except docker.errors.NotFound:
        raise PullError(f"--container {container_name}: no such container on {docker_host or 'this host'}") from None
    result = PullResult()
    _extract(container, destination, result)
    return result


def run_image(docker_host: str | None, image: str, args: list[str], destination: Path, volume: str | None = None):
    """Run `image` (its entrypoint writes records to /results), wait, copy them, remove it."""
    import docker

    client = _client(docker_host)
    destination.mkdir(parents=True, exist_ok=True)
    volumes = {volume: {"bind": "/results", "mode": "rw"}} if volume else None
    try:
        # Not remove=True: the daemon would delete the container before its /results is copied.
        container = client.containers.run(image, command=args or None, detach=True, volumes=volumes)
    except docker.errors.ImageNotFound:
        raise PullError(f"--image {image}: not found on {docker_host or 'this host'} (build or pull it)") from None
    except docker.errors.APIError as exc:
        raise PullError(f"--image {image}: the engine refused to run it: {exc}") from None
    try:
        status = container.wait()
        result = PullResult()
        _extract(container, destination, result)
        code = status.get("StatusCode", 0)
        if code not in (0, 3):  # 3: some runs unsupported, their records say so
            tail = container.logs(tail=5).decode("utf-8", "replace").strip().splitlines()
            raise PullError(f"{image} exited with {code}: {tail[-1] if tail else 'no output'} "
                            f"({len(result.copied)} records copied)")  # fmt: skip
        return result
    finally:
        container.remove()
