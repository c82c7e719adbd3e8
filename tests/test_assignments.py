"""Notebooks: which exercises (the notebook's assignment), and graded from which cell."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from conftest import FIXTURES, INSTRUCTOR_NOTEBOOK, STUDENT_NOTEBOOK, exercise, run_cli
from graders import cli, engine, spec, submission
from graders.assignments import AssignmentError, exercises_for, graded_cells
from graders.gradebook import Gradebook
from graders.lms.autograder import grade_upload
from graders.notebook import CheckError
from graders.notebook import check as self_check
from graders.results import Status

ALL = ["chain_rule", "neuron_gain", "product_rule_alpha", "psp_charge"]
TUTORIAL_2 = [FIXTURES / f"W0D4_Tutorial2_{kind}.ipynb" for kind in ("student", "instructor")]

# The hand-in: the instructor notebook, then one cell of the student's own.
EXPERIMENT = """\
# my own experiment: everything again on a finer grid
dt = 0.01
t = np.arange(0, 10, dt)
u_t = t
v_t = np.exp(-t/tau)
du_dt = 1
dv_dt = -1/tau * np.exp(-t/tau)
df_dt = u_t * dv_dt + v_t * du_dt
PSP = J * t * np.exp(-(t - t_sp)/tau_s)
rectangle_areas = PSP * dt
numerical_integral = np.cumsum(rectangle_areas)
"""


def notebook_with(tmp_path: Path, base: Path, *appended: str, name: str = "hand_in") -> Path:
    notebook = nbformat.read(base, as_version=4)
    notebook.cells.extend(nbformat.v4.new_code_cell(source) for source in appended)
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path


def grade(path: Path, assignment: str | None = None):
    loaded = submission.load(path)
    return engine.grade(loaded, exercises_for(loaded, spec.load_all(), assignment))


@pytest.mark.sandbox
def test_exploring_after_solving_keeps_the_points(tmp_path: Path) -> None:
    result = grade(notebook_with(tmp_path, INSTRUCTOR_NOTEBOOK, EXPERIMENT))
    for exercise_id, own in [("product_rule_alpha", 14), ("psp_charge", 36)]:
        graded = exercise(result, exercise_id)
        assert graded.status == Status.PASSED, graded.feedback
        assert graded.graded_cell == f"code cell {own}"
        assert f"Graded from code cell {own} of the notebook." in graded.feedback


PRODUCT_ANSWERS = """\
t = np.arange(0, 10, .1)
tau = 0.5
u_t = t
v_t = np.exp(-t/tau)
du_dt = 1
dv_dt = -1/tau * np.exp(-t/tau)
df_dt = u_t * dv_dt + v_t * du_dt
"""
PSP_NOT_SCALED = """\
J, tau_s, t_sp, dt = 1, 1, 1, .1
t = np.arange(0, 10, dt)
PSP = J * t * np.exp(-(t - t_sp)/tau_s)
rectangle_areas = PSP * dt
numerical_integral = np.cumsum(PSP)
"""


@pytest.mark.sandbox
def test_a_later_cell_counts_where_it_does_better(tmp_path: Path) -> None:
    # The handed-out cells still raise; the student answered in cells of their own below.
    path = notebook_with(tmp_path, STUDENT_NOTEBOOK, PRODUCT_ANSWERS, PSP_NOT_SCALED)
    result = grade(path)
    code_cells = sum(cell.cell_type == "code" for cell in nbformat.read(path, 4).cells)
    product = exercise(result, "product_rule_alpha")
    assert product.status == Status.PASSED
    assert product.graded_cell == f"code cell {code_cells - 1}"
    assert "does better than the exercise's own cell (code cell 14" in product.feedback
    psp = exercise(result, "psp_charge")  # a wrong attempt still beats the raising cell
    assert (psp.status, psp.score, psp.graded_cell) == (Status.FAILED, 2, f"code cell {code_cells}")


def test_own_cell_is_found_from_the_heading_when_the_cell_lost_its_markers(tmp_path: Path) -> None:
    notebook = nbformat.read(STUDENT_NOTEBOOK, as_version=4)
    exercise_cell = next(c for c in notebook.cells if "Calculate the derivatives" in c.source)
    exercise_cell.source = (
        "du_dt = 1\ndv_dt = -1/tau * np.exp(-t/tau)\ndf_dt = u_t * dv_dt + v_t * du_dt"
    )
    # A scratch cell before the exercise's heading is not the exercise's cell.
    notebook.cells.insert(5, nbformat.v4.new_code_cell("du_dt = dv_dt = df_dt = 0"))
    path = tmp_path / "no_markers.ipynb"
    nbformat.write(notebook, path)
    loaded = submission.load(path)
    [product] = [s for s in spec.load_all() if s.id == "product_rule_alpha"]
    own = next(c for c in loaded.cells if c.source.startswith("du_dt = 1"))
    assert graded_cells(product, loaded) == [own.index]


def test_a_notebook_is_graded_against_every_exercise_of_its_assignment() -> None:
    for path in (STUDENT_NOTEBOOK, INSTRUCTOR_NOTEBOOK):
        chosen = exercises_for(submission.load(path), spec.load_all())
        assert [s.id for s in chosen] == ALL


@pytest.mark.sandbox
def test_unanswered_typed_exercise_says_how_to_answer_it() -> None:
    chain = exercise(grade(INSTRUCTOR_NOTEBOOK), "chain_rule")
    assert chain.status == Status.NOT_ATTEMPTED
    assert 'add a code cell `dr_da = "..."`' in chain.feedback


@pytest.mark.parametrize("path", TUTORIAL_2, ids=lambda p: p.stem)
def test_a_notebook_without_exercises_matches_no_assignment(path: Path) -> None:
    # Tutorial 2 defines V and Spike, and has "Interactive Demo 2.3.1": neither is a match.
    with pytest.raises(AssignmentError, match="matches no assignment of the course"):
        exercises_for(submission.load(path), spec.load_all())
    named = exercises_for(submission.load(path), spec.load_all(), "W0D4_Tutorial1")
    assert [s.id for s in named] == ALL


def test_unknown_assignment_is_refused() -> None:
    with pytest.raises(
        spec.SpecError, match=r"unknown assignment 'W9' \(known: W0D4_Tutorial1, .*W0D4_Tutorial3\)"
    ):
        exercises_for(submission.load(STUDENT_NOTEBOOK), spec.load_all(), "W9")


def test_a_py_keeps_its_exercises_and_its_one_cell(tmp_path: Path) -> None:
    path = tmp_path / "answer.py"
    path.write_text("du_dt = 1\n")
    loaded = submission.load(path)
    assert exercises_for(loaded, spec.load_all()) == spec.load_all()
    assert graded_cells(spec.find("product_rule_alpha"), loaded) == [0]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("markers", ["two\nlines"], "markers: Value error, a marker is one line"),
        ("markers", ["  "], "markers.0: String should match pattern"),
        ("assignment", "W0D4 Tutorial 1", "assignment: String should match pattern"),
    ],
)
def test_spec_fields_are_validated(tmp_path: Path, field: str, value: object, message: str) -> None:
    data = {"id": "x", "title": "X", "source": "S", "prompt": "P", "checks": [{"name": "y"}]}
    path = tmp_path / "exercises" / "x.yaml"
    path.parent.mkdir()
    path.write_text(json.dumps({**data, field: value}))
    with pytest.raises(spec.SpecError, match=message):
        spec.load_spec(path)


# --- the front ends ----------------------------------------------------------------------


@pytest.mark.sandbox
def test_grade_and_batch_agree_on_the_maximum(tmp_path: Path, capsys) -> None:
    completed = run_cli("grade", str(STUDENT_NOTEBOOK), "--json")
    assert completed.returncode == 1, completed.stderr
    assert json.loads(completed.stdout)["max_score"] == 9.0
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(STUDENT_NOTEBOOK, folder / "ada.ipynb")
    shutil.copy(TUTORIAL_2[0], folder / "bob.ipynb")
    out = tmp_path / "out"
    assert cli.main(["batch", str(folder), "--out", str(out), "--workers", "1"]) == 1
    book = Gradebook(out / "gradebook.sqlite")
    try:
        ada, bob = book.record("ada"), book.record("bob")
    finally:
        book.close()
    assert ada.result is not None and ada.result.max_score == 9.0
    assert bob.problem is not None and "bob.ipynb matches no assignment" in bob.problem


@pytest.mark.sandbox
def test_grade_refuses_in_one_line_what_it_cannot_grade() -> None:
    for args, message in [
        ([str(TUTORIAL_2[0])], "matches no assignment of the course"),
        ([str(STUDENT_NOTEBOOK), "--assignment", "W9"], "unknown assignment 'W9'"),
    ]:
        completed = run_cli("grade", *args)
        assert completed.returncode == 2
        assert completed.stderr.count("\n") == 1 and message in completed.stderr


def test_list_shows_each_exercise_assignment() -> None:
    completed = run_cli("list")
    assert completed.returncode == 0
    assert len(re.findall(r"\bW0D4_Tutorial1\b(?!_)", completed.stdout)) == len(ALL)


@pytest.mark.sandbox
def test_check_grades_the_whole_assignment_without_an_exercise(capsys) -> None:
    feedback = self_check(source_file=STUDENT_NOTEBOOK)
    assert [e.id for e in feedback.result.exercises] == ALL
    with pytest.raises(CheckError, match="matches no assignment"):
        self_check(source_file=TUTORIAL_2[0])
    with pytest.raises(CheckError, match="unknown assignment"):
        self_check(source_file=STUDENT_NOTEBOOK, assignment="W9")


def test_autograder_says_a_notebook_matches_no_assignment(tmp_path: Path) -> None:
    shutil.copy(TUTORIAL_2[0], tmp_path / "W0D4.ipynb")
    grading = grade_upload(tmp_path, spec.load_all())
    assert grading.unusable is not None
    assert any("matches no assignment of the course" in note for note in grading.notes)
