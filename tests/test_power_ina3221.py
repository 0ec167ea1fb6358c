"""--power ina3221: the Jetson's INA3221 monitors read from sysfs trees laid out as on real boards
(JetPack 4's IIO driver, JetPack 5/6's hwmon one), the board's total chosen by the board table."""

from __future__ import annotations

import time

import pytest

import jetson_sysfs
from test_power import sampler_for
from vedliot_runner.errors import UsageError


@pytest.mark.parametrize("board", jetson_sysfs.boards())
def test_each_board_family_sums_its_total_input(tmp_path, board):
    watts = jetson_sysfs.build(tmp_path, board)
    sampler = sampler_for(f"ina3221:root={tmp_path},interval_ms=20")
    sampler.start()
    time.sleep(0.1)
    sampler.stop()
    record = sampler.to_record(None)
    layout = jetson_sysfs.LAYOUTS[board]
    assert record.summed == layout["total_rails"]
    assert set(record.rails) == set(watts)  # NC, disabled channels and the shunt sum are not rails
    for rail, value in watts.items():
        assert record.samples.values[rail] and all(v == pytest.approx(value) for v in record.samples.values[rail])
    assert record.details["driver"] == layout["driver"]


def test_the_real_orin_nx_capture_reads_as_6_65_watts(tmp_path):
    """in1_input 5072 mV x curr1_input 1312 mA (a real Orin NX, JetPack 5)."""
    jetson_sysfs.build(tmp_path, "orin-nx-jp5")
    sampler = sampler_for(f"ina3221:root={tmp_path},interval_ms=20")
    sampler.start()
    sampler.stop()
    assert sampler.to_record(None).samples.values["VDD_IN"][0] == pytest.approx(5.072 * 1.312)


def test_no_monitor_says_what_to_mount(tmp_path):
    with pytest.raises(UsageError, match=r"no INA3221 power monitor under .*-v /sys:/host/sys:ro"):
        sampler_for(f"ina3221:root={tmp_path}").start()


def test_unreadable_files_say_so(tmp_path):
    jetson_sysfs.build(tmp_path, "orin-nx-jp5")
    (next(tmp_path.glob("sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon3")) / "curr1_input").unlink()
    with pytest.raises(UsageError, match=r"cannot read .*curr1_input"):
        sampler_for(f"ina3221:root={tmp_path}").start()


def test_rails_option_overrides_the_table(tmp_path):
    watts = jetson_sysfs.build(tmp_path, "agx-orin-jp6")
    sampler = sampler_for(f"ina3221:root={tmp_path},rails=VDD_GPU_SOC")
    sampler.start()
    sampler.stop()
    record = sampler.to_record(None)
    assert record.summed == ["VDD_GPU_SOC"] and "VDDQ_VDD2_1V8AO" in watts
    with pytest.raises(UsageError, match="VDD_IN not among"):
        sampler_for(f"ina3221:root={tmp_path},rails=VDD_IN").start()
