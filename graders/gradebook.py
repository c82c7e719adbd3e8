"""The batch's SQLite gradebook: every grade lands here as soon as it is known.

One row per student (``students``), written in its own transaction, in WAL mode with full
sync, so that a crash or ``kill -9`` loses at most the submissions being graded at that
moment, never a grade already reported. Each row carries what it was graded from (a
fingerprint of the hand-in and a hash of the specs and references), which is what
``--resume`` compares to decide what to grade again. ``events`` logs when each grading
started and ended, per run, for audits ("was anything graded twice?").

Every class output (CSV, summary, Canvas feedback) is rendered from here at the end, one
row at a time, so that memory does not grow with the class.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .records import StudentRecord
from .results import Status, SubmissionResult
from .submission import valid_text

NOT_GRADED = "not_graded"  # the status of a row whose hand-in could not be graded
# A submission's status is its most telling exercise status: a run problem first.
_SEVERE = (Status.TIMEOUT, Status.MEMORY_LIMIT, Status.ERROR)

# PRAGMA user_version of the schema below; a gradebook of another version is refused (a
# file without it predates versioning). Raise it with every change to the tables or to
# what a column holds.
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE students (
    key TEXT PRIMARY KEY,
    student TEXT NOT NULL,
    files TEXT NOT NULL,        -- JSON list of the hand-in's files
    fingerprint TEXT NOT NULL,  -- of the hand-in: content, file names, student, LMS ids
    spec_hash TEXT NOT NULL,    -- of the specs, references and limits it was graded with
    status TEXT NOT NULL,
    score REAL,
    max_score REAL,
    result TEXT,                -- JSON (SubmissionResult, with plot data) or NULL
    problem TEXT,
    notes TEXT NOT NULL,        -- JSON list
    late INTEGER NOT NULL,
    duration REAL NOT NULL,
    lms TEXT NOT NULL,          -- JSON object
    retry INTEGER NOT NULL,     -- 1: the grader failed (not the student): grade again
    graded_at REAL NOT NULL
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    run INTEGER NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,         -- "started" | "graded"
    at REAL NOT NULL
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    input TEXT NOT NULL,
    resumed INTEGER NOT NULL,
    started REAL NOT NULL,
    finished REAL
);
"""
_COLUMNS = "key, student, files, result, problem, notes, late, duration, lms"
_STORED = (
    "key, student, files, fingerprint, spec_hash, status, score, max_score, result, problem, "
    "notes, late, duration, lms, retry, graded_at"
)


def student_status(record: StudentRecord) -> str:
    """One word for a student's hand-in: passed, failed, not_attempted, error, ..."""
    if record.result is None:
        return NOT_GRADED
    statuses = {exercise.status for exercise in record.result.exercises}
    severe = next((status for status in _SEVERE if status in statuses), None)
    if severe is not None:
        return str(severe)
    if statuses == {Status.PASSED}:
        return str(Status.PASSED)
    if statuses == {Status.NOT_ATTEMPTED}:
        return str(Status.NOT_ATTEMPTED)
    return str(Status.FAILED)


class GradebookError(Exception):
    """The file is a gradebook this grader cannot use; the message is one line."""


class Gradebook:
    """The gradebook file, used from one thread (the coordinating one)."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        """Open the gradebook at ``path``; without ``create``, only an existing one."""
        self._db = sqlite3.connect(path, isolation_level=None)  # transactions are explicit
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a reported grade survives power loss
            self._open_schema(path, create=create)
        except BaseException:
            self._db.close()
            raise
        self.run: int | None = None

    def _open_schema(self, path: Path, *, create: bool) -> None:
        """Create the tables in a new file; refuse a gradebook of another schema version."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            (version,) = self._db.execute("PRAGMA user_version").fetchone()
            (tables,) = self._db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            if version == SCHEMA_VERSION:
                return
            if version == 0 and tables == 0:
                if not create:
                    raise GradebookError(f"{path}: an empty file, not a batch's gradebook")
                for statement in _SCHEMA.split(";")[:-1]:
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                return
        written_by = "an older" if version < SCHEMA_VERSION else "a newer"
        raise GradebookError(
            f"{path}: written by {written_by} version of the grader (gradebook version "
            f"{version}, this one reads {SCHEMA_VERSION}); grade without --resume to start "
            "fresh, or move it away"
        )

    @staticmethod
    def keys_in(path: Path) -> list[str]:
        """The student keys of a gradebook of any version (those whose reports a fresh
        start removes); none when it holds no readable list of students."""
        db = sqlite3.connect(path)
        try:
            return [str(key) for (key,) in db.execute("SELECT key FROM students")]
        except sqlite3.DatabaseError:
            return []
        finally:
            db.close()

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def discard(path: Path) -> None:
        """Remove a gradebook with its WAL files (a fresh start)."""
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    # --- runs and events ---

    def begin_run(self, source: str, *, resumed: bool) -> None:
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO runs (input, resumed, started) VALUES (?, ?, ?)",
                (source, int(resumed), time.time()),
            )
        self.run = cursor.lastrowid

    def finish_run(self) -> None:
        with self._db:
            self._db.execute("UPDATE runs SET finished = ? WHERE id = ?", (time.time(), self.run))

    def started(self, key: str) -> None:
        """Log that grading ``key`` has begun (committed at once)."""
        with self._db:
            self._event(key, "started")

    def _event(self, key: str, kind: str) -> None:
        self._db.execute(
            "INSERT INTO events (run, key, kind, at) VALUES (?, ?, ?, ?)",
            (self.run, key, kind, time.time()),
        )

    # --- students ---

    def is_current(self, key: str, fingerprint: str, spec_hash: str) -> bool:
        """Whether ``key`` was graded from exactly this hand-in with these specs."""
        row = self._db.execute(
            "SELECT 1 FROM students WHERE key = ? AND fingerprint = ? AND spec_hash = ? "
            "AND retry = 0",
            (key, fingerprint, spec_hash),
        ).fetchone()
        return row is not None

    def save(
        self, record: StudentRecord, *, fingerprint: str, spec_hash: str, retry: bool = False
    ) -> None:
        """Write (or replace) one student's row and log the grading, in one transaction.

        Text from a student may hold lone surrogates (undecodable file names, JSON escapes
        in a hand-in or in what its code returned), which SQLite cannot store and no page
        can show: they are stored as U+FFFD, so that every read of the row is clean.
        """
        result = record.result
        values = (
            record.key,
            valid_text(record.student),
            _json(record.files),
            fingerprint,
            spec_hash,
            student_status(record),
            result.score if result else None,
            result.max_score if result else None,
            _json(result.to_dict(evidence=True)) if result else None,
            valid_text(record.problem) if record.problem is not None else None,
            _json(record.notes),
            int(record.late),
            record.duration,
            _json(record.lms),
            int(retry),
            time.time(),
        )
        marks = ", ".join("?" * len(values))
        with self._db:
            # Explicit: without it (isolation_level=None) each statement would commit on its
            # own, and a kill between the two would leave a row without its event.
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                f"INSERT OR REPLACE INTO students ({_STORED}) VALUES ({marks})", values
            )
            self._event(record.key, "graded")

    def student_keys(self) -> list[str]:
        return [key for (key,) in self._db.execute("SELECT key FROM students ORDER BY key")]

    def remove(self, keys: Sequence[str]) -> None:
        with self._db:
            self._db.executemany("DELETE FROM students WHERE key = ?", [(key,) for key in keys])

    def record(self, key: str, *, evidence: bool = True) -> StudentRecord:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM students WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return _record(row, evidence=evidence)

    def records(self, *, evidence: bool = False) -> Records:
        """Every row, in key order, read from the file as they are used (not all at once).

        Without ``evidence`` the plot data are left out: class outputs do not draw them.
        """
        return Records(self, self.student_keys(), evidence=evidence)

    def iterate(self, *, evidence: bool) -> Iterator[StudentRecord]:
        cursor = self._db.execute(f"SELECT {_COLUMNS} FROM students ORDER BY key")
        for row in cursor:
            yield _record(row, evidence=evidence)

    def status_counts(self) -> Counter[str]:
        return Counter(
            dict(self._db.execute("SELECT status, COUNT(*) FROM students GROUP BY status"))
        )

    def grader_failures(self) -> tuple[int, str | None]:
        """How many rows the grader (not the student) failed, and the first one's problem."""
        (count,) = self._db.execute("SELECT COUNT(*) FROM students WHERE retry = 1").fetchone()
        first = self._db.execute(
            "SELECT problem FROM students WHERE retry = 1 ORDER BY graded_at, rowid LIMIT 1"
        ).fetchone()
        return count, first[0] if first else None

    def all_full_marks(self) -> bool:
        """Whether every student passed everything (exit status 0 of a batch)."""
        row = self._db.execute(
            "SELECT COUNT(*), SUM(status = ?) FROM students", (str(Status.PASSED),)
        ).fetchone()
        return row[0] > 0 and row[0] == row[1]


class Records(Sequence[StudentRecord]):
    """A read-only list of the gradebook's records that loads each one when it is used."""

    def __init__(self, gradebook: Gradebook, keys: list[str], *, evidence: bool) -> None:
        self._gradebook = gradebook
        self._keys = keys
        self._evidence = evidence

    def __len__(self) -> int:
        return len(self._keys)

    # By position only: nothing reads the class in slices.
    def __getitem__(self, index: int) -> StudentRecord:  # type: ignore[override]
        return self._load(self._keys[index])

    def __iter__(self) -> Iterator[StudentRecord]:
        return self._gradebook.iterate(evidence=self._evidence)

    def _load(self, key: str) -> StudentRecord:
        return self._gradebook.record(key, evidence=self._evidence)


def _json(value: Any) -> str:
    return valid_text(json.dumps(value, ensure_ascii=False))


def _record(row: tuple[Any, ...], *, evidence: bool) -> StudentRecord:
    key, student, files, result, problem, notes, late, duration, lms = row
    return StudentRecord(
        key=key,
        student=student,
        files=json.loads(files),
        result=_result(result, evidence=evidence) if result is not None else None,
        problem=problem,
        notes=json.loads(notes),
        late=bool(late),
        duration=duration,
        lms=json.loads(lms),
    )


def _result(text: str, *, evidence: bool) -> SubmissionResult:
    data = json.loads(text)
    if not evidence:
        for exercise in data["exercises"]:
            for check in exercise["checks"]:
                check.pop("evidence", None)
    return SubmissionResult.from_dict(data)
