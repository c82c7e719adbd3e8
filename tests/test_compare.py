"""Tests for graders.checks.numeric, on the data of the W0D4 calculus exercises."""

from __future__ import annotations

import numpy as np
import pytest

from graders import values
from graders.checks.numeric import MAX_CURVE_POINTS, Case, Tolerance, compare_numeric

# product_rule_alpha: f = u*v with u = t, v = exp(-t/tau)
T = np.arange(0, 10, 0.1)
TAU = 0.5
V = np.exp(-T / TAU)
DU_DT = np.ones_like(T)
DV_DT = -1 / TAU * np.exp(-T / TAU)
DF_DT = T * DV_DT + V * DU_DT
AXIS = ("t", T)

# psp_charge
DT = 0.1
J, T_SP, TAU_S = 1.0, 1.0, 1.0
PSP = J * T * np.exp(-(T - T_SP) / TAU_S)
RECTANGLE_AREAS = PSP * DT
NUMERICAL_INTEGRAL = np.cumsum(RECTANGLE_AREAS)


def value_check(name, actual, expected, mistakes=None, **options):
    """Compare one student value, as the engine does for a value check."""
    case = Case(actual, expected, mistakes=mistakes or {}, axis=AXIS)
    return compare_numeric(name, [case], **options)


# --- neuron_gain: a function check, one case per call ------------------------------------------


def rate_and_gain(inputs, a, theta, current_timestep):
    rate = 1 / (1 + np.exp(-a * (inputs - theta))) - 1 / (1 + np.exp(a * theta))
    return rate, np.diff(rate) / current_timestep


def _gain_calls():
    """The tutorial's inputs first, then seeded random ones with other step sizes."""
    calls = [(0.1, 1.2, 5.0)]
    rng = np.random.default_rng(2024)
    for _ in range(5):
        step = float(rng.choice([0.05, 0.2, 0.25, 0.5]))
        calls.append(
            (step, round(float(rng.uniform(0.5, 2)), 2), round(float(rng.uniform(1, 6)), 2))
        )
    return calls


GAIN_CALLS = _gain_calls()
GAIN_FEEDBACK = {"gradient": "np.gradient is a central difference; a forward difference is asked."}


def gain_cases(student):
    """One case per call; ``student(inputs, a, theta, step)`` plays the student's function."""
    cases = []
    for step, a, theta in GAIN_CALLS:
        inputs = np.arange(0, 8, step)
        rate, gain = rate_and_gain(inputs, a, theta, step)
        label = (
            f"with I = np.arange(0, 8, {step}), a = {a}, theta = {theta}, current_timestep = {step}"
        )
        cases.append(
            Case(
                student(inputs, a, theta, step),
                gain,
                mistakes={"gradient": np.gradient(rate, step)},
                label=label,
                axis=("I", inputs[:-1]),
            )
        )
    return cases


def check_gain(student):
    return compare_numeric(
        "gain", gain_cases(student), mistake_feedback=GAIN_FEEDBACK, quantity="derivative"
    )


def label_of(call_index):
    return gain_cases(lambda *_: 0.0)[call_index].label


# --- Passing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "actual",
    [
        DV_DT,
        list(DV_DT),
        tuple(DV_DT),
        DV_DT.astype(np.float32),
        DV_DT.astype(np.complex128),
    ],
    ids=["array", "list", "tuple", "float32", "complex-with-zero-imaginary"],
)
def test_correct_values_pass_in_any_plain_form(actual):
    result = value_check("dv_dt", actual, DV_DT)
    assert result.passed and result.attempted
    assert result.feedback == "dv_dt matches the expected values at all 100 points."


@pytest.mark.parametrize(
    "actual",
    [np.ones(100, dtype=np.int64), T >= 0, [1] * 100],
    ids=["int-array", "bool-array", "int-list"],
)
def test_integer_and_boolean_values_are_read_as_numbers(actual):
    assert value_check("du_dt", actual, DU_DT).passed


@pytest.mark.parametrize("constant", [1, 1.0, np.float64(1), np.int64(1), True])
def test_a_constant_may_stand_for_the_constant_array_when_allowed(constant):
    assert value_check("du_dt", constant, DU_DT, allow_constant=True).passed


def test_a_constant_is_rejected_where_an_array_is_expected():
    result = value_check("du_dt", 1, DU_DT)
    assert not result.passed and result.attempted
    assert result.feedback.startswith("du_dt is a single number")
    assert "100 numbers (one per value of t)" in result.feedback


def test_a_wrong_constant_is_explained_as_a_value_mismatch():
    result = value_check("du_dt", 2, DU_DT, allow_constant=True)
    assert not result.passed
    assert "constant factor of 2" in result.feedback


def test_a_numpy_scalar_matches_a_scalar_expected_value():
    result = value_check(
        "total_charge",
        np.float32(NUMERICAL_INTEGRAL[-1]),
        NUMERICAL_INTEGRAL[-1],
        tolerance=Tolerance(rtol=1e-6),
    )
    assert result.passed
    assert result.feedback == "total_charge matches the expected value."


def test_values_within_tolerance_pass_and_beyond_fail():
    nudged = DV_DT * (1 + 1e-8)
    assert value_check("dv_dt", nudged, DV_DT).passed
    assert not value_check("dv_dt", nudged, DV_DT, tolerance=Tolerance(rtol=1e-10, atol=0)).passed


# --- Not attempted ----------------------------------------------------------------------------


@pytest.mark.parametrize("placeholder", [values.PLACEHOLDER, Ellipsis, None])
def test_placeholders_are_not_attempted(placeholder):
    result = value_check("du_dt", placeholder, DU_DT)
    assert not result.passed and not result.attempted
    assert result.feedback.startswith("du_dt is still ")


def test_a_placeholder_in_any_call_makes_a_function_check_not_attempted():
    result = check_gain(lambda inputs, a, theta, step: values.PLACEHOLDER)
    assert not result.attempted


# --- Values that are not numbers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "expected_words"),
    [
        ("-2*exp(-2*t)", ["dv_dt is a string", "'-2*exp(-2*t)'"]),
        (values.Opaque("function", "dv_dt(t)"), ["dv_dt is a function", "Call it"]),
        (values.Opaque("module", "numpy"), ["dv_dt is a module"]),
        (
            values.SymbolicText("-2*exp(-2*t)"),
            ["sympy expression", "on the t array", "sp.lambdify"],
        ),
        ({"t": 1}, ["dv_dt is a dict"]),
        (np.array([1.0, None], dtype=object), ["contains None"]),
        ([1.0, values.Opaque("function")], ["contains a function"]),
        ([1.0, "2"], ["contains a string"]),
        ([[1.0, 2.0], [3.0]], ["nested list with rows of different lengths"]),
    ],
    ids=[
        "str",
        "function",
        "module",
        "sympy",
        "dict",
        "object-array",
        "list-function",
        "list-str",
        "ragged",
    ],
)
def test_non_numeric_values_fail_naming_what_they_are(actual, expected_words):
    result = value_check("dv_dt", actual, DV_DT)
    assert not result.passed and result.attempted
    for words in expected_words:
        assert words in result.feedback
    assert "an array of 100 numbers (one per value of t) is expected" in result.feedback


def test_complex_values_where_real_ones_are_expected_fail_with_the_first_place():
    actual = DV_DT.astype(np.complex128)
    actual[4] += 0.5j
    result = value_check("dv_dt", actual, DV_DT)
    assert not result.passed
    assert "nonzero imaginary part, first at index 4 (t = 0.4)" in result.feedback


# --- NaN and infinity ---------------------------------------------------------------------


def test_nan_and_inf_are_counted_and_located():
    actual = DV_DT.copy()
    actual[3] = np.nan
    actual[7] = np.inf
    result = value_check("dv_dt", actual, DV_DT)
    assert not result.passed
    assert "has 2 NaN or infinite values" in result.feedback
    assert "first at index 3 (t = 0.3): nan" in result.feedback


def test_a_division_by_t_shows_the_infinity_at_t_zero():
    with np.errstate(divide="ignore"):
        actual = DV_DT / T
    result = value_check("dv_dt", actual, DV_DT)
    assert "has 1 NaN or infinite value where" in result.feedback
    assert "first at index 0 (t = 0): -inf" in result.feedback


# --- Shapes -----------------------------------------------------------------------------------


def test_one_value_short_points_at_np_diff():
    result = value_check("dv_dt", np.diff(V) / DT, DV_DT)
    assert not result.passed
    assert result.feedback.startswith("dv_dt has 99 values instead of 100.")
    assert "np.diff" in result.feedback


def test_one_value_too_many_where_a_forward_difference_is_expected_points_at_np_gradient():
    result = check_gain(
        lambda inputs, a, theta, step: np.gradient(rate_and_gain(inputs, a, theta, step)[0])
    )
    assert "has 80 values instead of 79" in result.feedback
    assert "np.gradient" in result.feedback


def test_other_lengths_are_stated_without_the_difference_hint():
    result = value_check("dv_dt", DV_DT[:50], DV_DT)
    assert "has 50 values instead of 100" in result.feedback
    assert "np.diff" not in result.feedback


def test_a_column_where_a_flat_array_is_expected_states_both_shapes():
    result = value_check("dv_dt", DV_DT[:, None], DV_DT)
    assert "has shape (100, 1), but an array of 100 numbers" in result.feedback


def test_an_array_where_a_single_number_is_expected():
    result = value_check("total_charge", NUMERICAL_INTEGRAL, NUMERICAL_INTEGRAL[-1])
    assert "is an array of shape (100,), but a single number is expected" in result.feedback


# --- Where and how much -------------------------------------------------------------------


def test_mismatch_evidence_gives_count_first_place_and_error_sizes():
    actual = DF_DT.copy()
    actual[3:6] += 0.05
    result = value_check("df_dt", actual, DF_DT)
    assert not result.passed and result.misconception is None
    assert result.feedback.startswith("df_dt differs from the expected values at 3 of 100 points")
    assert (
        f"first at index 3 (t = 0.3): {actual[3]:.4g} instead of {DF_DT[3]:.4g}" in result.feedback
    )
    assert "the largest absolute error is 0.05" in result.feedback
    assert "largest relative error" in result.feedback


def test_an_unrelated_wrong_curve_gets_the_evidence_alone():
    result = value_check("df_dt", T * DV_DT, DF_DT)  # the v*du_dt term left out
    assert result.feedback.startswith("df_dt differs from the expected values at 100 of 100")
    for relation in ("factor", "shifted", "negative", "close to the right curve"):
        assert relation not in result.feedback


def test_relative_errors_ignore_points_where_the_expected_value_is_zero():
    actual = PSP + 1e-3  # PSP is exactly 0 at t = 0
    result = value_check("PSP", actual, PSP)
    assert "inf" not in result.feedback


# --- Generic relations --------------------------------------------------------------------


def test_sign_flip():
    result = value_check("dv_dt", -DV_DT, DV_DT)
    assert result.feedback.startswith("dv_dt is the negative of the expected values everywhere")
    assert "Check the sign" in result.feedback
    assert (result.misconception, result.automatic) == ("auto:sign", True)
    assert result.suggested_value == "-dv_dt"


def test_missing_inner_derivative_without_a_listed_mistake_is_a_constant_factor():
    result = value_check("dv_dt", V, DV_DT)
    assert (result.misconception, result.automatic) == ("auto:factor", True)
    assert result.suggested_value == "-0.5 * dv_dt"
    assert result.feedback.startswith("dv_dt is off by a constant factor of -0.5 everywhere")
    assert "the expected values are -2 times yours" in result.feedback


def test_missing_inner_derivative_is_named_when_listed_as_a_mistake():
    feedback = {"no_inner_derivative": "The chain rule also needs the derivative of -t/tau."}
    result = value_check(
        "dv_dt", V, DV_DT, mistakes={"no_inner_derivative": V}, mistake_feedback=feedback
    )
    assert not result.passed
    assert result.misconception == "no_inner_derivative"
    assert result.feedback.startswith("dv_dt matches a common mistake.")
    assert feedback["no_inner_derivative"] in result.feedback
    assert "differs from the expected values at 100 of 100 points" in result.feedback


def test_rectangle_areas_without_the_width_are_off_by_one_over_dt():
    result = value_check("rectangle_areas", PSP, RECTANGLE_AREAS)
    assert "constant factor of 10 everywhere" in result.feedback


def test_constant_offset():
    result = value_check("dv_dt", DV_DT + 0.73, DV_DT)
    assert result.feedback.startswith("dv_dt is shifted by a constant +0.73 everywhere")


def test_integral_starting_one_sample_late():
    actual = np.concatenate([[0.0], NUMERICAL_INTEGRAL[:-1]])
    result = value_check("numerical_integral", actual, NUMERICAL_INTEGRAL)
    assert result.feedback.startswith("numerical_integral is shifted by one sample")
    assert "numerical_integral[i] holds the value expected at index i-1" in result.feedback


def test_integral_one_sample_ahead():
    actual = np.append(NUMERICAL_INTEGRAL[1:], 0.0)
    result = value_check("numerical_integral", actual, NUMERICAL_INTEGRAL)
    assert "holds the value expected at index i+1" in result.feedback


@pytest.mark.parametrize(
    ("name", "actual", "expected", "error"),
    [
        ("dv_dt", np.gradient(V, T), DV_DT, "9.4%"),
        ("df_dt", np.gradient(T * V, T), DF_DT, "18%"),
    ],
)
def test_numerical_derivative_where_the_exact_one_is_expected(name, actual, expected, error):
    result = value_check(name, actual, expected, quantity="derivative")
    assert result.feedback.startswith(f"{name} is close to the right curve but not exact")
    assert f"the largest error is {error} of the largest expected magnitude" in result.feedback
    assert "np.gradient" in result.feedback
    assert result.misconception == "auto:estimate" and result.suggested_value is None


def test_a_close_integral_is_not_called_a_derivative():
    areas = PSP * 0.1
    trapezoid = np.concatenate([[0], np.cumsum((areas[1:] + areas[:-1]) / 2)])
    result = value_check("numerical_integral", trapezoid, np.cumsum(areas), quantity="integral")
    assert "close to the right curve" in result.feedback
    assert "trapezoid rule" in result.feedback and "derivative" not in result.feedback
    assert result.misconception == "auto:estimate"


# --- Known mistakes -------------------------------------------------------------------------


def test_mistakes_are_matched_before_generic_relations():
    feedback = {"sign": "Differentiating exp(-x) brings down a minus sign."}
    result = value_check(
        "dv_dt", -DV_DT, DV_DT, mistakes={"sign": -DV_DT}, mistake_feedback=feedback
    )
    assert result.misconception == "sign"
    assert "negative of the expected" not in result.feedback


def test_a_number_given_as_a_mistake_stands_for_a_constant_array():
    feedback = {"derivative_of_t_is_zero": "t changes with t, so its derivative is not 0."}
    result = value_check(
        "du_dt",
        0,
        DU_DT,
        mistakes={"derivative_of_t_is_zero": 0.0},
        allow_constant=True,
        mistake_feedback=feedback,
    )
    assert result.misconception == "derivative_of_t_is_zero"


def test_a_mistake_reproduced_in_every_call_is_claimed_even_with_another_shape():
    result = check_gain(
        lambda inputs, a, theta, step: np.gradient(rate_and_gain(inputs, a, theta, step)[0], step)
    )
    assert result.misconception == "gradient"
    assert result.feedback.startswith("gain matches a common mistake.")
    assert GAIN_FEEDBACK["gradient"] in result.feedback
    assert f"When called {label_of(0)}, it has 80 values instead of 79." in result.feedback


def test_a_mistake_reproduced_in_only_some_calls_is_not_claimed():
    # np.gradient with the tutorial's step hard-coded matches the mistake only in the first call
    result = check_gain(
        lambda inputs, a, theta, step: np.gradient(rate_and_gain(inputs, a, theta, step)[0], 0.1)
    )
    assert result.misconception is None
    assert not result.passed


def test_mistakes_without_feedback_are_a_configuration_error():
    with pytest.raises(ValueError, match="no feedback for mistakes"):
        value_check("dv_dt", V, DV_DT, mistakes={"no_inner_derivative": V})


def test_a_check_needs_cases():
    with pytest.raises(ValueError, match="at least one case"):
        compare_numeric("dv_dt", [])


# --- Function checks ----------------------------------------------------------------------


def test_correct_function_passes_in_all_calls():
    result = check_gain(lambda inputs, a, theta, step: rate_and_gain(inputs, a, theta, step)[1])
    assert result.passed
    assert result.feedback == f"gain matches the expected values in all {len(GAIN_CALLS)} calls."


def test_hard_coded_step_is_correct_for_the_tutorial_inputs_only():
    result = check_gain(
        lambda inputs, a, theta, step: np.diff(rate_and_gain(inputs, a, theta, step)[0]) / 0.1
    )
    assert not result.passed and result.misconception is None
    assert f"gain is correct when called {label_of(0)} (the tutorial's inputs)" in result.feedback
    assert f"but wrong when called {label_of(1)}:" in result.feedback
    assert "hard-coded" in result.feedback


def test_hard_coded_input_array_shows_as_a_wrong_length_in_other_calls():
    tutorial_input = np.arange(0, 8, 0.1)
    result = check_gain(
        lambda inputs, a, theta, step: rate_and_gain(tutorial_input, a, theta, step)[1]
    )
    assert "hard-coded" in result.feedback
    assert f"wrong when called {label_of(1)}: it has 79 values instead of" in result.feedback


def test_a_relation_shared_by_all_calls_is_reported_for_the_first_failing_call():
    result = check_gain(
        lambda inputs, a, theta, step: np.diff(rate_and_gain(inputs, a, theta, step)[0])
    )
    assert result.feedback.startswith(f"gain is wrong when called {label_of(0)}: it is off by")
    assert "constant factor of 0.1 everywhere" in result.feedback


def test_a_relation_holding_in_only_some_failing_calls_is_not_claimed():
    def student(inputs, a, theta, step):
        gain = rate_and_gain(inputs, a, theta, step)[1]
        return -gain if step == 0.1 else gain + np.linspace(0, 1, gain.size) ** 2

    result = check_gain(student)
    assert "negative" not in result.feedback
    assert result.feedback.startswith(f"gain is wrong when called {label_of(0)}: it differs")


def test_a_call_failure_names_the_exception_message_line_and_call():
    failure = values.CallFailure("ZeroDivisionError", "division by zero", 7, "gain = x / 0")
    result = check_gain(lambda *_: failure)
    assert not result.passed and result.attempted
    assert result.feedback.startswith(f"gain is wrong when called {label_of(0)}:")
    assert "ZeroDivisionError (division by zero) at line 7: `gain = x / 0`" in result.feedback


def test_a_call_failure_after_correct_calls_is_not_blamed_on_hard_coding():
    failure = values.CallFailure("OverflowError", "math range error", 3)

    def student(inputs, a, theta, step):
        return rate_and_gain(inputs, a, theta, step)[1] if step == 0.1 else failure

    result = check_gain(student)
    assert "OverflowError (math range error) at line 3" in result.feedback
    assert "hard-coded" not in result.feedback


def test_the_exact_derivative_where_a_forward_difference_is_expected_is_close_in_all_calls():
    def student(inputs, a, theta, step):
        s = 1 / (1 + np.exp(-a * (inputs[:-1] - theta)))
        return a * s * (1 - s)

    result = check_gain(student)
    assert result.feedback.startswith(f"gain is wrong when called {label_of(0)}: it is close")
    assert "or the other way round" in result.feedback


def test_calls_without_labels_are_numbered():
    cases = [Case(DV_DT, DV_DT), Case(-DV_DT[:50], DV_DT[:50])]
    result = compare_numeric("dv_dt", cases)
    assert "correct in call 1 (the tutorial's inputs) but wrong in call 2" in result.feedback


# --- plot evidence -------------------------------------------------------------------------


def test_plot_evidence_of_a_huge_wrong_answer_stays_small_and_counts_the_whole():
    t = np.linspace(0, 1, 2_000)
    huge = np.linspace(0, 1, 3_000_000)
    curve = compare_numeric("y", [Case(huge, t**2, axis=("t", t))]).evidence[0]
    assert len(curve.actual) <= MAX_CURVE_POINTS and len(curve.expected) <= MAX_CURVE_POINTS
    assert (curve.points, curve.actual_points) == (2_000, 3_000_000)
    # drawn position by position: the last value the student gave is at its own position
    assert curve.x_name == "index" and curve.actual_x[-1] == 2_999_999.0
    assert curve.actual[-1] == 1.0


def test_plot_evidence_keeps_every_differing_point_it_can_among_the_thinned_ones():
    t = np.linspace(0, 1, 100_000)
    actual = t**2
    actual[12_345] += 1  # between two evenly spread points: kept as a marker anyway
    actual[50_000:50_600] += 1
    curve = compare_numeric("y", [Case(actual, t**2, axis=("t", t))]).evidence[0]
    assert len(curve.x) <= 2 * MAX_CURVE_POINTS
    assert curve.mismatches == 601 and curve.points == 100_000
    marked = [x for x, wrong in zip(curve.x, curve.mismatch, strict=True) if wrong]
    assert t[12_345] in marked and len(marked) == MAX_CURVE_POINTS
    assert curve.x[0] == 0.0 and curve.x[-1] == 1.0
