"""Shared helpers: grade a snippet of student code the way the command line does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from graders import engine, sandbox, spec, submission
from graders.results import SubmissionResult

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "graders"
FIXTURES = REPO / "tests" / "fixtures"
SCHEMAS = FIXTURES / "schemas"
STUDENT_NOTEBOOK = FIXTURES / "W0D4_Tutorial1_student.ipynb"
INSTRUCTOR_NOTEBOOK = FIXTURES / "W0D4_Tutorial1_instructor.ipynb"


GRADING_VERBS = {"check", "grade", "batch", "validate"}  # grade.py's verbs that start a sandbox
UNMARKED = "this test starts a sandbox: mark it @pytest.mark.sandbox"


def starts_sandbox(command: Sequence[str]) -> bool:
    """Whether a command starts a sandbox: bubblewrap (but for its probe, which runs
    `true`), a script of the package such as the sandbox's child, or grade.py grading."""
    if Path(command[0]).name == "bwrap":
        return Path(command[-1]).name != "true"
    if any(
        word.endswith(".py") and Path(word).resolve().is_relative_to(PACKAGE) for word in command
    ):
        return True
    names = [Path(word).name for word in command]
    entry = next(
        (names.index(name) for name in ("grade.py", "calculus-grade") if name in names), None
    )
    if entry is None:
        return False
    words = command[entry + 1 :]
    while words and words[0].startswith("-"):  # the options before the verb: --course DIR
        words = words[1:] if "=" in words[0] or words[0] in ("-h", "--help") else words[2:]
    return bool(words) and words[0] in GRADING_VERBS


class _Unmarked:
    """Set while a test not marked sandbox runs."""

    running = False


class _GuardedPopen(subprocess.Popen):
    def __init__(self, args, *more, **options) -> None:
        if not isinstance(args, str | bytes) and starts_sandbox(list(map(os.fsdecode, args))):
            pytest.fail(UNMARKED, pytrace=False)  # not an Exception: no grade may swallow it
        super().__init__(args, *more, **options)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """A test that starts a sandbox must say so (@pytest.mark.sandbox), so that
    `pytest -m "not sandbox"` runs the pure tests only, in seconds.

    Every sandbox, and every grade.py a test runs, starts through subprocess.Popen, and
    every test of isolation calls require_bubblewrap; both refuse while an unmarked test
    runs, including the set-up of module fixtures it needs. A sandbox started by a
    subprocess of another kind (a Jupyter kernel, a script calling check(), an autograder's
    script) is not seen here, and its test is marked by hand.
    """
    if item.get_closest_marker("sandbox") is not None:
        return (yield)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess, "Popen", _GuardedPopen)
        patch.setattr(_Unmarked, "running", True)
        return (yield)


def require_bubblewrap() -> None:
    """Tests of isolation need bubblewrap: in CI (CI=true) its absence fails them, else skips."""
    if _Unmarked.running:
        pytest.fail(UNMARKED, pytrace=False)
    if sandbox.isolation_available():
        return
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail("bubblewrap is required in CI: install bubblewrap and allow user namespaces")
    pytest.skip("bubblewrap is not usable here")


@pytest.fixture
def grade_code(tmp_path: Path):
    """Grade Python source as a .py hand-in against one exercise."""

    def grade(exercise_id: str, source: str, name: str = "submission.py") -> SubmissionResult:
        path = tmp_path / name
        path.write_text(source, encoding="utf-8")
        return engine.grade(submission.load(path), [spec.find(exercise_id)])

    return grade


def exercise(result: SubmissionResult, exercise_id: str):
    return next(e for e in result.exercises if e.id == exercise_id)


def check(result: SubmissionResult, exercise_id: str, name: str):
    return next(c for c in exercise(result, exercise_id).checks if c.name == name)


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "grade.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_cli_json(*args: str) -> tuple[int, dict]:
    completed = run_cli(*args, "--json")
    return completed.returncode, json.loads(completed.stdout)
