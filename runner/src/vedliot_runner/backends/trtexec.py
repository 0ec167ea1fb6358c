"""trtexec backend: NVIDIA's own benchmark tool, driven with the runner's settings, its output
turned into a normal record (the way to measure JetPack 4 boards, whose TensorRT 8.2 has Python
3.6 bindings only, and the reference `suite --cross-check trtexec` compares the runner against).

- load: one trtexec run builds the engine from the ONNX file (cached like the tensorrt backend's,
  under the same kind of key) with --exportLayerInfo, and times one query: the I/O bindings, the
  build time and the first inference come from its output.
- the timed run: `--loadEngine` with --warmUp (ms), --duration (s) and --iterations, which trtexec
  combines as LoadGen does (it stops once both are reached), --exportTimes for every query, the
  streams flag of its version in throughput mode, the precision flags only where the version has
  them (TensorRT 11 removed them: the ONNX file's types decide) and the transfer setting spelled
  as that version wants it. Every timed query is a sample; the warm-up queries that trtexec before
  8.5 also exports are left out; the window is the trace's, so IPS equals trtexec's throughput.
- trtexec keeps no outputs: accuracy runs need --backend tensorrt.
Parsing is shared with `vedliot-aggregator import trtexec` (vedliot_runner.trtexec_output).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from vedliot_runner import trt_engine, trtexec_run
from vedliot_runner.backends.base import Backend, BackendSettings, Feeds
from vedliot_runner.errors import ModelFileError, UnsupportedError
from vedliot_runner.options import option
from vedliot_runner.record import Scalar, TensorInfo

DEFAULT_PATHS = ("/usr/src/tensorrt/bin/trtexec",)


@dataclasses.dataclass(frozen=True)
class TrtexecOptions:
    trtexec: Optional[str] = option(None, "the trtexec executable (default: PATH, then /usr/src/tensorrt/bin)")
    transfers: bool = option(True, "include host<->device copies in each query (trtexec 11 leaves them out)")
    streams: Optional[int] = option(
        None, "throughput mode: trtexec's inference streams (default 2)", minimum=1, maximum=64
    )
    cache: Optional[str] = option(None, "engine cache directory (default $VEDLIOT_ENGINE_CACHE, else ~/.cache)")
    rebuild: bool = option(False, "build the engine even when the cache holds one")
    workspace_mb: Optional[int] = option(None, "builder workspace (--memPoolSize) in MiB", minimum=1, maximum=1 << 20)
    device: int = option(0, "GPU index (--device)", minimum=0, maximum=1024)


class TrtexecBackend(Backend):
    name = "trtexec"
    Options = TrtexecOptions
    #: the tool times itself: measure() hands the loop settings to measure_own()
    self_timed = True
    includes_host_device_copies = True

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        self.path = self._find()
        self.tool = trtexec_run.Tool(self.path, self.options.device)
        self.tool_version = self.tool.version()
        self.includes_host_device_copies = self.options.transfers
        self.plan: Optional[Path] = None
        self.origin: Optional[str] = None
        self.build_s: Optional[float] = None
        self.first_ms: Optional[float] = None
        self.device_name: Optional[str] = None
        self.capability: Optional[str] = None
        self._precision: Tuple[Optional[str], Optional[str]] = (None, None)
        self.shapes: Dict[str, List[int]] = {}
        self.dynamic = False

    def _find(self) -> str:
        given = self.options.trtexec
        candidates = [given] if given else [shutil.which("trtexec"), *DEFAULT_PATHS]
        for candidate in filter(None, candidates):
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        if given:
            raise UnsupportedError("--backend-option trtexec={}: not an executable file".format(given))
        raise UnsupportedError(
            "no trtexec here (not on PATH nor at {}); it comes with TensorRT (JetPack: "
            "/usr/src/tensorrt/bin/trtexec), or give --backend-option trtexec=PATH".format(", ".join(DEFAULT_PATHS))
        )

    def version(self) -> Optional[str]:
        return self.tool_version

    def packages(self) -> Dict[str, Optional[str]]:
        return {"trtexec": self.tool_version}

    def load(self, path: Path) -> Tuple[List[TensorInfo], List[TensorInfo]]:
        if not path.is_file():
            raise ModelFileError("{}: no such file".format(path))
        if path.suffix.lower() in trt_engine.ENGINE_SUFFIXES:
            self.plan, self.origin = path, "given"
            probe = self._probe(["--loadEngine={}".format(path)], with_layers=True)
            return self._declared(probe, {})
        if path.suffix.lower() != ".onnx":
            raise ModelFileError("{}: backend 'trtexec' takes an .onnx file or an .engine/.plan".format(path))
        signature = trtexec_run.onnx_inputs(path)
        self.shapes, self.dynamic = trtexec_run.input_shapes(path, signature, self.settings)
        key = trt_engine.cache_key(
            self._build_request(path), self.tool_version or "unknown", trt_engine.sha256_of(path)
        )
        cache = Path(self.options.cache) if self.options.cache else trt_engine.default_cache()
        self.plan = cache / (key + ".trtexec.plan")
        if self.plan.is_file() and not self.options.rebuild:
            self.origin = "reused"
            self.build_s = trt_engine._read_meta(self.plan.with_suffix(".json")).get("build_s")
            probe = self._probe(["--loadEngine={}".format(self.plan)], with_layers=True)
        else:
            cache.mkdir(parents=True, exist_ok=True)
            self.origin = "built"
            build = ["--onnx={}".format(path), "--saveEngine={}".format(self.plan)]
            build += self.tool.precision_flags(self.settings.precision) + self.tool.workspace(self.options.workspace_mb)
            probe = self._probe(build, with_layers=True)
            self.build_s = float(probe.log.engine_s) if probe.log.engine == "built" and probe.log.engine_s else None
            self.plan.with_suffix(".json").write_text(json.dumps({"build_s": self.build_s, "model": str(path)}))
        return self._declared(probe, signature)

    def _build_request(self, path: Path) -> trt_engine.BuildRequest:
        return trt_engine.BuildRequest(
            path,
            self.settings.precision,
            self.settings.batch_size,
            self.shapes,
            self.options.workspace_mb,
            trtexec_run.gpu_identity(),
            "",
        )

    def _probe(self, source: List[str], with_layers: bool) -> trtexec_run.Result:
        """One query through trtexec: the engine built or loaded, its bindings, its first inference."""
        with tempfile.TemporaryDirectory(prefix="vedliot-trtexec-") as scratch:
            layers = os.path.join(scratch, "layers.json")
            times = os.path.join(scratch, "times.json")
            args = source + self.tool.shape_args(self.shapes, self.dynamic)
            args += ["--iterations=1", "--warmUp=0", "--duration=0", "--exportTimes={}".format(times)]
            if with_layers:
                args += ["--exportLayerInfo={}".format(layers), "--profilingVerbosity=detailed"]
            result = self.tool.run(args, times_path=times, layers_path=layers if with_layers else None)
        if result.trace:
            self.first_ms = result.trace[0].get("latencyMs")
        # a build whose --help printed no version line says it in its own first line
        self.tool_version = self.tool_version or result.log.version
        self.device_name, self.capability = result.log.device, result.log.compute_capability
        if result.layers is not None:
            counts = trt_engine.layer_precisions(result.layers)
            self._precision = trt_engine.effective_precision(counts, self.settings.precision)
        return result

    def _declared(self, probe: trtexec_run.Result, signature: Dict[str, Any]):
        inputs = [trtexec_run.tensor(b, signature) for b in probe.log.bindings if b.is_input]
        outputs = [trtexec_run.tensor(b, signature) for b in probe.log.bindings if not b.is_input]
        if not inputs or not outputs:
            raise UnsupportedError("trtexec {} printed no I/O bindings for this engine".format(self.tool_version))
        self.declared = {t.name: t for t in inputs}
        return inputs, outputs

    def effective_precision(self) -> Tuple[Optional[str], Optional[str]]:
        return self._precision

    def resolved_options(self) -> Dict[str, Scalar]:
        resolved = super().resolved_options()
        resolved.update(trtexec=self.path, engine=self.origin, gpu=self.device_name, compute_capability=self.capability)
        resolved["engine_build_s"] = round(self.build_s, 3) if self.build_s is not None else None
        return resolved

    def default_requests_in_flight(self) -> int:
        return self.options.streams or 2

    def predict(self, feeds: Feeds):
        raise UnsupportedError("trtexec times itself and keeps no outputs: accuracy runs need --backend tensorrt")

    def measure_own(self, feeds: Feeds, settings: Any, stop: Any, out: Any, progress: Any = None) -> Any:
        """The loop settings as trtexec options; trtexec's trace as the Measurement."""
        for name, array in feeds.items():
            declared = self.declared.get(name)
            if declared is None or list(array.shape) != [d for d in declared.shape]:
                raise trtexec_run.FeedMismatch(name, list(array.shape), declared)
        assert self.plan is not None
        return trtexec_run.timed(
            self.tool, self.plan, self.shapes, self.dynamic, settings, self.options, stop, out, progress, self.first_ms
        )
