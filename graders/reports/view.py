"""The view every report of a graded hand-in is rendered from: status words, points, and
what a check may show (a hidden check only its outcome, a passed one no hint), all text a
hand-in controls made safe. Sharing it keeps the terminal, Markdown and HTML reports, the
per-student page and the class summary from disagreeing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..results import CheckResult, CheckStatus, ExerciseResult, Status, SubmissionResult
from ..safe_text import clean

# Next to a misconception's id when automatic diagnosis named it (an ``auto:`` id).
AUTOMATIC = " (found automatically)"

STATUS_WORDS = {
    Status.PASSED: "passed",
    Status.FAILED: "failed",
    Status.NOT_ATTEMPTED: "not attempted",
    Status.ERROR: "error",
    Status.TIMEOUT: "timed out",
    Status.MEMORY_LIMIT: "memory limit",
}
# The tone of a status, keyed by its value (exercise and check statuses share values): the
# terminal colour and the HTML class both follow from it.
_TONES = {
    "passed": "pass",
    "failed": "fail",
    "not_attempted": "skip",
    "error": "warn",
    "timeout": "warn",
    "memory_limit": "warn",
}


@dataclass(frozen=True)
class CheckView:
    symbol: str
    tone: str
    name: str
    points: str
    hidden: bool
    feedback: str
    hint: str
    misconception: str
    automatic: bool = False

    @property
    def found_by(self) -> str:
        """Marks a misconception nobody listed in the spec: automatic diagnosis named it."""
        return AUTOMATIC if self.automatic else ""

    @property
    def details(self) -> list[str]:
        """The lines shown under the check: its feedback, then the hint and known mistake."""
        parts = [
            self.feedback,
            self.hint and f"Hint: {self.hint}",
            self.misconception and f"Known mistake: {self.misconception}{self.found_by}",
        ]
        return [line for part in parts if part for line in part.splitlines()]


@dataclass(frozen=True)
class ExerciseView:
    id: str
    title: str
    word: str
    tone: str
    points: str
    feedback: str
    checks: list[CheckView]


@dataclass(frozen=True)
class ReportView:
    submission: str
    points: str
    notices: list[str]
    exercises: list[ExerciseView]


def build_view(result: SubmissionResult) -> ReportView:
    return ReportView(
        submission=clean(result.submission),
        points=_fraction(result.score, result.max_score),
        notices=[clean(notice) for notice in result.notices],
        exercises=[_exercise_view(exercise) for exercise in result.exercises],
    )


def _exercise_view(exercise: ExerciseResult) -> ExerciseView:
    return ExerciseView(
        id=clean(exercise.id),
        title=clean(exercise.title),
        word=STATUS_WORDS[exercise.status],
        tone=_TONES[exercise.status],
        points=_fraction(exercise.score, exercise.max_score),
        feedback=clean(exercise.feedback),
        checks=[_check_view(check) for check in exercise.checks],
    )


def _check_view(check: CheckResult) -> CheckView:
    """What a check may show: a hidden check only its outcome, a passed one no hint."""
    passed = check.status == CheckStatus.PASSED
    shown = not check.hidden
    return CheckView(
        symbol="✓" if passed else "✗",
        tone=_TONES[check.status],
        name=clean(check.name),
        points=_fraction(check.score, check.max_score),
        hidden=check.hidden,
        feedback=clean(check.feedback) if shown else "",
        hint=clean(check.hint or "") if shown and not passed else "",
        misconception=clean(check.misconception or "") if shown else "",
        automatic=check.automatic and shown,
    )


def _fraction(score: float, max_score: float) -> str:
    return f"{number(score)}/{number(max_score)}"


def number(value: float) -> str:
    """Points without float noise: 5.0 -> "5", 2/3 -> "0.67"."""
    return f"{round(value, 2):g}" if math.isfinite(value) else str(value)
