"""The plain values that cross the sandbox boundary.

Student code runs in another process; what comes back is data only: numpy arrays of
plain numeric dtypes, Python scalars, strings, lists and tuples of those, and the
three markers below for things that are not data. Trusted code never receives a live
student object, so a rigged ``__eq__`` or a monkeypatched numpy cannot reach it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Opaque:
    """Something the student bound that cannot cross as data (a function, a module, an object)."""

    type_name: str
    summary: str = ""


@dataclass(frozen=True)
class Placeholder:
    """The handed-out ``...`` is still there: the answer was not written."""


PLACEHOLDER = Placeholder()


@dataclass(frozen=True)
class SymbolicText:
    """A sympy object, carried as its ``str()`` text and re-read by the safe expression parser."""

    text: str


@dataclass(frozen=True)
class CallFailure:
    """Calling the student's function raised; the message points at their own line."""

    exception: str
    message: str
    line: int | None = None
    code: str | None = None
