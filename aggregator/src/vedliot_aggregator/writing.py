"""Records written by the aggregator (imports, the published reference set): whole or absent, as
the runner writes its own. Standard JSON only: NaN and Infinity are refused, since no JSON reader
outside Python takes them."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from vedliot_aggregator import untrusted


def write_record(record: dict[str, Any], output: Path) -> Path:
    """`output/<run_id>.json`, through a temporary file renamed into place."""
    output.mkdir(parents=True, exist_ok=True)
    return write_json(output / f"{record['run_id']}.json", record)


def write_json(path: Path, data: Any) -> Path:
    """`path`, whole or absent: a temporary file beside it, synced, renamed into place."""
    text = untrusted.dumps(data)
    handle, temp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path
