"""The one diagnosis of how a wrong answer relates to the right one.

Every kind of comparison asks the same questions of a student's numbers and the expected
ones: is it the negative, zero, off by a constant factor or a constant offset, shifted by
one sample, or a numerical estimate of the right curve? The answers are found here, once;
each kind words them for its students (a curve's "expected values", a formula's "the
derivative").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

# Expected magnitudes below this fraction of the largest one count as zero, so that ratios
# (relative errors, constant factors) are not blown up by points where the curve crosses zero.
NEAR_ZERO = 1e-3

# "Close to the right curve": off at most points, by at most this fraction of the curve's
# largest magnitude, with a correlation above the threshold. np.gradient of t*exp(-2t) errs by
# 18% of the peak at t = 0 (its one-sided end difference), hence a bound above the 10% one
# might guess.
_CLOSE_CURVE_SPREAD = 0.5
_CLOSE_CURVE_ERROR = 0.25
_CLOSE_CURVE_CORRELATION = 0.99


@dataclass(frozen=True)
class Tolerance:
    """How close counts as equal: |actual - expected| <= atol + rtol * |expected| at every point."""

    rtol: float = 1e-6
    atol: float = 1e-9

    def mismatches(
        self, actual: np.ndarray, expected: np.ndarray, where: np.ndarray | None = None
    ) -> np.ndarray:
        """The points at which ``actual`` is not close to ``expected``: NaN matches NaN.

        With ``where`` (the points that count: a formula's samples where the reference is
        defined), only those, and there a value that is not finite never matches.
        """
        wrong = ~np.isclose(actual, expected, rtol=self.rtol, atol=self.atol, equal_nan=True)
        return wrong if where is None else where & (wrong | ~np.isfinite(actual))

    def agrees(
        self, actual: np.ndarray, expected: np.ndarray, where: np.ndarray | None = None
    ) -> bool:
        return not self.mismatches(actual, expected, where).any()


class Relation(StrEnum):
    """The relations, most specific first: a sign flip is also a factor of -1, and any
    relation is "close"."""

    SIGN = "sign"  # the negative everywhere
    ZERO = "zero"  # 0 everywhere
    FACTOR = "factor"  # a constant multiple
    OFFSET = "offset"  # plus a constant
    SHIFT = "shift"  # moved by one sample (curves only)
    ESTIMATE = "estimate"  # close to the right curve but not exact (curves only)


@dataclass(frozen=True)
class Found:
    """A relation that holds, with its number: the factor, the offset, or (an estimate) the
    largest error as a fraction of the largest expected magnitude. ``source`` says where a
    shifted value comes from ("i+1" or "i-1")."""

    relation: Relation
    value: float = 0.0
    source: str = ""


def significant(expected: np.ndarray) -> np.ndarray:
    """Points where the expected value is not ~0, so that dividing by it means something."""
    magnitude = np.abs(expected)
    return magnitude > NEAR_ZERO * magnitude.max()


def find(
    relation: Relation,
    actual: np.ndarray,
    expected: np.ndarray,
    tolerance: Tolerance,
    *,
    where: np.ndarray | None = None,
    dividing: np.ndarray | None = None,
) -> Found | None:
    """Whether ``relation`` holds between ``actual`` and ``expected``, at the points of
    ``where`` (default: all). A factor is estimated from the points of ``dividing``
    (default: ``significant(expected)``).

    Values may be complex; the factor and offset are real. Call it under
    ``np.errstate(all="ignore")`` when values may be infinite or NaN.
    """
    agrees = tolerance.agrees
    if relation is Relation.SIGN:
        return Found(relation) if agrees(actual, -expected, where) else None
    if relation is Relation.ZERO:
        return Found(relation) if agrees(actual, np.zeros_like(expected), where) else None
    if relation is Relation.FACTOR:
        usable = significant(expected) if dividing is None else dividing
        if not usable.any():
            return None
        factor = float(np.median((actual[usable] / expected[usable]).real))
        if not np.isfinite(factor) or factor == 0 or not agrees(actual, factor * expected, where):
            return None
        return Found(relation, factor)
    if relation is Relation.OFFSET:
        difference = actual - expected
        offset = float(np.median((difference if where is None else difference[where]).real))
        if not np.isfinite(offset) or not agrees(actual, expected + offset, where):
            return None
        return Found(relation, offset)
    if relation is Relation.SHIFT:
        return _shift(actual, expected, tolerance)
    return _estimate(actual, expected, tolerance)


def first(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    tolerance: Tolerance,
    relations: Sequence[Relation],
    *,
    where: np.ndarray | None = None,
    dividing: np.ndarray | None = None,
) -> Found | None:
    """The first of ``relations`` that holds for every (actual, expected) pair, as found in
    the first pair (its number may differ between pairs: each call has its own factor)."""
    for relation in relations:
        found = [
            find(relation, actual, expected, tolerance, where=where, dividing=dividing)
            for actual, expected in pairs
        ]
        if found and all(found):
            return found[0]
    return None


def _shift(actual: np.ndarray, expected: np.ndarray, tolerance: Tolerance) -> Found | None:
    if actual.ndim != 1 or tolerance.agrees(expected[1:], expected[:-1]):
        return None  # on a constant curve every shift matches: nothing to learn from it
    if tolerance.agrees(actual[:-1], expected[1:]):
        return Found(Relation.SHIFT, source="i+1")
    if tolerance.agrees(actual[1:], expected[:-1]):
        return Found(Relation.SHIFT, source="i-1")
    return None


def _estimate(actual: np.ndarray, expected: np.ndarray, tolerance: Tolerance) -> Found | None:
    if np.std(actual) == 0 or np.std(expected) == 0:
        return None  # correlation is undefined for a constant
    differs = ~np.isclose(actual, expected, rtol=tolerance.rtol, atol=tolerance.atol)
    if differs.mean() < _CLOSE_CURVE_SPREAD:
        return None  # a few wrong points are a local slip, not another way to estimate the curve
    error = float(np.abs(actual - expected).max() / np.abs(expected).max())
    correlation = np.corrcoef(actual.ravel(), expected.ravel())[0, 1]
    if error >= _CLOSE_CURVE_ERROR or correlation <= _CLOSE_CURVE_CORRELATION:
        return None
    return Found(Relation.ESTIMATE, error)
