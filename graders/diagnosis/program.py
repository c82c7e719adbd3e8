"""Slips in the reference program: one plausible mistake each, made on the trusted source.

Each ``Slip`` is the reference module (or the exercise's function and the module's functions
it calls) with one change a student makes: brackets dropped, a sign dropped, an operator
swapped, ``cumsum`` for ``sum``, a factor, divisor or term dropped, a slice or index off by
one, a forward difference made central, a value replaced; or, for a value exercise, a given
value changed (a grid made with ``linspace`` rather than ``arange``, one point more or less,
a value doubled or halved, two values swapped). They are ranked in that order of likelihood:
where two give the same values (with tau_s = 1, ``-t - t_sp / tau_s`` is ``-(t + t_sp)``),
the first names them. Only the instructor's code and spec are ever changed or run here; a
student's text never is.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..spec import Spec

# The most slips made of one reference, in the order they are generated (the order below
# puts the common slips first); beyond it the rest are not tried, whatever the reference.
MAX_SLIPS = 160


@dataclass(frozen=True)
class Slip:
    """One change to the reference: the changed module source, and how to say what changed.

    ``place`` is the name the changed line assigns (or the function it is in); ``before``
    and ``after`` are the reference's code at the change and the code with the slip.
    """

    kind: str
    place: str
    before: str
    after: str
    line: str
    source: str
    given: tuple[tuple[str, str], ...] = ()  # given values changed: (name, new text)

    @property
    def id(self) -> str:
        """Stable for the same slip at the same place: the kind and place, and a short hash
        of what changed (so two slips of one kind in one line differ)."""
        digest = hashlib.sha256(f"{self.before}\0{self.after}".encode()).hexdigest()[:4]
        return f"auto:{self.place}:{self.kind}:{digest}"


def slips(spec: Spec, source: str) -> list[Slip]:
    """The slips of a reference module's source, at most MAX_SLIPS, duplicates dropped."""
    tree = ast.parse(source)
    region = _region(spec, tree)
    found: dict[str, Slip] = {}
    # The likelier slip first: where two give the same values, the first names them both.
    ranked = sorted(_all_slips(spec, tree, region), key=lambda slip: _RANK.index(slip.kind))
    for slip in ranked:
        found.setdefault(f"{slip.source}\0{slip.given}", slip)
        if len(found) >= MAX_SLIPS:
            break
    return list(found.values())


_RANK = (
    "precedence",
    "sign",
    "sub_order",
    "central",
    "add_sub",
    "mult_div",
    "cumsum_sum",
    "drop_factor",
    "drop_divisor",
    "drop_term",
    "drop_power",
    "slice",
    "index",
    "value_one",
    "value_double",
    "value_half",
    "value_swap",
    "grid_linspace",
    "grid_endpoint",
    "grid_more",
    "grid_fewer",
    "given_double",
    "given_half",
    "given_swap",
)


def _region(spec: Spec, tree: ast.Module) -> list[ast.stmt]:
    """The statements a student writes: the whole cell, or the exercise's function and the
    module's functions it calls (not the mistakes' functions the module also holds)."""
    if spec.function is None:
        return list(tree.body)
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    wanted, reached = [spec.function.name], []
    while wanted:
        name = wanted.pop()
        if name in functions and functions[name] not in reached:
            reached.append(functions[name])
            called = {
                n.func.id
                for n in ast.walk(functions[name])
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            }
            wanted.extend(sorted(called))
    return reached


def _statements(region: list[ast.stmt]) -> Iterator[tuple[ast.stmt, str]]:
    """Each simple statement of the region (assignments, returns, expressions) and its place:
    the name it assigns, or else the function it is in."""
    for top in region:
        owner = top.name if isinstance(top, ast.FunctionDef) else ""
        for node in ast.walk(top):
            if isinstance(node, ast.Assign | ast.AugAssign | ast.Return | ast.Expr):
                yield node, _place(node) or owner or "cell"


def _place(node: ast.stmt) -> str:
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    for target in targets:
        while isinstance(target, ast.Subscript):
            target = target.value
        if isinstance(target, ast.Name):
            return target.id
    return ""


def _all_slips(spec: Spec, tree: ast.Module, region: list[ast.stmt]) -> Iterator[Slip]:
    values = _scalar_names(spec, tree)
    statements = list(_statements(region))
    generators: list[Callable[[ast.expr], Iterator[tuple[str, ast.expr]]]] = [
        _operator_slips,
        _call_slips,
        _dropped,
        _index_slips,
        lambda node: _value_slips(node, values),
    ]
    for statement, place in statements:
        yield from _precedence_slips(tree, statement, place)
    for make in generators:
        for statement, place in statements:
            for node in _loaded(statement):
                for kind, replacement in make(node):
                    yield _slip(tree, statement, node, replacement, kind, place)
    if spec.function is None:
        yield from _given_slips(spec, tree)


def _loaded(statement: ast.stmt) -> Iterator[ast.expr]:
    """The expressions a statement reads (not its targets, nor a nested statement's)."""
    roots = [statement.value] if getattr(statement, "value", None) is not None else []
    if isinstance(statement, ast.Assign):
        # The index of an assigned element is read: p[k + 1] = ...
        roots += [t.slice for t in statement.targets if isinstance(t, ast.Subscript)]
    stack = list(roots)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.expr) and not isinstance(getattr(node, "ctx", None), ast.Store):
            yield node
        # An index is changed as a whole (off by one), not term by term: r[0:-1] as r[0:1]
        # or r[k + 1] as r[k + 2] are no slips anybody makes.
        children = [node.value] if isinstance(node, ast.Subscript) else ast.iter_child_nodes(node)
        stack.extend(reversed(list(children)))


def _slip(
    tree: ast.Module,
    statement: ast.stmt,
    node: ast.expr,
    replacement: ast.expr,
    kind: str,
    place: str,
) -> Slip:
    changed = _replaced(tree, node, replacement)
    before, after = _narrowed(node, replacement)
    return Slip(
        kind=kind,
        place=place,
        before=ast.unparse(before),
        after=ast.unparse(after),
        line=ast.unparse(statement).splitlines()[0],
        source=ast.unparse(changed),
    )


def _narrowed(old: ast.AST, new: ast.AST) -> tuple[ast.AST, ast.AST]:
    """The smallest parts of two expressions that differ: what a student would point at
    (``-t - t_sp / tau_s`` inside ``np.exp(...)``, not the whole line)."""
    while type(old) is type(new):
        ones, twos = _parts(old), _parts(new)
        if len(ones) != len(twos):
            break
        pairs = zip(ones, twos, strict=True)
        differing = [(one, two) for one, two in pairs if _dumped(one) != _dumped(two)]
        if len(differing) != 1 or not isinstance(differing[0][0], ast.expr):
            break
        old, new = differing[0]
    return old, new


def _parts(node: ast.AST) -> list[object]:
    """A node's fields, a list field's items one by one."""
    parts: list[object] = []
    for _, value in ast.iter_fields(node):
        parts += value if isinstance(value, list) else [value]
    return parts


def _dumped(value: object) -> object:
    return ast.dump(value) if isinstance(value, ast.AST) else value


def _replaced(tree: ast.Module, old: ast.AST, new: ast.AST) -> ast.Module:
    """A copy of ``tree`` with the node ``old`` (found by identity) replaced by ``new``."""

    class Replace(ast.NodeTransformer):
        def visit(self, node: ast.AST) -> ast.AST:
            return copy.deepcopy(new) if node is old else super().visit(node)

    # The copy is made by the transformer itself, so the original is never changed.
    result = Replace().visit(copy.deepcopy(tree, memo={id(old): old}))
    assert isinstance(result, ast.Module)
    return ast.fix_missing_locations(result)


_SWAPS = {ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Add: ast.Sub, ast.Sub: ast.Add}
_SWAP_KINDS = {ast.Mult: "mult_div", ast.Div: "mult_div", ast.Add: "add_sub", ast.Sub: "add_sub"}


def _operator_slips(node: ast.expr) -> Iterator[tuple[str, ast.expr]]:
    if isinstance(node, ast.BinOp) and type(node.op) in _SWAPS:
        yield _SWAP_KINDS[type(node.op)], ast.BinOp(node.left, _SWAPS[type(node.op)](), node.right)
        if isinstance(node.op, ast.Sub):
            if _difference_of_neighbours(node):
                yield "central", _central(node)
            yield "sub_order", ast.BinOp(node.right, ast.Sub(), node.left)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "sign", node.operand


def _difference_of_neighbours(node: ast.BinOp) -> bool:
    """``x[1:] - x[:-1]`` (or ``x[0:-1]``): a forward difference."""
    left, right = node.left, node.right
    return (
        isinstance(left, ast.Subscript)
        and isinstance(right, ast.Subscript)
        and ast.dump(left.value) == ast.dump(right.value)
        and ast.unparse(left.slice) == "1:"
        and ast.unparse(right.slice) in (":-1", "0:-1")
    )


def _central(node: ast.BinOp) -> ast.expr:
    array = ast.unparse(node.left.value)  # type: ignore[attr-defined]
    return ast.parse(f"({array}[2:] - {array}[:-2]) / 2", mode="eval").body


_CALL_SWAPS = {"cumsum": "sum", "sum": "cumsum"}


def _call_slips(node: ast.expr) -> Iterator[tuple[str, ast.expr]]:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _CALL_SWAPS
    ):
        other = ast.Attribute(node.func.value, _CALL_SWAPS[node.func.attr], ast.Load())
        yield "cumsum_sum", ast.Call(other, node.args, node.keywords)


def _dropped(node: ast.expr) -> Iterator[tuple[str, ast.expr]]:
    """A term, a factor, a divisor or a power left out."""
    if not isinstance(node, ast.BinOp):
        return
    if isinstance(node.op, ast.Add | ast.Sub):
        yield "drop_term", node.left
        yield "drop_term", node.right if isinstance(node.op, ast.Add) else _negated(node.right)
    elif isinstance(node.op, ast.Mult):
        yield "drop_factor", node.left
        yield "drop_factor", node.right
    elif isinstance(node.op, ast.Div):
        yield "drop_divisor", node.left
    elif isinstance(node.op, ast.Pow):
        yield "drop_power", node.left


def _negated(node: ast.expr) -> ast.expr:
    return ast.UnaryOp(ast.USub(), node)


def _index_slips(node: ast.expr) -> Iterator[tuple[str, ast.expr]]:
    """A slice bound or an index off by one: ``x[1:]`` as ``x[2:]``, ``r[k]`` as ``r[k + 1]``."""
    if not isinstance(node, ast.Subscript):
        return
    if isinstance(node.slice, ast.Slice):
        for field in ("lower", "upper"):
            bound = getattr(node.slice, field)
            if bound is None:
                continue
            for step in (1, -1):
                moved = copy.deepcopy(node.slice)
                setattr(moved, field, _plus(bound, step))
                yield "slice", ast.Subscript(node.value, moved, ast.Load())
    elif not isinstance(node.slice, ast.Tuple):
        for step in (1, -1):
            yield "index", ast.Subscript(node.value, _plus(node.slice, step), ast.Load())


def _plus(node: ast.expr, step: int) -> ast.expr:
    """``node + step`` written as a student would: ``k + 1``, ``-2``, ``k``."""
    text = ast.unparse(node)
    value = _number(node)
    if value is not None:
        return (
            ast.Constant(int(value) + step)
            if value + step >= 0
            else _negated(ast.Constant(-(int(value) + step)))
        )
    for sign, other in (("+", -1), ("-", 1)):
        match = re.fullmatch(rf"(.+) \{sign} 1", text)
        if match and step == other:
            return ast.parse(match[1], mode="eval").body
    return ast.parse(f"{text} {'+' if step > 0 else '-'} {abs(step)}", mode="eval").body


def _number(node: ast.expr) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    return None


def _value_slips(node: ast.expr, values: list[str]) -> Iterator[tuple[str, ast.expr]]:
    """A constant or a given value replaced by 1, doubled, halved, or by another value."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if node.value in (0, 1) or isinstance(node.value, bool):
            return
        yield "value_one", ast.Constant(1)
        yield "value_double", ast.Constant(_tidy(2 * node.value))
        yield "value_half", ast.Constant(_tidy(node.value / 2))
    elif isinstance(node, ast.Name) and node.id in values:
        yield "value_one", ast.Constant(1)
        yield "value_double", ast.BinOp(ast.Constant(2), ast.Mult(), ast.Name(node.id))
        yield "value_half", ast.BinOp(ast.Name(node.id), ast.Div(), ast.Constant(2))
        for other in values:
            if other != node.id:
                yield "value_swap", ast.Name(other, ast.Load())


def _tidy(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _scalar_names(spec: Spec, tree: ast.Module) -> list[str]:
    """The names of single numbers a student's code reads: given values, the function's
    scalar arguments, and the module's own numeric constants (tau_m)."""
    from ..reference import function_inputs, given_values  # the trusted spec's values

    if spec.function is None:
        return [name for name, value in given_values(spec).items() if np.ndim(value) == 0]
    _, first = function_inputs(spec)[0]
    arguments = [name for name in spec.function.arguments if np.ndim(first[name]) == 0]
    constants = [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign) and _number(node.value) is not None
        for target in node.targets
        if isinstance(target, ast.Name)
    ]
    return arguments + constants


def _precedence_slips(tree: ast.Module, statement: ast.stmt, place: str) -> Iterator[Slip]:
    """The statement's expressions with one pair of brackets left out, where that changes
    what Python computes: ``-(t - t_sp) / tau_s`` read as ``-t - t_sp / tau_s``."""
    for root in _loaded_roots(statement):
        text = ast.unparse(root)
        reference = ast.dump(root)
        for start, end in _bracket_pairs(text):
            if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_)]"):
                continue  # a call's brackets
            changed = text[:start] + text[start + 1 : end] + text[end + 1 :]
            try:
                new = ast.parse(changed, mode="eval").body
            except SyntaxError:
                continue
            if ast.dump(new) != reference:
                yield _slip(tree, statement, root, new, "precedence", place)


def _loaded_roots(statement: ast.stmt) -> list[ast.expr]:
    """The whole expressions a statement computes: its value, or a lambda's body in it."""
    value = getattr(statement, "value", None)
    if value is None:
        return []
    lambdas = [n.body for n in ast.walk(value) if isinstance(n, ast.Lambda)]
    return lambdas or [value]


def _bracket_pairs(text: str) -> list[tuple[int, int]]:
    pairs, opened = [], []
    for index, char in enumerate(text):
        if char == "(":
            opened.append(index)
        elif char == ")" and opened:
            pairs.append((opened.pop(), index))
    return sorted(pairs)


_ARANGE = re.compile(r"^np\.arange\((?P<start>[^,]+),\s*(?P<stop>[^,]+),\s*(?P<step>[^,]+)\)$")


def _given_slips(spec: Spec, tree: ast.Module) -> Iterator[Slip]:
    """Another grid for the same range, a step doubled or halved, two values swapped."""
    from ..reference import given_values  # the trusted spec's values

    given = given_values(spec)
    source = ast.unparse(tree)

    def changed(kind: str, *pairs: tuple[str, str]) -> Slip:
        before = " and ".join(f"{name} = {_text(spec.given[name])}" for name, _ in pairs)
        after = " and ".join(f"{name} = {text}" for name, text in pairs)
        return Slip(kind, pairs[0][0], before, after, before, source, tuple(pairs))

    for name, raw in spec.given.items():
        match = _ARANGE.match(_text(raw).strip())
        if match:
            start, stop, step = match["start"], match["stop"], match["step"]
            count = int(np.size(given[name]))
            yield changed("grid_linspace", (name, f"np.linspace({start}, {stop}, {count})"))
            yield changed("grid_endpoint", (name, f"np.linspace({start}, {stop}, {count + 1})"))
            yield changed("grid_more", (name, f"np.arange({start}, {stop} + {step}, {step})"))
            yield changed("grid_fewer", (name, f"np.arange({start}, {stop} - {step}, {step})"))
        elif not isinstance(raw, str) and raw not in (0, 1):
            yield changed("given_double", (name, repr(_tidy(2 * raw))))
            yield changed("given_half", (name, repr(_tidy(raw / 2))))
    scalars = [name for name, raw in spec.given.items() if not isinstance(raw, str)]
    for index, one in enumerate(scalars):
        for two in scalars[index + 1 :]:
            if given[one] != given[two]:
                swapped = (one, _text(spec.given[two])), (two, _text(spec.given[one]))
                yield changed("given_swap", *swapped)


def _text(raw: object) -> str:
    return raw if isinstance(raw, str) else repr(raw)
