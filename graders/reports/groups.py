"""Wrong answers a class shares: the students of a batch grouped by the values of each
wrong answer, for the summary and ``grade.py mistakes``.

Students whose failed check has the same fingerprint (``graders.checks.fingerprint``)
are one group. A fingerprint rounds values to a grid, and two nearly equal values can
round apart where they straddle a grid line; so at the end, groups whose values agree
within a grid step (compared on a small sample of each group's first curves, kept from
the evidence curves of its first student) are merged too.

Gathered record by record with bounded state per group (a count, the first few students,
a few dozen sample values), so that a class of ten thousand is never in memory at once.
A group of two or more students without a declared diagnosis gets a ready-to-paste
``mistakes:`` entry for its check (``suggestion``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import yaml

from ..checks.fingerprint import grid_step, scale_of
from ..checks.numeric import spread
from ..records import StudentRecord
from ..results import CheckResult, CheckStatus, Curve

# Each curve of a group's first student is sampled at this many points, and at most this
# many curves (a function check's first calls), to merge groups that rounded apart.
SAMPLE_POINTS = 32
SAMPLE_CURVES = 4
# A group's fewer students than this are named in the summary; the count is always whole.
LISTED_STUDENTS = 50
_FILL_IN = "  # value: FILL IN the expression that gives these values, then uncomment this line"
_EDIT = "EDIT: say what went wrong, in the student's terms, and how to put it right."


@dataclass(frozen=True)
class Member:
    student: str
    key: str


@dataclass(frozen=True)
class _Sample:
    """A few values of each curve of a group's first student: where (x), theirs and the
    expected ones; and how many values each curve has in all."""

    x: list[np.ndarray]
    actual: list[np.ndarray]
    expected: list[np.ndarray]
    points: tuple[tuple[int, int], ...]  # (expected, given) per curve

    @classmethod
    def of(cls, curves: list[Curve]) -> _Sample | None:
        chosen = curves[:SAMPLE_CURVES]
        if not chosen or any(curve.actual is None for curve in chosen):
            return None
        parts: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
        for curve in chosen:
            actual = np.asarray(curve.actual, dtype=float)  # a stored None (NaN) is NaN
            x = np.asarray(curve.actual_x if curve.actual_x is not None else curve.x, float)
            count = min(len(x), len(actual))
            shown = spread(count, SAMPLE_POINTS)
            expected = np.asarray(curve.expected, dtype=float)
            parts[0].append(x[shown])
            parts[1].append(actual[shown])
            parts[2].append(expected[spread(len(expected), SAMPLE_POINTS)])
        points = tuple((curve.points, curve.actual_points) for curve in chosen)
        return cls(*parts, points=points)

    @property
    def key(self) -> float:
        """A number that differs by at most a grid step between samples that agree."""
        values = np.concatenate(self.actual)
        finite = values[np.isfinite(values)]
        return float(finite.mean()) if finite.size else 0.0

    @property
    def step(self) -> float:
        return grid_step(scale_of(*self.actual, *self.expected))

    def agrees(self, other: _Sample) -> bool:
        """Same counts, and within a grid step at every point both samples hold."""
        if self.points != other.points:
            return False
        step = max(self.step, other.step)
        for x, actual, other_x, other_actual in zip(
            self.x, self.actual, other.x, other.actual, strict=True
        ):
            _, mine, theirs = np.intersect1d(x, other_x, return_indices=True)
            if 2 * len(mine) < min(len(x), len(other_x)):
                return False  # too few points in common to say
            one, two = actual[mine], other_actual[theirs]
            same = (np.abs(one - two) <= step) | (np.isnan(one) & np.isnan(two)) | (one == two)
            if not same.all():
                return False
        return True


@dataclass
class Group:
    """Students who gave one check the same wrong values."""

    exercise: str
    check: str
    size: int = 0
    members: list[Member] = field(default_factory=list)  # the first ones (see limit)
    misconception: str | None = None
    automatic: bool = False
    suggested_value: str | None = None
    first: int = -1  # the position of the first student's record among those added
    sample: _Sample | None = None
    # The ``mistakes:`` entry to paste under the check; None when the diagnosis is declared.
    suggestion: str | None = None

    @property
    def diagnosis(self) -> str:
        """In words: the declared id, the automatic one marked as such, or none yet."""
        if self.misconception is None:
            return "none yet"
        return f"{self.misconception} (automatic)" if self.automatic else self.misconception

    def suggested_id(self) -> str | None:
        """A readable id for the group's mistake: its automatic id as a spec id, if any."""
        if self.misconception is None:
            return None
        readable = re.sub(r"\W+", "_", self.misconception.removeprefix("auto:")).strip("_")
        return readable if readable and not readable[0].isdigit() else None

    def _rank(self) -> int:
        """Declared beats automatic beats none: the diagnosis a merged group keeps."""
        return 0 if self.misconception is None else 1 if self.automatic else 2

    def _take(self, other: Group, limit: int | None) -> None:
        self.size += other.size
        self.members = (self.members + other.members)[:limit]
        if other._rank() > self._rank():
            self.misconception = other.misconception
            self.automatic = other.automatic
            self.suggested_value = other.suggested_value


def suggestion(group: Group, mistake_id: str) -> str:
    """A ``mistakes:`` list entry as YAML text: the id, the value when an automatic
    diagnosis found its expression, else a commented line saying what to fill in (the
    entry still loads; the spec refuses it until the value is given), and a feedback line
    to edit."""
    lines = [f"- id: {_scalar(mistake_id)}"]
    if group.suggested_value is not None:
        lines.append(f"  value: {_scalar(group.suggested_value)}")
    else:
        lines.append(_FILL_IN)
    found = f"Found automatically as {group.misconception}. " if group.automatic else ""
    lines.append(f"  feedback: {_scalar(found + _EDIT)}")
    return "\n".join(lines) + "\n"


def _scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when it reads back as itself, else double-quoted."""
    try:
        if yaml.safe_load(f"key: {text}") == {"key": text}:
            return text
    except yaml.YAMLError:
        pass
    return yaml.safe_dump(text, default_style='"', allow_unicode=True, width=10_000).strip()


class SharedAnswers:
    """The groups of a class's wrong answers, gathered record by record."""

    def __init__(self, limit: int | None = LISTED_STUDENTS) -> None:
        self.limit = limit  # students named per group; None: all of them
        self._groups: dict[tuple[str, str, str], Group] = {}
        self._position = 0

    def add(self, record: StudentRecord) -> None:
        position, self._position = self._position, self._position + 1
        if record.result is None:
            return
        for exercise in record.result.exercises:
            for check in exercise.checks:
                if check.status != CheckStatus.PASSED and check.fingerprint is not None:
                    self._add(exercise.id, check, Member(record.student, record.key), position)

    def _add(self, exercise: str, check: CheckResult, member: Member, position: int) -> None:
        key = (exercise, check.name, check.fingerprint or "")
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = Group(exercise, check.name, first=position)
            group.sample = _Sample.of(check.evidence)
        group._take(
            Group(
                exercise,
                check.name,
                size=1,
                members=[member],
                misconception=check.misconception,
                automatic=check.automatic,
                suggested_value=check.suggested_value,
            ),
            self.limit,
        )

    def groups(self, smallest: int = 2) -> list[Group]:
        """The groups of at least ``smallest`` students after merging, largest first, each
        without a declared diagnosis with its suggested entry (ids unique per check)."""
        merged = [group for check in self._by_check() for group in _merged(check, self.limit)]
        shared = sorted(
            (group for group in merged if group.size >= smallest),
            key=lambda g: (-g.size, g.exercise, g.check, g.first),
        )
        taken: dict[tuple[str, str], set[str]] = {}
        for group in shared:
            if group.misconception is not None and not group.automatic:
                continue
            ids = taken.setdefault((group.exercise, group.check), set())
            wanted = group.suggested_id() or f"{group.check}_shared_mistake"
            mistake_id = next(
                candidate
                for number in range(1, len(ids) + 2)
                if (candidate := wanted if number == 1 else f"{wanted}_{number}") not in ids
            )
            ids.add(mistake_id)
            group.suggestion = suggestion(group, mistake_id)
        return shared

    def _by_check(self) -> Iterator[list[Group]]:
        by_check: dict[tuple[str, str], list[Group]] = {}
        for (exercise, check, _), group in self._groups.items():
            by_check.setdefault((exercise, check), []).append(group)
        yield from by_check.values()


def _merged(groups: list[Group], limit: int | None) -> list[Group]:
    """One check's groups, those whose samples agree merged (the earliest one keeps them).

    Samples that agree within a grid step have means within a step, so each is compared
    only with those whose mean is that close: sorted by mean, a sliding window.
    """
    sampled = sorted(
        ((group, group.sample) for group in groups if group.sample is not None),
        key=lambda pair: pair[1].key,
    )
    window = max((sample.step for _, sample in sampled), default=0.0)
    parent = {id(group): group for group in groups}

    def root(group: Group) -> Group:
        while parent[id(group)] is not group:
            group = parent[id(group)]
        return group

    for index, (group, sample) in enumerate(sampled):
        for other, other_sample in sampled[index + 1 :]:
            if other_sample.key - sample.key > window:
                break
            one, two = root(group), root(other)
            # Compared as merged so far: a chain of answers each a step from the next
            # (a continuum of slightly different values) does not become one group.
            if one is not two and sample.agrees(other_sample) and _agree(one, two):
                keep, gone = (one, two) if one.first < two.first else (two, one)
                parent[id(gone)] = keep
    for group in sorted(groups, key=lambda g: g.first):
        top = root(group)
        if top is not group:
            top._take(group, limit)
    return [group for group in groups if root(group) is group]


def _agree(one: Group, two: Group) -> bool:
    return one.sample is not None and two.sample is not None and one.sample.agrees(two.sample)
