"""What identifies a wrong answer's values across a class, float noise aside.

Students who make the same mistake hand in the same values up to float noise (float32
arithmetic, another summation order, ``np.diff`` or slicing): the fingerprint is a hash of
the values rounded to a grid far coarser than that noise and far finer than what tells two
mistakes apart on a plot. The grid step is ``RESOLUTION`` of the case's scale (its largest
magnitude, expected or given, rounded down to a power of two so that students share it).

Two nearly equal values can still round apart where they straddle a grid line, so a
fingerprint is the key of a group, not the whole rule: the class grouping
(``graders.reports.groups``) also merges groups whose values agree within a grid step.

Computed in the grading process from the plain values the sandbox handed back (never a
student object); a typed formula is read by the safe parser and evaluated at the points
its check samples, so ``4a^3e^(a^4+1)*(-1)`` and ``-4a^3 e^(a^4+1)`` share a fingerprint.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..formula import evaluate, names_in, parse
from ..reference import ReferenceCase
from ..results import Comparison
from ..spec import Check, Spec
from . import Compare
from .antiderivative import FREE_CONSTANTS
from .expression import read_formula, sample

# The grid step as a fraction of the case's scale: ~0.1 %, ten thousand times float32's
# precision, and well below what a plot of the values can show.
RESOLUTION = 2.0**-10
_FORMULAS = (Compare.EXPRESSION, Compare.ANTIDERIVATIVE)
# The points a formula's values are taken at: those its comparison samples.
_FORMULA_SEED, _FORMULA_POINTS = 0, 60
_DIGEST_CHARACTERS = 16


def fingerprint(
    spec: Spec, check: Check, answers: Sequence[Any], cases: Sequence[ReferenceCase]
) -> str | None:
    """The fingerprint of one check's answers (one per case: the value, or each call's
    returned value), or None when they are not numbers (nothing to compare values by)."""
    if check.compare in _FORMULAS:
        pairs = [_formula_values(spec, check, answers[0], cases[0])]
    else:
        pairs = [
            (_numbers(answer), _numbers(case.expected[check.name]))
            for answer, case in zip(answers, cases, strict=True)
        ]
    digest = hashlib.sha256()
    for values, expected in pairs:
        if values is None:
            return None
        _update(digest, values, grid_step(scale_of(values, expected)))
    return digest.hexdigest()[:_DIGEST_CHARACTERS]


def scale_of(*arrays: np.ndarray | None) -> float:
    """The largest finite magnitude among the arrays (1 when there is none or it is 0)."""
    largest = 0.0
    for array in arrays:
        if array is not None and array.size:
            finite = np.abs(array[np.isfinite(array)])
            largest = max(largest, float(finite.max()) if finite.size else 0.0)
    return largest or 1.0


def grid_step(scale: float) -> float:
    """RESOLUTION of the scale rounded down to a power of two."""
    return math.ldexp(RESOLUTION, math.frexp(scale)[1] - 1)


def _update(digest: Any, array: np.ndarray, step: float) -> None:
    finite = np.isfinite(array)
    rounded = np.round(np.where(finite, array, 0.0) / step).astype(np.int64)
    # NaN, +inf and -inf each keep their place: a division by zero is part of a mistake.
    kinds = np.select([np.isnan(array), array > 0, array < 0], [1, 2, 3], 0).astype(np.int8)
    digest.update(repr(array.shape).encode())
    digest.update(rounded.tobytes())
    digest.update(np.where(finite, 0, kinds).astype(np.int8).tobytes())


def _numbers(value: Any) -> np.ndarray | None:
    """A float64 array (a complex one as its real parts, then its imaginary parts), or None
    when the value is not numbers."""
    if not isinstance(value, np.ndarray | np.generic | numbers.Number | list | tuple):
        return None
    try:
        array = np.asarray(value)
    except ValueError:  # rows of different lengths
        return None
    if array.dtype.kind not in "biufc":
        return None
    if array.dtype.kind == "c":
        return np.concatenate([array.real.ravel(), array.imag.ravel()]).astype(np.float64)
    return array.astype(np.float64)


def _formula_values(
    spec: Spec, check: Check, answer: Any, case: ReferenceCase
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A typed formula's values at its check's sample points, and the reference's; an
    antiderivative's up to its constant (any free constant at 0, then moved onto the
    reference's)."""
    assert spec.expression is not None
    domains = spec.expression.domains
    variables = list(domains)
    antiderivative = check.compare == Compare.ANTIDERIVATIVE
    allowed = [*variables, *(c for c in FREE_CONSTANTS if c not in variables)]
    node = read_formula(check.name, answer, allowed if antiderivative else variables)
    if isinstance(node, Comparison):
        return None, None
    points = sample(domains, _FORMULA_SEED, _FORMULA_POINTS)
    shape = next(iter(points.values())).shape
    free = {name: np.zeros(shape) for name in names_in(node) if name not in points}
    got = evaluate(node, {**points, **free})
    want = evaluate(parse(case.expected[check.name], variables), points)
    if antiderivative:
        with np.errstate(all="ignore"):
            offsets = (got - want)[np.isfinite(got - want)]
        if offsets.size:
            got = got - np.median(offsets.real)
    return _numbers(got), _numbers(want)
