"""Sandboxed grading of numerical and symbolic calculus exercises."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """``from graders import check`` for notebooks, loaded on first use.

    The self-check pulls in the engine (numpy, sympy); the command line imports
    ``graders.*`` modules on every run and must not pay for it.
    """
    if name == "check":
        from .notebook import check

        globals()[name] = check
        return check
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
