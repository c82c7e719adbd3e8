"""Reference values: what a correct submission produces, computed in the trusted process.

The reference module and the spec's expressions are instructor-written, so they run
here directly; student code never does. Every function check is made against the
tutorial's own inputs first, then against seeded random parameter sets, so that an
answer which only matches the tutorial's numbers (a hard-coded step, an ignored
argument) is caught.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .spec import FORMULA_KINDS, Check, Choice, GivenValue, Spec, Uniform

_NONE: Mapping[str, Any] = MappingProxyType({})


class ReferenceError(Exception):
    """The reference module or a spec expression is broken: an instructor's problem."""


@dataclass
class ReferenceCase:
    """One set of inputs with the values a correct answer gives and each mistake gives."""

    label: str
    kwargs: dict[str, Any]
    expected: dict[str, Any]
    mistakes: dict[str, dict[str, Any]] = field(default_factory=dict)


def _evaluate(spec: Spec, name: str, value: GivenValue, scope: dict[str, Any]) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return eval(value, {"__builtins__": {}, "np": np}, scope)  # trusted spec text
    except Exception as exc:
        raise ReferenceError(f"{spec.id}: cannot evaluate {name} = {value!r}: {exc}") from None


def given_values(spec: Spec, submitted: Mapping[str, Any] = _NONE) -> dict[str, Any]:
    """The given values; ``submitted`` replaces some (the student's own ``from_submission``
    values), and the givens after them are computed from the replacements."""
    return _scope(spec, spec.given, submitted)


def _scope(
    spec: Spec, values: dict[str, GivenValue], submitted: Mapping[str, Any] = _NONE
) -> dict[str, Any]:
    """Each value evaluated in order, seeing those before it."""
    scope: dict[str, Any] = {}
    for name, value in values.items():
        scope[name] = submitted[name] if name in submitted else _evaluate(spec, name, value, scope)
    return scope


def reference_namespace(spec: Spec, submitted: Mapping[str, Any] = _NONE) -> dict[str, Any]:
    """Run the reference module as the instructor's cell, with the given values in scope."""
    path = spec.reference_path
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReferenceError(f"{spec.id}: cannot read reference module {path}: {exc}") from None
    namespace: dict[str, Any] = {"np": np, "__name__": f"reference.{path.stem}"}
    namespace.update(given_values(spec, submitted))
    try:
        exec(compile(source, str(path), "exec"), namespace)  # trusted instructor code
    except Exception as exc:
        raise ReferenceError(f"{spec.id}: reference module {path} failed: {exc!r}") from None
    missing = [name for name in spec.answer_names if name not in namespace]
    if missing:
        raise ReferenceError(f"{spec.id}: reference module {path} defines no {', '.join(missing)}")
    return namespace


def function_inputs(spec: Spec) -> list[tuple[str, dict[str, Any]]]:
    """The tutorial's inputs, then the seeded random ones: (label, keyword arguments)."""
    function = spec.function
    if function is None:
        return []
    calls = []
    for given in function.inputs:
        calls.append(_resolve(spec, dict(given)))
    rng = np.random.default_rng(function.random.seed)
    for _ in range(function.random.count):
        drawn: dict[str, GivenValue] = {}
        for name, parameter in function.random.parameters.items():
            if isinstance(parameter, Uniform):
                drawn[name] = round(float(rng.uniform(*parameter.uniform)), 3)
            elif isinstance(parameter, Choice):
                drawn[name] = float(rng.choice(parameter.choice))
            else:
                drawn[name] = parameter
        calls.append(_resolve(spec, drawn))
    return [(describe_call(kwargs, function.arguments), kwargs) for kwargs in calls]


def _resolve(spec: Spec, parameters: dict[str, GivenValue]) -> dict[str, Any]:
    assert spec.function is not None
    scope = _scope(spec, parameters)
    return {name: scope[name] for name in spec.function.arguments}


def describe_call(kwargs: dict[str, Any], arguments: list[str]) -> str:
    return "with " + ", ".join(f"{name} = {describe_value(kwargs[name])}" for name in arguments)


def describe_value(value: Any) -> str:
    """Show an input the way a student would write it, without dumping whole arrays."""
    if isinstance(value, np.ndarray):
        if value.ndim == 1 and value.size > 2:
            steps = np.diff(value)
            if np.allclose(steps, steps[0]):
                stop = value[-1] + steps[0]
                return f"np.arange({value[0]:.4g}, {stop:.4g}, {steps[0]:.4g})"
        if value.size and value.dtype.kind in "biuf":
            # Tells apart inputs that are not aranges (a sine plus an offset) in feedback.
            low, high = np.nanmin(value), np.nanmax(value)
            return f"an array of {value.size} values between {low:.4g} and {high:.4g}"
        return f"an array of {value.size} values"
    if isinstance(value, float):
        return f"{value:.4g}"
    return repr(value)


def reference_cases(spec: Spec, submitted: Mapping[str, Any] = _NONE) -> list[ReferenceCase]:
    """Expected values and every listed mistake's values, per call (one case for values);
    ``submitted``: the student's own values of the spec's ``from_submission`` givens."""
    namespace = reference_namespace(spec, submitted)
    given = given_values(spec, submitted)
    if spec.function is None:
        expected = {check.name: _expected(spec, check, namespace) for check in spec.checks}
        scope = {**given, **expected}
        return [ReferenceCase("", {}, expected, _mistake_values(spec, scope))]
    function = namespace[spec.function.name]
    cases = []
    for label, kwargs in function_inputs(spec):
        names = spec.function.return_names
        try:
            outputs = function(**kwargs)
            expected = dict(zip(names, (outputs,) if len(names) == 1 else outputs, strict=True))
        except Exception as exc:
            raise ReferenceError(
                f"{spec.id}: the reference {spec.function.name} failed when called {label}: {exc!r}"
            ) from None
        scope = {**given, **kwargs, **expected}
        cases.append(ReferenceCase(label, kwargs, expected, _mistake_values(spec, scope)))
    return cases


def _expected(spec: Spec, check: Check, namespace: dict[str, Any]) -> Any:
    """A constant reference answer (du_dt = 1) stands for the array over the axis."""
    value = namespace[check.name]
    if check.allow_constant and spec.axis is not None and np.ndim(value) == 0:
        return np.full(np.shape(namespace[spec.axis]), value, dtype=float)
    return value


def _mistake_values(spec: Spec, scope: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each numeric mistake's wrong value; expression mistakes stay as formula text."""
    values: dict[str, dict[str, Any]] = {}
    for check in spec.checks:
        if check.compare in FORMULA_KINDS:
            values[check.name] = {mistake.id: mistake.value for mistake in check.mistakes}
            continue
        values[check.name] = {
            mistake.id: _evaluate(spec, f"mistake {mistake.id}", mistake.value, dict(scope))
            for mistake in check.mistakes
        }
    return values
