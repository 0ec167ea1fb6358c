"""The report's chart files (SVG, PNG), rendered by vl-convert in a process of their own while the
report's tables and page are written. vl-convert keeps the GIL while it renders, so a thread would
not overlap; a process does, on a second core.

Drawn files are also kept in the user's cache directory, named by a hash of the vl-convert
version, the format and the whole chart spec (its data included): a chart whose data did not
change is copied instead of drawn again, and a changed one can never be served stale.

    python -m vedliot_aggregator.chart_files JOBS.json CHARTS_DIR svg,png

JOBS.json is a list of {"name", "spec"}; the name of each written file goes to stdout, a line each.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vedliot_aggregator.parallel import usable_cores

#: drawn charts kept at most; the oldest go first
CACHE_FILES = 500


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vedliot-bench"


def _cached(spec: dict[str, Any], fmt: str) -> Path:
    import vl_convert as vlc

    text = json.dumps([getattr(vlc, "__version__", "?"), fmt, spec], sort_keys=True, allow_nan=False)
    return cache_dir() / "charts" / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.{fmt}"


def keep(path: Path, data: bytes) -> None:
    """Into the cache, whole or not at all (a read-only home just keeps nothing)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(data)
        partial.replace(path)
    except OSError:
        pass


def write(spec: dict[str, Any], name: str, directory: Path, formats: tuple[str, ...]) -> list[Path]:
    """The chart as SVG and/or PNG files (one Vega run: the PNG is rasterised from the SVG)."""
    import vl_convert as vlc

    files, svg = [], None
    for fmt in ("svg", "png"):
        if fmt not in formats:
            continue
        target, cached = directory / f"{name}.{fmt}", _cached(spec, fmt)
        try:
            shutil.copyfile(cached, target)
        except FileNotFoundError:
            svg = svg if svg is not None else vlc.vegalite_to_svg(spec)
            data = svg.encode() if fmt == "svg" else bytes(vlc.svg_to_png(svg, scale=1.5))
            target.write_bytes(data)
            keep(cached, data)
        files.append(target)
    return files


def vega_bundle() -> str:
    """Vega's JavaScript for the offline page. vl-convert builds it in about 2 s, the same every
    time for one vl-convert version: kept in the cache directory after the first report."""
    import vl_convert as vlc

    version = "".join(c if c.isalnum() or c in "._-" else "_" for c in getattr(vlc, "__version__", "unknown"))
    path = cache_dir() / f"vega-embed-{version}.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    bundle = vlc.javascript_bundle()
    keep(path, bundle.encode())
    return bundle


def prune(most: int = CACHE_FILES) -> None:
    try:
        files = sorted((cache_dir() / "charts").iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[most:]:
            old.unlink()
    except OSError:
        pass


class Renderer:
    """Charts queued with `add`, rendered by child processes (one per usable core) from `start` to
    `finish` (none when every file is in the cache)."""

    def __init__(self, directory: Path, formats: tuple[str, ...]) -> None:
        self.directory, self.formats = directory, formats
        self.jobs: list[dict[str, Any]] = []
        self.copied: list[Path] = []
        self._children: list[tuple[subprocess.Popen, Path]] = []

    def add(self, spec: dict[str, Any], name: str) -> None:
        if not self.formats:
            return
        if all(_cached(spec, fmt).is_file() for fmt in self.formats):
            self.copied += write(spec, name, self.directory, self.formats)
        else:
            self.jobs.append({"name": name, "spec": spec})

    def start(self) -> None:
        """One child per usable core (vl-convert draws a chart on one): 16 charts of 10,000 runs
        take about 10 s in one."""
        share = min(len(self.jobs), usable_cores())
        for i in range(share):
            jobs_file = self.directory / f".chart-jobs-{i}.json"
            jobs_file.write_text(json.dumps(self.jobs[i::share]), encoding="utf-8")
            command = [sys.executable, "-m", __name__, str(jobs_file), str(self.directory), ",".join(self.formats)]
            child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self._children.append((child, jobs_file))

    def finish(self, progress: Callable[[str], None] | None = None) -> list[Path]:
        """The files written; OSError with the child's last line when it could not write them."""
        files, per_chart = list(self.copied), max(1, len(self.formats))
        for path in self.copied[::per_chart]:
            if progress:
                progress(path.stem)
        errors = []
        for child, jobs_file in self._children:
            for line in child.stdout:
                files.append(self.directory / line.rstrip("\n"))
                if progress and (len(files) - len(self.copied)) % per_chart == 0:
                    progress(files[-1].stem)
            error = child.stderr.read()
            if child.wait() != 0:
                lines = error.strip().splitlines()
                errors.append(lines[-1] if lines else f"chart rendering ended with exit code {child.returncode}")
            jobs_file.unlink(missing_ok=True)
        if errors:
            raise OSError(errors[0])
        return files


def main(argv: list[str]) -> int:
    jobs_file, directory, formats = Path(argv[0]), Path(argv[1]), tuple(argv[2].split(","))
    try:
        for job in json.loads(jobs_file.read_text(encoding="utf-8")):
            for path in write(job["spec"], job["name"], directory, formats):
                print(path.name, flush=True)
    except OSError as exc:
        print(f"{exc.filename or directory}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    prune()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
