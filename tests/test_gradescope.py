"""The Gradescope autograder, run the way Gradescope runs it.

Each test exports a zip with `grade.py export gradescope`, unpacks it into a temporary
folder laid out like Gradescope's /autograder (source/, submission/, results/,
submission_metadata.json, run_autograder copied to the root), runs `run_autograder` there
with this venv's Python, and validates results/results.json against the shared schema.
Grading refuses to run without bubblewrap, so these runs need it: in CI they fail where it
is missing, elsewhere they skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from conftest import REPO, SCHEMAS, require_bubblewrap, run_cli
from graders.lms import autograder, gradescope
from graders.spec import load_specs
from graders.submission import MAX_BYTES

SCHEMA = json.loads((SCHEMAS / "gradescope-results.schema.json").read_text())
EXAMPLES = REPO / "examples"
METADATA = {
    "id": 123456,
    "created_at": "2026-03-02T14:05:31.123+00:00",
    "assignment": {"due_date": "2026-03-09T23:59:00.000+00:00", "title": "W0D4 Tutorial 1"},
    "submission_method": "upload",
    "users": [{"email": "student@example.org", "id": 42, "name": "A Student"}],
    "previous_submissions": [],
}
HOSTILE = """
import os, socket
found = []
for path in {paths!r}:
    try:
        found.append(open(path).read())
    except OSError as exc:
        found.append(type(exc).__name__)
try:
    socket.create_connection(("1.1.1.1", 80), timeout=1)
    found.append("network reached")
except OSError:
    found.append("no network")
for _ in range(64):  # a small fork bomb: the sandbox's process limit stops it
    try:
        if os.fork() == 0:
            import time
            time.sleep(60)
            os._exit(0)
    except OSError:
        break
print(found)
du_dt = dv_dt = df_dt = " ".join(found)
raise RuntimeError(" | ".join(found))
"""


# --- helpers ----------------------------------------------------------------------------


def export(out: Path, *options: str, course: Path | None = None) -> Path:
    prefix = ("--course", str(course)) if course else ()
    completed = run_cli(*prefix, "export", "gradescope", "--out", str(out), *options)
    assert completed.returncode == 0, completed.stderr
    return out


def lay_out(autograder: Path, tmp_path: Path, uploads: dict[str, str | bytes | Path]) -> Path:
    """A folder laid out as Gradescope lays out /autograder, with the student's files."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)  # as Gradescope does; the zip's bit is tested too
    (root / "submission").mkdir()
    (root / "results").mkdir()
    (root / "submission_metadata.json").write_text(json.dumps(METADATA))
    for name, content in uploads.items():
        path = root / "submission" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content_of(content))
    return root


def content_of(content: str | bytes | Path) -> bytes:
    if isinstance(content, Path):
        return content.read_bytes()
    return content if isinstance(content, bytes) else content.encode()


def run_autograder(root: Path, **env: str) -> dict:
    require_bubblewrap()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GRADERS_")}
    environment |= {"AUTOGRADER_ROOT": str(root), "GRADERS_PYTHON": sys.executable, **env}
    completed = subprocess.run(
        [str(root / "run_autograder")],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return validated(root / "results" / "results.json", SCHEMA)


def grade(
    autograder: Path, tmp_path: Path, uploads: dict[str, str | bytes | Path], **env: str
) -> dict:
    return run_autograder(lay_out(autograder, tmp_path, uploads), **env)


def validated(path: Path, schema: dict) -> dict:
    """The results file, parsed strictly (no NaN) and valid against the platform's schema."""

    def no_constants(name: str) -> None:
        raise ValueError(f"{name} in results.json")

    results = json.loads(path.read_text(encoding="utf-8"), parse_constant=no_constants)
    errors = [error.message for error in Draft202012Validator(schema).iter_errors(results)]
    assert errors == []
    return results


def checks_by_name(results: dict) -> dict[str, dict]:
    return {test["name"]: test for test in results["tests"]}


@pytest.fixture(scope="module")
def product_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "autograder.zip"
    return export(out, "--exercise", "product_rule_alpha")


@pytest.fixture(scope="module")
def two_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "autograder.zip"
    return export(out, "--exercise", "product_rule_alpha", "--exercise", "chain_rule")


@pytest.fixture(scope="module")
def hidden_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The product-rule exercise with df_dt made a hidden check."""
    course = tmp_path_factory.mktemp("course")
    (course / "exercises").mkdir()
    (course / "reference").mkdir()
    spec = yaml.safe_load((REPO / "exercises" / "product_rule_alpha.yaml").read_text())
    for check in spec["checks"]:
        check["hidden"] = check["name"] == "df_dt"
    spec["limits"] = {"cell_seconds": 3, "total_seconds": 20}  # a time-out comes quickly
    (course / "exercises" / "product_rule_alpha.yaml").write_text(
        yaml.safe_dump(spec, sort_keys=False)
    )
    shutil.copy(REPO / "reference" / "product_rule_alpha.py", course / "reference")
    return course


# --- the zip ------------------------------------------------------------------------------


def test_the_zip_holds_what_gradescope_needs_and_only_the_chosen_exercises(two_zip: Path) -> None:
    with zipfile.ZipFile(two_zip) as archive:
        entries = {info.filename: info for info in archive.infolist()}
        scripts = {name: archive.read(name).decode() for name in ("setup.sh", "run_autograder")}
    for name in ("setup.sh", "run_autograder"):
        assert entries[name].external_attr >> 16 & 0o111, f"{name} is not executable"
        assert scripts[name].startswith("#!")
        check = subprocess.run(["bash", "-n"], input=scripts[name], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
    assert "apt-get install" in scripts["setup.sh"] and "bubblewrap" in scripts["setup.sh"]
    assert "pip install" in scripts["setup.sh"]
    for name in (
        "pyproject.toml",
        "graders/engine.py",
        "graders/sandbox/child.py",
        "graders/lms/gradescope.py",
        "exercises/product_rule_alpha.yaml",
        "exercises/chain_rule.yaml",
        "reference/product_rule_alpha.py",
        "reference/chain_rule.py",
    ):
        assert name in entries
    assert not [name for name in entries if "psp_charge" in name or "neuron_gain" in name]
    assert not [name for name in entries if "__pycache__" in name]


@pytest.mark.sandbox
def test_setup_builds_the_sandboxs_font_list_once_for_every_submission(
    two_zip: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(two_zip) as archive:
        setup = archive.read("setup.sh").decode()
    snippet = re.search(r"FONTS='(.*?)'", setup, re.DOTALL)
    assert snippet is not None
    cache = tmp_path / "cache"
    environment = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    subprocess.run([sys.executable, "-c", snippet[1]], env=environment, check=True, cwd=REPO)
    assert list(cache.glob("calculus-graders/matplotlib-*/fontlist-*.json"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--exercise", "no_such_exercise"), "unknown exercise 'no_such_exercise'"),
        (("--hidden-until-due", "--total-only"), "--total-only"),
        (("--assignment", "W0D5"), "unknown assignment 'W0D5'"),
    ],
)
def test_an_export_that_cannot_be_made_exits_2_with_one_line(
    tmp_path: Path, options: tuple[str, ...], message: str
) -> None:
    completed = run_cli("export", "gradescope", "--out", str(tmp_path / "a.zip"), *options)
    assert completed.returncode == 2
    assert len(completed.stderr.splitlines()) == 1 and message in completed.stderr
    assert not (tmp_path / "a.zip").exists()


def test_an_export_by_assignment_carries_exactly_that_assignments_exercises(
    tmp_path: Path,
) -> None:
    autograder = export(tmp_path / "a.zip", "--assignment", "W0D4_Tutorial3")
    with zipfile.ZipFile(autograder) as archive:
        specs = {Path(name).stem for name in archive.namelist() if name.startswith("exercises/")}
    assert specs == {"euler_population", "lif_euler", "euler_linear_system"}


# --- grading ------------------------------------------------------------------------------


@pytest.mark.sandbox
def test_a_correct_upload_gets_full_marks(product_zip: Path, tmp_path: Path) -> None:
    results = grade(product_zip, tmp_path, {"cell.py": EXAMPLES / "product_rule_correct.py"})
    assert results["score"] == 3
    assert [test["name"] for test in results["tests"]] == [
        "product_rule_alpha: du_dt",
        "product_rule_alpha: dv_dt",
        "product_rule_alpha: df_dt",
    ]
    assert all(test["status"] == "passed" and test["score"] == 1 for test in results["tests"])
    assert all(test["visibility"] == "visible" for test in results["tests"])
    assert "Graded cell.py." in results["output"]
    assert "All 3 checks passed." in results["output"]


@pytest.mark.sandbox
def test_a_wrong_upload_gets_partial_credit_and_says_what_is_wrong(
    product_zip: Path, tmp_path: Path
) -> None:
    upload = EXAMPLES / "product_rule_chain_rule_forgotten.py"
    results = grade(product_zip, tmp_path, {"cell.py": upload})
    assert results["score"] == 1
    tests = checks_by_name(results)
    assert tests["product_rule_alpha: du_dt"]["status"] == "passed"
    wrong = tests["product_rule_alpha: dv_dt"]
    assert (wrong["status"], wrong["score"], wrong["max_score"]) == ("failed", 0, 1)
    assert "chain rule multiplies by the derivative of the inner function" in wrong["output"]
    assert "Hint: v(t) = exp(g(t))" in wrong["output"]
    assert "Known mistake: dv_dt_missing_inner_derivative" in wrong["output"]
    assert "1 of 3 checks passed." in results["output"]


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("source", "score", "explanation"),
    [
        ("du_dt = 1\ndv_dt = (-1 / tau\ndf_dt = 0\n", 0, "SyntaxError"),
        # An answer defined before the crash still earns its point.
        ("du_dt = 1\nratio = 1 / 0\n", 1, "raised ZeroDivisionError"),
        ("du_dt = 1\nwhile True:\n    pass\n", 1, "did not finish within the time limit"),
    ],
    ids=["syntax-error", "crash", "endless-loop"],
)
def test_code_that_does_not_run_through_still_gets_results_that_say_why(
    product_zip: Path, tmp_path: Path, source: str, score: int, explanation: str
) -> None:
    results = grade(product_zip, tmp_path, {"cell.py": source})
    assert results["score"] == score
    assert explanation in results["output"]
    assert explanation in checks_by_name(results)["product_rule_alpha: df_dt"]["output"]


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("uploads", "explanation"),
    [
        ({"cell.py": ""}, "No answer found: nothing in cell.py defines du_dt, dv_dt or df_dt."),
        ({}, "No .py, .ipynb or .txt file was uploaded"),
        ({"report.pdf": "%PDF-1.4"}, "Ignored report.pdf: only .py, .ipynb and .txt files"),
        ({"W0D4.ipynb": ""}, "Could not read W0D4.ipynb: is empty"),
    ],
    ids=["empty-file", "nothing", "wrong-kind", "empty-notebook"],
)
def test_an_empty_or_missing_upload_scores_0_and_says_so(
    product_zip: Path, tmp_path: Path, uploads: dict[str, str], explanation: str
) -> None:
    results = grade(product_zip, tmp_path, uploads)
    assert results["score"] == 0
    assert len(results["tests"]) == 3
    assert all(test["status"] == "failed" for test in results["tests"])
    assert explanation in results["output"]


@pytest.mark.sandbox
def test_a_hostile_upload_reaches_nothing_and_leaks_no_reference(
    product_zip: Path, tmp_path: Path
) -> None:
    root = tmp_path / "autograder"
    secrets = [root / "source" / "reference" / "product_rule_alpha.py", Path("/etc/shadow")]
    hostile = HOSTILE.format(paths=[str(path) for path in secrets])
    results = run_autograder(lay_out(product_zip, tmp_path, {"hostile.py": hostile}))
    assert results["score"] == 0
    assert "FileNotFoundError | FileNotFoundError | no network" in results["output"]
    text = json.dumps(results, ensure_ascii=False)
    for line in secrets[0].read_text().splitlines():
        if len(line.strip()) > 8:
            assert line.strip() not in text


@pytest.mark.sandbox
def test_a_link_to_the_reference_is_not_graded_as_the_students_work(
    product_zip: Path, tmp_path: Path
) -> None:
    root = lay_out(product_zip, tmp_path, {})
    (root / "submission" / "cell.py").symlink_to(
        root / "source" / "reference" / "product_rule_alpha.py"
    )
    results = run_autograder(root)
    assert results["score"] == 0
    assert "Ignored cell.py: it is a link, not an uploaded file." in results["output"]


# File names that are not UTF-8, text no UTF-8 can encode, a file over the size limit.
UNREADABLE: dict[str, str | bytes | Path] = {
    os.fsdecode(b"caf\xe9/cell\xff.py"): (
        b"du_dt = '\\udcff' * 3\nprint('\\ud800')\nraise RuntimeError('\\udcfe')\n"
    ),
    os.fsdecode(b"answer\xfe.txt"): b"4a^3 \xff e^(a^4+1)",
    "big.py": b"#" * (MAX_BYTES + 1),
}


@pytest.mark.sandbox
def test_unreadable_names_and_text_and_a_huge_file_still_get_valid_results(
    two_zip: Path, tmp_path: Path
) -> None:
    results = grade(two_zip, tmp_path, UNREADABLE)
    assert results["score"] == 0
    assert "could not start" not in results["output"]
    assert "Graded caf\ufffd/cell\ufffd.py." in results["output"]
    assert "Could not read answer\ufffd.txt: not UTF-8 text" in results["output"]
    assert "Could not read big.py: too large" in results["output"]
    assert "raised UnicodeEncodeError" in results["output"]


# Eight guesses at chain_rule's dr_da, one file each; GUESSES[3] is the right answer.
GUESSES = [
    "e^(a^4+1)",
    "4a^3",
    "a^4 e^(a^4+1)",
    "4a^3 e^(a^4+1)",
    "4a^3 e^(a^4)",
    "3a^2 e^(a^4+1)",
    "4a^4 e^(a^4+1)",
    "e^(4a^3)",
]


def guesses(right: bool) -> dict[str, str]:
    """One file per guess; without the right one, a ninth wrong guess stands in for it."""
    answers = [*GUESSES]
    if not right:
        answers[3] = "2a^3 e^(a^4+1)"
    return {f"guess{i}.txt": answer for i, answer in enumerate(answers)}


@pytest.mark.sandbox
@pytest.mark.parametrize(
    "options", [(), ("--hidden-until-due",), ("--total-only",)], ids=["visible", "due", "total"]
)
def test_a_hostile_upload_of_guesses_scores_0_and_does_not_tell_which_was_right(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    autograder = export(tmp_path / "a.zip", "--exercise", "chain_rule", *options)
    with_right = grade(autograder, tmp_path / "right", guesses(right=True))
    all_wrong = grade(autograder, tmp_path / "wrong", guesses(right=False))
    assert with_right["score"] == 0
    names = ", ".join(f"guess{i}.txt" for i in range(8))
    assert f"Not graded: chain_rule, which 8 files answer ({names})." in with_right["output"]
    assert "upload one answer per exercise" in with_right["output"]
    # Everything but the run time is the same, whether or not the right answer was there.
    del with_right["execution_time"], all_wrong["execution_time"]
    assert with_right == all_wrong


@pytest.mark.sandbox
def test_two_files_are_each_graded_for_the_exercise_they_answer(
    two_zip: Path, tmp_path: Path
) -> None:
    uploads = {
        "product.py": EXAMPLES / "product_rule_correct.py",
        "chain.txt": EXAMPLES / "chain_rule_correct.txt",
    }
    results = grade(two_zip, tmp_path, uploads)
    assert results["score"] == 4
    assert all(test["status"] == "passed" for test in results["tests"])
    assert (
        "Graded chain.txt for chain_rule; product.py for product_rule_alpha." in results["output"]
    )


@pytest.mark.sandbox
def test_two_files_answering_one_exercise_are_refused_and_named(
    product_zip: Path, tmp_path: Path
) -> None:
    uploads = {
        "new.py": EXAMPLES / "product_rule_correct.py",
        "old.py": EXAMPLES / "product_rule_chain_rule_forgotten.py",
    }
    results = grade(product_zip, tmp_path, uploads)
    assert results["score"] == 0
    assert all(test["score"] == 0 for test in results["tests"])
    refusal = "2 uploaded files answer this exercise (new.py, old.py), so none of them was graded"
    assert refusal in results["output"]
    assert "upload one answer per exercise" in results["output"]
    assert refusal in checks_by_name(results)["product_rule_alpha: dv_dt"]["output"]


@pytest.mark.sandbox
def test_a_notebook_is_graded_and_loose_files_beside_it_are_not(
    two_zip: Path, tmp_path: Path
) -> None:
    uploads = {
        "W0D4_Tutorial1.ipynb": EXAMPLES / "completed_tutorial.ipynb",
        "scratch.py": "du_dt = dv_dt = df_dt = 0\n",
    }
    results = grade(two_zip, tmp_path, uploads)
    assert "Graded W0D4_Tutorial1.ipynb." in results["output"]
    assert "Ignored scratch.py: a notebook was uploaded" in results["output"]
    assert checks_by_name(results)["chain_rule: dr_da"]["status"] == "passed"


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("answer", "score", "feedback"),
    [
        ("chain_rule_correct.txt", 1, "Correct: dr_da = 4*a^3*exp(a^4 + 1)."),
        ("chain_rule_inner_forgotten.txt", 0, "Your answer is the outer derivative alone"),
    ],
)
def test_a_typed_answer_in_a_txt_is_graded(
    two_zip: Path, tmp_path: Path, answer: str, score: int, feedback: str
) -> None:
    results = grade(two_zip, tmp_path, {"answer.txt": EXAMPLES / answer})
    test = checks_by_name(results)["chain_rule: dr_da"]
    assert (test["score"], test["max_score"]) == (score, 1)
    assert feedback in test["output"]
    assert results["score"] == score  # the product rule, answered by no file, scores 0
    assert "No uploaded file answers this exercise." in results["output"]


@pytest.mark.sandbox
def test_hidden_until_due_shows_hidden_checks_after_the_due_date_only(
    hidden_course: Path, tmp_path: Path
) -> None:
    autograder = export(tmp_path / "a.zip", "--hidden-until-due", course=hidden_course)
    upload = EXAMPLES / "product_rule_chain_rule_forgotten.py"
    results = grade(autograder, tmp_path, {"cell.py": upload})
    tests = checks_by_name(results)
    assert tests["product_rule_alpha: du_dt"]["visibility"] == "visible"
    assert tests["product_rule_alpha: dv_dt"]["visibility"] == "visible"
    hidden = tests["product_rule_alpha: df_dt"]
    assert hidden["visibility"] == "after_due_date"
    assert hidden["output"] == "Hidden check: not passed."
    assert results["score"] == 1
    expected = "1 of 2 visible checks passed; 1 hidden check is shown after the due date."
    assert expected in results["output"]
    assert "of 3 checks" not in results["output"]


# Answers to the product rule with the visible checks right; each ends as a status says.
VISIBLE_RIGHT = "du_dt = 1\ndv_dt = -1 / tau * np.exp(-t / tau)\n"
ENDINGS = {
    "passed_or_failed": "",
    "error": "raise RuntimeError('stopped')\n",
    "timeout": "while True:\n    pass\n",
    "memory_limit": "raise MemoryError\n",
    "not_attempted": "raise NotImplementedError\n",
}


def seen_before_due(results: dict) -> list[str]:
    """Every text and number a student sees before the due date, but for the total that
    --total-only shows on purpose (it is the grade, hidden checks included)."""
    visible = [test for test in results["tests"] if test["visibility"] == "visible"]
    output = re.sub(r"Score: \d+ of 3 points\.", "Score: (the grade)", results["output"])
    return [output, *(json.dumps(test, sort_keys=True) for test in visible)]


@pytest.mark.sandbox
@pytest.mark.parametrize("option", ["--hidden-until-due", "--total-only"])
@pytest.mark.parametrize("ending", ENDINGS, ids=list(ENDINGS))
def test_what_is_shown_before_the_due_date_does_not_depend_on_hidden_checks(
    hidden_course: Path, tmp_path: Path, option: str, ending: str
) -> None:
    require_bubblewrap()
    options = gradescope.Options(
        hidden_until_due=option == "--hidden-until-due", total_only=option == "--total-only"
    )
    specs = load_specs(hidden_course)
    shown = []
    for hidden_answer in ("u_t * dv_dt + v_t * du_dt", "u_t * dv_dt"):  # right, then wrong
        folder = tmp_path / hidden_answer.replace(" ", "")
        folder.mkdir()
        code = VISIBLE_RIGHT + f"df_dt = {hidden_answer}\n" + ENDINGS[ending]
        (folder / "cell.py").write_text(code)
        grading = autograder.grade_upload(folder, specs)
        shown.append(seen_before_due(gradescope.to_results(grading, options, 0.0)))
    assert shown[0] == shown[1]
    assert not [text for text in shown[0] if "of 3 checks" in text]
    if option == "--hidden-until-due" and ending != "not_attempted":
        assert (
            "2 of 2 visible checks passed; 1 hidden check is shown after the due date."
            in (shown[0][0])
        )


@pytest.mark.sandbox
def test_total_only_hides_every_check_and_shows_the_total(
    hidden_course: Path, tmp_path: Path
) -> None:
    autograder = export(tmp_path / "a.zip", "--total-only", course=hidden_course)
    upload = EXAMPLES / "product_rule_chain_rule_forgotten.py"
    results = grade(autograder, tmp_path, {"cell.py": upload})
    assert {test["visibility"] for test in results["tests"]} == {"hidden"}
    assert results["score"] == 1
    assert "Score: 1 of 3 points." in results["output"]
    assert "chain rule" not in results["output"]


@pytest.mark.sandbox
def test_without_isolation_grading_is_refused_unless_the_instructor_allows_it(
    product_zip: Path, tmp_path: Path
) -> None:
    upload = {"cell.py": EXAMPLES / "product_rule_correct.py"}
    refused = grade(product_zip, tmp_path / "refused", upload, GRADERS_SANDBOX="process")
    assert refused["score"] == 0
    assert "could not grade this submission: an isolated sandbox is required" in refused["output"]
    assert "not with your work" in refused["output"]
    allowed = grade(
        product_zip,
        tmp_path / "allowed",
        upload,
        GRADERS_SANDBOX="process",
        GRADERS_ALLOW_UNISOLATED="1",
    )
    assert allowed["score"] == 3


@pytest.mark.sandbox
def test_results_are_written_even_when_python_cannot_start(
    product_zip: Path, tmp_path: Path
) -> None:
    root = lay_out(product_zip, tmp_path, {"cell.py": EXAMPLES / "product_rule_correct.py"})
    results = run_autograder(root, GRADERS_PYTHON=str(tmp_path / "no-python"))
    assert results["score"] == 0
    assert "could not start" in results["output"]


@pytest.mark.sandbox
def test_practice_exercises_are_exported_and_graded(tmp_path: Path) -> None:
    autograder = export(tmp_path / "a.zip", "--exercise", "riemann_sum", "--exercise", "filtering")
    uploads = {
        "riemann.py": EXAMPLES / "riemann_sum_correct.py",
        "filtering.py": EXAMPLES / "filtering_cumulative.py",
    }
    tests = checks_by_name(grade(autograder, tmp_path, uploads))
    assert {name: test["status"] for name, test in tests.items()} == {
        "riemann_sum: fun_value": "passed",
        "riemann_sum: r_sum": "passed",
        "filtering: x1_diff": "passed",
        "filtering: x1_integrate": "failed",
    }
    assert "running integral of x1" in tests["filtering: x1_integrate"]["output"]
