"""The report's chart files (SVG, PNG), rendered by vl-convert in a process of their own while the
report's tables and page are written. vl-convert keeps the GIL while it renders, so a thread would
not overlap; a process does, on a second core.

    python -m vedliot_aggregator.chart_files JOBS.json CHARTS_DIR svg,png

JOBS.json is a list of {"name", "spec"}; the name of each written file goes to stdout, a line each.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write(spec: dict[str, Any], name: str, directory: Path, formats: tuple[str, ...]) -> list[Path]:
    """The chart as SVG and/or PNG files (one Vega run: the PNG is rasterised from the SVG)."""
    import vl_convert as vlc

    files = []
    svg = vlc.vegalite_to_svg(spec)
    if "svg" in formats:
        files.append(directory / f"{name}.svg")
        files[-1].write_text(svg, encoding="utf-8")
    if "png" in formats:
        files.append(directory / f"{name}.png")
        files[-1].write_bytes(vlc.svg_to_png(svg, scale=1.5))
    return files


class Renderer:
    """Charts queued with `add`, rendered by one child process from `start` to `finish`."""

    def __init__(self, directory: Path, formats: tuple[str, ...]) -> None:
        self.directory, self.formats = directory, formats
        self.jobs: list[dict[str, Any]] = []
        self._child: subprocess.Popen | None = None
        self._jobs_file = directory / ".chart-jobs.json"

    def add(self, spec: dict[str, Any], name: str) -> None:
        if self.formats:
            self.jobs.append({"name": name, "spec": spec})

    def start(self) -> None:
        if not self.jobs:
            return
        self._jobs_file.write_text(json.dumps(self.jobs), encoding="utf-8")
        command = [sys.executable, "-m", __name__, str(self._jobs_file), str(self.directory), ",".join(self.formats)]
        self._child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(self, progress: Callable[[str], None] | None = None) -> list[Path]:
        """The files written; OSError with the child's last line when it could not write them."""
        if self._child is None:
            return []
        files, per_chart = [], max(1, len(self.formats))
        for line in self._child.stdout:
            files.append(self.directory / line.rstrip("\n"))
            if progress and len(files) % per_chart == 0:
                progress(files[-1].stem)
        error = self._child.stderr.read()
        code = self._child.wait()
        self._jobs_file.unlink(missing_ok=True)
        if code != 0:
            lines = error.strip().splitlines()
            raise OSError(lines[-1] if lines else f"chart rendering ended with exit code {code}")
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
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
