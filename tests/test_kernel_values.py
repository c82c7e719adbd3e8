"""What the instant self-check reads from a kernel: plain data as the sandbox hands it
back, what a cell certainly did from its text, and which cells a function needs."""

from __future__ import annotations

import numpy as np

from graders import sandbox
from graders.kernel import dependencies, plain_values, unconditional_raise
from graders.values import PLACEHOLDER, Opaque


class Rigged(np.ndarray):
    def __eq__(self, other):  # type: ignore[override]
        raise AssertionError("student code ran")

    def __array__(self, *args, **kwargs):
        raise AssertionError("student code ran")


class Anything(float):
    def __eq__(self, other):  # type: ignore[override]
        raise AssertionError("student code ran")


class Pretender:
    __module__ = "sympy.core.add"  # claims to be sympy's, to get its __str__ run

    def __str__(self) -> str:
        raise AssertionError("student code ran")


def test_values_cross_as_plain_data_without_running_student_code():
    kernel = {
        "array": np.arange(3.0).view(Rigged),
        "number": Anything(2.5),
        "text": "4a^3",
        "unfinished": ...,
        "pretender": Pretender(),
        "rows": [np.float32(1.5), (1, True)],
    }
    values = plain_values(kernel, [*kernel, "missing"])
    assert type(values["array"]) is np.ndarray and values["array"].tolist() == [0.0, 1.0, 2.0]
    assert type(values["number"]) is float and values["number"] == 2.5
    assert values["text"] == "4a^3"
    assert values["unfinished"] is PLACEHOLDER
    assert isinstance(values["pretender"], Opaque)
    assert values["rows"] == [1.5, (1, True)] and type(values["rows"][0]) is float
    assert "missing" not in values
    kernel["array"][0] = 99  # a copy: the student's later changes do not reach it
    assert values["array"][0] == 0.0


def test_a_handed_out_raise_is_known_from_the_text():
    cell = 'x = 1\nraise NotImplementedError("Calculate the derivatives")\ndu_dt = ...'
    ran = unconditional_raise(cell)
    assert (ran.status, ran.exception, ran.message, ran.line) == (
        "error",
        "NotImplementedError",
        "Calculate the derivatives",
        2,
    )
    assert unconditional_raise("if x:\n    raise NotImplementedError('x')").status == "ok"


def test_a_function_needs_the_statements_that_last_bind_the_names_it_reads():
    sources = [
        "import scipy\nslope = 2",
        "slope = 3\nunused = 1",
        "def helper(x):\n    return x * slope",
        "offset = helper(1)\nplt.plot(offset)",
        # Called after the cell: the slope it reads is the one set below the def.
        "def f(I):\n    return np.exp(I) * slope + offset\n\nslope = 4\nplot(f(I))",
    ]
    cells = [sandbox.Cell(n, source, f"In [{n}]") for n, source in enumerate(sources, 1)]
    needed = dependencies(cells, "f", {"np", "plt"})
    # Not In [1]: slope is bound again before anything reads it. Lines keep their numbers.
    assert {cell.index: cell.source for cell in needed} == {
        2: "slope = 3\n",
        3: sources[2],
        4: "offset = helper(1)\n",
        5: "def f(I):\n    return np.exp(I) * slope + offset\n\nslope = 4\n",
    }
