"""Moved to ``graders.formula`` (the parser) and ``graders.checks.expression`` (#9); these
names stay importable here for modules moved in the same round. Delete once nothing
imports it."""

from graders.checks.expression import ExpressionMistake, compare_expression
from graders.formula import ExpressionError, evaluate, parse, render

__all__ = [
    "ExpressionError",
    "ExpressionMistake",
    "compare_expression",
    "evaluate",
    "parse",
    "render",
]
