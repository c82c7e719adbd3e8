"""Event times (spike times) and their count, compared with feedback in the student's terms.

A simulation that spikes once too often returns a list of spike times one longer than
expected; compared position by position every later time would be "wrong", and the
student would learn nothing. Event times are therefore compared as a set: each expected
time is matched by one of the student's within tolerance, and the feedback says how
many events there are and where the first missing or extra one is ("2 spikes expected,
yours has 3: the first extra one at time = 412"). A count (``Spike``) is compared exactly
and located by the event times it counts, the student's own where they can be read.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import results
from ..values import CallFailure
from . import Compare, register
from .numeric import (
    Case,
    Tolerance,
    ValueKind,
    _describe,
    _is_unanswered,
    _num,
    _raised_phrase,
    _unanswered_feedback,
)

if TYPE_CHECKING:
    from ..reference import ReferenceCase
    from ..spec import Check, Spec


@dataclass(frozen=True)
class Events:
    """What a count check counts: the student's event times in one case, and the expected."""

    actual: object
    expected: object


@dataclass(frozen=True)
class _Difference:
    """The student's event times against the expected ones, both sorted."""

    actual: np.ndarray
    expected: np.ndarray
    missing: list[float]  # expected times none of the student's matches
    extra: list[float]  # the student's times that match none expected


def compare_events(
    name: str,
    cases: Sequence[Case],
    *,
    noun: str,
    axis_name: str | None,
    tolerance: Tolerance,
    mistake_feedback: Mapping[str, str],
) -> results.Comparison:
    """Compare event times as sets in every case; explain the first failing one."""
    unanswered = _unanswered(name, cases)
    if unanswered is not None:
        return unanswered
    findings = []
    for case in cases:
        times = _times(case.actual)
        if isinstance(times, str):
            findings.append(times)
            continue
        difference = _difference(times, _times_of(case.expected), tolerance)
        findings.append(_events_phrase(difference, noun, axis_name, tolerance))
    if not any(findings):
        return results.Comparison(True, _passed(name, f"{noun}s", len(cases)))
    mistake = _reproduced(cases, lambda case, wrong: _same_events(case.actual, wrong, tolerance))
    return _failed(name, cases, findings, mistake, mistake_feedback)


def compare_count(
    name: str,
    cases: Sequence[Case],
    *,
    counted: Sequence[Events] | None,
    noun: str,
    axis_name: str | None,
    tolerance: Tolerance,
    mistake_feedback: Mapping[str, str],
) -> results.Comparison:
    """Compare a count exactly in every case; a wrong one is located by the event times
    (``counted``, per case) when the student's can be read."""
    unanswered = _unanswered(name, cases)
    if unanswered is not None:
        return unanswered
    findings = []
    for number, case in enumerate(cases):
        events = counted[number] if counted is not None else None
        findings.append(_count_phrase(case, events, noun, axis_name, tolerance))
    if not any(findings):
        return results.Comparison(True, _passed(name, "count", len(cases)))
    mistake = _reproduced(cases, lambda case, wrong: _count(case.actual) == _count(wrong))
    return _failed(name, cases, findings, mistake, mistake_feedback)


# --- reading ------------------------------------------------------------------------------


def _unanswered(name: str, cases: Sequence[Case]) -> results.Comparison | None:
    for case in cases:
        if _is_unanswered(case.actual):
            feedback = _unanswered_feedback(name, case.actual)
            return results.Comparison(passed=False, attempted=False, feedback=feedback)
    return None


def _times(value: object) -> np.ndarray | str:
    """The student's event times, sorted, or a phrase saying what the value is instead."""
    if isinstance(value, CallFailure):
        return f"yours {_raised_phrase(value)}"
    wanted = "but a list (or array) of times is expected"
    if not isinstance(value, np.ndarray | np.generic | numbers.Number | list | tuple):
        return f"yours is {_describe(value)}, {wanted}"
    try:
        array = np.asarray(value)
    except ValueError:
        return f"yours is a nested list with rows of different lengths, {wanted}"
    if array.size and array.dtype.kind not in "biuf":
        return f"yours holds values that are not plain numbers, {wanted}"
    if array.ndim > 1:
        return f"yours has shape {array.shape}, {wanted}"
    return np.sort(array.ravel().astype(float))


def _times_of(expected: object) -> np.ndarray:
    return np.sort(np.asarray(expected, dtype=float).ravel())


def _count(value: object) -> float | None:
    """A count as a number (2, 2.0, np.int64(2)), or None when it is not one number."""
    return float(value) if isinstance(value, numbers.Real) else None


# --- judging ------------------------------------------------------------------------------


def _difference(actual: np.ndarray, expected: np.ndarray, tol: Tolerance) -> _Difference:
    """Match sorted times in one pass: each expected time takes the student's one near it."""
    missing: list[float] = []
    extra: list[float] = []
    i = j = 0
    while i < actual.size and j < expected.size:
        if abs(actual[i] - expected[j]) <= tol.atol + tol.rtol * abs(expected[j]):
            i, j = i + 1, j + 1
        elif actual[i] < expected[j]:
            extra.append(float(actual[i]))
            i += 1
        else:
            missing.append(float(expected[j]))
            j += 1
    extra += [float(x) for x in actual[i:]]
    missing += [float(x) for x in expected[j:]]
    return _Difference(actual, expected, missing, extra)


def _same_events(actual: object, wrong: object, tol: Tolerance) -> bool:
    times = _times(actual)
    if isinstance(times, str):
        return False
    difference = _difference(times, _times_of(wrong), tol)
    return not difference.missing and not difference.extra


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _at(axis_name: str | None, time: float) -> str:
    return f"{axis_name} = {_num(time)}" if axis_name else _num(time)


def _located(difference: _Difference, axis_name: str | None, whose: str = "") -> str:
    """Where the first missing or extra event is, whichever comes first in time."""
    first_extra = difference.extra[0] if difference.extra else np.inf
    first_missing = difference.missing[0] if difference.missing else np.inf
    if first_extra < first_missing:
        return f"the first extra one at {_at(axis_name, first_extra)}{whose}"
    return f"the first missing one at {_at(axis_name, first_missing)}"


def _events_phrase(
    difference: _Difference, noun: str, axis_name: str | None, tol: Tolerance
) -> str:
    """'' when the times match; else a sentence that follows the check's name and a colon."""
    if not difference.missing and not difference.extra:
        return ""
    expected, actual = difference.expected.size, difference.actual.size
    if expected != actual:
        return (
            f"{_plural(expected, noun)} expected, yours has {actual}: "
            f"{_located(difference, axis_name)}"
        )
    wrong = ~np.isclose(difference.actual, difference.expected, rtol=tol.rtol, atol=tol.atol)
    first = int(np.argmax(wrong))
    return (
        f"the right number of {noun}s ({expected}), but {len(difference.missing)} at other "
        f"times: the one expected at {_at(axis_name, difference.expected[first])} is at "
        f"{_num(difference.actual[first])} in yours{_pattern(difference, axis_name)}"
    )


def _pattern(difference: _Difference, axis_name: str | None) -> str:
    """What every one of the student's times has in common with the expected one, if anything:
    a constant shift (recorded a step late) or a constant factor (step indices for times)."""
    actual, expected = difference.actual, difference.expected
    shift = actual - expected
    if np.allclose(shift, shift[0]):
        return f" (each of yours is {_num(shift[0])} off: recorded at another step?)"
    nonzero = expected != 0
    if nonzero.sum() >= 2 and np.allclose(actual[~nonzero], 0):
        ratio = actual[nonzero] / expected[nonzero]
        if np.allclose(ratio, ratio[0]):
            values = f"{axis_name} values" if axis_name else "times"
            return (
                f" (each of yours is {_num(ratio[0])} times the expected one: step indices "
                f"rather than {values}?)"
            )
    return ""


def _count_phrase(
    case: Case, events: Events | None, noun: str, axis_name: str | None, tol: Tolerance
) -> str:
    if isinstance(case.actual, CallFailure):
        return f"yours {_raised_phrase(case.actual)}"
    actual = _count(case.actual)
    expected = int(np.asarray(case.expected))
    if actual is None:
        advice = ""
        if isinstance(case.actual, list | tuple | np.ndarray):
            advice = f"; len() of a list of {noun} times gives how many there are"
        return (
            f"yours is {_describe(case.actual)}, but a count (one whole number) is expected{advice}"
        )
    if actual == expected:
        return ""
    phrase = f"{_plural(expected, noun)} expected, yours has {_num(actual)}"
    times = _times(events.actual) if events is not None else "unknown"
    if events is None or isinstance(times, str):
        return phrase
    difference = _difference(times, _times_of(events.expected), tol)
    if not difference.missing and not difference.extra:
        return (
            f"{phrase}, although your {noun} times are the {expected} expected: count one "
            f"for each {noun} you record"
        )
    return f"{phrase}: {_located(difference, axis_name, ' in your times')}"


# --- feedback -----------------------------------------------------------------------------


def _reproduced(cases: Sequence[Case], same: Callable[[Case, object], bool]) -> str | None:
    """The first listed mistake the student reproduces in every case."""
    for mistake in cases[0].mistakes:
        if all(mistake in c.mistakes and same(c, c.mistakes[mistake]) for c in cases):
            return mistake
    return None


def _failed(
    name: str,
    cases: Sequence[Case],
    findings: list[str],
    mistake: str | None,
    mistake_feedback: Mapping[str, str],
) -> results.Comparison:
    index = next(i for i, finding in enumerate(findings) if finding)
    if len(cases) == 1:
        evidence = f"{name}: {findings[index]}."
    else:
        call = f"when called {cases[index].label}" if cases[index].label else f"in call {index + 1}"
        if index == 0:
            evidence = f"{name}: {findings[index]}, {call}."
        else:
            evidence = (
                f"{name} is right for the tutorial's inputs, but not {call}: {findings[index]}."
            )
    if mistake is None:
        return results.Comparison(False, evidence)
    feedback = f"{name} matches a common mistake. {mistake_feedback[mistake].strip()} {evidence}"
    return results.Comparison(False, feedback, misconception=mistake)


def _passed(name: str, what: str, calls: int) -> str:
    if calls > 1:
        return f"{name} matches the expected {what} in all {calls} calls."
    return f"{name} matches the expected {what}."


# --- The kind -------------------------------------------------------------------------------


class EventTimes(ValueKind):
    """Times of events (a list or array, possibly empty), compared as a set."""

    def compare(
        self, spec: Spec, check: Check, answers: Sequence[Any], cases: Sequence[ReferenceCase]
    ) -> results.Comparison:
        return compare_events(
            check.name,
            cases_of(check, answers, cases),
            noun=check.noun or "event",
            axis_name=axis_name(spec, check),
            tolerance=Tolerance(rtol=check.rtol, atol=check.atol),
            mistake_feedback={m.id: m.feedback for m in check.mistakes},
        )


def cases_of(check: Check, answers: Sequence[Any], cases: Sequence[ReferenceCase]) -> list[Case]:
    return [
        Case(
            actual=answer,
            expected=case.expected[check.name],
            mistakes=case.mistakes.get(check.name, {}),
            label=case.label,
        )
        for answer, case in zip(answers, cases, strict=True)
    ]


def axis_name(spec: Spec, events: Check) -> str | None:
    """What the event times are values of: the argument a function's events run along, or
    the values exercise's axis."""
    return spec.function.axis_of(events.name) if spec.function is not None else spec.axis


register(Compare.EVENTS, EventTimes())
