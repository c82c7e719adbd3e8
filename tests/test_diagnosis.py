"""Automatic diagnosis (#11): slips of the reference program and formula, named by stable
ids, below declared mistakes and above generic relations; cached once per spec."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, check
from graders import diagnosis, spec, validate
from graders.checks import compare_check
from graders.diagnosis import cache
from graders.reference import function_inputs, reference_cases

# --- psp_charge: a value exercise ------------------------------------------------------------

J, TAU_S, T_SP, DT = 1, 1, 1, 0.1
T = np.arange(0, 10, DT)
PSP = J * T * np.exp(-(T - T_SP) / TAU_S)


def judge(exercise_id: str, name: str, value: object, others=None):
    """Compare one answer as the engine does (the value, or one returned value per call)."""
    exercise = spec.find(exercise_id)
    wanted = next(c for c in exercise.checks if c.name == name)
    return compare_check(exercise, wanted, value, reference_cases(exercise), others)


@pytest.mark.parametrize(
    ("name", "value", "slip"),
    [
        ("rectangle_areas", PSP / DT, "`PSP / dt` gives where `PSP * dt` is expected"),
        ("rectangle_areas", list(PSP / DT), "`PSP / dt`"),  # a list, not an array
        ("rectangle_areas", (PSP / DT).astype(np.float32), "`PSP / dt`"),
        ("PSP", J * T * np.exp(-T - T_SP / TAU_S), "`-t - t_sp / tau_s` gives where"),
        ("PSP", J * T * np.exp(-T / TAU_S), "`t` gives where `t - t_sp` is expected"),
    ],
)
def test_psp_charge_slips_are_named_in_the_references_code(name, value, slip):
    result = judge("psp_charge", name, value)
    assert not result.passed and result.automatic
    assert result.misconception.startswith("auto:")
    assert slip in result.feedback
    assert result.feedback.startswith(f"{name} looks like a slip. Your {name}")


def test_a_slip_upstream_is_named_where_it_was_made():
    result = judge("psp_charge", "rectangle_areas", J * T * np.exp(-T - T_SP / TAU_S) * DT)
    assert result.misconception.startswith("auto:PSP:precedence:")
    assert "follows from a slip in PSP" in result.feedback


def test_a_slip_that_would_also_change_a_right_answer_is_not_the_students():
    doubled = PSP * 2 * DT  # 2 * J in PSP gives it too, but then PSP would be wrong
    assert judge("psp_charge", "rectangle_areas", doubled).misconception.startswith("auto:PSP:")
    result = judge("psp_charge", "rectangle_areas", doubled, {"PSP": [PSP]})
    assert result.misconception.startswith("auto:rectangle_areas:value_double:")
    assert "`2 * dt` gives where `dt` is expected" in result.feedback


def test_another_grid_for_the_same_range_is_named_not_called_an_estimate():
    t = np.linspace(0, 10, 100)
    result = judge("psp_charge", "PSP", J * t * np.exp(-(t - T_SP) / TAU_S))
    assert result.misconception.startswith("auto:t:grid_linspace:")
    assert "`t = np.linspace(0, 10, 100)` where `t = np.arange(0, 10, dt)`" in result.feedback
    assert "estimate" not in result.feedback


def test_a_cumulative_trapezoid_is_another_rule_for_the_integral():
    areas = PSP * DT
    trapezoid = np.concatenate([[0], np.cumsum((areas[1:] + areas[:-1]) / 2)])
    result = judge("psp_charge", "numerical_integral", trapezoid)
    assert result.misconception == "auto:estimate" and result.automatic
    assert "trapezoid rule" in result.feedback and "derivative" not in result.feedback


def test_declared_mistakes_win_over_automatic_ones():
    # PSP alone is both the declared areas_without_dt and the slip "dt dropped".
    result = judge("psp_charge", "rectangle_areas", PSP)
    assert (result.misconception, result.automatic) == ("areas_without_dt", False)


def test_automatic_slips_win_over_generic_relations():
    # PSP / dt is 100 times PSP * dt: a constant factor, but the slip says more.
    result = judge("psp_charge", "rectangle_areas", PSP / DT)
    assert result.misconception.startswith("auto:rectangle_areas:mult_div:")
    assert result.suggested_value == "PSP / dt"


def test_a_right_answer_is_not_diagnosed():
    result = judge("psp_charge", "rectangle_areas", PSP * DT)
    assert result.passed and result.misconception is None and not result.automatic


# --- neuron_gain: a function exercise, one answer per call -----------------------------------


def gains(make) -> list[np.ndarray]:
    """One gain per call of the spec, as a student's function computes it."""
    answers = []
    for _, kwargs in function_inputs(spec.find("neuron_gain")):
        current, a, theta, step = (kwargs[n] for n in ("I", "a", "theta", "current_timestep"))
        rate = 1 / (1 + np.exp(-a * (current - theta))) - 1 / (1 + np.exp(a * theta))
        answers.append(make(rate, step))
    return answers


def gain_by_loop(rate, step):
    gain = []
    for i in range(len(rate) - 1):
        gain.append((rate[i] - rate[i + 1]) / step)
    return gain


@pytest.mark.parametrize(
    ("make", "kind", "suggestion"),
    [
        (lambda r, s: np.diff(r) * s, "mult_div", "(rate[1:] - rate[0:-1]) * current_timestep"),
        (
            lambda r, s: (r[:-1] - r[1:]) / s,
            "sub_order",
            "(rate[0:-1] - rate[1:]) / current_timestep",
        ),
        (gain_by_loop, "sub_order", "(rate[0:-1] - rate[1:]) / current_timestep"),
        (
            lambda r, s: (r[2:] - r[:-2]) / 2 / s,
            "central",
            "(rate[2:] - rate[:-2]) / 2 / current_timestep",
        ),
    ],
)
def test_neuron_gain_slips_hold_in_every_call(make, kind, suggestion):
    others = {"rate": gains(lambda rate, step: rate)}  # the rate is right
    result = judge("neuron_gain", "gain", gains(make), others)
    assert result.misconception.startswith(f"auto:gain:{kind}:")
    assert result.suggested_value == suggestion


# --- Simulations: a slip in the loop changes every later value ----------------------------------


@pytest.mark.sandbox
def test_a_slip_inside_the_lif_loop_is_found_by_running_the_slipped_reference(grade_code):
    source = (REPO / "reference" / "lif_euler.py").read_text(encoding="utf-8")
    slipped = source.replace(
        "lambda V, I_k: (-(V - E_L) + R_m * I_k) / tau_m)",
        "lambda V, I_k: (-(V + E_L) + R_m * I_k) / tau_m)",
        1,
    )
    assert slipped != source
    graded = check(grade_code("lif_euler", slipped), "lif_euler", "V")
    # Brackets left out: -V - E_L, the same slip.
    assert graded.misconception.startswith("auto:Euler_Integrate_and_Fire:precedence:")
    assert graded.automatic and graded.suggested_value is None  # no expression for a loop
    assert "`-V - E_L` where `-(V - E_L)` is expected" in graded.feedback


@pytest.mark.sandbox
def test_the_issues_psp_hand_in_with_dt_twice(grade_code):
    source = (
        "import numpy as np\nt = np.arange(0, 10, dt)\nPSP = J * t * np.exp(-(t - t_sp) / tau_s)\n"
        "rectangle_areas = PSP / dt\nnumerical_integral = np.cumsum(rectangle_areas) * dt\n"
    )
    result = grade_code("psp_charge", source)
    areas = check(result, "psp_charge", "rectangle_areas")
    assert areas.misconception.startswith("auto:rectangle_areas:mult_div:") and areas.automatic
    assert check(result, "psp_charge", "numerical_integral").misconception == "cumsum_without_dt"


def test_euler_population_slips_in_the_loop():
    t = np.arange(1, 5.5, 1)
    p = np.zeros(len(t))
    p[0] = np.exp(0.3 * t[0])
    for k in range(len(t) - 1):
        p[k + 1] = p[k] - 1 * 0.3 * p[k]  # the step subtracted
    result = judge("euler_population", "p", p)
    assert result.misconception.startswith("auto:p:add_sub:") and result.automatic


# --- Typed formulas ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "kind", "said"),
    [
        ("3a^2 e^(a^4+1)", "power_rule", "with 4*a^3 written as 3*a^2. The power rule"),
        ("a^3 e^(a^4+1)", "drop_factor", "with 4*a^3 written as a^3"),
        ("-4a^3 e^(a^4+1)", "sign", "the negative of the expected one"),
        ("4a^3 e^(4a^3)", "argument_derivative", "with exp(a^4 + 1) written as exp(4*a^3)"),
        ("4a^3 e^(a^4)", "drop_term", "with a^4 + 1 written as a^4"),
    ],
)
def test_chain_rule_typed_slips_are_named(answer, kind, said):
    result = judge("chain_rule", "dr_da", answer)
    assert result.misconception.startswith(f"auto:dr_da:{kind}:") and result.automatic
    assert said in result.feedback
    pasted = judge("chain_rule", "dr_da", result.suggested_value)
    assert pasted.misconception == result.misconception  # the suggestion is the same answer


def test_an_antiderivative_slip_is_named():
    result = judge("antiderivative", "int_ftn", "t^3/3 + t^2/2 + t")
    assert result.misconception.startswith("auto:int_ftn:") and result.automatic


# --- Ids, suggestions, validate ------------------------------------------------------------------


def test_ids_are_the_same_for_the_same_slip_in_any_process():
    code = (
        "from graders import spec, diagnosis\n"
        "print(sorted(v.id for v in diagnosis.build(spec.find('psp_charge'),"
        " spec.find('psp_charge').reference_path.read_text())))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    here = sorted(v.id for v in diagnosis.program_variants(spec.find("psp_charge")))
    assert run.stdout.strip() == str(here)
    assert "auto:rectangle_areas:mult_div:303e" in here


def test_a_suggested_value_pasted_into_the_spec_is_recognised_by_validate():
    exercise = spec.find("psp_charge")
    pasted = exercise.model_copy(deep=True)
    areas = next(c for c in pasted.checks if c.name == "rectangle_areas")
    mistake = spec.Mistake(id="areas_divided", value="PSP / dt", feedback="Divided by dt.")
    object.__setattr__(areas, "mistakes", [*areas.mistakes, mistake])
    cases = reference_cases(pasted)
    assert validate._mistake_recognised(pasted, areas, "areas_divided", cases) is None


def test_validate_notes_declared_mistakes_found_automatically_and_merged_slips():
    notes = validate.notes(spec.find("psp_charge"))
    assert any(
        note.startswith("mistake areas_without_dt of rectangle_areas is also found automatically")
        for note in notes
    )
    merged = next(note for note in notes if "merged" in note)
    assert "auto:PSP:precedence:55b5 = auto:PSP:add_sub:007d" in merged  # tau_s = 1


# --- The cache -----------------------------------------------------------------------------------


def test_a_second_process_reuses_the_cache_and_a_changed_reference_is_made_again(tmp_path):
    course = tmp_path / "course"
    (course / "exercises").mkdir(parents=True)
    (course / "reference").mkdir()
    shutil.copy(REPO / "exercises" / "psp_charge.yaml", course / "exercises")
    shutil.copy(REPO / "reference" / "psp_charge.py", course / "reference")
    env = {**os.environ, "CALCULUS_GRADERS_CACHE": str(tmp_path / "cache")}
    code = (
        "import sys\nfrom pathlib import Path\nfrom graders import diagnosis, spec\n"
        "made = []\nbuild = diagnosis.build\n"
        "diagnosis.build = lambda *a: made.append(1) or build(*a)\n"
        f"exercise = spec.find('psp_charge', Path({str(course)!r}))\n"
        "ids = [v.id for v in diagnosis.program_variants(exercise)]\n"
        "print(len(made), len(ids))\n"
    )

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    made, count = run()
    assert made == "1" and int(count) > 10
    assert run() == ["0", count]  # read from the cache
    reference = course / "reference" / "psp_charge.py"
    reference.write_text(reference.read_text().replace("PSP * dt", "dt * PSP"))
    assert run()[0] == "1"  # a changed reference is not served stale variants
    assert len(list((tmp_path / "cache").glob("psp_charge-*.npz"))) == 2


def test_an_unwritable_cache_costs_time_not_a_grade(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("CALCULUS_GRADERS_CACHE", str(blocked / "cache"))
    exercise = spec.find("sine_derivative")
    variants = diagnosis.build(exercise, exercise.reference_path.read_text())
    path = cache.path_for(exercise, exercise.reference_path.read_text())
    cache.store(path, variants)  # no error
    assert cache.load(path) is None


def test_cached_variants_read_back_as_made(tmp_path, monkeypatch):
    monkeypatch.setenv("CALCULUS_GRADERS_CACHE", str(tmp_path))
    exercise = spec.find("neuron_gain")
    source = exercise.reference_path.read_text()
    made = diagnosis.build(exercise, source)
    cache.store(cache.path_for(exercise, source), made)
    loaded = cache.load(cache.path_for(exercise, source))
    assert loaded is not None and [v.id for v in loaded] == [v.id for v in made]
    first, again = made[0], loaded[0]
    assert dataclasses.asdict(first).keys() == dataclasses.asdict(again).keys()
    for name, values in first.values.items():
        assert all(np.array_equal(a, b) for a, b in zip(values, again.values[name], strict=True))
    assert again.suggestions == first.suggestions


def test_variants_are_bounded_and_slips_that_raise_are_dropped():
    exercise = spec.find("lif_euler")
    slips = diagnosis.program.slips(exercise, exercise.reference_path.read_text())
    found = diagnosis.program_variants(exercise)
    assert len(slips) <= diagnosis.program.MAX_SLIPS
    assert 0 < len(found) < len(slips)  # index slips past the end raise; many change nothing


def test_exercises_graded_on_the_students_own_inputs_get_no_cached_slips():
    assert diagnosis.program_mistakes(spec.find("filtering"), "x1_diff") == []
