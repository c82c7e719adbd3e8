"""What the Gradescope and PrairieLearn autograders share.

Inside the platform's container, for one submission: find the student's upload(s), grade
them against the bundled exercises, and turn the outcome into one row per check that each
platform writes into its own results.json. Nothing here may raise: a platform that finds
no results file shows the student a bare "the autograder failed", so every failure,
ours or the student's, becomes a result that explains it.

At export time: pick the exercises, prove their references run, and gather the files an
autograder carries (the graders package, pyproject.toml and README.md so that pip can
install it, the chosen specs and their reference modules). The reference modules travel
with the grader only: the sandbox never mounts them, so student code cannot read them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import traceback
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import engine
from ..assignments import exercises_for
from ..errors import (
    MESSAGE_ERRORS,
    AssignmentError,
    CommandError,
    ReferenceError,
    SubmissionError,
)
from ..reference import reference_cases
from ..results import CheckResult, CheckStatus, ExerciseResult, Status, SubmissionResult
from ..spec import Spec, load_specs
from ..submission import load

# What a student may upload; a notebook is the whole tutorial, so it wins over loose files.
NOTEBOOK, CODE, ANSWER = ".ipynb", ".py", ".txt"
# More files than any real hand-in has; each one is a sandbox run, and the platform's
# time limit covers them all.
MAX_UPLOADS = 8
# Long texts are clipped: PrairieLearn refuses results over 1 MB, and nobody reads more.
MAX_TEXT = 20_000
# Grading without bubblewrap lets student code read the reference solutions, so the
# autograders refuse to unless the instructor sets this (documented in the exports).
ALLOW_UNISOLATED = "GRADERS_ALLOW_UNISOLATED"


_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip entries: the same export gives the same bytes


# --- grading one submission ---------------------------------------------------------------


@dataclass
class Grading:
    """The outcome for one submission: a result for every exercise, whatever happened.

    ``unusable`` says why nothing the student uploaded could be graded (they can fix it);
    ``failure`` says the autograder itself failed (they cannot). Both leave every check
    at 0 points. ``notes`` are for the student; ``log`` for the instructor only.
    """

    exercises: list[ExerciseResult]
    notes: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    unusable: str | None = None
    failure: str | None = None

    @property
    def score(self) -> float:
        return sum(exercise.score for exercise in self.exercises)

    @property
    def max_score(self) -> float:
        return sum(exercise.max_score for exercise in self.exercises)


def grade_course(folder: Path, course: Path, exercise_ids: Sequence[str] = ()) -> Grading:
    """Grade the upload in ``folder`` against the course's exercises (or those named);
    never raises: an exercise that cannot be loaded is the autograder's failure."""
    try:
        specs = load_specs(course, exercise_ids)
    except Exception as exc:  # a result that explains it beats the platform's bare error
        return failed([], exc)
    return grade_upload(folder, specs)


def grade_upload(folder: Path, specs: Sequence[Spec]) -> Grading:
    """Grade whatever the student uploaded into ``folder``; never raises."""
    try:
        return _grade_upload(folder, specs)
    except Exception as exc:  # a result that explains it beats the platform's bare error
        return failed(specs, exc)


def failed(specs: Sequence[Spec], exc: Exception) -> Grading:
    """The autograder could not grade: every check at 0, the reason for the instructor."""
    known = isinstance(exc, MESSAGE_ERRORS)
    reason = str(exc) if known else f"{type(exc).__name__}: {exc}"
    message = (
        f"The autograder could not grade this submission: {reason}. This is a problem "
        "with the autograder, not with your work: please tell your instructor."
    )
    exercises = [_ungraded(spec, Status.ERROR, "The autograder failed.") for spec in specs]
    log = [f"autograder failure: {reason}"]
    if not known:  # a bug of ours: the instructor's log gets the whole story
        log.append("".join(traceback.format_exception(exc)))
    return Grading(exercises, log=log, failure=message)


def _grade_upload(folder: Path, specs: Sequence[Spec]) -> Grading:
    uploads, notes = find_uploads(folder)
    log: list[str] = []
    graded: list[tuple[str, SubmissionResult]] = []
    for path in uploads:
        name = shown_name(path.relative_to(folder))
        outcome = _grade_file(path, name, specs)
        if isinstance(outcome, str):
            notes.append(outcome)
        else:
            graded.append((name, outcome))
            log += [f"{name}: {notice}" for notice in outcome.notices]
    if not graded:
        if uploads:
            problem = "None of the uploaded files could be graded."
        else:
            problem = "No .py, .ipynb or .txt file was uploaded, so there was nothing to grade."
        exercises = [_ungraded(spec, Status.NOT_ATTEMPTED, problem) for spec in specs]
        return Grading(exercises, notes, log, unusable=problem)
    exercises, sources, clashes = _one_answer_per_exercise(specs, graded)
    unusable = None
    if clashes and not any(sources.values()):
        unusable = "Nothing was graded: upload one answer per exercise, then submit again."
    return Grading(exercises, [_graded_note(sources, clashes, graded), *notes], log, unusable)


def find_uploads(folder: Path) -> tuple[list[Path], list[str]]:
    """The files to grade, and for the student each file passed over and why.

    Links are never followed: a link to the reference solution, graded as the student's
    own work, would earn full marks. Hidden files and folders (editor and OS clutter,
    __MACOSX from a zip made on a Mac) are skipped silently.
    """
    if not folder.is_dir():
        return [], []
    found: list[Path] = []
    passed_over: list[str] = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") or part == "__MACOSX" for part in relative.parts):
            continue
        name = shown_name(relative)
        if path.is_symlink():
            passed_over.append(f"Ignored {name}: it is a link, not an uploaded file.")
        elif path.is_file() and path.suffix.lower() in (NOTEBOOK, CODE, ANSWER):
            found.append(path)
        elif path.is_file():
            passed_over.append(f"Ignored {name}: only .py, .ipynb and .txt files are graded.")
    notebooks = [path for path in found if path.suffix.lower() == NOTEBOOK]
    if notebooks:
        passed_over += [
            f"Ignored {shown_name(path.relative_to(folder))}: a notebook was uploaded, "
            "and the notebook is what is graded."
            for path in found
            if path not in notebooks
        ]
        found = notebooks
    passed_over += [
        f"Ignored {shown_name(path.relative_to(folder))}: only the first {MAX_UPLOADS} "
        "files are graded."
        for path in found[MAX_UPLOADS:]
    ]
    return found[:MAX_UPLOADS], passed_over


def _grade_file(path: Path, name: str, specs: Sequence[Spec]) -> SubmissionResult | str:
    """One file's result against every exercise it can answer, or why it was not graded."""
    try:
        submission = load(path)
    except SubmissionError as exc:
        # The message starts with the container's path; the student knows the file's name.
        return f"Could not read {str(exc).replace(str(path), name, 1)}."
    try:
        specs = exercises_for(submission, specs)
    except AssignmentError as exc:
        return f"Not graded: {exc}."
    if submission.kind == "answer":
        specs = [spec for spec in specs if spec.accepts_typed_answers]
        if not specs:
            return (
                f"Ignored {name}: a .txt holds a typed formula, and none of these "
                "exercises asks for one."
            )
    allow = os.environ.get(ALLOW_UNISOLATED, "") not in ("", "0")
    return engine.grade(submission, specs, require_isolation=not allow)


def shown_name(relative: Path) -> str:
    """A file's name as the student reads it: bytes that are not UTF-8 (the platform
    keeps them as they came) become U+FFFD rather than break the results file."""
    return os.fsencode(relative.as_posix()).decode("utf-8", "replace")


def _one_answer_per_exercise(
    specs: Sequence[Spec], graded: list[tuple[str, SubmissionResult]]
) -> tuple[list[ExerciseResult], dict[str, list[str]], dict[str, list[str]]]:
    """Each exercise graded from the one file that answers it.

    Keeping the best of several answers would turn an upload of guesses into full marks,
    and "the newest" means nothing where the platform gives every file the same time. So
    an exercise that several files answer scores 0, and the result says which files, but
    nothing about how any of them did. Returns the results, the exercises each file was
    used for, and the files behind each exercise refused so.
    """
    exercises: list[ExerciseResult] = []
    sources: dict[str, list[str]] = {name: [] for name, _ in graded}
    clashes: dict[str, list[str]] = {}
    for spec in specs:
        candidates = [
            (name, exercise)
            for name, result in graded
            for exercise in result.exercises
            if exercise.id == spec.id
        ]
        answers = [pair for pair in candidates if pair[1].status != Status.NOT_ATTEMPTED]
        if len(answers) > 1:
            names = [name for name, _ in answers]
            clashes[spec.id] = names
            refused = (
                f"{len(names)} uploaded files answer this exercise ({', '.join(names)}), so "
                "none of them was graded: upload one answer per exercise, then submit again."
            )
            exercises.append(_ungraded(spec, Status.NOT_ATTEMPTED, refused))
        elif answers:
            name, exercise = answers[0]
            sources[name].append(spec.id)
            exercises.append(exercise)
        elif len(candidates) == 1:  # its own words on what is missing (a `raise` left in...)
            exercises.append(candidates[0][1])
        else:
            missing = "No uploaded file answers this exercise."
            exercises.append(_ungraded(spec, Status.NOT_ATTEMPTED, missing))
    return exercises, sources, clashes


def _graded_note(
    sources: dict[str, list[str]],
    clashes: dict[str, list[str]],
    graded: list[tuple[str, SubmissionResult]],
) -> str:
    """Say what was graded, so that a student who uploaded the wrong file can tell."""
    if len(graded) == 1:
        return f"Graded {graded[0][0]}."
    used = [f"{name} for {', '.join(ids)}" for name, ids in sources.items() if ids]
    notes = [f"Graded {'; '.join(used)}." if used else "No uploaded file was graded."]
    notes += [
        f"Not graded: {exercise_id}, which {len(names)} files answer ({', '.join(names)})."
        for exercise_id, names in clashes.items()
    ]
    clashing = {name for names in clashes.values() for name in names}
    notes += [
        f"Not used: {name} (it answers none of these exercises)."
        for name, ids in sources.items()
        if not ids and name not in clashing
    ]
    return " ".join(notes)


def _ungraded(spec: Spec, status: Status, reason: str) -> ExerciseResult:
    checks = [
        CheckResult(
            check.name,
            CheckStatus.ERROR if status == Status.ERROR else CheckStatus.FAILED,
            0.0,
            check.points,
            "Not graded: see the exercise feedback.",
            hidden=check.hidden,
        )
        for check in spec.checks
    ]
    return ExerciseResult(spec.id, spec.title, status, reason, checks)


# --- what the platforms show ----------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One check as a line of the platform's test list."""

    exercise: str
    check: str
    score: float
    max_score: float
    passed: bool
    hidden: bool
    feedback: str  # the check's own verdict
    details: str  # hint, known mistake, and why the exercise could not be judged

    @property
    def name(self) -> str:
        return f"{self.exercise}: {self.check}"

    @property
    def text(self) -> str:
        return clip("\n".join(part for part in (self.feedback, self.details) if part))


def rows(exercises: Sequence[ExerciseResult], before_due: bool = False) -> list[Row]:
    """One row per check; ``before_due``: exercise feedback as :func:`before_due_date`."""
    return [
        _row(exercise, check, before_due_date(exercise) if before_due else exercise.feedback)
        for exercise in exercises
        for check in exercise.checks
    ]


def _row(exercise: ExerciseResult, check: CheckResult, exercise_feedback: str) -> Row:
    passed = check.status == CheckStatus.PASSED
    details = []
    # A check the code never reached (or an exercise not attempted) has no verdict of its
    # own: its row says why, so that a student who opens only that row learns it.
    if check.status == CheckStatus.ERROR or exercise.status == Status.NOT_ATTEMPTED:
        details.append(exercise_feedback)
    # A hidden check shows its outcome only, as in every report of the toolkit.
    if not check.hidden:
        if check.hint and not passed:
            details.append(f"Hint: {check.hint}")
        if check.misconception:
            found = " (found automatically)" if check.automatic else ""
            details.append(f"Known mistake: {check.misconception}{found}")
    return Row(
        exercise=exercise.id,
        check=check.name,
        score=check.score,
        max_score=check.max_score,
        passed=passed,
        hidden=check.hidden,
        feedback=clip(check.feedback),
        details=clip("\n".join(details)),
    )


# The engine's count of passed checks in an exercise's feedback, whatever the status.
_COUNT = re.compile(r"(?:All \d+ checks|The check|\d+ of \d+ checks?) passed\.")


def before_due_date(exercise: ExerciseResult) -> str:
    """The exercise's feedback as a student may read it while its hidden checks are
    withheld: counted over the visible checks only, whatever the status (the engine's
    count, after a crash too, includes the hidden checks and so tells how they went)."""
    hidden = sum(check.hidden for check in exercise.checks)
    if not hidden:
        return exercise.feedback
    shown = [check for check in exercise.checks if not check.hidden]
    passed = sum(check.status == CheckStatus.PASSED for check in shown)
    later = f"{hidden} hidden check{'s are' if hidden > 1 else ' is'} shown after the due date."
    count = f"{passed} of {len(shown)} visible checks passed; {later}" if shown else later
    rest = re.sub(r" {2,}", " ", _COUNT.sub("", exercise.feedback)).strip()
    return f"{rest} {count}" if rest else count


def exercise_line(exercise: ExerciseResult, text: str | None = None) -> str:
    """One exercise in the overall output: its title and its feedback (or ``text``)."""
    return f"{exercise.title} ({exercise.id}): {text if text is not None else exercise.feedback}"


def overview(grading: Grading) -> list[str]:
    """The student-facing lines about the whole submission, before any exercise."""
    lines = [message for message in (grading.failure, grading.unusable) if message]
    return lines + grading.notes


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 20] + "\n... (shortened)"


def printable(text: str) -> str:
    """``text`` with what UTF-8 cannot encode (lone surrogates, from a file name that is
    not UTF-8 or a string the student's code built) replaced, so writing it cannot fail."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _printable(data: Any) -> Any:
    if isinstance(data, str):
        return printable(data)
    if isinstance(data, dict):
        return {printable(key): _printable(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_printable(item) for item in data]
    return data


def write_json(data: dict[str, Any], path: Path) -> None:
    """Write the results in one go (a half-written file is a failed grading job)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_printable(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".results-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# --- export ---------------------------------------------------------------------------------


def selected_specs(course: Path, exercise_ids: Sequence[str]) -> list[Spec]:
    """The exercises the export covers (all when none are named), each proved to have a
    working reference now, rather than failing for every student later."""
    specs = load_specs(course, exercise_ids)
    if not specs:
        raise CommandError(f"{course}: there are no exercises to export")
    for spec in specs:
        try:
            reference_cases(spec)
        except ReferenceError as exc:
            raise CommandError(str(exc)) from None
    return specs


def bundle(specs: Sequence[Spec]) -> dict[str, bytes]:
    """The files an autograder carries, by their path inside it."""
    package = Path(__file__).resolve().parents[1]  # the graders package
    files = {
        f"graders/{path.relative_to(package).as_posix()}": path.read_bytes()
        for path in sorted([*package.rglob("*.py"), *package.glob("reports/templates/*")])
        if "__pycache__" not in path.parts and path.is_file()
    }
    for name in ("pyproject.toml", "README.md"):
        path = package.parent / name
        if not path.is_file():
            raise CommandError(f"{path} is missing: export from a source checkout of the toolkit")
        files[name] = path.read_bytes()
    for spec in specs:
        reference = spec.reference_path
        files[f"exercises/{spec.id}.yaml"] = (
            reference.parents[1] / "exercises" / f"{spec.id}.yaml"
        ).read_bytes()
        files[f"reference/{reference.name}"] = reference.read_bytes()
    return files


def write_zip(files: dict[str, bytes], executables: set[str], out: Path) -> None:
    """A zip with the files at its root, executables marked so (Gradescope needs it)."""
    _make_parent(out)
    try:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in sorted(files.items()):
                entry = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
                entry.external_attr = (0o100755 if name in executables else 0o100644) << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, data)
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from None


def write_tree(files: dict[str, bytes], executables: set[str], out: Path) -> None:
    """The files under a folder, executables marked so."""
    try:
        for name, data in files.items():
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            path.chmod(0o755 if name in executables else 0o644)
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from None


def _make_parent(out: Path) -> None:
    if out.is_dir():
        raise CommandError(f"{out} is a folder: --out names the zip file to write")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot create {out.parent}: {exc.strerror or exc}") from None
