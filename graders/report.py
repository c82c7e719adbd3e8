"""Render a graded submission for people (terminal, Markdown, HTML) and for machines (JSON).

All renderers share one view of the result (status words, points, what a hidden check may
show), so the formats cannot disagree. jinja2 is imported only for Markdown and HTML: the
terminal report is on the path of every CLI run and must stay fast.
"""

from __future__ import annotations

import functools
import json
import math
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graders.results import CheckResult, CheckStatus, ExerciseResult, Status, SubmissionResult
from graders.safe_text import UNSAFE, clean

if TYPE_CHECKING:
    import jinja2

WIDTH = 80
_TEMPLATES = Path(__file__).resolve().parent / "templates"

STATUS_WORDS = {
    Status.PASSED: "passed",
    Status.FAILED: "failed",
    Status.NOT_ATTEMPTED: "not attempted",
    Status.ERROR: "error",
    Status.TIMEOUT: "timed out",
    Status.MEMORY_LIMIT: "memory limit",
}
# The tone of a status, keyed by its value (exercise and check statuses share values): the
# terminal colour and the HTML class both follow from it.
_TONES = {
    "passed": "pass",
    "failed": "fail",
    "not_attempted": "skip",
    "error": "warn",
    "timeout": "warn",
    "memory_limit": "warn",
}
_ANSI = {"pass": "32", "fail": "31", "warn": "33", "skip": "2", "bold": "1"}
_ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")

# Characters Markdown could read as markup or raw HTML, anywhere in a line...
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>|#~])")
# ... and at the start of a line, where they would begin a list, heading or quote.
_MARKDOWN_LINE_START = re.compile(r"^(\s*\d*)([-+=.)])")


@dataclass(frozen=True)
class CheckView:
    symbol: str
    tone: str
    name: str
    points: str
    hidden: bool
    feedback: str
    hint: str
    misconception: str

    @property
    def details(self) -> list[str]:
        """The lines shown under the check: its feedback, then the hint and known mistake."""
        parts = [
            self.feedback,
            self.hint and f"Hint: {self.hint}",
            self.misconception and f"Known mistake: {self.misconception}",
        ]
        return [line for part in parts if part for line in part.splitlines()]


@dataclass(frozen=True)
class ExerciseView:
    id: str
    title: str
    word: str
    tone: str
    points: str
    feedback: str
    checks: list[CheckView]


@dataclass(frozen=True)
class ReportView:
    submission: str
    points: str
    notices: list[str]
    exercises: list[ExerciseView]


def to_json(result: SubmissionResult) -> str:
    """The result as JSON; NaN and infinities (not valid JSON) become null.

    JSON escapes C0 controls itself; DEL, C1 controls and bidi overrides, which a terminal
    showing the JSON would obey, are escaped too (the same strings, still valid JSON).
    """
    text = json.dumps(_finite(result.to_dict()), indent=2, ensure_ascii=False, allow_nan=False)
    return UNSAFE.sub(lambda match: f"\\u{ord(match[0]):04x}", text)


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


def to_markdown(result: SubmissionResult) -> str:
    return environment().get_template("report.md").render(report=build_view(result))


def to_html(result: SubmissionResult) -> str:
    """A self-contained page (inline CSS, no external assets); all text is HTML-escaped."""
    return environment().get_template("report.html").render(report=build_view(result))


_WRITERS: dict[str, Callable[[SubmissionResult], str]] = {
    ".json": to_json,
    ".md": to_markdown,
    ".html": to_html,
}


def write(result: SubmissionResult, path: Path) -> None:
    """Write the report in the format the file's suffix names."""
    render = _WRITERS.get(path.suffix.lower())
    if render is None:
        accepted = ", ".join(_WRITERS)
        raise ValueError(f"a report file name must end in {accepted}, not {path.name!r}")
    text = render(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def build_view(result: SubmissionResult) -> ReportView:
    return ReportView(
        submission=clean(result.submission),
        points=_fraction(result.score, result.max_score),
        notices=[clean(notice) for notice in result.notices],
        exercises=[_exercise_view(exercise) for exercise in result.exercises],
    )


def _exercise_view(exercise: ExerciseResult) -> ExerciseView:
    return ExerciseView(
        id=clean(exercise.id),
        title=clean(exercise.title),
        word=STATUS_WORDS[exercise.status],
        tone=_TONES[exercise.status],
        points=_fraction(exercise.score, exercise.max_score),
        feedback=clean(exercise.feedback),
        checks=[_check_view(check) for check in exercise.checks],
    )


def _check_view(check: CheckResult) -> CheckView:
    """What a check may show: a hidden check only its outcome, a passed one no hint."""
    passed = check.status == CheckStatus.PASSED
    shown = not check.hidden
    return CheckView(
        symbol="✓" if passed else "✗",
        tone=_TONES[check.status],
        name=clean(check.name),
        points=_fraction(check.score, check.max_score),
        hidden=check.hidden,
        feedback=clean(check.feedback) if shown else "",
        hint=clean(check.hint or "") if shown and not passed else "",
        misconception=clean(check.misconception or "") if shown else "",
    )


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


def _fraction(score: float, max_score: float) -> str:
    return f"{number(score)}/{number(max_score)}"


def number(value: float) -> str:
    """Points without float noise: 5.0 -> "5", 2/3 -> "0.67"."""
    return f"{round(value, 2):g}" if math.isfinite(value) else str(value)


def _finite(value: Any) -> Any:
    """A copy of JSON-ready data with non-finite floats replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _markdown_escape(text: str) -> str:
    """Student text shown as itself in Markdown: no emphasis, links or raw HTML."""
    return _MARKDOWN_LINE_START.sub(r"\1\\\2", _MARKDOWN_INLINE.sub(r"\\\1", text))


def _markdown_lines(text: str, indent: str = "") -> str:
    """Escaped lines joined by hard line breaks, so multi-line feedback keeps its lines.

    Each line after the first starts with `indent` to stay inside its list item or quote;
    blank lines are dropped because they would end the paragraph.
    """
    lines = [_markdown_escape(line) for line in text.splitlines() if line.strip()]
    return f"\\\n{indent}".join(lines)


@functools.cache
def environment() -> jinja2.Environment:
    """The template environment: autoescape for HTML; Markdown escapes with its own filter."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["md"] = _markdown_escape
    environment.filters["md_lines"] = _markdown_lines
    return environment
