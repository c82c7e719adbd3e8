"""What hostile hand-ins cost the grading process, measured by hand (not a test):
`.venv/bin/python benchmarks/bench_hostile.py [--checkout DIR] [--only NAME ...]`.

Each hand-in goes through `grade.py check product_rule_alpha FILE --json`, a fresh process
each time. Reported: the exit status, the wall time, and the peak resident memory of the
grading process itself (its RUSAGE_SELF ru_maxrss, read at exit: the sandbox child is not
counted), median of --repeats runs.

- frame_bomb_190: one frame of `[[0.5],[0.5],...]` just under the old 192 MiB frame cap,
  written by the student straight onto the result pipe;
- frame_bomb_16: the same just under today's 16 MiB cap (refused by its value count);
- surrogate: correct answers, then `raise ValueError("\\ud800")`;
- parser_bomb: `du_dt = ` followed by 100,000 unary minus signs.

`--checkout DIR` measures another checkout (say, `git archive` of an older commit) with
this Python. Do not run frame_bomb_190 against code from before the frame bounds: its
grader needs about 4.7 GiB and 25 s.

Measured (2 shared cores, median of 3; exit status, wall, grader's peak):

| hand-in | before (9f9d027) | after |
|---|---|---|
| frame_bomb_190 | not run (about 4.7 GiB, 25 s) | 1, 1.1 s, 47.7 MiB |
| frame_bomb_16 | 1, 4.3 s, 329.9 MiB | 1, 0.95 s, 70.6 MiB |
| surrogate | 2 (internal error), 1.05 s, 47.8 MiB | 1, 0.9-1.35 s, 47.7 MiB |
| parser_bomb | 2 (internal error), 1.7 s, 48.5 MiB | 1, 1.6-1.8 s, 48.0 MiB |

An honest hand-in's grader peaks at about 48 MiB: the bound costs a frame bomb about
23 MiB (the frame's bytes, twice) and no parsing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIB = 2**20
ANSWERS = """\
t = np.arange(0, 10, .1)
tau = 0.5
du_dt = 1
dv_dt = -1/tau * np.exp(-t/tau)
"""
# Runs grade.py in this process and, at exit, writes the process's own peak memory.
MEASURED = """\
import atexit, os, resource, runpy, sys
def peak():
    with open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
atexit.register(peak)
grade = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(grade))
runpy.run_path(grade, run_name="__main__")
"""


def frame_bomb(frame_bytes: int) -> str:
    """Answers, then one frame of about ``frame_bytes``, written in 6 MB pieces."""
    pieces = frame_bytes // (6 * 10**6)
    return ANSWERS + textwrap.dedent(
        f"""
        import os, struct, sys
        def send(data):
            data = memoryview(data)
            while data:
                data = data[os.write(int(sys.argv[1]), data) :]
        piece = b"[0.5]," * 10**6
        send(struct.pack(">I", 1 + len(piece) * {pieces} + 6) + b"[")
        for _ in range({pieces}):
            send(piece)
        send(b"[0.5]]")
        """
    )


HAND_INS = {
    "frame_bomb_190": frame_bomb(190 * MIB),
    "frame_bomb_16": frame_bomb(16 * MIB - 64),
    "surrogate": ANSWERS + 'raise ValueError("\\ud800")\n',
    "parser_bomb": "du_dt = " + "-" * 100_000 + "1\n",
}


def measure(checkout: Path, hand_in: Path) -> tuple[int, float, float]:
    """(exit status, wall seconds, peak MiB of the grading process)."""
    with tempfile.NamedTemporaryFile() as peak_file:
        environment = {**os.environ, "BENCH_PEAK_FILE": peak_file.name}
        command = [sys.executable, "-c", MEASURED, str(checkout / "grade.py")]
        command += ["check", "product_rule_alpha", str(hand_in), "--json"]
        began = time.perf_counter()
        completed = subprocess.run(
            command, cwd=checkout, env=environment, capture_output=True, timeout=600
        )
        wall = time.perf_counter() - began
        peak_kib = int(Path(peak_file.name).read_text() or 0)
    return completed.returncode, wall, peak_kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=REPO)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=sorted(HAND_INS), default=sorted(HAND_INS))
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.only:
            hand_in = Path(scratch, f"{name}.py")
            hand_in.write_text(HAND_INS[name], encoding="utf-8")
            runs = [measure(args.checkout.resolve(), hand_in) for _ in range(args.repeats)]
            results[name] = {
                "exit_status": sorted({code for code, _, _ in runs}),
                "wall_s": round(statistics.median(wall for _, wall, _ in runs), 2),
                "grader_peak_mib": round(statistics.median(peak for _, _, peak in runs), 1),
            }
            print(f"{name:16} {results[name]}", flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
