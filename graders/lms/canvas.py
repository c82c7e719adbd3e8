"""Canvas: its "Download Submissions" zip in, its gradebook CSV and a feedback zip out.

The zip's entries are named ``name[_LATE]_<user id>_<attachment id>_<file>`` (or
``anon_<id>_...``, ``..._text.html``, ``..._link.html``; lms-formats.md 1c.1): ``handins``
makes one hand-in per user, the latest upload graded, and records the ids in
``HandIn.lms``, which the outputs read (all optional, all strings):

- ``user_id``: the Canvas user id: the gradebook's ``ID`` column and the feedback names.
- ``sis_user_id``, ``sis_login_id``, ``section``: the gradebook's other student columns.
- ``assignment_id``, ``assignment_title``: the gradebook's assignment column.
- ``filename``: the hand-in's entry name in the downloaded submissions zip
  (``smithjohn_LATE_12345_678901_calc_hw3.py``); its feedback file gets the same name with
  the extension ``.html``.
- ``name``, ``submission_id`` (the number after the user id, Canvas's attachment id) and
  ``original_name`` (the file's own name): the parts a feedback name is built from when
  ``filename`` is absent.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..handins import Entry, HandIn, Keys, choose
from ..records import StudentRecord
from ..reports.gradebook_csv import write_rows
from ..reports.student_page import student_html
from ..reports.totals import max_points, points, total
from ..reports.view import number
from ..spec import Spec

# Canvas writes the ids right after the name, which it scrubs of every "_<digits>_" (lms-
# formats.md 1c.1): so the ids are the first such block, and whatever follows is the
# student's own file name, which may look like another student's ids.
_BASE = r"(?P<name>(?:(?!_\d+_).)*?)(?:_(?P<late>late))?_(?P<user>\d+)"
_NAMED = re.compile(
    rf"^{_BASE}_(?P<attachment>\d+)_(?P<file>.+)$",
    re.IGNORECASE,
)
_ANON = re.compile(
    r"^(?:(?P<late>late)_)?anon_(?P<user>[A-Za-z0-9]+)_(?P<attachment>\d+)_(?P<file>.+)$",
    re.IGNORECASE,
)
_ENTRY = re.compile(
    rf"^(?:{_BASE}|(?:(?P<alate>late)_)?anon_(?P<anon>[A-Za-z0-9]+))"
    r"_(?P<kind>text|link)\.html$",
    re.IGNORECASE,
)
_POINTS_POSSIBLE = "    Points Possible"
_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
# What Canvas replaces (by one "_") in a file's display name; it also keeps every entry of
# the feedback zip a plain file name, with no folders and no "..".
_UNSAFE = re.compile(r'[\x00/\\:*?"<>|]+')
_DIGITS = re.compile(r"[0-9]+")


# --- the submissions zip ---------------------------------------------------------------------


@dataclass(frozen=True)
class CanvasName:
    """What Canvas encodes in an entry's name."""

    user: str  # the Canvas user id, or "anon_<anonymous id>"
    name: str  # the sortable name, squashed ("smithjohn"); "" when anonymous
    late: bool
    attachment: int  # increases with each upload; -1 for text and link entries
    file: str  # the file's own name as the student uploaded it


def parse_name(entry: str) -> CanvasName | None:
    # Anonymous first: "anon_ab_12_3_x.py" would also fit the named pattern.
    if match := _ANON.match(entry):
        user = f"anon_{match['user']}"
        return CanvasName(user, "", bool(match["late"]), int(match["attachment"]), match["file"])
    if match := _ENTRY.match(entry):
        user = match["user"] or f"anon_{match['anon']}"
        late = bool(match["late"] or match["alate"])
        return CanvasName(user, match["name"] or "", late, -1, f"{match['kind']}.html")
    if match := _NAMED.match(entry):
        late = bool(match["late"])
        return CanvasName(
            match["user"], match["name"], late, int(match["attachment"]), match["file"]
        )
    return None


def parse_names(entries: list[Entry]) -> list[CanvasName] | None:
    """What Canvas encodes in each entry's name, or None unless every entry is Canvas's:
    a flat zip whose names all parse."""
    parsed = [
        name for entry in entries if len(entry.parts) == 1 and (name := parse_name(entry.parts[0]))
    ]
    return parsed if entries and len(parsed) == len(entries) else None


def handins(entries: list[Entry], parsed: list[CanvasName], keys: Keys) -> list[HandIn]:
    """Canvas: students by user id; the highest attachment id is the latest upload."""
    groups: dict[str, list[tuple[Entry, CanvasName]]] = {}
    for entry, name in zip(entries, parsed, strict=True):
        groups.setdefault(name.user, []).append((entry, name))
    found = []
    for user, members in sorted(groups.items()):
        student = next((name.name for _, name in members if name.name), user)
        key = keys.unique(user if student == user else f"{student}_{user}")
        candidates = [(entry, name.file, (name.attachment, entry.name)) for entry, name in members]
        handin = choose(key, student, candidates)
        latest = max(members, key=lambda member: (member[1].attachment, member[0].name))[1]
        handin.late = latest.late
        # The keys this module's gradebook CSV and feedback names read (see the docstring).
        id_field = "anonymous_id" if user.startswith("anon_") else "user_id"
        handin.lms = {id_field: user.removeprefix("anon_"), "name": student}
        if handin.chosen is not None:
            chosen = next(name for entry, name in members if entry is handin.chosen)
            handin.lms.update(
                filename=handin.chosen.parts[0],
                submission_id=str(chosen.attachment),
                original_name=chosen.file,
            )
        found.append(handin)
    return found


# --- the gradebook CSV -----------------------------------------------------------------------


def write_gradebook_csv(records: list[StudentRecord], specs: list[Spec], path: Path) -> None:
    """The layout of Canvas's own gradebook export (lms-formats.md 1c.2), which it imports.

    ``Student, ID, SIS User ID, SIS Login ID, Section, <assignment title> (<assignment
    id>)``, then the ``Points Possible`` row, then one row per student with the total. The
    ids come from ``record.lms``; without them the cells stay blank and Canvas matches the
    student by name. Without an assignment id the header is the title alone: Canvas then
    matches the assignment by its exact title, or offers to create it. Without a title in
    ``record.lms`` the title is the course named in the specs' ``source``. Cells are
    neutralised as in ``gradebook.csv``.
    """
    write_rows(_rows(records, specs), path)


def _rows(records: list[StudentRecord], specs: list[Spec]) -> Iterator[list[str]]:
    assignment = _first_lms(records, ("assignment_title", "assignment_id"))
    title = assignment.get("assignment_title") or _course_title(specs)
    assignment_id = assignment.get("assignment_id")
    yield [*_STUDENT_COLUMNS, f"{title} ({assignment_id})" if assignment_id else title]
    yield [_POINTS_POSSIBLE, "", "", "", "", number(max_points(specs))]
    for record in records:
        lms = record.lms
        ids = [lms.get(key, "") for key in ("user_id", "sis_user_id", "sis_login_id", "section")]
        yield [record.student, *ids, points(total(record, specs))]


def _first_lms(records: list[StudentRecord], keys: tuple[str, ...]) -> dict[str, str]:
    """The first value each key has in some record's LMS data, in one pass over the class."""
    found: dict[str, str] = {}
    for record in records:
        found |= {key: record.lms[key] for key in keys if key not in found and record.lms.get(key)}
        if len(found) == len(keys):
            break
    return found


def _course_title(specs: list[Spec]) -> str:
    """The course the specs come from: their ``source`` up to its first comma, if shared."""
    courses = {spec.source.split(",")[0].strip() for spec in specs}
    return courses.pop() if len(courses) == 1 else "Exercises"


# --- the feedback zip ------------------------------------------------------------------------


def write_feedback_zip(records: list[StudentRecord], path: Path) -> None:
    """A zip of each student's HTML page, named so that Canvas's "Re-Upload Submissions"
    attaches it to that student's submission as a comment.

    Canvas takes the first two all-digit ``_``-separated parts of a name as the user id and
    the attachment id (``Assignment#infer_comment_context_from_filename``), so the names
    follow the downloaded zip's (lms-formats.md 1c.1):
    ``<name>[_LATE]_<user_id>_<submission_id>_<original name>.html``, from
    ``record.lms["filename"]`` or built from its parts (see the module docstring).

    Skipped: records without Canvas ids (a folder of hand-ins; anonymous grading, whose
    ``anon_<id>`` Canvas cannot read back; text and website entries, which have no
    attachment id), records whose name would not carry them, and a second record with a
    name already in the zip (Canvas would attach both to one submission).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    written: set[str] = set()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            name = _feedback_name(record)
            if name is not None and name not in written:
                archive.writestr(name, student_html(record))
                written.add(name)


def _feedback_name(record: StudentRecord) -> str | None:
    """The name Canvas reads back as this record's user and attachment, or None."""
    name = _UNSAFE.sub("_", record.lms.get("filename") or _built_name(record))
    stem, dot, extension = name.rpartition(".")
    name = f"{stem if dot else extension}.html"
    ids = [part for part in name.split("_") if _DIGITS.fullmatch(part)][:2]
    user_id = record.lms.get("user_id")
    if len(ids) < 2 or (user_id is not None and ids[0] != user_id):
        return None
    return name


def _built_name(record: StudentRecord) -> str:
    lms = record.lms
    if not (lms.get("user_id") and lms.get("submission_id")):
        return ""
    # Like Canvas: lower case, word characters only; also no "_", so that no part of the
    # name can be read as an id, and a name of digits alone is left out for the same reason.
    name = re.sub(r"[\W_]+", "", lms.get("name", "").lower())
    parts = [
        "" if name.isdigit() else name,
        "LATE" if record.late else "",
        lms["user_id"],
        lms["submission_id"],
        lms.get("original_name") or "feedback",
    ]
    return "_".join(part for part in parts if part)
