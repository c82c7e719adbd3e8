"""Numeric comparison of student values with reference values, with feedback that teaches.

A check is a list of cases: a value check has one (the value the student defined), a
function check has one per call of the student's function. Every case must match for the
check to pass. When one does not, the feedback says what is wrong with the student's own
numbers (where, how much) and, when it can, why: a known mistake the exercise lists, a slip
in the reference program that gives the student's values (``graders.diagnosis``, which
names the slip in the reference's own code), or a generic relation between the student's
values and the expected ones (a sign flip, a constant factor, ...).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from .. import diagnosis, reference, results, values
from ..diagnosis import AutoMistake
from ..reference import ReferenceCase
from ..spec import Check, Mistake, Spec
from . import CheckKind, Compare, function, register, relations
from .relations import Relation, Tolerance

_NO_FEEDBACK: Mapping[str, str] = MappingProxyType({})
_DEFAULT_TOLERANCE = Tolerance()

# Evidence keeps at most this many points of a curve, evenly spread, and as many of the
# points that differ: a picture needs no more, and a student's array can be any length.
MAX_CURVE_POINTS = 500

_HARD_CODED = (
    "A value that should come from the function's parameters (such as a step size or an "
    "input array) seems to be hard-coded."
)


@dataclass(frozen=True)
class Grid:
    """The two given arrays along which a 2-D value's rows and columns run (``rate[ii, jj]``
    at ``exc_input[ii]``, ``inh_input[jj]``), and the given of that full shape, if any
    (``rate``): differences along an axis are one row or column shorter than it."""

    rows: tuple[str, np.ndarray]
    columns: tuple[str, np.ndarray]
    name: str | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows[1]), len(self.columns[1])

    @property
    def full(self) -> str:
        rows, columns = self.shape
        return self.name or f"the {self.rows[0]} × {self.columns[0]} grid ({rows} × {columns})"


# Where a value's points are: along a 1-D axis (name, values), or on a grid.
Location = tuple[str, np.ndarray] | Grid


@dataclass
class Case:
    """One comparison of a student value with the expected value: the single value of a value
    check, or one call of a function check."""

    actual: object
    expected: np.ndarray | float
    mistakes: dict[str, np.ndarray | float] = field(default_factory=dict)
    label: str = ""
    axis: Location | None = None  # see Location


@dataclass(frozen=True)
class _Finding:
    """What is wrong with one case.

    ``phrase`` completes a sentence that starts with the check name ("dv_dt ..."), so the
    same finding reads well in a value check and, prefixed with the call, in a function check.
    ``kind`` decides which explanations may follow: only value mismatches are searched for
    relations, and only mismatches and wrong shapes suggest a hard-coded input.
    """

    kind: Literal["unreadable", "call", "shape", "nonfinite", "mismatch"]
    phrase: str
    advice: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Outcome:
    """A case after reading and judging the student value."""

    case: Case
    actual: np.ndarray | None  # None when the student value could not be read as numbers
    expected: np.ndarray
    finding: _Finding | None  # None when the case passes


def compare_numeric(
    name: str,
    cases: Sequence[Case],
    *,
    tolerance: Tolerance = _DEFAULT_TOLERANCE,
    allow_constant: bool = False,
    mistake_feedback: Mapping[str, str] = _NO_FEEDBACK,
    automatic: Callable[[], Sequence[AutoMistake]] | None = None,
    quantity: str | None = None,
) -> results.Comparison:
    """Compare every case; pass only if all match, otherwise explain the first failure.

    ``allow_constant`` lets a single number stand for an array holding that number everywhere
    (``du_dt = 1``). ``mistake_feedback`` maps each mistake id used in the cases to the
    sentence shown when the student's values reproduce that mistake in every case.
    ``automatic`` gives the slips found in the reference (asked for only when no listed
    mistake matches); ``quantity`` ("derivative", "integral") words a numerical estimate.
    """
    if not cases:
        raise ValueError(f"{name}: a check needs at least one case")
    missing = {m for case in cases for m in case.mistakes} - set(mistake_feedback)
    if missing:
        raise ValueError(f"{name}: no feedback for mistakes {sorted(missing)}")
    for case in cases:
        if _is_unanswered(case.actual):
            return results.Comparison(
                passed=False, attempted=False, feedback=_unanswered_feedback(name, case.actual)
            )

    outcomes = [_judge(case, tolerance, allow_constant) for case in cases]
    evidence = [curve for outcome in outcomes if (curve := _curve(outcome, tolerance))]
    if all(outcome.finding is None for outcome in outcomes):
        feedback = _pass_feedback(name, outcomes)
        return results.Comparison(passed=True, feedback=feedback, evidence=evidence)
    mistake = _reproduced_mistake(outcomes, tolerance)
    if mistake is not None:
        feedback = _mistake_feedback(name, outcomes, mistake_feedback[mistake])
        return results.Comparison(False, feedback, misconception=mistake, evidence=evidence)
    slip = _reproduced_slip(outcomes, automatic() if automatic else (), tolerance)
    if slip is not None:
        feedback = _mistake_feedback(name, outcomes, slip.feedback, "looks like a slip.")
        return results.Comparison(
            False,
            feedback,
            misconception=slip.id,
            evidence=evidence,
            automatic=True,
            suggested_value=slip.suggested_value,
        )
    feedback, found = _failure_feedback(name, outcomes, tolerance, quantity)
    if found is None:
        return results.Comparison(passed=False, feedback=feedback, evidence=evidence)
    return results.Comparison(
        passed=False,
        feedback=feedback,
        evidence=evidence,
        misconception=diagnosis.relation_id(found.relation),
        automatic=True,
        suggested_value=_relation_value(name, found, len(outcomes)),
    )


def _curve(outcome: _Outcome, tol: Tolerance) -> results.Curve | None:
    """Plot data for a 1-D real comparison, thinned; other shapes are not drawn."""
    expected = outcome.expected
    if expected.ndim != 1 or np.iscomplexobj(expected) or expected.size > 100_000:
        return None
    axis = outcome.case.axis
    if isinstance(axis, tuple) and np.shape(axis[1]) == expected.shape:
        x_name, x = axis[0], np.asarray(axis[1], dtype=float)
    else:
        x_name, x = "index", np.arange(expected.size, dtype=float)
    actual = outcome.actual
    readable = actual is not None and actual.ndim == 1 and not np.iscomplexobj(actual)
    shown = spread(expected.size)
    if not readable:
        return _aligned_curve(outcome.case.label, x_name, x, expected, None, shown, tol)
    if actual.shape == expected.shape:
        return _aligned_curve(outcome.case.label, x_name, x, expected, actual, shown, tol)
    # Compared position by position, so drawn over the positions of each.
    drawn = spread(actual.size)
    return results.Curve(
        label=outcome.case.label,
        x_name="index",
        x=shown.astype(float).tolist(),
        expected=expected[shown].tolist(),
        actual=actual[drawn].astype(float).tolist(),
        actual_x=drawn.astype(float).tolist(),
        points=expected.size,
        actual_points=actual.size,
    )


def _aligned_curve(
    label: str,
    x_name: str,
    x: np.ndarray,
    expected: np.ndarray,
    actual: np.ndarray | None,
    shown: np.ndarray,
    tol: Tolerance,
) -> results.Curve:
    """A curve whose values (if readable) lie at the expected ones' x, differing points kept."""
    wrong = None
    if actual is not None:
        wrong = tol.mismatches(actual, expected)
        differing = np.flatnonzero(wrong)
        shown = np.union1d(shown, differing[spread(differing.size)])
    return results.Curve(
        label=label,
        x_name=x_name,
        x=x[shown].tolist(),
        expected=expected[shown].tolist(),
        actual=actual[shown].astype(float).tolist() if actual is not None else None,
        mismatch=wrong[shown].tolist() if wrong is not None else None,
        points=expected.size,
        actual_points=actual.size if actual is not None else 0,
        mismatches=int(wrong.sum()) if wrong is not None else 0,
    )


def spread(count: int, most: int = MAX_CURVE_POINTS) -> np.ndarray:
    """At most ``most`` indices, evenly spread over ``count`` points, ends included."""
    if count <= most:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, most).round().astype(int))


# --- Placeholders ---------------------------------------------------------------------------


def _is_unanswered(value: object) -> bool:
    return value is None or value is Ellipsis or isinstance(value, values.Placeholder)


def _unanswered_feedback(name: str, value: object) -> str:
    if value is None:
        return f"{name} is still None: it has not been given a value (or returned) yet."
    return f"{name} is still `...`: replace the placeholder with your answer."


# --- Reading and judging one case -----------------------------------------------------------


def _judge(case: Case, tolerance: Tolerance, allow_constant: bool) -> _Outcome:
    """Read the student value of one case and say what, if anything, is wrong with it."""
    expected = _as_numbers(case.expected)
    actual = _read(case.actual, expected, case.axis, tolerance)
    if isinstance(actual, _Finding):
        return _Outcome(case, None, expected, actual)
    if allow_constant and actual.ndim == 0 and expected.ndim > 0:
        actual = np.full(expected.shape, actual)
    return _Outcome(case, actual, expected, _compare(actual, expected, case.axis, tolerance))


def _as_numbers(value: object) -> np.ndarray:
    """A float64 array, or complex128 when the value has complex numbers."""
    array = np.asarray(value)
    return array.astype(np.complex128 if np.iscomplexobj(array) else np.float64)


def _read(
    value: object, expected: np.ndarray, axis: Location | None, tolerance: Tolerance
) -> np.ndarray | _Finding:
    """Turn a decoded student value into a numeric array, or explain why it is not numbers."""
    if isinstance(value, values.CallFailure):
        return _Finding("call", _raised_phrase(value))
    wanted = f"but {_expected_form(expected.shape, axis)} is expected"
    if not isinstance(value, np.ndarray | np.generic | numbers.Number | list | tuple):
        return _Finding("unreadable", f"is {_describe(value)}, {wanted}", _type_advice(value, axis))
    try:
        array = np.asarray(value)
    except ValueError:
        return _Finding("unreadable", f"is a nested list with rows of different lengths, {wanted}")
    if array.dtype.kind not in "biufc":
        odd = [x for x in array.flat if not isinstance(x, numbers.Number)]
        what = _describe(odd[0]) if odd else "values that are not plain numbers"
        return _Finding("unreadable", f"contains {what}, {wanted}")
    if array.dtype.kind == "c" and not np.iscomplexobj(expected):
        imaginary = np.abs(array.imag) > tolerance.atol + tolerance.rtol * np.abs(array.real)
        if imaginary.any():
            return _Finding(
                "unreadable",
                "has complex values with a nonzero imaginary part"
                + _first_at(imaginary, array, axis),
                (
                    "Real values are expected: look for a square root or a logarithm of a negative "
                    "number, or other complex arithmetic.",
                ),
            )
        array = array.real
    return _as_numbers(array)


def _raised_phrase(failure: values.CallFailure) -> str:
    where = "" if failure.line is None else f" at line {failure.line}"
    code = f": `{failure.code.strip()}`" if failure.code else ""
    return (
        f"could not be computed because your code raised {failure.exception} "
        f"({failure.message}){where}{code}"
    )


def _describe(value: object) -> str:
    """Name what a non-numeric value is, in a few words a student recognises."""
    if isinstance(value, str):
        return f"a string ({_clip(repr(str(value)))})"
    if isinstance(value, values.Opaque):
        summary = f" ({_clip(value.summary)})" if value.summary else ""
        # Built-in kinds read as words ("a function"); a class of the student's own by name.
        if value.type_name[:1].isupper():
            return f"an object of class {value.type_name}{summary}"
        return f"a {value.type_name}{summary}"
    if isinstance(value, values.SymbolicText):
        return f"a sympy expression ({_clip(value.text)})"
    if _is_unanswered(value):
        return "the placeholder `...`" if value is not None else "None"
    return f"a {type(value).__name__}"


def _type_advice(value: object, axis: Location | None) -> tuple[str, ...]:
    if isinstance(value, values.SymbolicText):
        on = f"on the {axis[0]} array" if isinstance(axis, tuple) else "numerically"
        return (f"Evaluate it {on}, for example with sp.lambdify.",)
    if isinstance(value, values.Opaque) and "function" in value.type_name:
        return ("Call it to get its values.",)
    return ()


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _expected_form(shape: tuple[int, ...], axis: Location | None) -> str:
    if not shape:
        return "a single number"
    if len(shape) == 1 and isinstance(axis, tuple) and len(axis[1]) == shape[0]:
        return f"an array of {shape[0]} numbers (one per value of {axis[0]})"
    if len(shape) == 2 and isinstance(axis, Grid):
        return f"an array of {_dims(shape)} numbers"
    return f"an array of shape {shape}"


def _compare(
    actual: np.ndarray, expected: np.ndarray, axis: Location | None, tol: Tolerance
) -> _Finding | None:
    if actual.shape != expected.shape:
        return _shape_finding(actual.shape, expected.shape, axis)
    nonfinite = ~np.isfinite(actual) & np.isfinite(expected)
    if nonfinite.any():
        count = int(nonfinite.sum())
        return _Finding(
            "nonfinite",
            f"has {count} NaN or infinite value{'s' if count > 1 else ''} where finite values "
            f"are expected{_first_at(nonfinite, actual, axis)}",
            ("Look for a division by zero, a logarithm of zero or an overflow there.",),
        )
    wrong = tol.mismatches(actual, expected)
    if wrong.any():
        return _Finding("mismatch", _mismatch_phrase(actual, expected, wrong, axis))
    return None


def _shape_finding(
    actual: tuple[int, ...], expected: tuple[int, ...], axis: Location | None
) -> _Finding:
    form = _expected_form(expected, axis)
    if not actual:
        return _Finding("shape", f"is a single number, but {form} is expected")
    if not expected:
        return _Finding("shape", f"is an array of shape {actual}, but a single number is expected")
    if isinstance(axis, Grid) and len(actual) == len(expected) == 2:
        return _grid_shape_finding(actual, expected, axis)
    if len(actual) != 1 or len(expected) != 1:
        return _Finding("shape", f"has shape {actual}, but {form} is expected")
    (n,), (m,) = actual, expected
    advice: tuple[str, ...] = ()
    if n == m - 1:
        advice = (
            "One value is expected for every point; note that operations on neighbouring pairs, "
            "such as a forward difference with np.diff, give one element fewer than their input.",
        )
    elif n == m + 1:
        advice = (
            f"If this is a forward difference, note that np.diff of {n} values gives {m}; "
            f"{n} values suggest that np.gradient, or a difference padded to full length, "
            "was used.",
        )
    return _Finding("shape", f"has {n} values instead of {m}", advice)


def _dims(shape: tuple[int, ...]) -> str:
    return " × ".join(str(n) for n in shape)


def _on_grid(shape: tuple[int, ...], grid: Grid) -> str:
    """What a 2-D shape says about how it was made from the grid, in the student's terms."""
    rows, columns = grid.shape
    if shape == (rows - 1, columns):
        return (
            f"one row fewer than {grid.full}, as differences along {grid.rows[0]} "
            "(from row to row) give"
        )
    if shape == (rows, columns - 1):
        return (
            f"one column fewer than {grid.full}, as differences along {grid.columns[0]} "
            "(from column to column) give"
        )
    if shape == (rows, columns):
        return f"the shape of {grid.full} itself, as if nothing were differenced (np.gradient)"
    if shape == (columns, rows):
        return f"the shape of {grid.full} transposed: rows and columns swapped"
    return ""


def _grid_shape_finding(actual: tuple[int, ...], expected: tuple[int, ...], grid: Grid) -> _Finding:
    why = _on_grid(expected, grid)
    phrase = f"is {_dims(actual)}, but {_dims(expected)} is expected" + (f": {why}" if why else "")
    if actual == expected[::-1]:
        return _Finding("shape", f"{phrase}; yours is transposed (rows and columns swapped)")
    yours = _on_grid(actual, grid)
    return _Finding("shape", phrase + (f"; yours has {yours}" if yours else ""))


def _mismatch_phrase(
    actual: np.ndarray, expected: np.ndarray, wrong: np.ndarray, axis: Location | None
) -> str:
    """Where and how much the student's values differ: the evidence behind every explanation."""
    if expected.ndim == 0:
        return f"is {_num(actual)} instead of {_num(expected)}; {_error_sizes(actual, expected)}"
    first = _first_index(wrong)
    return (
        f"differs from the expected values at {int(wrong.sum())} of {wrong.size} points, "
        f"first at {_where(first, axis)}: {_num(actual[first])} instead of "
        f"{_num(expected[first])}; {_error_sizes(actual, expected)}"
    )


def _error_sizes(actual: np.ndarray, expected: np.ndarray) -> str:
    error = np.abs(actual - expected)
    text = f"the largest absolute error is {_num(error.max())}"
    significant = relations.significant(expected)
    if significant.any():
        relative = (error[significant] / np.abs(expected[significant])).max()
        text += f" and the largest relative error {_percent(relative)}"
    return text


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _first_at(mask: np.ndarray, actual: np.ndarray, axis: Location | None) -> str:
    if actual.ndim == 0:
        return ""
    first = _first_index(mask)
    return f", first at {_where(first, axis)}: {_num(actual[first])}"


def _where(index: tuple[int, ...], axis: Location | None) -> str:
    if isinstance(axis, Grid) and len(index) == 2:
        (i, j), (rows, rows_at), (columns, columns_at) = index, axis.rows, axis.columns
        at = f"{rows} = {_num(rows_at[i])}, {columns} = {_num(columns_at[j])}"
        return f"row {i}, column {j} ({at})"
    if len(index) != 1:
        return f"index {index}"
    (i,) = index
    if not isinstance(axis, tuple) or i >= len(axis[1]):
        return f"index {i}"
    return f"index {i} ({axis[0]} = {_num(axis[1][i])})"


def _num(x: object) -> str:
    return f"{x + 0:.4g}"  # + 0 turns -0.0 into 0.0


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.2g}%" if fraction < 1 else f"{100 * fraction:,.0f}%"


# --- Known mistakes ---------------------------------------------------------------------------


def _reproduced_mistake(outcomes: Sequence[_Outcome], tol: Tolerance) -> str | None:
    """The first listed mistake whose wrong value the student reproduces in every case.

    A mistake that explains only some calls is not claimed: the student did something else.
    """
    first = outcomes[0].case.mistakes
    for mistake in first:
        if all(
            mistake in o.case.mistakes and _reproduces(o, o.case.mistakes[mistake], tol)
            for o in outcomes
        ):
            return mistake
    return None


def _reproduced_slip(
    outcomes: Sequence[_Outcome], slips: Sequence[AutoMistake], tol: Tolerance
) -> AutoMistake | None:
    """The first slip whose values the student reproduces in every case."""
    for slip in slips:
        if len(slip.values) == len(outcomes) and all(
            _reproduces(o, value, tol) for o, value in zip(outcomes, slip.values, strict=True)
        ):
            return slip
    return None


def _reproduces(outcome: _Outcome, wrong_value: np.ndarray | float, tol: Tolerance) -> bool:
    """Whether the student's value equals a mistake's value (a number stands for a constant)."""
    if outcome.actual is None:
        return False
    wrong = _as_numbers(wrong_value)
    if wrong.ndim == 0 and outcome.actual.ndim > 0:
        wrong = np.full(outcome.expected.shape, wrong)
    return wrong.shape == outcome.actual.shape and tol.agrees(outcome.actual, wrong)


def _mistake_feedback(
    name: str,
    outcomes: Sequence[_Outcome],
    explanation: str,
    lead: str = "matches a common mistake.",
) -> str:
    index, finding = _first_failure(outcomes)
    if len(outcomes) == 1:
        evidence = f"It {finding.phrase}."
    else:
        call = _which_call(outcomes, index)
        evidence = f"{call[0].upper()}{call[1:]}, it {finding.phrase}."
    return f"{name} {lead} {explanation.strip()} {evidence}"


# --- Generic explanations ---------------------------------------------------------------------


def _failure_feedback(
    name: str, outcomes: Sequence[_Outcome], tol: Tolerance, quantity: str | None
) -> tuple[str, relations.Found | None]:
    """Explain the first failing case, with the most specific explanation that holds, and
    the relation it names, if any."""
    index, finding = _first_failure(outcomes)
    if index > 0 and finding.kind in ("mismatch", "shape"):
        explained = _sentences(
            f"{name} is correct {_which_call(outcomes, 0)} (the tutorial's inputs) but wrong "
            f"{_which_call(outcomes, index)}: it {finding.phrase}.",
            _HARD_CODED,
            *finding.advice,
        )
        return explained, None
    found = _shared_relation(outcomes, tol)
    if found is not None:
        relation = _relation_finding(name, found, quantity)
        finding = _Finding(
            finding.kind, relation.phrase, (*relation.advice, f"It {finding.phrase}.")
        )
    if len(outcomes) == 1:
        return _sentences(f"{name} {finding.phrase}.", *finding.advice), found
    explained = _sentences(
        f"{name} is wrong {_which_call(outcomes, index)}: it {finding.phrase}.", *finding.advice
    )
    return explained, found


def _relation_value(name: str, found: relations.Found, cases: int) -> str | None:
    """The relation as a spec ``value:`` over the expected value, where one expression
    holds in every case (a factor or an offset may differ from call to call)."""
    if found.relation is Relation.SIGN:
        return f"-{name}"
    if cases > 1:
        return None
    if found.relation is Relation.FACTOR:
        return f"{found.value:.10g} * {name}"
    if found.relation is Relation.OFFSET:
        return f"{name} + {found.value:.10g}"
    return None


def _first_failure(outcomes: Sequence[_Outcome]) -> tuple[int, _Finding]:
    return next((i, o.finding) for i, o in enumerate(outcomes) if o.finding is not None)


def _which_call(outcomes: Sequence[_Outcome], index: int) -> str:
    label = outcomes[index].case.label
    return f"when called {label}" if label else f"in call {index + 1}"


def _sentences(*parts: str) -> str:
    return " ".join(parts)


# The relations a curve's values are searched for, in this order.
_RELATIONS = (Relation.SIGN, Relation.FACTOR, Relation.OFFSET, Relation.SHIFT, Relation.ESTIMATE)


def _shared_relation(outcomes: Sequence[_Outcome], tol: Tolerance) -> relations.Found | None:
    """The first relation that holds in every failing case, described for the first of them.

    All failing cases must be real-valued mismatches (right shape, finite values); the
    relation's numbers (e.g. the factor) may differ between calls.
    """
    pairs = []
    for outcome in outcomes:
        if outcome.finding is None:
            continue
        actual, expected = outcome.actual, outcome.expected
        if (
            outcome.finding.kind != "mismatch"
            or actual is None
            or np.iscomplexobj(actual)
            or expected.size < 3  # the relations describe curves, not single numbers
        ):
            return None
        pairs.append((actual, expected))
    return relations.first(pairs, tol, _RELATIONS)


# What a numerical estimate is told, by what the values are (a check's ``quantity``).
_ESTIMATES = {
    "derivative": (
        "This looks like a numerical estimate (for example np.gradient or a finite "
        "difference) where the exact derivative is expected, or the other way round, or a "
        "slightly different constant."
    ),
    "integral": (
        "This looks like another rule for the integral (for example the trapezoid rule, or "
        "rectangles taken at their other ends) where the exercise's rule is expected, or a "
        "slightly different constant."
    ),
    None: (
        "This looks like another numerical method for the same values (another rule, step "
        "or grid), or a slightly different constant."
    ),
}


def _relation_finding(name: str, found: relations.Found, quantity: str | None) -> _Finding:
    if found.relation is Relation.SIGN:
        return _Finding(
            "mismatch", "is the negative of the expected values everywhere", ("Check the sign.",)
        )
    if found.relation is Relation.FACTOR:
        factor = found.value
        shown = _num(factor) if _num(factor) != "1" else f"{factor:.8g}"  # 1.0000003 is not 1
        return _Finding(
            "mismatch",
            f"is off by a constant factor of {shown} everywhere (each value is {shown} times "
            f"the expected one, so the expected values are {_num(1 / factor)} times yours)",
            (
                "Look for a missing or extra constant multiplier, such as a step size, a time "
                "constant or the inner derivative of the chain rule.",
            ),
        )
    if found.relation is Relation.OFFSET:
        return _Finding(
            "mismatch",
            f"is shifted by a constant {found.value:+.4g} everywhere",
            ("Look for a missing or extra added constant.",),
        )
    if found.relation is Relation.SHIFT:
        return _Finding(
            "mismatch",
            f"is shifted by one sample: {name}[i] holds the value expected at index {found.source}",
            (
                "Check the indexing at the start: an element dropped or added at the beginning "
                "moves every value by one place.",
            ),
        )
    return _Finding(
        "mismatch",
        f"is close to the right curve but not exact (the largest error is "
        f"{_percent(found.value)} of the largest expected magnitude)",
        (_ESTIMATES[quantity],),
    )


def _pass_feedback(name: str, outcomes: Sequence[_Outcome]) -> str:
    if len(outcomes) > 1:
        return f"{name} matches the expected values in all {len(outcomes)} calls."
    expected = outcomes[0].expected
    if expected.ndim == 0:
        return f"{name} matches the expected value."
    return f"{name} matches the expected values at all {expected.size} points."


# --- The kind -------------------------------------------------------------------------------


class ValueKind(CheckKind):
    """A kind whose listed mistakes are spec expressions over a case's values (given values,
    the call's inputs and the expected values by name)."""

    def mistake_value(
        self, spec: Spec, check: Check, mistake: Mistake, scope: Mapping[str, Any]
    ) -> Any:
        return reference.evaluate(spec, f"mistake {mistake.id}", mistake.value, dict(scope))


class Numeric(ValueKind):
    """Arrays and numbers, compared point by point within the check's tolerance."""

    def expected(self, spec: Spec, check: Check, namespace: Mapping[str, Any]) -> Any:
        """A constant reference answer (du_dt = 1) stands for the array over the axis."""
        value = namespace[check.name]
        if check.allow_constant and spec.axis is not None and np.ndim(value) == 0:
            return np.full(np.shape(namespace[spec.axis]), value, dtype=float)
        return value

    def compare(
        self, spec: Spec, check: Check, answers: Sequence[Any], cases: Sequence[ReferenceCase]
    ) -> results.Comparison:
        return self.compare_among(spec, check, answers, cases, {})

    def compare_among(
        self,
        spec: Spec,
        check: Check,
        answers: Sequence[Any],
        cases: Sequence[ReferenceCase],
        others: Mapping[str, Sequence[Any]],
    ) -> results.Comparison:
        """A slip that would also change another answer the student got right is not
        theirs (a rate slip can give the gain's values, but then the rate is wrong too)."""
        right = {
            other.name
            for other in spec.checks
            if other.name != check.name
            and other.name in others
            and _all_right(other, others[other.name], cases)
        }

        def slips() -> list[AutoMistake]:
            found = diagnosis.program_mistakes(spec, check.name)
            return [slip for slip in found if not slip.changes & right]

        given_axis = _given_location(spec)
        numeric_cases = [
            Case(
                actual=value,
                expected=case.expected[check.name],
                mistakes=case.mistakes.get(check.name, {}),
                label=case.label,
                axis=function.returned_axis(spec, case, check.name)
                or given_axis
                or function.matching_axis(case, check.name),
            )
            for value, case in zip(answers, cases, strict=True)
        ]
        return compare_numeric(
            check.name,
            numeric_cases,
            tolerance=Tolerance(rtol=check.rtol, atol=check.atol),
            allow_constant=check.allow_constant,
            mistake_feedback={m.id: m.feedback for m in check.mistakes},
            automatic=slips,
            quantity=check.quantity,
        )


def _all_right(check: Check, answers: Sequence[Any], cases: Sequence[ReferenceCase]) -> bool:
    """Whether every answer to a numeric check matches its expected value (quickly: no
    feedback is made)."""
    if check.compare != Compare.NUMERIC:
        return False
    tolerance = Tolerance(rtol=check.rtol, atol=check.atol)
    for answer, case in zip(answers, cases, strict=True):
        try:
            actual = np.asarray(answer, dtype=float)
        except (TypeError, ValueError):
            return False
        expected = _as_numbers(case.expected[check.name])
        if actual.shape != expected.shape or not tolerance.agrees(actual, expected):
            return False
    return True


def _given_location(spec: Spec) -> Location | None:
    """The spec's ``axes`` as a grid (named after the given of its shape), or its ``axis``."""
    given = reference.given_values(spec)
    if spec.axes:
        rows, columns = ((name, np.asarray(given[name])) for name in spec.axes)
        shape = (len(rows[1]), len(columns[1]))
        full = next((name for name, value in given.items() if np.shape(value) == shape), None)
        return Grid(rows, columns, full)
    return (spec.axis, given[spec.axis]) if spec.axis is not None else None


register(Compare.NUMERIC, Numeric())
