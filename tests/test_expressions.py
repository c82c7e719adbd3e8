"""Tests for the typed-formula parser and the numeric expression comparator."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from graders import values
from graders.checks.expression import ExpressionMistake, compare_expression
from graders.formula import ExpressionError, evaluate, parse, render

REFERENCE = "4*a^3*exp(a^4 + 1)"
ROOT = Path(__file__).resolve().parents[1]

# The mistakes the real chain_rule exercise lists (exercises/chain_rule.yaml).
MISTAKES = (
    ExpressionMistake("chain_inner_forgotten", "e^(a^4+1)", "Outer derivative alone."),
    ExpressionMistake("chain_outer_forgotten", "4a^3", "Inner derivative alone."),
    ExpressionMistake("power_rule_on_exp", "(a^4+1) e^(a^4)", "Power rule on e^t."),
    ExpressionMistake("derivative_in_exponent", "e^(4a^3)", "Differentiated the exponent."),
)


def grade(answer: object, **options: object):
    return compare_expression(
        "dr_da", answer, REFERENCE, variable="a", mistakes=MISTAKES, **options
    )


def parse_error(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        parse(text, "a")
    return caught.value


# --- Notations that mean the right answer ---------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        "4a^3 e^(a^4+1)",
        "4*a**3*exp(a**4+1)",
        "4a³e^(a⁴+1)",
        "$4a^3 e^{a^4+1}$",
        "$$4a^3 e^{a^4+1}$$",
        r"\(4a^3 e^{a^4+1}\)",
        r"4 a^{3} \cdot e^{a^{4}+1}",
        r"\frac{4a^3}{1} \exp\left(a^4+1\right)",
        r"4a^3 \times \exp{a^4+1}",
        r"4a^3\,\mathrm{e}^{a^4+1}",
        "dr/da = 4a^3e^(a^4+1)",
        "dr_da = 4a^3 e^(a^4+1)",
        "r'(a) = 4a^3 e^(a^4+1)",
        r"\frac{dr}{da} = 4a^3 e^{a^4+1}",
        "d/da r = 4a^3 e^(a^4+1)",
        "E**(a**4+1)*4*a**3",
        "4a^3 · e^(a^4+1)",
        "4a^3 × e^(a^4+1)",
        "4a^3 ⋅ e^(a^4+1)",
        "e^(a^4+1)*4a^3",
        "4a^3e^{a^4}e",
        "4a^3 e^(a^4) e",
        "4a^3e^(a^4+1)",
        "4 a a a e^(a^4+1)",
        "4aaae^(a^4+1)",
        "[4a^3] {e^(a^4+1)}",
        "2(2a^3) e^(a^4+1)",
        "0(a+1)(a-1) + 4a^3 e^(a^4+1)",
        "4a^3 exp(a^4) exp(1)",
        "4a^3 e^(a^4 + 1.0)",
        "4a^3 e^(a^4 + .5 + 0.5)",
        "4a^3 e^(a^4 + 1e0)",
        "4a^3 e^(a^4 − 1 + 2)",
        "a⁻¹ · 4a⁴ e^(a^4+1)",
        "-(-4a^3 e^(a^4+1))",
        r"\sqrt{16} a^3 e^{a^4+1}",
        r"\sqrt[3]{64} a^3 e^{a^4+1}",
        "4 a^3 e^(ln(e) + a^4)",
    ],
)
def test_equivalent_notations_pass(answer: str) -> None:
    result = grade(answer)
    assert result.passed, result.feedback
    assert result.attempted


@pytest.mark.parametrize(
    "text",
    [
        "4*a**3*exp(a**4 + 1)",
        "E**(a**4 + 1)*4*a**3",
        "4*a**3*E**(a**4 + 1)",
        "4*exp(a**4 + 1)*a**3",
        "4*E*a**3*exp(a**4)",
    ],
)
def test_sympy_text_passes(text: str) -> None:
    result = grade(values.SymbolicText(text=text))
    assert result.passed, result.feedback


def test_pass_feedback_shows_the_normalized_reading() -> None:
    result = grade("4a^3 e^(a^4+1)")
    assert "4*a^3*exp(a^4 + 1)" in result.feedback


# --- Reading: precedence, rendering, evaluation ----------------------------------------


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("4a^3 e^(a^4+1)", "4*a^3*exp(a^4 + 1)"),
        ("-a^2", "-a^2"),
        ("-(a^2)", "-a^2"),
        ("(-a)^2", "(-a)^2"),
        ("2^3^a", "2^(3^a)"),
        ("a^-1", "a^(-1)"),
        ("a⁻¹", "a^(-1)"),
        ("2(a+1)", "2*(a + 1)"),
        ("(a+1)(a-1)", "(a + 1)*(a - 1)"),
        ("a - (a - 1)", "a - (a - 1)"),
        ("a/(2a)", "a/(2*a)"),
        ("3e^(a)", "3*exp(a)"),
        ("1e-3 a", "0.001*a"),
        ("ae", "a*e"),
        ("pi a", "pi*a"),
        ("π a", "pi*a"),
        ("ln(a) + log(a)", "ln(a) + ln(a)"),
        ("asin(a) + arcsin(a)", "arcsin(a) + arcsin(a)"),
        ("Abs(a)", "abs(a)"),
        ("log10(a)", "log10(a)"),
        (r"\log_{10}(a)", "log10(a)"),
        ("--a", "a"),
    ],
)
def test_render_shows_how_the_text_was_read(text: str, rendered: str) -> None:
    assert render(parse(text, "a")) == rendered


def test_unary_minus_binds_looser_than_power() -> None:
    points = np.array([0.5, 2.0])
    np.testing.assert_allclose(evaluate(parse("-a^2", "a"), points), -(points**2))


def test_evaluate_returns_complex_of_the_same_shape() -> None:
    points = np.linspace(-1, 1, 6).reshape(2, 3)
    result = evaluate(parse("sqrt(a) + 2", "a"), points)
    assert result.dtype == np.complex128
    assert result.shape == (2, 3)
    np.testing.assert_allclose(evaluate(parse("7", "a"), points), np.full((2, 3), 7))


def test_evaluate_overflow_gives_inf_or_nan_without_warnings() -> None:
    with np.errstate(all="raise"):
        result = evaluate(parse("e^(e^(e^(e^a))) + 1/(a-a)", "a"), np.array([1.0, 2.0]))
    assert not np.isfinite(result).any()


# --- Wrong answers and their feedback --------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "mistake_id"),
    [
        ("e^(a^4+1)", "chain_inner_forgotten"),
        ("exp(a**4 + 1)", "chain_inner_forgotten"),
        ("4a^3", "chain_outer_forgotten"),
        ("(a^4+1)e^(a^4)", "power_rule_on_exp"),
        ("e^(4a^3)", "derivative_in_exponent"),
    ],
)
def test_known_mistakes_are_recognised(answer: str, mistake_id: str) -> None:
    result = grade(answer)
    assert not result.passed
    assert result.misconception == mistake_id
    feedback = next(m.feedback for m in MISTAKES if m.id == mistake_id)
    assert result.feedback.startswith(feedback)
    assert "We read your answer as" in result.feedback


def test_constant_factor_is_named() -> None:
    result = grade("8a^3 e^(a^4+1)")
    assert not result.passed
    assert (result.misconception, result.automatic) == ("auto:factor", True)
    assert result.suggested_value == "2*(4*a^3*exp(a^4 + 1))"
    assert "constant factor of 2 " in result.feedback


def test_fractional_constant_factor_is_named() -> None:
    assert "constant factor of 0.25 " in grade("a^3 e^(a^4+1)").feedback


def test_sign_flip_is_named() -> None:
    result = grade("-4a^3 e^(a^4+1)")
    assert not result.passed
    assert "negative" in result.feedback


def test_constant_offset_is_named() -> None:
    result = grade("4a^3 e^(a^4+1) + 2")
    assert not result.passed
    assert "by a constant (2)" in result.feedback


def test_slightly_wrong_coefficient_fails() -> None:
    result = grade("4.001*a^3*e^(a^4+1)")
    assert not result.passed
    assert "1.0003" in result.feedback  # enough digits to differ from 1


def test_agreement_only_at_integers_fails() -> None:
    result = grade("4*a^3*e^(a^4+1) + a*(a-1)*(a+1)*sin(pi*a)")
    assert not result.passed
    assert "at a = " in result.feedback
    assert "the derivative there is" in result.feedback


def test_evidence_quotes_a_point_and_both_values() -> None:
    result = grade("4a^3 e^(a^4+1) + a^2")
    assert result.feedback.startswith("Not quite: at a = 0.36 your expression gives ")
    assert "the derivative there is 0.5159" in result.feedback


def test_feedback_does_not_reveal_the_reference() -> None:
    for answer in ("4a^3 e^(a^4+1) + a^2", "8a^3 e^(a^4+1)", "sin(a)", "e^(4a^3)"):
        feedback = grade(answer).feedback
        assert "exp(a^4 + 1)" not in feedback.replace(render(parse(answer, "a")), "")


def test_reading_is_shown_so_bracket_slips_are_visible() -> None:
    result = grade("4a^3 e^a^4+1")
    assert not result.passed
    assert "We read your answer as 4*a^3*exp(a^4) + 1" in result.feedback


def test_non_finite_answer_is_a_mismatch() -> None:
    result = grade("4a^3 e^(a^4+1) / (a - a)")
    assert not result.passed
    assert "undefined" in result.feedback


def test_seed_and_domain_are_used() -> None:
    # 1/(a - 2) has a pole outside the default domain, so it is a plain wrong answer there.
    result = grade("4a^3 e^(a^4+1) + 1e-3/(a - 2)", domain=(-1.0, 1.0), seed=3, points=10)
    assert not result.passed


# --- Not attempted, and values that are not formulas -----------------------------------


@pytest.mark.parametrize("answer", [None, values.PLACEHOLDER, "", "   \n", "...", "$$", "dr/da ="])
def test_missing_answers_are_not_attempted(answer: object) -> None:
    result = grade(answer)
    assert not result.passed
    assert not result.attempted
    assert result.feedback.startswith("No answer yet:")


@pytest.mark.parametrize(
    ("answer", "described"),
    [
        (3, "the number 3"),
        (2.5, "the number 2.5"),
        (np.float64(2.5), "the number 2.5"),
        (np.arange(3.0), "a numpy array of shape (3,)"),
        ([1, 2], "a list of 2 items"),
        (values.Opaque("function", "dr_da(a)"), "a function (dr_da(a))"),
    ],
)
def test_values_that_are_not_formulas_fail_clearly(answer: object, described: str) -> None:
    result = grade(answer)
    assert not result.passed
    assert result.attempted
    assert described in result.feedback
    assert "expression in a" in result.feedback


# --- Parse errors -----------------------------------------------------------------------


def test_wrong_variable_names_the_right_one() -> None:
    result = grade("4x^3 e^(x^4+1)")
    assert not result.passed
    assert "this exercise's variable is a; your answer uses x" in result.feedback


def test_unknown_name_reports_its_position() -> None:
    error = parse_error("4a^3 + foo(a)")
    assert error.position == 7
    assert "unknown name 'foo' at position 7" in error.message


def test_unclosed_bracket_points_at_it() -> None:
    error = parse_error("4a^3 e^(a^4+1")
    assert error.position == 7
    assert error.message.endswith("4a^3 e^(a^4+1\n           ^")


@pytest.mark.parametrize(
    ("text", "position", "phrase"),
    [
        ("4a^3 e^(a^4+1))", 14, "unmatched ')'"),
        ("(a]", 2, "closed by ']'"),
        ("4a^3 +", 5, "ends with '+'"),
        ("exp()", 3, "empty brackets"),
        ("*a", 0, "found '*'"),
        ("2 3", 2, "missing operator"),
        ("sin a", 4, "needs its argument in brackets"),
        ("sin^2(a)", 3, "sin(...)^2"),
        ("a = 4", 2, "'='"),
        ("1,5a", 1, "','"),
        ("a; a", 1, "';'"),
        ("'4a^3'", 0, "quotes"),
        ("3!", 1, "factorial"),
        ("|a|", 0, "abs(...)"),
        (r"\foo{a}", 0, r"\foo"),
        (r"\frac{1}a", 8, r"\frac{...}{...}"),
        ("1" * 31, 0, "number too long"),
    ],
)
def test_syntax_errors_name_the_position(text: str, position: int, phrase: str) -> None:
    error = parse_error(text)
    assert error.position == position
    assert phrase in error.message
    assert f"position {position}" in error.message


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("diff(exp(a**4+1), a)", "`diff` asks the computer to do the differentiation"),
        ("Derivative(exp(a**4+1), a)", "`Derivative` asks the computer"),
        ("integrate(a, a)", "`integrate` asks the computer to integrate"),
        ("Integral(a, a)", "`Integral` asks the computer to integrate"),
        ("factorial(3)", "`factorial` is a computer-algebra command"),
        ("simplify(a)", "`simplify` is a computer-algebra command"),
        ("limit(a, a, 0)", "`limit` is a computer-algebra command"),
        ("Symbol('a')", "`Symbol` is a computer-algebra command"),
        ("lambda a: a", "`lambda` is Python code"),
        ("sympify('a')", "`sympify` is Python code"),
        ("eval('a')", "`eval` is Python code"),
        ("__import__('os')", "`__import__` is Python code"),
        ("a.conjugate()", "attribute access"),
        ("np.exp(a)", "np.exp"),
    ],
)
def test_commands_and_code_are_refused(text: str, phrase: str) -> None:
    assert phrase in parse_error(text).message


def test_parse_error_becomes_failed_feedback() -> None:
    result = grade("diff(exp(a**4+1), a)")
    assert not result.passed
    assert result.attempted
    assert "write the derivative itself as a formula in a" in result.feedback


# --- Hostile input: bounded, fast, never a crash ------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        "10**10**10**10",
        "a^99999999",
        "e^(e^(e^(e^a)))",
        "9" * 30 + "^" + "9" * 30,
        "x" * 100_000,
        "(" * 100_000,
        "-(" * 50_000,
        "(" * 500 + "a" + ")" * 500,
        "-(" * 300 + "a" + ")" * 300,
        "-" * 999 + "a",
        "a^" * 400 + "a",
        "+".join(["a"] * 450),
        "__import__('os').system('true')",
        "lambda a: a",
        "a.conjugate()",
        "1e999999999 * a",
    ],
)
def test_hostile_input_returns_quickly(answer: str) -> None:
    start = time.perf_counter()
    result = grade(answer)
    assert time.perf_counter() - start < 5
    assert not result.passed


def test_length_is_checked_before_anything_else() -> None:
    error = parse_error("(" * 100_000)
    assert error.message == "answer is too long (100000 characters; at most 1000)"


def test_nesting_and_size_limits_have_messages() -> None:
    assert "nested too deeply" in parse_error("(" * 50 + "a" + ")" * 50).message
    assert "more than 400 parts" in parse_error("+".join(["a"] * 450)).message


def test_module_does_not_import_sympy() -> None:
    code = "import graders.checks.expression, sys; print('sympy' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "False"
