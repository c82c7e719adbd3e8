"""Typed formulas such as ``4a^3 e^(a^4+1)``, compared numerically.

Equivalence is decided numerically rather than symbolically (importing sympy alone would
cost more than the whole self-check may take): the student's formula, read by the safe
parser of ``graders.formula``, and the reference are evaluated with numpy at seeded random
points and a few fixed non-integer points, so agreeing at 0, ±1 or the integers is not
enough to pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import diagnosis
from ..diagnosis import FormulaMistake
from ..formula import (
    MAX_LENGTH,
    ExpressionError,
    Node,
    body_span,
    evaluate,
    listing,
    parse,
    render,
)
from ..reference import ReferenceCase
from ..results import Comparison
from ..spec import Check, Mistake, Spec
from ..values import CallFailure, Opaque, Placeholder, SymbolicText
from . import CheckKind, Compare, register, relations
from .relations import Relation, Tolerance


@dataclass(frozen=True)
class ExpressionMistake:
    """A known wrong answer (in the same grammar) and the feedback it deserves."""

    id: str
    expression: str
    feedback: str


_FIXED_FRACTIONS = (0.62, 0.31, 0.87, 0.12)  # inside the domain, away from its integers


def _sample_points(
    domain: tuple[float, float], seed: int, points: int, turn: int = 0
) -> np.ndarray:
    """Fixed points first (they read well in feedback), then seeded random ones.

    All are rounded to a few significant digits of the domain's width, so the point
    quoted in feedback is exactly the point that was evaluated. ``turn`` rotates the fixed
    fractions, so that the second variable's fixed points are not the first's (on x = y,
    2x + 2y and 4x agree).
    """
    low, high = domain
    decimals = max(0, 3 - int(np.floor(np.log10(high - low))))
    fractions = _FIXED_FRACTIONS[turn:] + _FIXED_FRACTIONS[:turn]
    fixed = np.round([low + f * (high - low) for f in fractions], decimals - 1)
    rng = np.random.default_rng(seed)
    return np.concatenate([fixed, np.round(rng.uniform(low, high, points), decimals)])


def sample(
    domains: Mapping[str, tuple[float, float]], seed: int, points: int
) -> dict[str, np.ndarray]:
    """Each variable's sample points (independent draws, one stream per variable)."""
    return {
        name: _sample_points(domain, seed + turn, points, turn % len(_FIXED_FRACTIONS))
        for turn, (name, domain) in enumerate(domains.items())
    }


def where_phrase(samples: Mapping[str, np.ndarray], index: int) -> str:
    """``x = 0.48, y = -0.76``: the point quoted in feedback."""
    return ", ".join(f"{name} = {values[index].real:g}" for name, values in samples.items())


def _format_value(value: complex, digits: int) -> str:
    if not np.isfinite(value):
        return "undefined (nan)" if np.isnan(value) else "infinite"
    real, imag = value.real, value.imag
    if abs(imag) <= 1e-12 * max(1.0, abs(real)):
        return f"{real:.{digits}g}"
    return f"{real:.{digits}g}{imag:+.{digits}g}i"


def _format_pair(first: complex, second: complex) -> tuple[str, str]:
    """Both values, with just enough significant digits (4 or more) to tell them apart."""
    for digits in range(4, 16):
        shown = _format_value(first, digits), _format_value(second, digits)
        if shown[0] != shown[1]:
            return shown
    return shown


def _describe(answer: object) -> str:
    """What kind of value arrived instead of a formula, in the student's terms."""
    if isinstance(answer, bool):
        return f"the boolean {answer}"
    if isinstance(answer, int | float | complex | np.number):
        return f"the number {answer}"
    if isinstance(answer, np.ndarray):
        return f"a numpy array of shape {answer.shape}"
    if isinstance(answer, list | tuple):
        return f"a {type(answer).__name__} of {len(answer)} items"
    if isinstance(answer, Opaque):
        summary = f" ({answer.summary})" if answer.summary else ""
        return f"a {answer.type_name}{summary}"
    if isinstance(answer, CallFailure):
        return f"an error ({answer.exception}: {answer.message})"
    return f"a value of type {type(answer).__name__}"


def _is_missing(answer: object, variable: str | Sequence[str]) -> bool:
    if answer is None or isinstance(answer, Placeholder):
        return True
    if isinstance(answer, SymbolicText | str):
        text = answer.text if isinstance(answer, SymbolicText) else answer
        if len(text) > MAX_LENGTH:
            return False
        start, end = body_span(text, variable)
        return text[start:end] in ("", "...", "…")
    return False


# The relations a formula is searched for, in this order.
_RELATIONS = (Relation.SIGN, Relation.ZERO, Relation.FACTOR, Relation.OFFSET)


def _relation(
    got: np.ndarray, want: np.ndarray, where: np.ndarray, tolerance: Tolerance
) -> relations.Found | None:
    """A simple relation between the answer and the reference, if there is one."""
    dividing = where & (np.abs(want) > tolerance.atol)
    return relations.first([(got, want)], tolerance, _RELATIONS, where=where, dividing=dividing)


def _relation_text(found: relations.Found) -> str:
    if found.relation is Relation.SIGN:
        return "your answer is the negative of the derivative everywhere (a sign error)."
    if found.relation is Relation.ZERO:
        return "your expression is 0 everywhere."
    if found.relation is Relation.FACTOR:
        shown = _format_pair(found.value, 1.0)[0]
        return f"your answer is off by a constant factor of {shown} everywhere."
    shown = _format_pair(found.value, 0.0)[0]
    return f"your answer differs from the derivative by a constant ({shown}) everywhere."


def _relation_formula(found: relations.Found, reference: str) -> str:
    """The relation as a mistake's formula: what pasted as ``value:`` gives the answer."""
    if found.relation is Relation.SIGN:
        return f"-({reference})"
    if found.relation is Relation.ZERO:
        return "0"
    if found.relation is Relation.FACTOR:
        return f"{found.value:.10g}*({reference})"
    return f"{reference} + {found.value:.10g}"


def _evidence(
    got: np.ndarray,
    want: np.ndarray,
    where: np.ndarray,
    samples: Mapping[str, np.ndarray],
    tolerance: Tolerance,
) -> str:
    """A point where the answer and the reference differ, clearly if possible.

    The fixed points come first and read best; a point where the two differ by at least
    1% is preferred, so the quoted numbers do not look nearly equal.
    """
    mismatched = tolerance.mismatches(got, want, where)
    relative = np.abs(got - want) / np.maximum(np.abs(want), tolerance.atol)
    clear = mismatched & ~(relative < 0.01)  # a non-finite answer counts as clearly different
    index = int(np.argmax(clear if clear.any() else mismatched))
    shown_got, shown_want = _format_pair(got[index], want[index])
    return (
        f"at {where_phrase(samples, index)} your expression gives {shown_got}, "
        f"the derivative there is {shown_want}."
    )


def read_formula(name: str, answer: object, variables: Sequence[str]) -> Node | Comparison:
    """The student's formula as a tree, or the Comparison that explains why there is none
    (no answer yet, not a formula, unreadable). Never raises."""
    wanted = listing(variables)
    if _is_missing(answer, variables):
        return Comparison(
            passed=False,
            feedback=f"No answer yet: write {name} as an expression in {wanted}.",
            attempted=False,
        )
    if not isinstance(answer, str | SymbolicText):
        first = variables[0]
        example = f'"3*{first}^2*sin({first})"'
        return Comparison(
            passed=False,
            feedback=(
                f"{name} should be an expression in {wanted} (as text such as {example} "
                f"or a sympy expression), but it is {_describe(answer)}."
            ),
        )
    text = answer.text if isinstance(answer, SymbolicText) else answer
    try:
        return parse(text, variables)
    except ExpressionError as error:
        return Comparison(passed=False, feedback=f"Could not read {name}: {error.message}")


def compare_expression(
    name: str,
    answer: object,
    reference: str,
    *,
    variable: str | None = None,
    mistakes: Sequence[ExpressionMistake] = (),
    domain: tuple[float, float] = (-1.5, 1.5),
    domains: Mapping[str, tuple[float, float]] | None = None,
    others: Mapping[str, str] | None = None,
    automatic: Sequence[FormulaMistake] = (),
    rtol: float = 1e-6,
    atol: float = 1e-9,
    seed: int = 0,
    points: int = 60,
) -> Comparison:
    """Grade a typed or sympy formula against a trusted reference formula, numerically.

    A formula in one ``variable`` sampled on ``domain``, or in several, each sampled on its
    own of ``domains``. ``others``: the reference formulas of the exercise's other checks,
    by name, to recognise two answers given in each other's place; ``automatic``: the
    reference's slips (``graders.diagnosis``), tried after them. The reference and
    mistakes are trusted (a bad one raises ExpressionError); the answer never raises:
    every problem with it becomes feedback.
    """
    if domains is None:
        assert variable is not None, "a variable or domains"
        domains = {variable: domain}
    variables = list(domains)
    student = read_formula(name, answer, variables)
    if isinstance(student, Comparison):
        return student

    samples = sample(domains, seed, points)
    want = evaluate(parse(reference, variables), samples)
    got = evaluate(student, samples)
    where = np.isfinite(want)
    tolerance = Tolerance(rtol, atol)
    reading = render(student)
    if tolerance.agrees(got, want, where):
        return Comparison(passed=True, feedback=f"Correct: {name} = {reading}.")

    note = f" We read your answer as {reading}; if you meant something else, check the brackets."
    for mistake in mistakes:
        if tolerance.agrees(got, evaluate(parse(mistake.expression, variables), samples), where):
            return Comparison(
                passed=False, feedback=mistake.feedback.strip() + note, misconception=mistake.id
            )
    for other, formula in (others or {}).items():
        if tolerance.agrees(got, evaluate(parse(formula, variables), samples), where):
            return Comparison(
                passed=False,
                feedback=(
                    f"{name} is what {other} should be: are the two answers swapped? Give "
                    f"each under its own name.{note}"
                ),
                misconception="answers_swapped",
            )
    for slip in automatic:
        if tolerance.agrees(got, evaluate(slip.tree, samples), where):
            return Comparison(
                passed=False,
                feedback=slip.feedback + note,
                misconception=slip.id,
                automatic=True,
                suggested_value=slip.formula,
            )
    with np.errstate(all="ignore"):  # ratios and offsets of inf/nan values are expected
        found = _relation(got, want, where, tolerance)
        if found is None:
            evidence = _evidence(got, want, where, samples, tolerance)
            return Comparison(passed=False, feedback=f"Not quite: {evidence}{note}")
    return Comparison(
        passed=False,
        feedback=f"Not quite: {_relation_text(found)}{note}",
        misconception=diagnosis.relation_id(found.relation),
        automatic=True,
        suggested_value=_relation_formula(found, reference),
    )


def declared_mistakes(check: Check, cases: Sequence[ReferenceCase]) -> list[ExpressionMistake]:
    """The check's listed mistakes with their formulas (a typed answer has one case)."""
    wrong = cases[0].mistakes.get(check.name, {})
    return [ExpressionMistake(m.id, wrong[m.id], m.feedback) for m in check.mistakes]


class Expression(CheckKind):
    """A formula in the spec's ``expression.variable``, typed or given as text or sympy."""

    typed_answers = True

    def mistake_value(
        self, spec: Spec, check: Check, mistake: Mistake, scope: Mapping[str, Any]
    ) -> Any:
        return mistake.value  # a formula, read by the parser when compared

    def compare(
        self, spec: Spec, check: Check, answers: Sequence[Any], cases: Sequence[ReferenceCase]
    ) -> Comparison:
        assert spec.expression is not None
        mistakes = declared_mistakes(check, cases)
        expected = cases[0].expected
        # The exercise's other formulas, to recognise df_dx given where df_dy belongs.
        # (Where the two are equal, as for x² + 2xy + y², a swapped answer is right.)
        others = {
            c.name: expected[c.name]
            for c in spec.checks
            if c.name != check.name and c.compare == check.compare
        }
        return compare_expression(
            check.name,
            answers[0],
            expected[check.name],
            domains=spec.expression.domains,
            mistakes=mistakes,
            others=others,
            automatic=diagnosis.formula_mistakes(
                check.name, expected[check.name], tuple(spec.expression.domains)
            ),
            rtol=check.rtol,
            atol=check.atol,
        )


register(Compare.EXPRESSION, Expression())
