"""The command line as users drive it: exit statuses, JSON, reports, and every bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import REPO, run_cli, run_cli_json

EXAMPLES = REPO / "examples"


def test_list_names_every_exercise():
    completed = run_cli("list", "--json")
    assert completed.returncode == 0
    ids = [row["id"] for row in json.loads(completed.stdout)]
    assert ids == sorted(path.stem for path in (REPO / "exercises").glob("*.yaml"))
    assert {"chain_rule", "neuron_gain", "product_rule_alpha", "psp_charge"} <= set(ids)


def test_check_correct_exits_0_with_the_documented_json():
    code, data = run_cli_json(
        "check", "product_rule_alpha", str(EXAMPLES / "product_rule_correct.py")
    )
    assert code == 0
    assert data["score"] == data["max_score"] == 3.0
    [graded] = data["exercises"]
    assert graded["id"] == "product_rule_alpha"
    assert graded["status"] == "passed"
    for check in graded["checks"]:
        assert set(check) >= {"name", "status", "score", "max_score", "feedback", "misconception"}


def test_check_wrong_exits_1_with_targeted_feedback():
    code, data = run_cli_json(
        "check", "product_rule_alpha", str(EXAMPLES / "product_rule_chain_rule_forgotten.py")
    )
    assert code == 1
    checks = {c["name"]: c for c in data["exercises"][0]["checks"]}
    assert checks["dv_dt"]["misconception"] == "dv_dt_missing_inner_derivative"
    assert "chain rule" in checks["dv_dt"]["feedback"]


def test_terminal_report_shows_marks_feedback_and_hint():
    completed = run_cli("check", "psp_charge", str(EXAMPLES / "psp_total_not_cumulative.py"))
    assert completed.returncode == 1
    assert "✓" in completed.stdout and "✗" in completed.stdout
    assert "Hint" in completed.stdout
    assert "\x1b[" not in completed.stdout  # not a terminal: no colour codes


def test_typed_answer_on_the_command_line():
    code, data = run_cli_json("check", "chain_rule", "--answer", "4a^3 e^(a^4+1)")
    assert code == 0 and data["exercises"][0]["status"] == "passed"
    code, data = run_cli_json("check", "chain_rule", "--answer", "diff(exp(a**4+1), a)")
    assert code == 1
    assert "diff" in data["exercises"][0]["checks"][0]["feedback"]


def test_grade_a_py_against_the_exercises_it_answers():
    code, data = run_cli_json("grade", str(EXAMPLES / "neuron_gain_correct.py"))
    assert code == 0
    assert [e["id"] for e in data["exercises"]] == ["neuron_gain"]


def test_grade_a_notebook_against_every_exercise_and_write_reports(tmp_path):
    notebook = EXAMPLES / "completed_tutorial.ipynb"
    for suffix in ("html", "md", "json"):
        report = tmp_path / f"report.{suffix}"
        completed = run_cli("grade", str(notebook), "--report", str(report))
        assert completed.returncode == 1, completed.stderr
        assert report.stat().st_size > 0
    data = json.loads((tmp_path / "report.json").read_text())
    statuses = {e["id"]: e["status"] for e in data["exercises"]}
    assert statuses == {
        "chain_rule": "passed",
        "neuron_gain": "passed",
        "product_rule_alpha": "failed",
        "psp_charge": "failed",
    }


def test_validate_proves_the_bundled_specs():
    completed = run_cli("validate")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.count("✓") == len(list((REPO / "exercises").glob("*.yaml")))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "no_such_exercise", "x.py"], "unknown exercise 'no_such_exercise'"),
        (["check", "product_rule_alpha", "missing.py"], "missing.py"),
        (["check", "product_rule_alpha"], "either a SUBMISSION file or --answer"),
        (["check", "product_rule_alpha", "--answer", "1"], "expects code"),
        (["frobnicate"], "invalid choice"),
        (
            [
                "check",
                "product_rule_alpha",
                "{examples}/product_rule_correct.py",
                "--time-limit",
                "-1",
            ],
            "--time-limit",
        ),
        (
            [
                "check",
                "product_rule_alpha",
                "{examples}/product_rule_correct.py",
                "--report",
                "r.pdf",
            ],
            "r.pdf",
        ),
    ],
)
def test_unusable_requests_exit_2_with_one_line(args, message, tmp_path):
    args = [arg.replace("{examples}", str(EXAMPLES)) for arg in args]
    completed = run_cli(*args, cwd=tmp_path)
    assert completed.returncode == 2
    assert message in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("latin1.py", "x = 'caf\xe9'\n".encode("latin-1")),
        ("broken.ipynb", b'{"cells": [ '),
        ("not_a_notebook.ipynb", b'{"hello": 1}'),
        ("binary.ipynb", b"\x89PNG\r\n\x1a\n\x00\x00"),
        ("answer.pdf", b"%PDF-1.4"),
    ],
)
def test_unreadable_submissions_exit_2(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    completed = run_cli("check", "product_rule_alpha", str(path))
    assert completed.returncode == 2, completed.stdout
    assert name in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def _course_with(tmp_path: Path, spec_text: str) -> Path:
    course = tmp_path / "course"
    shutil.copytree(REPO / "exercises", course / "exercises")
    shutil.copytree(REPO / "reference", course / "reference")
    (course / "exercises" / "product_rule_alpha.yaml").write_text(spec_text, encoding="utf-8")
    return course


def _check_with_edited_spec(tmp_path: Path, old: str, new: str, example: str, *extra: str):
    """Check an example hand-in against a copy of the course whose product-rule spec is edited."""
    text = (REPO / "exercises" / "product_rule_alpha.yaml").read_text()
    assert old in text
    course = _course_with(tmp_path, text.replace(old, new))
    return run_cli(
        "--course", str(course), "check", "product_rule_alpha", str(EXAMPLES / example), *extra
    )


def test_bad_spec_is_refused_with_file_field_and_line(tmp_path):
    completed = _check_with_edited_spec(
        tmp_path, "allow_constant: true", "allow_constant: maybe", "product_rule_correct.py"
    )
    assert completed.returncode == 2
    assert "product_rule_alpha.yaml" in completed.stderr
    assert "checks.0.allow_constant" in completed.stderr
    assert "line " in completed.stderr


def test_invalid_yaml_is_refused_with_line(tmp_path):
    course = _course_with(tmp_path, "id: product_rule_alpha\nchecks: [\n")
    completed = run_cli("--course", str(course), "list")
    assert completed.returncode == 2
    assert "not valid YAML" in completed.stderr and "line" in completed.stderr


def test_validate_catches_a_mistake_the_checks_cannot_tell_apart(tmp_path):
    text = (REPO / "exercises" / "product_rule_alpha.yaml").read_text()
    # A "mistake" that is in fact the right answer must be reported by validate.
    course = _course_with(
        tmp_path, text.replace("value: np.exp(-t/tau)\n", "value: -1/tau * np.exp(-t/tau)\n", 1)
    )
    completed = run_cli("--course", str(course), "validate", "product_rule_alpha")
    assert completed.returncode == 1
    assert "mistake dv_dt_missing_inner_derivative passes dv_dt" in completed.stdout


def test_new_exercise_needs_only_a_yaml_file_and_a_reference_module(tmp_path):
    course = _course_with(tmp_path, (REPO / "exercises" / "product_rule_alpha.yaml").read_text())
    (course / "exercises" / "power_rule.yaml").write_text(
        "id: power_rule\ntitle: Power rule\nsource: a new exercise\n"
        "prompt: Differentiate t**3 on t.\n"
        "given:\n  t: np.linspace(-2, 2, 41)\naxis: t\n"
        "checks:\n  - name: dy_dt\n    hint: Bring the exponent down.\n    mistakes:\n"
        "      - id: exponent_not_lowered\n        value: 3 * t**3\n"
        "        feedback: The exponent comes down and the power drops by one.\n",
        encoding="utf-8",
    )
    (course / "reference" / "power_rule.py").write_text("dy_dt = 3 * t**2\n", encoding="utf-8")
    completed = run_cli("--course", str(course), "validate", "power_rule")
    assert completed.returncode == 0, completed.stdout
    answer = tmp_path / "answer.py"
    answer.write_text("dy_dt = 3 * t**3\n")
    completed = run_cli("--course", str(course), "check", "power_rule", str(answer))
    assert completed.returncode == 1
    assert "exponent comes down" in completed.stdout
    # `grade` picks the new exercise out of that course too, by the names the file defines.
    completed = run_cli("--course", str(course), "grade", str(answer), "--json")
    assert [e["id"] for e in json.loads(completed.stdout)["exercises"]] == ["power_rule"]


def test_broken_setup_code_is_the_graders_problem_not_the_students(tmp_path):
    completed = _check_with_edited_spec(
        tmp_path, "  code: |\n", "  code: |\n    1 / 0\n", "product_rule_correct.py"
    )
    assert completed.returncode == 2
    assert "setup failed in the sandbox: ZeroDivisionError" in completed.stderr


def test_hidden_check_shows_only_pass_or_fail(tmp_path):
    completed = _check_with_edited_spec(
        tmp_path,
        "  - name: dv_dt\n",
        "  - name: dv_dt\n    hidden: true\n",
        "product_rule_chain_rule_forgotten.py",
        "--json",
    )
    checks = {c["name"]: c for c in json.loads(completed.stdout)["exercises"][0]["checks"]}
    assert checks["dv_dt"]["feedback"] == "Hidden check: not passed."
    assert checks["dv_dt"]["misconception"] is None and checks["dv_dt"]["hint"] is None
    assert checks["df_dt"]["misconception"] == "df_dt_from_dv_dt_missing_inner_derivative"
