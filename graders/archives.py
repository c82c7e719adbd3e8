"""Read a class's hand-ins: a folder, a zip of one, or an LMS export, as one hand-in per student.

Layouts, recognised from the names in the input:
- plain: one file or one sub-folder per student (a zip may wrap them in one top folder);
- Canvas "Download Submissions": flat ``name[_LATE]_<user id>_<attachment id>_<file>``
  entries (or ``anon_<id>_...``, ``..._text.html``, ``..._link.html``);
- Gradescope "Export Submissions": ``submission_<id>/`` folders described by a
  ``submission_metadata.yml`` (or a ``submission_metadata.json`` in each folder).

A student with several gradable files gets the newest graded (file date, Canvas attachment
order, Gradescope submission time), and a note saying so.

Archives come from students and LMS exports and are treated as hostile: nothing is ever
extracted by name. Entries that leave the folder, absolute paths, links and special files
are refused (and reported); the declared sizes and the member count are checked before
anything is read, and reading stops at the limits whatever the sizes claim. Only the
graded file of each student is read, into memory, when its turn comes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from .submission import MAX_BYTES, valid_text

GRADABLE = (".py", ".ipynb", ".txt")
MAX_DEPTH = 12  # folders within a student's folder; deeper is not a hand-in
ENCRYPTED = 0x1
UTF8_NAME = 0x800  # zip general-purpose flag bit 11: the name is UTF-8
# Files that travel with hand-ins but are nobody's answer: macOS resource forks, editor
# checkpoints (an .ipynb_checkpoints copy must not win "newest"), Windows thumbnails.
JUNK_PARTS = ("__MACOSX", "Thumbs.db", "desktop.ini")
METADATA_YML = "submission_metadata.yml"
METADATA_JSON = "submission_metadata.json"
# The batch's own files in DIR (summary.html, gradebook.csv): no student's report may
# take their names.
BATCH_OUTPUTS = ("summary", "gradebook", "canvas_feedback")
WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10))} | {
    f"lpt{i}" for i in range(10)
}

# Canvas writes the ids right after the name, which it scrubs of every "_<digits>_" (lms-
# formats.md 1c.1): so the ids are the first such block, and whatever follows is the
# student's own file name, which may look like another student's ids.
_CANVAS_BASE = r"(?P<name>(?:(?!_\d+_).)*?)(?:_(?P<late>late))?_(?P<user>\d+)"
_CANVAS_NAMED = re.compile(
    rf"^{_CANVAS_BASE}_(?P<attachment>\d+)_(?P<file>.+)$",
    re.IGNORECASE,
)
_CANVAS_ANON = re.compile(
    r"^(?:(?P<late>late)_)?anon_(?P<user>[A-Za-z0-9]+)_(?P<attachment>\d+)_(?P<file>.+)$",
    re.IGNORECASE,
)
_CANVAS_ENTRY = re.compile(
    rf"^(?:{_CANVAS_BASE}|(?:(?P<alate>late)_)?anon_(?P<anon>[A-Za-z0-9]+))"
    r"_(?P<kind>text|link)\.html$",
    re.IGNORECASE,
)
_GRADESCOPE_FOLDER = re.compile(r"^submission_(?P<id>\d+)$")


@dataclass(frozen=True)
class ArchiveLimits:
    """How much an input may hold; past these it is refused (or the entry is)."""

    member_bytes: int = MAX_BYTES  # one file (the grader reads no larger hand-in)
    total_bytes: int = 2 * 2**30  # all entries of an archive together, as declared
    members: int = 100_000  # entries in an archive, or files under a folder


class InputError(Exception):
    """The input cannot be used at all; the message is one line for the user."""


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


# --- opening an input ----------------------------------------------------------------


class Input(contextlib.AbstractContextManager["Input"]):
    """A folder or a zip: its hand-ins (metadata only) and a bounded reader for files."""

    def __init__(
        self, path: Path, limits: ArchiveLimits = ArchiveLimits(), *, exclude: Path | None = None
    ) -> None:
        """``exclude``: a folder inside the input that is not part of it (the output)."""
        self.path = path
        self.limits = limits
        self.exclude = exclude.resolve() if exclude is not None else None
        self.warnings: list[str] = []  # entries refused without a student to blame
        self._zip: zipfile.ZipFile | None = None
        self._read_total = 0
        try:
            if path.is_dir():
                entries = self._folder_entries()
            elif path.is_file():
                entries = _unwrap(self._zip_entries())
            else:
                raise InputError(f"{path}: no such file or folder")
            self.layout, self.handins = _arrange(entries, self)
        except BaseException:
            self.close()  # refused while opening: nobody else can close it
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def read(self, entry: Entry) -> bytes:
        """The entry's bytes, refused past the size limits whatever its header says."""
        if entry.refused:
            raise MemberError(f"{entry.name}: {entry.refused}")
        if entry.size > self.limits.member_bytes:
            raise MemberError(f"{entry.name}: too large ({_megabytes(entry.size)}); {self._cap}")
        if isinstance(entry.source, zipfile.ZipInfo):
            data = self._read_member(entry, entry.source)
        else:
            data = self._read_file(entry)
        if len(data) > self.limits.member_bytes:
            raise MemberError(f"{entry.name}: larger than it claimed; {self._cap}")
        return data

    @property
    def _cap(self) -> str:
        return f"the limit is {_megabytes(self.limits.member_bytes)}"

    def read_text(self, entry: Entry) -> str:
        """A small metadata file as text (``read`` limits; undecodable bytes replaced)."""
        return self.read(entry).decode("utf-8", errors="replace")

    # --- folders ---

    def _folder_entries(self) -> list[Entry]:
        entries: list[Entry] = []
        self._walk(self.path, (), entries)
        return entries

    def _walk(self, folder: Path, parts: tuple[str, ...], entries: list[Entry]) -> None:
        """Every file below ``folder`` without following links (a link is refused)."""
        try:
            listing = sorted(os.scandir(folder), key=lambda item: item.name)
        except OSError as exc:
            raise InputError(f"{folder}: cannot be listed ({exc.strerror or exc})") from None
        for item in listing:
            here = (*parts, valid_text(item.name))
            if _is_junk(here):
                continue
            if len(entries) >= self.limits.members:
                raise InputError(f"{self.path}: more than {self.limits.members} files; refused")
            info = item.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                self._walk_folder(Path(item.path), here, entries)
                continue
            refused = _refusal(info.st_mode)
            relative = os.path.relpath(item.path, self.path)
            undecodable = valid_text(relative) != relative
            size, date = info.st_size, info.st_mtime
            entries.append(Entry("/".join(here), here, date, size, refused, item.path, undecodable))

    def _walk_folder(self, folder: Path, parts: tuple[str, ...], entries: list[Entry]) -> None:
        if folder.resolve() == self.exclude:
            return
        if len(parts) > MAX_DEPTH:
            self.warnings.append(f"{folder}: more than {MAX_DEPTH} folders deep; skipped")
            return
        self._walk(folder, parts, entries)

    def _read_file(self, entry: Entry) -> bytes:
        assert isinstance(entry.source, str)
        try:
            # O_NOFOLLOW: a file swapped for a link after the listing is still refused.
            descriptor = os.open(entry.source, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(descriptor, "rb") as file:
                return file.read(self.limits.member_bytes + 1)
        except OSError as exc:
            raise MemberError(f"{entry.name}: cannot be read ({exc.strerror or exc})") from None

    # --- zip archives ---

    def _zip_entries(self) -> list[Entry]:
        try:
            self._zip = zipfile.ZipFile(self.path)
        except UnicodeDecodeError:
            raise InputError(
                f"{self.path}: an entry's name is marked as UTF-8 but is not valid UTF-8 "
                "(a damaged or hostile archive); refused"
            ) from None
        except (zipfile.BadZipFile, OSError, NotImplementedError, ValueError) as exc:
            raise InputError(f"{self.path}: not a readable folder or zip archive ({exc})") from None
        infos = self._zip.infolist()
        if len(infos) > self.limits.members:
            raise InputError(
                f"{self.path}: {len(infos)} entries, more than the {self.limits.members} allowed;"
                " refused"
            )
        declared = sum(info.file_size for info in infos)
        if declared > self.limits.total_bytes:
            raise InputError(
                f"{self.path}: would expand to {_megabytes(declared)}, more than the "
                f"{_megabytes(self.limits.total_bytes)} allowed (a zip bomb?); refused"
            )
        entries = []
        for info in infos:
            entry = self._zip_entry(info)
            if entry is not None:
                entries.append(entry)
        return entries

    def _zip_entry(self, info: zipfile.ZipInfo) -> Entry | None:
        name = _member_name(info)
        parts, unsafe = _safe_parts(name)
        if unsafe is not None:
            self.warnings.append(f"{self.path}: entry {name!r} refused: {unsafe}")
            return None
        if info.is_dir() or _is_junk(parts):
            return None
        refused = _refusal(info.external_attr >> 16)
        if info.flag_bits & ENCRYPTED:
            refused = "is encrypted"
        date = _zip_date(info)
        return Entry("/".join(parts), parts, date, info.file_size, refused, info)

    def _read_member(self, entry: Entry, info: zipfile.ZipInfo) -> bytes:
        """Read in chunks, stopping past the member and archive limits: sizes can lie."""
        assert self._zip is not None
        chunks: list[bytes] = []
        got = 0
        try:
            with self._zip.open(info) as member:
                while chunk := member.read(64 * 1024):
                    got += len(chunk)
                    self._read_total += len(chunk)
                    if self._read_total > self.limits.total_bytes:
                        raise InputError(f"{self.path}: expands past the total size limit")
                    chunks.append(chunk)
                    if got > self.limits.member_bytes:
                        break
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
            raise MemberError(f"{entry.name}: damaged in the archive ({exc})") from None
        except (UnicodeDecodeError, RuntimeError, ValueError) as exc:
            raise MemberError(f"{entry.name}: cannot be read from the archive ({exc})") from None
        return b"".join(chunks)


def _member_name(info: zipfile.ZipInfo) -> str:
    """The entry's name. Without flag bit 11, zip names are cp437 by the standard, but many
    tools write UTF-8 without setting it: UTF-8 is taken when the bytes are valid UTF-8."""
    if info.flag_bits & UTF8_NAME:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _safe_parts(name: str) -> tuple[tuple[str, ...], str | None]:
    """The name's parts, or why it may not be used: leaving the folder, absolute, odd bytes."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return (), "absolute path"
    if any(ord(char) < 32 or char == "\x7f" for char in name):
        return (), "control characters in the name"
    parts = tuple(part for part in re.split(r"[/\\]", name) if part not in ("", "."))
    if ".." in parts:
        return (), "it points outside the archive's folder (..)"
    if not parts:
        return (), "empty name"
    return parts, None


def _refusal(mode: int) -> str | None:
    if stat.S_ISLNK(mode):
        return "is a symbolic link (refused: it could point anywhere)"
    # Many zip tools store only permission bits: no file type at all is a plain file.
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        return "is not a regular file"
    return None


def _is_junk(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part in JUNK_PARTS for part in parts)


def _zip_date(info: zipfile.ZipInfo) -> float:
    try:
        return dt.datetime(*info.date_time).timestamp()
    except ValueError:  # a zeroed or impossible DOS date
        return 0.0


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


# --- layouts --------------------------------------------------------------------------


def _arrange(entries: list[Entry], source: Input) -> tuple[str, list[HandIn]]:
    """Recognise the layout and group the entries into hand-ins, one per student."""
    keys = _Keys()
    names = [entry.parts for entry in entries]
    if any(parts == (METADATA_YML,) for parts in names) or (
        names and all(len(parts) > 1 and _GRADESCOPE_FOLDER.match(parts[0]) for parts in names)
    ):
        return "gradescope", _gradescope(entries, source, keys)
    canvas = [name for parts in names if len(parts) == 1 and (name := _canvas_name(parts[0]))]
    if entries and len(canvas) == len(entries):
        return "canvas", _canvas(entries, canvas, keys)
    return "plain", _plain(entries, keys)


def _unwrap(entries: list[Entry]) -> list[Entry]:
    """Entries of a zip holding one top folder (``class/alice.py``), seen from inside it.

    Zipping the class folder is the usual way to make such a zip; a folder given as INPUT
    is the class folder itself (so a class of one student folder stays one student).
    """
    while (
        entries
        and all(len(entry.parts) > 1 for entry in entries)
        and len({entry.parts[0] for entry in entries}) == 1
        and not _GRADESCOPE_FOLDER.match(entries[0].parts[0])
    ):
        entries = [replace(entry, parts=entry.parts[1:]) for entry in entries]
    return entries


def _plain(entries: list[Entry], keys: _Keys) -> list[HandIn]:
    """One hand-in per top-level file (named by its stem) or folder (named by itself)."""
    groups: dict[tuple[str, bool], list[Entry]] = {}
    for entry in entries:
        groups.setdefault((entry.parts[0], len(entry.parts) > 1), []).append(entry)
    handins = []
    for (top, is_folder), files in sorted(groups.items()):
        student = top if is_folder else os.path.splitext(top)[0] or top
        candidates = [(entry, entry.parts[-1], (entry.date, entry.name)) for entry in files]
        handins.append(_choose(keys.unique(student), student, candidates))
    return handins


@dataclass(frozen=True)
class _CanvasName:
    """What Canvas encodes in an entry's name."""

    user: str  # the Canvas user id, or "anon_<anonymous id>"
    name: str  # the sortable name, squashed ("smithjohn"); "" when anonymous
    late: bool
    attachment: int  # increases with each upload; -1 for text and link entries
    file: str  # the file's own name as the student uploaded it


def _canvas_name(entry: str) -> _CanvasName | None:
    # Anonymous first: "anon_ab_12_3_x.py" would also fit the named pattern.
    if match := _CANVAS_ANON.match(entry):
        user = f"anon_{match['user']}"
        return _CanvasName(user, "", bool(match["late"]), int(match["attachment"]), match["file"])
    if match := _CANVAS_ENTRY.match(entry):
        user = match["user"] or f"anon_{match['anon']}"
        late = bool(match["late"] or match["alate"])
        return _CanvasName(user, match["name"] or "", late, -1, f"{match['kind']}.html")
    if match := _CANVAS_NAMED.match(entry):
        late = bool(match["late"])
        return _CanvasName(
            match["user"], match["name"], late, int(match["attachment"]), match["file"]
        )
    return None


def _canvas(entries: list[Entry], parsed: list[_CanvasName], keys: _Keys) -> list[HandIn]:
    """Canvas: students by user id; the highest attachment id is the latest upload."""
    groups: dict[str, list[tuple[Entry, _CanvasName]]] = {}
    for entry, name in zip(entries, parsed, strict=True):
        groups.setdefault(name.user, []).append((entry, name))
    handins = []
    for user, members in sorted(groups.items()):
        student = next((name.name for _, name in members if name.name), user)
        key = keys.unique(user if student == user else f"{student}_{user}")
        candidates = [(entry, name.file, (name.attachment, entry.name)) for entry, name in members]
        handin = _choose(key, student, candidates)
        latest = max(members, key=lambda member: (member[1].attachment, member[0].name))[1]
        handin.late = latest.late
        # The keys graders.batch_reports reads (the Canvas CSV and feedback file names).
        id_field = "anonymous_id" if user.startswith("anon_") else "user_id"
        handin.lms = {id_field: user.removeprefix("anon_"), "name": student}
        if handin.chosen is not None:
            chosen = next(name for entry, name in members if entry is handin.chosen)
            handin.lms.update(
                filename=handin.chosen.parts[0],
                submission_id=str(chosen.attachment),
                original_name=chosen.file,
            )
        handins.append(handin)
    return handins


def _gradescope(entries: list[Entry], source: Input, keys: _Keys) -> list[HandIn]:
    """Gradescope: one hand-in per submitter; of several submissions, the latest counts."""
    metadata = _gradescope_metadata(entries, source)
    folders: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry.parts != (METADATA_YML,) and entry.parts[1:] != (METADATA_JSON,):
            folders.setdefault(entry.parts[0], []).append(entry)
    by_submitter: dict[str, list[str]] = {}
    for folder in folders:
        who = metadata.get(folder, {}).get("who") or folder
        by_submitter.setdefault(who, []).append(folder)
    handins = []
    for submitted in sorted(by_submitter.values()):
        folder = max(submitted, key=lambda f: (metadata.get(f, {}).get("created", 0.0), _number(f)))
        info = metadata.get(folder, {})
        student = info.get("names") or folder
        key = keys.unique(f"{student}_{info.get('sid') or _number(folder)}" if info else folder)
        candidates = [(e, e.parts[-1], (e.date, e.name)) for e in folders[folder]]
        handin = _choose(key, student, candidates)
        handin.lms = {"submission_id": str(_number(folder))}
        handin.lms.update({field: info[field] for field in ("sid", "email") if info.get(field)})
        if len(submitted) > 1:
            handin.notes.append(f"{len(submitted)} submissions; graded the latest, {folder}")
        handins.append(handin)
    return handins


def _number(folder: str) -> int:
    match = _GRADESCOPE_FOLDER.match(folder)
    return int(match["id"]) if match else 0


def _gradescope_metadata(entries: list[Entry], source: Input) -> dict[str, dict[str, Any]]:
    """Per submission folder: the submitters' names, sid, email and the submission time.

    Unreadable metadata is reported and the folders are named by themselves instead.
    """
    found: dict[str, dict[str, Any]] = {}
    for entry in entries:
        try:
            if entry.parts == (METADATA_YML,):
                data = _mapping(yaml.safe_load(source.read_text(entry)))
                for folder, row in data.items():
                    found[str(folder)] = _describe_yml(_mapping(row))
            elif entry.parts[1:] == (METADATA_JSON,):
                found.setdefault(
                    entry.parts[0], _describe_json(json.loads(source.read_text(entry)))
                )
        except (MemberError, ValueError, yaml.YAMLError) as exc:
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            source.warnings.append(f"{source.path}: {entry.name} ignored: {problem}")
    return found


def _mapping(data: Any) -> dict[Any, Any]:
    if not isinstance(data, dict):
        raise ValueError("not a mapping")
    return data


def _describe_yml(data: dict[str, Any]) -> dict[str, Any]:
    # Gradescope writes Ruby symbols as keys: ":submitters", ":name", ":sid", ":email".
    users = [u for u in data.get(":submitters") or [] if isinstance(u, dict)]
    people = [(u.get(":name"), u.get(":sid"), u.get(":email")) for u in users]
    return _submitters(people, data.get(":created_at"))


def _describe_json(data: Any) -> dict[str, Any]:
    users = [u for u in _mapping(data).get("users") or [] if isinstance(u, dict)]
    people = [(u.get("name"), u.get("sid") or u.get("id"), u.get("email")) for u in users]
    return _submitters(people, data.get("created_at"))


def _submitters(people: list[tuple[Any, Any, Any]], created: Any) -> dict[str, Any]:
    def joined(position: int) -> str:
        return ", ".join(str(person[position]) for person in people if person[position])

    names, sids, emails = joined(0), joined(1), joined(2)
    return {
        "names": names,
        "sid": sids,
        "email": emails,
        "who": emails or sids or names,
        "created": _timestamp(created),
    }


def _timestamp(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return dt.datetime.fromisoformat(value.strip()).timestamp()
    return 0.0


def _choose(key: str, student: str, candidates: list[tuple[Entry, str, tuple[Any, ...]]]) -> HandIn:
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


class _Keys:
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
