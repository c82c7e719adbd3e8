"""check() in a warm kernel on the real Tutorial 1 and Tutorial 3 notebooks (instructor
versions, run top to bottom with nbclient): per exercise, its first call and the median of
10 further calls, then check_all()'s (the replay of each call is waited for, untimed, so
that it does not compete with the next call).

    .venv/bin/python benchmarks/bench_notebook_check.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from notebook_kernels import execute, headless  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures"
NOTEBOOKS = {
    "W0D4_Tutorial1": (
        FIXTURES / "W0D4_Tutorial1_instructor.ipynb",
        ["product_rule_alpha", "psp_charge", "neuron_gain", "chain_rule"],
    ),
    "W0D4_Tutorial3": (
        FIXTURES / "W0D4_Tutorial3_instructor.ipynb",
        ["euler_population", "lif_euler", "euler_linear_system"],
    ),
}
TYPED_ANSWER = 'dr_da = "4*a**3 * exp(a**4 + 1)"'  # chain_rule's, a typed answer in a cell


def timing(exercises: list[str]) -> str:
    return f"""\
import json, statistics, time
_times = {{}}
for _exercise in {exercises!r} + [None]:
    _calls = []
    for _ in range(11):
        _began = time.perf_counter()
        _feedback = check(_exercise)
        _calls.append(time.perf_counter() - _began)
        _feedback.wait(300)
    _times[_exercise or "check_all()"] = [_calls[0], statistics.median(_calls[1:])]
print(json.dumps(_times))
"""


def main() -> None:
    for assignment, (path, exercises) in NOTEBOOKS.items():
        notebook = headless(path, [TYPED_ANSWER, timing(exercises)])
        with tempfile.TemporaryDirectory() as home:
            times = execute(notebook, Path(home), timeout=1200)
        print(assignment)
        for exercise, (first, median) in times.items():  # type: ignore[union-attr]
            print(
                f"  {exercise:20} first {first * 1000:7.1f} ms"
                f"   median of 10 {median * 1000:7.1f} ms"
            )


if __name__ == "__main__":
    main()
