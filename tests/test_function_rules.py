"""Function exercises: status rules for calls of the student's function, where a mismatch
is located (each returned value on its own axis), and `validate` on inputs that are not
aranges. The LIF-like course is written into a tmp dir, as an instructor's --course."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from test_exercises import neuron

from conftest import check, exercise
from graders import engine, spec, submission, validate
from graders.results import Status

LIF_SPEC = """
id: lif
title: Leaky integrate-and-fire
source: test course
prompt: Integrate the membrane potential V over time for the input current I.
function:
  name: simulate_lif
  arguments: [I, time]
  returns: {returns}
  inputs:
    - {{time: "np.arange(0, 50, 0.5)", I: "np.sin(4 * 2 * np.pi * time / 50)"}}
  random:
    count: 5
    seed: 7
    parameters:
      shift: {{uniform: [0, 100]}}
      time: np.arange(0, 50, 0.5)
      # Whole-sample shifts of one period: every set has the same values in another
      # order, so every set reads "an array of 100 values between -1 and 1".
      I: np.sin(2 * np.pi * (time + 0.5 * np.round(shift)) / 50)
checks:
  - name: V
"""

LIF = """
def simulate_lif(I, time):
    dt = time[1] - time[0]
    V = np.zeros(len(time))
    for i in range(1, len(time)):
        V[i] = V[i - 1] + dt / 10 * (-V[i - 1] + I[{index}])
    return V
"""


def lif_course(tmp_path: Path, returns: str = "[{name: V, axis: time}]") -> Path:
    course = tmp_path / "course"
    (course / "exercises").mkdir(parents=True)
    (course / "reference").mkdir()
    (course / "exercises" / "lif.yaml").write_text(LIF_SPEC.format(returns=returns))
    (course / "reference" / "lif.py").write_text(LIF.format(index="i - 1"))
    return course


def grade(tmp_path: Path, source: str, exercise_spec: spec.Spec):
    path = tmp_path / "hand_in.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return engine.grade(submission.load(path), [exercise_spec])


# --- where a mismatch is located -----------------------------------------------------------


@pytest.mark.sandbox
def test_returned_value_is_located_on_its_declared_axis(tmp_path):
    course = lif_course(tmp_path)
    result = grade(tmp_path, LIF.format(index="i"), spec.find("lif", course))
    feedback = check(result, "lif", "V").feedback
    # V[1] is the first wrong value; time, not I (also 100 values long), indexes it.
    assert "first at index 1 (time = 0.5)" in feedback, feedback


@pytest.mark.sandbox
def test_without_a_declared_axis_the_first_argument_of_its_length_is_used(tmp_path):
    course = lif_course(tmp_path, returns="[V]")
    result = grade(tmp_path, LIF.format(index="i"), spec.find("lif", course))
    assert "first at index 1 (I = " in check(result, "lif", "V").feedback


@pytest.mark.sandbox
def test_forward_difference_is_located_on_its_declared_input(grade_code):
    result = grade_code("neuron_gain", neuron(gain="np.diff(rate) / 0.1"))
    assert "first at index 0 (I = " in check(result, "neuron_gain", "gain").feedback


def test_an_axis_that_is_not_an_argument_is_refused(tmp_path):
    course = lif_course(tmp_path, returns="[{name: V, axis: t}]")
    with pytest.raises(spec.SpecError, match=r"lif.yaml \(line \d+\): function: .*axis 't'"):
        spec.find("lif", course)


# --- validate ------------------------------------------------------------------------------


@pytest.mark.sandbox
def test_validate_accepts_inputs_that_are_not_aranges(tmp_path, capsys):
    course = lif_course(tmp_path)
    assert validate.validate(["lif"], course) == 0, capsys.readouterr().out
    assert "✓ lif" in capsys.readouterr().out


@pytest.mark.sandbox
def test_validate_still_refuses_repeated_input_sets(tmp_path, capsys):
    course = lif_course(tmp_path)
    yaml = course / "exercises" / "lif.yaml"
    yaml.write_text(yaml.read_text().replace("{uniform: [0, 100]}", "{choice: [0, 1]}"))
    assert validate.validate(["lif"], course) == 1
    assert "random input sets repeat each other" in capsys.readouterr().out


def test_validate_names_a_reference_function_that_fails(tmp_path, capsys):
    course = lif_course(tmp_path)
    (course / "reference" / "lif.py").write_text(LIF.format(index="i + 1"))  # past the end
    assert validate.validate(["lif"], course) == 1
    out = capsys.readouterr().out
    assert "the reference simulate_lif failed when called with I = " in out
    assert "IndexError" in out and out.count("\n") == 1


# --- statuses of calls ---------------------------------------------------------------------

RAISE_LEFT_AT_THE_TOP = """
def compute_rate_and_gain(I, a, theta, current_timestep):
    raise NotImplementedError("Student exercise: compute the rate and the gain")
    rate = (1+np.exp(-a*(I-theta)))**-1 - (1+np.exp(a*theta))**-1
    gain = (rate[1:] - rate[0:-1])/current_timestep
    return rate, gain
"""


@pytest.mark.sandbox
def test_function_still_raising_not_implemented_is_not_attempted(grade_code):
    result = exercise(grade_code("neuron_gain", RAISE_LEFT_AT_THE_TOP), "neuron_gain")
    assert result.status == Status.NOT_ATTEMPTED
    assert "still raises NotImplementedError (line 3)" in result.feedback


@pytest.mark.sandbox
def test_function_raising_is_an_error_naming_exception_and_line(grade_code):
    source = neuron(gain="(rate[1:] - rate[0:-1]) / current_timestp")
    result = exercise(grade_code("neuron_gain", source), "neuron_gain")
    assert result.status == Status.ERROR
    assert "raised NameError: name 'current_timestp' is not defined at line 4" in result.feedback
    assert "when called with I = np.arange(0, 8, 0.1)" in result.feedback


@pytest.mark.sandbox
def test_function_raising_for_some_inputs_is_an_error_naming_those_inputs(grade_code):
    source = neuron()
    source = source.replace(
        "    rate =", "    assert current_timestep >= 0.1, 'step too small'\n    rate =", 1
    )
    result = exercise(grade_code("neuron_gain", source), "neuron_gain")
    assert result.status == Status.ERROR
    assert "raised AssertionError: step too small at line 3" in result.feedback
    assert "current_timestep = 0.0" in result.feedback  # 0.02 or 0.05: a call that raised
    assert "of 7 calls raised" in result.feedback


@pytest.mark.sandbox
def test_function_left_as_placeholder_is_not_attempted(grade_code):
    result = exercise(grade_code("neuron_gain", "compute_rate_and_gain = ...\n"), "neuron_gain")
    assert result.status == Status.NOT_ATTEMPTED
