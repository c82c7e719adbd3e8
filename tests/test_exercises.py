"""Each exercise graded end to end: correct answers in the styles students write them, and
each listed mistake recognised with feedback that explains it."""

from __future__ import annotations

import pytest

from conftest import check, exercise
from graders import engine, spec, submission
from graders.results import CheckStatus, Status

PRODUCT_RULE_GIVEN = """
t = np.arange(0, 10, .1)
tau = 0.5
f = t * np.exp(-t/tau)
u_t = t
v_t = np.exp(-t/tau)
"""


@pytest.mark.sandbox
@pytest.mark.parametrize(
    "answers",
    [
        "du_dt = 1\ndv_dt = -1/tau * np.exp(-t/tau)\ndf_dt = u_t * dv_dt + v_t * du_dt",
        "du_dt = np.ones_like(t)\ndv_dt = -np.exp(-t/tau) / tau\n"
        "df_dt = np.exp(-t/tau) * (1 - t/tau)",
        "du_dt = [1.0] * len(t)\ndv_dt = list(-1/tau * np.exp(-t/tau))\n"
        "df_dt = tuple(t * np.array(dv_dt) + v_t)",
        "du_dt = np.float32(1)\ndv_dt = (-1/tau * np.exp(-t/tau)).astype(np.float32)\n"
        "df_dt = u_t * dv_dt + v_t * du_dt",
        "import sympy as sp\nts = sp.Symbol('t')\nv = sp.exp(-ts/tau)\n"
        "du_dt = 1\ndv_dt = sp.lambdify(ts, sp.diff(v, ts), 'numpy')(t)\n"
        "df_dt = sp.lambdify(ts, sp.diff(ts*v, ts), 'numpy')(t)",
    ],
    ids=["tutorial", "rewritten", "lists-and-tuples", "float32", "sympy-lambdify"],
)
def test_product_rule_correct_styles(grade_code, answers):
    result = grade_code(
        "product_rule_alpha", PRODUCT_RULE_GIVEN + answers + "\nplot_alpha_func(t, f, df_dt)\n"
    )
    assert exercise(result, "product_rule_alpha").status == Status.PASSED, result.to_dict()
    assert result.score == result.max_score == 3
    assert result.exit_code == 0


@pytest.mark.sandbox
def test_product_rule_given_values_in_scope_for_a_bare_answer_cell(grade_code):
    result = grade_code(
        "product_rule_alpha",
        "du_dt = 1\ndv_dt = -np.exp(-t/tau)/tau\ndf_dt = u_t*dv_dt + v_t*du_dt\n",
    )
    assert exercise(result, "product_rule_alpha").status == Status.PASSED


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("name", "answer", "misconception", "words"),
    [
        ("dv_dt", "np.exp(-t/tau)", "dv_dt_missing_inner_derivative", "inner function"),
        ("dv_dt", "-tau * np.exp(-t/tau)", "dv_dt_times_tau", "denominator"),
        ("dv_dt", "1/tau * np.exp(-t/tau)", "dv_dt_sign_error", "sign"),
        ("du_dt", "t", "du_dt_is_u", "slope"),
    ],
)
def test_product_rule_derivative_mistakes(grade_code, name, answer, misconception, words):
    answers = {"du_dt": "1", "dv_dt": "-1/tau * np.exp(-t/tau)"}
    answers[name] = answer
    source = PRODUCT_RULE_GIVEN + "".join(f"{k} = {v}\n" for k, v in answers.items())
    source += "df_dt = u_t * (-1/tau * np.exp(-t/tau)) + v_t\n"
    result = grade_code("product_rule_alpha", source)
    graded = check(result, "product_rule_alpha", name)
    assert graded.status == CheckStatus.FAILED
    assert graded.misconception == misconception
    assert words in graded.feedback
    assert graded.hint
    assert check(result, "product_rule_alpha", "df_dt").status == CheckStatus.PASSED
    assert exercise(result, "product_rule_alpha").status == Status.FAILED
    assert result.exit_code == 1


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("df_dt", "misconception"),
    [
        ("du_dt * dv_dt", "df_dt_product_of_derivatives"),
        ("u_t * dv_dt", "df_dt_missing_v_du_term"),
        ("v_t * du_dt", "df_dt_missing_u_dv_term"),
    ],
)
def test_product_rule_combination_mistakes(grade_code, df_dt, misconception):
    source = PRODUCT_RULE_GIVEN + f"du_dt = 1\ndv_dt = -1/tau * np.exp(-t/tau)\ndf_dt = {df_dt}\n"
    graded = check(grade_code("product_rule_alpha", source), "product_rule_alpha", "df_dt")
    assert graded.misconception == misconception
    assert "product rule" in graded.feedback


@pytest.mark.sandbox
def test_wrong_dv_dt_carried_into_df_dt_is_explained(grade_code):
    source = (
        PRODUCT_RULE_GIVEN
        + "du_dt = 1\ndv_dt = np.exp(-t/tau)\ndf_dt = u_t * dv_dt + v_t * du_dt\n"
    )
    result = grade_code("product_rule_alpha", source)
    assert check(result, "product_rule_alpha", "df_dt").misconception == (
        "df_dt_from_dv_dt_missing_inner_derivative"
    )
    assert "Fix dv_dt" in check(result, "product_rule_alpha", "df_dt").feedback


@pytest.mark.sandbox
def test_generic_factor_is_given_when_no_mistake_matches(grade_code):
    source = (
        PRODUCT_RULE_GIVEN + "du_dt = 1\ndv_dt = -3 * np.exp(-t/tau)\ndf_dt = u_t * dv_dt + v_t\n"
    )
    graded = check(grade_code("product_rule_alpha", source), "product_rule_alpha", "dv_dt")
    assert (graded.misconception, graded.automatic) == ("auto:factor", True)
    assert graded.suggested_value == "1.5 * dv_dt"
    assert "1.5" in graded.feedback  # -3 is 1.5 times -1/tau = -2
    assert "-1/tau" not in graded.feedback and "np.exp" not in graded.feedback


PSP_GIVEN = "J = 1\ntau_s = 1\nt_sp = 1\ndt = .1\nt = np.arange(0, 10, dt)\n"
PSP = "J * t * np.exp(-(t - t_sp)/tau_s)"


@pytest.mark.sandbox
def test_psp_correct(grade_code):
    source = (
        PSP_GIVEN
        + f"PSP = {PSP}\nrectangle_areas = PSP * dt\n"
        + "numerical_integral = np.cumsum(rectangle_areas)\n"
    )
    assert exercise(grade_code("psp_charge", source), "psp_charge").status == Status.PASSED


@pytest.mark.sandbox
def test_psp_correct_with_a_loop(grade_code):
    source = PSP_GIVEN + (
        f"PSP = {PSP}\nrectangle_areas = PSP * dt\n"
        "numerical_integral = []\ntotal = 0\n"
        "for area in rectangle_areas:\n    total += area\n    numerical_integral.append(total)\n"
    )
    assert exercise(grade_code("psp_charge", source), "psp_charge").status == Status.PASSED


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("name", "lines", "misconception"),
    [
        ("PSP", "PSP = J * t * np.exp((t - t_sp)/tau_s)", "psp_exponent_sign_flipped"),
        ("rectangle_areas", f"PSP = {PSP}\nrectangle_areas = PSP", "areas_without_dt"),
        (
            "numerical_integral",
            f"PSP = {PSP}\nrectangle_areas = PSP * dt\n"
            "numerical_integral = np.sum(rectangle_areas)",
            "integral_total_not_cumulative",
        ),
        (
            "numerical_integral",
            f"PSP = {PSP}\nrectangle_areas = PSP * dt\nnumerical_integral = np.cumsum(PSP)",
            "cumsum_without_dt",
        ),
    ],
)
def test_psp_mistakes(grade_code, name, lines, misconception):
    graded = check(grade_code("psp_charge", PSP_GIVEN + lines + "\n"), "psp_charge", name)
    assert graded.status == CheckStatus.FAILED
    assert graded.misconception == misconception


NEURON = """
def compute_rate_and_gain(I, a, theta, current_timestep):
    rate = {rate}
    gain = {gain}
    return {returns}
"""
RATE = "(1+np.exp(-a*(I-theta)))**-1 - (1+np.exp(a*theta))**-1"
GAIN = "(rate[1:] - rate[0:-1])/current_timestep"


def neuron(rate: str = RATE, gain: str = GAIN, returns: str = "rate, gain") -> str:
    return NEURON.format(rate=rate, gain=gain, returns=returns)


@pytest.mark.sandbox
@pytest.mark.parametrize(
    "source",
    [
        neuron(),
        neuron(gain="np.diff(rate) / current_timestep"),
        neuron(rate="1/(1+np.exp(-a*(I-theta))) - 1/(1+np.exp(a*theta))", returns="(rate, gain)"),
        neuron(returns="[rate, gain]"),
    ],
    ids=["tutorial", "np.diff", "fractions", "list"],
)
def test_neuron_gain_correct(grade_code, source):
    result = grade_code("neuron_gain", source)
    assert exercise(result, "neuron_gain").status == Status.PASSED, result.to_dict()
    assert "7 calls" in check(result, "neuron_gain", "gain").feedback


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("source", "name", "misconception"),
    [
        (neuron(gain="np.diff(rate)"), "gain", "gain_not_divided_by_step"),
        (neuron(gain="np.diff(rate) / 0.1"), "gain", "gain_step_hard_coded"),
        (neuron(gain="np.gradient(rate, current_timestep)"), "gain", "gain_from_np_gradient"),
        (neuron(rate="1/(1+np.exp(-a*(I-theta)))"), "rate", "rate_missing_offset"),
        (neuron(returns="gain, rate"), "rate", "rate_gain_swapped"),
        (neuron(returns="gain, rate"), "gain", "rate_gain_swapped"),
    ],
)
def test_neuron_gain_mistakes(grade_code, source, name, misconception):
    graded = check(grade_code("neuron_gain", source), "neuron_gain", name)
    assert graded.status == CheckStatus.FAILED
    assert graded.misconception == misconception


@pytest.mark.sandbox
def test_ignoring_the_input_fails_with_the_inputs_that_show_it(grade_code):
    source = neuron(
        rate="(1+np.exp(-a*(np.arange(0, 8, 0.1)-theta)))**-1 - (1+np.exp(a*theta))**-1"
    )
    graded = check(grade_code("neuron_gain", source), "neuron_gain", "rate")
    assert graded.status == CheckStatus.FAILED
    assert "with I = np.arange(" in graded.feedback


@pytest.mark.sandbox
def test_function_that_returns_one_value(grade_code):
    graded = check(grade_code("neuron_gain", neuron(returns="rate")), "neuron_gain", "gain")
    assert graded.status == CheckStatus.FAILED
    assert "should return 2 values" in graded.feedback


@pytest.mark.sandbox
def test_function_that_raises_names_the_line(grade_code):
    source = neuron(gain="rate[1:] - rate[0:-1] / current_timestp")
    graded = check(grade_code("neuron_gain", source), "neuron_gain", "gain")
    assert "NameError" in graded.feedback
    assert "current_timestp" in graded.feedback


@pytest.mark.sandbox
@pytest.mark.parametrize(
    "source",
    [
        'dr_da = "4a^3 e^(a^4+1)"',
        "import sympy as sp\na = sp.Symbol('a')\ndr_da = sp.diff(sp.exp(a**4 + 1), a)",
        "a = sp.symbols('a')\ndr_da = 4*a**3*sp.exp(a**4+1)",
    ],
    ids=["string", "sympy-diff", "sympy-written"],
)
def test_chain_rule_in_code(grade_code, source):
    result = grade_code("chain_rule", source)
    assert exercise(result, "chain_rule").status == Status.PASSED, result.to_dict()


@pytest.mark.parametrize(
    ("answer", "misconception"),
    [
        ("e^(a^4+1)", "chain_inner_forgotten"),
        ("4a^3", "chain_outer_forgotten"),
        ("(a^4+1)e^(a^4)", "power_rule_on_exp"),
        ("e^(4a^3)", "derivative_in_exponent"),
    ],
)
def test_chain_rule_typed_mistakes(answer, misconception):
    result = engine.grade(submission.from_answer(answer), [spec.find("chain_rule")])
    graded = check(result, "chain_rule", "dr_da")
    assert graded.misconception == misconception
    assert exercise(result, "chain_rule").status == Status.FAILED


def test_empty_typed_answer_is_not_attempted():
    result = engine.grade(submission.from_answer("  "), [spec.find("chain_rule")])
    assert exercise(result, "chain_rule").status == Status.NOT_ATTEMPTED
    assert result.exit_code == 1


def test_unparseable_typed_answer_fails_with_position():
    result = engine.grade(submission.from_answer("4a^3 e^(a^4+1"), [spec.find("chain_rule")])
    assert exercise(result, "chain_rule").status == Status.FAILED
    feedback = check(result, "chain_rule", "dr_da").feedback
    assert "position" in feedback or "^" in feedback


def test_typed_answer_for_a_code_exercise_is_refused():
    with pytest.raises(engine.UsageError, match="expects code"):
        engine.grade(submission.from_answer("1"), [spec.find("product_rule_alpha")])
