"""One student's row in a batch: what was handed in and how it was graded.

The gradebook stores these, and every batch output (per-student reports, CSVs, the
class summary, Canvas feedback files) is rendered from them, so a resumed batch writes
the same files as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .results import SubmissionResult


@dataclass
class StudentRecord:
    key: str  # stable, file-name-safe id: output files are <key>.json / <key>.html
    student: str  # the name to show (from the folder, or Canvas/Gradescope metadata)
    files: list[str]  # the hand-in file(s) graded, as named in the input
    result: SubmissionResult | None  # None when nothing could be graded (see problem)
    problem: str | None = None  # one line: why the hand-in could not be graded
    notes: list[str] = field(default_factory=list)  # e.g. "3 files; graded the newest"
    late: bool = False
    duration: float = 0.0  # seconds spent grading
    lms: dict[str, str] = field(default_factory=dict)  # ids from the LMS archive
