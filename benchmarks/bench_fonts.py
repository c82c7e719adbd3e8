"""One-off notebook grading with and without the prebuilt matplotlib font list, measured
by hand (not a test): `.venv/bin/python benchmarks/bench_fonts.py [--repeats N]`.

A small notebook that imports matplotlib and draws one plot is graded with
`grade.py grade NOTEBOOK`, a fresh process each time, in three ways, taken in turn so
that the machine's load falls on all three alike (median wall time of N runs each):

- font list: the grader's font list (built once, before the first timed run) is bound
  read-only into each run's MPLCONFIGDIR;
- no font list: XDG_CACHE_HOME points where no cache can be made, so each run's
  matplotlib lists the system's fonts itself, as every one-off run did before;
- plain python: the same cells in one `python` process with a warm matplotlib cache, no
  sandbox and no grading (the floor).

Measured (2 shared cores, 7 runs each; load average about 2.5, then about 4.5):
font list 1.25 s / 2.49 s, no font list 1.42 s / 2.83 s, plain python 0.77 s / 1.57 s.
Inside the sandbox alone, `import matplotlib.pyplot` took 0.71 s instead of 1.32 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
CELLS = [
    "import numpy as np\nimport matplotlib.pyplot as plt",
    "t = np.arange(0, 10, .1)\ntau = 0.5\ndu_dt = 1\ndv_dt = -1/tau * np.exp(-t/tau)\n"
    "df_dt = t * dv_dt + np.exp(-t/tau) * du_dt",
    "fig, ax = plt.subplots()\nax.plot(t, df_dt)\nax.set_xlabel('t')\nfig.canvas.draw()",
]


def timed(command: list[str], environment: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=environment, capture_output=True, check=False)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        notebook = Path(scratch, "small.ipynb")
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
        nbformat.write(nb, notebook)
        script = Path(scratch, "cells.py")
        script.write_text("\n".join(CELLS) + "\n")
        grade = [sys.executable, "grade.py", "grade", str(notebook)]
        ways = {
            "font list": (grade, {**os.environ, "XDG_CACHE_HOME": str(Path(scratch, "cache"))}),
            "no font list": (grade, {**os.environ, "XDG_CACHE_HOME": "/proc/no-cache-here"}),
            "plain python": (
                [sys.executable, str(script)],
                {**os.environ, "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(Path(scratch, "mpl"))},
            ),
        }
        for command, environment in ways.values():  # builds the font list and caches
            timed(command, environment)
        samples: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(args.repeats):
            for way, (command, environment) in ways.items():
                samples[way].append(timed(command, environment))
    medians = {way: round(statistics.median(times), 2) for way, times in samples.items()}
    print(json.dumps({"median_wall_s": medians, "repeats": args.repeats}, indent=2))


if __name__ == "__main__":
    main()
