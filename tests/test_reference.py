"""The published D3.3 results: the shipped records are what the transcription gives, the aggregator
recomputes the report's derived columns from their raw inputs within rounding, and every cell that
does not follow is in the audit, where the report's known contradictions must appear."""

from __future__ import annotations

import csv
import json

import pytest

from vedliot_aggregator import catalog, metrics, reference
from vedliot_aggregator.collect import collect

from conftest import REPO

BASE = REPO / "results" / "reference" / "vedliot-d3.3"


@pytest.fixture(scope="module")
def published():
    collection = collect([BASE / "records"])
    return collection, metrics.frame(collection, catalog.load())


def test_shipped_records_are_the_transcription():
    built = {r["run_id"]: r for r in reference.build_records(BASE / "transcription")}
    shipped = {p.stem: json.loads(p.read_text()) for p in (BASE / "records").glob("*.json")}
    assert built.keys() == shipped.keys() and len(built) > 400
    assert all(built[k] == shipped[k] for k in built), "rerun scripts/build_reference.py"


def test_every_record_is_valid_and_covers_tables_3_to_116(published):
    collection, table = published
    assert not collection.skipped and not collection.duplicates
    tables = set(table["table"].dropna().astype(int))
    assert min(tables) == 3 and max(tables) == 116 and len(tables) > 100
    assert set(table["target"]) >= {"xeon_d_1577", "jetson_xavier_nx", "hailo8", "xilinx_vck190", "tesla_a100"}


def _row(table, number, target, model, precision, batch):
    rows = table[
        (table["table"] == number)
        & (table["target"] == target)
        & (table["model"] == model)
        & (table["precision"] == precision)
        & (table["batch_size"] == batch)
    ]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_derived_columns_recomputed_from_inputs(published):
    _, table = published
    # D3.3 Table 3, ResNet50 on the Xeon-D 1577, FP16 batch 1: 20.460 ms, 56.960 W.
    row = _row(table, 3, "xeon_d_1577", "resnet50", "fp16", 1)
    assert row["ips"] == pytest.approx(48.88, abs=0.01)
    assert row["gops"] == pytest.approx(380.25, abs=0.05)
    assert row["perf_ratio"] * 100 == pytest.approx(28.56, abs=0.01)
    assert row["energy_per_inference_mj"] == pytest.approx(1165.40, abs=0.1)
    assert row["gops_per_w"] == pytest.approx(6.68, abs=0.01)
    # Batch 8: energy per inference, not per batch.
    row = _row(table, 3, "xeon_d_1577", "resnet50", "fp16", 8)
    assert row["energy_per_inference_mj"] == pytest.approx(841.78, abs=0.1)
    # Xavier NX INT8 (Table 58): the catalog's derived peak 13516.
    row = _row(table, 58, "jetson_xavier_nx", "resnet50", "int8", 1)
    assert row["peak_gops"] == 13516 and row["perf_ratio"] * 100 == pytest.approx(18.46, rel=0.005)


def test_audit_lists_the_reports_contradictions_and_only_those(published):
    _, table = published
    findings = list(csv.DictReader(open(BASE / "audit.csv", encoding="utf-8")))
    fresh = reference.audit(table)
    assert [f.as_dict()["problem"] for f in fresh] == [f["problem"] for f in findings], "rerun build_reference.py"
    kinds = {(int(f["table"]), f["column"], f["problem"].split(" ")[0]) for f in findings}
    assert (8, "map50", "mAP") in kinds  # YoloV4 mAP labels swapped
    assert (23, "energy_per_inference_mj", "energy") in kinds  # "Energy [J]" that are mJ
    assert (26, "inference_time_ms", "batch-8") in kinds  # Hailo batch 8 = batch 1 times
    assert (82, "gops", "GOPS") in kinds  # GTX1660 FP32: 1574 GOPS from 330.8 IPS
    assert not any(int(f["table"]) == 3 for f in findings)  # a consistent table stays clean
    # Most cells follow from their inputs: the audit is the exception list, not the rule.
    assert len(findings) < 0.25 * len(table)


def test_audit_findings_reach_the_rows_they_concern(published):
    _, table = published
    annotated = reference.annotate(table, reference.audit(table))
    row = _row(annotated, 82, "gtx1660", "resnet50", "fp32", 1)
    assert "D3.3 audit, gops: GOPS does not follow" in row["warnings"]
    assert "D3.3 audit" not in _row(annotated, 3, "xeon_d_1577", "resnet50", "fp16", 1)["warnings"]


def test_catalog_peaks_as_the_report_derives_them():
    platforms = catalog.load()
    nx = platforms.find("jetson_xavier_nx")
    assert (nx.peak("int8"), nx.peak("fp16"), nx.peak("fp32")) == (13516, 6758, 3379)
    tx2 = platforms.find("jetson_tx2")
    assert tx2.peak_gops["int8"] == "cpu_only" and tx2.peak("int8") is None
    zu15 = platforms.find("trenz_ultrasom_zu15eg")
    assert zu15.peak_by_config and all(v > 0 for v in zu15.peak_by_config.values())
    assert len(platforms.platforms) >= 19


def test_user_catalog_adds_a_platform(tmp_path):
    extra = tmp_path / "mine.yaml"
    extra.write_text("- id: my-box\n  name: My box\n  kind: cpu\n  aliases: [demo-host]\n  peak_gops: {fp32: 200}\n")
    platforms = catalog.load([extra])
    assert platforms.find("DEMO-HOST").peak("fp32") == 200
    extra.write_text("- name: no id\n")
    with pytest.raises(catalog.CatalogError, match=r"mine\.yaml, item 1: every platform needs"):
        catalog.load([extra])
