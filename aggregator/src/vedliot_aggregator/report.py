"""`vedliot-aggregator report`: one directory a person can open offline.

    DIR/index.html          self-contained (Vega's JavaScript inlined), charts and tables per model
    DIR/metrics.csv         the tidy metrics table (metrics.COLUMNS)
    DIR/audit.csv, .md      cells of published results that do not follow from their inputs
    DIR/charts/*.svg        every chart, rendered by vl-convert (.png too with --images svg,png)
    DIR/tables/*.md, .csv   one table per platform and model, laid out like D3.3's
    DIR/skipped.txt         files that were not valid records, with why

Everything taken from records is data, never markup: text is HTML-escaped and chart specs are
embedded as JSON inside <script type="application/json"> with "</" escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from vedliot_aggregator import chart_files, charts, crosscheck, parallel, report_files
from vedliot_aggregator.collect import Collection
from vedliot_aggregator.gather import Gathered
from vedliot_aggregator.reference import Finding
from vedliot_aggregator.report_files import cell_text, slug

SEED_MODELS = ("resnet50", "mobilenetv3_small", "yolov4", "mobilenetv2")
#: runs listed per model on the page (metrics.csv and tables/ have all)
MAX_PAGE_RUNS = 2000
SUMMARY_COLUMNS = [
    ("target", "target"),
    ("power_mode", "mode"),
    ("backend", "backend"),
    ("precision", "precision"),
    ("batch_size", "batch"),
    ("inference_time_ms", "time [ms]"),
    ("ips", "IPS"),
    ("gops", "GOPS"),
    ("perf_ratio", "ratio"),
    ("peak_source", "peak"),
    ("power_w", "power [W]"),
    ("energy_per_inference_mj", "mJ/inf"),
    ("gops_per_w", "GOPS/W"),
    ("top1", "top-1"),
    ("map50_95", "mAP"),
    ("source", "source"),
    ("warnings", "warnings"),
]


@dataclass
class ReportResult:
    output: Path
    index: Path
    rows: int
    charts: int
    files: list[Path] = field(default_factory=list)


def latency_distributions(table: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Per model, the quantiles of each measured run's iteration times (oldest first)."""
    out: dict[str, list[dict[str, Any]]] = {}
    columns = ["model", "target", "backend", "precision", "batch_size", "run_id", "iterations", "spread_ms"]
    runs = table[table["spread_ms"].notna()].sort_values("started_at", kind="stable")
    # plain lists, not to_dict("records"), which boxed each of 10,000 runs' cells one at a time
    for values in zip(*(runs[c].to_numpy().tolist() for c in columns), strict=True):
        row = dict(zip(columns, values, strict=True))
        lo, q1, median, q3, hi = row["spread_ms"]
        run = f"{row['target']} | {row['backend']} | {row['precision']} | b{row['batch_size']} | {row['run_id'][:8]}"
        quartiles = {"lo": lo, "q1": q1, "median": median, "q3": q3, "hi": hi}
        entry = {"run": run, "precision": row["precision"], **quartiles, "n": int(row["iterations"])}
        out.setdefault(row["model"], []).append(entry)
    return out


def _html_table(frame: pd.DataFrame, columns: list[tuple[str, str]], formats: dict[str, str]) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
    # column by column (one format per column), only the shown columns: row by row over a wide
    # frame took most of the page's time
    cells = []
    for column, _ in columns:
        values = frame[column].tolist()
        if column == "batch_size":
            texts = [html.escape(str(v)) for v in values]
        elif frame[column].dtype.kind == "f":  # digits only: nothing to escape
            pattern = formats.get(column, "{:.2f}")
            texts = [pattern.format(v) if v == v else "-" for v in values]
        else:
            pattern = formats.get(column, "{:.2f}")
            texts = [html.escape(cell_text(v, pattern)) for v in values]
        if column == "warnings":
            cells.append(
                [f'<td class="warn">{t}</td>' if v else f"<td>{t}</td>" for v, t in zip(values, texts, strict=True)]
            )
        else:
            cells.append([f"<td>{t}</td>" for t in texts])
    rows = ["<tr>" + "".join(row) + "</tr>" for row in zip(*cells, strict=True)]
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _spec_json(spec: dict[str, Any]) -> str:
    # Inside <script> a "</" could end the element early: "<" is written as the JSON escape \u003c,
    # so no record text ever appears as markup, even inside the data.
    return json.dumps(spec, allow_nan=False).replace("<", "\\u003c")


STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1250px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:12px;margin:.6em 0}td,th{border:1px solid #ddd;padding:2px 6px}
th{background:#f3f3f3}td.warn{color:#a40;max-width:380px}.charts{display:flex;flex-wrap:wrap;gap:1.5em}
.note{color:#555}.pill{background:#eef;padding:1px 6px;border-radius:8px}
"""


@dataclass
class _Sections:
    """The per-model parts of the page, as they are rendered."""

    html: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    charts: int = 0


def _model_charts(model: str, rows: pd.DataFrame, latencies, renderer: chart_files.Renderer, out: _Sections) -> str:
    """The model's charts, queued for their files and embedded in the page; their <div>s."""
    specs = {
        "gops_vs_power": charts.gops_vs_power(rows, model),
        "gops_per_w": charts.gops_per_w_bars(rows, model),
        "accuracy": charts.accuracy_chart(rows, model),
        "latency": charts.latency_chart(latencies, model),
    }
    divs = []
    for kind, spec in specs.items():
        if spec is None:
            continue
        # Vega shortens labels past labelLimit by measuring them again and again: with
        # hundreds of long run labels that is most of a chart's rendering time.
        spec.setdefault("config", {}).setdefault("axis", {})["labelLimit"] = 0
        chart_id = f"chart-{out.charts}"
        out.charts += 1
        renderer.add(spec, slug(f"{model}_{kind}"))
        divs.append(f'<div class="chart" id="{chart_id}"></div>')
        out.scripts.append(f'<script type="application/json" data-chart="{chart_id}">{_spec_json(spec)}</script>')
    return "".join(divs)


def _model_section(model: str, rows: pd.DataFrame, divs: str) -> str:
    speed = rows[rows["mode"] != "accuracy"]
    title, total = f"Runs ({len(speed)})", len(speed)
    if total > MAX_PAGE_RUNS:
        # A page of 100,000 rows is megabytes no browser pages through: every published and
        # imported row, the newest measured ones, and metrics.csv and tables/ with all of them.
        others = speed[speed["provenance"] != "measured"]
        newest = speed[speed["provenance"] == "measured"].sort_values("started_at", ascending=False, kind="stable")
        speed = pd.concat([others, newest.head(max(0, MAX_PAGE_RUNS - len(others)))])
        title = f"Runs ({total}; {len(speed)} here, the newest measured; all in metrics.csv)"
    speed = speed.sort_values(["provenance", "target", "backend", "precision"])
    formats_by_column = {"perf_ratio": "{:.2%}", "inference_time_ms": "{:.3f}"}
    return (
        f'<section id="{html.escape(slug(model))}"><h2>{html.escape(model)}</h2>'
        f'<div class="charts">{divs}</div>'
        f"<h3>{title}</h3>{_html_table(speed, SUMMARY_COLUMNS, formats_by_column)}</section>"
    )


def _summary_html(table: pd.DataFrame, collection: Collection | Gathered) -> str:
    counts = table["provenance"].value_counts().to_dict()
    return (
        f"<p>{len(table)} records: "
        + ", ".join(f'<span class="pill">{html.escape(str(v))} {html.escape(str(k))}</span>' for k, v in counts.items())
        + f"; {len(collection.skipped)} files skipped (see skipped.txt)"
        + f"; {len(collection.duplicates)} duplicates dropped.</p>"
    )


def _crosscheck_html(table: pd.DataFrame) -> str:
    cross = crosscheck.table(table)
    if not len(cross):
        return ""
    columns = [(c, c.replace("_", " ")) for c in crosscheck.COLUMNS]
    formats = {"runner_ips": "{:.1f}", "tool_ips": "{:.1f}", "ips_difference": "{:+.1%}", "runner_ms": "{:.3f}",
               "tool_ms": "{:.3f}", "ms_difference": "{:+.1%}"}  # fmt: skip
    return (
        f'<h2>The runner against the vendor\'s tool ({len(cross)})</h2><p class="note">The same configuration '
        "measured by the runner's backend and by the vendor's benchmark tool (suite --cross-check).</p>"
        + _html_table(cross, columns, formats)
    )


def _page(table: pd.DataFrame, collection: Collection | Gathered, audit: pd.DataFrame, sections: _Sections) -> str:
    audit_html = _html_table(
        audit.assign(batch_size=audit["batch_size"].astype(str)) if len(audit) else audit,
        [(c, c) for c in Finding.__dataclass_fields__],
        {"printed": "{:g}", "recomputed": "{:g}", "table": "{:d}"},
    )
    skipped_html = "".join(
        f"<li><code>{html.escape(str(c.path))}</code>: {html.escape(c.problems[0])}</li>" for c in collection.skipped
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>vedliot-bench report</title>
<style>{STYLE}</style></head><body>
<h1>vedliot-bench report</h1>
{_summary_html(table, collection)}
<p class="note">Metrics as defined in VEDLIoT D3.3 §3.1 (docs/method.md): GOPS = IPS x operations per
inference; energy per inference = power / IPS; a run whose accuracy drops more than the margin below its
fp32 reference is marked not comparable. Published rows are D3.3's measurements, recomputed from their
inputs; the audit lists the cells that do not follow.</p>
{"".join(sections.html)}
{_crosscheck_html(table)}
<h2>Audit of published cells ({len(audit)})</h2>{audit_html}
<h2>Skipped files ({len(collection.skipped)})</h2><ul>{skipped_html or "<li>none</li>"}</ul>
{"".join(sections.scripts)}
<script>{chart_files.vega_bundle()}</script>
<script>
document.querySelectorAll('script[data-chart]').forEach(function (node) {{
  var target = document.getElementById(node.getAttribute('data-chart'));
  vegaEmbed(target, JSON.parse(node.textContent), {{renderer: 'svg', actions: false}})
    .then(function () {{ target.setAttribute('data-rendered', 'true'); }})
    .catch(function (err) {{ target.textContent = 'chart failed: ' + err; }});
}});
</script>
</body></html>
"""


def render(
    collection: Collection | Gathered,
    table: pd.DataFrame,
    findings: list[Finding],
    output: Path,
    formats: tuple[str, ...] = ("svg",),
    progress: Callable[[str], None] | None = None,
) -> ReportResult:
    audit = pd.DataFrame([f.as_dict() for f in findings], columns=list(Finding.__dataclass_fields__))
    for directory in (output, output / "charts", output / "tables"):
        directory.mkdir(parents=True, exist_ok=True)
    # metrics.csv and the tables (about as long as the page, for 10,000 runs) written beside it
    writing = parallel.Background(lambda: report_files.write_files(collection, table, audit, output))
    try:
        distributions = latency_distributions(table)
        present = set(table["model"].to_numpy().tolist())
        models = [m for m in SEED_MODELS if m in present]
        models += sorted(present - set(models))
        by_model = {model: table[table["model"] == model] for model in models}
        sections = _Sections()
        renderer = chart_files.Renderer(output / "charts", formats)
        divs = {model: _model_charts(model, rows, distributions.get(model, []), renderer, sections)
                for model, rows in by_model.items()}  # fmt: skip
        renderer.start()  # the chart files are drawn by other processes while this one writes the rest
        try:
            sections.html = [_model_section(model, rows, divs[model]) for model, rows in by_model.items()]
            index = output / "index.html"
            index.write_text(_page(table, collection, audit, sections), encoding="utf-8")
            files = writing.result()
        finally:
            sections.files = renderer.finish(progress)
    finally:
        writing.close()
    return ReportResult(output, index, len(table), sections.charts, [*files, *sections.files, index])
