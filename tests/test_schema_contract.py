"""schema/result.schema.json is the contract: the runner's records satisfy it, and it refuses
records that break it."""

from __future__ import annotations

import copy
import dataclasses
import filecmp
import json

import pytest

from vedliot_aggregator.schema import problems, result_schema
from vedliot_runner import record as record_module

from conftest import QUICK, REPO


@pytest.fixture(scope="module")
def good_record(model_dir, tmp_path_factory):
    from vedliot_runner.cli import main

    out = tmp_path_factory.mktemp("contract")
    assert (
        main(
            [
                "run",
                "--model",
                str(model_dir / "tiny.onnx"),
                "--backend",
                "onnxruntime",
                *QUICK,
                "--output",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    (path,) = out.glob("*.json")
    return json.loads(path.read_text())


def test_packaged_schema_is_the_contract_file():
    from importlib import resources

    packaged = resources.files("vedliot_aggregator").joinpath("result.schema.json")
    assert filecmp.cmp(str(packaged), REPO / "schema" / "result.schema.json", shallow=False)


def test_runner_record_is_valid(good_record):
    assert problems(good_record) == []
    assert good_record["status"] == "ok" and good_record["error"] is None


@pytest.mark.parametrize("field", ["run_id", "status", "timing", "model", "host", "precision"])
def test_missing_required_field_is_rejected(good_record, field):
    broken = copy.deepcopy(good_record)
    del broken[field]
    assert any(field in p for p in problems(broken))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("config", "batch_size"), "8"),
        (("config", "batch_size"), 0),
        (("timing", "samples_ns"), [1.5, 2.0]),
        (("status",), "done"),
        (("run_id",), "not-a-uuid"),
        (("model", "sha256"), "abc"),
        (("precision", "effective"), "float"),
        (("started_at",), "yesterday"),
    ],
)
def test_wrong_type_or_value_is_rejected(good_record, path, value):
    broken = copy.deepcopy(good_record)
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert problems(broken), f"{path}={value!r} should be refused"


def test_ok_record_must_not_carry_an_error_and_failed_must(good_record):
    ok_with_error = copy.deepcopy(good_record)
    ok_with_error["error"] = {"type": "X", "message": "y", "stage": "timed"}
    assert problems(ok_with_error)
    failed_without = copy.deepcopy(good_record)
    failed_without["status"] = "failed"
    assert problems(failed_without)


def test_unknown_top_level_field_is_rejected(good_record):
    extra = dict(good_record, gops=12.3)
    assert problems(extra), "derived metrics belong to the aggregator, not the record"


def test_dataclasses_and_schema_name_the_same_fields():
    schema = result_schema()
    defs = schema["$defs"]
    power, accuracy = defs["power"]["properties"], defs["accuracy"]["properties"]
    predictions = accuracy["predictions"]["oneOf"]
    pairs = [
        (record_module.Record, schema),
        (record_module.HostInfo, schema["properties"]["host"]),
        (record_module.ModelInfo, schema["properties"]["model"]),
        (record_module.RunConfig, schema["properties"]["config"]),
        (record_module.Timing, defs["timing"]),
        (record_module.Precision, schema["properties"]["precision"]),
        (record_module.Target, schema["properties"]["target"]),
        (record_module.Software, schema["properties"]["software"]),
        (record_module.ErrorInfo, schema["properties"]["error"]["oneOf"][1]),
        (record_module.Memory, schema["properties"]["memory"]["oneOf"][1]),
        (record_module.PowerSection, defs["power"]),
        (record_module.IdlePeriod, power["idle"]["oneOf"][1]),
        (record_module.PowerSamples, power["samples"]),
        (record_module.SensorErrorInfo, power["errors"]["items"]),
        (record_module.PowerValidity, power["validity"]),
        (record_module.AccuracySection, defs["accuracy"]),
        (record_module.DatasetIdentity, accuracy["dataset"]),
        (record_module.ClassificationPredictions, predictions[1]),
        (record_module.DetectionPredictions, predictions[2]),
    ]
    for cls, part in pairs:
        fields = {f.name for f in dataclasses.fields(cls)}
        declared = set(part["properties"])
        # The schema may describe fields only published/imported records use (timing.summary).
        assert fields <= declared, f"{cls.__name__} writes fields the schema lacks: {fields - declared}"
        assert set(part.get("required", [])) <= fields, f"{cls.__name__} cannot fill {set(part['required']) - fields}"


def _accuracy_section():
    return {
        "dataset": {"name": "digits", "split": "val", "kind": "imagenet", "samples": 2, "samples_sha256": "a" * 64},
        "task": "classification",
        "recipe": None,
        "samples_evaluated": 2,
        "padded_samples": 0,
        "predictions": {"sample_ids": ["0/a.png", "1/b.png"], "labels": [0, 1], "top5": [[0, 1], [1, 0]]},
    }


@pytest.mark.parametrize(
    "change, where",
    [
        (lambda a: a["predictions"].pop("labels"), "accuracy"),
        (lambda a: a["predictions"].update(top5=[[0, 1, 2, 3, 4, 5], [1]]), "accuracy"),
        (lambda a: a["dataset"].update(kind="cifar"), "accuracy"),
        (lambda a: a.pop("samples_evaluated"), "accuracy"),
        (lambda a: a.update(predictions={"detections_file": "x.detections.json", "detections": 1}), "accuracy"),
    ],
)
def test_accuracy_section_is_checked(good_record, change, where):
    record = copy.deepcopy(good_record)
    record["config"]["mode"] = "accuracy"
    record["accuracy"] = _accuracy_section()
    assert problems(record) == []
    change(record["accuracy"])
    assert any(p.startswith(f"at {where}") for p in problems(record))


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.update(source="multimeter"),
        lambda p: p.update(kind="current"),
        lambda p: p["samples"].pop("t_ns"),
        lambda p: p["samples"]["values"].update(package=["1.0"]),
        lambda p: p["errors"].append({"message": "no time"}),
    ],
)
def test_power_section_is_checked(good_record, change):
    record = copy.deepcopy(good_record)
    record["power"] = {
        "source": "rapl",
        "kind": "energy",
        "unit": "J",
        "rails": ["package"],
        "summed": ["package"],
        "samples": {"t_ns": [1, 2], "values": {"package": [0.0, 1.5]}},
        "idle": None,
        "errors": [],
        "validity": {"samples": 2},
    }
    assert problems(record) == []
    change(record["power"])
    assert any(p.startswith("at power") for p in problems(record))


def test_long_arrays_are_checked_item_by_item(good_record):
    """Long numeric arrays take a fast path in validation: a bad item deep inside is still found."""
    record = copy.deepcopy(good_record)
    record["timing"]["samples_ns"] = list(range(1, 101))
    assert problems(record) == []
    record["timing"]["samples_ns"][57] = -3
    assert any(p.startswith("at timing/samples_ns/57") for p in problems(record))
    record["timing"]["samples_ns"][57] = 1.5
    assert any(p.startswith("at timing/samples_ns/57") for p in problems(record))


def test_fast_and_reference_validators_agree(good_record):
    """Valid records are accepted by jsonschema-rs without asking jsonschema; both must agree on
    every record, valid or broken, or the fast path would let a broken one through."""
    import jsonschema

    from vedliot_aggregator import schema as schema_module

    fast = schema_module._fast_validator()
    assert fast is not None, "jsonschema-rs is an aggregator dependency"
    reference = jsonschema.validators.validator_for(result_schema())(result_schema())
    cases = [copy.deepcopy(good_record) for _ in range(8)]
    cases[1]["timing"]["samples_ns"].append(-1)
    cases[2]["status"] = "failed"
    cases[3]["config"]["mode"] = "sideways"
    cases[4]["precision"]["requested"] = "fp8"
    cases[5]["timing"].pop("window_end_ns")
    cases[6]["power"] = {"source": "published", "kind": "summary", "summary": {"power_w": 3.0}}
    cases[7]["accuracy"] = {"dataset": {}, "task": "classification", "samples_evaluated": 0, "predictions": None}
    for case in cases:
        assert fast.is_valid(case) == reference.is_valid(case), case


def test_aggregator_views_name_the_schema_fields():
    """The aggregator's typed loader (records.py) reads exactly the fields the schema has."""
    from vedliot_aggregator import records

    schema = result_schema()
    defs = schema["$defs"]
    pairs = [
        (records.Record, schema),
        (records.Timing, defs["timing"]),
        (records.Power, defs["power"]),
        (records.PowerSummary, defs["power_summary"]),
        (records.Accuracy, defs["accuracy"]),
        (records.Dataset, defs["accuracy"]["properties"]["dataset"]),
        (records.Config, schema["properties"]["config"]),
        (records.Model, schema["properties"]["model"]),
        (records.Memory, schema["properties"]["memory"]["oneOf"][1]),
    ]
    for cls, part in pairs:
        fields = {f.name for f in dataclasses.fields(cls)}
        assert fields == set(part["properties"]), f"{cls.__name__}: {fields ^ set(part['properties'])}"


V1 = REPO / "tests" / "data" / "records-v1"


def test_records_of_schema_1_are_migrated_read_and_measured():
    """Records written by the schema-1 runner (tests/data/records-v1): validate accepts them,
    collect migrates them, and the metrics are those the schema-1 aggregator computed."""
    from vedliot_aggregator import catalog, metrics
    from vedliot_aggregator.collect import collect
    from vedliot_aggregator.schema import check_file

    files = sorted(V1.glob("*.json"))
    assert len(files) == 9 and all(json.loads(p.read_text())["schema"] == "vedliot-bench/result/1" for p in files)
    assert all(check_file(p).ok for p in files)
    collection = collect([V1])
    assert len(collection.records) == 9 and collection.migrated == 9 and not collection.skipped
    by_id = {item.record.run_id[:8]: item.record for item in collection.records}
    assert by_id["332a6004"].memory.scope == "process" and by_id["72b8ebf4"].power.source == "rapl"
    assert by_id["ea9e49cd"].status == "interrupted" and by_id["577123a8"].accuracy.samples_evaluated == 40
    table = metrics.frame(collection, catalog.load([])).set_index("run_id")
    rapl = table.loc[by_id["72b8ebf4"].run_id]
    assert rapl["power_w"] == pytest.approx(22.0, rel=0.05)  # the powercap tree ran at 20 W + 2 W
    assert "memory peak of the whole runner process" in rapl["warnings"]
    assert table.loc[by_id["577123a8"].run_id]["top1"] == pytest.approx(100.0)  # 40 of 40, as recorded


def test_runner_record_round_trips_through_the_typed_loader(good_record):
    from vedliot_aggregator import records

    loaded = records.load(good_record)
    assert loaded.run_id == good_record["run_id"] and loaded.timing.samples_ns == good_record["timing"]["samples_ns"]
    assert loaded.config.backend_options["graph_optimization_level"] == "all"
    assert loaded.memory.scope == "worker" and loaded.power is None and loaded.accuracy is None
