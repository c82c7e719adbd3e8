"""A class's hand-ins as the input's layouts list them: the files found (located, not read),
one hand-in per student, the newest gradable file chosen, and file-name-safe keys.

graders.archives reads folders and zips and picks the layout; each LMS's layout lives in
graders.lms (canvas, gradescope_submissions) and builds its hand-ins from these pieces.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

GRADABLE = (".py", ".ipynb", ".txt")
# The batch's own files in DIR (summary.html, gradebook.csv): no student's report may
# take their names.
BATCH_OUTPUTS = ("summary", "gradebook", "canvas_feedback")
WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10))} | {
    f"lpt{i}" for i in range(10)
}


class MemberError(Exception):
    """One file cannot be read (too large, damaged, a link); one line for the student's row."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of the input, located but not read (small: a class lists thousands)."""

    name: str  # its path inside the input, "/"-separated, as shown to people
    parts: tuple[str, ...]
    date: float  # modification time (seconds): newest wins
    size: int  # as declared (zip) or found (folder)
    refused: str | None = None  # why it may not be read (a link, a special file)
    source: str | zipfile.ZipInfo | None = None  # the file's path, or the zip entry
    undecodable: bool = False  # its name was not UTF-8: shown with U+FFFD for the bad bytes


@dataclass(slots=True)
class HandIn:
    """One student's row-to-be: who, which files, and the one file to grade."""

    key: str  # unique, file-name safe: output files are <key>.json and <key>.html
    student: str
    files: list[str]  # every file the student handed in, as named in the input
    chosen: Entry | None  # the file to grade; None when there is none (see problem)
    filename: str = ""  # the chosen file's own name, as the student named it
    problem: str | None = None
    notes: list[str] = field(default_factory=list)
    late: bool = False
    lms: dict[str, str] = field(default_factory=dict)


class Source(Protocol):
    """The input a layout reads its metadata files from (graders.archives.Input)."""

    path: Path
    warnings: list[str]  # entries refused without a student to blame

    def read_text(self, entry: Entry) -> str: ...


def choose(key: str, student: str, candidates: list[tuple[Entry, str, tuple[Any, ...]]]) -> HandIn:
    """The newest gradable, readable file of a student's, and notes on what was passed over.

    ``candidates`` are (entry, the file's own name, order): the largest order is newest.
    """
    files = [entry.name for entry, _, _ in candidates]
    handin = HandIn(key=key, student=student, files=files, chosen=None)
    gradable = [c for c in candidates if c[1].lower().endswith(GRADABLE)]
    usable = [c for c in gradable if c[0].refused is None]
    for entry, _, _ in gradable:
        if entry.refused is not None:
            handin.notes.append(f"{entry.name} {entry.refused}")
        if entry.undecodable:
            handin.notes.append(
                f"{entry.name}: its name is not valid UTF-8; the bytes that are not show as \ufffd"
            )
    if not usable:
        kinds = ", ".join(GRADABLE)
        found = f" (found: {', '.join(files)})" if files else ""
        handin.problem = f"no readable {kinds} file handed in{found}"
        return handin
    entry, filename, _ = max(usable, key=lambda candidate: candidate[2])
    handin.chosen, handin.filename = entry, filename
    if len(usable) > 1:
        handin.notes.append(
            f"{len(usable)} gradable files handed in; graded the newest, {filename}"
        )
    return handin


# --- keys ---------------------------------------------------------------------------


class Keys:
    """File-name-safe keys, unique even on case-insensitive file systems."""

    def __init__(self) -> None:
        self._taken: set[str] = set(BATCH_OUTPUTS)

    def unique(self, text: str) -> str:
        base = safe_key(text)
        key, number = base, 1
        while key.lower() in self._taken:
            number += 1
            key = f"{base}-{number}"
        self._taken.add(key.lower())
        return key


def safe_key(text: str) -> str:
    """ASCII letters, digits, ``._-`` only (accents dropped, not the letters), at most 80."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    key = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_text).strip("._-")[:80].rstrip("._-")
    if key.lower() in WINDOWS_RESERVED:
        key += "_"
    return key or "student"
