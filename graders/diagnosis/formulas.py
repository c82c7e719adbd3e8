"""Slips in a reference formula (typed checks): the tree with one plausible slip each.

Made from the spec's trusted reference formula, read by ``graders.formula``: each number
and exponent off by one, the coefficient and exponent of one monomial off by one together
(the power rule's slips: 4a³ as 3a²), each factor, divisor or term dropped, a sign flipped,
and a function's argument replaced by its derivative (e^(a⁴+1) as e^(4a³)). The kinds
evaluate them at their sample points, as they evaluate a student's formula; a student's
text is never changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from ..formula import Binary, Call, Constant, Negate, Node, Number, Variable, parse, render

# The most slips made of one formula; a spec's formula is short, so this only bounds a
# pathological one.
MAX_SLIPS = 120


@dataclass(frozen=True)
class FormulaSlip:
    """The reference formula with one slip: ``before`` written as ``after`` (both empty
    for the whole answer's sign)."""

    kind: str
    before: str
    after: str
    formula: str

    def id(self, check: str) -> str:
        digest = hashlib.sha256(f"{self.before}\0{self.after}".encode()).hexdigest()[:4]
        return f"auto:{check}:{self.kind}:{digest}"


# A word on the rule behind each kind of slip.
ADVICE = {
    "power_rule": "The power rule: the derivative of aⁿ is n·aⁿ⁻¹ (the exponent comes down "
    "as a factor, and the new exponent is one less).",
    "exponent": "Check the exponent: the power rule lowers it by one (aⁿ becomes n·aⁿ⁻¹), "
    "integrating raises it by one.",
    "constant": "Check that number.",
    "drop_factor": "A factor is missing: the chain rule multiplies the outer derivative by "
    "the inner one, and in the product rule each term keeps the other factor.",
    "drop_divisor": "A division is missing.",
    "drop_term": "A term is missing.",
    "sign": "Check the sign.",
    "argument_derivative": "The function's argument was differentiated in place: the chain "
    "rule keeps the inner function inside (e^u stays e^u) and multiplies by its derivative "
    "outside.",
}


def formula_slips(reference: str, variables: tuple[str, ...]) -> list[FormulaSlip]:
    """The slips of a reference formula, at most MAX_SLIPS, each formula once."""
    tree = parse(reference, list(variables))
    found: dict[str, FormulaSlip] = {}
    single = variables[0] if len(variables) == 1 else None
    # The whole answer negated has no part to point at: its ``before`` is empty.
    for kind, old, new, whole in [("sign", None, None, Negate(tree)), *_rewrites(tree)]:
        if kind == "argument_derivative" and single is None:
            continue
        formula = render(whole)
        if formula != render(tree):
            before, after = ("", "") if old is None else (render(old), render(new))
            found.setdefault(formula, FormulaSlip(kind, before, after, formula))
        if len(found) >= MAX_SLIPS:
            break
    return list(found.values())


# The kind, the part, its slipped form, the whole formula.
Rewrite = tuple[str, Node | None, Node | None, Node]


def _rewrites(node: Node) -> Iterator[Rewrite]:
    """Each slip of ``node``'s parts, with ``node`` rebuilt around it."""
    for kind, new in _local(node):
        yield kind, node, new, new
    match node:
        case Negate(operand=operand):
            for kind, old, new, whole in _rewrites(operand):
                yield kind, old, new, Negate(whole)
        case Call(function=function, argument=argument):
            for kind, old, new, whole in _rewrites(argument):
                yield kind, old, new, Call(function, whole)
        case Binary(operator=operator, left=left, right=right):
            for kind, old, new, whole in _rewrites(left):
                yield kind, old, new, Binary(operator, whole, right)
            if not (operator == "^" and isinstance(right, Number)):  # exponents: see _local
                for kind, old, new, whole in _rewrites(right):
                    yield kind, old, new, Binary(operator, left, whole)


def _local(node: Node) -> Iterator[tuple[str, Node]]:
    match node:
        case Number(value=value) if value != 0:
            yield "constant", Number(value + 1)
            yield "constant", Number(value - 1)
        case Negate(operand=operand):
            yield "sign", operand
        case Binary(operator="^", left=base, right=Number(value=n)):
            yield "exponent", Binary("^", base, Number(n + 1))
            yield "exponent", Binary("^", base, Number(n - 1))
        case Binary(operator="*", left=left, right=right):
            if isinstance(left, Number) and _is_power(right):
                assert isinstance(right, Binary) and isinstance(right.right, Number)
                c, n = left.value, right.right.value
                for dc, dn in ((-1, -1), (1, 1), (-1, 1), (1, -1)):
                    power = Binary("^", right.left, Number(n + dn))
                    yield "power_rule", Binary("*", Number(c + dc), power)
            yield "drop_factor", right
            yield "drop_factor", left
        case Binary(operator="/", left=left):
            yield "drop_divisor", left
        case Binary(operator="+" | "-" as operator, left=left, right=right):
            yield "sign", Binary("-" if operator == "+" else "+", left, right)
            yield "drop_term", left
            yield "drop_term", right if operator == "+" else Negate(right)
        case Call(function=function, argument=argument):
            derivative = _derivative(argument)
            if derivative is not None:
                yield "argument_derivative", Call(function, derivative)


def _is_power(node: Node) -> bool:
    return isinstance(node, Binary) and node.operator == "^" and isinstance(node.right, Number)


def _derivative(node: Node) -> Node | None:
    """The derivative of a formula in one variable, for the shapes an inner function has
    (sums, products with a number, powers with a number); None for anything else."""
    match node:
        case Number() | Constant():
            return Number(0)
        case Variable():
            return Number(1)
        case Negate(operand=operand):
            inner = _derivative(operand)
            return None if inner is None else _simplified(Negate(inner))
        case Binary(operator="+" | "-" as operator, left=left, right=right):
            one, two = _derivative(left), _derivative(right)
            if one is None or two is None:
                return None
            return _simplified(Binary(operator, one, two))
        case Binary(operator="*", left=Number() as factor, right=right):
            inner = _derivative(right)
            return None if inner is None else _simplified(Binary("*", factor, inner))
        case Binary(operator="^", left=Variable() as base, right=Number(value=n)):
            return _simplified(Binary("*", Number(n), Binary("^", base, Number(n - 1))))
    return None


def _simplified(node: Node) -> Node:
    """Zeros and ones of a derivative taken out: 4*a^3 + 0 is 4*a^3, 2*a^1 is 2*a."""
    match node:
        case Binary(operator="+" | "-", left=left, right=Number(value=0)):
            return left
        case Binary(operator="+", left=Number(value=0), right=right):
            return right
        case Binary(operator="-", left=Number(value=0), right=right):
            return Negate(right)
        case (
            Binary(operator="*", left=Number(value=0)) | Binary(operator="*", right=Number(value=0))
        ):
            return Number(0)
        case Binary(operator="*", left=Number(value=1), right=right):
            return right
        case Binary(operator="*", left=left, right=Number(value=1)):
            return left
        case Binary(operator="*", left=Number(value=a), right=Number(value=b)):
            return Number(a * b)
        case Binary(operator="*", left=left, right=Binary(operator="^", left=base, right=exp)):
            return Binary("*", left, _simplified(Binary("^", base, exp)))
        case Binary(operator="^", left=base, right=Number(value=1)):
            return base
        case Binary(operator="^", right=Number(value=0)):
            return Number(1)
        case Negate(operand=Number(value=0)):
            return Number(0)
    return node
