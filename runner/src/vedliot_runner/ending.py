"""How a run ended, told from what the worker reported or from how its process died: the record's
status and error, the exit code and the one line the user reads."""

from __future__ import annotations

import re
from typing import Optional

from vedliot_runner.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNTIME, EXIT_UNSUPPORTED
from vedliot_runner.protocol import Failure, Finished
from vedliot_runner.record import ErrorInfo
from vedliot_runner.supervisor import GRACE_S, WorkerReport

_SIGNAL_MEANING = {
    "SIGSEGV": "segmentation fault",
    "SIGBUS": "bus error",
    "SIGABRT": "abort: a library called abort()",
    "SIGFPE": "arithmetic exception",
    "SIGILL": "illegal instruction: built for another CPU?",
    "SIGKILL": "killed",
}


class Ending:
    """The record's status and error, the exit code, and the line for stderr (`line`, when the
    record keeps a longer message than the terminal needs)."""

    def __init__(
        self, status: str, exit_code: int, error: Optional[ErrorInfo] = None, line: Optional[str] = None
    ) -> None:
        self.status = status
        self.exit_code = exit_code
        self.error = error
        self.line = line

    @property
    def message(self) -> Optional[str]:
        if self.line is not None:
            return self.line
        return self.error.message if self.error is not None else None


def first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else text.strip()


def unsupported(message: str) -> Ending:
    return Ending("unsupported", EXIT_UNSUPPORTED, ErrorInfo("BackendNotInstalled", message, "setup"))


def interrupted_before_worker(reason: Optional[str]) -> Ending:
    message = "stopped by {} before the model was loaded".format(reason or "a signal")
    return Ending("interrupted", EXIT_INTERRUPTED, ErrorInfo("Interrupted", message, "setup"))


def _iterations(report: WorkerReport) -> int:
    finished = report.finished
    if finished is not None and finished.timing is not None:
        return finished.timing.iterations
    return len(report.streamed)


def _from_failure(failure: Failure, finished: Finished, backend: str, accuracy: bool) -> Ending:
    """The record keeps the backend's whole message; the terminal gets its first line, placed."""
    error = ErrorInfo(failure.type, failure.message, failure.stage)
    if finished.timing is None or failure.stage in ("setup", "load", "inputs"):
        return Ending(failure.status, failure.exit_code, error)
    line = first_line(failure.message)
    if accuracy and finished.evaluation is not None:
        line = "{} after {} samples: {}".format(failure.stage, finished.evaluation.samples_done, line)
    else:
        line = "{} failed during {}: {}".format(backend, failure.stage, line)
    return Ending(failure.status, failure.exit_code, error, line)


def _stopped(report: WorkerReport, reason: Optional[str], timeout_s: Optional[float], accuracy: bool) -> Ending:
    finished = report.finished
    stage = (finished.timing.stopped_in if finished and finished.timing else None) or report.stage
    if accuracy and finished is not None and finished.evaluation is not None:
        done = "after {} samples".format(finished.evaluation.samples_done)
    else:
        done = "after {} timed iterations".format(_iterations(report))
    if report.ended_by == "timeout":
        message = "exceeded --timeout {:g} s during {}; stopped {}".format(timeout_s, stage, done)
        return Ending("failed", EXIT_RUNTIME, ErrorInfo("Timeout", message, stage))
    message = "stopped by {} during {} {}".format(reason or "a signal", stage, done)
    return Ending("interrupted", EXIT_INTERRUPTED, ErrorInfo("Interrupted", message, stage))


_GLOG = re.compile(r"[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] ")


def _died(report: WorkerReport, reason: Optional[str], timeout_s: Optional[float]) -> Ending:
    stage = report.stage
    kept = "{} timed iterations kept".format(len(report.streamed))
    if report.ended_by == "second signal":
        message = "stopped by {} during {}; a second signal killed the worker ({})".format(
            reason or "a signal", stage, kept
        )
        return Ending("interrupted", EXIT_INTERRUPTED, ErrorInfo("Interrupted", message, stage, report.signal))
    if report.ended_by == "timeout":
        message = (
            "exceeded --timeout {:g} s during {}; the worker did not stop within {:g} s and was killed ({})".format(
                timeout_s, stage, GRACE_S, kept
            )
        )
        return Ending("failed", EXIT_RUNTIME, ErrorInfo("Timeout", message, stage, report.signal))
    if report.signal is not None:
        cause = _SIGNAL_MEANING.get(report.signal, "signal")
        if report.signal == "SIGKILL":
            cause = (
                "killed by the kernel's out-of-memory killer"
                if report.oom_killed
                else ("killed; the kernel's out-of-memory killer sends SIGKILL")
            )
        message = "the worker process died from {} ({}) during {}".format(report.signal, cause, stage)
        kind = "WorkerCrashed"
    else:
        message = "the worker process exited with code {} during {} without a result".format(report.exit_code, stage)
        kind = "WorkerExited"
    if report.peak_rss_bytes:
        message += "; peak RSS {:.0f} MB".format(report.peak_rss_bytes / 1e6)
    tail = [line for line in report.output_tail if line.strip()]
    # a vendor library that ends the process through glog (Vitis AI) says why in its FATAL line
    fatal = [k for k, line in enumerate(tail) if _GLOG.match(line.strip()) and line.strip().startswith("F")]
    if fatal:  # the warning glog printed just before it often names the cause (VART's fingerprints)
        k = fatal[-1]
        lines = [tail[k - 1]] if k and _GLOG.match(tail[k - 1].strip()) else []
        message += '; its last output: "{}"'.format(" / ".join(x.strip()[:300] for x in [*lines, tail[k]]))
    elif tail:
        message += '; its last output: "{}"'.format(tail[-1].strip()[:300])
    return Ending("failed", EXIT_RUNTIME, ErrorInfo(kind, message, stage, report.signal))


def ending_of(
    report: WorkerReport, reason: Optional[str], timeout_s: Optional[float], backend: str, accuracy: bool
) -> Ending:
    """The ending of a run whose worker has exited. `reason`: the signal that stopped the run."""
    finished = report.finished
    if finished is None:
        return _died(report, reason, timeout_s)
    if finished.failure is not None:
        return _from_failure(finished.failure, finished, backend, accuracy)
    timing = finished.timing
    if (timing is not None and timing.interrupted) or report.ended_by is not None:
        return _stopped(report, reason, timeout_s, accuracy)
    return Ending("ok", EXIT_OK)
