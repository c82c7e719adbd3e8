"""Rendering results: text, Markdown, HTML and JSON carry the same content, safely escaped."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from graders import reports
from graders.results import CheckResult, CheckStatus, ExerciseResult, Status, SubmissionResult

SCRIPT = "<script>alert(1)</script>"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _check(name: str, status: CheckStatus, score: float, max_score: float = 1, **kw) -> CheckResult:
    return CheckResult(name, status, score, max_score, kw.pop("feedback", ""), **kw)


@pytest.fixture
def result() -> SubmissionResult:
    """One exercise of each kind a student sees, 3/7 points in all."""
    return SubmissionResult(
        submission="submission.py",
        notices=["Sandbox isolation is weaker on this machine: no network namespace."],
        exercises=[
            ExerciseResult(
                "product_rule_alpha",
                "Derivative of the alpha function",
                Status.FAILED,
                "One of the two derivatives is wrong.",
                [
                    _check("du_dt", CheckStatus.PASSED, 1, feedback="du/dt is right."),
                    _check(
                        "dv_dt",
                        CheckStatus.FAILED,
                        0,
                        feedback="Your dv/dt is off by a factor.\nExpected: -exp(-t/tau)/tau",
                        hint="Use the chain rule on exp(-t/tau).",
                        misconception="dv_dt_missing_inner_derivative",
                    ),
                    _check("hidden values", CheckStatus.PASSED, 1, hidden=True),
                ],
            ),
            ExerciseResult(
                "psp_charge",
                "Charge transfer",
                Status.NOT_ATTEMPTED,
                "The placeholders are still there.",
                [_check("PSP", CheckStatus.FAILED, 0, 2, feedback="Not attempted.")],
            ),
            ExerciseResult(
                "chain_rule",
                "Chain rule",
                Status.ERROR,
                "Your code raised ZeroDivisionError on line 3.",
                [_check("value", CheckStatus.ERROR, 0, feedback="ZeroDivisionError")],
            ),
            ExerciseResult(
                "neuron_gain",
                "Neuron gain",
                Status.PASSED,
                "",
                [_check("gain", CheckStatus.PASSED, 1, feedback="Correct.", hint="PASSED-HINT")],
            ),
        ],
    )


def _line_with(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


# --- terminal text -----------------------------------------------------------------------------


def test_text_header_notices_and_exercises(result):
    text = reports.to_text(result, color=False)
    lines = text.splitlines()
    assert lines[0] == "submission.py — 3/7 points"
    assert lines[1].startswith("Notice: Sandbox isolation is weaker")
    heading = _line_with(text, "Derivative of the alpha function")
    assert "(product_rule_alpha)" in heading and heading.endswith("failed  2/3")
    assert _line_with(text, "Charge transfer").endswith("not attempted  0/2")
    assert _line_with(text, "Chain rule").endswith("error  0/1")
    assert _line_with(text, "Neuron gain").endswith("passed  1/1")
    assert "  One of the two derivatives is wrong." in lines


def test_text_checks_symbols_points_feedback_hint_and_mistake(result):
    text = reports.to_text(result, color=False)
    assert re.search(r"^  ✓ du_dt +1/1$", text, re.MULTILINE)
    assert re.search(r"^  ✗ dv_dt +0/1$", text, re.MULTILINE)
    assert re.search(r"^  ✗ value +0/1$", text, re.MULTILINE)
    lines = text.splitlines()
    start = lines.index(_line_with(text, "✗ dv_dt"))
    assert lines[start + 1 : start + 5] == [
        "      Your dv/dt is off by a factor.",
        "      Expected: -exp(-t/tau)/tau",
        "      Hint: Use the chain rule on exp(-t/tau).",
        "      Known mistake: dv_dt_missing_inner_derivative",
    ]
    assert "PASSED-HINT" not in text  # hints are for checks that failed


def test_text_hidden_check_shows_only_its_outcome(result):
    text = reports.to_text(result, color=False)
    lines = text.splitlines()
    hidden = lines.index(_line_with(text, "hidden values"))
    assert re.fullmatch(r"  ✓ hidden values \(hidden\) +1/1", lines[hidden])
    assert lines[hidden + 1] == ""  # no empty feedback lines, straight on to the next exercise
    assert all(line == line.rstrip() for line in lines)


def test_hidden_check_details_never_rendered(result):
    result.exercises[0].checks[2] = _check(
        "hidden values",
        CheckStatus.FAILED,
        0,
        feedback="SECRET-FEEDBACK",
        hint="SECRET-HINT",
        misconception="SECRET-MISTAKE",
        hidden=True,
    )
    for rendered in (
        reports.to_text(result, color=False),
        reports.to_markdown(result),
        reports.to_html(result),
    ):
        assert "hidden values" in rendered
        assert "SECRET" not in rendered


@pytest.mark.parametrize(
    ("status", "word"), [(Status.TIMEOUT, "timed out"), (Status.MEMORY_LIMIT, "memory limit")]
)
def test_text_limit_statuses(status, word):
    result = SubmissionResult(
        "s.py", [ExerciseResult("e", "E", status, "Stopped.", [_check("c", CheckStatus.ERROR, 0)])]
    )
    assert _line_with(reports.to_text(result, color=False), "E (e)").endswith(f"{word}  0/1")


def test_text_colour_only_when_asked(result):
    plain = reports.to_text(result, color=False)
    coloured = reports.to_text(result, color=True)
    assert "\x1b[" not in plain
    assert "\x1b[32m✓\x1b[0m du_dt" in coloured
    assert "\x1b[31m✗\x1b[0m dv_dt" in coloured
    assert "\x1b[33merror\x1b[0m" in coloured
    assert "\x1b[1msubmission.py — 3/7 points\x1b[0m" in coloured
    assert ANSI.sub("", coloured) == plain  # colour changes nothing else, alignment included


def test_text_fits_80_columns_and_keeps_feedback_lines(result):
    long_feedback = "The derivative is wrong at " + ", ".join(f"t={t}" for t in range(40)) + "."
    result.exercises[0].checks[0] = _check("du_dt", CheckStatus.FAILED, 0, feedback=long_feedback)
    text = reports.to_text(result, color=False)
    assert max(len(line) for line in text.splitlines()) <= 80
    wrapped = [line for line in text.splitlines() if "t=" in line]
    assert len(wrapped) > 1 and all(line.startswith("      ") for line in wrapped)


def test_text_drops_terminal_control_characters():
    feedback = "moved\x1b[2J\x07 cursor\r\nsecond line"
    result = SubmissionResult(
        "s\x1b[31m.py",
        [
            ExerciseResult(
                "e", "E", Status.FAILED, "", [_check("c", CheckStatus.FAILED, 0, feedback=feedback)]
            )
        ],
    )
    text = reports.to_text(result, color=False)
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert "      second line" in text.splitlines()


def test_scores_are_shown_without_float_noise():
    checks = [_check("a", CheckStatus.PASSED, 2 / 3), _check("b", CheckStatus.PASSED, 0.5, 0.5)]
    result = SubmissionResult("s.py", [ExerciseResult("e", "E", Status.FAILED, "", checks)])
    assert reports.to_text(result, color=False).splitlines()[0] == "s.py — 1.17/1.5 points"


# --- Markdown and HTML -------------------------------------------------------------------------


def test_markdown_content(result):
    markdown = reports.to_markdown(result)
    assert markdown.startswith("# submission.py — 3/7 points\n")
    assert "> **Notice:** Sandbox isolation is weaker" in markdown
    assert (
        "## Derivative of the alpha function (product\\_rule\\_alpha) — failed, 2/3 points"
        in markdown
    )
    assert "## Charge transfer (psp\\_charge) — not attempted, 0/2 points" in markdown
    assert "- ✓ **du\\_dt** — 1/1\\\n  du/dt is right.\n" in markdown
    assert (
        "- ✗ **dv\\_dt** — 0/1\\\n"
        "  Your dv/dt is off by a factor.\\\n"
        "  Expected: -exp(-t/tau)/tau\\\n"
        "  Hint: Use the chain rule on exp(-t/tau).\\\n"
        "  Known mistake: dv\\_dt\\_missing\\_inner\\_derivative\n"
    ) in markdown
    assert "- ✓ **hidden values** (hidden) — 1/1\n" in markdown
    assert "PASSED-HINT" not in markdown


def test_markdown_escapes_student_text():
    feedback = f"*not bold* [link](http://x) {SCRIPT}\n- not a list\n1. not a list"
    result = SubmissionResult(
        "my_*file*.py",
        [
            ExerciseResult(
                "e", "E", Status.FAILED, "", [_check("c", CheckStatus.FAILED, 0, feedback=feedback)]
            )
        ],
    )
    markdown = reports.to_markdown(result)
    assert markdown.startswith("# my\\_\\*file\\*.py")
    assert "\\*not bold\\* \\[link\\](http://x) \\<script\\>alert(1)\\</script\\>" in markdown
    assert "  \\- not a list\\\n  1\\. not a list" in markdown
    assert SCRIPT not in markdown


def test_html_is_self_contained_and_coloured_by_status(result):
    html = reports.to_html(result)
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert not re.search(r"""(src|href)=|@import|url\(|<link|<script""", html)
    for exercise_id, tone in [
        ("product_rule_alpha", "fail"),
        ("psp_charge", "skip"),
        ("chain_rule", "warn"),
        ("neuron_gain", "pass"),
    ]:
        section = html[html.index(f'<span class="id">{exercise_id}</span>') - 300 :]
        assert f'<section class="exercise tone-{tone}">' in section
    assert "submission.py" in html and "3/7 points" in html
    assert "Use the chain rule on exp(-t/tau)." in html
    assert "dv_dt_missing_inner_derivative" in html
    assert "Your dv/dt is off by a factor.\nExpected: -exp(-t/tau)/tau" in html
    assert "PASSED-HINT" not in html


def test_html_escapes_student_text():
    result = SubmissionResult(
        f"{SCRIPT}.py",
        [
            ExerciseResult(
                "e",
                "E",
                Status.FAILED,
                SCRIPT,
                [
                    _check(
                        SCRIPT,
                        CheckStatus.FAILED,
                        0,
                        feedback=SCRIPT,
                        hint=SCRIPT,
                        misconception=SCRIPT,
                    )
                ],
            )
        ],
        notices=[SCRIPT],
    )
    html = reports.to_html(result)
    assert "<script" not in html
    assert (
        html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 8
    )  # title, h1, notice, 5 in the exercise


def test_jinja_is_imported_only_for_markdown_and_html():
    code = (
        "import sys; from graders import reports; from graders.results import SubmissionResult\n"
        "empty = SubmissionResult('s.py')\n"
        "reports.to_text(empty, color=False); reports.to_json(empty)\n"
        "assert 'jinja2' not in sys.modules\n"
        "reports.to_html(empty); assert 'jinja2' in sys.modules"
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


# --- JSON and files ----------------------------------------------------------------------------


def test_json_round_trips_with_the_documented_keys(result):
    data = json.loads(reports.to_json(result))
    assert data == result.to_dict()
    assert {"submission", "score", "max_score", "exercises"} <= data.keys()
    assert (data["submission"], data["score"], data["max_score"]) == ("submission.py", 3, 7)
    exercise = data["exercises"][0]
    assert {"id", "status", "score", "max_score", "feedback", "checks"} <= exercise.keys()
    assert (exercise["id"], exercise["status"], exercise["score"]) == (
        "product_rule_alpha",
        "failed",
        2,
    )
    check = exercise["checks"][1]
    assert {"name", "status", "score", "max_score", "feedback", "misconception"} <= check.keys()
    assert (check["name"], check["status"], check["misconception"]) == (
        "dv_dt",
        "failed",
        "dv_dt_missing_inner_derivative",
    )
    assert [e["status"] for e in data["exercises"]] == [
        "failed",
        "not_attempted",
        "error",
        "passed",
    ]


def test_json_has_no_nan(result):
    result.exercises[0].checks[0].score = float("nan")
    result.exercises[0].checks[1].max_score = float("inf")

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    data = json.loads(reports.to_json(result), parse_constant=refuse)
    assert data["score"] is None and data["max_score"] is None
    assert data["exercises"][0]["checks"][0]["score"] is None


@pytest.mark.parametrize(
    ("suffix", "render"),
    [
        (".json", reports.to_json),
        (".md", reports.to_markdown),
        (".html", reports.to_html),
    ],
)
def test_write_by_suffix(result, tmp_path, suffix, render):
    path = tmp_path / f"report{suffix}"
    reports.write(result, path)
    assert path.read_text(encoding="utf-8").rstrip("\n") == render(result).rstrip("\n")


@pytest.mark.parametrize("name", ["report.pdf", "report.txt", "report"])
def test_write_refuses_an_unknown_suffix(result, tmp_path, name):
    path = tmp_path / name
    with pytest.raises(ValueError, match=r"\.json, \.md, \.html") as caught:
        reports.write(result, path)
    assert repr(name) in str(caught.value)
    assert not path.exists()


def test_results_round_trip_through_a_dict_with_plot_data():
    from graders.results import (
        CheckResult,
        CheckStatus,
        Curve,
        ExerciseResult,
        Status,
        SubmissionResult,
    )

    curve = Curve("", "t", [0.0, 0.1], [1.0, 2.0], [1.0, 3.0], [False, True])
    check = CheckResult("dv_dt", CheckStatus.FAILED, 0.0, 1.0, "off", "m", "h", False, [curve])
    result = SubmissionResult(
        "s.py", [ExerciseResult("e", "E", Status.FAILED, "f", [check])], ["n"]
    )
    stored = result.to_dict(evidence=True)
    assert stored["exercises"][0]["checks"][0]["evidence"][0]["actual"] == [1.0, 3.0]
    assert "evidence" not in result.to_dict()["exercises"][0]["checks"][0]
    assert SubmissionResult.from_dict(stored) == result
