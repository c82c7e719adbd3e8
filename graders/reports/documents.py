"""A graded hand-in's report as a file: JSON for machines, Markdown and a self-contained
HTML page for people. jinja2 is imported only when Markdown or HTML is rendered.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..results import SubmissionResult
from ..safe_text import UNSAFE
from .templating import environment
from .view import build_view


def to_json(result: SubmissionResult) -> str:
    """The result as JSON; NaN and infinities (not valid JSON) become null.

    JSON escapes C0 controls itself; DEL, C1 controls and bidi overrides, which a terminal
    showing the JSON would obey, are escaped too (the same strings, still valid JSON).
    """
    text = json.dumps(_finite(result.to_dict()), indent=2, ensure_ascii=False, allow_nan=False)
    return UNSAFE.sub(lambda match: f"\\u{ord(match[0]):04x}", text)


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


def _finite(value: Any) -> Any:
    """A copy of JSON-ready data with non-finite floats replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
