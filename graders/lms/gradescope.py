"""Gradescope: build the autograder zip, and grade one submission inside Gradescope.

``grade.py export gradescope --out autograder.zip`` writes a zip with ``setup.sh`` and
``run_autograder`` at its root, next to the toolkit and the chosen exercises. Gradescope
runs ``setup.sh`` once while it builds the image, then ``run_autograder`` for every
submission; that runs ``python -m graders.lms.gradescope ROOT``, which writes
``ROOT/results/results.json`` (ROOT is /autograder, or $AUTOGRADER_ROOT). The format is
Gradescope's "Autograder Specifications": one test per check, the total as ``score``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import EXIT_OK
from ..reports.view import number
from . import autograder

CONFIG = "autograder.json"  # the export's choices, read by every run

SETUP = f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image (Ubuntu):
# bubblewrap (the sandbox), Python 3.11+ and the toolkit in a virtual environment.
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends bubblewrap python3 python3-venv
PYTHON=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  # Ubuntu 22.04's python3 is 3.10; its Python 3.11 comes as separate packages.
  apt-get install -y -qq --no-install-recommends python3.11 python3.11-venv
  PYTHON=python3.11
fi
"$PYTHON" -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet --upgrade pip
# Editable: the code stays in source/, outside the Python installation that the sandbox
# mounts for student code, so the reference solutions beside it stay out of its reach.
"$ROOT/venv/bin/python" -m pip install --quiet --editable "$ROOT/source"
PROBE='import sys; from graders.sandbox import isolation_available as ok; sys.exit(not ok())'
if ! "$ROOT/venv/bin/python" -c "$PROBE"; then
  echo "WARNING: bubblewrap cannot build its sandbox in this container, so every submission" \\
       "will be refused with an explanation. Setting {autograder.ALLOW_UNISOLATED}=1 in" \\
       "run_autograder grades anyway, but student code could then read the reference" \\
       "solutions." >&2
fi
# matplotlib's font list for the sandbox, built once here rather than in every submission's
# run (about a second each); best effort: a run builds it itself when it is missing.
FONTS='from graders.sandbox import font_list; from graders.sandbox.runs import choose_isolation
font_list(choose_isolation(require_isolation=False))'
"$ROOT/venv/bin/python" -c "$FONTS" || true
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission, as root. It grades what the student uploaded
# to submission/ and always leaves a valid results/results.json behind.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${GRADERS_PYTHON:-$ROOT/venv/bin/python}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
# The bundled toolkit comes first on the path, whatever else the interpreter has.
cd "$ROOT/source" && PYTHONPATH="$ROOT/source" "$PYTHON" -m graders.lms.gradescope "$ROOT"
if [ ! -s "$RESULTS" ]; then
  # Python itself did not run: still tell the student, in the format Gradescope reads.
  MESSAGE="The autograder could not start, so this submission was not graded."
  MESSAGE+=" This is not a problem with your work: please tell your instructor."
  printf '{"score": 0, "output": "%s", "tests": []}\\n' "$MESSAGE" > "$RESULTS"
fi
exit 0
"""


@dataclass(frozen=True)
class Options:
    """What students see, chosen at export time."""

    hidden_until_due: bool = False  # hidden checks appear after the due date
    total_only: bool = False  # no check appears, only the total


def export(
    out: Path, course: Path, exercise_ids: Sequence[str] = (), options: Options = Options()
) -> int:
    """Write the autograder zip for the exercises named (all when none are) to ``out``."""
    specs = autograder.selected_specs(course, exercise_ids)
    files = autograder.bundle(specs)
    files["setup.sh"] = SETUP.encode()
    files["run_autograder"] = RUN_AUTOGRADER.encode()
    files[CONFIG] = (json.dumps(asdict(options), indent=2) + "\n").encode()
    autograder.write_zip(files, {"setup.sh", "run_autograder"}, out)
    ids = ", ".join(spec.id for spec in specs)
    print(f"wrote {out}: a Gradescope autograder for {ids} (upload it as the zip file)")
    return EXIT_OK


def main(argv: Sequence[str]) -> int:
    """Grade the submission under ROOT (the one argument); always exits 0."""
    began = time.monotonic()
    root = Path(argv[0])
    try:
        options = Options(**json.loads((root / "source" / CONFIG).read_text(encoding="utf-8")))
    except Exception as exc:  # a broken autograder must still answer the student
        options, grading = Options(), autograder.failed([], exc)
    else:
        grading = autograder.grade_course(root / "submission", root / "source")
    results = to_results(grading, options, time.monotonic() - began)
    autograder.write_json(results, root / "results" / "results.json")
    # stdout is the log only instructors see.
    print(autograder.printable("\n".join([*grading.log, results["output"]])))
    return 0


def to_results(grading: autograder.Grading, options: Options, seconds: float) -> dict[str, Any]:
    """results.json for one submission."""
    tests = [
        {
            "name": row.name,
            "score": row.score,
            "max_score": row.max_score,
            "status": "passed" if row.passed else "failed",
            "output": row.text,
            "visibility": _visibility(row, options),
        }
        for row in autograder.rows(grading.exercises, before_due=options.hidden_until_due)
    ]
    return {
        "score": grading.score,
        "execution_time": round(seconds, 2),
        "output": autograder.clip(_output(grading, options)),
        # Plain text: feedback quotes student code, which must not be read as HTML.
        "output_format": "text",
        "test_output_format": "text",
        "tests": tests,
    }


def _visibility(row: autograder.Row, options: Options) -> str:
    if options.total_only:
        return "hidden"
    if options.hidden_until_due and row.hidden:
        return "after_due_date"
    return "visible"


def _output(grading: autograder.Grading, options: Options) -> str:
    lines = autograder.overview(grading)
    if options.total_only:
        # Gradescope hides the score field from a student while any test is hidden, so
        # the total, the one thing this assignment shows, is written out here.
        lines.append(
            f"Score: {number(grading.score)} of {number(grading.max_score)} points. "
            "Feedback on each check is not shown for this assignment."
        )
        return "\n".join(lines)
    for exercise in grading.exercises:
        text = autograder.before_due_date(exercise) if options.hidden_until_due else None
        lines.append(autograder.exercise_line(exercise, text))
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
