"""NXP i.MX 8M Plus NPU: full-integer .tflite files through the TFLite interpreter with the VX
external delegate (libvx_delegate.so from NXP's BSP, VeriSilicon's TIM-VX underneath).

- The first inference compiles the OpenVX graph (seconds to tens of seconds): it is timed apart, as
  every first inference. The driver caches the compiled graph where VIV_VX_CACHE_BINARY_GRAPH_DIR
  says when VIV_VX_ENABLE_CACHE_GRAPH_BINARY=1; both are set before the delegate loads, to a
  volume in the image, so the second run of a model skips the compilation. The record says
  whether this run wrote the cache or found it.
- The share of operators on the NPU is read back from the interpreter after the delegate took its
  partitions; the default CPU delegate (XNNPACK) is turned off, as NXP's guides do, so that every
  DELEGATE node is the NPU's and the fallback operators run on the plain CPU kernels.
- NPU and CPU results differ (VeriSilicon/tflite-vx-delegate#210): accuracy is measured here, on
  the NPU, never inferred from a CPU run.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from vedliot_runner.backends.litert import (
    LiteRtBackend,
    _delegate_options_text,
    board_interpreter_module,
    delegated_nodes,
    first_line,
    parse_delegate_options,
)
from vedliot_runner.errors import UnsupportedError
from vedliot_runner.options import MAX_THREADS, option
from vedliot_runner.record import Scalar, TensorInfo

LIBRARY = "/usr/lib/libvx_delegate.so"
CACHE_ENV = "VIV_VX_ENABLE_CACHE_GRAPH_BINARY"
CACHE_DIR_ENV = "VIV_VX_CACHE_BINARY_GRAPH_DIR"


def default_cache_dir() -> str:
    return os.environ.get("VEDLIOT_VX_CACHE") or str(Path.home() / ".cache" / "vedliot" / "vx-graphs")


@dataclasses.dataclass(frozen=True)
class VxOptions:
    delegate: str = option(LIBRARY, "the VX delegate library (default: where NXP's BSP installs it)")
    delegate_options: str = option(
        "", "key=value;key=value passed to the delegate (e.g. device_id=0)", check=_delegate_options_text
    )
    graph_cache: str = option(
        "", "directory of the compiled-graph cache (default: $VEDLIOT_VX_CACHE, else ~/.cache/vedliot/vx-graphs; "
        "'off': compile every run)",
    )  # fmt: skip
    num_threads: Optional[int] = option(
        None, "threads for operators left on the CPU (default: --threads)", minimum=1, maximum=MAX_THREADS
    )


class VxBackend(LiteRtBackend):
    name = "vx"
    Options = VxOptions

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self._cache_before: frozenset = frozenset()
        self._cpu: List[str] = []
        self._cpu_count = self._npu_count = 0

    @staticmethod
    def interpreter_module():
        return board_interpreter_module()

    def delegate_spec(self) -> Optional[Tuple[str, Dict[str, str]]]:
        return self.options.delegate, parse_delegate_options(self.options.delegate_options)

    def delegate_failed(self, library: str, exc: Exception) -> Exception:
        if isinstance(exc, OSError):
            return UnsupportedError(
                "VX delegate {} is not here ({}); on an i.MX 8M Plus it comes with NXP's BSP: mount it into "
                "the container, or give its path with --backend-option delegate=PATH".format(library, first_line(exc))
            )
        return UnsupportedError(
            "VX delegate {} did not start ({}); is the NPU there (/dev/galcore, passed to the container "
            "with --device /dev/galcore)?".format(library, first_line(exc))
        )

    def _cache_dir(self) -> Optional[Path]:
        if self.options.graph_cache == "off":
            return None
        return Path(self.options.graph_cache or default_cache_dir())

    def load(self, path: Path) -> Tuple[List[TensorInfo], List[TensorInfo]]:
        cache = self._cache_dir()
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
            os.environ[CACHE_ENV] = "1"
            os.environ[CACHE_DIR_ENV] = str(cache)
        else:
            os.environ[CACHE_ENV] = "0"
        self._cache_before = _listing(cache)
        inputs, outputs = super().load(path)
        taken = delegated_nodes(self._ops)
        originals = [op for op in self._ops if op["op_name"] != "DELEGATE"]
        self._cpu = sorted({op["op_name"] for op in originals if op["index"] not in taken})
        self._cpu_count = len(originals) - len(taken)
        self._npu_count = len(taken)
        if not taken:
            raise UnsupportedError("the VX delegate took none of the {} operators of {}".format(len(originals), path))
        return inputs, outputs

    def interpreter_kwargs(self) -> Dict:
        # XNNPACK off: NXP's guides run benchmark_model with --use_xnnpack=false
        resolver = getattr(self._module, "OpResolverType", None)
        if resolver is None:
            return {}
        return {"experimental_op_resolver_type": resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES}

    def resolved_options(self) -> Dict[str, Scalar]:
        resolved = super().resolved_options()
        cache = self._cache_dir()
        written = _listing(cache) - self._cache_before
        if cache is None:
            state = "off"
        elif written:
            state = "compiled and written ({} new file(s))".format(len(written))
        else:
            state = "no new file: an earlier run's compilation reused" if self._cache_before else "nothing written"
        resolved.update(
            {
                "graph_cache": str(cache) if cache else "off",
                "graph_cache_state": state,
                "npu_ops": self._npu_count,
                "cpu_ops": self._cpu_count,
                "cpu_op_names": ", ".join(self._cpu) or None,
            }
        )
        return resolved


def _listing(directory: Optional[Path]) -> frozenset:
    if directory is None or not directory.is_dir():
        return frozenset()
    return frozenset(p.name for p in directory.iterdir())
