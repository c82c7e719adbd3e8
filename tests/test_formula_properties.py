"""Property tests of the typed-formula parser: whatever a student types, the grader gets a
tree or an ExpressionError, quickly, and a tree it can evaluate and render."""

from __future__ import annotations

import time

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graders.formula import (
    MAX_LENGTH,
    MAX_NODES,
    Binary,
    Call,
    ExpressionError,
    Negate,
    Node,
    evaluate,
    parse,
    render,
)

# Pieces of the grammar (and of what it refuses), so that generated text reaches deep into
# the parser rather than failing at the first character.
PIECES = [
    "a", "e", "E", "pi", "π", "2", "0.5", "1e3", "4", "10", "+", "-", "−", "*", "**", "/",
    "^", "·", "(", ")", "[", "]", "{", "}", "exp", "ln", "log", "log10", "sqrt", "sin",
    "abs", "⁴", "⁻¹", "\\frac", "\\cdot", "\\left(", "\\right)", "\\sqrt", "\\exp", "e^{",
    "$", "dr/da =", " ", "=", "diff", "x", "__", ".", ",", "'", "\\", "ae", "aexp",
]  # fmt: skip
formula_like = st.lists(st.sampled_from(PIECES), max_size=80).map("".join)
any_text = st.text(max_size=300)
deep = st.integers(1, 600).map(lambda n: "(" * n + "a" + ")" * n)
powers = st.integers(1, 600).map(lambda n: "a^" * n + "a")

BUDGET_SECONDS = 1.0


def _depth(node: Node) -> int:
    """The tree's depth, without recursion (the property is that it is bounded)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        match current:
            case Binary(left=left, right=right):
                stack += [(left, depth + 1), (right, depth + 1)]
            case Negate(operand=child) | Call(argument=child):
                stack.append((child, depth + 1))
    return deepest


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.one_of(any_text, formula_like, deep, powers))
def test_any_text_gives_a_bounded_tree_or_an_expression_error(text: str) -> None:
    start = time.perf_counter()
    try:
        tree = parse(text, "a")
    except ExpressionError as error:
        assert error.message, "every refusal explains itself to the student"
        assert error.position is None or 0 <= error.position <= len(text)
    else:
        assert len(text) <= MAX_LENGTH
        assert _depth(tree) <= MAX_NODES
        values = evaluate(tree, np.array([0.62, -1.3]))  # no RecursionError, no exception
        assert values.shape == (2,)
        _reads_back(tree, values[:1])
    assert time.perf_counter() - start < BUDGET_SECONDS


def _reads_back(tree: Node, values: np.ndarray) -> None:
    """How we read the answer (shown to the student) reads back as the same formula.

    Rendering brackets every exponent that is itself a power, so a chain of powers near the
    nesting limit may read back as nested too deeply: a refusal, never a different formula.
    """
    try:
        reread = parse(render(tree), "a")
    except ExpressionError as error:
        assert "nested too deeply" in error.message
        return
    assert np.allclose(evaluate(reread, np.array([0.62])), values, equal_nan=True)
