"""The grading pipeline: spec + submission -> sandbox run -> comparisons -> results.

Everything the student wrote is executed by ``graders.sandbox`` only; this module sees
the plain values it hands back and turns them into statuses, points and feedback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import sandbox
from .compare import Case, Tolerance, compare_numeric
from .expressions import ExpressionMistake, compare_expression
from .limits import LimitOverrides, limits_for
from .reference import ReferenceCase, given_values, reference_cases
from .results import (
    CheckResult,
    CheckStatus,
    Comparison,
    ExerciseResult,
    Status,
    SubmissionResult,
)
from .spec import Check, Spec
from .submission import Submission
from .values import CallFailure

WEAKER_ISOLATION = (
    "bubblewrap is not available here: the submission ran as a plain child process with "
    "time and memory limits, but without file-system and network isolation."
)


class UsageError(Exception):
    """The request cannot be carried out (e.g. a typed answer for a code exercise)."""


def build_job(
    specs: Sequence[Spec], submission: Submission, cases: dict[str, list[ReferenceCase]]
) -> sandbox.Job:
    lazy_modules: dict[str, str] = {}
    setup_code: list[str] = []
    for spec in specs:
        lazy_modules.update(spec.setup.modules)
        if spec.setup.code and spec.setup.code not in setup_code:
            setup_code.append(spec.setup.code)
    # A notebook defines its own values, as it does for the student; a lone cell gets the
    # values its handed-out notebook would have given it.
    prelude = setup_code if submission.kind == "notebook" else setup_code + _given_code(specs)
    extractions = [
        sandbox.Extraction(
            exercise=spec.id,
            names=spec.answer_names,
            calls=[
                sandbox.Call(function=spec.function.name, kwargs=case.kwargs, label=case.label)
                for case in cases[spec.id]
            ]
            if spec.function is not None
            else [],
        )
        for spec in specs
    ]
    cells = [
        sandbox.Cell(index=c.index, source=c.source, filename=c.filename) for c in submission.cells
    ]
    return sandbox.Job(
        cells=cells, prelude="\n".join(prelude), lazy_modules=lazy_modules, extractions=extractions
    )


def _given_code(specs: Sequence[Spec]) -> list[str]:
    """Assignments for the given values; a name two specs define differently is left out."""
    chosen: dict[str, str] = {}
    conflicting: set[str] = set()
    for spec in specs:
        for name, value in spec.given.items():
            text = value if isinstance(value, str) else repr(value)
            if chosen.setdefault(name, text) != text:
                conflicting.add(name)
    return [f"{name} = {text}" for name, text in chosen.items() if name not in conflicting]


def grade(
    submission: Submission,
    specs: Sequence[Spec],
    *,
    overrides: LimitOverrides | None = None,
    run: sandbox.Run | None = None,
    require_isolation: bool = False,
    answered_only: bool = False,
) -> SubmissionResult:
    """Grade one submission against the given exercises (one sandbox run for all of them).

    With ``answered_only`` a lone file is graded only against the exercises it answers,
    as `grade` does for a .py that holds one exercise's cell.
    """
    cases = {spec.id: reference_cases(spec) for spec in specs}
    all_specs = list(specs)
    result = SubmissionResult(submission=submission.name)
    if submission.kind == "answer":
        for spec in specs:
            if spec.kind != "expression":
                raise UsageError(
                    f"{spec.id} expects code (a .py or .ipynb file), not a typed answer"
                )
            result.exercises.append(
                _grade_typed_answer(spec, submission.answer or "", cases[spec.id][0])
            )
        return result
    if run is None:
        run = sandbox.start(
            limits_for(specs, submission, overrides), require_isolation=require_isolation
        )
    outcome = run.submit(build_job(specs, submission, cases))
    if outcome.isolation != "bubblewrap":
        result.notices.append(WEAKER_ISOLATION)
    if answered_only:
        specs = answered_exercises(specs, outcome)
        if not specs:
            looked_for = sorted({name for spec in all_specs for name in spec.answer_names})
            raise UsageError(
                f"{submission.name} answers none of the exercises "
                f"(looked for {', '.join(looked_for)})"
            )
    for spec in specs:
        result.exercises.append(_grade_from_outcome(spec, submission, outcome, cases[spec.id]))
    return result


def answered_exercises(
    specs: Sequence[Spec], submission: Submission, outcome: sandbox.Outcome
) -> list[Spec]:
    """The exercises some cell of the submission binds an answer for."""
    assigned = {name for cell in outcome.cells for name in cell.assigned}
    return [spec for spec in specs if assigned & set(spec.answer_names)]


# --- one exercise -----------------------------------------------------------------------


def _grade_typed_answer(spec: Spec, answer: str, case: ReferenceCase) -> ExerciseResult:
    comparisons = [(check, compare_check(spec, check, answer, [case])) for check in spec.checks]
    return _exercise(spec, comparisons, problem=None)


def _grade_from_outcome(
    spec: Spec, submission: Submission, outcome: sandbox.Outcome, cases: list[ReferenceCase]
) -> ExerciseResult:
    names = set(spec.answer_names)
    answering = [cell for cell in outcome.cells if names & set(cell.assigned)]
    wanted = _listing(spec.answer_names)
    if not answering:
        feedback = f"No answer found: nothing in {submission.name} defines {wanted}."
        return _unanswered(spec, Status.NOT_ATTEMPTED, feedback)
    cell = answering[-1]
    where = _where(submission, cell)
    if cell.exception == "NotImplementedError":
        below = " The answers typed below it were never run." if _typed_below(cell) else ""
        feedback = (
            f"{where.capitalize()} still raises NotImplementedError (line {cell.line}): remove the "
            f"`raise NotImplementedError(...)` line once you have filled in {wanted}.{below}"
        )
        return _unanswered(spec, Status.NOT_ATTEMPTED, feedback)
    snapshot = outcome.snapshots.get(spec.id)
    problem = _cell_problem(cell, where, outcome)
    if snapshot is None:
        status = problem[0] if problem else Status.ERROR
        message = (
            problem[1]
            if problem
            else f"{where.capitalize()} never finished, so {wanted} could not be read."
        )
        return _unanswered(spec, status, message)
    return _exercise(spec, _comparisons(spec, snapshot, cases), problem)


def _comparisons(
    spec: Spec, snapshot: sandbox.Snapshot, cases: list[ReferenceCase]
) -> list[tuple[Check, Comparison]]:
    if spec.function is None:
        return [
            (check, compare_check(spec, check, snapshot.values.get(check.name), cases))
            for check in spec.checks
        ]
    if spec.function.name not in snapshot.values:
        missing = Comparison(False, f"{spec.function.name} is not defined.", attempted=False)
        return [(check, missing) for check in spec.checks]
    results = []
    for check in spec.checks:
        position = spec.function.returns.index(check.name)
        actual = [_returned(spec, result, position) for result in snapshot.calls]
        bad_return = next((a for a in actual if isinstance(a, Comparison)), None)
        results.append((check, bad_return or compare_check(spec, check, actual, cases)))
    return results


def _returned(spec: Spec, result: Any, position: int) -> Any:
    """Pick one returned value out of a call's result, or explain why it cannot be."""
    assert spec.function is not None
    if isinstance(result, CallFailure):
        return result
    returns = spec.function.returns
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


def compare_check(spec: Spec, check: Check, actual: Any, cases: list[ReferenceCase]) -> Comparison:
    """Compare one check's answer (a list, one per call, for function checks)."""
    if check.compare == "expression":
        assert spec.expression is not None
        mistakes = [ExpressionMistake(m.id, m.value, m.feedback) for m in check.mistakes]
        return compare_expression(
            check.name,
            actual,
            cases[0].expected[check.name],
            variable=spec.expression.variable,
            mistakes=mistakes,
            domain=spec.expression.domain,
            rtol=check.rtol,
            atol=check.atol,
        )
    axis = None
    if spec.axis is not None:
        axis = (spec.axis, given_values(spec)[spec.axis])
    actuals = actual if spec.function is not None else [actual]
    numeric_cases = [
        Case(
            actual=value,
            expected=case.expected[check.name],
            mistakes=case.mistakes.get(check.name, {}),
            label=case.label,
            axis=axis,
        )
        for value, case in zip(actuals, cases, strict=True)
    ]
    return compare_numeric(
        check.name,
        numeric_cases,
        tolerance=Tolerance(rtol=check.rtol, atol=check.atol),
        allow_constant=check.allow_constant,
        mistake_feedback={m.id: m.feedback for m in check.mistakes},
    )


def _score(check: Check, comparison: Comparison, crashed: bool) -> CheckResult:
    status = CheckStatus.PASSED if comparison.passed else CheckStatus.FAILED
    feedback = comparison.feedback
    if not comparison.passed and not comparison.attempted and crashed:
        # The code stopped before this answer was reached: an error, not a blank.
        status = CheckStatus.ERROR
        feedback = f"{check.name} was never defined: the code stopped before reaching it."
    if check.hidden:
        feedback = "Hidden check: " + ("passed." if comparison.passed else "not passed.")
    return CheckResult(
        name=check.name,
        status=status,
        score=check.points if comparison.passed else 0.0,
        max_score=check.points,
        feedback=feedback,
        misconception=None if check.hidden else comparison.misconception,
        hint=None if comparison.passed else check.hint,
        hidden=check.hidden,
    )


def _exercise(
    spec: Spec, comparisons: list[tuple[Check, Comparison]], problem: tuple[Status, str] | None
) -> ExerciseResult:
    checks = [
        _score(check, comparison, crashed=problem is not None) for check, comparison in comparisons
    ]
    passed = sum(check.status == CheckStatus.PASSED for check in checks)
    summary = f"{passed} of {len(checks)} checks passed."
    if problem is not None:
        status, feedback = problem[0], f"{problem[1]} {summary}"
    elif passed == len(checks):
        status, feedback = Status.PASSED, f"All {len(checks)} checks passed."
    elif not any(comparison.attempted for _, comparison in comparisons):
        names = _listing([check.name for check, _ in comparisons])
        status, feedback = Status.NOT_ATTEMPTED, f"Not attempted yet: {names} still need answers."
    else:
        status, feedback = Status.FAILED, summary
    return ExerciseResult(spec.id, spec.title, status, feedback, checks)


def _unanswered(spec: Spec, status: Status, feedback: str) -> ExerciseResult:
    check_status = CheckStatus.FAILED if status == Status.NOT_ATTEMPTED else CheckStatus.ERROR
    checks = [
        CheckResult(
            check.name,
            check_status,
            0.0,
            check.points,
            "Not graded: see the exercise feedback.",
            hint=check.hint,
            hidden=check.hidden,
        )
        for check in spec.checks
    ]
    return ExerciseResult(spec.id, spec.title, status, feedback, checks)


def _cell_problem(
    cell: sandbox.CellReport, where: str, outcome: sandbox.Outcome
) -> tuple[Status, str] | None:
    """What went wrong while the answering cell ran, as (status, explanation)."""
    at = f" at line {cell.line}" if cell.line else ""
    code = f": `{cell.code}`" if cell.code else ""
    if cell.status == "error":
        return (
            Status.ERROR,
            f"{where.capitalize()} raised {cell.exception}: {cell.message}{at}{code}.",
        )
    if cell.status == "timeout" or (cell.status == "skipped" and outcome.termination == "timeout"):
        return (
            Status.TIMEOUT,
            f"{where.capitalize()} did not finish within the time limit{at}{code}.",
        )
    if cell.status == "memory" or outcome.termination == "memory_limit":
        return Status.MEMORY_LIMIT, f"{where.capitalize()} ran out of memory{at}{code}."
    if cell.status == "skipped":
        reason = {"output_limit": "it printed more than the output limit allows"}.get(
            outcome.termination, "the program ended early (exit or crash)"
        )
        return Status.ERROR, f"{where.capitalize()} did not complete: {reason}."
    return None


def _where(submission: Submission, cell: sandbox.CellReport) -> str:
    source = next((c for c in submission.cells if c.index == cell.index), None)
    if submission.kind == "notebook" and source is not None:
        return f"{source.filename} of the notebook"
    return f"your code in {submission.name}"


def _typed_below(cell: sandbox.CellReport) -> bool:
    """Whether answer assignments follow the handed-out raise (they did not run)."""
    return cell.line is not None and bool(cell.assigned)


def _listing(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]
