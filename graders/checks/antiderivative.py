"""Antiderivatives: a typed formula that is right up to an additive constant.

Every antiderivative of f differs from the reference by a constant, so the answer passes
when answer − reference is constant over the sampled points (any constant: none, + 5, or a
free constant such as C, which is sampled at two values and must only shift the answer).
A missing constant is a remark, never an error. The usual confusions are recognised
without the author listing them: the function to integrate given back (F' instead of F)
and its derivative (differentiated instead of integrated); both are found numerically
from the reference by central differences, never symbolically.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import diagnosis
from ..diagnosis import FormulaMistake
from ..formula import Binary, Call, Negate, Node, Variable, evaluate, parse, render
from ..reference import ReferenceCase
from ..results import Comparison
from ..spec import Check, Spec
from . import Compare, register, relations
from .expression import (
    Expression,
    ExpressionMistake,
    _format_pair,
    declared_mistakes,
    read_formula,
    sample,
    where_phrase,
)
from .relations import Relation, Tolerance

# Any single letter may name the free constant (C, c, K, A, ...); e and E are Euler's number.
FREE_CONSTANTS = tuple(letter for letter in string.ascii_letters if letter not in "eE")
# Two values for the free constants: the answer must only shift between them.
_CONSTANT_VALUES = (0.0, 1.37)
# Derivatives of the reference by central differences, as a fraction of the domain's width;
# their errors (~1e-9) are far inside the looser tolerance they are compared with.
_STEP = 1e-4
_SECOND_STEP = 1e-3
_DERIVED = Tolerance(rtol=1e-5, atol=1e-6)

INTEGRAND = "integrand_not_integrated"
DIFFERENTIATED = "differentiated_instead"


def _free_constants(node: Node, variable: str) -> list[str]:
    """The names other than the variable in the formula, in order of appearance."""
    found: list[str] = []
    stack = [node]
    while stack:
        match stack.pop():
            case Variable(name=name) if name != variable and name not in found:
                found.append(name)
            case Negate(operand=operand) | Call(argument=operand):
                stack.append(operand)
            case Binary(left=left, right=right):
                stack.extend((right, left))
    return found


def _at(node: Node, variable: str, points: np.ndarray, free: Sequence[str], value: float):
    values = {variable: points} | {name: np.full(points.shape, value) for name in free}
    return evaluate(node, values)


def _differs_by_constant(got: np.ndarray, want: np.ndarray, where: np.ndarray, tol) -> bool:
    with np.errstate(all="ignore"):
        return relations.find(Relation.OFFSET, got, want, tol, where=where) is not None


def compare_antiderivative(
    name: str,
    answer: object,
    reference: str,
    *,
    variable: str,
    domain: tuple[float, float],
    mistakes: Sequence[ExpressionMistake] = (),
    automatic: Sequence[FormulaMistake] = (),
    rtol: float = 1e-6,
    atol: float = 1e-9,
    seed: int = 0,
    points: int = 60,
) -> Comparison:
    """Grade a typed antiderivative against a trusted reference antiderivative;
    ``automatic``: the reference's slips (``graders.diagnosis``), tried after the usual
    confusions."""
    student = read_formula(name, answer, (variable, *(c for c in FREE_CONSTANTS if c != variable)))
    if isinstance(student, Comparison):
        return student
    t = sample({variable: domain}, seed, points)[variable]
    tolerance = Tolerance(rtol, atol)
    reference_tree = parse(reference, variable)
    want = evaluate(reference_tree, t)
    where = np.isfinite(want)
    free = _free_constants(student, variable)
    got = _at(student, variable, t, free, _CONSTANT_VALUES[0])
    reading = render(student)
    note = f" We read your answer as {reading}; if you meant something else, check the brackets."

    if free:
        moved = _at(student, variable, t, free, _CONSTANT_VALUES[1]) - got
        if not _differs_by_constant(moved, np.zeros_like(moved), where, tolerance):
            constants = " and ".join(free)
            return Comparison(
                passed=False,
                feedback=(
                    f"{constants} should be an added constant, but changing it changes your "
                    f"answer by different amounts at different {variable}: write the rest of "
                    f"the antiderivative, then + {free[0]} at the end.{note}"
                ),
                misconception="constant_not_added",
            )
    if _differs_by_constant(got, want, where, tolerance):
        if free:
            return Comparison(True, f"Correct: {name} = {reading}, with {free[0]} any constant.")
        offset = float(np.median((got - want)[where].real))
        if not tolerance.agrees(np.array([offset]), np.zeros(1)):
            return Comparison(True, f"Correct: {name} = {reading} (any constant is right).")
        return Comparison(
            True,
            f"Correct: {name} = {reading}. Remark: any constant may be added (+ C), since "
            "antiderivatives of the same function differ only by a constant.",
        )
    for mistake in mistakes:
        wrong = evaluate(parse(mistake.expression, variable), t)
        if _differs_by_constant(got, wrong, where, tolerance):
            return Comparison(False, mistake.feedback.strip() + note, misconception=mistake.id)

    width = domain[1] - domain[0]
    h, k = _STEP * width, _SECOND_STEP * width
    integrand = (evaluate(reference_tree, t + h) - evaluate(reference_tree, t - h)) / (2 * h)
    slope = (evaluate(reference_tree, t + k) - 2 * want + evaluate(reference_tree, t - k)) / k**2
    if _differs_by_constant(got, integrand, where, _DERIVED):
        return Comparison(
            False,
            f"{name} is the function to integrate itself, not an antiderivative of it. An "
            f"antiderivative F is a function whose derivative is the given one: integrate "
            f"each term ({variable}^n becomes {variable}^(n+1)/(n+1)).{note}",
            misconception=INTEGRAND,
        )
    if _differs_by_constant(got, slope, where, _DERIVED):
        return Comparison(
            False,
            f"{name} is the derivative of the function to integrate: you differentiated "
            f"instead of integrating. An antiderivative goes the other way: differentiating "
            f"it must give back the function.{note}",
            misconception=DIFFERENTIATED,
        )
    for slip in automatic:
        if _differs_by_constant(got, evaluate(slip.tree, t), where, tolerance):
            return Comparison(
                False,
                slip.feedback + note,
                misconception=slip.id,
                automatic=True,
                suggested_value=slip.formula,
            )
    return Comparison(
        False, f"Not quite: {_evidence(student, integrand, variable, t, free, h, where)}{note}"
    )


def _evidence(
    student: Node,
    integrand: np.ndarray,
    variable: str,
    t: np.ndarray,
    free: Sequence[str],
    h: float,
    where: np.ndarray,
) -> str:
    """Where the derivative of the answer is not the function to integrate."""
    up = _at(student, variable, t + h, free, _CONSTANT_VALUES[0])
    down = _at(student, variable, t - h, free, _CONSTANT_VALUES[0])
    slope = (up - down) / (2 * h)
    wrong = _DERIVED.mismatches(slope, integrand, where)
    if not wrong.any():  # cannot happen for a non-constant difference; kept honest
        return "your answer differs from an antiderivative by more than a constant."
    index = int(np.argmax(wrong))
    shown_slope, shown_f = _format_pair(slope[index], integrand[index])
    return (
        "your answer differs from an antiderivative by more than a constant: its derivative "
        f"should be the function to integrate, but at {where_phrase({variable: t}, index)} "
        f"your answer's slope is {shown_slope} and the function is {shown_f}."
    )


class Antiderivative(Expression):
    """A formula in the spec's ``expression.variable``, right up to an added constant."""

    def compare(
        self, spec: Spec, check: Check, answers: Sequence[Any], cases: Sequence[ReferenceCase]
    ) -> Comparison:
        assert spec.expression is not None
        [(variable, domain)] = spec.expression.domains.items()
        mistakes = declared_mistakes(check, cases)
        return compare_antiderivative(
            check.name,
            answers[0],
            cases[0].expected[check.name],
            variable=variable,
            domain=domain,
            mistakes=mistakes,
            automatic=diagnosis.formula_mistakes(
                check.name, cases[0].expected[check.name], (variable,)
            ),
            rtol=check.rtol,
            atol=check.atol,
        )


register(Compare.ANTIDERIVATIVE, Antiderivative())
