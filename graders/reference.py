"""Reference values: what a correct submission produces, computed in the trusted process.

The reference module and the spec's expressions are instructor-written, so they run
here directly; student code never does. Every function check is made against the
tutorial's own inputs first, then against seeded random parameter sets, so that an
answer which only matches the tutorial's numbers (a hard-coded step, an ignored
argument) is caught.

A known mistake's values are computed on first use: only a failing check looks for
them, and a mistake given as code (a mistaken simulation) may cost as much as the
reference. Such code runs like the reference: a cell with the given values in scope,
or a function called on the same inputs, once per input set whichever checks list it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .checks import kind
from .errors import ReferenceError
from .spec import Check, Choice, GivenValue, Mistake, Spec, Uniform

_NONE: Mapping[str, Any] = MappingProxyType({})


@dataclass
class ReferenceCase:
    """One set of inputs with the values a correct answer gives and each mistake gives."""

    label: str
    kwargs: dict[str, Any]
    expected: dict[str, Any]
    mistakes: dict[str, Mapping[str, Any]] = field(default_factory=dict)


class LazyValues(Mapping[str, Any]):
    """Values made on first access (and kept): their keys are known without computing them."""

    def __init__(self, makers: dict[str, Callable[[], Any]]) -> None:
        self._makers = makers
        self._made: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._made:
            self._made[key] = self._makers[key]()
        return self._made[key]

    def __contains__(self, key: object) -> bool:
        return key in self._makers  # without making the value, as Mapping's own would

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)


def evaluate(spec: Spec, name: str, value: GivenValue, scope: dict[str, Any]) -> Any:
    """A number, or a Python expression of the spec over np and ``scope``."""
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
        scope[name] = submitted[name] if name in submitted else evaluate(spec, name, value, scope)
    return scope


def reference_namespace(spec: Spec, submitted: Mapping[str, Any] = _NONE) -> dict[str, Any]:
    """Run the reference module as the instructor's cell, with the given values in scope."""
    path = spec.reference_path
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReferenceError(f"{spec.id}: cannot read reference module {path}: {exc}") from None
    return _run_cell(
        spec, source, str(path), f"reference module {path}", spec.answer_names, submitted
    )


def _run_cell(
    spec: Spec,
    source: str,
    filename: str,
    what: str,
    names: list[str],
    submitted: Mapping[str, Any] = _NONE,
) -> dict[str, Any]:
    """Run instructor code as a cell with the given values in scope; it must bind ``names``."""
    namespace: dict[str, Any] = {"np": np, "__name__": f"reference.{spec.reference or spec.id}"}
    namespace.update(given_values(spec, submitted))
    try:
        exec(compile(source, filename, "exec"), namespace)  # trusted instructor code
    except Exception as exc:
        raise ReferenceError(f"{spec.id}: {what} failed: {exc!r}") from None
    missing = [name for name in names if name not in namespace]
    if missing:
        raise ReferenceError(f"{spec.id}: {what} defines no {', '.join(missing)}")
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
    alternatives = _Alternatives(spec, namespace, submitted)
    if spec.function is None:
        expected = {
            check.name: kind(check.compare).expected(spec, check, namespace)
            for check in spec.checks
        }
        scope = {**given, **expected}
        return [ReferenceCase("", {}, expected, _mistake_values(spec, scope, alternatives, 0, {}))]
    function = namespace[spec.function.name]
    cases = []
    for number, (label, kwargs) in enumerate(function_inputs(spec)):
        try:
            expected = named_outputs(spec, function(**kwargs))
        except Exception as exc:
            raise ReferenceError(
                f"{spec.id}: the reference {spec.function.name} failed when called {label}: {exc!r}"
            ) from None
        scope = {**given, **kwargs, **expected}
        mistakes = _mistake_values(spec, scope, alternatives, number, kwargs)
        cases.append(ReferenceCase(label, kwargs, expected, mistakes))
    return cases


def named_outputs(spec: Spec, outputs: Any) -> dict[str, Any]:
    assert spec.function is not None
    names = spec.function.return_names
    return dict(zip(names, (outputs,) if len(names) == 1 else outputs, strict=True))


class _Alternatives:
    """Mistaken implementations (mistakes given as code), each run once per input set."""

    def __init__(
        self, spec: Spec, reference: dict[str, Any], submitted: Mapping[str, Any] = _NONE
    ) -> None:
        self.spec = spec
        self.reference = reference
        self.submitted = submitted
        self.outputs: dict[tuple[str, int], dict[str, Any]] = {}

    def value(self, mistake: Mistake, check: str, number: int, kwargs: dict[str, Any]) -> Any:
        assert mistake.code is not None
        key = (mistake.code, number)
        if key not in self.outputs:
            self.outputs[key] = self._run(mistake, kwargs)
        if check not in self.outputs[key]:
            raise ReferenceError(f"{self.spec.id}: mistake {mistake.id}'s code defines no {check}")
        return self.outputs[key][check]

    def _run(self, mistake: Mistake, kwargs: dict[str, Any]) -> dict[str, Any]:
        assert mistake.code is not None
        what = f"mistake {mistake.id}'s code"
        if self.spec.function is None:
            names = [check.name for check in self.spec.checks]
            cell = _run_cell(self.spec, mistake.code, f"<{what}>", what, [], self.submitted)
            return {name: cell[name] for name in names if name in cell}
        function = self._function(mistake, what)
        # The mistaken code may change its inputs in place; the reference's must stay as they are.
        copies = {
            name: np.copy(v) if isinstance(v, np.ndarray) else v for name, v in kwargs.items()
        }
        try:
            return named_outputs(self.spec, function(**copies))
        except Exception as exc:
            label = describe_call(kwargs, self.spec.function.arguments)
            raise ReferenceError(
                f"{self.spec.id}: {what} failed when called {label}: {exc!r}"
            ) from None

    def _function(self, mistake: Mistake, what: str) -> Callable[..., Any]:
        assert self.spec.function is not None and mistake.code is not None
        name = mistake.function
        if name is None:  # a block that defines the exercise's function again, mistakenly
            name = self.spec.function.name
            namespace = dict(self.reference)
            try:
                exec(compile(mistake.code, f"<{what}>", "exec"), namespace)  # trusted spec code
            except Exception as exc:
                raise ReferenceError(f"{self.spec.id}: {what} failed: {exc!r}") from None
            if namespace.get(name) is self.reference[name]:
                raise ReferenceError(f"{self.spec.id}: {what} defines no {name}")
        else:
            namespace = self.reference
        function = namespace.get(name)
        if not callable(function):
            raise ReferenceError(
                f"{self.spec.id}: {what} names {name}, which is no function of the reference module"
            )
        return function


def _mistake_values(
    spec: Spec,
    scope: dict[str, Any],
    alternatives: _Alternatives,
    number: int,
    kwargs: dict[str, Any],
) -> dict[str, Mapping[str, Any]]:
    """Each listed mistake's value, as its check's kind makes it, or as its code computes it;
    made when first looked at."""
    return {
        check.name: LazyValues(
            {
                mistake.id: _mistake_maker(
                    spec, check, mistake, scope, alternatives, number, kwargs
                )
                for mistake in check.mistakes
            }
        )
        for check in spec.checks
    }


def _mistake_maker(
    spec: Spec,
    check: Check,
    mistake: Mistake,
    scope: dict[str, Any],
    alternatives: _Alternatives,
    number: int,
    kwargs: dict[str, Any],
) -> Callable[[], Any]:
    if mistake.code is None:
        return lambda: kind(check.compare).mistake_value(spec, check, mistake, scope)

    return lambda: alternatives.value(mistake, check.name, number, kwargs)
