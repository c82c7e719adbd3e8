"""Results of grading: per check, per exercise, per submission.

These are what every report (terminal, JSON, Markdown, HTML) and every LMS adapter
renders; nothing downstream re-grades, so the statuses here are final.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from .errors import EXIT_OK, EXIT_SHORT


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_ATTEMPTED = "not_attempted"
    ERROR = "error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"


@dataclass
class Curve:
    """The numbers behind a picture of one comparison: the student's values against the
    expected ones over x (for a function check, one curve per call).

    A long comparison is kept as the points a plot draws (graders.checks.numeric.MAX_CURVE_POINTS
    evenly spread, and as many of the differing points), so that evidence stays small
    whatever the student handed in; the counts describe the whole comparison.
    """

    label: str  # "" for a value check; the call's inputs for a function check
    x_name: str  # "t", "I", or "index"
    x: list[float]
    expected: list[float]
    actual: list[float] | None  # None when the answer could not be read as numbers
    mismatch: list[bool] | None = None  # per point, where actual and expected have one shape
    actual_x: list[float] | None = None  # where the actual values lie, if not at x
    points: int = -1  # values expected in all (-1: as many as listed)
    actual_points: int = -1  # values the student gave in all (-1: as many as listed)
    mismatches: int = -1  # points that differ in all (-1: as many as marked)

    def __post_init__(self) -> None:
        if self.points < 0:
            self.points = len(self.expected)
        if self.actual_points < 0:
            self.actual_points = len(self.actual) if self.actual is not None else 0
        if self.mismatches < 0:
            self.mismatches = sum(self.mismatch or [])


@dataclass
class CheckResult:
    name: str
    status: CheckStatus
    score: float
    max_score: float
    feedback: str
    misconception: str | None = None
    hint: str | None = None
    hidden: bool = False
    evidence: list[Curve] = field(default_factory=list)
    # The misconception was found by automatic diagnosis (an ``auto:`` id), not listed in the spec.
    automatic: bool = False
    # An automatic diagnosis's value as a spec expression (``PSP / dt``), for the instructor's
    # ready-to-paste ``mistakes:`` entry; None when it has none.
    suggested_value: str | None = None
    # What identifies a wrong answer's values across a class (float noise aside), so that
    # students who share a wrong answer can be grouped; None for a right or missing answer.
    fingerprint: str | None = None

    def to_dict(self, *, evidence: bool = False) -> dict[str, Any]:
        """The documented JSON fields; plot data only when asked (gradebook storage)."""
        data = {
            "name": self.name,
            "status": str(self.status),
            "score": self.score,
            "max_score": self.max_score,
            "feedback": self.feedback,
            "misconception": self.misconception,
            "automatic": self.automatic,
            "hint": self.hint,
            "hidden": self.hidden,
        }
        if evidence:
            # Stored with the plot data: the class-wide grouping reads them from the gradebook.
            data["evidence"] = [asdict(curve) for curve in self.evidence]
            data["suggested_value"] = self.suggested_value
            data["fingerprint"] = self.fingerprint
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            name=data["name"],
            status=CheckStatus(data["status"]),
            score=data["score"],
            max_score=data["max_score"],
            feedback=data["feedback"],
            misconception=data.get("misconception"),
            hint=data.get("hint"),
            hidden=data.get("hidden", False),
            evidence=[Curve(**curve) for curve in data.get("evidence", [])],
            automatic=data.get("automatic", False),
            suggested_value=data.get("suggested_value"),
            fingerprint=data.get("fingerprint"),
        )


@dataclass
class ExerciseResult:
    id: str
    title: str
    status: Status
    feedback: str
    checks: list[CheckResult] = field(default_factory=list)
    graded_cell: str | None = None  # a notebook's: the cell the answers were read after

    @property
    def score(self) -> float:
        return sum(check.score for check in self.checks)

    @property
    def max_score(self) -> float:
        return sum(check.max_score for check in self.checks)

    def to_dict(self, *, evidence: bool = False) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": str(self.status),
            "score": self.score,
            "max_score": self.max_score,
            "feedback": self.feedback,
            "checks": [check.to_dict(evidence=evidence) for check in self.checks],
            "graded_cell": self.graded_cell,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExerciseResult:
        checks = [CheckResult.from_dict(check) for check in data["checks"]]
        return cls(
            data["id"],
            data["title"],
            Status(data["status"]),
            data["feedback"],
            checks,
            data.get("graded_cell"),
        )


@dataclass
class SubmissionResult:
    submission: str
    exercises: list[ExerciseResult] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(exercise.score for exercise in self.exercises)

    @property
    def max_score(self) -> float:
        return sum(exercise.max_score for exercise in self.exercises)

    @property
    def exit_code(self) -> int:
        """EXIT_OK when every exercise passed, EXIT_SHORT when graded but short of full marks."""
        full = all(exercise.status == Status.PASSED for exercise in self.exercises)
        return EXIT_OK if self.exercises and full else EXIT_SHORT

    def to_dict(self, *, evidence: bool = False) -> dict[str, Any]:
        """The documented JSON object; ``evidence`` adds the plot data of each check."""
        return {
            "submission": self.submission,
            "score": self.score,
            "max_score": self.max_score,
            "exercises": [exercise.to_dict(evidence=evidence) for exercise in self.exercises],
            "notices": list(self.notices),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        exercises = [ExerciseResult.from_dict(exercise) for exercise in data["exercises"]]
        return cls(data["submission"], exercises, list(data.get("notices", [])))


@dataclass
class Comparison:
    """A comparator's conclusion about one check, before points and hints are attached.

    ``attempted`` is False when the answer is missing or still a placeholder, so the
    exercise can be reported as not attempted rather than wrong.
    """

    passed: bool
    feedback: str
    misconception: str | None = None
    attempted: bool = True
    evidence: list[Curve] = field(default_factory=list)
    automatic: bool = False  # see CheckResult
    suggested_value: str | None = None  # see CheckResult
    fingerprint: str | None = None  # see CheckResult
