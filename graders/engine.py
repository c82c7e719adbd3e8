"""The grading pipeline: spec + submission -> sandbox run -> comparisons -> results.

Everything the student wrote is executed by ``graders.sandbox`` only; this module sees
the plain values it hands back and turns them into statuses, points and feedback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import sandbox
from .assignments import graded_cells
from .checks import compare_check
from .checks.antiderivative import FREE_CONSTANTS
from .checks.fingerprint import fingerprint
from .checks.function import compare_outputs, returned_value
from .errors import SetupError, UsageError
from .formula import ExpressionError, names_in, parse
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
from .sandbox import CellStatus, Isolation, Termination
from .spec import Check, Spec
from .submission import CodeCell, Submission, named_answers
from .values import CallFailure, Opaque, Placeholder

WEAKER_ISOLATION = (
    "bubblewrap is not available here: the submission ran as a plain child process with "
    "time and memory limits, but without file-system and network isolation."
)


def build_job(
    specs: Sequence[Spec],
    submission: Submission,
    cases: dict[str, list[ReferenceCase]],
    graded: dict[str, list[int]],
) -> sandbox.Job:
    """The sandbox job: the cells, and a snapshot of each exercise's answers after each of
    the cells in ``graded`` (from ``assignments.graded_cells``)."""
    lazy_modules: dict[str, str] = {}
    setup_code: list[str] = []
    for spec in specs:
        lazy_modules.update(spec.setup.modules)
        if spec.setup.code and spec.setup.code not in setup_code:
            setup_code.append(spec.setup.code)
    # A notebook defines its own values, as it does for the student; a lone cell gets the
    # values its handed-out notebook would have given it: those of the exercises it answers
    # (two tutorials give `t` different values), or of all when it answers none of them.
    answered = [spec for spec in specs if graded[spec.id]] or specs
    prelude = setup_code if submission.kind == "notebook" else setup_code + _given_code(answered)
    extractions = [
        sandbox.Extraction(
            exercise=_snapshot_key(spec, index),
            names=spec.snapshot_names,
            calls=[
                sandbox.Call(function=spec.function.name, kwargs=case.kwargs)
                for case in cases[spec.id]
            ]
            if spec.function is not None
            else [],
            after=index,
        )
        for spec in specs
        for index in graded[spec.id]
    ]
    cells = [
        sandbox.Cell(index=c.index, source=c.source, filename=c.filename) for c in submission.cells
    ]
    return sandbox.Job(
        cells=cells, prelude="\n".join(prelude), lazy_modules=lazy_modules, extractions=extractions
    )


def _snapshot_key(spec: Spec, cell_index: int) -> str:
    return f"{spec.id}@{cell_index}"


def _given_code(specs: Sequence[Spec]) -> list[str]:
    return _given_plan(specs)[0]


def _given_plan(specs: Sequence[Spec]) -> tuple[list[str], dict[str, str]]:
    """Assignments for the given values of several exercises at once, and the names left
    out, each with the name whose clash left it out.

    Two exercises may give the same name (both have ``t``): equal values are given once;
    a name they give different values is left out, with everything computed from it.
    """
    chosen: dict[str, tuple[str, Any]] = {}
    clashes: dict[str, str] = {}  # name -> "h = 0.2 in one exercise, h = 0.01 in another"
    for spec in specs:
        values = given_values(spec)
        for name, raw in spec.given.items():
            text = raw if isinstance(raw, str) else repr(raw)
            if name not in chosen:
                chosen[name] = (text, values[name])
            elif not _same_value(chosen[name][1], values[name]) and name not in clashes:
                first = next(s.id for s in specs if name in s.given)
                clashes[name] = (
                    f"{name} = {chosen[name][0]} in {first}, {name} = {text} in {spec.id}"
                )
    withheld = {name: name for name in clashes}
    lines = []
    for name, (text, _) in chosen.items():
        cause = next(
            (other for other in withheld if re.search(rf"\b{re.escape(other)}\b", text)), None
        )
        if cause is not None and name not in withheld:
            withheld[name] = withheld[cause]
        if name not in withheld:
            lines.append(f"{name} = {text}")
    notes = {
        name: (
            f"{name} is not given to this file: the exercises it answers give "
            + (f"{root}" if root == name else f"{root}, which {name} is computed from,")
            + f" different values ({clashes[root]}). Define "
            + (root if root == name else f"{root} and {name}")
            + " in the file, or hand in one file per exercise."
        )
        for name, root in withheld.items()
    }
    return lines, notes


def _withheld_note(outcome: sandbox.Outcome, withheld: dict[str, str]) -> str:
    """Why a name the code needs was not given, when the run stopped for want of it."""
    for cell in outcome.cells:
        name = re.search(r"name '(\w+)' is not defined", cell.message or "")
        if cell.exception == "NameError" and name and name[1] in withheld:
            return withheld[name[1]]
    return ""


def _same_value(one: Any, two: Any) -> bool:
    return np.shape(one) == np.shape(two) and bool(np.array_equal(one, two))


def grade(
    submission: Submission,
    specs: Sequence[Spec],
    *,
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
        specs = _answered_by_text(specs, submission.answer or "")
        for spec in specs:
            if not spec.accepts_typed_answers:
                raise UsageError(
                    f"{spec.id} expects code (a .py or .ipynb file), not a typed answer"
                )
            result.exercises.append(
                _grade_typed_answer(spec, submission.answer or "", cases[spec.id][0])
            )
        return result
    if run is None:
        run = sandbox.start(
            limits_for(specs, submission, LimitOverrides()),
            require_isolation=require_isolation,
        )
    graded = {spec.id: graded_cells(spec, submission) for spec in specs}
    if answered_only and any(graded.values()):
        # Only the exercises the file answers get their given values: another exercise's
        # own h or dt would otherwise clash with theirs and neither would be given.
        specs = [spec for spec in specs if graded[spec.id]]
    outcome = run.submit(build_job(specs, submission, cases, graded))
    if outcome.setup_failed:
        last_line = (outcome.stderr.strip().splitlines() or [outcome.termination])[-1]
        raise SetupError(f"the exercises' setup failed in the sandbox: {last_line}")
    if outcome.isolation != Isolation.BUBBLEWRAP:
        result.notices.append(WEAKER_ISOLATION)
    if answered_only:
        specs = answered_exercises(specs, outcome)
        if not specs:
            looked_for = sorted({name for spec in all_specs for name in spec.answer_names})
            raise UsageError(
                f"{submission.name} answers none of the exercises "
                f"(looked for {', '.join(looked_for)})"
            )
    withheld_note = ""
    if submission.kind != "notebook":
        answered = [spec for spec in specs if graded[spec.id]] or specs
        withheld_note = _withheld_note(outcome, _given_plan(answered)[1])
    for spec in specs:
        exercise = _grade_from_outcome(spec, submission, outcome, cases[spec.id], graded[spec.id])
        if withheld_note and exercise.status == Status.ERROR:
            exercise.feedback += " " + withheld_note
        result.exercises.append(exercise)
    return result


def _answered_by_text(specs: Sequence[Spec], text: str) -> list[Spec]:
    """The formula exercises a typed answer is for: those whose answers it names
    (`df_dx = ...`), else those of one formula in whose variables it reads; all of them
    when it is for none, so that each says why."""
    if len(specs) < 2:
        return list(specs)
    named = named_answers(text)
    if named:
        chosen = [spec for spec in specs if set(named) & set(spec.answer_names)]
    else:
        chosen = [spec for spec in specs if _reads(spec, text)]
    return chosen or list(specs)


def _reads(spec: Spec, text: str) -> bool:
    """Whether a bare formula reads as this one-formula exercise's answer: in its variables
    (an antiderivative's also with a free constant such as C), using one of them."""
    if len(spec.checks) != 1 or spec.expression is None:
        return False
    variables = list(spec.expression.domains)
    constants = FREE_CONSTANTS if spec.checks[0].compare == "antiderivative" else ()
    try:
        tree = parse(text, [*variables, *(c for c in constants if c not in variables)])
    except ExpressionError:
        return False
    return bool(set(names_in(tree)) & set(variables))


def answered_exercises(specs: Sequence[Spec], outcome: sandbox.Outcome) -> list[Spec]:
    """The exercises some cell of the submission binds an answer for."""
    assigned = {name for cell in outcome.cells for name in cell.assigned}
    return [spec for spec in specs if assigned & set(spec.answer_names)]


# --- one exercise -----------------------------------------------------------------------


def _grade_typed_answer(spec: Spec, answer: str, case: ReferenceCase) -> ExerciseResult:
    answers, note = typed_answers(spec, answer)
    comparisons = [
        (
            check,
            _fingerprinted(
                spec,
                check,
                compare_check(spec, check, answers.get(check.name), [case]),
                [answers.get(check.name)],
                [case],
            ),
        )
        for check in spec.checks
    ]
    return _exercise(spec, comparisons, None, note)


def typed_answers(spec: Spec, text: str) -> tuple[dict[str, str], str]:
    """Each formula check's typed answer, and a note when the text cannot be split.

    One formula is the whole text (a `dr/da =` or `dr_da =` label in front is the parser's
    business). Several are typed one per line as `NAME = FORMULA`.
    """
    names = [check.name for check in spec.checks]
    named = named_answers(text)
    if len(names) == 1:
        if named is not None and list(named) == names:
            return named, ""
        return {names[0]: text}, ""
    if named is None:
        lines = "; ".join(f"{name} = ..." for name in names)
        return {}, (
            f"This exercise asks for {_listing(names)}: type each formula on its own line, "
            f"named ({lines}); on the command line, --answer once for each."
        )
    unknown = [name for name in named if name not in names]
    if unknown:
        return named, (
            f"{_listing(unknown)} {'is' if len(unknown) == 1 else 'are'} not asked for here "
            f"(this exercise asks for {_listing(names)})."
        )
    return named, ""


def _grade_from_outcome(
    spec: Spec,
    submission: Submission,
    outcome: sandbox.Outcome,
    cases: list[ReferenceCase],
    graded: list[int],
) -> ExerciseResult:
    """The exercise graded from its own cell (``graded[0]``), or from a later cell that
    assigns its answers again where that does better (a higher score; an attempt beats
    none); the report names the cell."""
    names = set(spec.answer_names)
    if not graded:
        # The answers may be bound where static analysis cannot see (exec, globals()):
        # a run stopped at a limit says so, rather than "no answer found".
        limited = _limit_problem(submission, outcome)
        if limited is not None:
            status, explanation = limited
            missing = _listing(spec.answer_names, "or")
            return _unanswered(spec, status, f"{explanation} No {missing} could be read.")
        unreadable = _syntax_error_mentioning(submission, outcome, names)
        if unreadable is not None:
            problem = _cell_problem(unreadable, _where(submission, unreadable), outcome)
            assert problem is not None
            return _unanswered(spec, *problem)
        feedback = (
            f"No answer found: nothing in {submission.name} defines "
            f"{_listing(spec.answer_names, 'or')}. {_how_to_answer(spec, submission)}"
        )
        return _unanswered(spec, Status.NOT_ATTEMPTED, feedback)
    reports = {cell.index: cell for cell in outcome.cells}
    results = [_grade_cell(spec, submission, outcome, cases, reports[index]) for index in graded]
    best = max(
        range(len(results)),
        key=lambda n: (results[n].score, results[n].status != Status.NOT_ATTEMPTED, -n),
    )
    result = results[best]
    if submission.kind == "notebook":
        cell = _where(submission, reports[graded[best]])
        own = _where(submission, reports[graded[0]])
        result.graded_cell = cell.removesuffix(" of the notebook")
        result.feedback += (
            f" Graded from {cell}."
            if best == 0
            else f" Graded from {cell}, which does better than the exercise's own cell ({own})."
        )
    return result


def _grade_cell(
    spec: Spec,
    submission: Submission,
    outcome: sandbox.Outcome,
    cases: list[ReferenceCase],
    cell: sandbox.CellReport,
) -> ExerciseResult:
    """The exercise graded from the state right after one cell that assigns its answers."""
    names = set(spec.answer_names)
    wanted = _listing(spec.answer_names)
    where = _where(submission, cell)
    if cell.exception == "NotImplementedError":
        typed = _typed_below(submission, cell, names)
        below = f" Your answers below it ({_listing(typed)}) were never run." if typed else ""
        feedback = (
            f"{_capital(where)} still raises NotImplementedError (line {cell.line}): remove the "
            f"`raise NotImplementedError(...)` line once you have filled in {wanted}.{below}"
        )
        return _unanswered(spec, Status.NOT_ATTEMPTED, feedback)
    snapshot = outcome.snapshots.get(_snapshot_key(spec, cell.index))
    problem = _cell_problem(cell, where, outcome)
    if snapshot is None:
        status = problem[0] if problem else Status.ERROR
        message = (
            problem[1]
            if problem
            else f"{_capital(where)} never finished, so {wanted} could not be read."
        )
        return _unanswered(spec, status, message)
    own_inputs = ""
    if spec.from_submission:
        submitted, own_inputs = submitted_inputs(spec, snapshot.values)
        cases = reference_cases(spec, submitted)
    if problem is None and spec.function is not None:
        problem = _call_problem(spec, snapshot, cases, where)
        if problem is not None and problem[0] == Status.NOT_ATTEMPTED:
            return _unanswered(spec, *problem)
    placeholders = [n for n in spec.answer_names if isinstance(snapshot.values.get(n), Placeholder)]
    if problem is not None and problem[0] == Status.ERROR and placeholders:
        # The crash most likely comes from the unfinished answers (plotting `...`): grade
        # it as the partial attempt it is, and still show what happened.
        verb = "is" if len(placeholders) == 1 else "are"
        note = (
            f"{_listing(placeholders)} {verb} still `...`, and the code then stopped with "
            f"{cell.exception} at line {cell.line}."
        )
        return _exercise(spec, _comparisons(spec, snapshot, cases), None, f"{note} {own_inputs}")
    return _exercise(spec, _comparisons(spec, snapshot, cases), problem, own_inputs)


def submitted_inputs(spec: Spec, values: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The student's own values (plain data, as the sandbox hands them back) of the spec's
    ``from_submission`` givens (their noisy signal), and a note on each one that cannot
    stand in for the seeded value."""
    seeded = given_values(spec)
    usable: dict[str, Any] = {}
    notes = []
    for name in spec.from_submission:
        if name not in values:
            continue  # a hand-in that does not define it is graded on the seeded value
        value, problem = _as_input(values[name], np.asarray(seeded[name]))
        if problem is None:
            usable[name] = value
        else:
            notes.append(
                f"Your {name} {problem}, so the expected values were computed from {name} as "
                f"the exercise defines it instead: fix {name} first."
            )
    return usable, " ".join(notes)


def _as_input(value: Any, seeded: np.ndarray) -> tuple[Any, str | None]:
    """The value as an array like ``seeded`` (same shape, real numbers), or why it is not."""
    if isinstance(value, Placeholder):
        return None, "is still `...`"
    if not isinstance(value, np.ndarray | np.generic | int | float | list | tuple):
        kind = value.type_name if isinstance(value, Opaque) else type(value).__name__
        return None, f"is not an array of numbers (it is a {kind})"
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None, "does not hold plain numbers"
    if array.shape != seeded.shape:
        if array.ndim == seeded.ndim == 1:
            return None, f"has {array.size} values where {seeded.size} are expected"
        return None, f"has shape {array.shape} where {seeded.shape} is expected"
    if not np.isfinite(array).all():
        return None, "has NaN or infinite values"
    return array, None


def _call_problem(
    spec: Spec, snapshot: sandbox.Snapshot, cases: list[ReferenceCase], where: str
) -> tuple[Status, str] | None:
    """Calls of the student's function follow the status rules of their top-level code."""
    assert spec.function is not None
    name = spec.function.name
    if name not in snapshot.values:
        return None  # the comparisons say it is not defined
    if isinstance(snapshot.values[name], Placeholder):
        return Status.NOT_ATTEMPTED, f"{name} is still `...`: replace it with your function."
    failed = [
        (case, call)
        for case, call in zip(cases, snapshot.calls, strict=True)
        if isinstance(call, CallFailure)
    ]
    if not failed:
        return None
    case, failure = failed[0]
    if len(failed) == len(cases) and all(f.exception == "NotImplementedError" for _, f in failed):
        line = f" (line {failure.line})" if failure.line else ""
        return Status.NOT_ATTEMPTED, (
            f"{name} in {where} still raises NotImplementedError{line}: remove the "
            f"`raise NotImplementedError(...)` line once you have written its body."
        )
    at = f" at line {failure.line}" if failure.line else ""
    code = f": `{failure.code.strip()}`" if failure.code else ""
    some = f" ({len(failed)} of {len(cases)} calls raised)" if len(failed) < len(cases) else ""
    return Status.ERROR, (
        f"{name} in {where} raised {failure.exception}: {failure.message}{at}{code}, "
        f"when called {case.label}{some}."
    )


def _how_to_answer(spec: Spec, submission: Submission) -> str:
    """One line on where the answer goes, in the student's terms."""
    if spec.accepts_typed_answers:
        several = len(spec.answer_names) > 1
        cell = ("add a code cell" if submission.kind == "notebook" else "add the line") + (
            "s" if several and submission.kind != "notebook" else ""
        )
        lines = " and ".join(f'`{name} = "..."`' for name in spec.answer_names)
        formulas = "formulas" if several else "formula"
        return f"To answer, {cell} {lines} with your {formulas} as text."
    wanted = _listing(spec.answer_names)
    return f"To answer, define {wanted} in the exercise's cell ({spec.source})."


def _comparisons(
    spec: Spec, snapshot: sandbox.Snapshot, cases: list[ReferenceCase]
) -> list[tuple[Check, Comparison]]:
    if spec.function is None:
        values = {check.name: snapshot.values.get(check.name) for check in spec.checks}
        others = {name: [value] for name, value in values.items()}  # one case
        return [
            (
                check,
                _fingerprinted(
                    spec,
                    check,
                    compare_check(spec, check, values[check.name], cases, others),
                    [values[check.name]],
                    cases,
                ),
            )
            for check in spec.checks
        ]
    if spec.function.name not in snapshot.values:
        missing = Comparison(False, f"{spec.function.name} is not defined.", attempted=False)
        return [(check, missing) for check in spec.checks]
    comparisons = []
    for check in spec.checks:
        position = spec.function.return_names.index(check.name)
        returned = [returned_value(spec, call, position) for call in snapshot.calls]
        comparison = compare_outputs(spec, check, snapshot.calls, cases)
        comparisons.append((check, _fingerprinted(spec, check, comparison, returned, cases)))
    return comparisons


def _fingerprinted(
    spec: Spec,
    check: Check,
    comparison: Comparison,
    answers: Sequence[Any],
    cases: Sequence[ReferenceCase],
) -> Comparison:
    """The comparison, with the fingerprint of a wrong answer's values (for the class-wide
    grouping of batch); a right, missing or hidden answer has none."""
    if not comparison.passed and comparison.attempted and not check.hidden:
        comparison.fingerprint = fingerprint(spec, check, answers, cases)
    return comparison


def score_check(check: Check, comparison: Comparison, crashed: bool) -> CheckResult:
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
        hint=None if comparison.passed or check.hidden else check.hint,
        hidden=check.hidden,
        evidence=[] if check.hidden else comparison.evidence,
        automatic=comparison.automatic and not check.hidden,
        suggested_value=None if check.hidden else comparison.suggested_value,
        fingerprint=None if check.hidden else comparison.fingerprint,
    )


def _exercise(
    spec: Spec,
    comparisons: list[tuple[Check, Comparison]],
    problem: tuple[Status, str] | None,
    note: str = "",
) -> ExerciseResult:
    checks = [
        score_check(check, comparison, crashed=problem is not None)
        for check, comparison in comparisons
    ]
    passed = sum(check.status == CheckStatus.PASSED for check in checks)
    summary = f"{passed} of {len(checks)} check{'s' if len(checks) > 1 else ''} passed."
    if problem is not None:
        status, feedback = problem[0], f"{problem[1]} {summary}"
    elif passed == len(checks):
        everything = "The check" if len(checks) == 1 else f"All {len(checks)} checks"
        status, feedback = Status.PASSED, f"{everything} passed."
    elif not any(comparison.attempted for _, comparison in comparisons):
        names = _listing([check.name for check, _ in comparisons])
        status, feedback = Status.NOT_ATTEMPTED, f"Not attempted yet: {names} still need answers."
    else:
        status, feedback = Status.FAILED, summary
    return ExerciseResult(spec.id, spec.title, status, f"{feedback} {note}".strip(), checks)


def _unanswered(spec: Spec, status: Status, feedback: str) -> ExerciseResult:
    check_status = CheckStatus.FAILED if status == Status.NOT_ATTEMPTED else CheckStatus.ERROR
    checks = [
        CheckResult(
            check.name,
            check_status,
            0.0,
            check.points,
            "Not graded: see the exercise feedback.",
            hint=None if check.hidden else check.hint,
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
    if cell.status == CellStatus.ERROR:
        return (
            Status.ERROR,
            f"{_capital(where)} raised {cell.exception}: {cell.message}{at}{code}.",
        )
    if cell.status == CellStatus.TIMEOUT or (
        cell.status == CellStatus.SKIPPED and outcome.termination == Termination.TIMEOUT
    ):
        return (
            Status.TIMEOUT,
            f"{_capital(where)} did not finish within the time limit{at}{code}.",
        )
    if cell.status == CellStatus.MEMORY or outcome.termination == Termination.MEMORY_LIMIT:
        return Status.MEMORY_LIMIT, f"{_capital(where)} ran out of memory{at}{code}."
    if cell.status == CellStatus.SKIPPED:
        reason = {Termination.OUTPUT_LIMIT: "it printed more than the output limit allows"}.get(
            outcome.termination, "the program ended early (exit or crash)"
        )
        return Status.ERROR, f"{_capital(where)} did not complete: {reason}."
    return None


def _limit_problem(submission: Submission, outcome: sandbox.Outcome) -> tuple[Status, str] | None:
    """(status, explanation) for the first cell that ran into the time or memory limit,
    if the run hit one."""
    limited = [
        cell for cell in outcome.cells if cell.status in (CellStatus.TIMEOUT, CellStatus.MEMORY)
    ]
    if not limited and outcome.termination in (Termination.TIMEOUT, Termination.MEMORY_LIMIT):
        # Stopped between cells (say, while its answers were sent): the next one never ran.
        limited = [cell for cell in outcome.cells if cell.status == CellStatus.SKIPPED]
    if not limited:
        return None
    return _cell_problem(limited[0], _where(submission, limited[0]), outcome)


def _handed_in(submission: Submission, cell: sandbox.CellReport) -> CodeCell | None:
    """The submitted cell a run's cell report is about."""
    return next((c for c in submission.cells if c.index == cell.index), None)


def _where(submission: Submission, cell: sandbox.CellReport) -> str:
    source = _handed_in(submission, cell)
    if submission.kind == "notebook" and source is not None:
        return f"{source.filename} of the notebook"
    return f"your code in {submission.name}"


def _capital(where: str) -> str:
    """`where` at the start of a sentence; str.capitalize() would lowercase the file name."""
    return where[:1].upper() + where[1:]


def _syntax_error_mentioning(
    submission: Submission, outcome: sandbox.Outcome, names: set[str]
) -> sandbox.CellReport | None:
    """A cell that could not be compiled but whose text mentions this exercise's answers.

    Its assignments cannot be found statically, yet it is clearly the student's attempt:
    the syntax error is the feedback, not "no answer found".
    """
    sources = {cell.index: cell.source for cell in submission.cells}
    for cell in reversed(outcome.cells):
        if cell.exception == "SyntaxError" and any(n in sources.get(cell.index, "") for n in names):
            return cell
    return None


def _typed_below(submission: Submission, cell: sandbox.CellReport, names: set[str]) -> list[str]:
    """Answers written (not left as `...`) after the line that raised: they never ran."""
    handed_in = _handed_in(submission, cell)
    below = handed_in.source.splitlines()[cell.line or 0 :] if handed_in else []
    typed = []
    for line in below:
        match = re.match(r"\s*([A-Za-z_]\w*)\s*=(?!=)\s*(.*)$", line)
        if (
            match
            and match[1] in names
            and match[2].strip() not in ("...", "")
            and match[1] not in typed
        ):
            typed.append(match[1])
    return typed


def _listing(names: Sequence[str], conjunction: str = "and") -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + f" {conjunction} " + names[-1]
