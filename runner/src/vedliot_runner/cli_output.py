"""What the CLI shows at the terminal: the progress line, and a run's summary as text or JSON.
The aggregator computes the report's metrics; this is only a first look."""

from __future__ import annotations

import sys
from typing import Dict

from vedliot_runner.record import ClassificationPredictions, DetectionPredictions, Record
from vedliot_runner.run import RunOutcome
from vedliot_runner.stats import summarize
from vedliot_runner.suite import topk_percent


class ProgressLine:
    """A one-line progress display on stderr, only when stderr is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.shown = False

    def __call__(self, stage: str, elapsed: float, iterations: int, min_seconds: float, min_iterations: int) -> None:
        if not self.enabled:
            return
        done = min(1.0, elapsed / min_seconds if min_seconds > 0 else 1.0, iterations / max(min_iterations, 1))
        bar = "#" * int(done * 20)
        if stage == "warmup":
            line = "warming up..."
        elif stage == "tuning":
            line = "tuning {:5.0f}s {:6d} trials [{:<20}] {:3.0%}".format(elapsed, iterations, bar, done)
        elif stage == "accuracy":
            line = "accuracy {:6d}/{} samples [{:<20}] {:3.0%}".format(iterations, min_iterations, bar, done)
        else:
            line = "timed {:5.1f}s {:6d} it  [{:<20}] {:3.0%}".format(elapsed, iterations, bar, done)
        sys.stderr.write("\r" + line + " " * 8)
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 70 + "\r")
            sys.stderr.flush()
            self.shown = False


def summary(outcome: RunOutcome) -> Dict[str, object]:
    record = outcome.record
    timing = record.timing
    stats: Dict[str, float] = {}
    if timing is not None and timing.samples_ns and timing.window_start_ns is not None:
        stats = summarize(timing.samples_ns, timing.inferences, timing.window_end_ns - timing.window_start_ns)
    return {
        **accuracy_summary(record),
        "record": str(outcome.path),
        "run_id": record.run_id,
        "status": record.status,
        "error": outcome.message,
        "model": record.model.name,
        "backend": record.software.backend.name,
        "precision_requested": record.precision.requested,
        "precision_effective": record.precision.effective,
        "batch_size": record.config.batch_size,
        "mode": record.config.mode,
        "first_inference_ms": timing.first_inference_ms if timing else None,
        "peak_rss_mb": record.memory.peak_rss_bytes / 1e6 if record.memory and record.memory.peak_rss_bytes else None,
        **stats,
    }


def accuracy_summary(record: Record) -> Dict[str, object]:
    """A first look at an accuracy run (the aggregator scores it against its reference)."""
    section = record.accuracy
    if section is None:
        return {}
    out: Dict[str, object] = {"dataset": section.dataset.name, "samples": section.samples_evaluated}
    predictions = section.predictions
    if isinstance(predictions, ClassificationPredictions) and predictions.labels:
        out["top1_percent"], out["top5_percent"] = topk_percent(predictions)
    if isinstance(predictions, DetectionPredictions):
        out["detections"] = predictions.detections
        out["detections_file"] = predictions.detections_file
    timing = record.timing
    if timing is not None and timing.preprocess_samples_ns:
        for key, samples in (
            ("preprocess_mean_ms", timing.preprocess_samples_ns),
            ("postprocess_mean_ms", timing.postprocess_samples_ns or [0]),
        ):
            out[key] = sum(samples) / len(samples) / 1e6
    return out


def print_summary(summary: Dict[str, object]) -> None:
    print("record: {}".format(summary["record"]))
    print(
        "{status}: {model} on {backend}, {precision_requested} (effective {precision_effective}), "
        "batch {batch_size}, {mode}".format(**summary)
    )
    if "samples" in summary:
        scored = ""
        if "top1_percent" in summary:
            scored = ": top-1 {top1_percent:.2f}%, top-5 {top5_percent:.2f}%".format(**summary)
        elif "detections" in summary:
            scored = ": {detections} detections in {detections_file}".format(**summary)
        print("  {} samples of {}{}".format(summary["samples"], summary["dataset"], scored))
        if "mean_ms" in summary and "preprocess_mean_ms" in summary:
            print(
                "  per batch: preprocess {preprocess_mean_ms:.3f} ms  inference {mean_ms:.3f} ms  "
                "postprocess {postprocess_mean_ms:.3f} ms".format(**summary)
            )
        return
    if "mean_ms" in summary:
        print(
            "  mean {mean_ms:.3f} ms  median {median_ms:.3f}  p90 {p90_ms:.3f}  p99 {p99_ms:.3f}  "
            "| {inferences_per_s:.2f} inferences/s over {iterations} iterations".format(**summary)
        )
