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

import argparse
import contextlib
import json
import os
import tempfile
import traceback
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import engine
from ..assignments import AssignmentError, exercises_for
from ..cli import CommandError
from ..reference import ReferenceError, reference_cases
from ..results import CheckResult, CheckStatus, ExerciseResult, Status, SubmissionResult
from ..sandbox import SandboxUnavailable
from ..spec import Spec, SpecError, load_specs
from ..submission import SubmissionError, load

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


class ConfigurationError(Exception):
    """The platform's side of the setup is wrong (say, a question naming no exercise)."""


_KNOWN_FAILURES = (
    ConfigurationError,
    SpecError,
    ReferenceError,
    SandboxUnavailable,
    engine.SetupError,
)
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
    known = isinstance(exc, _KNOWN_FAILURES)
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
        name = path.relative_to(folder).as_posix()
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
    exercises, sources = _best_per_exercise(specs, graded)
    return Grading(exercises, [_graded_note(sources, graded), *notes], log)


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
        parts = path.relative_to(folder).parts
        if any(part.startswith(".") or part == "__MACOSX" for part in parts):
            continue
        name = "/".join(parts)
        if path.is_symlink():
            passed_over.append(f"Ignored {name}: it is a link, not an uploaded file.")
        elif path.is_file() and path.suffix.lower() in (NOTEBOOK, CODE, ANSWER):
            found.append(path)
        elif path.is_file():
            passed_over.append(f"Ignored {name}: only .py, .ipynb and .txt files are graded.")
    notebooks = [path for path in found if path.suffix.lower() == NOTEBOOK]
    if notebooks:
        passed_over += [
            f"Ignored {path.relative_to(folder).as_posix()}: a notebook was uploaded, "
            "and the notebook is what is graded."
            for path in found
            if path not in notebooks
        ]
        found = notebooks
    passed_over += [
        f"Ignored {path.relative_to(folder).as_posix()}: only the first {MAX_UPLOADS} "
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
        specs = [spec for spec in specs if spec.kind == "expression"]
        if not specs:
            return (
                f"Ignored {name}: a .txt holds a typed formula, and none of these "
                "exercises asks for one."
            )
    allow = os.environ.get(ALLOW_UNISOLATED, "") not in ("", "0")
    return engine.grade(submission, specs, require_isolation=not allow)


def _best_per_exercise(
    specs: Sequence[Spec], graded: list[tuple[str, SubmissionResult]]
) -> tuple[list[ExerciseResult], dict[str, list[str]]]:
    """For each exercise the best result any file got (ties: an attempt, then the first
    file), and which exercises each file was used for."""
    exercises: list[ExerciseResult] = []
    sources: dict[str, list[str]] = {name: [] for name, _ in graded}
    for spec in specs:
        candidates = [
            (exercise, name)
            for name, result in graded
            for exercise in result.exercises
            if exercise.id == spec.id
        ]
        if not candidates:
            missing = "No uploaded file answers this exercise."
            exercises.append(_ungraded(spec, Status.NOT_ATTEMPTED, missing))
            continue
        best, name = max(
            candidates, key=lambda pair: (pair[0].score, pair[0].status != Status.NOT_ATTEMPTED)
        )
        exercises.append(best)
        if best.status != Status.NOT_ATTEMPTED:
            sources[name].append(spec.id)
    return exercises, sources


def _graded_note(sources: dict[str, list[str]], graded: list[tuple[str, SubmissionResult]]) -> str:
    """Say what was graded, so that a student who uploaded the wrong file can tell."""
    if len(graded) == 1:
        return f"Graded {graded[0][0]}."
    used = [f"{name} for {', '.join(ids)}" for name, ids in sources.items() if ids]
    note = f"Graded {'; '.join(used)}." if used else "No uploaded file answers these exercises."
    for name, result in graded:
        if sources[name]:
            continue
        if any(exercise.status != Status.NOT_ATTEMPTED for exercise in result.exercises):
            note += f" Not used: {name} (another file scored at least as well)."
        else:
            note += f" Not used: {name} (it answers none of these exercises)."
    return note


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


def rows(exercises: Sequence[ExerciseResult]) -> list[Row]:
    return [_row(exercise, check) for exercise in exercises for check in exercise.checks]


def _row(exercise: ExerciseResult, check: CheckResult) -> Row:
    passed = check.status == CheckStatus.PASSED
    details = []
    # A check the code never reached (or an exercise not attempted) has no verdict of its
    # own: its row says why, so that a student who opens only that row learns it.
    if check.status == CheckStatus.ERROR or exercise.status == Status.NOT_ATTEMPTED:
        details.append(exercise.feedback)
    # A hidden check shows its outcome only, as in every report of the toolkit.
    if not check.hidden:
        if check.hint and not passed:
            details.append(f"Hint: {check.hint}")
        if check.misconception:
            details.append(f"Known mistake: {check.misconception}")
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


def exercise_line(exercise: ExerciseResult, text: str | None = None) -> str:
    """One exercise in the overall output: its title and its feedback (or ``text``)."""
    return f"{exercise.title} ({exercise.id}): {text if text is not None else exercise.feedback}"


def overview(grading: Grading) -> list[str]:
    """The student-facing lines about the whole submission, before any exercise."""
    lines = [message for message in (grading.failure, grading.unusable) if message]
    return lines + grading.notes


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 20] + "\n... (shortened)"


def write_json(data: dict[str, Any], path: Path) -> None:
    """Write the results in one go (a half-written file is a failed grading job)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
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


def selected_specs(args: argparse.Namespace) -> list[Spec]:
    """The exercises the export covers, each proved to have a working reference now,
    rather than failing for every student later."""
    specs = load_specs(args.course, args.exercise)
    if not specs:
        raise CommandError(f"{args.course}: there are no exercises to export")
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
        for path in sorted([*package.rglob("*.py"), *package.glob("templates/*")])
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
