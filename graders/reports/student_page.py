"""One student's files from a batch: ``<key>.json`` (the report format of ``grade.py
--json``) and ``<key>.html``, the HTML report (the same view, status words and rules for
hidden checks) plus the record (files, notes, lateness) and plots of the checks that did
not pass. Rendered from the StudentRecord alone, so a resumed batch writes the same files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..records import StudentRecord
from ..results import SubmissionResult
from ..safe_text import clean
from . import documents
from .plots import COLOURS, Plot, plots
from .templating import environment
from .view import CheckView, ExerciseView, ReportView, build_view


def write_student_files(record: StudentRecord, out: Path) -> None:
    """Write ``out/<key>.json`` (the engine's report format) and ``out/<key>.html``.

    A record without a result gets a JSON object with the report's top-level keys, score 0
    and ``problem``: why the hand-in could not be graded.
    """
    out.mkdir(parents=True, exist_ok=True)
    if record.result is not None:
        documents.write(record.result, out / f"{record.key}.json")
    else:
        (out / f"{record.key}.json").write_text(_problem_json(record), encoding="utf-8")
    (out / f"{record.key}.html").write_text(student_html(record), encoding="utf-8")


def student_html(record: StudentRecord) -> str:
    """One student's self-contained page: report, record and plots, all text escaped."""
    template = environment().get_template("student.html")
    return template.render(page=_student_page(record), colours=COLOURS)


def _problem_json(record: StudentRecord) -> str:
    nothing = SubmissionResult(submission=", ".join(record.files) or record.student)
    data = {**nothing.to_dict(), "problem": record.problem}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class _CheckPage:
    view: CheckView
    plots: list[Plot]


@dataclass(frozen=True)
class _ExercisePage:
    view: ExerciseView
    checks: list[_CheckPage]


@dataclass(frozen=True)
class _StudentPage:
    student: str
    points: str
    files: list[str]
    notes: list[str]
    late: bool
    problem: str
    notices: list[str]
    exercises: list[_ExercisePage]

    @property
    def has_plots(self) -> bool:
        return any(check.plots for exercise in self.exercises for check in exercise.checks)


def _student_page(record: StudentRecord) -> _StudentPage:
    result = record.result
    view = build_view(result) if result is not None else None
    return _StudentPage(
        student=clean(record.student),
        points=f"{view.points} points" if view else "not graded",
        files=[clean(name) for name in record.files],
        notes=[clean(note) for note in record.notes],
        late=record.late,
        problem=clean(record.problem or ""),
        notices=view.notices if view else [],
        exercises=_exercise_pages(result, view) if result and view else [],
    )


def _exercise_pages(result: SubmissionResult, view: ReportView) -> list[_ExercisePage]:
    """The report's view of each exercise and check, and the plots of each check."""
    pages = []
    for exercise_view, exercise in zip(view.exercises, result.exercises, strict=True):
        checks = [
            _CheckPage(check_view, plots(check))
            for check_view, check in zip(exercise_view.checks, exercise.checks, strict=True)
        ]
        pages.append(_ExercisePage(exercise_view, checks))
    return pages
