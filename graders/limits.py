"""Resource limits for a run: defaults, then the spec's, then the command line's.

Kept apart from the engine so that the command line can start the sandbox child
before it imports numpy and the comparators.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .sandbox import RunLimits
from .spec import Spec
from .submission import Submission

# (per cell, whole run) in seconds: a notebook runs dozens of cells, plots included.
DEFAULT_SECONDS = {"code": (5.0, 20.0), "notebook": (15.0, 180.0)}


@dataclass(frozen=True)
class LimitOverrides:
    """Command-line limits; they win over the spec's, which win over the defaults."""

    total_seconds: float | None = None
    memory_mb: int | None = None


def limits_for(
    specs: Sequence[Spec], submission: Submission, overrides: LimitOverrides
) -> RunLimits:
    kind = "notebook" if submission.kind == "notebook" else "code"
    cell_default, total_default = DEFAULT_SECONDS[kind]
    cell = max((s.limits.cell_seconds or cell_default for s in specs), default=cell_default)
    total = max((s.limits.total_seconds or total_default for s in specs), default=total_default)
    memory = max(
        (s.limits.memory_mb or RunLimits.memory_mb for s in specs), default=RunLimits.memory_mb
    )
    if overrides.total_seconds is not None:
        total = overrides.total_seconds
        cell = min(cell, total)
    if overrides.memory_mb is not None:
        memory = overrides.memory_mb
    return RunLimits(cell_seconds=cell, total_seconds=max(total, cell), memory_mb=memory)
