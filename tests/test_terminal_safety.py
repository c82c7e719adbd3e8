"""What reaches the terminal: typed answers that start with a minus, a reader that closes
the pipe early, and hostile hand-ins whose messages, output and names carry escapes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from graders import cli

# What a terminal would obey: C0 controls but tab and newline, ESC, DEL, C1 controls
# (a lone \x9b is CSI), bidi embeddings, overrides and isolates.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\u202e\x9b2J"
HOSTILE_NAME = "st\x1b]0;pwned\x07\x1b[2J\u202eudent.py"


def assert_safe(*texts: str) -> None:
    for text in texts:
        found = UNSAFE.findall(text)
        assert not found, f"unsafe characters {found!r} reach the terminal: {text[:300]!r}"


# --- option values that start with a minus -------------------------------------------------


@pytest.mark.parametrize(
    "words",
    [
        ["--answer", "-4a^3*e^(a^4+1)"],
        ["--answer", "-4a^3 e^(a^4+1)"],
        ["--answer=-4a^3e^(a^4+1)"],
    ],
)
def test_a_typed_answer_may_start_with_a_minus(words, capsys):
    assert cli.main(["check", "chain_rule", *words, "--json"]) == 1
    captured = capsys.readouterr()
    [dr_da] = json.loads(captured.out)["exercises"][0]["checks"]
    assert "negative" in dr_da["feedback"]  # read as typed: the sign error is recognised
    assert captured.err == ""


def test_any_option_value_may_start_with_a_minus(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check", "chain_rule", "--answer", "4a^3 e^(a^4+1)", "--report", "-r.md"]) == 0
    assert (tmp_path / "-r.md").is_file()


def test_an_option_followed_by_another_option_still_lacks_its_value(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["check", "chain_rule", "--answer", "--json"])
    assert exited.value.code == cli.EXIT_UNUSABLE
    assert "--answer: expected one argument" in capsys.readouterr().err


# --- a reader that goes away ---------------------------------------------------------------


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("words", "status"),
    [(["list"], 0), (["check", "chain_rule", "--answer", "4a^3", "--report", "r.json"], 1)],
)
def test_a_closed_pipe_ends_quietly_and_loses_nothing(tmp_path, words, status):
    process = subprocess.Popen(
        [sys.executable, str(REPO / "grade.py"), *words],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.close()  # `| head` that has read all it wanted, before anything came
    _, stderr = process.communicate(timeout=120)
    assert stderr == b""
    assert process.returncode == status
    if "--report" in words:
        assert json.loads((tmp_path / "r.json").read_text())["exercises"][0]["status"] == "failed"


# --- hostile text ------------------------------------------------------------------------------


@pytest.fixture
def hostile_hand_in(tmp_path: Path) -> Path:
    path = tmp_path / HOSTILE_NAME
    path.write_text(
        f"print({ESCAPES!r} * 3)\ndu_dt = 1\nraise ValueError({('boom ' + ESCAPES)!r})\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.sandbox
@pytest.mark.parametrize("output", [[], ["--json"]])
def test_hostile_message_output_and_name_do_not_reach_the_terminal(hostile_hand_in, output):
    completed = run_cli("check", "product_rule_alpha", str(hostile_hand_in), *output)
    assert completed.returncode == 1, completed.stderr
    assert_safe(completed.stdout, completed.stderr)
    if output:
        graded = json.loads(completed.stdout)  # escaped, not lost: the JSON holds the text
        assert ESCAPES in graded["exercises"][0]["feedback"]
    else:
        assert "ValueError: boom" in completed.stdout
        # The name as it is (capitals kept), with each unsafe character replaced.
        assert "st\ufffd]0;pwned\ufffd\ufffd[2J\ufffdudent.py" in completed.stdout


@pytest.mark.sandbox
def test_hostile_name_does_not_reach_the_terminal_through_the_one_line_error(tmp_path):
    notebook = tmp_path / f"{HOSTILE_NAME[:-3]}.ipynb"
    notebook.write_text('{"cells": [', encoding="utf-8")
    completed = run_cli("check", "product_rule_alpha", str(notebook))
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1 and "not valid JSON" in completed.stderr
    assert_safe(completed.stdout, completed.stderr)


@pytest.mark.sandbox
def test_hostile_names_do_not_reach_the_terminal_through_batch_lines(tmp_path, hostile_hand_in):
    students = tmp_path / "students"
    too_deep = students / HOSTILE_NAME[:-3] / "/".join("d" * 13)
    too_deep.mkdir(parents=True)
    hostile_hand_in.rename(students / hostile_hand_in.name)
    completed = run_cli("batch", str(students), "--out", str(tmp_path / "out"), "--workers", "1")
    assert completed.returncode == 1, completed.stderr
    assert "folders deep; skipped" in completed.stderr  # the line that names the folder
    assert_safe(completed.stdout, completed.stderr)
