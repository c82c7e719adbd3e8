"""Automatic diagnosis: naming the wrong answers nobody listed in the spec.

A check's declared mistakes are tried first. When none matches a failed check, the check's
kind asks this package, which tries, in this order:

- **slips in the reference program** (``program``, ``variants``): the reference module with
  one plausible slip each, run on the spec's own inputs; a student whose values are a
  slip's values in every case is told the slip in the reference's own code ("your
  rectangle_areas is what `PSP / dt` gives where `PSP * dt` is expected");
- **slips in the reference formula** (``formulas``): typed checks, the same on the
  formula's tree, matched at the random points the kind samples;
- **generic relations** (``RELATION_IDS``): a sign, a factor, an offset, a shift by one
  sample, a numerical estimate, zero, found by ``checks.relations``.

Every diagnosis has a stable id: ``auto:<place>:<kind>:<hash>`` for a slip (the name the
slipped line assigns, the kind of slip and a short hash of the code before and after), and
``auto:sign`` and the like for a relation. Variants are made from the instructor's trusted
reference and spec only, once per spec (cached on disk by ``cache``), never from a student's
text; the kinds compare the student's plain values with them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..formula import Node, parse
from ..spec import Spec
from . import cache, formulas
from .variants import Variant, build

# The generic relations' ids (checks.relations.Relation values, prefixed).
RELATION_PREFIX = "auto:"


def relation_id(relation: str) -> str:
    return f"{RELATION_PREFIX}{relation}"


@dataclass(frozen=True)
class AutoMistake:
    """A slip matched like a listed mistake: its values in each case, and what to say."""

    id: str
    values: Sequence[np.ndarray]
    feedback: str
    suggested_value: str | None
    changes: frozenset[str] = frozenset()  # every check the slip changes


_MADE: dict[str, list[Variant]] = {}


def program_variants(spec: Spec) -> list[Variant]:
    """The spec's program variants: from this process's memory, the disk cache, or made."""
    source = spec.reference_path.read_text(encoding="utf-8")
    path = cache.path_for(spec, source)
    key = str(path)
    if key not in _MADE:
        variants = cache.load(path)
        if variants is None:
            variants = build(spec, source)
            cache.store(path, variants)
        _MADE[key] = variants
    return _MADE[key]


def program_mistakes(spec: Spec, check: str) -> list[AutoMistake]:
    """The slips that change ``check``, as mistakes to match. None for an exercise whose
    expected values come from the student's own inputs (they are not the cached ones)."""
    if spec.from_submission:
        return []
    return [
        AutoMistake(
            variant.id,
            variant.values[check],
            describe(variant, check),
            variant.suggestions.get(check),
            frozenset(variant.values),
        )
        for variant in program_variants(spec)
        if check in variant.values
    ]


# What to look at, per kind of slip: a word for the student who made it.
_ADVICE = {
    "precedence": "Python computes * and / before + and -, and a minus sign in front applies "
    "to the next term only: brackets decide what belongs together.",
    "mult_div": "Check whether this step multiplies or divides.",
    "add_sub": "Check whether these terms are added or subtracted.",
    "sub_order": "The two sides of the subtraction are the other way round, which flips the "
    "sign of the difference.",
    "sign": "A minus sign is missing there.",
    "central": "That is a central difference; the exercise uses a forward difference, "
    "(next − current) / step.",
    "cumsum_sum": "np.sum gives one total; np.cumsum keeps every running total.",
    "drop_term": "A term is missing there.",
    "drop_factor": "A factor is missing there.",
    "drop_divisor": "The division is missing there.",
    "drop_power": "The power is missing there.",
    "slice": "The slice there is off by one.",
    "index": "The index there is off by one.",
    "value_one": "A value there is replaced by 1.",
    "value_double": "A value there is twice what it should be.",
    "value_half": "A value there is half what it should be.",
    "value_swap": "One value there is used in place of another.",
    "grid_linspace": "The formula is right, but on another grid: np.linspace(start, stop, n) "
    "includes stop and spaces its points (stop − start)/(n − 1) apart, unlike np.arange.",
    "grid_endpoint": "The formula is right, but on another grid, which includes the end point.",
    "grid_more": "The formula is right, but on a grid with one point more.",
    "grid_fewer": "The formula is right, but on a grid with one point fewer.",
    "given_double": "The formula is right, but with a value twice the exercise's.",
    "given_half": "The formula is right, but with a value half the exercise's.",
    "given_swap": "The formula is right, but with two of the exercise's values swapped.",
}


def describe(variant: Variant, check: str) -> str:
    """The slip in the reference's own terms, as seen from the student's ``check``."""
    advice = _ADVICE.get(variant.kind, "")
    if variant.given:
        said = (
            f"Your {check} is what the right code gives with {_code(variant.after)} where "
            f"{_code(variant.before)} is expected."
        )
    elif variant.place == check:
        said = (
            f"Your {check} is what {_code(variant.after)} gives where {_code(variant.before)} "
            f"is expected{_in_line(variant)}."
        )
    else:
        said = (
            f"Your {check} follows from a slip in {variant.place}: {_code(variant.after)} where "
            f"{_code(variant.before)} is expected{_in_line(variant)}."
        )
    return f"{said} {advice}".strip()


def _in_line(variant: Variant) -> str:
    return "" if variant.line.endswith(f"= {variant.before}") else f" (in {_code(variant.line)})"


def _code(text: str) -> str:
    return f"`{text}`"


@dataclass(frozen=True)
class FormulaMistake:
    """A slip of a reference formula, matched like a listed mistake's formula."""

    id: str
    tree: Node
    feedback: str
    formula: str  # the slipped formula: a mistake's ``value:`` in the spec's grammar


@functools.lru_cache(maxsize=64)
def formula_mistakes(
    check: str, reference: str, variables: tuple[str, ...]
) -> list[FormulaMistake]:
    """The slips of a check's reference formula, made once per process (they cost
    milliseconds: no disk cache is needed)."""
    return [
        FormulaMistake(
            slip.id(check),
            parse(slip.formula, list(variables)),
            (
                f"Your answer is the expected one with {slip.before} written as {slip.after}."
                if slip.before
                else "Your answer is the negative of the expected one."
            )
            + f" {formulas.ADVICE[slip.kind]}",
            slip.formula,
        )
        for slip in formulas.formula_slips(reference, variables)
    ]
