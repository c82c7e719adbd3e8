"""Reports: what people and machines read about graded hand-ins (a front end: the core never
imports it).

One hand-in: ``view`` (what every report shows), ``terminal``, ``documents`` (JSON,
Markdown, HTML). A class, for ``grade.py batch``: ``student_page`` (with ``plots``),
``gradebook_csv``, ``summary``; ``totals`` are the points both count. The functions a
single report needs are importable from here.
"""

from .documents import to_html, to_json, to_markdown, write
from .terminal import to_text

__all__ = ["to_html", "to_json", "to_markdown", "to_text", "write"]
