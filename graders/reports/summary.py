"""The class summary of a batch, ``summary.html`` and ``summary.md``, for the instructor.

Counted record by record (a class of ten thousand is never in memory at once), so a
resumed batch writes the same summary as an uninterrupted one.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ..records import StudentRecord
from ..results import CheckStatus, Status
from ..safe_text import clean
from ..spec import Spec
from .groups import Group, SharedAnswers
from .plots import COLOURS, Plot, group_plot
from .templating import environment
from .totals import max_points, scores
from .view import STATUS_WORDS, number

# A status beyond the student's answers being wrong: listed in the summary for a closer look.
_TROUBLE = (Status.ERROR, Status.TIMEOUT, Status.MEMORY_LIMIT)
_MOST_FREQUENT_MISTAKES = 10
# Groups of students sharing a wrong answer shown per check, the largest; `grade.py mistakes`
# lists them all.
_GROUPS_PER_CHECK = 10
_MAX_BINS = 20
_MARKDOWN_BAR_WIDTH = 30
# The histogram's inline SVG, in pixels.
_CHART_HEIGHT = 120
_BAR_STEP = 28


@dataclass(frozen=True)
class _Bin:
    label: str
    count: int
    bar: str  # the Markdown bar
    x: int  # the SVG bar
    y: int
    height: int


@dataclass(frozen=True)
class _CheckStats:
    name: str
    hidden: bool
    passed: str


@dataclass(frozen=True)
class _ExerciseStats:
    id: str
    title: str
    counts: list[int]  # per status, in the order of _Summary.statuses
    passed: str
    checks: list[_CheckStats]


@dataclass(frozen=True)
class _MistakeStats:
    exercise: str
    check: str
    id: str
    count: int
    share: str
    automatic: bool = False  # named by automatic diagnosis, not listed in the spec


@dataclass(frozen=True)
class _Student:
    name: str
    href: str


@dataclass(frozen=True)
class _GroupStats:
    exercise: str
    check: str
    size: int
    diagnosis: str
    students: list[_Student]
    unnamed: int  # students of the group not listed by name
    plot: Plot | None
    suggestion: str | None


@dataclass(frozen=True)
class _SharedStats:
    """One check's groups of students sharing a wrong answer, the largest first."""

    exercise: str
    check: str
    groups: list[_GroupStats]
    more: int  # groups of two or more not shown


@dataclass(frozen=True)
class _Trouble:
    student: str
    key: str
    href: str
    what: str


@dataclass(frozen=True)
class _Summary:
    students: int
    graded: int
    max_points: str
    mean: str
    median: str
    bins: list[_Bin]
    bin_note: str
    chart_width: int
    chart_height: int
    statuses: list[str]
    exercises: list[_ExerciseStats]
    mistakes: list[_MistakeStats]
    shared: list[_SharedStats]
    trouble: list[_Trouble]
    elapsed: str
    per_submission: str
    grading_mean: str


def write_summary(
    records: Sequence[StudentRecord], specs: list[Spec], out: Path, *, elapsed: float
) -> None:
    """Write ``out/summary.html`` and ``out/summary.md`` for the instructor.

    They give the number of students, the distribution of the totals of the graded
    hand-ins, each exercise's statuses and pass rate, each check's pass rate (hidden ones
    included), the most frequent known mistakes, the wrong answers several students share
    (per check, with their diagnosis, a plot when ``records`` carry the evidence curves,
    and a ``mistakes:`` entry to paste), the students whose hand-in errored, timed
    out, hit the memory limit or could not be graded (linked to ``<key>.html``, so the
    student files must be written to the same ``out``), how long the batch took
    (``elapsed`` seconds, in all and per submission) and the mean time spent grading one.
    """
    summary = _summary(records, specs, elapsed)
    templates = environment()
    out.mkdir(parents=True, exist_ok=True)
    for name in ("summary.html", "summary.md"):
        text = templates.get_template(name).render(summary=summary, colours=COLOURS)
        (out / name).write_text(text, encoding="utf-8")


def _summary(records: Sequence[StudentRecord], specs: list[Spec], elapsed: float) -> _Summary:
    tally = _Tally()
    for record in records:
        tally.add(record, specs)
    totals, maximum = tally.totals, max_points(specs)
    bins, bin_note = _histogram(totals, maximum)
    students = tally.students
    return _Summary(
        students=students,
        graded=len(totals),
        max_points=number(maximum),
        mean=number(statistics.fmean(totals)) if totals else "—",
        median=number(statistics.median(totals)) if totals else "—",
        bins=bins,
        bin_note=bin_note,
        chart_width=len(bins) * _BAR_STEP,
        chart_height=_CHART_HEIGHT,
        statuses=[STATUS_WORDS[status] for status in Status],
        exercises=[_exercise_stats(spec, tally) for spec in specs],
        mistakes=_mistake_stats(tally),
        shared=_shared_stats(tally.shared.groups(), specs, records),
        trouble=sorted(tally.trouble, key=lambda item: (item.student.casefold(), item.key)),
        elapsed=_duration(elapsed),
        per_submission=_duration(elapsed / students) if students else "—",
        grading_mean=_duration(tally.grading_seconds / students) if students else "—",
    )


class _Tally:
    """What the summary counts, gathered record by record: a class of ten thousand is
    never in memory at once, only a number per graded hand-in (its total, for the median)."""

    def __init__(self) -> None:
        self.students = 0
        self.grading_seconds = 0.0
        self.totals: list[float] = []
        self.statuses: dict[str, Counter[Status]] = {}  # per exercise graded
        self.passed_checks: dict[str, Counter[str]] = {}
        self.mistakes: Counter[tuple[str, str, str]] = Counter()  # (exercise, check, mistake)
        self.automatic: set[str] = set()  # the mistake ids automatic diagnosis gave
        self.trouble: list[_Trouble] = []
        self.shared = SharedAnswers()

    def add(self, record: StudentRecord, specs: list[Spec]) -> None:
        self.students += 1
        self.shared.add(record)
        self.grading_seconds += record.duration
        trouble = _trouble(record)
        if trouble is not None:
            self.trouble.append(trouble)
        if record.result is None:
            return
        self.totals.append(sum(scores(record, specs).values()))
        for exercise in record.result.exercises:
            self.statuses.setdefault(exercise.id, Counter())[exercise.status] += 1
            passed = self.passed_checks.setdefault(exercise.id, Counter())
            for check in exercise.checks:
                if check.status == CheckStatus.PASSED:
                    passed[check.name] += 1
                if check.misconception:
                    self.mistakes[exercise.id, check.name, check.misconception] += 1
                    if check.automatic:
                        self.automatic.add(check.misconception)

    def graded(self, exercise: str) -> int:
        """The hand-ins in which this exercise was graded."""
        return sum(self.statuses.get(exercise, Counter()).values())


def _exercise_stats(spec: Spec, tally: _Tally) -> _ExerciseStats:
    """Pass rates among the hand-ins in which this exercise was graded."""
    statuses = tally.statuses.get(spec.id, Counter())
    passed_checks = tally.passed_checks.get(spec.id, Counter())
    graded = tally.graded(spec.id)
    return _ExerciseStats(
        id=spec.id,
        title=spec.title,
        counts=[statuses[status] for status in Status],
        passed=_rate(statuses[Status.PASSED], graded),
        checks=[
            _CheckStats(check.name, check.hidden, _rate(passed_checks[check.name], graded))
            for check in spec.checks
        ],
    )


def _mistake_stats(tally: _Tally) -> list[_MistakeStats]:
    """The most frequent known mistakes; each one's share is of the hand-ins in which its
    exercise was graded."""
    ranked = sorted(tally.mistakes.items(), key=lambda item: (-item[1], item[0]))
    return [
        _MistakeStats(
            exercise,
            check,
            mistake,
            count,
            _share(count, tally.graded(exercise)),
            mistake in tally.automatic,
        )
        for (exercise, check, mistake), count in ranked[:_MOST_FREQUENT_MISTAKES]
    ]


def _shared_stats(
    groups: list[Group], specs: list[Spec], records: Sequence[StudentRecord]
) -> list[_SharedStats]:
    """Per check, in the specs' order, its largest groups (each drawn from the evidence of
    its first student, read again: the tally keeps no curve)."""
    by_check: dict[tuple[str, str], list[Group]] = {}
    for group in groups:
        by_check.setdefault((group.exercise, group.check), []).append(group)
    shared = []
    for spec in specs:
        for check in spec.checks:
            found = by_check.get((spec.id, check.name), [])
            if found:
                shown = [_group_stats(group, records) for group in found[:_GROUPS_PER_CHECK]]
                more = len(found) - len(shown)
                shared.append(_SharedStats(spec.id, check.name, shown, more))
    return shared


def _group_stats(group: Group, records: Sequence[StudentRecord]) -> _GroupStats:
    first = records[group.first].result
    checks = [
        check
        for exercise in (first.exercises if first else [])
        if exercise.id == group.exercise
        for check in exercise.checks
        if check.name == group.check
    ]
    return _GroupStats(
        exercise=group.exercise,
        check=group.check,
        size=group.size,
        diagnosis=group.diagnosis,
        students=[
            _Student(_one_line(member.student), quote(member.key) + ".html")
            for member in group.members
        ],
        unnamed=group.size - len(group.members),
        plot=group_plot(checks[0], group.size) if checks else None,
        suggestion=group.suggestion,
    )


def _trouble(record: StudentRecord) -> _Trouble | None:
    """The line of the summary's trouble list for this student, if they are in it."""
    if record.result is None:
        what = f"not graded: {record.problem or 'no result'}"
    else:
        what = "; ".join(
            f"{exercise.id}: {STATUS_WORDS[exercise.status]}"
            for exercise in record.result.exercises
            if exercise.status in _TROUBLE
        )
    if not what:
        return None
    return _Trouble(
        student=_one_line(record.student),
        key=record.key,
        href=quote(record.key) + ".html",
        what=_one_line(what),
    )


def _histogram(totals: list[float], maximum: float) -> tuple[list[_Bin], str]:
    """Bars of whole points (wider when the maximum is large), the top score in the last."""
    width = max(1, math.ceil(maximum / _MAX_BINS))
    count = math.floor(maximum / width) + 1
    counts = [0] * count
    for total in totals:
        # Rounded first: 2.9999999999 is 3 points, not a bar lower.
        counts[min(math.floor(round(total / width, 6)), count - 1)] += 1
    tallest = max(counts) or 1
    bins = []
    for index, students in enumerate(counts):
        low = index * width
        height = round(students / tallest * _CHART_HEIGHT)
        bins.append(
            _Bin(
                label=str(low) if width == 1 else f"{low}–{low + width}",
                count=students,
                bar="█" * round(students / tallest * _MARKDOWN_BAR_WIDTH),
                x=index * _BAR_STEP,
                y=_CHART_HEIGHT - height,
                height=height,
            )
        )
    if width == 1:
        return bins, "Each bar counts the totals with that many whole points."
    return bins, "Each bar counts the totals from its first number up to below its second."


def _one_line(text: str) -> str:
    """Student text for a table cell: a line break would end a Markdown table row."""
    return " ".join(clean(text).split())


def _rate(passed: int, total: int) -> str:
    return f"{passed}/{total} ({_share(passed, total)})" if total else "—"


def _share(part: int, total: int) -> str:
    return f"{part / total:.0%}"


def _duration(seconds: float) -> str:
    """14 ms, 12.3 s, 4 min 05 s, 1 h 02 min: as precise as a reader of a batch summary
    needs (a warm pool grades a .py hand-in in a few hundredths of a second)."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
