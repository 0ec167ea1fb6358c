"""What a report computed from each record file (its validation outcome and record-local metrics
row), kept for the next report over the same files: a report over 10,000 unchanged files then
reads one cache file and looks at each file's metadata, instead of reading, validating and
computing 10,000 records again.

- A file counts as unchanged while its device, inode, size and modification and change times
  (nanoseconds) are, as make and git's index judge files; any write, replace, rename over it or
  chmod changes one of them. A file changed in the last SETTLE_NS is not kept yet: a second write
  within a coarse file system clock's tick could leave its stamp as it was.
- A cache file serves one aggregator (a hash of the package's sources and schema is part of its
  name: a changed aggregator never reads rows an older one computed), one list of sources, one
  meter log (by its own metadata) and clock offset. At most MAX_FILES are kept, the newest.
- Not kept: accuracy records (their score depends on the annotation files under --data-root) and
  files that could not be read (a permission fixed later changes no metadata of the file's own).
- A convenience only: a cache that cannot be read or written is passed over without a word, and
  `report --no-cache` or VEDLIOT_ROW_CACHE=0 leaves it out. It is pickled and lives in the user's
  own cache directory (chart_files.cache_dir), trusted as the user's own files.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vedliot_aggregator.chart_files import cache_dir
from vedliot_aggregator.schema import FileCheck
from vedliot_aggregator.untrusted import UNREADABLE

MAX_FILES = 16
SETTLE_NS = 2_000_000_000
_FORMAT = 1


def stamp(path: Path) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


@functools.cache
def code_version() -> str:
    """A hash of the aggregator's sources and schema: what computes the cached items."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(str(_FORMAT).encode())
    for path in sorted([*package.rglob("*.py"), *package.glob("*.json")]):
        try:
            data = path.read_bytes()
        except OSError:  # a broken link: whatever reads it will say so, not the cache
            data = b"\0unreadable"
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + data)
    return digest.hexdigest()


class RowCache:
    """Items by file path and stamp, loaded from one cache file and saved back when they changed."""

    def __init__(self, where: Path | None, known: dict[str, tuple[tuple[int, ...], Any]]) -> None:
        self.where = where
        self.known = known

    @classmethod
    def open(cls, sources: Sequence[Path], meter_log: Path | None, clock_offset: float | None) -> RowCache:
        if os.environ.get("VEDLIOT_ROW_CACHE", "1") == "0":
            return cls(None, {})
        context = [code_version(), [str(Path(s).resolve()) for s in sources], clock_offset,
                   str(meter_log) if meter_log else None, stamp(meter_log) if meter_log else None]  # fmt: skip
        name = hashlib.sha256(repr(context).encode()).hexdigest()[:32]
        where = cache_dir() / "rows" / f"{name}.pickle"
        try:
            with open(where, "rb") as handle:
                known = pickle.load(handle)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError, TypeError,
                ValueError):  # fmt: skip
            # absent, cut short, or written by another Python: computed again
            known = {}
        return cls(where, known if isinstance(known, dict) else {})

    def get(self, path: Path, current: tuple[int, ...] | None) -> Any | None:
        found = self.known.get(str(path))
        return found[1] if found is not None and current is not None and found[0] == current else None

    def save(self, files: Sequence[Path], stamps: Sequence[tuple[int, ...] | None], items: Sequence[Any]) -> None:
        """Keep what `keep(item)` allows of this report's files, if that differs from what was read."""
        if self.where is None:
            return
        # A file written in the last seconds may be written again within the file system's time
        # resolution without a new stamp (git's "racily clean" entries): not kept until it settles.
        settled = time.time_ns() - SETTLE_NS
        entries = {str(f): (s, item) for f, s, item in zip(files, stamps, items, strict=True)
                   if s and max(s[3], s[4]) < settled and _keep(item)}  # fmt: skip
        if entries.keys() == self.known.keys() and all(self.known[k][0] == v[0] for k, v in entries.items()):
            return
        try:
            self.where.parent.mkdir(parents=True, exist_ok=True)
            partial = self.where.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(pickle.dumps(entries, protocol=pickle.HIGHEST_PROTOCOL))
            partial.replace(self.where)
            _prune(self.where.parent)
        except OSError:
            pass


def _keep(item: Any) -> bool:
    if isinstance(item, FileCheck):
        return not item.problems[0].startswith(UNREADABLE)
    return getattr(item, "score", None) is None


def _prune(directory: Path) -> None:
    files = sorted(directory.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[MAX_FILES:]:
        old.unlink(missing_ok=True)
