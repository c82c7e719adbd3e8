"""Command line: ``python grade.py list | check | grade | validate | batch | export``.

The only module that sees argparse: each verb gets explicit parameters or an options
dataclass. Exit status (graders.errors): 0 every check passed, 1 graded but short of full
marks, 2 the command could not be carried out (one line on stderr, never a traceback).
The sandbox child is started as early as possible so that its Python and numpy start-up
overlaps this process's own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from . import spec as specs_module
from .assignments import exercises_for
from .errors import EXIT_OK, EXIT_UNUSABLE, MESSAGE_ERRORS, CommandError
from .safe_text import one_line
from .spec import Spec
from .submission import Submission, from_answer, load

if TYPE_CHECKING:
    from .limits import LimitOverrides
    from .results import SubmissionResult


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block: the caller is often a script or an LMS.
        self.exit(EXIT_UNUSABLE, f"{self.prog}: {one_line(message)} (see --help)\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        return super().parse_known_args(self._attach_values(args), namespace)

    def _attach_values(self, args: Sequence[str] | None) -> list[str]:
        """`--answer -4a^3` as `--answer=-4a^3`: argparse would take the value for an option.

        An option that takes a value takes the next word, whatever it starts with, unless
        that word is one of this command's own options (`--answer --json` lacks a value).
        """
        words = list(sys.argv[1:] if args is None else args)
        taking_value = {
            option
            for action in self._actions
            if action.nargs is None
            for option in action.option_strings
        }
        attached: list[str] = []
        position = 0
        while position < len(words):
            word = words[position]
            if word == "--":
                attached += words[position:]
                break
            value = words[position + 1] if position + 1 < len(words) else None
            if (
                word in taking_value
                and value is not None
                and value.startswith("-")
                and value.split("=", 1)[0] not in self._option_string_actions
            ):
                attached.append(f"{word}={value}")
                position += 2
            else:
                attached.append(word)
                position += 1
        return attached


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="grade.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--course",
        type=Path,
        default=specs_module.DEFAULT_COURSE,
        help="folder with exercises/ and reference/ (default: the bundled W0D4 course)",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    listing = commands.add_parser("list", help="list the exercises")
    listing.add_argument("--json", action="store_true", help="print JSON")

    check = commands.add_parser("check", help="check one exercise")
    check.add_argument("exercise", help="exercise id (see `list`)")
    check.add_argument("submission", nargs="?", type=Path, help=".py, .ipynb or .txt file")
    check.add_argument(
        "--answer",
        action="append",
        help='a typed answer, e.g. "4a^3 e^(a^4+1)"; for several formulas, once each as '
        'NAME=FORMULA (--answer "df_dx=2x+2y" --answer "df_dy=2x+2y")',
    )
    _add_output_options(check)

    grade = commands.add_parser(
        "grade", help="grade a file: a notebook against its assignment, a .py what it answers"
    )
    grade.add_argument("submission", type=Path, help=".py, .ipynb or .txt file")
    grade.add_argument(
        "--exercise", action="append", default=[], help="only this exercise (repeatable)"
    )
    _add_assignment_option(grade)
    _add_output_options(grade)

    validate = commands.add_parser(
        "validate", help="prove the specs: reference passes, mistakes caught"
    )
    validate.add_argument("exercises", nargs="*", help="exercise ids (default: all)")

    batch = commands.add_parser("batch", help="grade a class: a folder or an LMS archive")
    batch.add_argument("input", type=Path, help="folder, .zip, Canvas or Gradescope export zip")
    batch.add_argument("--out", type=Path, required=True, help="output folder (gradebook, reports)")
    batch.add_argument("--exercise", action="append", default=[], help="only this exercise")
    _add_assignment_option(batch)
    batch.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="parallel sandboxes"
    )
    batch.add_argument(
        "--resume", action="store_true", help="grade only what is missing or changed"
    )
    batch.add_argument(
        "--canvas-csv", action="store_true", help="write Canvas's gradebook import CSV"
    )
    batch.add_argument("--dask", metavar="ADDRESS", help="send the work to this Dask scheduler")
    batch.add_argument("--time-limit", type=float, metavar="SECONDS", help="per-submission limit")
    batch.add_argument("--memory-limit", type=int, metavar="MB", help="per-submission memory")

    mistakes = commands.add_parser(
        "mistakes", help="the wrong answers several students of a finished batch share"
    )
    mistakes.add_argument("out", type=Path, help="the batch's output folder (its --out)")
    mistakes.add_argument("--exercise", help="only this exercise's")
    mistakes.add_argument("--json", action="store_true", help="print one JSON object")

    export = commands.add_parser("export", help="build an autograder for an LMS")
    export.add_argument("target", choices=["gradescope", "prairielearn", "otter"])
    export.add_argument("--out", type=Path, required=True, help="zip (gradescope) or folder")
    export.add_argument("--exercise", action="append", default=[], help="only this exercise")
    export.add_argument(
        "--assignment", metavar="NAME", help="only this assignment's exercises (see `list`)"
    )
    export.add_argument(
        "--hidden-until-due",
        action="store_true",
        help="gradescope: show hidden checks only after the due date",
    )
    export.add_argument(
        "--total-only", action="store_true", help="gradescope: show students only the total"
    )
    return parser


def _add_assignment_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--assignment",
        metavar="NAME",
        help="grade against this assignment's exercises (default: a notebook's own, see `list`)",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--report", type=Path, help="also write a report (.json, .md or .html)")
    parser.add_argument(
        "--time-limit", type=float, metavar="SECONDS", help="wall-clock limit for the run"
    )
    parser.add_argument("--memory-limit", type=int, metavar="MB", help="memory limit for the run")


class _ReaderMayLeave:
    """A standard stream whose reader may close it early (`grade.py check ... | head`).

    A closed pipe is not an error: what is left to show is dropped, and the command goes
    on (a report file is still written, a batch still finishes) and exits as it would have.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._drop()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._drop()

    def _drop(self) -> None:
        # Onto the descriptor, so that the flush at interpreter exit cannot fail either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (_ReaderMayLeave(stream) for stream in streams)  # type: ignore[misc]
    try:
        return _main(argv)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = streams


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except MESSAGE_ERRORS as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted")
    except Exception as exc:  # a grader bug must still not show the user a traceback
        return _fail(f"internal error: {type(exc).__name__}: {exc}")


def _fail(message: str) -> int:
    print(f"grade.py: {one_line(message)}", file=sys.stderr)
    return EXIT_UNUSABLE


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "list":
        return _list(args.json, args.course)
    if args.command == "validate":
        from .validate import validate

        return validate(args.exercises, args.course)
    if args.command == "batch":
        return _batch(args)
    if args.command == "export":
        return _export(args)
    if args.command == "mistakes":
        from .mistakes import mistakes

        return mistakes(args.out, args.exercise, as_json=args.json)
    if args.command == "check":
        if (args.submission is None) == (args.answer is None):
            raise CommandError("check needs either a SUBMISSION file or --answer TEXT (not both)")
        specs = [specs_module.find(args.exercise, args.course)]
        submission = (
            from_answer("\n".join(args.answer))
            if args.answer is not None
            else load(args.submission)
        )
        return _grade(specs, submission, args, answered_only=False)
    specs = specs_module.load_specs(args.course, args.exercise)
    submission = load(args.submission)
    if args.assignment is not None or not args.exercise:
        specs = exercises_for(submission, specs, args.assignment)
    # A notebook is graded against every exercise of its assignment, answered or not.
    answered_only = submission.kind != "notebook" and not args.exercise
    return _grade(specs, submission, args, answered_only=answered_only)


def _list(as_json: bool, course: Path) -> int:
    specs = specs_module.load_all(course)
    rows = [
        {
            "id": spec.id,
            "title": spec.title,
            "source": spec.source,
            "assignment": spec.assignment,
            "answers": spec.answer_names,
            "max_score": spec.max_score,
        }
        for spec in specs
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    width = max((len(row["id"]) for row in rows), default=0)
    for row in rows:
        defines = ", ".join(row["answers"])
        assignment = row["assignment"] or "no assignment"
        print(
            f"{row['id']:<{width}}  {assignment}  {row['title']} "
            f"({row['source']}; defines {defines})"
        )
    return EXIT_OK


def _grade(
    specs: list[Spec], submission: Submission, args: argparse.Namespace, *, answered_only: bool
) -> int:
    from . import sandbox
    from .limits import limits_for

    overrides = _limit_overrides(args)
    if submission.kind == "answer":
        specs = [spec for spec in specs if spec.accepts_typed_answers] if answered_only else specs
        if not specs:
            raise CommandError("a typed answer can only be graded against an expression exercise")
        answered_only = False
    run = None
    if submission.kind != "answer":
        run = sandbox.start(limits_for(specs, submission, overrides))
    from .engine import grade  # numpy and the comparators load while the child starts

    result = grade(submission, specs, run=run, answered_only=answered_only)
    _show(result, args)
    return result.exit_code


def _batch(args: argparse.Namespace) -> int:
    from .batch import BatchOptions, run_batch

    options = BatchOptions(
        input=args.input,
        out=args.out,
        course=args.course,
        exercises=args.exercise,
        assignment=args.assignment,
        workers=args.workers,
        resume=args.resume,
        canvas_csv=args.canvas_csv,
        dask=args.dask,
        overrides=_limit_overrides(args),
    )
    return run_batch(options)


def _export(args: argparse.Namespace) -> int:
    exercise_ids = _exported_ids(args)
    if args.target == "gradescope":
        from .lms import gradescope

        if args.hidden_until_due and args.total_only:
            raise CommandError("--total-only already hides every check: drop --hidden-until-due")
        options = gradescope.Options(
            hidden_until_due=args.hidden_until_due, total_only=args.total_only
        )
        return gradescope.export(args.out, args.course, exercise_ids, options)
    if args.target == "prairielearn":
        from .lms import prairielearn

        if args.hidden_until_due or args.total_only:
            raise CommandError(
                "--hidden-until-due and --total-only are Gradescope options; PrairieLearn "
                "shows a hidden check's outcome only"
            )
        return prairielearn.export(args.out, args.course, exercise_ids)
    from .lms import otter

    return otter.export(args.out, args.course, exercise_ids)


def _exported_ids(args: argparse.Namespace) -> list[str]:
    """The exercises an export covers: those named, narrowed to one assignment's when
    ``--assignment`` is given (so a course can hand out one autograder per assignment)."""
    if args.assignment is None:
        return list(args.exercise)
    specs = specs_module.load_specs(args.course, args.exercise)
    return [spec.id for spec in specs_module.of_assignment(specs, args.assignment)]


def _limit_overrides(args: argparse.Namespace) -> LimitOverrides:
    """--time-limit and --memory-limit, checked: `check`, `grade` and `batch` take them."""
    from .limits import LimitOverrides

    if args.time_limit is not None and args.time_limit <= 0:
        raise CommandError("--time-limit must be a positive number of seconds")
    if args.memory_limit is not None and args.memory_limit < 64:
        raise CommandError("--memory-limit must be at least 64 MB")
    return LimitOverrides(total_seconds=args.time_limit, memory_mb=args.memory_limit)


def _show(result: SubmissionResult, args: argparse.Namespace) -> None:
    from . import reports

    if args.json:
        # The text report shows notices at its top; JSON readers get them once on stderr.
        for notice in result.notices:
            print(f"warning: {one_line(notice)}", file=sys.stderr)
        print(reports.to_json(result))
    else:
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        print(reports.to_text(result, color=color))
    if args.report is not None:
        try:
            reports.write(result, args.report)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            reason = exc.strerror or exc
            raise CommandError(f"cannot write report {args.report}: {reason}") from None
