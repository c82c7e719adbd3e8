"""The `sandbox` marker is checked: a test that starts a sandbox without it fails (conftest)."""

from __future__ import annotations

import sys

import pytest

from conftest import PACKAGE, REPO, UNMARKED, starts_sandbox
from graders import sandbox


@pytest.mark.parametrize(
    ("command", "starts"),
    [
        (["/usr/bin/bwrap", "--unshare-all", "--", "python3", "-I", "/sandbox/child.py"], True),
        (["/usr/bin/bwrap", "--unshare-all", "--", "/usr/bin/true"], False),  # the probe
        ([sys.executable, "-I", "-B", str(PACKAGE / "sandbox" / "child.py"), "3", "{}"], True),
        ([sys.executable, str(REPO / "grade.py"), "check", "chain_rule", "--answer", "x"], True),
        ([sys.executable, "grade.py", "--course", "c", "validate"], True),
        ([sys.executable, "grade.py", "--course=c", "batch", "in", "--out", "out"], True),
        (["/venv/bin/calculus-grade", "grade", "notebook.ipynb"], True),
        ([sys.executable, "grade.py", "list"], False),
        ([sys.executable, "grade.py", "--course", "check", "export", "otter"], False),
        ([sys.executable, "-c", "print('grade.py check')"], False),
        (["bash", "-n", "run_autograder"], False),
    ],
)
def test_commands_that_start_a_sandbox_are_recognised(command: list[str], starts: bool) -> None:
    assert starts_sandbox(command) is starts


def test_an_unmarked_test_cannot_start_a_sandbox() -> None:
    with pytest.raises(pytest.fail.Exception, match=UNMARKED):
        sandbox.start()
