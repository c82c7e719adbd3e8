"""The terminal report of a graded hand-in: 80 columns, ANSI colour only when asked for.

It is on the path of every CLI run, so it imports no template engine.
"""

from __future__ import annotations

import functools
import re
import textwrap
from collections.abc import Callable

from ..results import SubmissionResult
from .view import ExerciseView, build_view

WIDTH = 80
_ANSI = {"pass": "32", "fail": "31", "warn": "33", "skip": "2", "bold": "1"}
_ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")


def to_text(result: SubmissionResult, *, color: bool) -> str:
    """The terminal report, fitted to 80 columns, with ANSI colour only when asked for."""
    report = build_view(result)
    paint = functools.partial(_paint, color=color)
    lines = [paint(f"{report.submission} — {report.points} points", "bold")]
    for notice in report.notices:
        lines += [paint(line, "warn") for line in _wrap(f"Notice: {notice}", "")]
    for exercise in report.exercises:
        lines += ["", *_exercise_lines(exercise, paint)]
    return "\n".join(lines)


def _exercise_lines(exercise: ExerciseView, paint: Callable[[str, str], str]) -> list[str]:
    heading = paint(f"{exercise.title} ({exercise.id})", "bold")
    lines = [_row(heading, f"{paint(exercise.word, exercise.tone)}  {exercise.points}")]
    lines += _wrap(exercise.feedback, "  ")
    for check in exercise.checks:
        hidden = " (hidden)" if check.hidden else ""
        lines.append(
            _row(f"  {paint(check.symbol, check.tone)} {check.name}{hidden}", check.points)
        )
        lines += [wrapped for detail in check.details for wrapped in _wrap(detail, "      ")]
    return lines


def _wrap(text: str, indent: str) -> list[str]:
    """Wrap line by line, keeping the line breaks and indents the feedback was written with."""
    lines = []
    for line in text.splitlines():
        own_indent = indent + line[: len(line) - len(line.lstrip())]
        wrapped = textwrap.wrap(
            line,
            WIDTH,
            initial_indent=indent,
            subsequent_indent=own_indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines += wrapped or [""]
    return lines


def _row(left: str, right: str) -> str:
    """`right` right-aligned at the report width (two spaces after `left` if it is too long)."""
    visible = len(_ANSI_CODE.sub("", left + right))
    return left + " " * max(2, WIDTH - visible) + right


def _paint(text: str, tone: str, *, color: bool) -> str:
    return f"\x1b[{_ANSI[tone]}m{text}\x1b[0m" if color else text
