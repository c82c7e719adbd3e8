"""What `grade.py batch` writes: per-student files, gradebook CSVs, the class summary, and
the feedback zip for Canvas's "Re-Upload Submissions".

Everything is rendered from StudentRecords (graders.records), one student at a time, so a
resumed batch writes the same files as an uninterrupted one. A student's page is the HTML
report of graders.report (the same view, status words and rules for hidden checks) plus
the record (files, notes, lateness) and plots of the checks that did not pass: the
student's values against the expected ones, with the points that differ in red.

Canvas ids are read from ``record.lms`` (all optional, all strings):

- ``user_id``: the Canvas user id: the gradebook's ``ID`` column and the feedback names.
- ``sis_user_id``, ``sis_login_id``, ``section``: the gradebook's other student columns.
- ``assignment_id``, ``assignment_title``: the gradebook's assignment column.
- ``filename``: the hand-in's entry name in the downloaded submissions zip
  (``smithjohn_LATE_12345_678901_calc_hw3.py``); its feedback file gets the same name with
  the extension ``.html``.
- ``name``, ``submission_id`` (the number after the user id, Canvas's attachment id) and
  ``original_name`` (the file's own name): the parts a feedback name is built from when
  ``filename`` is absent.
"""

from __future__ import annotations

import csv
import json
import math
import re
import statistics
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from graders import report
from graders.compare import spread
from graders.records import StudentRecord
from graders.results import CheckResult, CheckStatus, Curve, Status, SubmissionResult
from graders.spec import Spec

if TYPE_CHECKING:
    import numpy as np

# A check shows at most this many plots: a function check's first call (the tutorial's own
# inputs) and its first failing calls; more pictures of the same mistake add nothing.
PLOTS_PER_CHECK = 4
# Longer curves are thinned to keep each inline SVG a few tens of kilobytes.
MAX_PLOT_POINTS = 500
# Beyond this many red markers, one path of small squares is smaller than a circle each.
_MAX_MARKERS = 200
# The plots' inline SVG, in its own units: the whole, and the box the data is drawn in
# (room left of it for the y tick labels, and below it for the x ticks and the x name).
_PLOT_WIDTH, _PLOT_HEIGHT = 560, 220
_PLOT_LEFT, _PLOT_TOP, _PLOT_RIGHT, _PLOT_BOTTOM = 70, 10, 550, 176
# The plots' colours, explained once in the page's legend rather than in every plot.
_COLOURS = {"expected": "#8c959f", "actual": "#0969da", "mismatch": "#cf222e"}

# A cell starting with one of these is run as a formula by spreadsheets (OWASP, "CSV
# Injection"); a leading single quote makes it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CANVAS_POINTS_POSSIBLE = "    Points Possible"
_CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
# What Canvas replaces (by one "_") in a file's display name; it also keeps every entry of
# the feedback zip a plain file name, with no folders and no "..".
_CANVAS_UNSAFE = re.compile(r'[\x00/\\:*?"<>|]+')
_DIGITS = re.compile(r"[0-9]+")

# A status beyond the student's answers being wrong: listed in the summary for a closer look.
_TROUBLE = (Status.ERROR, Status.TIMEOUT, Status.MEMORY_LIMIT)
_MOST_FREQUENT_MISTAKES = 10
_MAX_BINS = 20
_MARKDOWN_BAR_WIDTH = 30
# The histogram's inline SVG, in pixels.
_CHART_HEIGHT = 120
_BAR_STEP = 28


# --- Per-student files -----------------------------------------------------------------------


def write_student_files(record: StudentRecord, out: Path) -> None:
    """Write ``out/<key>.json`` (the engine's report format) and ``out/<key>.html``.

    A record without a result gets a JSON object with the report's top-level keys, score 0
    and ``problem``: why the hand-in could not be graded.
    """
    out.mkdir(parents=True, exist_ok=True)
    if record.result is not None:
        report.write(record.result, out / f"{record.key}.json")
    else:
        (out / f"{record.key}.json").write_text(_problem_json(record), encoding="utf-8")
    (out / f"{record.key}.html").write_text(student_html(record), encoding="utf-8")


def student_html(record: StudentRecord) -> str:
    """One student's self-contained page: report, record and plots, all text escaped."""
    template = report.environment().get_template("student.html")
    return template.render(page=_student_page(record), colours=_COLOURS)


def _problem_json(record: StudentRecord) -> str:
    nothing = SubmissionResult(submission=", ".join(record.files) or record.student)
    data = {**nothing.to_dict(), "problem": record.problem}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class _Plot:
    figure: _Figure
    caption: str


@dataclass(frozen=True)
class _CheckPage:
    view: report.CheckView
    plots: list[_Plot]


@dataclass(frozen=True)
class _ExercisePage:
    view: report.ExerciseView
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
    view = report.build_view(result) if result is not None else None
    return _StudentPage(
        student=report.clean(record.student),
        points=f"{view.points} points" if view else "not graded",
        files=[report.clean(name) for name in record.files],
        notes=[report.clean(note) for note in record.notes],
        late=record.late,
        problem=report.clean(record.problem or ""),
        notices=view.notices if view else [],
        exercises=_exercise_pages(result, view) if result and view else [],
    )


def _exercise_pages(result: SubmissionResult, view: report.ReportView) -> list[_ExercisePage]:
    """The report's view of each exercise and check, and the plots of each check."""
    pages = []
    for exercise_view, exercise in zip(view.exercises, result.exercises, strict=True):
        checks = [
            _CheckPage(check_view, _plots(check))
            for check_view, check in zip(exercise_view.checks, exercise.checks, strict=True)
        ]
        pages.append(_ExercisePage(exercise_view, checks))
    return pages


# --- Plots -----------------------------------------------------------------------------------


def _plots(check: CheckResult) -> list[_Plot]:
    """Pictures of a check that did not pass; a hidden check shows none (nor the engine's
    evidence, which it strips too: a plot would give the expected values away)."""
    if check.hidden or check.status == CheckStatus.PASSED:
        return []
    plots = []
    for curve in _chosen_curves(check.evidence):
        figure = _Figure.of(_Lines.of(curve), check.name)
        caption = _caption(curve)
        if figure.squares:
            drawn, wrong = figure.marked, curve.mismatches
            caption += " (marked by small squares"
            caption += f", {drawn} of them evenly spread)" if drawn < wrong else ")"
        plots.append(_Plot(figure, caption))
    return plots


def _chosen_curves(curves: list[Curve]) -> list[Curve]:
    """The first curve (a function's first call uses the tutorial's own inputs), then the
    failing ones, at most PLOTS_PER_CHECK; curves without points are not drawn."""
    drawable = [curve for curve in curves if curve.expected]
    failing = [curve for curve in drawable[1:] if not _matches(curve)]
    return (drawable[:1] + failing)[:PLOTS_PER_CHECK]


def _matches(curve: Curve) -> bool:
    return curve.actual is not None and curve.mismatch is not None and not any(curve.mismatch)


def _caption(curve: Curve) -> str:
    expected = curve.points
    if curve.actual is None:
        finding = "your answer could not be read as numbers: only the expected values are drawn"
    elif curve.actual_points != expected:
        finding = (
            f"your answer has {curve.actual_points} values where {expected} are expected; "
            "they are drawn position by position"
        )
    elif curve.mismatch is None:
        finding = "your values and the expected ones"
    elif mismatches := curve.mismatches:
        finding = f"differs at {mismatches} of {expected} points"
    else:
        finding = f"matches at all {expected} points"
    if curve.label:
        return f"{report.clean(curve.label)}: {finding}"
    return finding[0].upper() + finding[1:]


@dataclass(frozen=True)
class _Lines:
    """The points to draw for one curve: thinned, non-finite values left out of the lines."""

    x_name: str
    expected: tuple[np.ndarray, np.ndarray]
    actual: tuple[np.ndarray, np.ndarray]
    mismatch: tuple[np.ndarray, np.ndarray]

    @classmethod
    def of(cls, curve: Curve) -> _Lines:
        import numpy as np

        expected = np.asarray(curve.expected, dtype=float)  # None (stored NaN) becomes NaN
        actual = np.asarray(curve.actual if curve.actual is not None else [], dtype=float)
        x_name, x = curve.x_name, np.asarray(curve.x, dtype=float)
        if curve.actual_x is not None:
            x_actual = np.asarray(curve.actual_x, dtype=float)
        elif len(actual) in (0, len(expected)):
            x_actual = x[: len(actual)]
        else:  # lengths differ: the student's values are compared position by position
            x_name, x, x_actual = "index", np.arange(len(expected)), np.arange(len(actual))
        flags = curve.mismatch if curve.mismatch is not None and len(actual) else []
        wrong = np.flatnonzero(np.asarray(flags, dtype=bool))
        finite = np.isfinite(actual)
        # A non-finite answer is marked at the expected value: it has no place of its own.
        marked = np.where(finite[wrong], actual[wrong], expected[wrong])
        shown, shown_actual, marks = (
            spread(count, MAX_PLOT_POINTS) for count in (len(x), len(x_actual), len(wrong))
        )
        return cls(
            x_name=x_name,
            expected=(x[shown], np.where(np.isfinite(expected), expected, np.nan)[shown]),
            actual=(x_actual[shown_actual], np.where(finite, actual, np.nan)[shown_actual]),
            mismatch=(x[wrong][marks], marked[marks]),
        )


@dataclass(frozen=True)
class _Tick:
    at: str  # in the SVG's units
    label: str


@dataclass(frozen=True)
class _Axis:
    """A data range [low, high] drawn from ``start`` to ``end`` (SVG units; y runs upwards)."""

    low: float
    high: float
    start: int
    end: int

    @classmethod
    def over(cls, values: np.ndarray, start: int, end: int, *, pad: float) -> _Axis:
        """The range of the finite ``values``, widened by ``pad`` of its span at each end;
        a single value (or none) gets a range around it."""
        if not len(values):
            return cls(0.0, 1.0, start, end)
        low, high = float(values.min()), float(values.max())
        span = high - low
        if not span > 1e-9 * max(abs(low), abs(high)) or not math.isfinite(span):
            half = abs(low) / 10 or 1.0
            return cls(low - half, high + half, start, end)
        return cls(low - pad * span, high + pad * span, start, end)

    def place(self, values: np.ndarray) -> np.ndarray:
        """The SVG coordinates of ``values``, to a tenth of a unit."""
        return (
            self.start + (values - self.low) / (self.high - self.low) * (self.end - self.start)
        ).round(1)

    def ticks(self) -> list[_Tick]:
        """The ends and the middle, labelled with 3 significant digits."""
        ticks = []
        for share in (0.0, 0.5, 1.0):
            value = self.low + share * (self.high - self.low)
            if abs(value) < 1e-9 * (self.high - self.low):  # not 1e-17 for the 0 in -1..1
                value = 0.0
            at = self.start + share * (self.end - self.start)
            ticks.append(_Tick(f"{at:.1f}".removesuffix(".0"), f"{value + 0.0:.3g}"))
        return ticks


@dataclass(frozen=True)
class _Figure:
    """A line plot, drawn as an inline SVG by the student template: its coordinates are
    computed here, like the summary's histogram, and its labels escaped by the template."""

    x_name: str
    y_name: str
    x_ticks: list[_Tick]
    y_ticks: list[_Tick]
    expected: str  # path data; a missing value breaks the line
    actual: str
    circles: list[tuple[float, float]]  # one red marker per differing point ...
    squares: str  # ... or, beyond _MAX_MARKERS of them, one path of small squares
    marked: int
    width: int = _PLOT_WIDTH
    height: int = _PLOT_HEIGHT
    left: int = _PLOT_LEFT
    top: int = _PLOT_TOP
    right: int = _PLOT_RIGHT
    bottom: int = _PLOT_BOTTOM

    @classmethod
    def of(cls, lines: _Lines, y_name: str) -> _Figure:
        import numpy as np

        parts = (lines.expected, lines.actual, lines.mismatch)
        xs = np.concatenate([part[0] for part in parts])
        ys = np.concatenate([part[1] for part in parts])
        finite = np.isfinite(xs) & np.isfinite(ys)
        x_axis = _Axis.over(xs[finite], _PLOT_LEFT, _PLOT_RIGHT, pad=0.0)
        y_axis = _Axis.over(ys[finite], _PLOT_BOTTOM, _PLOT_TOP, pad=0.08)
        mx, my = x_axis.place(lines.mismatch[0]), y_axis.place(lines.mismatch[1])
        keep = np.isfinite(mx) & np.isfinite(my)
        marks = list(zip(mx[keep].tolist(), my[keep].tolist(), strict=True))
        many = len(marks) > _MAX_MARKERS
        return cls(
            x_name=lines.x_name,
            y_name=y_name,
            x_ticks=x_axis.ticks(),
            y_ticks=y_axis.ticks(),
            expected=_path(x_axis.place(lines.expected[0]), y_axis.place(lines.expected[1])),
            actual=_path(x_axis.place(lines.actual[0]), y_axis.place(lines.actual[1])),
            circles=[] if many else marks,
            squares="".join(f"M{x - 1.5:g} {y - 1.5:g}h3v3h-3z" for x, y in marks) if many else "",
            marked=len(marks),
        )


def _path(xs: np.ndarray, ys: np.ndarray) -> str:
    """SVG path data through the points, broken where a point is missing; a point alone
    between gaps is a zero-length line, which the round line caps draw as a dot."""
    import numpy as np

    finite = np.isfinite(xs) & np.isfinite(ys)
    after_gap = ~np.concatenate(([False], finite[:-1]))
    before_gap = ~np.concatenate((finite[1:], [False]))
    commands = []
    for x, y, starts, alone in zip(
        xs[finite].tolist(),
        ys[finite].tolist(),
        after_gap[finite].tolist(),
        (after_gap & before_gap)[finite].tolist(),
        strict=True,
    ):
        commands.append(f"{'M' if starts else 'L'}{x:g} {y:g}{'h0' if alone else ''}")
    return "".join(commands)


# --- Gradebook CSV ---------------------------------------------------------------------------


def write_gradebook_csv(
    records: list[StudentRecord], specs: list[Spec], path: Path, *, canvas: bool = False
) -> None:
    """One row per student: the default layout, or Canvas's gradebook import layout.

    Default columns: student, key, one per exercise (its score), total, max, status (how
    many exercises ended how), late, problem. A hand-in that could not be graded has blank
    scores: no score, rather than a zero the grader cannot vouch for.

    ``canvas``: the layout of Canvas's own export (lms-formats.md 1c.2): ``Student, ID, SIS
    User ID, SIS Login ID, Section, <assignment title> (<assignment id>)``, then the
    ``Points Possible`` row, then one row per student with the total. The ids come from
    ``record.lms``; without them the cells stay blank and Canvas matches the student by
    name. Without an assignment id the header is the title alone: Canvas then matches the
    assignment by its exact title, or offers to create it. Without a title in
    ``record.lms`` the title is the course named in the specs' ``source``.

    Every cell a spreadsheet would run as a formula is prefixed with a single quote.
    """
    rows = _canvas_rows(records, specs) if canvas else _gradebook_rows(records, specs)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([_cell(value) for value in row] for row in rows)


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _gradebook_rows(records: list[StudentRecord], specs: list[Spec]) -> Iterator[list[str]]:
    ids = [spec.id for spec in specs]
    maximum = report.number(_max_points(specs))
    yield ["student", "key", *ids, "total", "max", "status", "late", "problem"]
    for record in records:
        scores = _scores(record, specs)
        yield [
            record.student,
            record.key,
            *[_points(scores.get(exercise_id)) for exercise_id in ids],
            _points(_total(record, specs)),
            maximum,
            _status_summary(record),
            "yes" if record.late else "no",
            record.problem or "",
        ]


def _canvas_rows(records: list[StudentRecord], specs: list[Spec]) -> Iterator[list[str]]:
    assignment = _first_lms(records, ("assignment_title", "assignment_id"))
    title = assignment.get("assignment_title") or _course_title(specs)
    assignment_id = assignment.get("assignment_id")
    yield [*_CANVAS_STUDENT_COLUMNS, f"{title} ({assignment_id})" if assignment_id else title]
    yield [_CANVAS_POINTS_POSSIBLE, "", "", "", "", report.number(_max_points(specs))]
    for record in records:
        lms = record.lms
        ids = [lms.get(key, "") for key in ("user_id", "sis_user_id", "sis_login_id", "section")]
        yield [record.student, *ids, _points(_total(record, specs))]


def _first_lms(records: list[StudentRecord], keys: tuple[str, ...]) -> dict[str, str]:
    """The first value each key has in some record's LMS data, in one pass over the class."""
    found: dict[str, str] = {}
    for record in records:
        found |= {key: record.lms[key] for key in keys if key not in found and record.lms.get(key)}
        if len(found) == len(keys):
            break
    return found


def _course_title(specs: list[Spec]) -> str:
    """The course the specs come from: their ``source`` up to its first comma, if shared."""
    courses = {spec.source.split(",")[0].strip() for spec in specs}
    return courses.pop() if len(courses) == 1 else "Exercises"


def _max_points(specs: list[Spec]) -> float:
    return sum(spec.max_score for spec in specs)


def _scores(record: StudentRecord, specs: list[Spec]) -> dict[str, float]:
    """The score of each of the specs' exercises that was graded for this record."""
    wanted = {spec.id for spec in specs}
    exercises = record.result.exercises if record.result else []
    return {exercise.id: exercise.score for exercise in exercises if exercise.id in wanted}


def _total(record: StudentRecord, specs: list[Spec]) -> float | None:
    """The sum over the specs' exercises; None when the hand-in was not graded."""
    return sum(_scores(record, specs).values()) if record.result is not None else None


def _points(score: float | None) -> str:
    return "" if score is None else report.number(score)


def _status_summary(record: StudentRecord) -> str:
    if record.result is None:
        return "not graded"
    counts = Counter(exercise.status for exercise in record.result.exercises)
    return ", ".join(
        f"{counts[status]} {report.STATUS_WORDS[status]}" for status in Status if counts[status]
    )


# --- Class summary ---------------------------------------------------------------------------


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
    trouble: list[_Trouble]
    elapsed: str
    per_submission: str
    grading_mean: str


def write_summary(
    records: Iterable[StudentRecord], specs: list[Spec], out: Path, *, elapsed: float
) -> None:
    """Write ``out/summary.html`` and ``out/summary.md`` for the instructor.

    They give the number of students, the distribution of the totals of the graded
    hand-ins, each exercise's statuses and pass rate, each check's pass rate (hidden ones
    included), the most frequent known mistakes, the students whose hand-in errored, timed
    out, hit the memory limit or could not be graded (linked to ``<key>.html``, so the
    student files must be written to the same ``out``), how long the batch took
    (``elapsed`` seconds, in all and per submission) and the mean time spent grading one.
    """
    summary = _summary(records, specs, elapsed)
    environment = report.environment()
    out.mkdir(parents=True, exist_ok=True)
    for name in ("summary.html", "summary.md"):
        text = environment.get_template(name).render(summary=summary)
        (out / name).write_text(text, encoding="utf-8")


def _summary(records: Iterable[StudentRecord], specs: list[Spec], elapsed: float) -> _Summary:
    tally = _Tally()
    for record in records:
        tally.add(record, specs)
    totals, maximum = tally.totals, _max_points(specs)
    bins, bin_note = _histogram(totals, maximum)
    students = tally.students
    return _Summary(
        students=students,
        graded=len(totals),
        max_points=report.number(maximum),
        mean=report.number(statistics.fmean(totals)) if totals else "—",
        median=report.number(statistics.median(totals)) if totals else "—",
        bins=bins,
        bin_note=bin_note,
        chart_width=len(bins) * _BAR_STEP,
        chart_height=_CHART_HEIGHT,
        statuses=[report.STATUS_WORDS[status] for status in Status],
        exercises=[_exercise_stats(spec, tally) for spec in specs],
        mistakes=_mistake_stats(tally),
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
        self.trouble: list[_Trouble] = []

    def add(self, record: StudentRecord, specs: list[Spec]) -> None:
        self.students += 1
        self.grading_seconds += record.duration
        trouble = _trouble(record)
        if trouble is not None:
            self.trouble.append(trouble)
        if record.result is None:
            return
        self.totals.append(sum(_scores(record, specs).values()))
        for exercise in record.result.exercises:
            self.statuses.setdefault(exercise.id, Counter())[exercise.status] += 1
            passed = self.passed_checks.setdefault(exercise.id, Counter())
            for check in exercise.checks:
                if check.status == CheckStatus.PASSED:
                    passed[check.name] += 1
                if check.misconception:
                    self.mistakes[exercise.id, check.name, check.misconception] += 1

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
        _MistakeStats(exercise, check, mistake, count, _share(count, tally.graded(exercise)))
        for (exercise, check, mistake), count in ranked[:_MOST_FREQUENT_MISTAKES]
    ]


def _trouble(record: StudentRecord) -> _Trouble | None:
    """The line of the summary's trouble list for this student, if they are in it."""
    if record.result is None:
        what = f"not graded: {record.problem or 'no result'}"
    else:
        what = "; ".join(
            f"{exercise.id}: {report.STATUS_WORDS[exercise.status]}"
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
    for index, number in enumerate(counts):
        low = index * width
        height = round(number / tallest * _CHART_HEIGHT)
        bins.append(
            _Bin(
                label=str(low) if width == 1 else f"{low}–{low + width}",
                count=number,
                bar="█" * round(number / tallest * _MARKDOWN_BAR_WIDTH),
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
    return " ".join(report.clean(text).split())


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


# --- Canvas feedback zip ---------------------------------------------------------------------


def write_canvas_feedback_zip(records: list[StudentRecord], path: Path) -> None:
    """A zip of each student's HTML page, named so that Canvas's "Re-Upload Submissions"
    attaches it to that student's submission as a comment.

    Canvas takes the first two all-digit ``_``-separated parts of a name as the user id and
    the attachment id (``Assignment#infer_comment_context_from_filename``), so the names
    follow the downloaded zip's (lms-formats.md 1c.1):
    ``<name>[_LATE]_<user_id>_<submission_id>_<original name>.html``, from
    ``record.lms["filename"]`` or built from its parts (see the module docstring).

    Skipped: records without Canvas ids (a folder of hand-ins; anonymous grading, whose
    ``anon_<id>`` Canvas cannot read back; text and website entries, which have no
    attachment id), records whose name would not carry them, and a second record with a
    name already in the zip (Canvas would attach both to one submission).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    written: set[str] = set()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            name = _canvas_feedback_name(record)
            if name is not None and name not in written:
                archive.writestr(name, student_html(record))
                written.add(name)


def _canvas_feedback_name(record: StudentRecord) -> str | None:
    """The name Canvas reads back as this record's user and attachment, or None."""
    name = _CANVAS_UNSAFE.sub("_", record.lms.get("filename") or _canvas_built_name(record))
    stem, dot, extension = name.rpartition(".")
    name = f"{stem if dot else extension}.html"
    ids = [part for part in name.split("_") if _DIGITS.fullmatch(part)][:2]
    user_id = record.lms.get("user_id")
    if len(ids) < 2 or (user_id is not None and ids[0] != user_id):
        return None
    return name


def _canvas_built_name(record: StudentRecord) -> str:
    lms = record.lms
    if not (lms.get("user_id") and lms.get("submission_id")):
        return ""
    # Like Canvas: lower case, word characters only; also no "_", so that no part of the
    # name can be read as an id, and a name of digits alone is left out for the same reason.
    name = re.sub(r"[\W_]+", "", lms.get("name", "").lower())
    parts = [
        "" if name.isdigit() else name,
        "LATE" if record.late else "",
        lms["user_id"],
        lms["submission_id"],
        lms.get("original_name") or "feedback",
    ]
    return "_".join(part for part in parts if part)
