"""The PrairieLearn external grader, run the way PrairieLearn runs it.

Each test exports with `grade.py export prairielearn`, copies the export into a temporary
folder laid out like a grading job's /grade (serverFilesCourse/calculus_graders/, student/,
data/data.json; results/ is not pre-created, as on PrairieLearn), runs its `entrypoint`
with this venv's Python, and validates results/results.json against the shared schema.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import pytest
from test_gradescope import HOSTILE, UNREADABLE, content_of, guesses, validated

from conftest import REPO, SCHEMAS, require_bubblewrap, run_cli

SCHEMA = json.loads((SCHEMAS / "prairielearn-results.schema.json").read_text())
EXAMPLES = REPO / "examples"
GRADING_OPTIONS = {
    "image",
    "entrypoint",
    "serverFilesCourse",
    "timeout",
    "enableNetworking",
    "environment",
    "enabled",
    "comment",
}


def export(out: Path, *exercises: str) -> Path:
    options = [option for exercise in exercises for option in ("--exercise", exercise)]
    completed = run_cli("export", "prairielearn", "--out", str(out), *options)
    assert completed.returncode == 0, completed.stderr
    return out


def lay_out(
    exported: Path,
    tmp_path: Path,
    uploads: dict[str, str | bytes | Path],
    params: dict | None = None,
) -> Path:
    """A folder laid out as PrairieLearn lays out a grading job's /grade."""
    root = tmp_path / "grade"
    shutil.copytree(exported, root / "serverFilesCourse" / "calculus_graders")
    (root / "student").mkdir()
    for name, content in uploads.items():
        path = root / "student" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content_of(content))
    (root / "data").mkdir()
    data = {"params": params or {}, "submitted_answers": {}, "variant_seed": 1, "options": {}}
    (root / "data" / "data.json").write_text(json.dumps(data))
    return root


def run_entrypoint(root: Path, **env: str) -> dict:
    require_bubblewrap()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GRADERS_")}
    environment |= {"GRADE_ROOT": str(root), "GRADERS_PYTHON": sys.executable, **env}
    completed = subprocess.run(
        [str(root / "serverFilesCourse" / "calculus_graders" / "entrypoint")],
        cwd="/",
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr  # anything else discards the results
    path = root / "results" / "results.json"
    assert path.stat().st_size < 2**20  # PrairieLearn refuses larger results
    return validated(path, SCHEMA)


def grade(
    exported: Path,
    tmp_path: Path,
    uploads: dict[str, str | bytes | Path],
    params: dict | None = None,
) -> dict:
    return run_entrypoint(lay_out(exported, tmp_path, uploads, params))


def points(results: dict) -> dict[str, tuple[float, float]]:
    return {test["name"]: (test["points"], test["max_points"]) for test in results["tests"]}


@pytest.fixture(scope="module")
def product_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export(tmp_path_factory.mktemp("export") / "pl", "product_rule_alpha")


@pytest.fixture(scope="module")
def two_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export(tmp_path_factory.mktemp("export") / "pl", "product_rule_alpha", "chain_rule")


# --- the export ---------------------------------------------------------------------------


def test_the_export_holds_the_grader_and_an_example_question_per_exercise(
    two_export: Path,
) -> None:
    entrypoint = two_export / "entrypoint"
    assert entrypoint.stat().st_mode & 0o111
    check = subprocess.run(["bash", "-n", str(entrypoint)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert (two_export / "reference" / "chain_rule.py").is_file()
    assert not (two_export / "exercises" / "psp_charge.yaml").exists()
    uuids = set()
    for exercise, answer in (("product_rule_alpha", "answer.py"), ("chain_rule", "answer.txt")):
        question = two_export / "questions" / exercise
        info = json.loads((question / "info.json").read_text())
        options = info["externalGradingOptions"]
        assert info["gradingMethod"] == "External" and info["type"] == "v3"
        assert set(options) <= GRADING_OPTIONS and options["image"]
        assert options["entrypoint"] == "/grade/serverFilesCourse/calculus_graders/entrypoint"
        assert options["serverFilesCourse"] == ["calculus_graders/"]
        assert isinstance(options["timeout"], int) and 30 <= options["timeout"] <= 600
        uuids.add(uuid.UUID(info["uuid"]))
        page = (question / "question.html").read_text()
        assert "<pl-external-grader-results></pl-external-grader-results>" in page
        assert f'<pl-file-editor file-name="{answer}"' in page
        namespace: dict = {}
        exec((question / "server.py").read_text(), namespace)  # our generated file
        data: dict = {"params": {}}
        namespace["generate"](data)
        assert data["params"] == {"exercise": exercise}
    assert len(uuids) == 2
    readme = (two_export / "README.md").read_text()
    assert "serverFilesCourse/calculus_graders/" in readme and "docker build" in readme
    dockerfile = (two_export / "image" / "Dockerfile").read_text()
    assert "bubblewrap" in dockerfile
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert all(f"'{d}'" in dockerfile for d in pyproject["project"]["dependencies"])


def test_exporting_again_replaces_an_earlier_export_but_not_a_foreign_folder(
    tmp_path: Path,
) -> None:
    out = export(tmp_path / "pl", "product_rule_alpha", "chain_rule")
    export(out, "chain_rule")
    assert not (out / "exercises" / "product_rule_alpha.yaml").exists()
    assert not (out / "questions" / "product_rule_alpha").exists()
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    completed = run_cli("export", "prairielearn", "--out", str(foreign))
    assert completed.returncode == 2 and "not an earlier export" in completed.stderr
    assert (foreign / "mine.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--exercise", "no_such_exercise"), "unknown exercise 'no_such_exercise'"),
        (("--total-only",), "are Gradescope options"),
    ],
)
def test_an_export_that_cannot_be_made_exits_2_with_one_line(
    tmp_path: Path, options: tuple[str, ...], message: str
) -> None:
    completed = run_cli("export", "prairielearn", "--out", str(tmp_path / "pl"), *options)
    assert completed.returncode == 2
    assert len(completed.stderr.splitlines()) == 1 and message in completed.stderr
    assert not (tmp_path / "pl").exists()


# --- grading ------------------------------------------------------------------------------


@pytest.mark.sandbox
def test_a_correct_upload_gets_full_marks(product_export: Path, tmp_path: Path) -> None:
    results = grade(product_export, tmp_path, {"answer.py": EXAMPLES / "product_rule_correct.py"})
    assert results["gradable"] is True and results["score"] == 1.0
    assert points(results) == {
        "product_rule_alpha: du_dt": (1, 1),
        "product_rule_alpha: dv_dt": (1, 1),
        "product_rule_alpha: df_dt": (1, 1),
    }
    assert "Graded answer.py." in results["message"]


@pytest.mark.sandbox
def test_a_wrong_upload_gets_partial_credit_and_says_what_is_wrong(
    product_export: Path, tmp_path: Path
) -> None:
    upload = EXAMPLES / "product_rule_chain_rule_forgotten.py"
    results = grade(product_export, tmp_path, {"answer.py": upload})
    assert results["score"] == pytest.approx(1 / 3)
    wrong = next(test for test in results["tests"] if test["name"].endswith("dv_dt"))
    assert (wrong["points"], wrong["max_points"]) == (0, 1)
    assert "chain rule multiplies by the derivative of the inner function" in wrong["message"]
    assert "Known mistake: dv_dt_missing_inner_derivative" in wrong["output"]
    assert "1 of 3 checks passed." in results["message"]


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("source", "score", "explanation"),
    [
        ("du_dt = 1\ndv_dt = (-1 / tau\n", 0, "SyntaxError"),
        ("du_dt = 1\nratio = 1 / 0\n", 1 / 3, "raised ZeroDivisionError"),
        ("", 0, "No answer found: nothing in answer.py defines du_dt, dv_dt or df_dt."),
    ],
    ids=["syntax-error", "crash", "empty-file"],
)
def test_code_that_fails_is_graded_with_an_explanation(
    product_export: Path, tmp_path: Path, source: str, score: float, explanation: str
) -> None:
    results = grade(product_export, tmp_path, {"answer.py": source})
    assert results["gradable"] is True and results["score"] == pytest.approx(score)
    assert explanation in results["message"]


@pytest.mark.sandbox
def test_nothing_uploaded_is_not_gradable_and_costs_no_attempt(
    product_export: Path, tmp_path: Path
) -> None:
    results = grade(product_export, tmp_path, {"answer.pdf": "%PDF-1.4"})
    assert results["gradable"] is False
    assert "No .py, .ipynb or .txt file was uploaded" in results["message"]
    assert (
        "Ignored answer.pdf: only .py, .ipynb and .txt files are graded."
        in (results["format_errors"])
    )


@pytest.mark.sandbox
def test_a_hostile_upload_reaches_nothing_and_leaks_no_reference(
    product_export: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "grade" / "serverFilesCourse" / "calculus_graders"
    secrets = [bundle / "reference" / "product_rule_alpha.py", tmp_path / "grade" / "data"]
    hostile = HOSTILE.format(paths=[str(path) for path in secrets])
    results = grade(product_export, tmp_path, {"answer.py": hostile})
    assert results["gradable"] is True and results["score"] == 0
    assert "FileNotFoundError | FileNotFoundError | no network" in results["message"]
    text = json.dumps(results, ensure_ascii=False)
    for line in secrets[0].read_text().splitlines():
        if len(line.strip()) > 8:
            assert line.strip() not in text


@pytest.mark.sandbox
def test_a_hostile_upload_of_guesses_is_not_gradable_and_does_not_tell_which_was_right(
    two_export: Path, tmp_path: Path
) -> None:
    params = {"exercise": "chain_rule"}
    with_right = grade(two_export, tmp_path / "right", guesses(right=True), params)
    all_wrong = grade(two_export, tmp_path / "wrong", guesses(right=False), params)
    assert with_right["gradable"] is False
    assert "upload one answer per exercise" in with_right["message"]
    assert any("which 8 files answer (guess0.txt, " in e for e in with_right["format_errors"])
    assert with_right == all_wrong


@pytest.mark.sandbox
def test_unreadable_names_and_text_and_a_huge_file_still_get_valid_results(
    two_export: Path, tmp_path: Path
) -> None:
    results = grade(two_export, tmp_path, UNREADABLE, params={"exercise": "product_rule_alpha"})
    assert results["gradable"] is True and results["score"] == 0
    assert "Graded caf\ufffd/cell\ufffd.py." in results["message"]
    assert "Could not read big.py: too large" in results["message"]
    assert "raised UnicodeEncodeError" in results["message"]


@pytest.mark.sandbox
def test_the_exercise_comes_from_params_and_a_typed_answer_is_graded(
    two_export: Path, tmp_path: Path
) -> None:
    uploads = {"answer.txt": EXAMPLES / "chain_rule_correct.txt"}
    results = grade(two_export, tmp_path, uploads, params={"exercise": "chain_rule"})
    assert results["score"] == 1.0
    assert points(results) == {"chain_rule: dr_da": (1, 1)}


@pytest.mark.sandbox
def test_two_files_each_serve_what_they_answer(two_export: Path, tmp_path: Path) -> None:
    uploads = {
        "answer.py": EXAMPLES / "product_rule_correct.py",
        "answer.txt": EXAMPLES / "chain_rule_correct.txt",
    }
    results = grade(two_export, tmp_path, uploads, params={"exercise": "product_rule_alpha"})
    assert results["score"] == 1.0
    assert "Graded answer.py." in results["message"]
    assert "Ignored answer.txt: a .txt holds a typed formula" in results["message"]


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"exercise": "no_such_exercise"}, "unknown exercise 'no_such_exercise'"),
        ({}, "server.py must set data['params']['exercise']"),
    ],
)
def test_a_question_naming_no_known_exercise_is_not_gradable(
    two_export: Path, tmp_path: Path, params: dict, message: str
) -> None:
    uploads = {"answer.py": EXAMPLES / "product_rule_correct.py"}
    results = grade(two_export, tmp_path, uploads, params=params)
    assert results["gradable"] is False
    assert message in results["message"] and "not with your work" in results["message"]


@pytest.mark.sandbox
def test_results_are_written_even_when_python_cannot_start(
    product_export: Path, tmp_path: Path
) -> None:
    root = lay_out(product_export, tmp_path, {"answer.py": EXAMPLES / "product_rule_correct.py"})
    results = run_entrypoint(root, GRADERS_PYTHON=str(tmp_path / "no-python"))
    assert results["gradable"] is False and "could not start" in results["message"]


@pytest.mark.sandbox
def test_a_practice_exercise_is_exported_and_graded(tmp_path: Path) -> None:
    exported = export(tmp_path / "pl", "sine_derivative")
    assert (exported / "questions" / "sine_derivative" / "info.json").is_file()
    results = grade(exported, tmp_path, {"answer.py": EXAMPLES / "sine_derivative_not_divided.py"})
    assert points(results) == {"sine_derivative: sine_diff": (0, 2)}
    assert "not divided by the step h" in results["tests"][0]["message"]
    correct = grade(exported, tmp_path / "again", {"a.py": EXAMPLES / "sine_derivative_correct.py"})
    assert correct["score"] == 1.0
