"""The Tutorial 1 practice set (assignment W0D4_Tutorial1_practice): each exercise proven
by validate, graded in the styles students write, and kept apart from the real notebook."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml

from conftest import (
    FIXTURES,
    INSTRUCTOR_NOTEBOOK,
    REPO,
    STUDENT_NOTEBOOK,
    check,
    exercise,
    run_cli_json,
)
from graders import engine, spec, submission
from graders.assignments import exercises_for, holds_marker
from graders.notebook import check as self_check
from graders.results import CheckStatus, Status
from graders.validate import prove

PRACTICE = "W0D4_Tutorial1_practice"
TUTORIAL_1 = ["chain_rule", "neuron_gain", "product_rule_alpha", "psp_charge"]


def practice_ids() -> list[str]:
    return [s.id for s in spec.load_all() if s.assignment == PRACTICE]


# --- the assignment ----------------------------------------------------------------------


@pytest.mark.sandbox
@pytest.mark.parametrize("exercise_id", practice_ids())
def test_reference_passes_and_every_mistake_is_recognised(exercise_id: str) -> None:
    problems, summary = prove(spec.find(exercise_id))
    assert problems == []
    assert "mistakes recognised" in summary


def test_every_practice_exercise_lists_at_least_three_mistakes() -> None:
    for exercise_spec in spec.of_assignment(spec.load_all(), PRACTICE):
        assert sum(len(c.mistakes) for c in exercise_spec.checks) >= 3, exercise_spec.id


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.ipynb")), ids=lambda p: p.stem)
def test_no_real_notebook_holds_a_practice_marker(path: Path) -> None:
    loaded = submission.load(path)
    texts = [c.source for c in loaded.cells] + [c.source for c in loaded.texts]
    for practice in spec.of_assignment(spec.load_all(), PRACTICE):
        assert not any(holds_marker(practice, text) for text in texts), practice.id


def test_the_real_tutorial_1_notebook_is_graded_against_tutorial_1_only() -> None:
    for path in (STUDENT_NOTEBOOK, INSTRUCTOR_NOTEBOOK):
        chosen = exercises_for(submission.load(path), spec.load_all())
        assert [s.id for s in chosen] == TUTORIAL_1
    named = exercises_for(submission.load(INSTRUCTOR_NOTEBOOK), spec.load_all(), PRACTICE)
    assert [s.id for s in named] == practice_ids()


def test_a_practice_notebook_is_recognised_by_its_headings(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("## Practice 2.2: numerical derivative of sine"),
        nbformat.v4.new_code_cell("sine_diff = np.diff(np.sin(np.arange(-10, 10, 0.2))) / 0.2"),
    ]
    path = tmp_path / "practice.ipynb"
    nbformat.write(notebook, path)
    chosen = exercises_for(submission.load(path), spec.load_all())
    assert [s.id for s in chosen] == practice_ids()


# --- sine_derivative ---------------------------------------------------------------------


@pytest.mark.sandbox
@pytest.mark.parametrize(
    "source",
    [
        "sine_diff = (n_sine_fun[1:] - n_sine_fun[0:-1]) / h",
        "sine_diff = []\nfor k in range(len(n_tx) - 1):\n"
        "    sine_diff.append((n_sine_fun[k + 1] - n_sine_fun[k]) / h)\n",
        "h = 0.2\nn_tx = np.arange(-10, 10, h)\n"
        "sine_diff = (np.diff(np.sin(n_tx)) / h).astype(np.float32)",
    ],
    ids=["tutorial", "loop-list", "own-axis-float32"],
)
def test_sine_derivative_styles(grade_code, source: str) -> None:
    result = grade_code("sine_derivative", source)
    assert exercise(result, "sine_derivative").status == Status.PASSED, result.to_dict()


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("source", "misconception", "words"),
    [
        ("sine_diff = np.diff(n_sine_fun)", "sine_diff_not_divided_by_h", "h = 0.2"),
        ("sine_diff = np.cos(n_tx[:-1])", "sine_diff_analytical", "exact derivative"),
        ("sine_diff = np.gradient(n_sine_fun, h)", "sine_diff_np_gradient", "one value fewer"),
        ("sine_diff = np.diff(n_sine_fun) / 0.01", "sine_diff_fine_step", "fine axis"),
    ],
)
def test_sine_derivative_mistakes(grade_code, source: str, misconception: str, words: str):
    graded = check(grade_code("sine_derivative", source), "sine_derivative", "sine_diff")
    assert graded.misconception == misconception
    assert words in graded.feedback


# --- riemann_sum -------------------------------------------------------------------------


@pytest.mark.sandbox
@pytest.mark.parametrize(
    "source",
    [
        "fun_value = np.zeros(n)\nfor ii in range(n):\n    a = min_val + ii*dt\n"
        "    fun_value[ii] = a**2 - a + 1\nr_sum = np.cumsum(fun_value)*dt",
        "a = np.arange(0., 10., 0.5)\nfun_value = list(a**2 - a + 1)\n"
        "r_sum = [sum(fun_value[:k + 1]) * 0.5 for k in range(len(fun_value))]",
    ],
    ids=["tutorial-loop", "lists"],
)
def test_riemann_sum_styles(grade_code, source: str) -> None:
    result = grade_code("riemann_sum", source)
    assert exercise(result, "riemann_sum").status == Status.PASSED, result.to_dict()


@pytest.mark.sandbox
def test_riemann_sum_right_edges_are_named_and_r_sum_follows(grade_code) -> None:
    source = (
        "fun_value = [(min_val + (ii + 1)*dt)**2 - (min_val + (ii + 1)*dt) + 1 for ii in range(n)]"
        "\nr_sum = np.cumsum(fun_value) * dt"
    )
    result = grade_code("riemann_sum", source)
    assert check(result, "riemann_sum", "fun_value").misconception == "fun_value_right_edges"
    r_sum = check(result, "riemann_sum", "r_sum")
    assert r_sum.misconception == "r_sum_of_right_edges"
    assert "fix the heights in fun_value" in r_sum.feedback


# --- filtering: expected values from the student's own x1 --------------------------------

OWN_SIGNAL = """
h = 0.01
tx = np.arange(0, 2, h)
noise_signal = np.random.uniform(0, 1, (len(tx)))*0.5
x1 = np.sin(0.5*np.pi*tx) + noise_signal
"""


@pytest.mark.sandbox
@pytest.mark.parametrize(
    "source",
    [
        OWN_SIGNAL + "x1_diff = (x1[1:] - x1[:-1])\nx1_integrate = (x1[1:] + x1[:-1])/2",
        OWN_SIGNAL + "x1_diff = np.diff(x1)\n"
        "x1_integrate = [(x1[k] + x1[k + 1]) / 2 for k in range(len(x1) - 1)]",
        "x1_diff = x1[1:] - x1[:-1]\nx1_integrate = np.convolve(x1, [0.5, 0.5], 'valid')",
    ],
    ids=["own-noise", "own-noise-lists", "seeded-x1"],
)
def test_filtering_is_graded_on_the_students_own_signal(grade_code, source: str) -> None:
    result = grade_code("filtering", source)
    graded = exercise(result, "filtering")
    assert graded.status == Status.PASSED, result.to_dict()
    assert "x1" not in graded.feedback


@pytest.mark.sandbox
def test_filtering_against_another_signal_fails(grade_code) -> None:
    # Answers from a second noisy signal do not match the x1 the student kept.
    source = OWN_SIGNAL + (
        "other = np.sin(0.5*np.pi*tx) + np.random.uniform(0, 1, len(tx))*0.5\n"
        "x1_diff = other[1:] - other[:-1]\nx1_integrate = (x1[1:] + x1[:-1])/2"
    )
    result = grade_code("filtering", source)
    assert check(result, "filtering", "x1_diff").status == CheckStatus.FAILED
    assert check(result, "filtering", "x1_integrate").status == CheckStatus.PASSED


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("x1", "words"),
    [
        (
            "np.sin(0.5*np.pi*np.arange(0, 1, 0.01))",
            "Your x1 has 100 values where 200 are expected",
        ),
        ("'a signal'", "Your x1 is not an array of numbers"),
        ("...", "Your x1 is still `...`"),
    ],
)
def test_a_wrong_x1_is_reported_as_such(grade_code, x1: str, words: str) -> None:
    source = f"x1 = {x1}\nx1_diff = np.zeros(199)\nx1_integrate = np.zeros(199)\n"
    graded = exercise(grade_code("filtering", source), "filtering")
    assert graded.status == Status.FAILED
    assert words in graded.feedback
    assert "fix x1 first" in graded.feedback


@pytest.mark.sandbox
def test_filtering_mistakes_are_named_on_the_students_own_signal(grade_code) -> None:
    source = OWN_SIGNAL + "x1_diff = np.diff(x1) / h\nx1_integrate = np.cumsum(x1) * h"
    result = grade_code("filtering", source)
    assert check(result, "filtering", "x1_diff").misconception == "x1_diff_divided_by_h"
    integrate = check(result, "filtering", "x1_integrate")
    assert integrate.misconception == "x1_integrate_cumulative"


def test_from_submission_must_name_a_given_value(tmp_path: Path) -> None:
    path = tmp_path / "exercises" / "x.yaml"
    path.parent.mkdir()
    path.write_text(
        "id: x\ntitle: X\nsource: S\nprompt: P\ngiven:\n  h: 0.1\n"
        "from_submission: [x1]\nchecks:\n  - name: y\n"
    )
    with pytest.raises(spec.SpecError) as raised:
        spec.load_spec(path)
    assert str(raised.value) == (
        f"{path} (line 7): from_submission: Value error, x1 must also be in given "
        "(the value used where the submission does not define it)"
    )


def test_from_submission_is_a_list_of_names(tmp_path: Path) -> None:
    path = tmp_path / "exercises" / "x.yaml"
    path.parent.mkdir()
    data = {
        "id": "x",
        "title": "X",
        "source": "S",
        "prompt": "P",
        "given": {"h": 0.1},
        "from_submission": "h",
        "checks": [{"name": "y"}],
    }
    path.write_text(json.dumps(data))
    with pytest.raises(
        spec.SpecError, match=r"\(line 1\): from_submission: Input should be a valid list"
    ):
        spec.load_spec(path)


@pytest.mark.sandbox
def test_self_check_grades_a_practice_notebook_against_its_assignment(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import numpy as np"),
        nbformat.v4.new_markdown_cell("## Practice 4.1: Riemann sum"),
        nbformat.v4.new_code_cell((REPO / "examples" / "riemann_sum_correct.py").read_text()),
        nbformat.v4.new_markdown_cell("## Practice 5: filtering a noisy signal"),
        nbformat.v4.new_code_cell((REPO / "examples" / "filtering_correct.py").read_text()),
    ]
    path = tmp_path / "practice.ipynb"
    nbformat.write(notebook, path)
    feedback = self_check(source_file=path)
    graded = {e.id: e.status for e in feedback.result.exercises}
    assert set(graded) == set(practice_ids())
    assert graded["riemann_sum"] == graded["filtering"] == Status.PASSED
    assert graded["sine_derivative"] == Status.NOT_ATTEMPTED
    named = self_check(source_file=INSTRUCTOR_NOTEBOOK, assignment=PRACTICE)
    # The real notebook gives Section 5's code: graded against the practice set only when asked.
    assert exercise(named.result, "filtering").status == Status.PASSED


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("example", "exercise_id", "score"),
    [
        ("riemann_sum_right_edges.py", "riemann_sum", 0),  # dt = 0.5, where psp_charge's is 0.1
        ("filtering_cumulative.py", "filtering", 1),  # h = 0.01, where sine_derivative's is 0.2
        ("sine_derivative_correct.py", "sine_derivative", 2),
    ],
)
def test_a_py_graded_against_every_exercise_gets_its_own_given_values(
    example: str, exercise_id: str, score: float
) -> None:
    # Exercises that give the same name different values (dt, h) do not displace each other.
    loaded = submission.load(REPO / "examples" / example)
    result = engine.grade(loaded, spec.load_all(), answered_only=True)
    assert [e.id for e in result.exercises] == [exercise_id]
    assert result.score == score
    assert "NameError" not in exercise(result, exercise_id).feedback


SINE_AND_FILTERING = """\
sine_diff = (n_sine_fun[1:] - n_sine_fun[:-1]) / h
x1_diff = x1[1:] - x1[:-1]
x1_integrate = (x1[1:] + x1[:-1]) / 2
"""


@pytest.mark.sandbox
def test_a_py_answering_two_exercises_that_give_h_different_values_is_told_why(
    tmp_path: Path,
) -> None:
    path = tmp_path / "both.py"
    path.write_text(SINE_AND_FILTERING, encoding="utf-8")
    result = engine.grade(submission.load(path), spec.load_all(), answered_only=True)
    for exercise_id in ("sine_derivative", "filtering"):
        feedback = exercise(result, exercise_id).feedback
        assert "NameError" in feedback
        assert "h = 0.2 in sine_derivative" in feedback and "h = 0.01 in filtering" in feedback
        assert "Define h and n_sine_fun in the file, or hand in one file per exercise" in feedback
    # Defining what each part uses is enough for both to be graded.
    own = "import numpy as np\nh = 0.2\nn_tx = np.arange(-10, 10, h)\n"
    own += "n_sine_fun = np.sin(n_tx)\n" + SINE_AND_FILTERING
    filtering = "h = 0.01\ntx = np.arange(0, 2, h)\nx1 = np.sin(0.5 * np.pi * tx)\nx1_diff ="
    own = own.replace("x1_diff =", filtering, 1)
    path.write_text(own, encoding="utf-8")
    result = engine.grade(submission.load(path), spec.load_all(), answered_only=True)
    assert result.score == result.max_score == 4


# --- typed formulas: antiderivative (up to a constant) -----------------------------------


def typed(exercise_id: str, text: str):
    return engine.grade(submission.from_answer(text), [spec.find(exercise_id)])


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ("t^3/3 - t^2/2 + t", "Remark: any constant may be added (+ C)"),
        ("t³/3 − t²/2 + t + C", "with C any constant"),
        ("F(t) = t**3/3 - t**2/2 + t + 5", "any constant is right"),
        (r"\frac{t^3}{3} - \frac{t^2}{2} + t + K", "with K any constant"),
        ("(2t^3 - 3t^2 + 6t)/6 + c", "with c any constant"),
    ],
    ids=["no-constant", "plus-C", "plus-5", "latex-K", "one-fraction"],
)
def test_an_antiderivative_passes_with_any_constant(answer: str, words: str) -> None:
    graded = check(typed("antiderivative", answer), "antiderivative", "int_ftn")
    assert graded.status == CheckStatus.PASSED
    assert words in graded.feedback


@pytest.mark.parametrize(
    ("answer", "misconception", "words"),
    [
        ("t^2 - t + 1", "integrand_not_integrated", "the function to integrate itself"),
        ("2t - 1 + C", "differentiated_instead", "you differentiated instead of integrating"),
        ("t^3 - t^2 + t", "powers_not_divided", "divided by the new power"),
        ("t^3/3 - t^2/2 + C t", "constant_not_added", "C should be an added constant"),
        ("t^3/3 - t^2/2 + t^2", None, "differs from an antiderivative by more than a constant"),
    ],
)
def test_an_antiderivative_that_is_not_one_says_what_it_is(answer, misconception, words):
    result = typed("antiderivative", answer)
    graded = check(result, "antiderivative", "int_ftn")
    assert graded.status == CheckStatus.FAILED
    assert graded.misconception == misconception
    assert words in graded.feedback
    assert result.exit_code == 1


# --- typed formulas: several, in several variables ----------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "df_dx = 2x + 2y\ndf_dy = 2(x + y)",
        "# partial derivatives\n\ndf_dy = 2*y + 2*x\ndf_dx = 2·x + 2·y\n",
        "df_dx = 2y + 2x\ndf_dy = $2x + 2y$",
    ],
    ids=["implicit", "comment-and-order", "latex-delimiters"],
)
def test_several_typed_formulas_in_two_variables(text: str) -> None:
    result = typed("partial_derivatives", text)
    assert exercise(result, "partial_derivatives").status == Status.PASSED, result.to_dict()


def test_a_bare_formula_for_several_says_how_to_name_them() -> None:
    graded = exercise(typed("partial_derivatives", "2x + 2y"), "partial_derivatives")
    assert graded.status == Status.NOT_ATTEMPTED
    assert "type each formula on its own line, named (df_dx = ...; df_dy = ...)" in graded.feedback


def test_one_missing_formula_is_not_attempted_and_the_other_graded() -> None:
    result = typed("partial_derivatives", "df_dx = 2x")
    assert check(result, "partial_derivatives", "df_dx").misconception == (
        "df_dx_cross_term_dropped"
    )
    missing = check(result, "partial_derivatives", "df_dy")
    assert missing.status == CheckStatus.FAILED
    assert "No answer yet: write df_dy as an expression in x and y." in missing.feedback


def test_a_third_variable_is_named() -> None:
    graded = check(
        typed("partial_derivatives", "df_dx = 2x + 2z\ndf_dy = 2x"), "partial_derivatives", "df_dx"
    )
    assert "this exercise's variables are x and y; your answer uses z" in graded.feedback


@pytest.mark.sandbox
def test_answer_is_repeatable_on_the_command_line() -> None:
    code, data = run_cli_json(
        "check", "partial_derivatives", "--answer", "df_dx=2x+2y", "--answer", "df_dy=2y"
    )
    assert code == 1
    checks = {c["name"]: c for c in data["exercises"][0]["checks"]}
    assert checks["df_dx"]["status"] == "passed"
    assert checks["df_dy"]["misconception"] == "df_dy_cross_term_dropped"
    code, data = run_cli_json("check", "antiderivative", "--answer", "-(-t^3/3) - t^2/2 + t + C")
    assert code == 0  # a single --answer FORMULA (starting with a minus) keeps working


@pytest.mark.sandbox
def test_formulas_in_code_as_strings_or_sympy(grade_code) -> None:
    source = (
        "import sympy as sp\nx, y = sp.symbols('x y')\nf = x**2 + 2*x*y + y**2\n"
        "df_dx = 2*x + 2*y\ndf_dy = '2x + 2y'\n"
    )
    result = grade_code("partial_derivatives", source)
    assert exercise(result, "partial_derivatives").status == Status.PASSED, result.to_dict()


SWAPPED_COURSE = """\
id: mixed_partials
title: Partial derivatives of x²y
source: test
prompt: f(x, y) = x^2 y
expression:
  variables: {x: [-2, 2], y: [-2, 2]}
checks:
  - name: df_dx
    compare: expression
  - name: df_dy
    compare: expression
"""


def test_swapped_partial_derivatives_are_named(tmp_path: Path) -> None:
    (tmp_path / "exercises").mkdir()
    (tmp_path / "reference").mkdir()
    (tmp_path / "exercises" / "mixed_partials.yaml").write_text(SWAPPED_COURSE)
    (tmp_path / "reference" / "mixed_partials.py").write_text('df_dx = "2*x*y"\ndf_dy = "x^2"\n')
    mixed = spec.find("mixed_partials", tmp_path)
    result = engine.grade(submission.from_answer("df_dx = x^2\ndf_dy = 2xy"), [mixed])
    for name, other in (("df_dx", "df_dy"), ("df_dy", "df_dx")):
        graded = check(result, "mixed_partials", name)
        assert graded.misconception == "answers_swapped"
        assert f"{name} is what {other} should be: are the two answers swapped?" in graded.feedback


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"variable": "t", "variables": {"x": [0, 1]}}, "give either variable"),
        ({"variables": {"x": [1, 0]}}, "the domain of x must be [low, high] with low < high"),
        ({"variables": {"x": [0]}}, "expression.variables.x"),
    ],
)
def test_expression_variables_are_validated(tmp_path: Path, expression: dict, message: str):
    path = tmp_path / "exercises" / "x.yaml"
    path.parent.mkdir()
    data = {
        "id": "x",
        "title": "X",
        "source": "S",
        "prompt": "P",
        "expression": expression,
        "checks": [{"name": "y", "compare": "expression"}],
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(spec.SpecError) as raised:
        spec.load_spec(path)
    assert str(raised.value).startswith(f"{path} (line ")
    assert message in str(raised.value)


def test_an_antiderivative_takes_one_variable(tmp_path: Path) -> None:
    path = tmp_path / "exercises" / "x.yaml"
    path.parent.mkdir()
    path.write_text(
        "id: x\ntitle: X\nsource: S\nprompt: P\nexpression:\n  variables: {x: [0, 1], y: [0, 1]}\n"
        "checks:\n  - name: F\n    compare: antiderivative\n"
    )
    with pytest.raises(
        spec.SpecError, match=r"x\.yaml \(line 1\): .*antiderivative checks \(F\) take one variable"
    ):
        spec.load_spec(path)


# --- 2-D arrays ------------------------------------------------------------------------------


@pytest.mark.sandbox
@pytest.mark.parametrize(
    "source",
    [
        (REPO / "examples" / "partial_derivatives_2d_correct.py").read_text(),
        "rate_de = np.zeros((len(exc_input) - 1, len(inh_input)))\n"
        "for ii in range(len(inh_input)):\n"
        "    rate_de[:, ii] = (rate[1:, ii] - rate[0:-1, ii]) / step_size\n"
        "rate_di = [[(rate[i, j + 1] - rate[i, j]) / step_size for j in range(69)]\n"
        "           for i in range(90)]\n",
    ],
    ids=["recomputed-rate-float32", "loops-and-lists"],
)
def test_partial_derivatives_2d_styles(grade_code, source: str) -> None:
    result = grade_code("partial_derivatives_2d", source)
    assert exercise(result, "partial_derivatives_2d").status == Status.PASSED, result.to_dict()


@pytest.mark.sandbox
def test_2d_shapes_are_explained_along_the_students_axes(grade_code) -> None:
    source = "rate_de = np.diff(rate, axis=1) / step_size\nrate_di = np.diff(rate, axis=1).T\n"
    result = grade_code("partial_derivatives_2d", source)
    rate_de = check(result, "partial_derivatives_2d", "rate_de")
    assert rate_de.misconception == "rate_de_along_inhibition"
    assert (
        "It is 90 × 69, but 89 × 70 is expected: one row fewer than rate, as differences along "
        "exc_input (from row to row) give; yours has one column fewer than rate, as differences "
        "along inh_input (from column to column) give." in rate_de.feedback
    )
    rate_di = check(result, "partial_derivatives_2d", "rate_di")
    assert "rate_di is 69 × 90, but 90 × 69 is expected" in rate_di.feedback
    assert "yours is transposed (rows and columns swapped)" in rate_di.feedback


@pytest.mark.sandbox
def test_2d_mismatches_are_located_by_row_and_column(grade_code) -> None:
    source = (
        "rate_de = np.diff(rate, axis=0) / step_size\nrate_de[3, 5] = 0\n"
        "rate_di = np.diff(rate, axis=1) / step_size\n"
    )
    graded = check(
        grade_code("partial_derivatives_2d", source), "partial_derivatives_2d", "rate_de"
    )
    assert (
        "differs from the expected values at 1 of 6230 points, first at row 3, column 5 "
        "(exc_input = 1.3, inh_input = 0.5)" in graded.feedback
    )


@pytest.mark.parametrize(
    ("axes", "message"),
    [
        (["exc_input"], "axes: Value error, axes names two given values: [rows, columns]"),
        (["exc_input", "nowhere"], "axes: Value error, nowhere must be given values"),
    ],
)
def test_axes_are_validated(tmp_path: Path, axes: list[str], message: str) -> None:
    path = tmp_path / "exercises" / "x.yaml"
    path.parent.mkdir()
    data = {
        "id": "x",
        "title": "X",
        "source": "S",
        "prompt": "P",
        "given": {"exc_input": "np.arange(3)"},
        "axes": axes,
        "checks": [{"name": "y"}],
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(spec.SpecError) as raised:
        spec.load_spec(path)
    assert str(raised.value) == f"{path} (line 8): {message}"


def test_named_typed_answers_go_to_the_exercise_that_asks_for_them() -> None:
    formulas = [s for s in spec.load_all() if s.kind == "expression"]
    assert len(formulas) >= 3  # chain_rule, antiderivative, partial_derivatives
    loaded = submission.load(REPO / "examples" / "partial_derivatives_correct.txt")
    result = engine.grade(loaded, formulas)
    assert [e.id for e in result.exercises] == ["partial_derivatives"]
    assert result.score == result.max_score


@pytest.mark.sandbox
def test_an_unanswered_several_formula_exercise_says_how_to_answer_it() -> None:
    loaded = submission.load(INSTRUCTOR_NOTEBOOK)
    result = engine.grade(loaded, exercises_for(loaded, spec.load_all(), PRACTICE))
    graded = exercise(result, "partial_derivatives")
    assert graded.status == Status.NOT_ATTEMPTED
    assert (
        'add a code cell `df_dx = "..."` and `df_dy = "..."` with your formulas as text'
        in graded.feedback
    )


@pytest.mark.parametrize(
    ("example", "exercise_id"),
    [
        ("chain_rule_correct.txt", "chain_rule"),
        ("antiderivative_correct.txt", "antiderivative"),
        ("antiderivative_differentiated.txt", "antiderivative"),
    ],
)
def test_a_bare_typed_formula_goes_to_the_exercise_in_its_variables(example, exercise_id):
    formulas = [s for s in spec.load_all() if s.kind == "expression"]
    result = engine.grade(submission.load(REPO / "examples" / example), formulas)
    assert [e.id for e in result.exercises] == [exercise_id]
