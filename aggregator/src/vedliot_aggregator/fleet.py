"""`fleet run`: every device of a fleet file runs its image through its own Docker engine.

Docker is the distributed layer (engines reached by ssh://, tcp://, unix:// or a context name);
there is no agent of ours on the boards. Devices run in parallel, one container at a time each
(named `vedliot-fleet-<device>`); when a container ends, its /results is copied into
`<into>/<device>/` through the same bounded, validating path as `pull`. A device that cannot be
reached, lacks the image, or whose container fails gets a `failed` record saying why, and the
others go on.

Resuming: `<into>/<device>/.fleet.json` remembers a finished device and the entry it ran; a second
call skips it while the entry is unchanged (`again=True` repeats it). A container left by an
interrupted call is waited for and copied, not started again.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

from vedliot_aggregator import pull
from vedliot_aggregator.fleet_file import Device, Fleet
from vedliot_aggregator.schema import SCHEMA_ID, unknown_host
from vedliot_aggregator.writing import write_json, write_record

STATE = ".fleet.json"  # hidden: record_files skips it
LABEL = "org.vedliot.fleet"  # the device entry's fingerprint, on the container


@dataclass(frozen=True)
class Outcome:
    device: str
    status: str  # done, skipped (done before, entry unchanged) or failed
    copied: int
    message: str
    seconds: float


class DeviceFailed(RuntimeError):
    """The device's run did not finish; the message is the line the user sees."""


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _state(directory: Path) -> dict:
    try:
        state = json.loads((directory / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _engine_host(device: Device) -> str:
    if not device.engine:
        return "local"
    parsed = urlparse(device.engine)
    return parsed.hostname if parsed.scheme in ("ssh", "tcp") and parsed.hostname else device.engine


def failure_record(device: Device, message: str, started: str) -> dict:
    """The `failed` record of a device whose suite did not run to its end."""
    return {
        "schema": SCHEMA_ID,
        "run_id": str(uuid.uuid4()),
        "status": "failed",
        "error": {"type": "FleetError", "message": message, "stage": "setup"},
        "started_at": started,
        "finished_at": _now(),
        "provenance": {"kind": "measured", "citation": f"fleet device {device.name}"},
        "target": {"name": device.name, "image": device.image, "image_digest": None, "power_mode": None},
        "host": unknown_host(_engine_host(device)),
        "software": {"runner": "vedliot-aggregator fleet", "backend": {"name": "suite", "version": None},
                     "packages": {}},
        "model": {"name": "(suite)", "path": None, "sha256": None, "format": "other", "inputs": [],
                  "ops_per_inference": None},
        "precision": {"requested": "fp32", "effective": None},
        "config": {"batch_size": 1, "mode": "latency", "warmup_iterations": 0, "warmup_seconds": 0,
                   "min_iterations": 1, "min_seconds": 0},
        "timing": None, "memory": None, "power": None, "accuracy": None,
    }  # fmt: skip


def _run_options(device: Device, digest: str) -> dict:
    import docker

    options: dict = {
        "name": device.container,
        "command": list(device.args) or None,
        "detach": True,
        "labels": {LABEL: device.fingerprint()},
        # No /results mount: the records stay in the container until copied out.
        "environment": {**dict(device.env), "VEDLIOT_RESULTS_MOUNT": "", "VEDLIOT_IMAGE_DIGEST": digest},
        "devices": [d if ":" in d else f"{d}:{d}:rwm" for d in device.devices] or None,
        "volumes": list(device.volumes) or None,
        "privileged": device.privileged,
    }
    if device.runtime:
        options["runtime"] = device.runtime
    if device.gpus:
        if device.gpus.startswith("device="):
            ids = device.gpus.split("=", 1)[1].split(",")
            request = docker.types.DeviceRequest(device_ids=ids, capabilities=[["gpu"]])
        else:
            request = docker.types.DeviceRequest(count=-1 if device.gpus == "all" else int(device.gpus),
                                                 capabilities=[["gpu"]])  # fmt: skip
        options["device_requests"] = [request]
    return options


def _image(client, device: Device) -> str:
    """The image's digest there, pulling it when the engine lacks it."""
    import docker

    try:
        client.images.get(device.image)
    except docker.errors.ImageNotFound:
        try:
            client.images.pull(device.image)
        except docker.errors.APIError as exc:
            raise DeviceFailed(f"image {device.image} is not on that engine and it cannot pull it: "
                               f"{exc.explanation or exc}") from None  # fmt: skip
    return pull.image_digest(client, device.image)


def _container(client, device: Device, directory: Path):
    """The container to wait for: one an interrupted call left running (same entry), else a new
    one. A finished one left behind (its engine stopped under it) gives up its records first."""
    import docker

    try:
        found = client.containers.get(device.container)
    except docker.errors.NotFound:
        found = None
    if found is not None and found.status == "running" and found.labels.get(LABEL) == device.fingerprint():
        return found, True
    if found is not None:
        if found.labels.get(LABEL):
            pull.extract(found, directory, pull.PullResult())  # nothing lost: its interrupted record
        found.remove(force=True, v=True)
    try:
        return client.containers.run(device.image, **_run_options(device, _image(client, device))), False
    except docker.errors.APIError as exc:
        with contextlib.suppress(docker.errors.APIError):  # created, then refused a start: not left behind
            client.containers.get(device.container).remove(force=True, v=True)
        raise DeviceFailed(f"the engine refused to run {device.image}: {exc.explanation or exc}") from None


def _run(device: Device, directory: Path) -> tuple[int, str]:
    """Runs the device's container to its end and copies its records: (copied, note)."""
    client = pull.engine_client(device.engine)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001 - requests or paramiko, in their own words
        raise DeviceFailed(f"cannot reach the Docker engine: {type(exc).__name__}: {str(exc)[:200]}") from None
    container, resumed = _container(client, device, directory)
    try:
        code = container.wait().get("StatusCode", 0)
        result = pull.PullResult()
        pull.extract(container, directory, result)
        if code not in (0, 3):  # 3: some runs unsupported, their records say so
            tail = container.logs(tail=5).decode("utf-8", "replace").strip().splitlines()
            raise DeviceFailed(f"{device.image} exited with {code}: {tail[-1] if tail else 'no output'} "
                               f"({len(result.copied)} records copied)")  # fmt: skip
    finally:
        try:
            container.remove(force=True, v=True)
        except Exception:  # noqa: BLE001 - the engine may be gone; the next call finds the container
            pass
    skipped = f", {len(result.invalid)} files skipped" if result.invalid else ""
    return len(result.copied), ("resumed a container left running" if resumed else "") + skipped


def run_device(device: Device, into: Path, again: bool = False) -> Outcome:
    directory = into / device.name
    directory.mkdir(parents=True, exist_ok=True)
    state = _state(directory)
    if not again and state.get("status") == "done" and state.get("fingerprint") == device.fingerprint():
        return Outcome(device.name, "skipped", 0, f"done at {state.get('finished_at')}; --again repeats it", 0.0)
    started, clock = _now(), time.monotonic()
    try:
        copied, note = _run(device, directory)
        status, message = "done", note.strip(", ")
    except (pull.PullError, DeviceFailed) as exc:
        status, message, copied = "failed", str(exc), 0
    except Exception as exc:  # noqa: BLE001 - docker-py, requests, paramiko: the engine went away mid-run
        status, message, copied = (
            "failed",
            f"the engine went away mid-run ({type(exc).__name__}: {str(exc)[:200]}); call again to resume",
            0,
        )
    if status == "failed":
        where = device.engine or "local engine"
        message = message if where in message else f"{where}: {message}"
        write_record(failure_record(device, message, started), directory)
    write_json(directory / STATE, {"status": status, "fingerprint": device.fingerprint(), "image": device.image,
                                   "engine": device.engine, "finished_at": _now(), "message": message})  # fmt: skip
    return Outcome(device.name, status, copied, message, round(time.monotonic() - clock, 1))


class _Device(threading.Thread):
    """One device's run. A daemon thread: on Ctrl-C the call returns at once, the containers go on
    on their boards, and the next call collects them."""

    def __init__(self, device: Device, into: Path, again: bool, say: Callable[[str], None]):
        super().__init__(name=f"fleet-{device.name}", daemon=True)
        self.device, self.into, self.again, self.say = device, into, again, say
        self.outcome: Outcome | None = None

    def run(self) -> None:
        device = self.device
        self.say(f"{device.name}: {device.image} on {device.engine or 'the local engine'}")
        try:
            outcome = run_device(device, self.into, self.again)
        except OSError as exc:  # its directory under --into cannot be written
            outcome = Outcome(device.name, "failed", 0, f"{self.into / device.name}: {exc.strerror or exc}", 0.0)
        self.say(f"{device.name}: {outcome.status}" + (f" ({outcome.copied} records)" if outcome.copied else "")
                 + (f": {outcome.message}" if outcome.message else ""))  # fmt: skip
        self.outcome = outcome


def run(fleet: Fleet, into: Path, again: bool = False, say: Callable[[str], None] = lambda line: None):
    """Every device in parallel; returns their outcomes in the fleet file's order."""
    threads = [_Device(device, into, again, say) for device in fleet.devices]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)  # a timed join lets Ctrl-C through
    return [thread.outcome for thread in threads]


def summary(outcomes: list[Outcome]) -> dict:
    return {"devices": [asdict(o) for o in outcomes],
            **{s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed")}}  # fmt: skip
