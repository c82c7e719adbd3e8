"""The formula tree, its evaluation with numpy and its rendering as normalized text.

Nodes are frozen dataclasses built only by the parser. Evaluation never uses Python's own
power on integers (no big-integer blow-up), and overflow and poles give inf/nan, not errors.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

MAX_LENGTH = 1000
MAX_NODES = 400
MAX_DEPTH = 40
MAX_DIGITS = 30


class ExpressionError(ValueError):
    """An answer that cannot be read as a formula; ``message`` is written for the student."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position  # 0-based index into the original text, where known


# --- The tree ------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Variable:
    name: str


@dataclass(frozen=True)
class Constant:
    name: str  # "e" or "pi"


@dataclass(frozen=True)
class Negate:
    operand: Node


@dataclass(frozen=True)
class Binary:
    operator: str  # one of + - * / ^
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    function: str  # a canonical name, a key of EVALUATORS
    argument: Node


Node = Number | Variable | Constant | Negate | Binary | Call


EVALUATORS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp": np.exp,
    "ln": np.log,
    "log10": np.log10,
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "arctan": np.arctan,
    "abs": np.abs,
}


_CONSTANT_VALUES = {"e": np.e, "pi": np.pi}


# --- Evaluating and rendering --------------------------------------------------------


def evaluate(node: Node, values: np.ndarray | Mapping[str, np.ndarray]) -> np.ndarray:
    """The formula at each point, as complex128; overflow and poles give inf/nan, not errors.

    ``values``: the one variable's values, or each variable's by name (equal shapes).
    """
    if isinstance(values, Mapping):
        points = {name: np.asarray(v, dtype=np.complex128) for name, v in values.items()}
        shape = next(iter(points.values())).shape
    else:
        single = np.asarray(values, dtype=np.complex128)
        # One variable: its values, whatever the variable is called.
        points, shape = defaultdict(lambda: single), single.shape
    with np.errstate(all="ignore"):
        return np.asarray(_evaluate(node, points, shape), dtype=np.complex128)


def _evaluate(node: Node, points: Mapping[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    match node:
        case Number(value=value):
            return np.full(shape, value, dtype=np.complex128)
        case Variable(name=name):
            return points[name]
        case Constant(name=name):
            return np.full(shape, _CONSTANT_VALUES[name], dtype=np.complex128)
        case Negate(operand=operand):
            return -_evaluate(operand, points, shape)
        case Call(function=function, argument=argument):
            return EVALUATORS[function](_evaluate(argument, points, shape)).astype(np.complex128)
        case Binary(operator=operator, left=left, right=right):
            return _apply(operator, _evaluate(left, points, shape), _evaluate(right, points, shape))
    raise TypeError(f"not an expression node: {node!r}")


def _apply(operator: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    if operator == "/":
        return left / right
    return np.power(left, right)  # float exponents: no Python big-integer power, ever


_SUM, _PRODUCT, _SIGN, _POWER, _ATOM = range(1, 6)


def _precedence(node: Node) -> int:
    match node:
        case Binary(operator="+" | "-"):
            return _SUM
        case Binary(operator="*" | "/"):
            return _PRODUCT
        case Binary():
            return _POWER
        case Negate():
            return _SIGN
    return _ATOM


def _literal(value: float) -> str:
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def names_in(node: Node) -> list[str]:
    """The variables a formula uses, in order of appearance."""
    found: list[str] = []
    stack = [node]
    while stack:
        match stack.pop():
            case Variable(name=name) if name not in found:
                found.append(name)
            case Negate(operand=operand) | Call(argument=operand):
                stack.append(operand)
            case Binary(left=left, right=right):
                stack.extend((right, left))
    return found


def render(node: Node) -> str:
    """Normalized text such as ``4*a^3*exp(a^4 + 1)``: shows the student how we read them."""
    match node:
        case Number(value=value):
            return _literal(value)
        case Variable(name=name) | Constant(name=name):
            return name
        case Negate(operand=operand):
            return "-" + _wrap(operand, _precedence(operand) < _SIGN)
        case Call(function=function, argument=argument):
            return f"{function}({render(argument)})"
        case Binary(operator=operator, left=left, right=right):
            return _render_binary(operator, left, right)
    raise TypeError(f"not an expression node: {node!r}")


def _render_binary(operator: str, left: Node, right: Node) -> str:
    left_prec, right_prec = _precedence(left), _precedence(right)
    signed = isinstance(right, Negate)
    if operator in "+-":
        right_text = _wrap(right, signed or (operator == "-" and right_prec == _SUM))
        return f"{render(left)} {operator} {right_text}"
    if operator in "*/":
        left_text = _wrap(left, left_prec < _PRODUCT)
        return f"{left_text}{operator}{_wrap(right, signed or right_prec <= _PRODUCT)}"
    return f"{_wrap(left, left_prec < _ATOM)}^{_wrap(right, right_prec < _ATOM)}"


def _wrap(node: Node, brackets: bool) -> str:
    text = render(node)
    return f"({text})" if brackets else text
