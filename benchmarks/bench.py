"""Speed of the grader, measured by hand (not a test): `.venv/bin/python benchmarks/bench.py`.

1. Self-check wall time per exercise: `python grade.py check ...` as a student runs it,
   a fresh process each time (median of several runs).
2. Grading 200 `.py` submissions one after another in one process, each in a fresh
   sandbox (what an instructor's loop costs without a warm pool).

Measured (2 shared cores, `--repeats 9 --count 0`, runs taking turns, load average 1.5 to 2.3):

    psp_charge                            0.609 s
    neuron_gain                           0.590 s
    euler_population                      0.587 s
    lif_euler                             0.615 s
    euler_linear_system                   0.661 s
    euler_linear_system (known mistake)   0.682 s

At a load average of 5.5 every self-check took 1.65 to 1.8 s, the simulations about 0.1 s
more than neuron_gain. The linear system's extra cost is the tutorial's own call, 10,000
Euler steps in a Python loop, run in the sandbox (twice: the example cell calls it too) and
again for the reference; a known mistake adds its own runs, made only when a check fails.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SELF_CHECKS = {
    "product_rule_alpha": ["examples/product_rule_correct.py"],
    "psp_charge": ["examples/psp_correct.py"],
    "neuron_gain": ["examples/neuron_gain_correct.py"],
    "chain_rule": ["--answer", "4a^3 e^(a^4+1)"],
    "chain_rule (sympy in code)": ["examples/chain_rule_sympy.py"],
    "euler_population": ["examples/euler_population_correct.py"],
    "lif_euler": ["examples/lif_euler_correct.py"],
    # The tutorial's call alone is 10,000 Euler steps in a Python loop, in the sandbox and
    # again for the reference in the grader.
    "euler_linear_system": ["examples/euler_linear_system_correct.py"],
    "euler_linear_system (known mistake)": ["examples/euler_linear_system_updated_r_E.py"],
}


def self_check_times(repeats: int, only: list[str]) -> dict[str, float]:
    """Median per exercise. Runs take turns (one of each, then again), so that a change in
    the machine's load while measuring weighs on every exercise alike."""
    chosen = {
        label: args for label, args in SELF_CHECKS.items() if not only or label.split()[0] in only
    }
    samples: dict[str, list[float]] = {label: [] for label in chosen}
    for _ in range(repeats):
        for label, args in chosen.items():
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "grade.py", "check", label.split()[0], *args],
                cwd=REPO,
                capture_output=True,
                check=False,
            )
            samples[label].append(time.perf_counter() - start)
    return {label: statistics.median(times) for label, times in samples.items()}


def batch_time(count: int) -> tuple[float, float]:
    from graders import engine, spec, submission

    product = spec.find("product_rule_alpha")
    sources = [
        (REPO / "examples" / "product_rule_correct.py").read_text(),
        (REPO / "examples" / "product_rule_chain_rule_forgotten.py").read_text(),
    ]
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for number in range(count):
            path = Path(folder) / f"student_{number:03d}.py"
            path.write_text(sources[number % 2])
            paths.append(path)
        start = time.perf_counter()
        for path in paths:
            engine.grade(submission.load(path), [product])
        total = time.perf_counter() - start
    return total, total / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--count", type=int, default=200, help="0: no batch timing")
    parser.add_argument("--only", nargs="*", default=[], metavar="EXERCISE")
    args = parser.parse_args()
    print("Self-check wall time (median of", args.repeats, "runs, fresh process each):")
    for label, seconds in self_check_times(args.repeats, args.only).items():
        print(f"  {label:<36} {seconds:6.3f} s")
    if not args.count:
        return
    total, each = batch_time(args.count)
    print(f"Grading {args.count} .py submissions one after another: {total:.1f} s", end=" ")
    print(f"({each * 1000:.0f} ms each)")


if __name__ == "__main__":
    main()
