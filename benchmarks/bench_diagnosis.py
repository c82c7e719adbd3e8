"""Cost of automatic diagnosis, measured by hand (not a test):
`.venv/bin/python benchmarks/bench_diagnosis.py`.

1. Per exercise: the number of program slips tried and variants kept, the time to make them
   (a cold cache: once per spec and machine) and to read them back (a warm cache, once per
   process), and the time to diagnose one wrong answer once they are in memory.
2. `grade.py check` on a wrong psp_charge hand-in (rectangle_areas = PSP / dt), in a fresh
   process, with a cold and with a warm cache.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WRONG_PSP = (
    "import numpy as np\nt = np.arange(0, 10, dt)\nPSP = J * t * np.exp(-(t - t_sp) / tau_s)\n"
    "rectangle_areas = PSP / dt\nnumerical_integral = np.cumsum(rectangle_areas) * dt\n"
)


def _per_exercise(cache: Path) -> None:
    os.environ["CALCULUS_GRADERS_CACHE"] = str(cache)
    from graders import diagnosis, spec
    from graders.checks import compare_check
    from graders.reference import reference_cases

    print(f"{'exercise':24} {'slips':>5} {'kept':>5} {'make s':>7} {'read s':>7} {'match ms':>8}")
    for exercise in spec.load_all():
        if not diagnosis.variants.numeric_checks(exercise) or exercise.from_submission:
            continue
        source = exercise.reference_path.read_text(encoding="utf-8")
        path = diagnosis.cache.path_for(exercise, source)
        started = time.perf_counter()
        made = diagnosis.build(exercise, source)
        make = time.perf_counter() - started
        diagnosis.cache.store(path, made)
        started = time.perf_counter()
        diagnosis.cache.load(path)
        read = time.perf_counter() - started
        check = diagnosis.variants.numeric_checks(exercise)[-1]
        cases = reference_cases(exercise)
        wrong = [-case.expected[check.name] * 1.37 + 0.1 for case in cases]  # matches nothing
        answer = wrong if exercise.function else wrong[0]
        compare_check(exercise, check, answer, cases)  # variants into memory
        times = []
        for _ in range(5):
            started = time.perf_counter()
            compare_check(exercise, check, answer, cases)
            times.append(time.perf_counter() - started)
        slips = len(diagnosis.program.slips(exercise, source))
        print(
            f"{exercise.id:24} {slips:5} {len(made):5} {make:7.3f} {read:7.3f} "
            f"{1000 * statistics.median(times):8.2f}"
        )


def _check_process(cache: Path, handin: Path) -> float:
    env = {**os.environ, "CALCULUS_GRADERS_CACHE": str(cache)}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(REPO / "grade.py"), "check", "psp_charge", str(handin)],
        env=env,
        capture_output=True,
        check=False,
    )
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _per_exercise(root / "cache")
        handin = root / "wrong_psp.py"
        handin.write_text(WRONG_PSP, encoding="utf-8")
        colds = [_check_process(root / f"cold{n}", handin) for n in range(3)]
        warms = [_check_process(root / "cold0", handin) for _ in range(3)]
        print(
            f"grade.py check, wrong psp_charge hand-in: cold cache {statistics.median(colds):.3f}"
            f" s, warm cache {statistics.median(warms):.3f} s (median of 3, whole process)"
        )


if __name__ == "__main__":
    main()
