"""Whole notebooks as handed in, and the statuses a run can end in."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from conftest import INSTRUCTOR_NOTEBOOK, STUDENT_NOTEBOOK, check, exercise
from graders import engine, spec, submission
from graders.results import CheckStatus, Status

ALL = ["chain_rule", "neuron_gain", "product_rule_alpha", "psp_charge"]


def grade_notebook(path: Path):
    return engine.grade(
        submission.load(path), spec.of_assignment(spec.load_all(), "W0D4_Tutorial1")
    )


@pytest.fixture(scope="module")
def student_result():
    return grade_notebook(STUDENT_NOTEBOOK)


def test_handed_out_notebook_is_not_attempted_except_the_given_function(student_result):
    assert sorted(e.id for e in student_result.exercises) == ALL
    product = exercise(student_result, "product_rule_alpha")
    assert product.status == Status.NOT_ATTEMPTED
    assert "NotImplementedError" in product.feedback
    assert "never run" not in product.feedback  # the answers are still `...`
    assert exercise(student_result, "psp_charge").status == Status.NOT_ATTEMPTED
    assert exercise(student_result, "chain_rule").status == Status.NOT_ATTEMPTED
    # compute_rate_and_gain is complete in the handed-out notebook.
    assert exercise(student_result, "neuron_gain").status == Status.PASSED
    assert student_result.exit_code == 1


def test_instructor_notebook_gets_full_marks_on_code_exercises():
    result = grade_notebook(INSTRUCTOR_NOTEBOOK)
    for exercise_id in ["product_rule_alpha", "psp_charge", "neuron_gain"]:
        assert exercise(result, exercise_id).status == Status.PASSED, exercise(result, exercise_id)
    # The chain-rule exercise has only a written explanation in the instructor notebook.
    assert exercise(result, "chain_rule").status == Status.NOT_ATTEMPTED


def _edited_student_notebook(tmp_path: Path, replacements: dict[str, str], extra_cells=()) -> Path:
    notebook = nbformat.read(STUDENT_NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for old, new in replacements.items():
            cell.source = cell.source.replace(old, new)
    for position, source in extra_cells:
        notebook.cells.insert(position, nbformat.v4.new_code_cell(source))
    path = tmp_path / "hand_in.ipynb"
    nbformat.write(notebook, path)
    return path


COMPLETED = {
    'raise NotImplementedError("Calculate the derivatives")': "",
    'raise NotImplementedError("Calculate the charge transfer")': "",
    "du_dt = ...": "du_dt = 1",
    "dv_dt = ...": "dv_dt = -1/tau * np.exp(-t/tau)",
    "df_dt = ...": "df_dt = u_t * dv_dt + v_t * du_dt",
    "PSP = ...": "PSP = J * t * np.exp(-(t - t_sp)/tau_s)",
    "rectangle_areas = ...": "rectangle_areas = PSP * dt",
    "numerical_integral = ...": "numerical_integral = np.cumsum(rectangle_areas)",
}


def test_completed_student_notebook_passes_and_later_cells_do_not_spoil_answers(tmp_path):
    # A cell after the product-rule exercise reuses t, tau and f, and rebinds an answer.
    path = _edited_student_notebook(
        tmp_path,
        COMPLETED,
        extra_cells=[(28, "t = np.linspace(0, 1, 7)\ntau = 3\nf = None\ndv_dt = 'gone'")],
    )
    product = exercise(grade_notebook(path), "product_rule_alpha")
    # The exercise's own cell is graded; the worse rebinding later does not count.
    assert product.status == Status.PASSED
    assert product.graded_cell == "code cell 14"
    assert "Graded from code cell 14 of the notebook." in product.feedback
    path = _edited_student_notebook(
        tmp_path, COMPLETED, extra_cells=[(28, "t = np.linspace(0, 1, 7)\ntau = 3\nf = None")]
    )
    result = grade_notebook(path)
    for exercise_id in ["product_rule_alpha", "psp_charge", "neuron_gain"]:
        assert exercise(result, exercise_id).status == Status.PASSED, exercise(result, exercise_id)


def test_an_erroring_cell_does_not_stop_the_notebook(tmp_path):
    path = _edited_student_notebook(tmp_path, COMPLETED, extra_cells=[(20, "1 / 0")])
    result = grade_notebook(path)
    assert exercise(result, "psp_charge").status == Status.PASSED


def test_partly_answered_notebook_is_failed_with_finished_answers_passed(tmp_path):
    partial = dict(COMPLETED)
    del partial["df_dt = ..."]
    result = grade_notebook(_edited_student_notebook(tmp_path, partial))
    product = exercise(result, "product_rule_alpha")
    assert product.status == Status.FAILED
    assert check(result, "product_rule_alpha", "dv_dt").status == CheckStatus.PASSED
    assert product.score == 2


def test_error_keeps_the_answers_defined_before_it(grade_code):
    source = (
        "J = 1\ntau_s = 1\nt_sp = 1\ndt = .1\nt = np.arange(0, 10, dt)\n"
        "PSP = J * t * np.exp(-(t - t_sp)/tau_s)\nrectangle_areas = PSP * dt\n"
        "numerical_integral = np.cumsum(rectangle_area)\n"
    )
    result = grade_code("psp_charge", source, name="typo.py")
    graded = exercise(result, "psp_charge")
    assert graded.status == Status.ERROR
    assert "NameError" in graded.feedback and "line 8" in graded.feedback
    assert "rectangle_area" in graded.feedback
    assert graded.score == 2
    assert check(result, "psp_charge", "numerical_integral").status == CheckStatus.ERROR


def test_syntax_error_is_a_graded_error_with_the_line(grade_code):
    result = grade_code("product_rule_alpha", "du_dt = 1\ndv_dt = -1/tau * np.exp(-t/tau\n")
    graded = exercise(result, "product_rule_alpha")
    assert graded.status == Status.ERROR
    assert "SyntaxError" in graded.feedback
    assert result.exit_code == 1


def test_answers_typed_below_the_handed_out_raise_are_named(tmp_path):
    answers = {k: v for k, v in COMPLETED.items() if "NotImplementedError" not in k}
    result = grade_notebook(_edited_student_notebook(tmp_path, answers))
    product = exercise(result, "product_rule_alpha")
    assert product.status == Status.NOT_ATTEMPTED
    assert "NotImplementedError" in product.feedback
    assert "(du_dt, dv_dt and df_dt) were never run" in product.feedback


def test_still_placeholders_is_not_attempted(grade_code):
    result = grade_code("product_rule_alpha", "du_dt = ...\ndv_dt = ...\ndf_dt = ...\n")
    assert exercise(result, "product_rule_alpha").status == Status.NOT_ATTEMPTED


def test_empty_file_is_not_attempted(grade_code):
    result = grade_code("product_rule_alpha", "")
    assert exercise(result, "product_rule_alpha").status == Status.NOT_ATTEMPTED


def test_timeout_keeps_answers_already_defined(grade_code):
    source = "du_dt = 1\ndv_dt = -1/tau * np.exp(-t/tau)\nwhile True:\n    pass\ndf_dt = 0\n"
    result = grade_code("product_rule_alpha", source)
    graded = exercise(result, "product_rule_alpha")
    assert graded.status == Status.TIMEOUT
    assert check(result, "product_rule_alpha", "du_dt").status == CheckStatus.PASSED
    assert check(result, "product_rule_alpha", "dv_dt").status == CheckStatus.PASSED
    assert check(result, "product_rule_alpha", "df_dt").status != CheckStatus.PASSED


def test_memory_limit(grade_code):
    source = "du_dt = 1\nhog = np.ones(10**10)\n"
    result = grade_code("product_rule_alpha", source)
    graded = exercise(result, "product_rule_alpha")
    assert graded.status == Status.MEMORY_LIMIT
    assert check(result, "product_rule_alpha", "du_dt").status == CheckStatus.PASSED
