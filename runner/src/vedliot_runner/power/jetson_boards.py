"""Which tegrastats rails make a Jetson's power, per board family: data, with its evidence.

A family is recognised by rails that only its tegrastats prints. `summed` is the board's (or the
module's) input power. Where a rail feeds others (VIN on Thor, VDD_IN, POM_5V_IN), summing more
would count power twice; where no input rail is printed, the module's own rails are summed and the
record says that the carrier board is not included. `jetpack` lists the versions whose real
tegrastats lines were checked (tests/data/tegrastats/SOURCES.md); `evidence` says why.
"""

from __future__ import annotations

from typing import FrozenSet, List, NamedTuple, Optional, Tuple


class Board(NamedTuple):
    family: str
    signature: FrozenSet[str]
    summed: Tuple[str, ...]
    scope: str
    jetpack: str
    evidence: str


BOARDS = (
    Board(
        "jetson-thor", frozenset({"VDD_CPU_SOC_MSS", "VIN"}), ("VIN",), "board input (module and carrier)",
        "7.1, 7.2",
        "VIN is the carrier's input sensor, 'Jetson + carrier' (NVIDIA forum 366461); it exceeds the other rails' sum",
    ),
    Board(
        "jetson-thor", frozenset({"VDD_CPU_SOC_MSS"}), ("VDD_GPU", "VDD_CPU_SOC_MSS", "VIN_SYS_5V0"),
        "module rails only: this tegrastats printed no VIN", "7.1, 7.2",
        "some JetPack 7 images print no VIN; the module's three rails are summed, the carrier is missing",
    ),
    Board(
        "jetson-agx-orin", frozenset({"VDD_GPU_SOC", "VDD_CPU_CV"}), ("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0"),
        "module rails (no input rail printed)", "5, 6, 7.2",
        "NVIDIA's AGX Orin rail table: VDDQ_VDD2_1V8AO is included in VIN_SYS_5V0; NC is unconnected",
    ),
    Board(
        "jetson-orin-nx-nano-xavier-nx", frozenset({"VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"}), ("VDD_IN",),
        "module input", "4.6, 5, 6",
        "'VDD_IN is the total power of module' (NVIDIA forum 200883; Orin NX/Nano and Xavier NX)",
    ),
    Board(
        "jetson-tx2", frozenset({"VDD_IN", "VDD_SYS_GPU", "VDD_SYS_CPU"}), ("VDD_IN",), "module input", "4",
        "VDD_IN is the module's input (jetson_stats#51, jtop's rule)",
    ),
    Board(
        "jetson-tx1", frozenset({"VDD_IN", "VDD_CPU", "VDD_GPU"}), ("VDD_IN",), "module input", "3, 4",
        "VDD_IN is the module's input (jtop's rule)",
    ),
    Board(
        "jetson-nano", frozenset({"POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"}), ("POM_5V_IN",), "module input", "4",
        "'POM_5V_IN ... represents the total power consumption' (NVIDIA forum, quoted in jetson_stats#51)",
    ),
    Board(
        "jetson-agx-xavier", frozenset({"GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V"}),
        ("GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V"), "module rails (no input rail printed)", "4",
        "no total rail: the six are summed as jtop does; NVIDIA does not say whether they overlap",
    ),
)  # fmt: skip
# Any other board: its input rail when one of these is printed, else every rail but NC.
INPUT_RAILS = ("VIN", "VDD_IN", "POM_5V_IN")
NOT_SUMMED = frozenset({"NC"})


class Rule(NamedTuple):
    """Which rails were summed and why, as the record states it."""

    summed: List[str]
    board: Optional[str]
    source: str  # "table", "option" or "fallback"
    scope: str
    evidence: str

    def details(self) -> dict:
        return {k: v for k, v in self._asdict().items() if k != "summed" and v is not None}


def rule_for(rails: List[str], wanted: Optional[List[str]] = None) -> Rule:
    """The rails to sum for a tegrastats that prints `rails` (`wanted`: the user's choice)."""
    if wanted:
        return Rule(list(wanted), None, "option", "the rails given with tegrastats:rails=", "chosen by the user")
    present = set(rails)
    for board in BOARDS:
        if board.signature <= present and all(rail in present for rail in board.summed):
            return Rule(list(board.summed), board.family, "table", board.scope, board.evidence)
    for rail in INPUT_RAILS:
        if rail in present:
            return Rule([rail], None, "fallback", "input rail of a board not in the table", rail + " printed")
    summed = [rail for rail in rails if rail not in NOT_SUMMED]
    return Rule(summed, None, "fallback", "every rail printed: a board not in the table", "no input rail printed")
