"""The hailo_platform double (tests/fakes/hailo_platform) against HailoRT's own source: every
signature the backend calls, the exception classes and the status message format, as recorded
from hailo-ai/hailort at v4.17.0, v4.18.0 and v4.23.0 (tests/data/hailort-api/api.json)."""

from __future__ import annotations

import enum
import importlib
import inspect
import json
import sys
from pathlib import Path

import pytest

API = json.loads((Path(__file__).parent / "data" / "hailort-api" / "api.json").read_text())


def _recorded(tag: str) -> list[str]:
    return [
        line.strip().replace('"', "'")
        for entry in API
        if f"@{tag}:" in entry["source"]
        for line in entry["text"].splitlines()
    ]


def _double(version: str, monkeypatch):
    monkeypatch.setenv("VEDLIOT_FAKE_HAILORT_VERSION", version)
    for name in [m for m in sys.modules if m.startswith("hailo_platform")]:
        monkeypatch.delitem(sys.modules, name)
    hp = importlib.import_module("hailo_platform")
    return hp, importlib.import_module("hailo_platform.pyhailort.pyhailort")


CALLED = [
    ("HEF", "__init__"), ("HEF", "get_input_vstream_infos"), ("HEF", "get_output_vstream_infos"),
    ("HEF", "get_network_group_names"), ("VDevice", "__init__"), ("VDevice", "configure"),
    ("VDevice", "get_physical_devices"), ("VDevice", "release"), ("ConfigureParams", "create_from_hef"),
    ("InputVStreamParams", "make"), ("OutputVStreamParams", "make"), ("InferVStreams", "infer"),
    ("ConfiguredNetwork", "activate"), ("Device", "__init__"), ("Device", "scan"), ("Control", "identify"),
    ("Control", "set_power_measurement"), ("Control", "start_power_measurement"),
    ("Control", "stop_power_measurement"), ("Control", "get_power_measurement"),
]  # fmt: skip
INFER_MODEL = [
    ("InferModel", "set_batch_size"), ("InferModel", "input"), ("InferModel", "configure"),
    ("InferModel.InferStream", "set_format_type"), ("ConfiguredInferModel", "create_bindings"),
    ("ConfiguredInferModel", "run"), ("ConfiguredInferModel", "run_async"),
    ("ConfiguredInferModel", "wait_for_async_ready"), ("ConfiguredInferModel", "get_async_queue_size"),
    ("ConfiguredInferModel", "shutdown"), ("AsyncInferJob", "wait"), ("VDevice", "create_infer_model"),
]  # fmt: skip


def _signature_line(module, owner: str, method: str) -> str:
    obj = module
    for part in owner.split("."):
        obj = getattr(obj, part)
    function = inspect.getattr_static(obj, method)
    function = getattr(function, "__func__", function)
    parameters = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind == parameter.KEYWORD_ONLY and "*" not in parameters:
            parameters.append("*")
        default = parameter.default
        if default is parameter.empty:
            parameters.append(parameter.name)
        elif isinstance(default, enum.Enum):  # written as in the source: AveragingFactor.AVERAGE_256
            parameters.append(f"{parameter.name}={type(default).__name__}.{default.name}")
        else:
            parameters.append(f"{parameter.name}={default!r}")
    return f"def {method}({', '.join(parameters)}):".replace('"', "'")


@pytest.mark.parametrize(
    "version, tag, calls", [("4.23.0", "v4.23.0", CALLED + INFER_MODEL), ("4.17.0", "v4.23.0", CALLED)]
)
def test_every_signature_the_backend_calls_is_hailorts(monkeypatch, version, tag, calls):
    _, module = _double(version, monkeypatch)
    recorded = _recorded(tag) + _recorded("v4.17.0")
    missing = []
    for owner, method in calls:
        line = _signature_line(module, owner, method)
        if not any(line == r or (r.endswith(",") and line.startswith(r)) for r in recorded):
            missing.append(f"{owner}.{method}: {line}")
    assert not missing, "double signatures not found in HailoRT's source:\n" + "\n".join(missing)


def test_the_infer_model_api_exists_from_4_18_only(monkeypatch):
    hp, _ = _double("4.17.0", monkeypatch)
    assert not hasattr(hp.VDevice, "create_infer_model")
    hp, _ = _double("4.23.0", monkeypatch)
    assert hasattr(hp.VDevice, "create_infer_model")


@pytest.mark.parametrize("version, tag", [("4.23.0", "v4.23.0"), ("4.17.0", "v4.17.0")])
def test_exception_classes_and_messages_are_hailorts(monkeypatch, version, tag):
    _, module = _double(version, monkeypatch)
    recorded = " ".join(_recorded(tag) + _recorded("v4.23.0" if tag == "v4.17.0" else tag))
    classes = [n for n, c in vars(module).items() if isinstance(c, type) and issubclass(c, module.HailoRTException)]
    for name in classes:
        assert f"class {name}(" in recorded, name
    assert "libhailort failed with error: {} ({})" in " ".join(e["text"] for e in API)
    assert str(module._status(76)) == "libhailort failed with error: 76 (HAILO_INVALID_DRIVER_VERSION)"
    assert "HAILO_STATUS__X(76, HAILO_INVALID_DRIVER_VERSION" in " ".join(e["text"] for e in API)
    if version == "4.23.0":
        assert type(module._status(93)).__name__ == "HailoRTHEFNotCompatibleWithDevice"
    else:
        assert not hasattr(module, "HailoRTHEFNotCompatibleWithDevice")
