"""Text that a hand-in controls, made safe to show on a terminal or a page.

Exception messages, printed output and file names come from the student. Shown raw, an
escape sequence in them could retitle or clear the instructor's terminal, and a bidi
override could make a line read differently from what it says; control characters are
invalid in HTML too. Every path that shows such text passes it through here.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls (ESC and CSI among them), and the
# bidi embeddings, overrides (U+202A-202E) and isolates (U+2066-2069).
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\n\t]")
PLACEHOLDER = "\ufffd"


def clean(text: str) -> str:
    """Text for a report: unsafe characters replaced, line breaks and tabs kept, outer
    blank lines dropped."""
    return UNSAFE.sub(PLACEHOLDER, text.replace("\r\n", "\n")).strip("\n")


def one_line(text: str) -> str:
    """Text for a one-line message: line breaks and tabs are replaced too."""
    return _LINE_BREAKS.sub(PLACEHOLDER, clean(text).strip())
