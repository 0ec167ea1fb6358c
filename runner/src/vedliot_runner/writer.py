"""Writing records: atomic (temp file, fsync, rename), and tidy: temp files a killed writer left
behind (SIGKILL, power loss) are removed by the next run. Signals cannot cut a write short: while
a run's record is written, the parent's SIGINT/SIGTERM handlers only set flags (interrupt.py)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from vedliot_runner.record import Record

#: a temp file this old is stale whoever wrote it (a record is written in milliseconds)
STALE_AFTER_S = 3600.0


def dumps(value: Any, indent: str = "") -> str:
    """JSON with one key per line, but lists of scalars (samples, shapes) kept on one line:
    a record with 100,000 samples stays readable and a tenth of json.dumps(indent=1)'s size."""
    inner = indent + " "
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = ",\n".join(inner + json.dumps(k) + ": " + dumps(v, inner) for k, v in value.items())
        return "{\n" + items + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + dumps(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value, allow_nan=False, separators=(",", ":") if isinstance(value, list) else (", ", ": "))


def write_record(record: Record, directory: Path) -> Path:
    """Write DIR/<run_id>.json atomically: a reader sees the whole record or no file at all."""
    return write_atomic(directory / (record.run_id + ".json"), dumps(record.to_dict()))


def sidecar_path(directory: Path, run_id: str, kind: str) -> Path:
    """DIR/<run_id>.<kind>.json: data too large for the record (detections), written before it."""
    return directory / "{}.{}.json".format(run_id, kind)


def _host() -> str:
    return socket.gethostname().replace(".", "_")


def _temp_prefix(final: Path) -> str:
    # Host and PID in the name let the next run tell a dead writer's leftovers from a live one's.
    return ".{}.{}-{}.".format(final.stem, _host(), os.getpid())


def write_atomic(final: Path, text: str) -> Path:
    """Write `text` (plus a newline) to `final` through a temp file and a rename."""
    directory = final.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(final), suffix=".tmp", dir=str(directory))
    try:
        # mkstemp makes the file private; a record is meant to be read by whoever collects it.
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, str(final))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return final


def _writer_alive(name: str) -> Optional[bool]:
    """Whether the writer named in a temp file's name still runs (None: cannot tell here)."""
    parts = name.split(".")
    if len(parts) < 4:
        return None
    host, _, pid = parts[-3].rpartition("-")
    if host != _host() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, owned by someone else
        return True
    return True


def clean_stale_temps(directory: Path, now: Optional[float] = None) -> int:
    """Remove temp files of writers killed mid-write (SIGKILL, power loss): those whose writer
    on this host is gone, and any older than an hour. Returns how many were removed."""
    now = time.time() if now is None else now
    removed = 0
    try:
        candidates = [p for p in directory.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
    except OSError:
        return 0
    for path in candidates:
        try:
            age = now - path.stat().st_mtime
        except OSError:
            continue
        if _writer_alive(path.name) is False or age > STALE_AFTER_S:
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    return removed


def output_dir_problem(directory: Path) -> Optional[str]:
    """None when records can be written into `directory` (created if needed), else why not."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # os.access says yes to root on a read-only mount: only a real write tells.
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=str(directory))
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EROFS:
            return reason + "; mount it read-write (no :ro)"
        if exc.errno in (errno.EACCES, errno.EPERM):
            # The common case in a container: a bind mount owned by the host user, not the image's.
            return (
                reason
                + "; make it writable for this user (uid {}), or in a container run as its owner: "
                "docker run --user $(id -u):$(id -g) ...".format(os.getuid())
            )
        return reason
    return None


#: set in the images to their results directory: a run there needs a volume or bind mount
MOUNT_ENV = "VEDLIOT_RESULTS_MOUNT"


def unmounted_problem(directory: Path) -> Optional[str]:
    """Why writing records into `directory` would lose them (the image's results directory with
    nothing mounted: they would vanish with the container), else None."""
    wanted = os.environ.get(MOUNT_ENV)
    if not wanted or os.path.realpath(str(directory)) != os.path.realpath(wanted) or os.path.ismount(wanted):
        return None
    return (
        "nothing is mounted there, so the records would vanish with the container; add "
        '-v "$PWD/results:{}" to docker run (or -e {}= to keep them inside the container)'.format(wanted, MOUNT_ENV)
    )
