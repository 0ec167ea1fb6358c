"""TVM meta-schedule tuning (issue 19): the database's bookkeeping, one real tuning round trip on a
tiny model with a two-trial budget (reused by the next run, and applied with the same outputs), a
deadline that stops the tuner and leaves nothing running, and the aggregator's untuned warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from vedliot_runner.backends import tvm_tuning
from vedliot_runner.backends.base import BackendSettings
from vedliot_runner.backends.tvm import TvmBackend

import models

tvm = pytest.importorskip("tvm")


def test_needs_tuning_counts_what_the_database_already_holds():
    state = tvm_tuning.TuningState("k", seconds=600.0, trials=80, sessions=1)
    assert not tvm_tuning.needs_tuning(None, 0, 0)
    assert tvm_tuning.needs_tuning(None, 60, 0)
    assert tvm_tuning.needs_tuning(None, 0, 10)
    assert not tvm_tuning.needs_tuning(state, 600, 0)  # that budget is spent: apply only
    assert tvm_tuning.needs_tuning(state, 1200, 0)  # the difference is tuned
    assert not tvm_tuning.needs_tuning(state, 0, 50)  # more trials than asked for
    assert not tvm_tuning.needs_tuning(state, 1200, 80)  # the trial cap is reached first
    assert tvm_tuning.needs_tuning(state, 0, 100)


def test_a_record_line_cut_off_by_the_deadline_is_dropped(tmp_path):
    records = tmp_path / "database_tuning_record.json"
    whole = [json.dumps([0, [["trace"], [1e-3], {"kind": "llvm"}, []]]), json.dumps([1, [["t"], [2e-3], {}, []]])]
    records.write_text("\n".join(whole) + "\n" + whole[0][:17])
    assert tvm_tuning._clean_records(records) == 2
    assert records.read_text().splitlines() == whole
    assert tvm_tuning._clean_records(tmp_path / "missing.json") == 0


def test_state_of_a_missing_or_damaged_database_is_none(tmp_path):
    assert tvm_tuning.state_of(tmp_path) is None
    (tmp_path / "meta.json").write_text('{"key": "k", "seconds": "x"')
    assert tvm_tuning.state_of(tmp_path) is None
    (tmp_path / "meta.json").write_text('{"key": "k", "seconds": 12.5, "trials": 3, "sessions": 2}')
    assert tvm_tuning.state_of(tmp_path) == tvm_tuning.TuningState("k", 12.5, 3, 2)


def test_database_key_follows_target_cpu_cores_precision_shapes_and_versions():
    def key(mcpu="znver4", cores=2, precision="fp32", shapes=None, version="0.27.0"):
        fake = types.SimpleNamespace(__version__=version)
        target = tvm.target.Target({"kind": "llvm", "mcpu": mcpu, "num-cores": cores})
        return tvm_tuning.database_key(fake, target, "ab" * 32, precision, shapes or {"x": [1, 3, 8, 8]})

    base = key()
    assert base == key()
    others = [key(mcpu="skylake-avx512"), key(cores=4), key(precision="fp16"), key(shapes={"x": [2, 3, 8, 8]}),
              key(version="0.28.0")]  # fmt: skip
    assert base not in others and len(set(others)) == len(others)


def test_publish_replaces_the_database_whole(tmp_path):
    directory = tmp_path / "db"
    directory.mkdir()
    (directory / "database_tuning_record.json").write_text("old\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / "database_tuning_record.json").write_text("new\n")
    (work / "meta.json").write_text("{}")
    (work / "job.json").write_text("{}")
    tvm_tuning._publish(work, directory)
    assert sorted(p.name for p in directory.iterdir()) == ["database_tuning_record.json", "meta.json"]
    assert (directory / "database_tuning_record.json").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db", "work"]


def _options(record: dict) -> dict:
    return record["config"]["backend_options"]


def _new(result, *earlier) -> dict:
    """The record this run wrote (the output folder holds the earlier runs' too)."""
    seen = {r["run_id"] for e in earlier for r in e.records}
    (record,) = [r for r in result.records if r["run_id"] not in seen]
    return record


def _tuners(cache: Path) -> list[str]:
    """Tuning processes working on `cache` (another test or a benchmark may tune beside this one)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if entry.name.isdigit() and b"vedliot_runner.backends.tvm_tuning" in command and bytes(cache) in command:
            found.append(entry.name)
    return found


def test_only_the_hosts_tensor_intrinsics_are_registered_for_tuning():
    """TuneContext's `import tvm.s_tir.tensor_intrin` finds the host's intrinsics alone (VNNI on
    x86): CUDA's, the 25 s of the package's own import here, are not registered."""
    probe = (
        "import platform, sys\n"
        "from vedliot_runner.backends import tvm_tuning\n"
        "known = platform.machine().lower() in tvm_tuning.HOST_INTRINSICS\n"
        "assert tvm_tuning.host_intrinsics() is known\n"
        "assert tvm_tuning.host_intrinsics() is False  # once\n"
        "import tvm.s_tir.tensor_intrin\n"
        "from tvm.s_tir import TensorIntrin\n"
        "def has(name):\n"
        "    try:\n"
        "        return TensorIntrin.get(name) is not None\n"
        "    except ValueError:\n"
        "        return False\n"
        "if platform.machine().lower() in ('x86_64', 'amd64'):\n"
        "    assert has('dot_16x4_vnni')\n"
        "assert has('wmma_sync_16x16x16_f16f16f32') is not known\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


_THREADS_PROBE = """
import json, os
from vedliot_runner.backends.base import BackendSettings
from vedliot_runner.backends.tvm import TvmBackend
import tvm
backend = TvmBackend(BackendSettings(threads=RUN_THREADS_))
print(json.dumps([tvm.get_global_func("runtime.NumThreads")(), os.environ.get("TVM_NUM_THREADS")]))
"""


@pytest.mark.parametrize("threads, user, expected", [(None, None, os.cpu_count()), (1, None, 1), (None, "1", 1)])
def test_tvm_kernels_run_on_the_threads_the_run_says(threads, user, expected):
    # TVM's own default is half the CPUs on x86 (1 thread on a 2-vCPU VM)
    env = {k: v for k, v in os.environ.items() if k != "TVM_NUM_THREADS"}
    if user:
        env["TVM_NUM_THREADS"] = user
    script = _THREADS_PROBE.replace("RUN_THREADS_", repr(threads))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    pool, variable = json.loads(out.stdout.strip().splitlines()[-1])
    assert (pool, variable) == (expected, str(expected))


@pytest.mark.slow
def test_tuning_round_trip_reuse_and_same_outputs(run_subprocess, tmp_path):
    model = models.tiny(tmp_path / "tiny.onnx")
    cache = tmp_path / "cache"
    common = ["run", "--backend", "tvm", "--model", str(model), "--min-seconds", "0.2", "--backend-option",
              f"cache_dir={cache}", "--backend-option", "tuning_trials=2"]  # fmt: skip
    first = run_subprocess(*common, timeout=600)
    assert first.code == 0, first.stderr
    options = _options(_new(first))
    assert options["tuned"] is True and options["tuned_trials"] >= 2 and options["tuned_seconds"] > 0
    assert options["runtime_threads"] == int(os.environ.get("TVM_NUM_THREADS") or os.cpu_count())
    database = cache / "tuning" / options["tuning_database"]
    lines = (database / "database_tuning_record.json").read_text().splitlines()
    assert len(lines) == options["tuned_trials"]
    # every measured candidate carries the target it was tuned for: this CPU, these cores
    assert {json.loads(line)[1][2]["mcpu"] for line in lines} == {tvm.target.codegen.llvm_get_system_cpu()}
    assert json.loads((database / "meta.json").read_text())["sessions"] == 1

    again = run_subprocess(*common, timeout=120)
    assert again.code == 0, again.stderr
    reused = _options(_new(again, first))
    assert reused["compiled_from_cache"] is True
    assert reused["tuning_database"] == options["tuning_database"]
    assert (reused["tuned_trials"], reused["tuned_seconds"]) == (options["tuned_trials"], options["tuned_seconds"])
    assert json.loads((database / "meta.json").read_text())["sessions"] == 1
    assert not list((cache / "tuning").glob(".tuning-*")) and not _tuners(cache)

    # applied from the database (a fresh compile, not the cached module), the outputs are the untuned ones
    feeds = {"input": np.random.default_rng(3).standard_normal((1, 3, 32, 32)).astype(np.float32)}
    (tmp_path / "c2").mkdir()
    os.symlink(cache / "tuning", tmp_path / "c2" / "tuning")
    tuned = TvmBackend(BackendSettings(options={"cache_dir": str(tmp_path / "c2"), "tuning_trials": "2"}))
    tuned.load(model)
    assert tuned.resolved_options()["compiled_from_cache"] is False and tuned.resolved_options()["tuned"] is True
    untuned = TvmBackend(BackendSettings(options={"cache_dir": str(tmp_path / "c3")}))
    untuned.load(model)
    np.testing.assert_allclose(tuned.predict(feeds)[0], untuned.predict(feeds)[0], rtol=1e-4, atol=1e-5)

    from vedliot_aggregator import collect, metrics
    from vedliot_aggregator.catalog import load as load_catalog

    untuned_run = run_subprocess("run", "--backend", "tvm", "--model", str(model), "--min-seconds", "0.2",
                                 "--backend-option", f"cache_dir={tmp_path / 'c3'}")  # fmt: skip
    assert untuned_run.code == 0, untuned_run.stderr
    rows = metrics.frame(collect.collect([tmp_path / "out"]), load_catalog()).to_dict("records")
    warned = {row["run_id"]: "untuned TVM" in str(row["warnings"]) for row in rows}
    assert warned == {_new(first)["run_id"]: False, _new(again, first)["run_id"]: False,
                      _new(untuned_run, first, again)["run_id"]: True}  # fmt: skip

    # asking for more trials tunes the difference in a second session, its scheduler seeded with the
    # tasks the database already holds
    more = run_subprocess(*common[:-1], "tuning_trials=4", timeout=600)
    assert more.code == 0, more.stderr
    grown = _options(_new(more, first, again, untuned_run))
    assert grown["tuning_database"] == options["tuning_database"] and grown["tuned_trials"] >= 4
    assert json.loads((database / "meta.json").read_text())["sessions"] == 2
    assert len((database / "database_tuning_record.json").read_text().splitlines()) == grown["tuned_trials"]


@pytest.mark.slow
def test_the_deadline_stops_the_tuner_and_the_run_goes_on(run_subprocess, tmp_path):
    model = models.tiny(tmp_path / "tiny.onnx")
    cache = tmp_path / "cache"
    # 2 s: the tuner is still importing TVM (1.5 s here), so it is stopped before any measurement.
    # (8 s was enough before the tuner's round took 6-8 s instead of 40: one CI run measured a round.)
    result = run_subprocess("run", "--backend", "tvm", "--model", str(model), "--min-seconds", "0.2",
                            "--backend-option", f"cache_dir={cache}", "--backend-option", "tune=2",
                            timeout=300)  # fmt: skip
    assert result.code == 0, result.stderr
    options = _options(_new(result))
    assert options["tuned"] is False and options["tuned_trials"] == 0
    assert 2 <= options["tuned_seconds"] < 60
    assert not _tuners(cache), "a tuning process outlived its deadline"
    database = cache / "tuning" / options["tuning_database"]
    assert json.loads((database / "meta.json").read_text())["seconds"] == options["tuned_seconds"]
    assert not list((cache / "tuning").glob(".tuning-*"))
