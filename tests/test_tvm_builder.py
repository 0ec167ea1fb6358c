"""The tuning builder that keeps its worker processes (tvm_builder): real TVM builds of a small
PrimFunc, the artifacts load and compute, the pool serves its rounds and is then replaced, and a
build that raises gives LocalBuilder's error message, not an exception."""

from __future__ import annotations

import numpy as np
import pytest

tvm = pytest.importorskip("tvm")

from vedliot_runner.backends.tvm_builder import pooled_builder  # noqa: E402
from vedliot_runner.backends.tvm_tuning import build_candidate  # noqa: E402


def _add_one(n: int):
    from tvm import te

    data = te.placeholder((n,), name="data", dtype="float32")
    out = te.compute((n,), lambda i: data[i] + 1.0, name="out")
    return tvm.IRModule({"main": te.create_prim_func([data, out])})


def _load_and_run(path: str, n: int) -> np.ndarray:
    module = tvm.runtime.load_module(path)
    dev = tvm.cpu()
    data = tvm.runtime.tensor(np.arange(n, dtype="float32"), dev)
    out = tvm.runtime.tensor(np.zeros(n, dtype="float32"), dev)
    module["main"](data, out)
    return out.numpy()


def test_the_pool_serves_its_rounds_then_is_replaced_and_builds_are_real():
    from tvm.s_tir.meta_schedule.builder import BuilderInput

    target = tvm.target.Target("llvm")
    builder = pooled_builder(build_candidate, timeout_sec=120, rounds_per_pool=2)
    sizes = [8, 16, 24]
    for round_number, size in enumerate(sizes, 1):
        results = builder.build([BuilderInput(_add_one(size), target), BuilderInput(_add_one(size + 1), target)])
        assert [result.error_msg for result in results] == [None, None]
        np.testing.assert_array_equal(_load_and_run(results[0].artifact_path, size), np.arange(size) + 1.0)
        np.testing.assert_array_equal(_load_and_run(results[1].artifact_path, size + 1), np.arange(size + 1) + 1.0)
        assert builder.pools == (1 if round_number <= 2 else 2)


def test_a_candidate_that_cannot_build_gives_an_error_message():
    import operator

    from tvm.s_tir.meta_schedule.builder import BuilderInput

    # a build function that raises in the worker (it takes 2 arguments, not the 3 a build gets),
    # importable there as every build function must be
    builder = pooled_builder(operator.truediv, timeout_sec=120)
    results = builder.build([BuilderInput(_add_one(4), tvm.target.Target("llvm"))])
    assert results[0].artifact_path is None
    assert results[0].error_msg.startswith("LocalBuilder: An exception occurred")
    assert "TypeError" in results[0].error_msg or "argument" in results[0].error_msg
