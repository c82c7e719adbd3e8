"""``gradebook.csv``: one row per student, every cell safe to open in a spreadsheet.

Columns: student, key, one per exercise (its score), total, max, status (how many
exercises ended how), late, problem. A hand-in that could not be graded has blank scores.
Canvas's import layout is built in graders.lms.canvas and written by ``write_rows``.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..records import StudentRecord
from ..results import Status
from ..spec import Spec
from .totals import max_points, points, scores, total
from .view import STATUS_WORDS, number

# A cell starting with one of these is run as a formula by spreadsheets (OWASP, "CSV
# Injection"); a leading single quote makes it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_gradebook_csv(records: list[StudentRecord], specs: list[Spec], path: Path) -> None:
    write_rows(_rows(records, specs), path)


def write_rows(rows: Iterable[list[str]], path: Path) -> None:
    """Write a CSV, each cell a spreadsheet would run as a formula prefixed with a quote."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([_cell(value) for value in row] for row in rows)


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _rows(records: list[StudentRecord], specs: list[Spec]) -> Iterator[list[str]]:
    ids = [spec.id for spec in specs]
    maximum = number(max_points(specs))
    yield ["student", "key", *ids, "total", "max", "status", "late", "problem"]
    for record in records:
        graded = scores(record, specs)
        yield [
            record.student,
            record.key,
            *[points(graded.get(exercise_id)) for exercise_id in ids],
            points(total(record, specs)),
            maximum,
            _status_summary(record),
            "yes" if record.late else "no",
            record.problem or "",
        ]


def _status_summary(record: StudentRecord) -> str:
    if record.result is None:
        return "not graded"
    counts = Counter(exercise.status for exercise in record.result.exercises)
    return ", ".join(
        f"{counts[status]} {STATUS_WORDS[status]}" for status in Status if counts[status]
    )
