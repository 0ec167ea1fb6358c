"""Apache TVM backend (apache-tvm 0.2x, Relax; Relay is gone): ONNX import, compiled for `llvm`
with -mcpu detected from the host (or `cuda` for Jetson/dGPU builds), run on the Relax
VirtualMachine and timed by the runner's own loop (not time_evaluator), with a device sync.

- Untuned code is slow (ResNet50 ~100x ONNX Runtime on a CPU): records say whether the module was
  tuned (`tuned`, `tuned_trials`, `tuned_seconds`, `tuning_database`), and the aggregator warns
  on untuned rows.
- Meta-schedule tuning is opt-in (`tune=SECONDS`, `tuning_trials=N`), its database kept in the
  cache and reused (tvm_tuning).
- fp16: an fp16 ONNX file (the zoo's: float16 weights, float32 I/O) compiles as it is; an fp32
  file goes through relax.transform.ToMixedPrecision (float16 compute, float32 accumulation), which
  in 0.27 fails on some graphs (e.g. with Flatten): then the record is `unsupported` and says why.
- int8: only where the ONNX frontend produces integer convolutions from a QDQ model; apache-tvm
  0.27 lowers QuantizeLinear/DequantizeLinear to float arithmetic, which gives an `unsupported`
  record saying so rather than a float32 run labelled int8.
- Compiled modules are cached by model sha256 + target + options + shapes + TVM version.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from vedliot_runner import onnx_precision
from vedliot_runner.backends import tvm_tuning
from vedliot_runner.backends.base import Backend, BackendSettings, Feeds, OnComplete, run_threads
from vedliot_runner.errors import ModelFileError, UnsupportedError, UsageError
from vedliot_runner.options import option, writable_directory
from vedliot_runner.record import Scalar, TensorInfo

_INTEGER_COMPUTE = re.compile(r'dtype="int32"\) = R\.(nn\.conv2d|matmul|nn\.conv2d_transpose)\(')
_FLOAT_COMPUTE = re.compile(r'dtype="float(16|32)"\) = R\.(nn\.conv2d|matmul|nn\.conv2d_transpose)\(')


def default_cache_dir() -> Path:
    base = os.environ.get("VEDLIOT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "vedliot-bench")
    return Path(base) / "tvm"


def host_target(tvm, kind: str, threads: Optional[int]):
    """A Target for this host: llvm with the CPU LLVM names for it, or cuda."""
    if kind.startswith("{"):
        return tvm.target.Target(json.loads(kind))
    if kind == "cuda":
        return tvm.target.Target({"kind": "cuda", "arch": "sm_" + _cuda_arch(tvm)}, host={"kind": "llvm"})
    if kind != "llvm":
        raise UsageError("--backend-option target={}: choose llvm, cuda, or a JSON target dict".format(kind))
    config = {"kind": "llvm", "mcpu": tvm.target.codegen.llvm_get_system_cpu()}
    cores = threads or os.cpu_count()
    if cores:
        config["num-cores"] = cores
    return tvm.target.Target(config)


def runtime_threads(threads: Optional[int]) -> int:
    """The threads TVM's thread pool runs with: TVM_NUM_THREADS where the user set it, else the run's
    threads or the CPU count, which is then set there for this process and the tuner's. TVM's own
    default halves the CPU count on x86 to skip hyper-threads: on a 2-vCPU VM its kernels ran on one
    thread while the target (num-cores) and the record said 2, and were tuned that way."""
    own = os.environ.get("TVM_NUM_THREADS", "").strip()
    if own.isdigit() and int(own) > 0:
        return int(own)
    count = threads or os.cpu_count() or 1
    os.environ["TVM_NUM_THREADS"] = str(count)
    return count


def _cuda_arch(tvm) -> str:
    dev = tvm.cuda(0)
    if not dev.exist:
        raise UnsupportedError("TVM target cuda: no CUDA device visible here")
    return dev.compute_version.replace(".", "")


def _target_text(text: str) -> Optional[str]:
    if text in ("llvm", "cuda"):
        return None
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as exc:
            return "not a JSON target dict ({})".format(exc)
        return None if isinstance(value, dict) and "kind" in value else 'a JSON target dict needs "kind"'
    return 'choose llvm, cuda, or a JSON target dict such as {"kind": "llvm", "mcpu": "znver4"}'


def _c_compiler() -> Optional[str]:
    """The compiler TVM would link with (tvm.support.cc.get_cc's search), or None."""
    found = os.environ.get("CXX") or os.environ.get("CC")
    if found:
        return found
    for name in ("g++", "gcc", "clang++", "clang", "c++", "cc"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclasses.dataclass(frozen=True)
class TvmOptions:
    target: str = option("llvm", "llvm (-mcpu from the host), cuda, or a JSON target dict", check=_target_text)
    tune: float = option(
        0.0, "seconds of meta-schedule tuning the database gets, all runs together (0: none)", minimum=0
    )
    tuning_trials: int = option(
        0, "meta-schedule trials, all runs together: the most with tune=, else the number (0: no limit)",
        minimum=0, maximum=10_000_000,
    )  # fmt: skip
    cache_dir: Optional[str] = option(
        None,
        "compiled modules and tuning databases (default $VEDLIOT_CACHE/tvm or ~/.cache/vedliot-bench/tvm)",
        check=writable_directory,
    )


class TvmBackend(Backend):
    name = "tvm"
    Options = TvmOptions

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        self._runtime_threads = runtime_threads(self.threads)
        import tvm

        self._tvm = tvm
        self._trials = self.options.tuning_trials
        self._budget_s = float(self.options.tune)
        self._tuning: Optional[tvm_tuning.TuningState] = None
        self._target_kind = self.options.target
        self._cache = Path(self.options.cache_dir or default_cache_dir())
        self._vm = None
        self._executable = None
        self._dev = None
        self._input_names: List[str] = []
        self._precision: Tuple[Optional[str], Optional[str]] = (None, None)
        self._cached = False

    def version(self) -> Optional[str]:
        return self._tvm.__version__

    def packages(self) -> Dict[str, Optional[str]]:
        import onnx

        versions: Dict[str, Optional[str]] = {"apache-tvm": self._tvm.__version__, "onnx": onnx.__version__}
        try:
            import tvm_ffi

            versions["apache-tvm-ffi"] = getattr(tvm_ffi, "__version__", None)
        except ImportError:
            pass
        return versions

    def _shapes(self, model) -> Dict[str, List[int]]:
        inits = {i.name for i in model.graph.initializer}
        shapes = {}
        for value in model.graph.input:
            if value.name in inits:
                continue
            if value.name in self.settings.input_shapes:
                shapes[value.name] = list(self.settings.input_shapes[value.name])
                continue
            dims = []
            for index, dim in enumerate(value.type.tensor_type.shape.dim):
                if dim.HasField("dim_value") and dim.dim_value > 0:
                    dims.append(dim.dim_value)
                elif index == 0:
                    dims.append(self.settings.batch_size)
                else:
                    raise UsageError(
                        "input '{}' has a symbolic dimension besides the batch; give its shape with "
                        "--input-shape {}=D0,D1,...".format(value.name, value.name)
                    )
            if dims and dims[0] != self.settings.batch_size:
                raise UnsupportedError(
                    "input '{}' has a static batch dimension of {}; run with --batch-size {}".format(
                        value.name, dims[0], dims[0]
                    )
                )
            shapes[value.name] = dims
        return shapes

    def _key(self, sha256: str, target, shapes: Dict[str, List[int]]) -> str:
        tuning = self._tuning
        text = json.dumps(
            {
                "model": sha256,
                "target": str(target),
                "precision": self.settings.precision,
                "tuning": [tuning.key, tuning.trials] if tuning else None,
                "shapes": shapes,
                "tvm": self._tvm.__version__,
            },
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def load(self, path: Path) -> Tuple[List[TensorInfo], List[TensorInfo]]:
        import onnx

        tvm = self._tvm
        from tvm import relax

        try:
            model = onnx.load(str(path))
        except Exception as exc:  # noqa: BLE001 - protobuf raises several unrelated types
            raise ModelFileError("{}: not a readable ONNX model ({})".format(path, type(exc).__name__)) from None
        shapes = self._shapes(model)
        declared = _declared(model)
        target = host_target(tvm, self._target_kind, self.threads)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        database = self._tuned(path, digest, target, shapes)
        key = self._key(digest, target, shapes)
        library = self._cache / (key + ".so")
        precision_file = self._cache / (key + ".json")
        if library.is_file() and precision_file.is_file():
            executable = tvm.runtime.load_module(str(library))
            self._precision = tuple(json.loads(precision_file.read_text()))
            self._cached = True
        else:
            if _c_compiler() is None:  # export_library needs one to link; without it, a TypeError
                raise UnsupportedError(
                    "TVM needs a C compiler to link the module it compiles (g++, gcc, clang or cc on PATH, "
                    "or $CXX): install one, e.g. apt-get install gcc libc6-dev"
                )
            executable = self._compile(model, shapes, target, relax, database)
            self._cache.mkdir(parents=True, exist_ok=True)
            tmp = library.with_name("." + library.name)
            executable.export_library(str(tmp))
            tmp.replace(library)
            precision_file.write_text(json.dumps(list(self._precision)))
        self._dev = tvm.cuda(0) if target.kind.name == "cuda" else tvm.cpu(0)
        self._executable = executable
        self._vm = relax.VirtualMachine(executable, self._dev)
        self._input_names = list(shapes)
        return declared, _declared(model, outputs=True)

    def _tuned(self, path: Path, digest: str, target, shapes) -> Optional[Path]:
        """The tuning database this run applies (tuned further first when more is asked for), or None."""
        if not (self._budget_s or self._trials):
            return None
        if target.kind.name != "llvm":
            raise UnsupportedError("tune= and tuning_trials= are implemented for target llvm only")
        key = tvm_tuning.database_key(self._tvm, target, digest, self.settings.precision, shapes)
        directory = self._cache / "tuning" / key
        state = tvm_tuning.state_of(directory)
        if tvm_tuning.needs_tuning(state, self._budget_s, self._trials):
            job = tvm_tuning.TuneJob(str(path), shapes, self.settings.precision, str(target), "", self._trials)
            state = tvm_tuning.tune(job, directory, key, self._budget_s, self.progress, self.stop)
        self._tuning = state
        return directory

    def _compile(self, model, shapes, target, relax, database: Optional[Path]):
        mod, self._precision = relax_module(self._tvm, relax, model, shapes, self.settings.precision)
        if database is not None:
            prepared = tvm_tuning.prepare(self._tvm, relax, mod, target)
            mod = tvm_tuning.apply(self._tvm, relax, prepared, target, database)
        return relax.build(mod, target=target)

    def effective_precision(self) -> Tuple[Optional[str], Optional[str]]:
        return self._precision

    def resolved_options(self) -> Dict[str, Scalar]:
        resolved = super().resolved_options()
        tuning = self._tuning
        resolved["tuned"] = bool(tuning and tuning.trials)
        resolved["tuned_trials"] = tuning.trials if tuning else 0
        resolved["tuned_seconds"] = tuning.seconds if tuning else 0.0
        resolved["tuning_database"] = tuning.key if tuning else None
        resolved["compiled_from_cache"] = self._cached
        resolved["runtime_threads"] = self._runtime_threads
        return resolved

    def predict(self, feeds: Feeds) -> List[np.ndarray]:
        return self._call(self._vm, feeds)

    def _call(self, vm, feeds: Feeds) -> List[np.ndarray]:
        tensor = self._tvm.runtime.tensor
        args = [tensor(feeds[name], self._dev) for name in self._input_names]
        out = vm["main"](*args)
        self._dev.sync()
        items = out if isinstance(out, (list, tuple)) or type(out).__name__ == "Array" else [out]
        return [item.numpy() for item in items]

    def run_in_flight(self, feeds: Feeds, requests: int, keep_going: Callable[[], bool], done: OnComplete) -> None:
        # A Relax VM runs one call at a time (concurrent calls corrupt its register file): each
        # request in flight gets a VM of its own over the same compiled module.
        from tvm import relax

        vms = [self._vm] + [relax.VirtualMachine(self._executable, self._dev) for _ in range(requests - 1)]
        run_threads([functools.partial(self._call, vm) for vm in vms], feeds, keep_going, done)

    def close(self) -> None:
        self._vm = self._executable = None


def relax_module(tvm, relax, model, shapes, requested: str):
    """The ONNX model as a Relax module at the precision it will run, and (precision, detail); the
    tuning child builds the same module with it."""
    from tvm.relax.frontend.onnx import from_onnx

    try:
        mod = from_onnx(model, shape_dict=shapes, keep_params_in_input=False)
    except Exception as exc:  # noqa: BLE001 - the frontend raises many types for unsupported ops
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UnsupportedError("TVM's ONNX frontend cannot import this model: {}".format(first)) from None
    script = mod.script()
    integer_ops = len(_INTEGER_COMPUTE.findall(script))
    float_ops = len(_FLOAT_COMPUTE.findall(script))
    if requested in ("int8", "uint8") and not integer_ops:
        raise UnsupportedError(
            "apache-tvm {} lowers this QDQ model to float arithmetic ({} float convolutions/matmuls, "
            "none in integers): it would run float32, not int8".format(tvm.__version__, float_ops)
        )
    compute = "{} integer and {} float convolutions/matmuls".format(integer_ops, float_ops)
    file_precision, _ = onnx_precision.precision_of(model)
    if requested == "fp16" and file_precision == "fp32":
        try:
            mod = relax.transform.ToMixedPrecision(out_dtype="float32")(mod)
        except Exception as exc:  # noqa: BLE001 - TVM's InternalError and friends
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            raise UnsupportedError(
                "TVM's ToMixedPrecision cannot convert this fp32 model ({}); give an fp16 ONNX file "
                "(vedliot-runner zoo build makes one for zoo models)".format(first)
            ) from None
        compute += "; float16 via ToMixedPrecision, float32 accumulation"
    if integer_ops and integer_ops >= float_ops:
        return mod, ("int8", compute)
    if requested == "fp16" or file_precision == "fp16":
        return mod, ("fp16", compute)
    return mod, (file_precision, compute)


def _declared(model, outputs: bool = False) -> List[TensorInfo]:
    from onnx import helper

    inits = {i.name for i in model.graph.initializer}
    values = model.graph.output if outputs else [v for v in model.graph.input if v.name not in inits]
    tensors = []
    for value in values:
        kind = value.type.tensor_type
        dtype = helper.tensor_dtype_to_np_dtype(kind.elem_type).name
        shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in kind.shape.dim]
        tensors.append(TensorInfo(name=value.name, dtype=dtype, shape=shape))
    return tensors
