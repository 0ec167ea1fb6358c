"""The `vedliot-runner` console script. SIGINT/SIGTERM handlers go in first, before numpy and
the runtimes are imported: a signal during those imports is then one clear line and exit 130,
not a KeyboardInterrupt traceback or a silent exit 143. (Only the interpreter's own start-up,
before this module runs, is out of reach.)"""

from __future__ import annotations


def main() -> int:
    from vedliot_runner import interrupt

    interrupt.catch_early()
    from vedliot_runner.cli import console

    return console()
