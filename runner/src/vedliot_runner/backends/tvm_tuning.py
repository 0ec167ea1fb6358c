"""Meta-schedule tuning for the TVM backend, within a wall-clock budget, its database kept in the cache.

- Budget: meta-schedule has trial counts, not time. Tuning runs in a child process (its own process
  group, so its builder and runner pools go with it) that is stopped at the deadline. Every measured
  candidate is already in the database then (records are appended one line each); a line cut off by
  the stop is dropped.
- Reuse: one database per model sha256, target (mcpu, num-cores), precision, input shapes and TVM /
  tvm-ffi versions; its `meta.json` says how many seconds and trials went into it. A later run asking
  for no more than that applies it at once; one asking for more tunes the difference, seeded by it.
- The same preprocessing (`prepare`) for tuning and applying: it decides the workloads' hashes.
- Tuning is done in a copy that replaces the database only when it ends, so a killed runner never
  leaves a half-written one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from vedliot_runner.errors import RuntimeFailure

#: the preprocessing below and how tasks are tuned; a change gives new database keys
#: (v2: candidates are timed on as many threads as the run uses; v1 databases were timed on TVM's
#: default of half the CPUs on x86, see tvm.runtime_threads)
RECIPE = "decompose+canonicalize+zero_pipeline/v2"
#: candidates per search round; which task gets a round is tvm_scheduler's rule
TRIALS_PER_ROUND = 16
#: how a candidate is timed: meta-schedule's default window of 100 ms (with its ramp-up runs) was 40%
#: of a round on 2 cores, for kernels of 1-650 us that 20 ms repeats hundreds of times. (Timing with
#: the caches flushed before each run, as in an inference, tuned MobileNetV3-Small no better.)
EVALUATOR = {"number": 3, "repeat": 1, "min_repeat_ms": 20}
#: the evolutionary search's population and generations: a quarter and half of meta-schedule's
#: defaults (512, 4), which spent 10-25 s per round of 16 generating candidates on 2 cores, several
#: times as long as building them (build_candidate)
POPULATION, GENERATIONS = 128, 2
#: tasks tuned (by name): where the time goes; the rest (reshapes, pools, element-wise tails)
#: keep TVM's default schedules instead of costing a search round each
HEAVY_OPS = ("conv2d", "matmul", "dense")
#: the tensor intrinsics a tuning on this CPU can use (tvm.s_tir.tensor_intrin's submodule)
HOST_INTRINSICS = {"x86_64": "x86", "amd64": "x86", "aarch64": "arm_cpu", "arm64": "arm_cpu", "riscv64": "riscv_cpu"}
_RECORDS = "database_tuning_record.json"
_WORKLOADS = "database_workload.json"
#: how often the parent looks at the child and ticks progress
_POLL_S = 2.0


@dataclasses.dataclass(frozen=True)
class TuningState:
    """What went into a database so far."""

    key: str
    seconds: float
    trials: int
    sessions: int


def prepare(tvm, relax, mod, target):
    with target:
        passes = [
            relax.transform.DecomposeOpsForInference(),
            relax.transform.CanonicalizeBindings(),
            relax.pipeline.zero_pipeline(),
        ]
        return tvm.transform.Sequential(passes)(mod)


def database_key(tvm, target, model_sha256: str, precision: str, shapes: Dict[str, List[int]]) -> str:
    versions = {"tvm": tvm.__version__, "tvm_ffi": _ffi_version()}
    text = json.dumps({"model": model_sha256, "target": str(target), "precision": precision, "shapes": shapes,
                       "recipe": RECIPE, **versions}, sort_keys=True)  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _ffi_version() -> Optional[str]:
    try:
        import tvm_ffi

        return getattr(tvm_ffi, "__version__", None)
    except ImportError:
        return None


def state_of(directory: Path) -> Optional[TuningState]:
    try:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        return TuningState(meta["key"], float(meta["seconds"]), int(meta["trials"]), int(meta["sessions"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def needs_tuning(state: Optional[TuningState], budget_s: float, max_trials: int) -> bool:
    """More tuning is asked for than the database holds (a budget of 0 asks for none of that kind)."""
    seconds, trials = (state.seconds, state.trials) if state else (0.0, 0)
    if max_trials and trials >= max_trials:
        return False
    return (budget_s > 0 and seconds < budget_s) or (budget_s <= 0 < max_trials)


@dataclasses.dataclass(frozen=True)
class TuneJob:
    """What the tuning child needs to rebuild the same module the backend compiles."""

    model: str
    shapes: Dict[str, List[int]]
    precision: str
    #: str(Target): TVM 0.2x writes it as JSON, which Target() reads back
    target: str
    work_dir: str
    max_trials: int


def tune(job: TuneJob, directory: Path, key: str, budget_s: float, progress=None, stop=None) -> TuningState:
    """Tunes `directory`'s database further (or anew) for what the budget leaves; returns its state."""
    before = state_of(directory) or TuningState(key, 0.0, 0, 0)
    left_s = budget_s - before.seconds if budget_s > 0 else 0.0
    directory.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tuning-", dir=str(directory.parent)))
    try:
        for name in (_WORKLOADS, _RECORDS):
            if (directory / name).is_file():
                shutil.copyfile(directory / name, work / name)
        job = dataclasses.replace(job, work_dir=str(work), max_trials=max(0, job.max_trials - before.trials))
        spent, outcome = _run_child(job, work, left_s, progress, stop)
        trials = _clean_records(work / _RECORDS)
        if trials == before.trials and outcome:
            raise RuntimeFailure("TVM tuning failed before measuring anything: {}".format(outcome))
        after = TuningState(key, round(before.seconds + spent, 1), trials, before.sessions + 1)
        (work / "meta.json").write_text(json.dumps(dataclasses.asdict(after), indent=1), encoding="utf-8")
        _publish(work, directory)
        return after
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_child(job: TuneJob, work: Path, left_s: float, progress, stop) -> tuple:
    """(seconds spent, what went wrong or ""): the child runs until done, the deadline or a stop."""
    (work / "job.json").write_text(json.dumps(dataclasses.asdict(job)), encoding="utf-8")
    log = open(work / "tuning.log", "wb")
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "vedliot_runner.backends.tvm_tuning", str(work / "job.json")],
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        while child.poll() is None:
            elapsed = time.monotonic() - started
            if (left_s > 0 and elapsed >= left_s) or (stop is not None and stop.requested):
                break
            if progress is not None:
                progress("tuning", elapsed, _count_lines(work / _RECORDS), left_s, job.max_trials)
            time.sleep(_POLL_S)
    finally:
        _stop_group(child)
        log.close()
    spent = time.monotonic() - started
    if child.returncode in (0, -signal.SIGTERM, -signal.SIGKILL):
        return spent, ""
    tail = (work / "tuning.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return spent, "exit {} ({})".format(child.returncode, tail[-1] if tail else "no output")


def _stop_group(child: subprocess.Popen) -> None:
    if child.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return sum(1 for _ in handle)
    except OSError:
        return 0


def _clean_records(path: Path) -> int:
    """Drops a last line cut off by the stop (JSONDatabase refuses a file with one); the trial count."""
    if not path.is_file():
        return 0
    lines = path.read_bytes().splitlines()
    while lines:
        try:
            json.loads(lines[-1])
            break
        except ValueError:
            lines.pop()
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return len(lines)


def _publish(work: Path, directory: Path) -> None:
    staged = directory.with_name(directory.name + ".new")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir()
    for name in (_WORKLOADS, _RECORDS, "meta.json", "tuning.log"):
        if (work / name).is_file():
            shutil.copyfile(work / name, staged / name)
    old = directory.with_name(directory.name + ".old")
    if directory.exists():
        shutil.rmtree(old, ignore_errors=True)
        directory.replace(old)
    staged.replace(directory)
    shutil.rmtree(old, ignore_errors=True)


def apply(tvm, relax, prepared, target, directory: Path):
    """The prepared module with every task the database has a valid record for scheduled from it."""
    from tvm.s_tir import meta_schedule as ms

    if _count_lines(directory / _RECORDS) == 0 or not (directory / _WORKLOADS).is_file():
        return prepared  # stopped before its first measurement: nothing to apply
    database = ms.database.JSONDatabase(work_dir=str(directory), allow_missing=False)
    with target, database:
        return relax.transform.MetaScheduleApplyDatabase(enable_warning=False)(prepared)


def host_intrinsics() -> bool:
    """Registers the tensor intrinsics of this host's CPU only, and whether it did. TuneContext
    imports tvm.s_tir.tensor_intrin, whose __init__ registers every target's: 37 s here, 25 of them
    CUDA's and 5 ROCm's, paid by every tuning session. The package goes into sys.modules without
    running its __init__, then the host's submodule is imported; TuneContext's import finds it there.
    Tuning measures on this host (LocalRunner), so no other target's intrinsic can apply."""
    name = "tvm.s_tir.tensor_intrin"
    part = HOST_INTRINSICS.get(platform.machine().lower())
    if part is None or name in sys.modules:
        return False
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        return False
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    try:
        importlib.import_module(name + "." + part)
    except Exception:  # noqa: BLE001 - another TVM's layout: the whole package, as TVM does it
        del sys.modules[name]
        return False
    sys.modules["tvm.s_tir"].tensor_intrin = package
    return True


def build_candidate(mod, target, _params):
    """meta-schedule's default_build without its import of every tensor intrinsic (see
    host_intrinsics), paid by each build pool, that is every round: the host's are registered only
    for a candidate that fails without them, and every target's if it still fails."""
    from tvm.driver import build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    try:
        return build(mod, target=target)
    except Exception:  # noqa: BLE001 - TVM's errors for an unregistered intrinsic vary
        if host_intrinsics():
            try:
                return build(mod, target=target)
            except Exception:  # noqa: BLE001
                pass
        for part in ("cuda", *sorted(set(HOST_INTRINSICS.values())), "rocm", "hexagon"):  # what __init__ imports
            importlib.import_module("tvm.s_tir.tensor_intrin." + part)
        return build(mod, target=target)


def _tune_in_child(job: TuneJob) -> None:
    import onnx
    import tvm
    from tvm import relax
    from tvm.s_tir import meta_schedule as ms

    from vedliot_runner.backends.tvm import relax_module
    from vedliot_runner.backends.tvm_builder import pooled_builder
    from vedliot_runner.backends.tvm_scheduler import time_share_scheduler

    host_intrinsics()
    target = tvm.target.Target(json.loads(job.target) if job.target.startswith("{") else job.target)
    mod, _ = relax_module(tvm, relax, onnx.load(job.model), job.shapes, job.precision)
    prepared = prepare(tvm, relax, mod, target)
    names = [task.task_name for task in ms.relax_integration.extract_tasks(prepared, target)]
    heavy = [name for name in names if any(op in name for op in HEAVY_OPS)]
    tasks = len(heavy or names)
    # no trial cap: the parent's deadline ends it. No cap per task either: the scheduler shares the
    # trials out, and a cap gives every task its first round in smaller ones
    total = job.max_trials or 1000 * max(1, tasks)
    per_round = min(TRIALS_PER_ROUND, max(1, total // max(1, tasks)))
    print("tuning {} of {} tasks, at most {} trials".format(tasks, len(names), total), flush=True)
    evaluator = ms.runner.EvaluatorConfig(**EVALUATOR)
    ms.relax_integration.tune_relax(
        mod=prepared, params={}, target=target, work_dir=job.work_dir, max_trials_global=total,
        max_trials_per_task=total, op_names=list(HEAVY_OPS) if heavy else None,
        num_trials_per_iter=per_round, task_scheduler=time_share_scheduler(per_round),
        strategy=ms.search_strategy.EvolutionarySearch(
            population_size=POPULATION, init_min_unmeasured=POPULATION // 4, genetic_num_iters=GENERATIONS
        ),
        builder=pooled_builder(build_candidate, timeout_sec=120),
        runner=ms.runner.LocalRunner(timeout_sec=60, evaluator_config=evaluator),
    )  # fmt: skip


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:  # a SIGKILLed runner must not leave tuning behind
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    raw = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    _tune_in_child(TuneJob(**raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
