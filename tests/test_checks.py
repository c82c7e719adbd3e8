"""The comparison kinds as an extension point (graders.checks) and the one relation
diagnosis every kind shares (graders.checks.relations)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import check, exercise
from graders import checks, engine, reference, spec, submission, validate
from graders.checks import CheckKind, relations
from graders.checks.relations import Relation, Tolerance
from graders.results import Comparison, Status

# --- a kind added by one module and a registration ------------------------------------------


class Magnitude(CheckKind):
    """A speed's size, whichever direction the student counted positive."""

    def mistake_value(self, spec_, check_, mistake, scope: Mapping[str, Any]) -> Any:
        return reference.evaluate(spec_, mistake.id, mistake.value, dict(scope))

    def compare(self, spec_, check_, answers: Sequence[Any], cases) -> Comparison:
        answer, case = answers[0], cases[0]
        if not isinstance(answer, int | float):
            return Comparison(
                False, f"{check_.name} is not a number.", attempted=answer is not None
            )
        size, expected = np.array([abs(answer)]), np.array([case.expected[check_.name]])
        tolerance = Tolerance(check_.rtol, check_.atol)
        if tolerance.agrees(size, expected):
            return Comparison(True, f"{check_.name} has the right size.")
        for mistake in check_.mistakes:
            if tolerance.agrees(size, np.abs(case.mistakes[check_.name][mistake.id])):
                return Comparison(False, mistake.feedback, misconception=mistake.id)
        found = relations.first([(size, expected)], tolerance, [Relation.FACTOR])
        why = f" It is {found.value:g} times too large." if found else ""
        return Comparison(False, f"{check_.name} has the wrong size.{why}")


SPEED_SPEC = """
id: speed
title: Speed
source: test course
prompt: How fast, in either direction?
given: {distance: 15.0, time: 2.0}
checks:
  - name: speed
    compare: magnitude
    mistakes:
      - id: inverted
        value: time / distance
        feedback: Distance over time, not time over distance.
"""


@pytest.fixture
def magnitude(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kind registered as a course's plug-in would, for this test only."""
    for name in checks.Compare:
        checks.kind(name)  # the built-in kinds, before the registry is copied
    monkeypatch.setattr(checks, "_KINDS", dict(checks._KINDS))
    checks.register("magnitude", Magnitude())


def speed_course(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    (course / "exercises").mkdir(parents=True)
    (course / "reference").mkdir()
    (course / "exercises" / "speed.yaml").write_text(SPEED_SPEC)
    (course / "reference" / "speed.py").write_text("speed = distance / time\n")
    return course


def test_a_spec_naming_an_unknown_kind_is_refused_with_its_line(tmp_path: Path) -> None:
    course = speed_course(tmp_path)
    with pytest.raises(spec.SpecError) as refused:
        spec.find("speed", course)
    assert str(refused.value).endswith(
        "speed.yaml (line 9): checks.0.compare: Input should be 'numeric' or 'expression' or "
        "'antiderivative' or 'events' or 'count'"
    )


@pytest.mark.sandbox
def test_a_registered_kind_grades_end_to_end(tmp_path: Path, magnitude: None) -> None:
    course = speed_course(tmp_path)
    speed = spec.find("speed", course)
    assert not speed.accepts_typed_answers

    def grade(source: str):
        path = tmp_path / "hand_in.py"
        path.write_text(source, encoding="utf-8")
        return engine.grade(submission.load(path), [speed])

    backwards = grade("speed = -distance / time\n")
    assert exercise(backwards, "speed").status == Status.PASSED
    inverted = check(grade("speed = time / distance\n"), "speed", "speed")
    assert inverted.misconception == "inverted"
    doubled = check(grade("speed = 2 * distance / time\n"), "speed", "speed")
    assert doubled.feedback == "speed has the wrong size. It is 2 times too large."
    assert validate.prove(speed)[0] == []


# --- the one relation diagnosis -----------------------------------------------------------------

T = np.linspace(0, 2, 41)
CURVE = T * np.exp(-2 * T)
ALL = tuple(Relation)


@pytest.mark.parametrize(
    ("actual", "relation", "value"),
    [
        (-CURVE, Relation.SIGN, 0.0),
        (0 * CURVE, Relation.ZERO, 0.0),
        (2.5 * CURVE, Relation.FACTOR, 2.5),
        (CURVE - 0.25, Relation.OFFSET, -0.25),
    ],
)
def test_the_most_specific_relation_is_found(actual, relation, value) -> None:
    found = relations.first([(actual, CURVE)], Tolerance(), ALL)
    assert found is not None and found.relation is relation
    assert found.value == pytest.approx(value)


def test_shift_says_where_the_values_come_from() -> None:
    shifted = np.append(CURVE[1:], CURVE[-1] + 1)
    found = relations.find(Relation.SHIFT, shifted, CURVE, Tolerance())
    assert found == relations.Found(Relation.SHIFT, source="i+1")


def test_a_numerical_estimate_is_close_but_no_other_relation() -> None:
    exact = (1 - 2 * T) * np.exp(-2 * T)
    found = relations.first([(np.gradient(CURVE, T), exact)], Tolerance(), ALL)
    assert found is not None and found.relation is Relation.ESTIMATE
    assert 0 < found.value < 0.25


def test_a_relation_must_hold_in_every_pair() -> None:
    pairs = [(2 * CURVE, CURVE), (3 * CURVE, CURVE)]
    found = relations.first(pairs, Tolerance(), ALL)
    assert found is not None and found.relation is Relation.FACTOR and found.value == 2
    assert relations.first([(2 * CURVE, CURVE), (CURVE + 1, CURVE)], Tolerance(), ALL) is None


def test_only_the_points_that_count_are_compared_and_there_values_must_be_finite() -> None:
    expected = np.array([1.0, np.nan, 3.0, 4.0])
    where = np.isfinite(expected)
    actual = np.array([-1.0, 5.0, -3.0, -4.0])
    found = relations.first([(actual, expected)], Tolerance(), ALL, where=where)
    assert found is not None and found.relation is Relation.SIGN
    undefined = np.array([-1.0, 5.0, np.nan, -4.0])
    assert not Tolerance().agrees(undefined, undefined, where)  # NaN is no answer there
    assert Tolerance().agrees(undefined, undefined)  # but matches NaN along a curve
