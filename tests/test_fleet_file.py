"""fleet.yaml: what a fleet file says, and one clear line for each way of getting it wrong. The runs
themselves need Docker engines: scripts/images_test.py runs a fleet over two real engines, one of
them stopped mid-fleet, and resumes it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vedliot_aggregator.fleet import failure_record
from vedliot_aggregator.fleet_file import Device, FleetFileError, load
from vedliot_aggregator.schema import problems

from conftest import REPO

EXAMPLE = """\
defaults:
  args: [--quick]
devices:
  orin:
    engine: ssh://bench@orin.lab
    image: vedliot/bench-jetson:latest
    runtime: nvidia
    gpus: all
    args: --quick --models resnet50
  hailo:
    engine: lab-hailo
    image: vedliot/bench-hailo:latest
    devices: [/dev/hailo0]
    volumes: [/data/imagenet:/data/imagenet:ro]
    env: {TZ: UTC, ITERATIONS: 3}
  server:
    image: vedliot/bench-x86-openvino:latest
"""


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_fleet_file_reads_into_devices(tmp_path):
    fleet = load(_file(tmp_path, EXAMPLE))
    orin, hailo, server = fleet.devices
    assert orin == Device(name="orin", image="vedliot/bench-jetson:latest", engine="ssh://bench@orin.lab",
                          runtime="nvidia", gpus="all", args=("--quick", "--models", "resnet50"))  # fmt: skip
    assert hailo.engine == "lab-hailo" and hailo.devices == ("/dev/hailo0",) and hailo.args == ("--quick",)
    assert hailo.env == (("ITERATIONS", "3"), ("TZ", "UTC"))
    assert server.engine is None and server.container == "vedliot-fleet-server"
    # A changed entry is a new run, not a resume.
    assert orin.fingerprint() != Device(**{**orin.__dict__, "args": ("--quick",)}).fingerprint()
    assert orin.fingerprint() == load(_file(tmp_path, EXAMPLE)).devices[0].fingerprint()


def test_the_readme_example_is_a_valid_fleet_file(tmp_path):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("```yaml\n# fleet.yaml", 1)[1].split("```", 1)[0]
    fleet = load(_file(tmp_path, "# fleet.yaml" + block))
    assert len(fleet.devices) >= 2


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("devices: [a, b]\n", "expected `devices:` mapping"),
        ("devices:\n  a:\n    engine: x\n", "devices.a: no `image:`"),
        ("devices:\n  a:\n    image: i\n    gpu: all\n", "unknown key 'gpu'"),
        ("devices:\n  a/b:\n    image: i\n", "device name 'a/b'"),
        ("devices:\n  a:\n    image: i\n    gpus: most\n", "not a --gpus value"),
        ("devices:\n  a:\n    image: i\n    devices: {x: 1}\n", "devices.a.devices: expected a list"),
        ("devices:\n  a:\n    image: i\n  a:\n    image: j\n", "'a' given twice"),
        ("devices:\n  a:\n    image: i\n    privileged: maybe\n", "privileged: expected true or false"),
        ("devices:\n  a:\n    image: i\nboards: 1\n", "unknown top-level key 'boards'"),
        ("devices:\n  a: [\n", "not valid YAML"),
    ],
)
def test_mistakes_name_the_file_and_the_key(tmp_path, text, says):
    path = _file(tmp_path, text)
    with pytest.raises(FleetFileError) as raised:
        load(path)
    assert str(path) in str(raised.value) and says in str(raised.value)


def test_the_command_gives_one_line_for_a_bad_file(tmp_path):
    path = _file(tmp_path, "devices:\n  a:\n    image: i\n    gpu: all\n")
    done = subprocess.run([sys.executable, "-m", "vedliot_aggregator", "fleet", "run", str(path), "--into",
                           str(tmp_path / "out")], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "unknown key 'gpu'" in done.stderr.strip().splitlines()[-1]
    missing = subprocess.run([sys.executable, "-m", "vedliot_aggregator", "fleet", "run", str(tmp_path / "no.yaml")],
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 2 and "cannot read it" in missing.stderr and "Traceback" not in missing.stderr


def test_a_device_that_did_not_run_leaves_a_valid_failed_record(tmp_path):
    device = load(_file(tmp_path, EXAMPLE)).devices[0]
    record = failure_record(device, "ssh://bench@orin.lab: cannot reach the Docker engine", "2026-12-02T12:00:00Z")
    assert problems(record) == []
    assert record["status"] == "failed" and record["target"] == {
        "name": "orin", "image": "vedliot/bench-jetson:latest", "image_digest": None, "power_mode": None}  # fmt: skip
    assert record["host"]["hostname"] == "orin.lab" and "cannot reach" in record["error"]["message"]


def test_device_flags_become_docker_run_options(tmp_path):
    """As `docker run --runtime nvidia --gpus all --device /dev/hailo0` would send them (docker-py's
    DeviceRequest is the API's DeviceRequests entry; the engine test sees a real engine refuse an
    unknown runtime)."""
    docker = pytest.importorskip("docker")
    from vedliot_aggregator.fleet import _run_options

    orin, hailo, _ = load(_file(tmp_path, EXAMPLE)).devices
    options = _run_options(orin, "sha256:abc")
    assert options["runtime"] == "nvidia" and options["name"] == "vedliot-fleet-orin"
    assert options["device_requests"] == [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]
    assert options["environment"] == {"VEDLIOT_RESULTS_MOUNT": "", "VEDLIOT_IMAGE_DIGEST": "sha256:abc"}
    assert options["command"] == ["--quick", "--models", "resnet50"]
    options = _run_options(hailo, "")
    assert options["devices"] == ["/dev/hailo0:/dev/hailo0:rwm"] and "runtime" not in options
    assert options["volumes"] == ["/data/imagenet:/data/imagenet:ro"]
    assert options["environment"]["TZ"] == "UTC"
    two = Device(name="two", image="i", gpus="device=0,1")
    assert _run_options(two, "")["device_requests"] == [
        docker.types.DeviceRequest(device_ids=["0", "1"], capabilities=[["gpu"]])]  # fmt: skip
