"""What an Edge TPU model runs where, because CPU fallback silently dominates latency.

- The graph: edgetpu_compiler puts every operator it maps into one `edgetpu-custom-op` per Edge
  TPU subgraph; the operators left outside run on the CPU. LiteRT lists a model's operators
  without allocating it (allocation is what fails without the delegate: "Encountered unresolved
  custom op: edgetpu-custom-op"), so the split is read before the delegate is loaded. A model with
  no such operator was not compiled for the Edge TPU.
- The compiler's output, console or operation log (`<model>_edgetpu.log`): "Number of operations
  that will run on Edge TPU: 2" / "... on CPU: 34" (printed only when some fall back), "Total number
  of operations", "Number of Edge TPU subgraphs", and the table "Operator  Count  Status" whose
  status is "Mapped to Edge TPU" or why not. The formats are those of real outputs of compiler
  versions 15 and 16 (tests/data/edgetpu).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Dict, Iterable, List, Optional

CUSTOM_OP = "edgetpu-custom-op"
MAPPED = "Mapped to Edge TPU"


@dataclasses.dataclass(frozen=True)
class GraphSplit:
    tpu_subgraphs: int
    #: operators outside the Edge TPU subgraphs (they run on the CPU), by name
    cpu_ops: Dict[str, int]

    @property
    def compiled(self) -> bool:
        return self.tpu_subgraphs > 0

    @property
    def cpu_op_count(self) -> int:
        return sum(self.cpu_ops.values())

    def describe(self) -> str:
        if not self.compiled:
            return "not compiled for the Edge TPU (no {})".format(CUSTOM_OP)
        cpu = ", ".join("{} x{}".format(name, n) for name, n in sorted(self.cpu_ops.items())) or "none"
        return "{} Edge TPU subgraph(s); operators on the CPU: {}".format(self.tpu_subgraphs, cpu)


def graph_split(op_names: Iterable[str]) -> GraphSplit:
    subgraphs, cpu = 0, {}  # type: int, Dict[str, int]
    for name in op_names:
        if name == CUSTOM_OP:
            subgraphs += 1
        else:
            cpu[name] = cpu.get(name, 0) + 1
    return GraphSplit(subgraphs, cpu)


def read_graph(path: str, interpreter_module) -> GraphSplit:
    """The split of a .tflite file, read through LiteRT without allocating it."""
    interpreter = interpreter_module.Interpreter(model_path=str(path))
    return graph_split(op["op_name"] for op in interpreter._get_ops_details())


@dataclasses.dataclass(frozen=True)
class OperatorRow:
    name: str
    count: int
    status: str

    @property
    def mapped(self) -> bool:
        return self.status == MAPPED


@dataclasses.dataclass(frozen=True)
class CompilerReport:
    version: Optional[str]
    succeeded: Optional[bool]
    subgraphs: Optional[int]
    total_ops: Optional[int]
    tpu_ops: Optional[int]
    cpu_ops: Optional[int]
    operators: List[OperatorRow]
    #: why it failed, as the compiler said it
    failure: Optional[str] = None


_NUMBERS = {
    "subgraphs": re.compile(r"^Number of Edge TPU subgraphs: (\d+)", re.M),
    "total_ops": re.compile(r"^Total number of operations: (\d+)", re.M),
    "tpu_ops": re.compile(r"^Number of operations that will run on Edge TPU: (\d+)", re.M),
    "cpu_ops": re.compile(r"^Number of operations that will run on CPU: (\d+)", re.M),
}
_VERSION = re.compile(r"Edge TPU Compiler version (\S+)")
_ROW = re.compile(r"^(\S+)\s+(\d+)\s{2,}(\S.*?)\s*$")
_FAILED = re.compile(r"^(Compilation failed.*?|.*Compilation failed!)\s*$", re.M)


def parse_compiler_output(text: str) -> CompilerReport:
    """The compiler's console output or operation log, as printed."""
    found = {key: int(m.group(1)) if m else None for key, m in ((k, p.search(text)) for k, p in _NUMBERS.items())}
    rows = _table(text)
    if rows and found["tpu_ops"] is None:
        found["tpu_ops"] = sum(r.count for r in rows if r.mapped)
        found["cpu_ops"] = sum(r.count for r in rows if not r.mapped)
    elif found["tpu_ops"] is None and found["total_ops"] is not None and "will instead run on the CPU" not in text:
        found["tpu_ops"], found["cpu_ops"] = found["total_ops"], 0  # a fully mapped model prints no split
    version = _VERSION.search(text)
    failure = _FAILED.search(text)
    succeeded = None
    if failure:
        succeeded = False
    elif "compiled successfully" in text or "Compilation succeeded" in text:
        succeeded = True
    return CompilerReport(
        version=version.group(1) if version else None,
        succeeded=succeeded,
        operators=rows,
        failure=failure.group(1).strip() if failure else None,
        **found,
    )


def _table(text: str) -> List[OperatorRow]:
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if re.match(r"^Operator\s+Count\s+Status\s*$", line))
    except StopIteration:
        return []
    rows = []
    for line in lines[start + 1 :]:
        match = _ROW.match(line)
        if match:
            rows.append(OperatorRow(match.group(1), int(match.group(2)), match.group(3)))
        elif rows and line.strip():
            break
    return rows
