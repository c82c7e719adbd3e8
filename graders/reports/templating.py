"""The jinja2 environment of every page and Markdown file the reports render, and the
filters that show student text as itself in Markdown."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

_TEMPLATES = Path(__file__).resolve().parent / "templates"

# Characters Markdown could read as markup or raw HTML, anywhere in a line...
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>|#~])")
# ... and at the start of a line, where they would begin a list, heading or quote.
_MARKDOWN_LINE_START = re.compile(r"^(\s*\d*)([-+=.)])")


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
