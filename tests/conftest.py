"""Shared helpers: grade a snippet of student code the way the command line does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from graders import engine, sandbox, spec, submission
from graders.results import SubmissionResult

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SCHEMAS = FIXTURES / "schemas"
STUDENT_NOTEBOOK = FIXTURES / "W0D4_Tutorial1_student.ipynb"
INSTRUCTOR_NOTEBOOK = FIXTURES / "W0D4_Tutorial1_instructor.ipynb"


def require_bubblewrap() -> None:
    """Tests of isolation need bubblewrap: in CI (CI=true) its absence fails them, else skips."""
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
