"""Static analysis of student source: the names a cell binds, the packages it uses."""

from __future__ import annotations

import textwrap

from graders.source_analysis import assigned_names, packages_used


def test_assigned_names_are_found_statically_even_below_a_raise() -> None:
    source = textwrap.dedent(
        """
        import numpy.linalg as la, math
        from math import pi as PI, e
        raise NotImplementedError("Student exercise: compute dfdt")
        dfdt = (f(t + h) - f(t)) / h
        total += 1
        width: float = 2.0
        a, (b, *rest) = 1, (2, 3)
        for i in range(3):
            if i:
                inner = i
        with open("f") as handle:
            pass
        if (w := 3):
            pass
        def g(x):
            global G
            G = local = x
        class C:
            attribute = 1
        squares = [k * k for k in range(3)]
        match point:
            case (px, *others):
                pass
            case {"key": kv, **remaining}:
                pass
        arr[0] = 1
        obj.attribute = 2
        """
    )
    assert assigned_names(source) == [
        "la",
        "math",
        "PI",
        "e",
        "dfdt",
        "total",
        "width",
        "a",
        "b",
        "rest",
        "i",
        "inner",
        "handle",
        "w",
        "g",
        "G",
        "C",
        "squares",
        "px",
        "others",
        "kv",
        "remaining",
    ]
    assert assigned_names("x = (1,\ny = 2") == []


def test_the_packages_a_cell_uses_are_found_statically() -> None:
    source = textwrap.dedent(
        """
        import numpy.linalg as la, os
        from matplotlib import pyplot
        from . import sibling
        def plot():
            import ipywidgets
        derivative = sp.diff(expression)
        """
    )
    lazy = {"sp": "sympy", "plt": "matplotlib.pyplot"}
    assert packages_used(source, lazy) == {
        "numpy",
        "os",
        "matplotlib",
        "ipywidgets",
        "sympy",
    }
    assert packages_used("import sympy\nx = (1,", lazy) == set()
