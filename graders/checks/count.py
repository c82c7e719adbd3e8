"""The ``count`` kind: how many events there are (a spike count), compared exactly and located
by the event times it counts (``counts:``, an events check). See ``events``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import results
from . import Compare, register
from .events import Events, axis_name, cases_of, compare_count
from .numeric import Tolerance, ValueKind

if TYPE_CHECKING:
    from ..reference import ReferenceCase
    from ..spec import Check, Spec


class Count(ValueKind):
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
        events = next(c for c in spec.checks if c.name == check.counts)
        counted = None
        if events.name in others:
            counted = [
                Events(times, case.expected[events.name])
                for times, case in zip(others[events.name], cases, strict=True)
            ]
        return compare_count(
            check.name,
            cases_of(check, answers, cases),
            counted=counted,
            noun=events.noun or "event",
            axis_name=axis_name(spec, events),
            tolerance=Tolerance(rtol=events.rtol, atol=events.atol),
            mistake_feedback={m.id: m.feedback for m in check.mistakes},
        )


register(Compare.COUNT, Count())
