"""The safe reader of typed formulas such as ``4a^3 e^(a^4+1)``.

A student's formula is untrusted text that is read in the trusted grading process, so it
never goes near ``eval``, ``compile`` or sympy's parsers: a small hand-written lexer
(``lexer``) and recursive-descent parser (``parser``) turn it into a tree of frozen
dataclasses (``tree``), with hard limits on length, size and nesting so that no input can
hang the grader or overflow the stack. The tree is evaluated with numpy, never by Python.
"""

from .lexer import body_span, listing
from .parser import parse
from .tree import (
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_LENGTH,
    MAX_NODES,
    Binary,
    Call,
    Constant,
    ExpressionError,
    Negate,
    Node,
    Number,
    Variable,
    evaluate,
    names_in,
    render,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_LENGTH",
    "MAX_NODES",
    "Binary",
    "Call",
    "Constant",
    "ExpressionError",
    "Negate",
    "Node",
    "Number",
    "Variable",
    "body_span",
    "evaluate",
    "listing",
    "names_in",
    "parse",
    "render",
]
