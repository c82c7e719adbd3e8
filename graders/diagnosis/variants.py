"""Running the slips of ``program`` on the spec's inputs, and saying what each one is.

A slip's run gives each check's values in each case (the value exercise's one, or one per
call of the function); a slip that leaves every check as it is, raises, or runs too long is
dropped, and slips that give the same values everywhere are merged into the first. Each
surviving ``Variant`` knows the checks it changes, with their values, and (where one
exists) a spec ``value:`` expression that reproduces them, checked by evaluating it.
"""

from __future__ import annotations

import ast
import copy
import signal
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..checks.relations import Tolerance
from ..reference import evaluate, function_inputs, given_values, named_outputs
from ..spec import Check, Spec
from .program import Slip, slips

# A slip's run may take this long (the reference's own run takes milliseconds): a changed
# loop bound or step can make it run on and on, and it is then dropped. Enforced with an
# alarm where the grading runs in the main thread; elsewhere the kinds of slip bound it (no
# slip adds a loop, and each changes a size by one or a factor of two at most).
SLIP_SECONDS = 1.0


@dataclass
class Variant:
    """A slip that changes some checks' values: per check, one value per case."""

    id: str
    kind: str
    place: str
    before: str
    after: str
    line: str
    given: bool
    values: dict[str, list[np.ndarray]]
    suggestions: dict[str, str] = field(default_factory=dict)
    same_as: list[str] = field(default_factory=list)  # merged slips that give the same values


class _Timeout(Exception):
    pass


@contextmanager
def _bounded(seconds: float) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def numeric_checks(spec: Spec) -> list[Check]:
    """The checks a program slip is matched on: numbers and arrays."""
    return [check for check in spec.checks if check.compare == "numeric"]


def build(spec: Spec, source: str) -> list[Variant]:
    """The variants of the reference source on the spec's inputs, merged and bounded."""
    checks = numeric_checks(spec)
    if not checks:
        return []
    expected = _run(spec, source, ())
    if expected is None:
        return []  # a broken reference is validate's to report
    scopes = _scopes(spec)
    found: list[Variant] = []
    for slip in slips(spec, source):
        cases = _run(spec, slip.source, slip.given)
        if cases is None:
            continue
        changed = {
            check.name: [case[check.name] for case in cases]
            for check in checks
            if _differs(check, [case[check.name] for case in cases], expected, check.name)
        }
        if not changed:
            continue
        twin = next((v for v in found if _same(v.values, changed, checks)), None)
        if twin is not None:
            twin.same_as.append(slip.id)
            continue
        variant = Variant(
            slip.id,
            slip.kind,
            slip.place,
            slip.before,
            slip.after,
            slip.line,
            bool(slip.given),
            changed,
        )
        variant.suggestions = _suggestions(spec, slip, variant, scopes)
        found.append(variant)
    return found


Cases = list[dict[str, np.ndarray]]


def _run(spec: Spec, source: str, changes: tuple[tuple[str, str], ...]) -> Cases | None:
    """Each case's numeric check values, or None when the slipped code raises, gives what
    is not numbers, or runs too long."""
    try:
        with _bounded(SLIP_SECONDS), warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return _computed(spec, source, changes)
    except (_Timeout, Exception):  # a slip that breaks the code is simply not a variant
        return None


def _computed(spec: Spec, source: str, changes: tuple[tuple[str, str], ...]) -> Cases:
    from ..checks import kind

    namespace: dict[str, Any] = {"np": np, "__name__": f"reference.{spec.reference or spec.id}"}
    namespace.update(_given(spec, dict(changes)))
    exec(compile(source, f"<slip of {spec.id}>", "exec"), namespace)  # trusted reference code
    checks = numeric_checks(spec)
    if spec.function is None:
        values = {c.name: kind(c.compare).expected(spec, c, namespace) for c in checks}
        return [{name: _numbers(value) for name, value in values.items()}]
    function = namespace[spec.function.name]
    cases = []
    for _, kwargs in function_inputs(spec):
        copies = {n: np.copy(v) if isinstance(v, np.ndarray) else v for n, v in kwargs.items()}
        outputs = named_outputs(spec, function(**copies))
        cases.append({c.name: _numbers(outputs[c.name]) for c in checks})
    return cases


def _given(spec: Spec, changes: Mapping[str, str]) -> dict[str, Any]:
    if not changes:
        return given_values(spec)
    scope: dict[str, Any] = {}
    for name, value in spec.given.items():
        scope[name] = evaluate(spec, name, changes.get(name, value), scope)
    return scope


def _numbers(value: Any) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if array.dtype.kind != "f":
        raise TypeError("not numbers")
    return array


def _tolerance(check: Check) -> Tolerance:
    return Tolerance(rtol=check.rtol, atol=check.atol)


def _agree(check: Check, one: np.ndarray, two: np.ndarray) -> bool:
    return one.shape == two.shape and _tolerance(check).agrees(one, two)


def _differs(check: Check, values: list[np.ndarray], expected: Cases, name: str) -> bool:
    return any(not _agree(check, v, case[name]) for v, case in zip(values, expected, strict=True))


def _same(one: dict[str, list[np.ndarray]], two: dict[str, list[np.ndarray]], checks) -> bool:
    if set(one) != set(two):
        return False
    by_name = {check.name: check for check in checks}
    return all(
        _agree(by_name[name], a, b)
        for name in one
        for a, b in zip(one[name], two[name], strict=True)
    )


# --- A spec expression for each changed check ----------------------------------------------


def _scopes(spec: Spec) -> list[dict[str, Any]]:
    """What a listed mistake's ``value:`` sees in each case."""
    from ..reference import reference_cases

    given = given_values(spec)
    return [{**given, **case.kwargs, **case.expected} for case in reference_cases(spec)]


def _suggestions(
    spec: Spec, slip: Slip, variant: Variant, scopes: list[dict[str, Any]]
) -> dict[str, str]:
    """Per changed check, the slipped code written out as one expression over what a
    mistake's ``value:`` sees (the given values, a call's inputs, the expected values by
    name), kept only if it gives the variant's values in every case."""
    definitions = _definitions(spec, slip)
    if definitions is None:
        return {}
    seen = set(variant.values)  # the expected values a mistake sees are not these
    changes = dict(slip.given)
    if changes:
        before, after = given_values(spec), _given(spec, changes)
        seen |= {n for n in before if not np.array_equal(before[n], after[n], equal_nan=True)}
    visible = set(spec.given) | {check.name for check in spec.checks}
    if spec.function is not None:
        visible |= set(spec.function.arguments)
    suggestions = {}
    for name, values in variant.values.items():
        if name not in definitions:
            continue
        try:
            text = ast.unparse(_inline(definitions, definitions[name], visible - seen, 0))
        except RecursionError:
            continue
        if _reproduces(spec, text, values, scopes):
            suggestions[name] = text
    return suggestions


def _definitions(spec: Spec, slip: Slip) -> dict[str, ast.expr] | None:
    """The names the slipped code binds once, by a plain assignment, with what they are
    (a function's return values by the check names), and the given values' texts."""
    tree = ast.parse(slip.source)
    # The module's own lines (its constants), then the function's.
    own = [n for n in tree.body if not isinstance(n, ast.FunctionDef | ast.ClassDef)]
    bodies: list[list[ast.stmt]] = [own]
    if spec.function is not None:
        name = spec.function.name
        function = next(
            (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None
        )
        if function is None:
            return None
        bodies.append(function.body)
    definitions: dict[str, ast.expr] = {}
    bound: list[str] = []
    for body in bodies:
        for statement in body:
            bound += _bound_names(statement)
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target = statement.targets[0]
                if isinstance(target, ast.Name):
                    definitions[target.id] = statement.value
            if isinstance(statement, ast.Return) and spec.function is not None:
                returned = statement.value
                parts = returned.elts if isinstance(returned, ast.Tuple) else [returned]
                for name, part in zip(spec.function.return_names, parts, strict=False):
                    if not (isinstance(part, ast.Name) and part.id == name):
                        definitions[name] = part
    for name, text in [*spec.given.items(), *slip.given]:
        definitions[name] = ast.parse(str(text), mode="eval").body
    # A name bound more than once (in a loop, element by element) is no single expression.
    return {name: value for name, value in definitions.items() if bound.count(name) <= 1}


def _bound_names(statement: ast.stmt) -> list[str]:
    names = []
    for node in ast.walk(statement):
        targets = getattr(node, "targets", None) or [getattr(node, "target", None)]
        for target in targets:
            while isinstance(target, ast.Subscript):
                target = target.value
            if isinstance(target, ast.Name):
                names.append(target.id)
    return names


def _inline(
    definitions: Mapping[str, ast.expr], node: ast.expr, visible: set[str], depth: int
) -> ast.expr:
    """``node`` with each name it reads that a mistake's value does not see (unchanged)
    replaced by its definition, recursively."""
    if depth > 20:
        raise RecursionError

    class Inline(ast.NodeTransformer):
        def visit_Name(self, leaf: ast.Name) -> ast.expr:
            if leaf.id in definitions and leaf.id not in visible:
                return _inline(definitions, definitions[leaf.id], visible, depth + 1)
            return leaf

    result = Inline().visit(copy.deepcopy(node))
    assert isinstance(result, ast.expr)
    return result


def _reproduces(
    spec: Spec, text: str, values: list[np.ndarray], scopes: list[dict[str, Any]]
) -> bool:
    """Whether the expression gives ``values`` in every case, as a listed mistake would."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for scope, value in zip(scopes, values, strict=True):
                got = _numbers(evaluate(spec, "suggestion", text, dict(scope)))
                if got.shape != value.shape or not np.allclose(got, value, rtol=1e-9, atol=1e-12):
                    return False
    except Exception:  # an expression that cannot be evaluated is no suggestion
        return False
    return True
