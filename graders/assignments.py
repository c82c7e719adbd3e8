"""Which exercises a notebook is graded against, and from which of its cells.

A notebook belongs to the assignment whose handed-out exercises it holds, recognised by
each spec's ``markers`` (the exercise's heading, distinctive lines of its handed-out
cell), never by the names its code defines: Tutorial 2's given code defines ``V`` and
``Spike`` without attempting anything.

Each exercise is graded from its own cell: the first code cell that assigns one of its
answers, at or after the first cell holding one of its markers (the heading, the
handed-out cell, or in an instructor notebook its markdown copy before the solution).
Later cells that assign an answer again are graded too, and count only where they do
better (see ``engine``): a student who solved the exercise and then explored keeps the
points. Nothing here runs student code; cells are only searched and parsed.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence

from .errors import AssignmentError
from .source_analysis import assigned_names
from .spec import Spec, of_assignment
from .submission import Submission


def exercises_for(
    submission: Submission, specs: Sequence[Spec], assignment: str | None = None
) -> list[Spec]:
    """The exercises to grade a hand-in against: those of ``assignment`` when it is named
    (SpecError if none is); for a notebook, every exercise of the assignment whose
    handed-out cells it holds, so that a student and the instructor see the same maximum;
    otherwise ``specs``."""
    if assignment is not None:
        return of_assignment(specs, assignment)
    if submission.kind != "notebook":
        return list(specs)
    inferred = infer_assignment(submission, specs)
    if inferred is None:
        known = sorted({spec.assignment for spec in specs if spec.assignment})
        raise AssignmentError(
            f"{submission.name} matches no assignment of the course: it holds none of the "
            f"handed-out exercises of {', '.join(known) or 'any assignment'}"
        )
    return of_assignment(specs, inferred)


@functools.cache
def _pattern(marker: str) -> re.Pattern[str]:
    # Whole words only: "Interactive Demo 2.3" must not match Tutorial 2's "Demo 2.3.1".
    return re.compile(rf"(?<!\w){re.escape(marker)}(?!\.?\w)", re.IGNORECASE)


def holds_marker(spec: Spec, text: str) -> bool:
    return any(_pattern(marker).search(text) for marker in spec.markers)


def _sources(submission: Submission) -> list[tuple[int, str]]:
    """Every cell's (index, source) in notebook order, markdown included."""
    cells = [(cell.index, cell.source) for cell in submission.cells]
    cells += [(cell.index, cell.source) for cell in submission.texts]
    return sorted(cells)


def infer_assignment(submission: Submission, specs: Sequence[Spec]) -> str | None:
    """The assignment most of whose exercises the notebook holds, or None if it holds none."""
    sources = _sources(submission)
    found = Counter(
        spec.assignment
        for spec in specs
        if spec.assignment is not None and any(holds_marker(spec, text) for _, text in sources)
    )
    # Ties go to the first in name order, so that the choice never depends on file order.
    return min(found, key=lambda name: (-found[name], name)) if found else None


@functools.lru_cache(maxsize=256)  # each cell is parsed once for all exercises
def _assigned(source: str) -> frozenset[str]:
    return frozenset(assigned_names(source))


def graded_cells(spec: Spec, submission: Submission) -> list[int]:
    """The cells (``CodeCell.index``) to grade the exercise from: its own cell first, then
    each later cell that assigns one of its answers; [] when no cell assigns one.

    A .py is one cell. In a notebook whose markers are missing (the heading edited away),
    or whose answers all come before them, every answering cell is a candidate.
    """
    names = set(spec.answer_names)
    answering = [c.index for c in submission.cells if names & _assigned(c.source)]
    anchor = next((index for index, text in _sources(submission) if holds_marker(spec, text)), None)
    after = [index for index in answering if anchor is not None and index >= anchor]
    return after or answering
