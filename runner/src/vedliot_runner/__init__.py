"""vedliot-runner: benchmarks one model on one backend and writes a raw JSON result record."""

__version__ = "0.1.0"
SCHEMA_ID = "vedliot-bench/result/2"
