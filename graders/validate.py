"""`grade.py validate`: prove that each spec grades what it claims to.

For every exercise: the reference solution, handed in like a student's file and run in
the sandbox, passes every check; every listed mistake fails its check and is recognised
by id; the random inputs of function checks are reproducible and differ from the
tutorial's. A spec that cannot be loaded is reported like any other failed proof.

Notes, not failures: a listed mistake that automatic diagnosis already finds with the same
values (listing it is optional: it words the feedback), and slips of the reference that give
the same values on the spec's inputs (merged into one diagnosis; more inputs would tell
them apart).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import diagnosis, engine
from .checks import compare_check
from .errors import EXIT_OK, EXIT_SHORT, ReferenceError, SpecError, SubmissionError, UsageError
from .reference import (
    ReferenceCase,
    function_inputs,
    reference_cases,
    reference_namespace,
)
from .results import Status
from .safe_text import one_line
from .spec import DEFAULT_COURSE, Check, Spec, find, load_all
from .submission import Submission, from_answer, load


def validate(exercise_ids: Sequence[str], course: Path = DEFAULT_COURSE) -> int:
    """Print one line per exercise; exit 0 when every proof holds, 1 otherwise."""
    failures = 0
    for spec_or_error in _specs(exercise_ids, course):
        if isinstance(spec_or_error, str):
            print(one_line(f"✗ {spec_or_error}"))
            failures += 1
            continue
        problems, summary = prove(spec_or_error)
        if problems:
            failures += 1
            print(one_line(f"✗ {spec_or_error.id}: " + "; ".join(problems)))
        else:
            print(f"✓ {spec_or_error.id}: {summary}")
            for note in notes(spec_or_error):
                print(one_line(f"  note: {note}"))
    sys.stdout.flush()
    return EXIT_SHORT if failures else EXIT_OK


def _specs(exercise_ids: Sequence[str], course: Path) -> list[Spec | str]:
    if not exercise_ids:
        try:
            return list(load_all(course))
        except SpecError as exc:
            return [str(exc)]
    loaded: list[Spec | str] = []
    for exercise_id in exercise_ids:
        try:
            loaded.append(find(exercise_id, course))
        except SpecError as exc:
            loaded.append(str(exc))
    return loaded


def prove(spec: Spec) -> tuple[list[str], str]:
    """Return (problems, summary of what was proven)."""
    try:
        cases = reference_cases(spec)
    except ReferenceError as exc:
        return [str(exc)], ""
    problems = _reference_passes(spec)
    mistakes = 0
    for check in spec.checks:
        for mistake in check.mistakes:
            mistakes += 1
            problem = _mistake_recognised(spec, check, mistake.id, cases)
            if problem:
                problems.append(problem)
    problems += _inputs_reproducible(spec)
    summary = f"reference passes all {len(spec.checks)} checks; {mistakes} mistakes recognised"
    if spec.function is not None:
        summary += f"; {len(cases)} reproducible input sets"
    return problems, summary


def _reference_passes(spec: Spec) -> list[str]:
    try:
        submission = _reference_submission(spec)
        result = engine.grade(submission, [spec], require_isolation=False)
    except (SubmissionError, UsageError) as exc:
        return [f"reference cannot be graded: {exc}"]
    exercise = result.exercises[0]
    if exercise.status == Status.PASSED:
        return []
    failing = [f"{c.name}: {c.feedback}" for c in exercise.checks if c.score < c.max_score]
    return [f"reference does not pass ({exercise.status}): {exercise.feedback} {' '.join(failing)}"]


def _reference_submission(spec: Spec) -> Submission:
    if spec.accepts_typed_answers:
        namespace = reference_namespace(spec)
        if len(spec.checks) == 1:
            return from_answer(str(namespace[spec.checks[0].name]))
        return from_answer("\n".join(f"{c.name} = {namespace[c.name]}" for c in spec.checks))
    return load(spec.reference_path)


def _mistake_recognised(
    spec: Spec, check: Check, mistake_id: str, cases: list[ReferenceCase]
) -> str | None:
    check_name = check.name
    try:
        wrong: list[Any] = [case.mistakes[check_name][mistake_id] for case in cases]
    except ReferenceError as exc:  # a mistake's values are made only now
        return str(exc)
    comparison = compare_check(spec, check, wrong if spec.function else wrong[0], cases)
    if comparison.passed:
        return f"mistake {mistake_id} passes {check_name}"
    if comparison.misconception != mistake_id:
        seen = comparison.misconception or "nothing"
        return f"mistake {mistake_id} fails {check_name} but is recognised as {seen}"
    return None


# Relations that give other values than the answer they describe (nearly, or but one).
_INEXACT = {diagnosis.relation_id("estimate"), diagnosis.relation_id("shift")}


def notes(spec: Spec) -> list[str]:
    """What an instructor may want to know about a valid spec's diagnosis (see above)."""
    try:
        cases = reference_cases(spec)
    except ReferenceError:
        return []
    found = []
    for check in spec.checks:
        bare = check.model_copy(update={"mistakes": []})
        unlisted = [
            dataclasses.replace(case, mistakes={**case.mistakes, check.name: {}}) for case in cases
        ]
        for mistake in check.mistakes:
            try:
                wrong = [case.mistakes[check.name][mistake.id] for case in cases]
            except ReferenceError:
                continue  # reported as a problem by prove
            seen = compare_check(spec, bare, wrong if spec.function else wrong[0], unlisted)
            if seen.automatic and seen.misconception not in _INEXACT:
                found.append(
                    f"mistake {mistake.id} of {check.name} is also found automatically, as "
                    f"{seen.misconception} (listing it is optional: it words the feedback)"
                )
    if not spec.from_submission:
        merged = [
            f"{variant.id} = {', '.join(variant.same_as)}"
            for variant in diagnosis.program_variants(spec)
            if variant.same_as
        ]
        if merged:
            found.append(
                f"{len(merged)} slips of the reference give the same values as others on the "
                f"spec's inputs and are merged into the first: {'; '.join(merged)}"
            )
    return found


def _inputs_reproducible(spec: Spec) -> list[str]:
    if spec.function is None:
        return []
    first, second = function_inputs(spec), function_inputs(spec)
    for (label, one), (_, two) in zip(first, second, strict=True):
        if not _same_inputs(one, two):
            return [f"random inputs are not reproducible ({label})"]
    # Compared by value: two different arrays may be described by the same words.
    tutorial = len(spec.function.inputs)
    for number, (_, drawn) in enumerate(first[tutorial:], tutorial):
        if any(_same_inputs(drawn, earlier) for _, earlier in first[:number]):
            return ["random input sets repeat each other or the tutorial's inputs"]
    return []


def _same_inputs(one: dict[str, Any], two: dict[str, Any]) -> bool:
    return all(np.array_equal(one[name], two[name]) for name in one)
