"""A class with one attacker, graded through ``grade.py batch``: whatever the attacker's hand-in
does, every other student gets exactly the grade and the outputs they would get without it, and
the attacker gets a row of their own that says what is wrong.

To add a finding, add one ``Attack`` to ATTACKS: the attacker's files (name -> bytes; a name
may be bytes, for names that are not UTF-8) and what their row must say.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import INSTRUCTOR_NOTEBOOK, REPO, require_bubblewrap, run_cli

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

EXAMPLES = REPO / "examples"
WRONG = (EXAMPLES / "product_rule_chain_rule_forgotten.py").read_bytes()
# A gradebook row of the whole tutorial notebook holds about 130 kB of plot evidence; a row
# stays near that whatever a hand-in defines.
MAX_ROW_BYTES = 200_000


@dataclass(frozen=True)
class Student:
    """A correct hand-in, and the exercises it must pass."""

    name: str
    file: Path
    exercises: tuple[str, ...]


CLASS = [
    Student("alice", EXAMPLES / "product_rule_correct.py", ("product_rule_alpha",)),
    Student("bob", EXAMPLES / "psp_correct.py", ("psp_charge",)),
    Student("carol", EXAMPLES / "neuron_gain_correct.py", ("neuron_gain",)),
    Student("dave", EXAMPLES / "chain_rule_correct.txt", ("chain_rule",)),
    Student("erin", INSTRUCTOR_NOTEBOOK, ("product_rule_alpha", "psp_charge", "neuron_gain")),
]
# Canvas numbers: user id 1000 + position; the attachment ids are below any attacker's.
CANVAS_IDS = {student.name: (1000 + number, 2000 + number) for number, student in enumerate(CLASS)}


@dataclass(frozen=True)
class Attack:
    id: str
    files: dict[str | bytes, bytes]  # the attacker's hand-in, as named in the input
    key: str  # the attacker's row
    says: str  # a phrase of their page (problem, notes or feedback)
    layout: str = "folder"  # or "canvas": the class is a Canvas "Download Submissions" zip


def _notebook(*cells: dict) -> bytes:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).encode()


ATTACKS = [
    Attack(
        "notebook-nested-too-deeply",
        {"mallory.ipynb": b"[" * 100_000},
        "mallory",
        "mallory.ipynb: nested too deeply",
    ),
    Attack(
        "code-cell-without-source",
        {"mallory.ipynb": _notebook({"cell_type": "code", "metadata": {}, "outputs": []})},
        "mallory",
        "'source' is a required property",
    ),
    Attack(
        "file-name-not-utf8",
        {b"mall\xffory.py": WRONG},
        "mallory",
        "its name is not valid UTF-8",
    ),
    Attack(
        # Large enough to bloat a stored row, small enough to cross the channel as values.
        "a-million-floats",
        {"mallory.py": b"du_dt = 1\ndv_dt = np.linspace(0, 1, 1_000_000)\ndf_dt = 0\n"},
        "mallory",
        "Your answer has 1000000 values where 100 are expected",
    ),
    Attack(
        # Past what one frame may carry: the values never reach the grader at all.
        "ten-million-floats",
        {"mallory.py": b"du_dt = 1\ndv_dt = np.linspace(0, 1, 10_000_000)\ndf_dt = dv_dt\n"},
        "mallory",
        "shape (10000000,), too large to compare",
    ),
    Attack(
        "canvas-name-claiming-another-id",
        # Uploaded as "X_late_1001_text.html" by user 9999: the tail names alice's id.
        {f"mallory_9999_9001_X_late_{CANVAS_IDS['alice'][0]}_text.html": b"<p>mine</p>"},
        "mallory_9999",
        "no readable .py, .ipynb, .txt file handed in",
        layout="canvas",
    ),
]


def _hand_in(folder: Path, layout: str, attacker: dict[str | bytes, bytes]) -> Path:
    """The class, and the attacker's files first, as INPUT: a folder or a Canvas zip."""
    files = dict(attacker)
    for student in CLASS:
        files[_handed_in(student, layout)] = student.file.read_bytes()
    folder.mkdir()
    if layout == "canvas":
        path = folder / "course-hw submissions.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in files.items():
                archive.writestr(os.fsdecode(name), data)
        return path
    for name, data in files.items():
        with open(os.path.join(os.fsencode(folder), os.fsencode(name)), "wb") as file:
            file.write(data)
    return folder


def _handed_in(student: Student, layout: str) -> str:
    if layout == "canvas":
        user, attachment = CANVAS_IDS[student.name]
        return f"{student.name}_{user}_{attachment}_{student.file.name}"
    return student.name + student.file.suffix


def _key(student: Student, layout: str) -> str:
    return f"{student.name}_{CANVAS_IDS[student.name][0]}" if layout == "canvas" else student.name


@dataclass
class Outputs:
    """What a batch wrote: exit status, and per key its JSON, HTML and gradebook.csv row."""

    exit: int
    stderr: str
    reports: dict[str, str]
    pages: dict[str, str]
    rows: dict[str, dict[str, str]]
    out: Path


def _batch(source: Path, out: Path) -> Outputs:
    graded = run_cli("batch", str(source), "--out", str(out), "--workers", "2")
    table = csv.DictReader(io.StringIO(_text(out / "gradebook.csv")))
    rows = {row["key"]: row for row in table}
    return Outputs(
        graded.returncode,
        graded.stderr,
        {key: _text(out / f"{key}.json") for key in rows},
        {key: _text(out / f"{key}.html") for key in rows},
        rows,
        out,
    )


@pytest.fixture(scope="module")
def without_attacker(tmp_path_factory: pytest.TempPathFactory):
    """The class graded alone, per layout: what every student must get with an attacker too."""
    graded: dict[str, Outputs] = {}

    def outputs(layout: str) -> Outputs:
        if layout not in graded:
            folder = tmp_path_factory.mktemp(layout)
            alone = _batch(_hand_in(folder / "class", layout, {}), folder / "out")
            assert alone.exit in (0, 1), alone.stderr  # the notebook has a typed exercise
            for student in CLASS:
                report = json.loads(alone.reports[_key(student, layout)])
                passed = {e["id"] for e in report["exercises"] if e["status"] == "passed"}
                assert passed >= set(student.exercises)
            graded[layout] = alone
        return graded[layout]

    return outputs


@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.id for attack in ATTACKS])
def test_an_attacker_costs_the_rest_of_the_class_nothing(
    tmp_path: Path, attack: Attack, without_attacker
) -> None:
    require_bubblewrap()
    alone = without_attacker(attack.layout)
    source = _hand_in(tmp_path / "class", attack.layout, attack.files)

    graded = _batch(source, tmp_path / "out")

    assert graded.exit == 1, graded.stderr  # graded; not everyone has full marks
    assert "Traceback" not in graded.stderr
    assert set(graded.rows) == {*alone.rows, attack.key}
    for key in alone.rows:
        assert graded.reports[key] == alone.reports[key]
        assert graded.pages[key] == alone.pages[key]
        assert graded.rows[key] == alone.rows[key]
    page = html.unescape(graded.pages[attack.key])
    assert attack.says in graded.rows[attack.key]["problem"] + page
    students = len(CLASS) + 1
    summary = _text(graded.out / "summary.md")
    assert summary.startswith(f"# Batch summary — {students} students\n")
    assert f"{students} students" in _text(graded.out / "summary.html")
    with sqlite3.connect(graded.out / "gradebook.sqlite") as db:
        sizes = [size or 0 for (size,) in db.execute("SELECT length(result) FROM students")]
    assert max(sizes) < MAX_ROW_BYTES
    if attack.layout == "canvas":  # the attacker's text entry gets no feedback file
        assert _feedback(graded.out) == _feedback(alone.out)


def _feedback(out: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(out / "canvas_feedback.zip") as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")
