"""Speed and memory of `grade.py batch`, measured by hand (not a test):
`.venv/bin/python benchmarks/bench_batch.py` (add `--quick` for small counts).

1. Throughput: N numeric `.py` hand-ins (product_rule_alpha, right and wrong) with 2 workers.
2. Notebooks: copies of the real tutorial notebook (the instructor version, read from
   tests/fixtures) with 2 workers.
3. Memory: the batch process's peak RSS for a small and a large class of tiny hand-ins
   (`.py` through the sandbox; typed `.txt` answers, which need no sandbox, for a class
   large enough to show whether memory grows with it).
4. The same `.py` hand-ins and notebooks graded the way a loop over `python grade.py check`
   (or `grade`, for a notebook's every exercise) would, one process at a time (measured on
   a sample and extrapolated), against the batch.

Each batch runs as `python grade.py batch` in a child process; the peak RSS is that
process's own (its sandbox children are not counted).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "tests" / "fixtures" / "W0D4_Tutorial1_instructor.ipynb"
SOURCES = [
    (REPO / "examples" / "product_rule_correct.py").read_text(),
    (REPO / "examples" / "product_rule_chain_rule_forgotten.py").read_text(),
]
TINY = {".py": "du_dt = 1\n", ".txt": "4a^3 e^(a^4+1)\n"}
# Runs the command in this process and reports its own peak RSS (kB, Linux) on stdout.
MEASURED = (
    "import resource, sys; from graders.cli import main; code = main(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(code)"
)


def make_class(folder: Path, count: int, text_of: Callable[[int], str], suffix: str) -> Path:
    folder.mkdir(parents=True)
    for number in range(count):
        (folder / f"student{number:05d}{suffix}").write_text(text_of(number))
    return folder


def run_batch(folder: Path, workers: int = 2) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one `grade.py batch` process."""
    out = folder.parent / f"{folder.name}-out"
    command = [sys.executable, "-c", MEASURED, "batch", str(folder), "--out", str(out)]
    start = time.perf_counter()
    completed = subprocess.run(
        [*command, "--workers", str(workers)], cwd=REPO, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if completed.returncode not in (0, 1):
        raise SystemExit(f"batch failed: {completed.stderr.strip()[-500:]}")
    print(f"    {completed.stderr.strip().splitlines()[-1]}")
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        query = "SELECT DISTINCT problem FROM students WHERE retry = 1 LIMIT 3"
        for (problem,) in db.execute(query):
            print(f"    the grader failed on some: {problem}")
    shutil.rmtree(out)
    return seconds, int(completed.stdout.split()[-1]) / 1024


def one_process_at_a_time(folder: Path, sample: int, *command: str) -> float:
    """Seconds per hand-in with one `python grade.py COMMAND... PATH` process each."""
    paths = sorted(folder.iterdir())[:sample]
    start = time.perf_counter()
    for path in paths:
        subprocess.run(
            [sys.executable, "grade.py", *command, str(path)],
            cwd=REPO,
            capture_output=True,
            check=False,
        )
    return (time.perf_counter() - start) / len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--py", type=int, default=500, help=".py hand-ins for throughput")
    parser.add_argument("--notebooks", type=int, default=20)
    parser.add_argument("--small", type=int, default=100, help="small class for memory")
    parser.add_argument("--large-py", type=int, default=10000, help="large .py class")
    parser.add_argument("--large-txt", type=int, default=10000, help="large typed class")
    parser.add_argument("--sample", type=int, default=30, help="`check` runs to time")
    parser.add_argument("--quick", action="store_true", help="small counts, to try it out")
    args = parser.parse_args()
    if args.quick:
        args.py, args.notebooks, args.large_py, args.large_txt, args.sample = 40, 4, 200, 500, 5
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        numeric = make_class(root / "py", args.py, lambda n: SOURCES[n % 2], ".py")
        print(f"1. {args.py} numeric .py hand-ins, 2 workers:")
        py_seconds, rss = run_batch(numeric)
        rate = args.py / py_seconds
        print(f"   {py_seconds:.1f} s, {rate:.1f} hand-ins/s, peak RSS {rss:.0f} MB")

        notebook = NOTEBOOK.read_text(encoding="utf-8")
        notebooks = make_class(root / "nb", args.notebooks, lambda n: notebook, ".ipynb")
        print(f"2. {args.notebooks} copies of the tutorial notebook, 2 workers:")
        nb_seconds, rss = run_batch(notebooks)
        print(f"   {nb_seconds:.1f} s, {args.notebooks / nb_seconds:.2f} notebooks/s")

        print("3. Peak RSS of the batch process by class size (tiny hand-ins):")
        for suffix, large in ((".py", args.large_py), (".txt", args.large_txt)):
            for count in (args.small, large):
                text = TINY[suffix]
                folder = make_class(
                    root / f"tiny{count}{suffix}", count, lambda n, t=text: t, suffix
                )
                seconds, rss = run_batch(folder)
                print(f"   {count:>6} {suffix:<4} {rss:6.0f} MB  ({count / seconds:.1f}/s)")

        print(f"4. One `grade.py` process at a time ({args.sample} timed of each kind):")
        for what, folder, count, seconds, command in (
            (".py, `check`", numeric, args.py, py_seconds, ("check", "product_rule_alpha")),
            ("notebooks, `grade`", notebooks, args.notebooks, nb_seconds, ("grade",)),
        ):
            each = one_process_at_a_time(folder, args.sample, *command)
            print(f"   {what}: {each:.2f} s each, {each * count:.0f} s for {count};")
            print(f"   the batch is {each * count / seconds:.1f} times faster")


if __name__ == "__main__":
    main()
