"""Function outputs: a function check's answers are what the student's function returns.

The student's function is called (in the sandbox, or by Otter in the student's own
process) once per reference case: the tutorial's inputs, then seeded random ones. Each
check takes its returned value out of every call's result and is compared by its own kind,
one answer per call; a wrong value is located along the argument it runs along.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..reference import ReferenceCase
from ..results import Comparison
from ..spec import Check, Spec
from ..values import CallFailure
from . import compare_check


def compare_outputs(
    spec: Spec, check: Check, results: Sequence[Any], cases: Sequence[ReferenceCase]
) -> Comparison:
    """Compare one check's returned value in each call's result (or the CallFailure it
    raised), after making sure every result has the declared number of values."""
    assert spec.function is not None
    returned = {
        name: [returned_value(spec, result, position) for result in results]
        for position, name in enumerate(spec.function.return_names)
    }
    actual = returned[check.name]
    bad_return = next((a for a in actual if isinstance(a, Comparison)), None)
    return bad_return or compare_check(spec, check, actual, cases, returned)


def returned_value(spec: Spec, result: Any, position: int) -> Any:
    """Pick one returned value out of a call's result, or explain why it cannot be."""
    assert spec.function is not None
    if isinstance(result, CallFailure):
        return result
    returns = spec.function.return_names
    if len(returns) == 1:
        return result  # a function of one result returns it as it is (`return V`)
    if isinstance(result, (tuple, list)) and len(result) == len(returns):
        return result[position]
    got = f"{len(result)} values" if isinstance(result, (tuple, list)) else _kind(result)
    return Comparison(
        False,
        f"{spec.function.name} should return {len(returns)} values ({', '.join(returns)}) "
        f"as a tuple; it returned {got}.",
    )


def _kind(value: Any) -> str:
    if value is None:
        return "None (is a `return` statement missing?)"
    return f"a single {type(value).__name__}"


def returned_axis(spec: Spec, case: ReferenceCase, name: str) -> tuple[str, Any] | None:
    """The argument the spec says a returned value runs along (V along time).

    A value shorter than its axis (a forward difference) is located at the first points.
    """
    argument = spec.function.axis_of(name) if spec.function is not None else None
    expected = np.asarray(case.expected[name])
    values = case.kwargs.get(argument) if argument is not None else None
    if not isinstance(values, np.ndarray) or values.ndim != 1 or expected.ndim != 1:
        return None
    return argument, values[: expected.size]


def matching_axis(case: ReferenceCase, name: str) -> tuple[str, Any] | None:
    """Without a declared axis: the first array argument as long as the returned value."""
    expected = np.asarray(case.expected[name])
    for argument, value in case.kwargs.items():
        if isinstance(value, np.ndarray) and expected.ndim == 1 and value.shape == expected.shape:
            return argument, value
    return None
