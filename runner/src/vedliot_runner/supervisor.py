"""The parent's side of a worker process: start it, feed it its job, follow what it reports,
pass a user's stop on to it, enforce --timeout, and tell how it ended, whatever the ending.

The worker runs in a session of its own, so a Ctrl-C at the terminal reaches the parent only;
the parent forwards it once (the worker then stops after the current inference), and a second
one kills the worker at once. The worker's output is shown on stderr and its last lines kept:
a vendor library that aborts usually says why just before.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import IO, Any, Deque, List, Optional

from vedliot_runner.measure import StopFlag
from vedliot_runner.protocol import (
    Finished,
    Identified,
    Loaded,
    Progress,
    Ready,
    Samples,
    Stage,
    WorkerJob,
    iter_messages,
)

#: after --timeout, the worker gets this long to stop by itself before it is killed
GRACE_S = 5.0
#: a worker that sent its result gets this long to exit
EXIT_WAIT_S = 2.0
_POLL_S = 0.05
_EOF = object()
_TAIL_LINES = 20


@dataclasses.dataclass
class WorkerReport:
    """What the parent learned from one worker."""

    started_ns: int
    stage: str = "setup"
    ready_ns: Optional[int] = None
    identified: Optional[Identified] = None
    loaded: Optional[Loaded] = None
    finished: Optional[Finished] = None
    #: samples streamed while the window was open (a worker that dies keeps these), and the
    #: loop's state with the last of them
    streamed: List[int] = dataclasses.field(default_factory=list)
    last_samples: Optional[Samples] = None
    exit_code: Optional[int] = None
    signal: Optional[str] = None
    #: the worker's peak RSS (VmHWM) as last read from /proc while it ran: what a worker that
    #: dies leaves. (wait4's ru_maxrss will not do: Linux folds the parent's RSS at fork into it.)
    peak_rss_bytes: Optional[int] = None
    output_tail: Deque[str] = dataclasses.field(default_factory=lambda: collections.deque(maxlen=_TAIL_LINES))
    #: "timeout" or "second signal" when the parent ended the worker itself
    ended_by: Optional[str] = None
    #: the kernel's out-of-memory killer struck while the worker ran (cgroup evidence)
    oom_killed: bool = False

    @property
    def worker_start_ms(self) -> Optional[float]:
        return (self.ready_ns - self.started_ns) / 1e6 if self.ready_ns is not None else None


def oom_kills() -> Optional[int]:
    """The OOM-kill counter of this process's memory cgroup (v2 memory.events or v1
    memory.oom_control), None where none is readable."""
    try:
        with open("/proc/self/cgroup", encoding="ascii") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    candidates = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            candidates.append("/sys/fs/cgroup{}/memory.events".format(path.rstrip("/")))
        elif "memory" in controllers.split(","):
            candidates.append("/sys/fs/cgroup/memory{}/memory.oom_control".format(path.rstrip("/")))
    candidates.append("/sys/fs/cgroup/memory.events")
    for candidate in candidates:
        try:
            with open(candidate, encoding="ascii") as handle:
                for line in handle:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


def _pump_messages(stream: IO[bytes], events: queue.Queue[Any]) -> None:
    for message in iter_messages(stream):
        events.put(message)
    events.put(_EOF)


def _pump_output(stream: IO[bytes], tail: Deque[str]) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        tail.append(line)
        try:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def _spawn(job: WorkerJob) -> tuple[subprocess.Popen, IO[bytes]]:
    read_fd, write_fd = os.pipe()
    command = [sys.executable, "-m", "vedliot_runner.worker", str(write_fd), str(os.getpid())]
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
    finally:
        os.close(write_fd)
    try:
        pickle.dump(job, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # the worker died at once; its exit status says why
    return proc, os.fdopen(read_fd, "rb")


class _Watch:
    """The supervision loop's state: what was sent to the worker and when to escalate."""

    def __init__(self, proc: subprocess.Popen, report: WorkerReport, timeout_s: Optional[float]) -> None:
        self.proc = proc
        self.report = report
        self.deadline = report.started_ns + int(timeout_s * 1e9) if timeout_s else None
        self.kill_at: Optional[int] = None
        self.forwarded = False
        self.killed = False
        self.next_memory_read = 0

    def signal(self, signum: int) -> None:
        try:
            os.kill(self.proc.pid, signum)
        except ProcessLookupError:
            pass

    def escalate(self, stop: StopFlag, now: int) -> None:
        if stop.requested and not self.forwarded:
            self.forwarded = True
            name = stop.reason if stop.reason in ("SIGINT", "SIGTERM") else "SIGTERM"
            self.signal(getattr(signal, name))
        if stop.urgent and not self.killed:
            self.report.ended_by = self.report.ended_by or "second signal"
            self.kill()
        if self.deadline is not None and now >= self.deadline and self.kill_at is None:
            self.report.ended_by = self.report.ended_by or "timeout"
            self.signal(signal.SIGTERM)  # the loop stops after the current inference, samples kept
            self.kill_at = now + int(GRACE_S * 1e9)
        if self.kill_at is not None and now >= self.kill_at and not self.killed:
            self.kill()

    def read_memory(self, now: int) -> None:
        if now < self.next_memory_read:
            return
        self.next_memory_read = now + 250_000_000
        try:
            with open("/proc/{}/status".format(self.proc.pid), encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        self.report.peak_rss_bytes = int(line.split()[1]) * 1024
                        return
        except (OSError, ValueError):
            pass

    def kill(self) -> None:
        self.killed = True
        self.signal(signal.SIGKILL)

    def reap(self) -> bool:
        """True once the worker has exited (its status then in the report)."""
        try:
            pid, status = os.waitpid(self.proc.pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere: its status is lost, and its PID is not ours to signal
            self.proc.returncode = self.proc.returncode if self.proc.returncode is not None else -1
            return True
        if pid == 0:
            return False
        report = self.report
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            try:
                report.signal = signal.Signals(number).name
            except ValueError:  # a real-time signal has no name
                report.signal = "signal {}".format(number)
            self.proc.returncode = -number
        else:
            report.exit_code = os.WEXITSTATUS(status)
            self.proc.returncode = report.exit_code
        return True


def _handle(message: Any, report: WorkerReport, progress) -> None:
    if isinstance(message, Samples):
        report.streamed.extend(message.samples_ns)
        report.last_samples = message
    elif isinstance(message, Progress):
        # The loop's own stages: a worker that dies mid-window died in "timed", not in the last
        # Stage it announced (an accuracy pass counts as timed).
        report.stage = "timed" if message.stage == "accuracy" else message.stage
        if progress is not None:
            progress(message.stage, message.elapsed_s, message.done, message.target_s, message.target_count)
    elif isinstance(message, Identified):
        report.identified = message
    elif isinstance(message, Stage):
        report.stage = message.name
    elif isinstance(message, Loaded):
        report.loaded = message
    elif isinstance(message, Ready):
        report.ready_ns = time.monotonic_ns()
    elif isinstance(message, Finished):
        report.finished = message


def _follow(watch: _Watch, events: queue.Queue[Any], stop: StopFlag, progress) -> None:
    """Handle messages until the worker has exited and its pipe is drained."""
    exited = drained = False
    exited_at = finished_at = 0
    while not (exited and drained):
        try:
            message = events.get(timeout=_POLL_S)
        except queue.Empty:
            message = None
        if message is _EOF:
            drained = True
        elif message is not None:
            _handle(message, watch.report, progress)
        now = time.monotonic_ns()
        if watch.report.finished is not None and not finished_at:
            finished_at = now
        if not exited:
            watch.read_memory(now)
            watch.escalate(stop, now)
            if finished_at and now - finished_at > EXIT_WAIT_S * 1e9 and not watch.killed:
                watch.kill()  # the result is in; a worker stuck in its teardown is not waited for
            exited = watch.reap()
            exited_at = now
        elif now - exited_at > EXIT_WAIT_S * 1e9:  # a grandchild holds the pipe open: stop waiting
            return


def run_worker(job: WorkerJob, stop: StopFlag, progress=None, timeout_s: Optional[float] = None) -> WorkerReport:
    """Run `job` in a fresh worker process and report how it went. Never raises for anything
    the worker does; only a failure to start a process at all (OSError) escapes."""
    oom_before = oom_kills()
    report = WorkerReport(started_ns=time.monotonic_ns())
    proc, messages = _spawn(job)
    events: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=_pump_messages, args=(messages, events), daemon=True).start()
    output = threading.Thread(target=_pump_output, args=(proc.stdout, report.output_tail), daemon=True)
    output.start()
    watch = _Watch(proc, report, timeout_s)
    try:
        _follow(watch, events, stop, progress)
    finally:
        if proc.returncode is None:  # the parent itself failed: leave no worker behind
            watch.kill()
            while not watch.reap():
                time.sleep(_POLL_S)
    output.join(timeout=1.0)
    oom_after = oom_kills()
    report.oom_killed = oom_before is not None and oom_after is not None and oom_after > oom_before
    return report
