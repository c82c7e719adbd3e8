"""The Tutorial 1 practice set (assignment W0D4_Tutorial1_practice): each exercise proven
by validate, graded in the styles students write, and kept apart from the real notebook."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from conftest import FIXTURES, INSTRUCTOR_NOTEBOOK, REPO, STUDENT_NOTEBOOK, check, exercise
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
