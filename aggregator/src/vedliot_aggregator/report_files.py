"""The report's files beside the page: metrics.csv, the audit, skipped.txt and one table per
platform and model laid out like D3.3's (tables/*.md, *.csv). Every text cell a spreadsheet
would run as a formula is quoted; Markdown cells are escaped as HTML.
"""

from __future__ import annotations

import csv
import hashlib
import html
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vedliot_aggregator import crosscheck, metrics

#: rows of a per-platform table, like D3.3's: (label, column, format)
TABLE_ROWS = [
    ("Inference time [ms]", "inference_time_ms", "{:.3f}"),
    ("Latency [ms]", "latency_ms", "{:.3f}"),
    ("Achieved performance [inferences/s]", "ips", "{:.2f}"),
    ("Achieved performance [GOPS]", "gops", "{:.2f}"),
    ("Peak performance [GOPS]", "peak_gops", "{:g}"),
    ("Peak from", "peak_source", "{}"),
    ("Performance ratio", "perf_ratio", "{:.2%}"),
    ("Memory peak [MB]", "memory_peak_mb", "{:.0f}"),
    ("Power [W]", "power_w", "{:.3f}"),
    ("Idle power [W]", "idle_power_w", "{:.3f}"),
    ("Energy / inference [mJ]", "energy_per_inference_mj", "{:.2f}"),
    ("GOPS / W", "gops_per_w", "{:.2f}"),
    ("Top-1 [%]", "top1", "{:.2f}"),
    ("Top-5 [%]", "top5", "{:.2f}"),
    ("mAP@.50 [%]", "map50", "{:.2f}"),
    ("mAP@[.50:.95] [%]", "map50_95", "{:.2f}"),
]


def cell_text(value: Any, pattern: str = "{:.2f}") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float | int | np.floating | np.integer) and not isinstance(value, bool):
        return pattern.format(value)
    return str(value)


def slug(text: str) -> str:
    """A file name from record strings: safe characters only, and short (a 300-character target
    name must not make a name the file system refuses); a cut name keeps a hash of the whole."""
    slug = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in text)
    if len(slug) > 100:
        slug = slug[:80] + "_" + hashlib.sha256(text.encode()).hexdigest()[:12]
    return slug


#: a spreadsheet takes a cell starting with one of these as a formula (=HYPERLINK(...))
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(_FORMULA_START)


def _cell_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell (and index label) that a spreadsheet would run as a formula
    quoted, as OWASP advises for CSV exports."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype.kind not in "biufc":  # text, mixed, or a string dtype
            safe[column] = safe[column].map(_cell_safe)
    if safe.index.dtype.kind not in "biufc":
        safe.index = safe.index.map(_cell_safe)
    return safe


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """`spreadsheet_safe(frame).to_csv(path, index=False)`, byte for byte, in about a third of its
    time (metrics.csv of 10,000 runs: 0.5 s in pandas): each column made text the way pandas
    makes it (numpy's str of a float column, missing cells empty), then one csv.writer."""
    columns = [_csv_cells(frame[name]) for name in frame.columns] if frame.columns.is_unique else None
    if columns is None or any(cells is None for cells in columns):
        spreadsheet_safe(frame).to_csv(path, index=False)  # dates, duplicate names: pandas' own rules
        return
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(list(frame.columns))
        writer.writerows(zip(*columns, strict=True))


def _csv_cells(series: pd.Series) -> list[Any] | None:
    """A column's cells as pandas' get_values_for_csv gives them to csv.writer (na_rep ""), with
    formula-like text quoted; None for a dtype left to pandas (dates, periods, nullable numbers)."""
    dtype, values = series.dtype, series.array
    if dtype in (np.float64, np.int64, np.bool_):
        # Python's repr of a float64 is numpy's str of it (checked on 400,000 random bit patterns),
        # and csv.writer writes floats by repr: no text made here
        cells = np.asarray(values).tolist()
    elif dtype.kind in "fiub" and isinstance(dtype, np.dtype):  # float32's str is not its float64 repr
        cells = np.asarray(values).astype(str).tolist()
    elif dtype.kind == "O" and not isinstance(values, pd.arrays.PeriodArray):  # objects, str, categories
        cells = np.asarray(values, dtype=object).tolist()
        for i in [i for i, cell in enumerate(cells) if isinstance(cell, str) and cell[:1] in _FORMULA_FIRST]:
            cells[i] = "'" + cells[i]
    else:
        return None
    missing = series.isna().to_numpy()
    if missing.any():
        for i in np.flatnonzero(missing).tolist():
            cells[i] = ""
    return cells


_SETUP_COLUMNS = ["backend", "precision", "batch_size", "threads", "accelerator_config"]


def platform_tables(table: pd.DataFrame) -> dict[tuple[str, str, str], pd.DataFrame]:
    """Per (target, power mode, model), a table like D3.3's: metric rows, one column per setup
    (repeated runs of a setup: the last in backend, precision, batch order)."""
    speed = table[table["mode"] != "accuracy"]
    group_by = ["target", "power_mode", "model"]
    # one sort and plain lists: a pandas groupby, sort and to_dict per table dominated 100 tables
    ordered = speed.sort_values([*group_by, "backend", "precision", "batch_size"], kind="stable")
    groups = zip(*(ordered[c].tolist() for c in group_by), strict=True)
    setups = zip(*(ordered[c].tolist() for c in _SETUP_COLUMNS), strict=True)
    picked: dict[tuple[str, str, str], dict[str, int]] = {}
    for i, ((target, mode, model), setup) in enumerate(zip(groups, setups, strict=True)):
        key = (target, "" if pd.isna(mode) else (mode or ""), model)
        picked.setdefault(key, {})[_setup_name(*setup)] = i
    values = {col: ordered[col].tolist() for _, col, _ in TABLE_ROWS}
    index = [label for label, _, _ in TABLE_ROWS]
    out = {}
    for key, names in picked.items():
        columns = {name: [cell_text(values[col][i], fmt) for _, col, fmt in TABLE_ROWS] for name, i in names.items()}
        out[key] = pd.DataFrame(columns, index=index)
    return out


def _setup_name(backend: str, precision: str, batch_size: Any, threads: Any, accelerator_config: Any) -> str:
    name = f"{backend} {precision} b{batch_size}"
    if threads and not pd.isna(threads):
        name += f" t{int(threads)}"
    if accelerator_config and not pd.isna(accelerator_config):
        name += f" {accelerator_config}"
    return name


def _markdown(frame: pd.DataFrame) -> str:
    """A Markdown table whose cells cannot carry markup: record strings are escaped as HTML
    (Markdown passes HTML through), pipes and line breaks defused."""
    header = "| | " + " | ".join(map(_escape_cell, frame.columns)) + " |"
    rule = "|---" * (len(frame.columns) + 1) + "|"
    body = [
        "| " + _escape_cell(index) + " | " + " | ".join(map(_escape_cell, row)) + " |"
        for index, row in zip(frame.index, frame.to_numpy().tolist(), strict=True)
    ]
    return "\n".join([header, rule, *body]) + "\n"


def _escape_cell(text: Any) -> str:
    return html.escape(str(text)).replace("|", "&#124;").replace("\r", " ").replace("\n", " ")


def _small_csv(path: Path, frame: pd.DataFrame) -> None:
    """A per-platform table (text cells) as pandas' to_csv writes it, spreadsheet-safe, without
    pandas' per-call cost, which dominated writing a hundred small tables."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["", *map(_cell_safe, frame.columns)])
        for index, row in zip(frame.index, frame.to_numpy().tolist(), strict=True):
            writer.writerow([_cell_safe(index), *map(_cell_safe, row)])


def write_files(collection: Any, table: pd.DataFrame, audit: pd.DataFrame, output: Path) -> list[Path]:
    """metrics.csv, the audit (csv and markdown), skipped.txt and the per-platform tables."""
    write_csv(output / "metrics.csv", table[metrics.COLUMNS])
    write_csv(output / "audit.csv", audit)
    (output / "audit.md").write_text(
        "# Cells of published results that do not follow from their inputs\n\n"
        + (_markdown(audit.set_index("table")) if len(audit) else "None.\n"),
        encoding="utf-8",
    )
    skipped = "".join(f"{c.path}: {c.problems[0]}\n" for c in collection.skipped)
    (output / "skipped.txt").write_text(skipped or "none\n", encoding="utf-8")
    for (target, mode, model), frame in platform_tables(table).items():
        name = slug(f"{target}_{mode}_{model}" if mode else f"{target}_{model}")
        _small_csv(output / "tables" / f"{name}.csv", frame)
        (output / "tables" / f"{name}.md").write_text(
            f"# {_escape_cell(model)} on {_escape_cell(target)}{' (' + mode + ')' if mode else ''}\n\n"
            + _markdown(frame),
            encoding="utf-8",
        )
    written = [output / "metrics.csv", output / "audit.csv", output / "audit.md"]
    cross = crosscheck.table(table)
    if len(cross):
        write_csv(output / "tables" / "cross-check.csv", cross)
        (output / "tables" / "cross-check.md").write_text(
            "# The runner against the vendor's tool\n\n" + _markdown(crosscheck.display(cross)), encoding="utf-8"
        )
        written.append(output / "tables" / "cross-check.md")
    return written
