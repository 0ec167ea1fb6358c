"""--power hwmon: any board's INA2xx/INA3221 monitors through /sys/class/hwmon, on trees laid out as
the kernel does (tests/hwmon_sysfs.py), with the report's boards' presets (hwmon_boards.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from hwmon_sysfs import Chip, build
from test_power import sampler_for
from vedliot_runner.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
ZCU102 = [("u76", 0.40), ("u77", 0.20), ("u78", 0.30), ("u87", 0.05), ("u85", 0.10), ("u86", 0.05), ("u93", 0.25),
          ("u88", 0.15), ("u15", 0.05), ("u92", 0.02), ("u79", 3.50), ("u81", 0.30), ("u80", 0.60), ("u84", 0.20),
          ("u16", 0.50), ("u65", 0.70), ("u74", 0.30), ("u75", 0.20)]  # fmt: skip


def _sampled(spec: str):
    sampler = sampler_for(spec)
    sampler.start()
    time.sleep(0.1)
    sampler.stop()
    return sampler.to_record(None)


def test_zcu102_preset_names_the_rails_and_sums_ps_pl_and_transceivers(tmp_path):
    build(tmp_path, [Chip("ina226_" + u, 2 + (i >= 10), 0x40 + i % 10, (w,), "iio") for i, (u, w) in enumerate(ZCU102)],
          model="ZynqMP ZCU102 RevB", compatible=("xlnx,zynqmp-zcu102-rev1.0", "xlnx,zynqmp"))  # fmt: skip
    record = _sampled(f"hwmon:root={tmp_path},interval_ms=20")
    assert "VCCINT" in record.rails and len(record.rails) == 18 and len(record.summed) == 15
    assert not {"VADJ_FMC", "VCCOPS", "VCCOPS3"} & set(record.summed)
    assert record.samples.values["VCCINT"][0] == pytest.approx(3.5)  # iio-hwmon's power1: whole mW x 1000
    assert record.details["rule"]["board"] == "zcu102" and record.details["chips"] == sorted(
        "ina226_" + u for u, _ in ZCU102
    )
    assert record.averaging == "instant"  # the iio bridge has no update_interval


def test_vck190_multiplies_vccint_by_six_and_names_chips_by_address(tmp_path):
    rails = [(1, 0x40, 4.0), (1, 0x41, 2.0), (3, 0x40, 0.5), (3, 0x47, 1.0)]  # VCCINT, VCC_SOC, VCCAUX, VCC3V3
    build(tmp_path, [Chip("ina226", bus + 2, address, (w,)) for bus, address, w in rails],
          model="Xilinx Versal vck190 Eval board revA")  # fmt: skip
    record = _sampled(f"hwmon:root={tmp_path},interval_ms=20")
    assert record.rails == ["ina226@3-0040", "ina226@3-0041", "ina226@5-0040", "ina226@5-0047"]
    assert record.details["scale"] == {"ina226@3-0040": 6.0}
    assert record.samples.values["ina226@3-0040"][0] == pytest.approx(24.0)
    assert record.samples.values["ina226@5-0040"][0] == pytest.approx(0.5)
    assert record.summed == record.rails and record.averaging == "sensor:0.035"  # the driver's update_interval


def test_a_jetson_through_hwmon_sums_as_tegrastats_does(tmp_path):
    build(tmp_path, [Chip("ina3221", 1, 0x40, (6.6, 1.2, 2.0), "ina3221", ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"))],
          compatible=("nvidia,p3509-0000+p3767-0000", "nvidia,tegra234"))  # fmt: skip
    record = _sampled(f"hwmon:root={tmp_path},interval_ms=20")
    assert record.rails == ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"] and record.summed == ["VDD_IN"]
    assert record.samples.values["VDD_IN"][0] == pytest.approx(6.6, rel=1e-3)  # mV x mA


def test_any_other_board_sums_every_rail_and_options_override(tmp_path):
    build(tmp_path, [Chip("ina219", 0, 0x40, (2.0,)), Chip("ina219", 0, 0x41, (3.0,)), Chip("lm75", 0, 0x48)])
    record = _sampled(f"hwmon:root={tmp_path},interval_ms=20")
    assert record.rails == ["ina219@0-0040", "ina219@0-0041"] and record.details["rule"]["source"] == "fallback"
    record = _sampled(f"hwmon:root={tmp_path},rails=ina219@0-0041,scale=ina219@0-0041=2,chips=ina219")
    assert record.summed == ["ina219@0-0041"] and record.samples.values["ina219@0-0041"][0] == pytest.approx(6.0)


def test_a_chip_label_names_the_rail(tmp_path):
    build(tmp_path, [Chip("ina260", 1, 0x40, (4.5,), label="ina260-u14")], compatible=("xlnx,zynqmp-sk-kv260-revB",))
    record = _sampled(f"hwmon:root={tmp_path}")
    assert record.rails == ["VCC_SOM"] and "carrier card is not included" in record.details["rule"]["scope"]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("hwmon:root={root}/none", r"no hwmon power monitor named ina2\*\|ina3221\|ina260 under .*/sys/class/hwmon"),
        ("hwmon:root={root},rails=VDD_GPU", r"rail\(s\) VDD_GPU not found; this board has ina226$"),
        ("hwmon:root={root},board=zcu104,scale=x", r"scale=x: expected RAIL=FACTOR"),
        ("hwmon:root={root},board=zcu999", r"board=zcu999: choose from auto, none, jetson, kv260"),
    ],
)
def test_bad_options_and_missing_sensors_are_one_line(tmp_path, spec, message):
    build(tmp_path, [Chip("ina226", 2, 0x40)])
    with pytest.raises(UsageError, match=message):
        sampler_for(spec.format(root=tmp_path)).start()


def test_a_sensor_that_disappears_mid_run_is_recorded_and_sampling_goes_on(tmp_path):
    (first, _) = build(tmp_path, [Chip("ina226", 2, 0x40), Chip("ina226", 2, 0x41)])
    sampler = sampler_for(f"hwmon:root={tmp_path},interval_ms=10")
    sampler.start()
    time.sleep(0.05)
    (first / "power1_input").unlink()
    time.sleep(0.05)
    sampler.stop()
    record = sampler.to_record(None)
    assert record.errors and "power1_input" in record.errors[0].message


def test_an_unreadable_sensor_file_is_one_line_naming_it():
    """Run as an unprivileged user where the tests run as root (root reads any file)."""
    root = Path(tempfile.mkdtemp(prefix="vedliot-hwmon-"))
    os.chmod(root, 0o755)
    (folder,) = build(root, [Chip("ina226", 2, 0x40)])
    (folder / "power1_input").chmod(0o000)
    code = ("import sys; from vedliot_runner.power import sampler_for\n"
            "try:\n    sampler_for(sys.argv[1]).start()\nexcept Exception as exc:\n    print(exc)")  # fmt: skip
    command = [sys.executable, "-c", code, f"hwmon:root={root}"]
    if os.geteuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    env = {**os.environ, "PYTHONPATH": str(REPO / "runner" / "src")}
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert "cannot read" in out.stdout and "power1_input (Permission denied): run as root" in out.stdout, out
