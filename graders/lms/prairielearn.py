"""PrairieLearn: write an external-grader setup, and grade one job inside PrairieLearn.

``grade.py export prairielearn --out DIR`` writes DIR, which goes into the course as
``serverFilesCourse/calculus_graders/``: the toolkit, the chosen exercises, and
``entrypoint``, which PrairieLearn runs for every submission. It also holds what goes
elsewhere: an example question per exercise (``questions/ID/``), the grading image's
``image/Dockerfile`` and a README saying where each part goes.

``entrypoint`` runs ``python -m graders.lms.prairielearn ROOT DIR``: it grades the files
under ROOT/student (ROOT is /grade, or $GRADE_ROOT) against the exercise the question
names in ``params.exercise`` of ROOT/data/data.json (or the only one exported) and writes
ROOT/results/results.json: ``score`` as a fraction, one test per check.
"""

from __future__ import annotations

import argparse
import html
import json
import shlex
import shutil
import sys
import tomllib
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..cli import CommandError
from ..spec import Spec, spec_paths
from . import autograder

FOLDER = "calculus_graders"  # the export's name under the course's serverFilesCourse/
ENTRYPOINT = f"/grade/serverFilesCourse/{FOLDER}/entrypoint"
# No public image has both bubblewrap and the toolkit's dependencies: the instructor
# builds image/Dockerfile, pushes it, and puts its name here in each info.json.
IMAGE = "your-dockerhub-user/calculus-graders"
TIMEOUT_SECONDS = 60  # a .py run may take 20 s, plus Python and numpy starting twice
# Stable question ids: exporting again gives each question the uuid it had.
_UUIDS = uuid.uuid5(uuid.NAMESPACE_URL, "calculus-graders/prairielearn")

ENTRYPOINT_SCRIPT = """#!/usr/bin/env bash
# PrairieLearn runs this for every submission. It grades the files under student/ and
# always leaves results/results.json behind, and exits 0: any other exit status would
# discard the results and show the student a bare error.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${GRADE_ROOT:-/grade}"
PYTHON="${GRADERS_PYTHON:-python3}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
# The toolkit next to this script comes first on the path, whatever the image has.
cd "$HERE" && PYTHONPATH="$HERE" "$PYTHON" -m graders.lms.prairielearn "$ROOT" "$HERE"
if [ ! -s "$RESULTS" ]; then
  # Python itself did not run: still tell the student, in the format PrairieLearn reads.
  MESSAGE="The autograder could not start, so this submission was not graded."
  MESSAGE+=" This is not a problem with your work: please tell your instructor."
  printf '{"gradable": false, "message": "%s", "format_errors": ["%s"]}\\n' \\
    "$MESSAGE" "$MESSAGE" > "$RESULTS"
fi
exit 0
"""


def export(args: argparse.Namespace) -> int:
    if args.hidden_until_due or args.total_only:
        raise CommandError(
            "--hidden-until-due and --total-only are Gradescope options; PrairieLearn shows "
            "a hidden check's outcome only"
        )
    specs = autograder.selected_specs(args)
    files = autograder.bundle(specs)
    files["entrypoint"] = ENTRYPOINT_SCRIPT.encode()
    files["README.md"] = _readme(specs).encode()
    files["image/Dockerfile"] = _dockerfile(files["pyproject.toml"]).encode()
    for spec in specs:
        folder = f"questions/{spec.id}"
        files[f"{folder}/info.json"] = (json.dumps(_info(spec), indent=2) + "\n").encode()
        files[f"{folder}/question.html"] = _question_html(spec).encode()
        files[f"{folder}/server.py"] = _server_py(spec).encode()
    _clear(args.out)
    autograder.write_tree(files, {"entrypoint"}, args.out)
    ids = ", ".join(spec.id for spec in specs)
    print(f"wrote {args.out}: a PrairieLearn external grader for {ids} (see its README.md)")
    return 0


def main(argv: Sequence[str]) -> int:
    """Grade the job under ROOT with the export in DIR (the two arguments); exits 0."""
    root, course = Path(argv[0]), Path(argv[1])
    try:
        exercise_ids = _chosen(root / "data" / "data.json", course)
    except Exception as exc:  # a broken setup must still answer the student
        grading = autograder.failed([], exc)
    else:
        grading = autograder.grade_course(root / "student", course, exercise_ids)
    autograder.write_json(to_results(grading), root / "results" / "results.json")
    print(autograder.printable("\n".join([*grading.log, *autograder.overview(grading)])))  # log
    return 0


def to_results(grading: autograder.Grading) -> dict[str, Any]:
    """results.json for one job.

    PrairieLearn's "not gradable" costs the student no attempt: it fits an upload that
    could not be read and our own failures, not code that ran and was wrong.
    """
    if grading.failure is not None:
        return {"gradable": False, "message": grading.failure, "format_errors": [grading.failure]}
    lines = autograder.overview(grading)
    if grading.unusable is not None:
        return {"gradable": False, "message": grading.unusable, "format_errors": lines}
    lines += [autograder.exercise_line(exercise) for exercise in grading.exercises]
    fraction = grading.score / grading.max_score if grading.max_score > 0 else 0.0
    return {
        "gradable": True,
        "score": min(1.0, max(0.0, fraction)),
        "message": autograder.clip("\n".join(lines)),
        "tests": [
            {
                "name": row.name,
                "points": row.score,
                "max_points": row.max_score,
                "message": row.feedback,
                "output": row.details,
            }
            for row in autograder.rows(grading.exercises)
        ],
    }


def _chosen(data_path: Path, course: Path) -> list[str]:
    """The exercise this question grades: ``params.exercise``, or the only one exported."""
    bundled = [path.stem for path in spec_paths(course)]
    params: Any = {}
    if data_path.is_file():
        try:
            params = json.loads(data_path.read_text(encoding="utf-8")).get("params") or {}
        except (ValueError, AttributeError):
            raise autograder.ConfigurationError(f"{data_path.name} is not a JSON object") from None
    chosen = params.get("exercise") if isinstance(params, dict) else None
    if chosen is None and len(bundled) == 1:
        return bundled
    if not isinstance(chosen, str):
        raise autograder.ConfigurationError(
            "the question does not say which exercise it grades: its server.py must set "
            f"data['params']['exercise'] to one of {', '.join(bundled)}"
        )
    return [chosen]


# --- the course side ------------------------------------------------------------------------


def _info(spec: Spec) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid5(_UUIDS, spec.id)),
        "title": spec.title,
        "topic": "Calculus",
        "tags": ["calculus-graders"],
        "type": "v3",
        "singleVariant": True,
        "gradingMethod": "External",
        "externalGradingOptions": {
            "image": IMAGE,
            "entrypoint": ENTRYPOINT,
            "serverFilesCourse": [f"{FOLDER}/"],
            "timeout": TIMEOUT_SECONDS,
        },
    }


def _question_html(spec: Spec) -> str:
    """The prompt, an editor for the answer, and the grader's results under a submission."""
    given = ", ".join(f"<code>{html.escape(name)}</code>" for name in spec.given)
    wanted = ", ".join(f"<code>{html.escape(name)}</code>" for name in spec.answer_names)
    if spec.accepts_typed_answers:
        task = f"Type your answer for {wanted} as a formula."
        editor = '<pl-file-editor file-name="answer.txt"></pl-file-editor>'
    else:
        scope = f" {given} and <code>np</code> are already defined." if given else ""
        task = f"Write the code of your exercise cell: it must define {wanted}.{scope}"
        editor = (
            '<pl-file-editor file-name="answer.py" ace-mode="ace/mode/python"></pl-file-editor>'
        )
    return f"""<pl-question-panel>
  <p><strong>{html.escape(spec.title)}</strong> ({html.escape(spec.source)})</p>
  <p>{html.escape(spec.prompt)}</p>
  <p>{task}</p>
  {editor}
</pl-question-panel>

<pl-submission-panel>
  <pl-external-grader-results></pl-external-grader-results>
  <pl-file-preview></pl-file-preview>
</pl-submission-panel>
"""


def _server_py(spec: Spec) -> str:
    return f'''"""Tells the calculus-graders external grader which exercise this question is."""


def generate(data):
    data["params"]["exercise"] = {json.dumps(spec.id)}
'''


def _dockerfile(pyproject: bytes) -> str:
    """Python 3.11, bubblewrap (the sandbox) and the toolkit's dependencies, from its
    pyproject.toml; the toolkit itself comes with every job, from serverFilesCourse."""
    dependencies = tomllib.loads(pyproject.decode())["project"]["dependencies"]
    return (
        "# The image PrairieLearn runs calculus-graders' entrypoint in.\n"
        "FROM python:3.11-slim-bookworm\n"
        "RUN apt-get update \\\n"
        " && apt-get install -y --no-install-recommends bubblewrap \\\n"
        " && rm -rf /var/lib/apt/lists/*\n"
        f"RUN pip install --no-cache-dir {' '.join(shlex.quote(d) for d in dependencies)}\n"
    )


def _readme(specs: Sequence[Spec]) -> str:
    ids = ", ".join(spec.id for spec in specs)
    return f"""# PrairieLearn external grader: {ids}

Written by `grade.py export prairielearn`. Where each part goes in your course repository:

- This whole folder goes to `serverFilesCourse/{FOLDER}/`: `entrypoint`, the grading
  toolkit, the exercises and their reference solutions. PrairieLearn never sends
  `serverFilesCourse` to students, and student code runs in a sandbox that cannot see it.
- Each `questions/ID/` goes to `questions/ID/`: an example question per exercise, with
  `info.json` (external grading with this folder's entrypoint), `question.html` (an editor
  for the answer, and `<pl-external-grader-results>` under a submission) and `server.py`
  (sets `params.exercise`, which tells the grader the exercise).
- `image/Dockerfile` goes nowhere: build the grading image from it.

**Docker image.** Build and push the image, then put its name in `externalGradingOptions.image`
of each `info.json` (it says `{IMAGE}` until you do):

    docker build -t YOURNAME/calculus-graders image && docker push YOURNAME/calculus-graders

It is Python 3.11 with bubblewrap and the toolkit's dependencies. `prairielearn/grader-python`
will not do: its package list has neither pydantic nor bubblewrap.

**Topic.** The questions use the topic `Calculus`: add it to `infoCourse.json` or change it.

**Sandbox.** Student code runs under bubblewrap, which must be able to create namespaces in
the grading container. Where it cannot, every submission comes back "not gradable" with that
reason. Adding `"environment": {{"{autograder.ALLOW_UNISOLATED}": "1"}}` to
`externalGradingOptions` grades anyway, but student code can then read the reference solutions.

**Grading.** The entrypoint grades `/grade/student` (an `answer.py` with the exercise cell, a
notebook, or an `answer.txt` with a typed formula) against the exercise named by
`params.exercise` (or the only exercise exported) and writes `/grade/results/results.json`:
the score as a fraction, one test per check. Code that runs and is wrong, or crashes, is graded;
an upload that cannot be read, or a setup problem, is "not gradable" (no attempt used).
The questions' `timeout` of {TIMEOUT_SECONDS} s fits a single cell; a question taking whole
notebooks (`<pl-file-upload>`) needs about 240 s, since a notebook may run for 180 s.
"""


def _clear(out: Path) -> None:
    """Make room for the export: a new or empty folder, or an earlier export (replaced,
    so that exercises no longer chosen do not linger)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise CommandError(f"{out} is a file: --out names the folder to write")
    if not any(out.iterdir()):
        return
    if not ((out / "entrypoint").is_file() and (out / "graders").is_dir()):
        raise CommandError(f"{out} is not empty and not an earlier export: choose another folder")
    try:
        shutil.rmtree(out)
    except OSError as exc:
        raise CommandError(f"cannot replace {out}: {exc.strerror or exc}") from None


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
