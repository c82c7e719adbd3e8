"""Comparison kinds: how a check's answer is compared with the reference.

A check's ``compare:`` field in the spec names its kind (default ``numeric``). A kind is a
``CheckKind``: it says what a correct answer gives (``expected``), what each listed
mistake gives (``mistake_value``), and compares the student's answers with them
(``compare``), returning a ``Comparison`` whose feedback carries the diagnosis. Kinds
share the relation diagnosis (sign, factor, offset, shift, numerical estimate) of
``relations``; they differ in how they read answers and word feedback.

- ``numeric``: arrays and numbers (``numeric.py``), located along the spec's axis.
- ``expression``: typed formulas (``expression.py``), read by the safe parser in
  ``graders.formula`` and compared at sampled points, in one variable or several.
- ``antiderivative``: a typed formula right up to an additive constant
  (``antiderivative.py``), with a free constant such as ``C`` accepted.
- ``events``: event times such as spike times (``events.py``), compared as a set.
- ``count``: how many events there are (``count.py``), located by the event times it counts
  (the one kind that reads another check's answers: ``compare_among``).
- Function outputs (``function.py``) are not a kind but where answers come from: one per
  call of the student's function, each compared by its check's kind.

Adding a comparison kind
------------------------

1. Write ``graders/checks/<name>.py`` with a ``CheckKind`` subclass and, at its end,
   ``register("<name>", YourKind())``. ``compare`` receives one answer per reference case
   (one case for a value check, one per call for a function check) as the plain values of
   ``graders.values``, never a live student object; it must never raise for any answer
   and never ``eval`` or ``sympify`` it. Use ``relations.first`` for the diagnosis.
2. Add the name to ``Compare`` below (a built-in kind is imported from its module on first
   use), and any options it needs to the spec schema (``graders/spec.py``) with their
   consistency rules.
3. Prove it: a spec using it passes ``grade.py validate`` (the reference passes, every
   mistake is recognised), and its tests pin the feedback.

A kind registered from elsewhere (a test, a course's plug-in) is valid in specs as soon as
``register`` has run.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from ..results import Comparison

if TYPE_CHECKING:
    from ..reference import ReferenceCase
    from ..spec import Check, Mistake, Spec


class Compare(StrEnum):
    """The built-in kinds; each is the module ``graders/checks/<value>.py``."""

    NUMERIC = "numeric"
    EXPRESSION = "expression"
    ANTIDERIVATIVE = "antiderivative"
    EVENTS = "events"
    COUNT = "count"


class CheckKind(ABC):
    """One way of comparing a check's answers with the reference's."""

    #: Whether a typed answer (``--answer``, a ``.txt``) can be graded by this kind.
    typed_answers: ClassVar[bool] = False

    def expected(self, spec: Spec, check: Check, namespace: Mapping[str, Any]) -> Any:
        """The value a correct answer to a value check gives, from the reference module's
        namespace (the given values and what the reference binds)."""
        return namespace[check.name]

    @abstractmethod
    def mistake_value(
        self, spec: Spec, check: Check, mistake: Mistake, scope: Mapping[str, Any]
    ) -> Any:
        """The value the listed mistake gives in one case; ``scope`` holds the given values,
        the call's inputs and the expected values by name. Trusted spec text only."""

    @abstractmethod
    def compare(
        self, spec: Spec, check: Check, answers: Sequence[Any], cases: Sequence[ReferenceCase]
    ) -> Comparison:
        """Compare the student's answers (one per case, as plain values) with the cases'
        expected values, recognising the cases' mistakes; never raises for any answer."""

    def compare_among(
        self,
        spec: Spec,
        check: Check,
        answers: Sequence[Any],
        cases: Sequence[ReferenceCase],
        others: Mapping[str, Sequence[Any]],
    ) -> Comparison:
        """``compare``, knowing the student's answers to the exercise's checks (by name, one
        per case): a kind whose feedback needs another answer reads it here."""
        return self.compare(spec, check, answers, cases)


_KINDS: dict[str, CheckKind] = {}


def register(name: str, kind: CheckKind) -> None:
    """Make ``name`` a valid ``compare:`` value, compared by ``kind``."""
    _KINDS[name] = kind


def names() -> list[str]:
    """Every valid ``compare:`` value."""
    return [*(c.value for c in Compare), *sorted(set(_KINDS) - set(Compare))]


def kind(name: str) -> CheckKind:
    """The kind a ``compare:`` value names (specs are validated, so it exists)."""
    if name not in _KINDS and name in Compare.__members__.values():
        importlib.import_module(f"{__name__}.{name}")  # a built-in kind registers on import
    return _KINDS[name]


def compare_check(
    spec: Spec,
    check: Check,
    actual: Any,
    cases: Sequence[ReferenceCase],
    others: Mapping[str, Sequence[Any]] | None = None,
) -> Comparison:
    """Compare one check's answer: the value, or for a function check a list with one
    returned value per call. ``others``: the student's answers to every check of the
    exercise (by name, one per case), when known."""
    answers = actual if spec.function is not None else [actual]
    if others is None:
        return kind(check.compare).compare(spec, check, answers, cases)
    return kind(check.compare).compare_among(spec, check, answers, cases, others)
