"""vedliot-aggregator: collects result records, validates them, computes metrics, renders reports."""

__version__ = "0.1.0"
