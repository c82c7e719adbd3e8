"""Read a class's hand-ins: a folder, a zip of one, or an LMS export, as one hand-in per student.

Layouts, recognised from the names in the input:
- plain: one file or one sub-folder per student (a zip may wrap them in one top folder);
- Canvas "Download Submissions" (graders.lms.canvas);
- Gradescope "Export Submissions" (graders.lms.gradescope_submissions).

A student with several gradable files gets the newest graded (file date, Canvas attachment
order, Gradescope submission time), and a note saying so (graders.handins).

Archives come from students and LMS exports and are treated as hostile: nothing is ever
extracted by name. Entries that leave the folder, absolute paths, links and special files
are refused (and reported); the declared sizes and the member count are checked before
anything is read, and reading stops at the limits whatever the sizes claim. Only the
graded file of each student is read, into memory, when its turn comes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

from .handins import Entry, HandIn, Keys, MemberError, choose
from .lms import canvas, gradescope_submissions
from .submission import MAX_BYTES, valid_text

MAX_DEPTH = 12  # folders within a student's folder; deeper is not a hand-in
ENCRYPTED = 0x1
UTF8_NAME = 0x800  # zip general-purpose flag bit 11: the name is UTF-8
# Files that travel with hand-ins but are nobody's answer: macOS resource forks, editor
# checkpoints (an .ipynb_checkpoints copy must not win "newest"), Windows thumbnails.
JUNK_PARTS = ("__MACOSX", "Thumbs.db", "desktop.ini")


@dataclass(frozen=True)
class ArchiveLimits:
    """How much an input may hold; past these it is refused (or the entry is)."""

    member_bytes: int = MAX_BYTES  # one file (the grader reads no larger hand-in)
    total_bytes: int = 2 * 2**30  # all entries of an archive together, as declared
    members: int = 100_000  # entries in an archive, or files under a folder


class InputError(Exception):
    """The input cannot be used at all; the message is one line for the user."""


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
    keys = Keys()
    if gradescope_submissions.is_export([entry.parts for entry in entries]):
        return "gradescope", gradescope_submissions.handins(entries, source, keys)
    if (names := canvas.parse_names(entries)) is not None:
        return "canvas", canvas.handins(entries, names, keys)
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
        and not gradescope_submissions.is_submission_folder(entries[0].parts[0])
    ):
        entries = [replace(entry, parts=entry.parts[1:]) for entry in entries]
    return entries


def _plain(entries: list[Entry], keys: Keys) -> list[HandIn]:
    """One hand-in per top-level file (named by its stem) or folder (named by itself)."""
    groups: dict[tuple[str, bool], list[Entry]] = {}
    for entry in entries:
        groups.setdefault((entry.parts[0], len(entry.parts) > 1), []).append(entry)
    handins = []
    for (top, is_folder), files in sorted(groups.items()):
        student = top if is_folder else os.path.splitext(top)[0] or top
        candidates = [(entry, entry.parts[-1], (entry.date, entry.name)) for entry in files]
        handins.append(choose(keys.unique(student), student, candidates))
    return handins
