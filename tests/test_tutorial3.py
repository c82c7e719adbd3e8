"""Tutorial 3's exercises (Euler's method): the real notebooks, hand-ins in the styles students
write, the feedback on spikes, and the spec language they needed (mistakes given as code,
event times and their count)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml

from conftest import FIXTURES, REPO, check, exercise
from graders import engine, reference, spec, submission, validate
from graders.assignments import AssignmentError, exercises_for
from graders.checks.events import Events, compare_count, compare_events
from graders.checks.numeric import Case, Tolerance
from graders.results import Status

TUTORIAL3 = ["euler_linear_system", "euler_population", "lif_euler"]
STUDENT = FIXTURES / "W0D4_Tutorial3_student.ipynb"
INSTRUCTOR = FIXTURES / "W0D4_Tutorial3_instructor.ipynb"


def grade_notebook(path: Path):
    loaded = submission.load(path)
    return engine.grade(loaded, exercises_for(loaded, spec.load_all()))


# --- assignments -------------------------------------------------------------------------


@pytest.mark.parametrize("path", [STUDENT, INSTRUCTOR], ids=lambda p: p.stem)
def test_tutorial3_notebooks_are_recognised(path: Path) -> None:
    chosen = exercises_for(submission.load(path), spec.load_all())
    assert sorted(s.id for s in chosen) == TUTORIAL3


@pytest.mark.parametrize("kind", ["student", "instructor"])
def test_tutorial2_still_matches_no_assignment(kind: str) -> None:
    # It defines p, V, Spike, Spike_time, I and dV, and has `# to_remove` cells.
    with pytest.raises(AssignmentError, match="matches no assignment"):
        exercises_for(submission.load(FIXTURES / f"W0D4_Tutorial2_{kind}.ipynb"), spec.load_all())


def test_tutorial1_is_still_tutorial1() -> None:
    chosen = exercises_for(
        submission.load(FIXTURES / "W0D4_Tutorial1_student.ipynb"), spec.load_all()
    )
    assert {s.assignment for s in chosen} == {"W0D4_Tutorial1"}


# --- the real notebooks ------------------------------------------------------------------


@pytest.mark.sandbox
@pytest.mark.slow
def test_instructor_notebook_gets_full_marks_from_the_solution_cells() -> None:
    # Later cells rebind dt, t, I, Spike, Spike_time, V, r_E and r_I, and a global `time`
    # shadows the module: each exercise is graded from its own solution cell.
    result = grade_notebook(INSTRUCTOR)
    assert result.score == result.max_score == 8
    assert result.exit_code == 0
    cells = {e.id: e.graded_cell for e in result.exercises}
    assert cells == {
        "euler_population": "code cell 16",
        "lif_euler": "code cell 20",
        "euler_linear_system": "code cell 25",
    }


@pytest.mark.sandbox
@pytest.mark.slow
def test_without_ipython_the_lif_answer_keeps_its_points_and_the_crash_is_named(
    tmp_path: Path,
) -> None:
    # Where IPython is missing, "Figure Settings" stops before importing gridspec, and the
    # solution cell's plot raises NameError after Spike, Spike_time and V exist.
    notebook = nbformat.read(INSTRUCTOR, as_version=4)
    for cell in notebook.cells:
        cell.source = cell.source.replace("import IPython.display", "import IPython_gone.display")
    path = tmp_path / "no_ipython.ipynb"
    nbformat.write(notebook, path)
    lif = exercise(grade_notebook(path), "lif_euler")
    assert lif.score == lif.max_score == 4
    assert lif.status == Status.ERROR
    assert "NameError: name 'gridspec' is not defined" in lif.feedback


@pytest.mark.sandbox
@pytest.mark.slow
def test_student_notebook_is_not_attempted_on_each_exercise() -> None:
    # The raise sits inside the population loop, and inside the two functions, which the
    # handed-out cells also call at top level.
    result = grade_notebook(STUDENT)
    assert {e.id: e.status for e in result.exercises} == dict.fromkeys(
        TUTORIAL3, Status.NOT_ATTEMPTED
    )
    for graded in result.exercises:
        assert "still raises NotImplementedError" in graded.feedback
    assert result.score == 0 and result.exit_code == 1


# --- .py hand-ins, in the styles students write --------------------------------------------

POPULATION_STYLES = {
    "loop": (REPO / "examples" / "euler_population_correct.py").read_text(),
    "vectorised": "p = np.exp(0.3*t[0]) * (1 + 0.3*dt) ** np.arange(len(t))\n",
    "list": "p = [np.exp(0.3)]\nfor _ in t[1:]:\n    p.append(p[-1] * (1 + 0.3*dt))\n",
    "float32": "p = np.zeros(len(t), dtype=np.float32)\np[0] = np.exp(0.3*t[0])\n"
    "for k in range(len(t) - 1):\n    p[k+1] = p[k] + dt*0.3*p[k]\n",
}

LIF_LISTS = """
def Euler_Integrate_and_Fire(I, time, dt):
    V = [-75.0]
    spikes = []
    for k in range(len(time) - 1):
        V.append(V[k] + dt * (-(V[k] + 75) + 10 * I[k]) / 10)
        if V[k] > -50:
            V[k] = 0
            V[k + 1] = -75
            spikes.append(float(time[k]))
    return len(spikes), spikes, V
"""

LINEAR_MATRIX = """
def Euler_Simple_Linear_System(t, dt):
    step = np.array([[1, -dt / 100], [dt / 120, 1]])
    r = np.empty((len(t), 2))
    r[0] = 30, 20
    for k in range(len(t) - 1):
        r[k + 1] = step @ r[k]
    return r[:, 0], r[:, 1]
"""

LINEAR_FLOAT32 = """
def Euler_Simple_Linear_System(t, dt):
    r_E = np.zeros(len(t), dtype=np.float32)
    r_I = np.zeros(len(t), dtype=np.float32)
    r_E[0], r_I[0] = 30, 20
    for k in range(len(t) - 1):
        r_E[k+1] = r_E[k] + dt * (-r_I[k] / 100)
        r_I[k+1] = r_I[k] + dt * (r_E[k] / 120)
    return r_E, r_I
"""


@pytest.mark.sandbox
@pytest.mark.parametrize("style", POPULATION_STYLES)
def test_population_passes_in_every_style(grade_code, style: str) -> None:
    result = grade_code("euler_population", POPULATION_STYLES[style])
    assert exercise(result, "euler_population").status == Status.PASSED, result.to_dict()


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("exercise_id", "source"),
    [
        ("lif_euler", (REPO / "examples" / "lif_euler_correct.py").read_text()),
        ("euler_linear_system", (REPO / "examples" / "euler_linear_system_correct.py").read_text()),
        ("lif_euler", LIF_LISTS),
        ("euler_linear_system", LINEAR_FLOAT32),
        ("euler_linear_system", LINEAR_MATRIX),
    ],
    ids=["lif-loop", "linear-lists", "lif-lists", "linear-float32", "linear-matrix"],
)
def test_simulations_pass_in_other_styles(grade_code, exercise_id: str, source: str) -> None:
    result = grade_code(exercise_id, source)
    assert exercise(result, exercise_id).status == Status.PASSED, result.to_dict()


@pytest.mark.sandbox
def test_a_mistake_in_a_simulation_is_recognised_from_its_code(grade_code) -> None:
    source = (REPO / "examples" / "euler_linear_system_updated_r_E.py").read_text()
    result = grade_code("euler_linear_system", source)
    graded = check(result, "euler_linear_system", "r_I")
    assert graded.misconception == "dr_I_from_updated_r_E"
    assert "r_E[k+1]" in graded.feedback
    assert check(result, "euler_linear_system", "r_E").misconception == "dr_I_from_updated_r_E"


@pytest.mark.sandbox
def test_a_step_multiplied_by_dt_twice_is_caught_by_the_random_steps(grade_code) -> None:
    source = (REPO / "examples" / "lif_euler_correct.py").read_text()
    source = source.replace("dV = (", "dV = dt * (")
    result = grade_code("lif_euler", source)
    graded = check(result, "lif_euler", "V")
    assert graded.misconception == "dV_times_dt"
    assert "dt = 1" in graded.feedback  # why the tutorial's own plot looked right


@pytest.mark.sandbox
def test_extra_spike_is_located_in_time(grade_code) -> None:
    source = (REPO / "examples" / "lif_euler_spikes_after_the_step.py").read_text()
    result = grade_code("lif_euler", source)
    spike = check(result, "lif_euler", "Spike")
    assert "3 spikes expected, yours has 4: the first extra one at time = 24" in spike.feedback
    assert "right for the tutorial's inputs" in spike.feedback
    times = check(result, "lif_euler", "Spike_time")
    assert "the right number of spikes (16)" in times.feedback


# --- events and counts, without a sandbox -----------------------------------------------------


def _cases(actual: list, expected: list, mistakes: dict | None = None) -> list[Case]:
    return [
        Case(actual=a, expected=e, mistakes=mistakes or {})
        for a, e in zip(actual, expected, strict=True)
    ]


def test_spike_times_of_another_length_are_compared_as_a_set() -> None:
    comparison = compare_events(
        "Spike_time",
        _cases([[100.0, 412.0, 700.0]], [np.array([100.0, 700.0])]),
        noun="spike",
        axis_name="time",
        tolerance=Tolerance(),
        mistake_feedback={},
    )
    assert not comparison.passed
    assert comparison.feedback == (
        "Spike_time: 2 spikes expected, yours has 3: the first extra one at time = 412."
    )


@pytest.mark.parametrize(
    ("actual", "words"),
    [
        ([], "2 spikes expected, yours has 0: the first missing one at time = 100"),
        (
            (np.float32(100.0),),
            "2 spikes expected, yours has 1: the first missing one at time = 700",
        ),
        ("100, 700", "Spike_time: yours is a string ('100, 700'), but a list (or array) of times"),
        (["100", "700"], "yours holds values that are not plain numbers"),
    ],
    ids=["empty-list", "tuple", "text", "list-of-text"],
)
def test_spike_times_in_any_container(actual, words: str) -> None:
    comparison = compare_events(
        "Spike_time",
        _cases([actual], [np.array([100.0, 700.0])]),
        noun="spike",
        axis_name="time",
        tolerance=Tolerance(),
        mistake_feedback={},
    )
    assert words in comparison.feedback


def test_no_spike_expected_and_none_given_passes() -> None:
    comparison = compare_events(
        "Spike_time", _cases([[]], [[]]), noun="spike", axis_name="time",
        tolerance=Tolerance(), mistake_feedback={},
    )  # fmt: skip
    assert comparison.passed


def test_wrong_spike_count_says_how_many_and_where() -> None:
    expected_times = np.array([100.0, 700.0])
    comparison = compare_count(
        "Spike",
        _cases([3], [2]),
        counted=[Events([100.0, 412.0, 700.0], expected_times)],
        noun="spike",
        axis_name="time",
        tolerance=Tolerance(),
        mistake_feedback={},
    )
    assert comparison.feedback == (
        "Spike: 2 spikes expected, yours has 3: the first extra one at time = 412 in your times."
    )


def test_count_that_misses_recorded_spikes_says_so() -> None:
    comparison = compare_count(
        "Spike",
        _cases([0], [2]),
        counted=[Events([100.0, 700.0], np.array([100.0, 700.0]))],
        noun="spike",
        axis_name="time",
        tolerance=Tolerance(),
        mistake_feedback={},
    )
    assert "although your spike times are the 2 expected" in comparison.feedback


def test_count_given_as_the_list_of_times_is_explained() -> None:
    comparison = compare_count(
        "Spike", _cases([[100.0, 700.0]], [2]), counted=None, noun="spike", axis_name="time",
        tolerance=Tolerance(), mistake_feedback={},
    )  # fmt: skip
    assert (
        "Spike: yours is a list, but a count (one whole number) is expected" in comparison.feedback
    )
    assert "len()" in comparison.feedback


# --- validate: every reference passes, every mistake is recognised -----------------------------


@pytest.mark.sandbox
@pytest.mark.parametrize("exercise_id", TUTORIAL3)
def test_validate_proves_each_exercise(exercise_id: str) -> None:
    problems, summary = validate.prove(spec.find(exercise_id))
    assert problems == []
    assert "mistakes recognised" in summary


# --- the spec language: malformed additions are refused in one line ---------------------------

BASE = {"id": "x", "title": "X", "source": "S", "prompt": "P"}
FUNCTION = {
    "name": "f",
    "arguments": ["t"],
    "returns": ["n", "times"],
    "inputs": [{"t": 1}],
    "random": {"count": 5, "seed": 1, "parameters": {"t": {"uniform": [0, 1]}}},
}


@pytest.mark.parametrize(
    ("checks", "function", "message", "line_of"),
    [
        (
            [{"name": "y", "mistakes": [{"id": "m", "code": "y = (", "feedback": "F"}]}],
            None,
            "checks.0.mistakes.0.code: Value error, does not compile: '(' was never closed",
            "code:",
        ),
        (
            [{"name": "y", "mistakes": [{"id": "m", "value": "1", "code": "y", "feedback": "F"}]}],
            None,
            "checks.0.mistakes.0: Value error, mistake m: give either value",
            "- id: m",
        ),
        (
            [{"name": "y", "mistakes": [{"id": "m", "code": "wrong_y", "feedback": "F"}]}],
            None,
            "checks.0.mistakes.0.code: names a function, but this exercise has no function",
            "code:",
        ),
        (
            [{"name": "n", "compare": "count", "counts": "times"}, {"name": "times"}],
            FUNCTION,
            "checks.0.counts: 'times' is not an events check here",
            "counts:",
        ),
        (
            [{"name": "n", "compare": "count"}, {"name": "times", "compare": "events"}],
            FUNCTION,
            "checks.0.counts: goes with compare: count, and only there",
            "- name: n",
        ),
        (
            [{"name": "n", "noun": "spike"}, {"name": "times", "compare": "events"}],
            FUNCTION,
            "checks.0.noun: goes with compare: events, and only there",
            "noun:",
        ),
        (
            [{"name": "y", "compare": "events", "noun": "Spike!"}],
            None,
            "checks.0.noun: String should match pattern",
            "noun:",
        ),
    ],
    ids=[
        "code-syntax",
        "value-and-code",
        "function-name-in-values",
        "counts-numeric",
        "count-without-counts",
        "noun-on-numeric",
        "noun-pattern",
    ],
)
def test_new_spec_fields_are_refused_when_malformed(
    tmp_path: Path, checks: list, function: dict | None, message: str, line_of: str
) -> None:
    data = {**BASE, "checks": checks} | ({"function": function} if function else {})
    path = tmp_path / "exercises" / "x.yaml"
    path.parent.mkdir()
    text = yaml.safe_dump(data, sort_keys=False)
    path.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if line_of in row)
    with pytest.raises(spec.SpecError) as refused:
        spec.load_spec(path)
    assert str(refused.value).startswith(f"{path} (line {line}): {message}")
    assert "\n" not in str(refused.value)


def test_a_broken_mistake_is_a_validate_problem_not_a_crash(tmp_path: Path) -> None:
    course = tmp_path / "course"
    (course / "exercises").mkdir(parents=True)
    (course / "reference").mkdir()
    (course / "reference" / "x.py").write_text("y = 2\n")
    mistake = {"id": "m", "code": "z = 1", "feedback": "F"}
    data = {**BASE, "checks": [{"name": "y", "mistakes": [mistake]}]}
    (course / "exercises" / "x.yaml").write_text(json.dumps(data))
    loaded = spec.load_spec(course / "exercises" / "x.yaml")
    cases = reference.reference_cases(loaded)
    problem = validate._mistake_recognised(loaded, loaded.checks[0], "m", cases)
    assert problem == "x: mistake m's code defines no y"


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("source", "exercise_id"),
    [
        (
            "du_dt = 1\ndv_dt = -np.exp(-t/tau)/tau\ndf_dt = u_t*dv_dt + v_t*du_dt\n",
            "product_rule_alpha",
        ),
        ("p = np.exp(0.3*t[0]) * (1 + 0.3*dt) ** np.arange(len(t))\n", "euler_population"),
    ],
    ids=["tutorial1-t", "tutorial3-t"],
)
def test_a_lone_cell_gets_the_given_values_of_the_exercise_it_answers(
    tmp_path: Path, source: str, exercise_id: str
) -> None:
    # Tutorials 1 and 3 both give `t`, with other values: graded against every exercise,
    # a bare answer cell still finds its own tutorial's.
    path = tmp_path / "answer.py"
    path.write_text(source)
    result = engine.grade(submission.load(path), spec.load_all(), answered_only=True)
    assert [e.id for e in result.exercises] == [exercise_id]
    assert result.exercises[0].status == Status.PASSED, result.to_dict()


def test_step_indices_given_for_spike_times_are_named() -> None:
    # Spike_time.append(k) with dt = 0.25: right with the tutorial's dt = 1 only.
    comparison = compare_events(
        "Spike_time",
        _cases([[40.0, 80.0, 400.0]], [np.array([10.0, 20.0, 100.0])]),
        noun="spike",
        axis_name="time",
        tolerance=Tolerance(),
        mistake_feedback={},
    )
    assert "4 times the expected one: step indices rather than time values?" in comparison.feedback
