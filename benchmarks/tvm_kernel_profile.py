"""Where a compiled TVM module spends an inference: the time of each kernel the Relax VM calls,
summed over runs (the VM's instrument hook around every packed call; CPU kernels are
synchronous, so wall time between the hook's two calls is the kernel's).

    .venv/bin/python benchmarks/tvm_kernel_profile.py MODULE.so [--shape 1,3,224,224] [--runs 20] [--top 25] [--json]

MODULE.so is a module the tvm backend compiled and cached (build/tvm-curve/<model>/*.so after
benchmarks/tvm_tuning_curve.py; the runner's cache directory otherwise). Used to tell whether a
tuned model is slow in its tuned convolutions or in the glue left on default schedules.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time

import numpy as np


def profile(module: str, shape: tuple[int, ...], runs: int) -> dict:
    import tvm
    from tvm import relax

    device = tvm.cpu()
    vm = relax.VirtualMachine(tvm.runtime.load_module(module), device)
    data = tvm.runtime.tensor(np.random.default_rng(0).random(shape, dtype=np.float32), device)
    for _ in range(5):
        vm["main"](data)
    start = time.perf_counter()
    for _ in range(runs):
        vm["main"](data)
    plain_ms = (time.perf_counter() - start) / runs * 1e3
    spent: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    began: dict[str, float] = {}

    def instrument(func, name, before, ret, *args) -> int:
        if before:
            began[name] = time.perf_counter()
        else:
            spent[name] += time.perf_counter() - began[name]
            calls[name] += 1
        return 0

    vm.set_instrument(instrument)
    for _ in range(runs):
        vm["main"](data)
    kernels = [{"name": name, "ms": seconds / runs * 1e3, "calls": calls[name] // runs}
               for name, seconds in spent.most_common()]  # fmt: skip
    return {"module": module, "inference_ms": plain_ms, "kernels_ms": sum(k["ms"] for k in kernels), "kernels": kernels}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module")
    parser.add_argument("--shape", default="1,3,224,224")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = profile(args.module, tuple(int(n) for n in args.shape.split(",")), args.runs)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['inference_ms']:.3f} ms per inference; {result['kernels_ms']:.3f} ms in the VM's calls")
    for kernel in result["kernels"][: args.top]:
        print(f"{kernel['ms']:8.3f} ms  x{kernel['calls']:<3d} {kernel['name']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
