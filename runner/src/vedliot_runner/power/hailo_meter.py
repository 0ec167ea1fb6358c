"""The Hailo power meter's own process: `python -m vedliot_runner.power.hailo_meter`.

Hailo's power tutorial measures "in a different process than the one that performs the actual
inference"; the sampler starts this one and reads its lines. It opens the device's control
(Device(id).control, which works beside the backend's VDevice), starts HailoRT's buffered
measurement, and every interval reads and clears the buffer: the average watts since the last
read, stamped at the middle of that interval on CLOCK_MONOTONIC (the same clock in every process).

Lines on stdout, one JSON object each: {"ready": {...}} once set up, or {"fatal": "..."} and exit 2;
then {"t_ns": N, "w": W} per reading and {"error": "..."} per failed read. It stops, and stops the
measurement, when stdin closes (its parent ended) or on SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from typing import Optional


def _say(**message) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _open(hp, device: Optional[str], period_us: int, averaging: int):
    handle = hp.Device(device) if device else hp.Device()
    control = handle.control
    control.stop_power_measurement()  # clears what an earlier process left
    control.set_power_measurement(
        buffer_index=hp.MeasurementBufferIndex.MEASUREMENT_BUFFER_INDEX_0,
        dvm=hp.DvmTypes.AUTO,
        measurement_type=hp.PowerMeasurementTypes.POWER,
    )
    control.start_power_measurement(
        averaging_factor=getattr(hp.AveragingFactor, "AVERAGE_{}".format(averaging)),
        sampling_period=getattr(hp.SamplingPeriod, "PERIOD_{}us".format(period_us)),
    )
    return handle, control


def _loop(hp, control, interval_s: float, stop: threading.Event) -> None:
    last = time.monotonic_ns()
    while not stop.wait(interval_s):
        try:
            data = control.get_power_measurement(
                buffer_index=hp.MeasurementBufferIndex.MEASUREMENT_BUFFER_INDEX_0, should_clear=True
            )
        except Exception as exc:  # noqa: BLE001 - HailoRT's errors; reported, the meter goes on
            _say(error="HailoRT: {}".format(exc))
            continue
        now = time.monotonic_ns()
        middle, last = (last + now) // 2, now
        if data.total_number_of_samples:  # no new sensor value since the last read otherwise
            _say(t_ns=middle, w=float(data.average_value))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="hailo_meter")
    parser.add_argument("--device")
    parser.add_argument("--period-us", type=int, required=True)
    parser.add_argument("--averaging", type=int, required=True)
    parser.add_argument("--interval-s", type=float, required=True)
    args = parser.parse_args(argv)
    try:
        import hailo_platform as hp
    except ImportError:
        _say(fatal="HailoRT's Python package (hailo_platform) is not installed")
        return 2
    try:
        handle, control = _open(hp, args.device, args.period_us, args.averaging)
    except Exception as exc:  # noqa: BLE001 - no device, no sensor: said to the parent in one line
        _say(fatal="{} ({})".format(exc, type(exc).__name__))
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    _say(ready={"device": getattr(handle, "device_id", None) or args.device})
    try:
        _loop(hp, control, args.interval_s, stop)
    finally:
        for action in (control.stop_power_measurement, handle.release):
            try:
                action()
            except Exception:  # noqa: BLE001 - closing must not hide what happened
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
