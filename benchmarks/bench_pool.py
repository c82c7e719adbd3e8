"""Throughput and memory of warm sandbox workers, measured by hand (not a test).

    .venv/bin/python benchmarks/bench_pool.py [--count 1000] [--workers 2]

Grades generated product_rule_alpha `.py` submissions (correct and wrong ones in turn)
end to end, ``engine.grade(submission, [spec], run=...)``, from as many threads as there
are workers:

1. through a ``sandbox.Pool``, which forks each job from a warm zygote;
2. with a fresh ``sandbox.start()`` per submission, for the ratio;
3. the peak RSS of the grader's process tree (the grader, its workers and their jobs)
   while a pool grades 100, then 2000 submissions: flat if nothing builds up;
4. what recomputing the reference values, which ``engine.grade`` does on every call,
   costs against the wall time per pooled submission.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from graders import engine, sandbox, spec, submission  # noqa: E402
from graders.limits import LimitOverrides, limits_for  # noqa: E402
from graders.reference import reference_cases  # noqa: E402

EXERCISE = "product_rule_alpha"
ANSWERS = {  # dv_dt as a student might write it: right, and three known mistakes
    "correct": "-1/tau * np.exp(-t/tau)",
    "inner derivative forgotten": "np.exp(-t/tau)",
    "times tau": "-tau * np.exp(-t/tau)",
    "sign error": "1/tau * np.exp(-t/tau)",
}
SOURCE = """\
t = np.arange(0, 10, .1)
tau = 0.5
f = t * np.exp(-t/tau)
u_t = t
v_t = np.exp(-t/tau)
du_dt = 1
dv_dt = {dv_dt}
df_dt = u_t * dv_dt + v_t * du_dt  # student {number}
plot_alpha_func(t, f, df_dt)
"""


def write_submissions(folder: Path, count: int) -> list[Path]:
    answers = list(ANSWERS.values())
    paths = []
    for number in range(count):
        path = folder / f"student_{number:05d}.py"
        path.write_text(SOURCE.format(dv_dt=answers[number % len(answers)], number=number))
        paths.append(path)
    return paths


def grade_all(paths: list[Path], threads: int, run: Callable[[], sandbox.Run | None]) -> float:
    """Seconds to grade every path, each of ``threads`` threads taking every threads-th
    one (nothing per submission is kept); checks that each got the score it should."""
    exercise = spec.find(EXERCISE)
    wrong: list[Path] = []

    def grade_share(first: int) -> None:
        for number in range(first, len(paths), threads):
            result = engine.grade(submission.load(paths[number]), [exercise], run=run())
            if result.score != (3.0 if number % len(ANSWERS) == 0 else 1.0):
                wrong.append(paths[number])

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(grade_share, range(threads)))
    elapsed = time.perf_counter() - began
    assert not wrong, f"graded wrongly: {wrong[:3]}"
    return elapsed


class TreeMemory:
    """Samples the summed RSS of this process and all its descendants (its workers and
    their jobs) and this process's own; keeps the peaks, and the tree's RSS at the end,
    when only idle workers are left. (Summed RSS counts the pages a zygote shares with its
    jobs once per process: an upper bound, but one that other processes do not move.)"""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self.peak_own = 0
        self.idle = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.idle = _tree_rss()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, _tree_rss())
            self.peak_own = max(self.peak_own, _rss(os.getpid()))


def _tree_rss() -> int:
    return sum(_rss(pid) for pid in _tree(os.getpid()))


def _tree(root: int) -> set[int]:
    parents = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = {root}, {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _rss(pid: int) -> int:
    """Resident set size in bytes (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def pool_limits(path: Path) -> sandbox.RunLimits:
    """The limits `grade` would use for one .py submission of this exercise."""
    return limits_for([spec.find(EXERCISE)], submission.load(path), LimitOverrides())


def reference_share(per_submission: float) -> tuple[float, float]:
    """(ms per reference_cases call, its share of the wall time per submission)."""
    exercise = spec.find(EXERCISE)
    began = time.perf_counter()
    for _ in range(200):
        reference_cases(exercise)
    each = (time.perf_counter() - began) / 200
    return each * 1000, each / per_submission


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cold-count", type=int, default=200, help="submissions, cold starts")
    parser.add_argument("--memory-counts", default="100,2000", help="submissions, comma-separated")
    args = parser.parse_args()
    memory_counts = [int(count) for count in args.memory_counts.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        paths = write_submissions(Path(folder), max(args.count, *memory_counts))
        limits = pool_limits(paths[0])
        with sandbox.Pool(args.workers, limits) as pool:
            grade_all(paths[: 2 * args.workers], args.workers, pool.start)  # warm up
            warm = grade_all(paths[: args.count], args.workers, pool.start)
            print(f"isolation: {pool.isolation}, {args.workers} workers, limits {limits}")
        print(f"pool:  {args.count} submissions in {warm:.1f} s: {args.count / warm:.1f} /s")
        cold = grade_all(paths[: args.cold_count], args.workers, lambda: None)
        rate = args.cold_count / cold
        print(f"start: {args.cold_count} submissions in {cold:.1f} s: {rate:.1f} /s")
        print(f"pool / start: {args.count / warm / rate:.1f} times as many per second")
        for count in memory_counts:
            with sandbox.Pool(args.workers, limits) as pool, TreeMemory() as memory:
                grade_all(paths[:count], args.workers, pool.start)
            peak, own, idle = (
                round(n / 2**20) for n in (memory.peak, memory.peak_own, memory.idle)
            )
            line = f"{count:>5} submissions: RSS of the grader's process tree peaks at {peak} MB"
            print(f"{line} (the grader's own at {own} MB), {idle} MB at the end")
        milliseconds, share = reference_share(warm / args.count)
        print(f"reference_cases: {milliseconds:.2f} ms a call, ", end="")
        print(f"{share:.0%} of the wall time per pooled submission")


if __name__ == "__main__":
    main()
