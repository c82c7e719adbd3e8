"""A student's points over the specs of a batch, as the gradebook CSVs and the summary count
them: only the specs' exercises, and no total at all for a hand-in that was not graded."""

from __future__ import annotations

from ..records import StudentRecord
from ..spec import Spec
from .view import number


def max_points(specs: list[Spec]) -> float:
    return sum(spec.max_score for spec in specs)


def scores(record: StudentRecord, specs: list[Spec]) -> dict[str, float]:
    """The score of each of the specs' exercises that was graded for this record."""
    wanted = {spec.id for spec in specs}
    exercises = record.result.exercises if record.result else []
    return {exercise.id: exercise.score for exercise in exercises if exercise.id in wanted}


def total(record: StudentRecord, specs: list[Spec]) -> float | None:
    """The sum over the specs' exercises; None when the hand-in was not graded."""
    return sum(scores(record, specs).values()) if record.result is not None else None


def points(score: float | None) -> str:
    """A cell's points: blank for no score, rather than a zero the grader cannot vouch for."""
    return "" if score is None else number(score)
