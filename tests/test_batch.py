"""`grade.py batch`: a class graded end to end, its gradebook, resume after a kill, Dask."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import INSTRUCTOR_NOTEBOOK, REPO, STUDENT_NOTEBOOK, run_cli
from graders import batch as batch_module
from graders import cli, engine, spec, submission
from graders import gradebook as gradebook_module
from graders.assignments import exercises_for
from graders.batch import Progress
from graders.gradebook import Gradebook
from graders.records import StudentRecord
from graders.results import (
    CheckResult,
    CheckStatus,
    Curve,
    ExerciseResult,
    Status,
    SubmissionResult,
)

EXAMPLES = REPO / "examples"
CORRECT = (EXAMPLES / "product_rule_correct.py").read_text()
WRONG = (EXAMPLES / "product_rule_chain_rule_forgotten.py").read_text()

HOSTILE = {
    # Reads what it must not, writes where it must not, then answers correctly.
    "reads_files.py": """
import glob, os
seen = glob.glob("/work/**/reference/*.py", recursive=True) + glob.glob("/root/*")
for path in ("/etc/shadow", "../gradebook.sqlite", "/work/main/reference/psp_charge.py"):
    try:
        print(open(path).read()[:100])
    except OSError as exc:
        print("refused:", exc)
try:
    open("/tmp/planted.py", "w").write("x")
except OSError:
    pass
"""
    + CORRECT,
    # Forks until it cannot, leaving sleeping children behind.
    "forks.py": """
import os, time
try:
    for _ in range(200):
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
except OSError:
    pass
"""
    + WRONG,
    # Floods stdout with bytes and a forged result.
    "garbage.py": """
import sys
sys.stdout.buffer.write(bytes(range(256)) * 4000)
print('{"score": 100, "max_score": 3, "status": "passed"}')
"""
    + WRONG,
}


def class_folder(folder: Path) -> Path:
    """One of each kind of hand-in a class produces."""
    folder.mkdir()
    files = {
        "correct.py": CORRECT,
        "wrong.py": WRONG,
        "crash.py": (EXAMPLES / "psp_typo_crash.py").read_text(),
        "hang.py": (EXAMPLES / "infinite_loop.py").read_text(),
        "nothing.py": "x = 1\n",
        "typed.txt": "4a^3 e^(a^4+1)\n",
        **HOSTILE,
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    (folder / "unreadable.py").write_bytes(b"du_dt = '\xff\xfe'\n")
    return folder


def batch(*args: str | Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the command in this process; (exit status, stderr)."""
    code = cli.main(["batch", *map(str, args)])
    return code, capsys.readouterr().err


def rows(out: Path) -> dict[str, sqlite3.Row]:
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        db.row_factory = sqlite3.Row
        return {row["key"]: row for row in db.execute("SELECT * FROM students")}


def graded_events(out: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        return list(db.execute("SELECT run, key FROM events WHERE kind = 'graded' ORDER BY id"))


def stored(out: Path, key: str) -> StudentRecord:
    book = Gradebook(out / "gradebook.sqlite")
    try:
        return book.record(key)
    finally:
        book.close()


EXPECTED_STATUS = {
    "correct": "passed",
    "wrong": "failed",
    "crash": "error",
    "hang": "timeout",
    "nothing": "not_graded",
    "typed": "passed",
    "unreadable": "not_graded",
    "reads_files": "passed",
    "forks": "failed",
    "garbage": "failed",
}


def test_a_class_folder_is_graded_into_gradebook_reports_and_summaries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = class_folder(tmp_path / "class")
    out = tmp_path / "out"
    code, err = batch(folder, "--out", out, "--workers", "2", "--time-limit", "3", capsys=capsys)
    assert code == 1, err
    graded = rows(out)
    assert {key: row["status"] for key, row in graded.items()} == EXPECTED_STATUS
    assert "not UTF-8" in graded["unreadable"]["problem"]
    assert "unreadable.py" in graded["unreadable"]["problem"]
    assert str(out) not in graded["unreadable"]["problem"]  # our private copy stays private
    assert "answers none of the exercises" in graded["nothing"]["problem"]
    assert graded["garbage"]["score"] == graded["wrong"]["score"] < 3  # forged line: output only
    for key in graded:
        assert (out / f"{key}.json").is_file() and (out / f"{key}.html").is_file()
    report = json.loads((out / "correct.json").read_text())
    assert report["score"] == report["max_score"] == 3.0
    with (out / "gradebook.csv").open(newline="") as file:
        assert len(list(csv.reader(file))) >= 1 + len(EXPECTED_STATUS)
    assert (out / "summary.html").is_file() and (out / "summary.md").is_file()
    assert not (tmp_path / "planted.py").exists() and not Path("/tmp/planted.py").exists()
    assert not list(out.glob(".grading-scratch-*"))
    closing = err.strip().splitlines()[-1]
    assert closing.startswith("10 students: 1 error, 3 failed, 2 not_graded, 3 passed, 1 timeout")
    assert "graded 10 in" in closing


def test_a_zip_of_the_class_through_grade_py(tmp_path: Path) -> None:
    folder = class_folder(tmp_path / "class")
    archive = tmp_path / "class.zip"
    chosen = ("correct", "wrong", "unreadable", "garbage")
    with zipfile.ZipFile(archive, "w") as bundle:
        for key in chosen:
            path = next(folder.glob(f"{key}.*"))
            bundle.write(path, f"class/{path.name}")
    completed = run_cli("batch", str(archive), "--out", str(tmp_path / "out"), "--workers", "2")
    assert completed.returncode == 1, completed.stderr
    graded = rows(tmp_path / "out")
    assert {key: row["status"] for key, row in graded.items()} == {
        key: EXPECTED_STATUS[key] for key in chosen
    }
    assert "4 students:" in completed.stderr.splitlines()[-1]


def test_full_marks_for_everyone_exits_0_and_plain_progress_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    for number in range(3):
        (folder / f"s{number}.py").write_text(CORRECT)
    code, err = batch(folder, "--out", tmp_path / "out", "--workers", "2", capsys=capsys)
    assert code == 0, err
    lines = err.strip().splitlines()
    assert "3/3 (100%)" in lines[-2]  # not a terminal: plain lines, no bar
    assert "\r" not in err
    assert lines[-1].startswith("3 students: 3 passed; graded 3 in")


def test_the_newest_file_of_a_student_is_graded_and_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    student = tmp_path / "class" / "dana"
    student.mkdir(parents=True)
    (student / "attempt1.py").write_text(WRONG)
    (student / "attempt2.py").write_text(CORRECT)
    os.utime(student / "attempt1.py", (2_000_000_000, 2_000_000_000))  # the later one
    os.utime(student / "attempt2.py", (1_000_000_000, 1_000_000_000))
    code, _ = batch(tmp_path / "class", "--out", tmp_path / "out", capsys=capsys)
    assert code == 1
    record = stored(tmp_path / "out", "dana")
    assert record.result.exercises[0].status == "failed"
    assert record.notes == ["2 gradable files handed in; graded the newest, attempt1.py"]
    assert record.files == ["dana/attempt1.py", "dana/attempt2.py"]


# --- LMS archives ------------------------------------------------------------------------


def test_a_canvas_download_keeps_ids_late_flags_and_writes_canvas_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "calc-w0d4 submissions.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("smithjohn_12345_678901_hw.py", WRONG)
        bundle.writestr("smithjohn_12345_678950_hw-1.py", CORRECT)  # the later upload
        bundle.writestr("doejane_LATE_23456_678902_hw.py", CORRECT)
        bundle.writestr("anon_x7Kq2_678903_hw.py", WRONG)
    out = tmp_path / "out"
    code, err = batch(archive, "--out", out, "--workers", "2", "--canvas-csv", capsys=capsys)
    assert code == 1, err
    graded = rows(out)
    assert sorted(graded) == ["anon_x7Kq2", "doejane_23456", "smithjohn_12345"]
    assert graded["smithjohn_12345"]["status"] == "passed"
    assert graded["doejane_23456"]["late"] == 1 and graded["smithjohn_12345"]["late"] == 0
    assert json.loads(graded["doejane_23456"]["lms"])["user_id"] == "23456"
    john = stored(out, "smithjohn_12345")
    assert john.notes == ["2 gradable files handed in; graded the newest, hw-1.py"]
    with (out / "gradebook.csv").open(newline="") as file:
        table = list(csv.reader(file))
    assert table[0][:2] == ["Student", "ID"]
    assert any(row[1] == "12345" for row in table)
    with zipfile.ZipFile(out / "canvas_feedback.zip") as feedback:  # anonymous: no way back
        assert sorted(feedback.namelist()) == [
            "doejane_LATE_23456_678902_hw.html",
            "smithjohn_12345_678950_hw-1.html",
        ]


def test_a_gradescope_export_names_students_from_its_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metadata = """\
submission_11:
  :submitters:
  - :name: Jane Doe
    :sid: '123'
    :email: jane@example.edu
  :created_at: 2024-01-02 10:00:00.000000000 -08:00
submission_12:
  :submitters:
  - :name: Omar Haddad
    :sid: '456'
    :email: omar@example.edu
  :created_at: 2024-01-02 11:00:00.000000000 -08:00
"""
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("assignment_7_export/submission_metadata.yml", metadata)
        bundle.writestr("assignment_7_export/submission_11/cell.py", CORRECT)
        bundle.writestr("assignment_7_export/submission_12/answer.txt", "4 a^3 exp(a^4 + 1)")
    code, err = batch(archive, "--out", tmp_path / "out", capsys=capsys)
    assert code == 0, err
    graded = rows(tmp_path / "out")
    assert {key: row["student"] for key, row in graded.items()} == {
        "Jane_Doe_123": "Jane Doe",
        "Omar_Haddad_456": "Omar Haddad",
    }
    assert json.loads(graded["Omar_Haddad_456"]["lms"])["sid"] == "456"


def test_hostile_archive_entries_are_contained_and_the_batch_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "class.zip"
    link = zipfile.ZipInfo("mallory/hw.py")
    link.external_attr = 0o120777 << 16  # a symbolic link to the reference solution
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("../escape.py", CORRECT)
        bundle.writestr("/etc/cron.d/evil.py", CORRECT)
        bundle.writestr(link, str(REPO / "reference" / "product_rule_alpha.py"))
        bundle.writestr("huge.py", b"#" * (21 * 2**20))
        bundle.writestr("alice.py", CORRECT)
    out = tmp_path / "out"
    code, err = batch(archive, "--out", out, capsys=capsys)
    assert code == 1, err
    assert "'../escape.py' refused" in err and "'/etc/cron.d/evil.py' refused" in err
    graded = rows(out)
    assert sorted(graded) == ["alice", "huge", "mallory"]
    assert graded["alice"]["status"] == "passed"
    assert "too large" in graded["huge"]["problem"]
    assert "symbolic link" in json.loads(graded["mallory"]["notes"])[0]
    assert not (tmp_path / "escape.py").exists()


# --- resume, fresh starts, exit statuses ---------------------------------------------------


def many(folder: Path, count: int, prefix: str = "") -> Path:
    folder.mkdir()
    for number in range(count):
        (folder / f"student{number:02d}.py").write_text(prefix + (CORRECT if number % 3 else WRONG))
    return folder


def test_kill_9_mid_batch_then_resume_grades_each_student_exactly_once(tmp_path: Path) -> None:
    # Each takes a moment, so that the kill surely lands mid-batch.
    folder, out = many(tmp_path / "class", 30, "import time; time.sleep(0.2)\n"), tmp_path / "out"
    command = [sys.executable, str(REPO / "grade.py"), "batch", str(folder), "--out", str(out)]
    process = subprocess.Popen(
        [*command, "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while len(_events(out, "graded")) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    first = {key for run, key in _events(out, "graded")}
    in_flight = {key for run, key in _events(out, "started")} - first
    assert 3 <= len(first) < 30 and in_flight  # killed in the middle, with work in flight
    resumed = run_cli(*command[2:], "--workers", "2", "--resume")
    assert resumed.returncode == 1, resumed.stderr
    graded = rows(out)
    assert len(graded) == 30
    events = graded_events(out)
    assert sorted(key for _, key in events) == sorted(graded)  # each graded exactly once
    assert {key for run, key in events if run == 2} == set(graded) - first >= in_flight
    assert all(graded[key]["status"] in ("passed", "failed") for key in in_flight)
    again = run_cli(*command[2:], "--resume")
    assert "graded 0 in" in again.stderr.splitlines()[-1]
    assert "(30 already in the gradebook)" in again.stderr
    assert len(graded_events(out)) == 30


def _events(out: Path, kind: str) -> list[tuple[int, str]]:
    try:
        with sqlite3.connect(f"file:{out / 'gradebook.sqlite'}?mode=ro", uri=True) as db:
            return list(db.execute("SELECT run, key FROM events WHERE kind = ?", (kind,)))
    except sqlite3.OperationalError:  # not created yet
        return []


def test_resume_regrades_changed_hand_ins_and_changed_specs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    course = tmp_path / "course"
    for part in ("exercises", "reference"):
        shutil.copytree(REPO / part, course / part)
    folder, out = many(tmp_path / "class", 3), tmp_path / "out"
    arguments = ["--course", str(course), "batch", str(folder), "--out", str(out), "--resume"]
    assert cli.main(arguments) == 1
    (folder / "student00.py").write_text(CORRECT)
    assert cli.main(arguments) == 0
    assert [key for run, key in graded_events(out) if run == 2] == ["student00"]
    reference = course / "reference" / "product_rule_alpha.py"
    reference.write_text(reference.read_text() + "\n# revised\n")
    assert cli.main(arguments) == 0
    assert len([key for run, key in graded_events(out) if run == 3]) == 3
    assert "graded 3 in" in capsys.readouterr().err.splitlines()[-1]


def test_without_resume_an_earlier_batch_is_discarded_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    batch(many(tmp_path / "first", 2), "--out", out, capsys=capsys)
    (out / "my-notes.txt").write_text("mine")
    second = tmp_path / "second"
    second.mkdir()
    (second / "zoe.py").write_text(CORRECT)
    code, err = batch(second, "--out", out, capsys=capsys)
    assert code == 0
    assert "held an earlier batch (2 students): starting fresh" in err
    assert list(rows(out)) == ["zoe"]
    assert not (out / "student00.json").exists()
    assert (out / "my-notes.txt").read_text() == "mine"  # only our own files go


def test_a_grader_failure_is_a_row_that_resume_grades_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, out = many(tmp_path / "class", 2), tmp_path / "out"
    grade = engine.grade

    def flaky(submission, specs, **options):
        if submission.name == "student01.py":
            raise RuntimeError("disk on fire")
        return grade(submission, specs, **options)

    monkeypatch.setattr(engine, "grade", flaky)
    code, _ = batch(folder, "--out", out, capsys=capsys)
    assert code == 1
    failed = rows(out)["student01"]
    assert failed["retry"] == 1 and "disk on fire" in failed["problem"]
    monkeypatch.setattr(engine, "grade", grade)
    assert batch(folder, "--out", out, "--resume", capsys=capsys)[0] == 1
    assert [key for run, key in graded_events(out) if run == 2] == ["student01"]
    assert rows(out)["student01"]["status"] == "passed"


def test_the_grader_failing_on_everything_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(submission, specs, **options):
        raise engine.SetupError("the exercises' setup failed in the sandbox: ImportError")

    monkeypatch.setattr(engine, "grade", broken)
    code, err = batch(many(tmp_path / "class", 2), "--out", tmp_path / "out", capsys=capsys)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("grade.py: the grader failed on every hand-in")


@pytest.mark.parametrize("version", [0, gradebook_module.SCHEMA_VERSION + 1], ids=["old", "newer"])
def test_resume_on_a_gradebook_of_another_version_exits_2_and_deletes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], version: int
) -> None:
    folder, out = many(tmp_path / "class", 2), tmp_path / "out"
    assert batch(folder, "--out", out, capsys=capsys)[0] == 1
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        db.execute(f"PRAGMA user_version = {version}")
    reports = {path.name: path.read_bytes() for path in out.glob("student*")}
    graded = {key: dict(row) for key, row in rows(out).items()}

    code, err = batch(folder, "--out", out, "--resume", capsys=capsys)
    assert code == 2
    assert err.count("\n") == 1 and "version of the grader" in err and "without --resume" in err
    assert {path.name: path.read_bytes() for path in out.glob("student*")} == reports
    assert {key: dict(row) for key, row in rows(out).items()} == graded
    # Without --resume it is an earlier batch like any other: replaced, said so.
    code, err = batch(folder, "--out", out, capsys=capsys)
    assert code == 1 and "starting fresh" in err
    assert sorted(rows(out)) == ["student00", "student01"]


def test_an_unforeseen_way_to_be_unreadable_is_that_students_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, out = many(tmp_path / "class", 2), tmp_path / "out"
    load = batch_module.from_bytes

    def fragile(path: Path, data: bytes):
        if path.name == "student00.py":
            raise LookupError("a loader bug\nwith a second line")
        return load(path, data)

    monkeypatch.setattr(batch_module, "from_bytes", fragile)
    code, _ = batch(folder, "--out", out, capsys=capsys)
    assert code == 1
    graded = rows(out)
    assert (
        graded["student00"]["problem"] == "student00.py: cannot be read (LookupError: a loader bug)"
    )
    assert graded["student00"]["retry"] == 0 and graded["student01"]["status"] == "passed"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing"], "no such file or folder"),
        (["empty"], "no hand-ins found"),
        (["bad.zip"], "not valid UTF-8"),
        (["empty", "--workers", "0"], "--workers must be at least 1"),
        (["empty", "--exercise", "nope"], "unknown exercise 'nope'"),
        (["one", "--resume"], "not a usable gradebook"),
    ],
)
def test_a_batch_that_cannot_be_carried_out_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    many(tmp_path / "one", 1)
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "gradebook.sqlite").write_text("not a database, not even close " * 10)
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as bundle:
        bundle.writestr("é.py", CORRECT)
    (tmp_path / "bad.zip").write_bytes(
        (tmp_path / "bad.zip").read_bytes().replace("é".encode(), b"\xff\xfe")
    )
    code, err = batch(
        tmp_path / arguments[0], *arguments[1:], "--out", tmp_path / "o", capsys=capsys
    )
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("grade.py: ") and message in err


def test_exercise_selection_and_answered_exercises(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "psp.py").write_text((EXAMPLES / "psp_correct.py").read_text())
    (folder / "typed.txt").write_text("4a^3 e^(a^4+1)")
    out = tmp_path / "out"
    code, _ = batch(folder, "--out", out, capsys=capsys)
    assert code == 0  # each graded against what it answers
    assert [e.id for e in stored(out, "psp").result.exercises] == ["psp_charge"]
    code, _ = batch(folder, "--out", out, "--exercise", "product_rule_alpha", capsys=capsys)
    assert code == 1
    assert stored(out, "psp").result.exercises[0].status == "not_attempted"
    assert "only an expression exercise takes" in stored(out, "typed").problem


def test_notebooks_and_py_files_in_one_batch_each_graded_as_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The notebooks go to workers that preloaded the tutorial's libraries, the .py files
    # to others: the grades must be those of grading each hand-in on its own.
    folder = tmp_path / "class"
    folder.mkdir()
    handed_in = [
        EXAMPLES / "completed_tutorial.ipynb",
        STUDENT_NOTEBOOK,
        EXAMPLES / "product_rule_correct.py",
        EXAMPLES / "product_rule_chain_rule_forgotten.py",
    ]
    for path in handed_in:
        shutil.copy(path, folder)
    out = tmp_path / "out"
    code, err = batch(folder, "--out", out, "--workers", "2", capsys=capsys)
    assert code == 1, err
    everything = spec.load_all(spec.DEFAULT_COURSE)
    for path in handed_in:
        loaded = submission.load(path)
        alone = engine.grade(
            loaded, exercises_for(loaded, everything), answered_only=path.suffix == ".py"
        )
        in_batch = stored(out, path.stem).result
        assert in_batch is not None, path.name
        assert in_batch.to_dict()["exercises"] == alone.to_dict()["exercises"], path.name
    completed = stored(out, "completed_tutorial").result
    tutorial_1 = spec.of_assignment(everything, "W0D4_Tutorial1")
    assert [exercise.id for exercise in completed.exercises] == sorted(s.id for s in tutorial_1)
    assert (completed.score, completed.max_score) == (7.0, 9.0)


def test_hand_ins_using_the_tutorials_libraries_go_to_workers_that_preloaded_them() -> None:
    everything = spec.load_all(spec.DEFAULT_COURSE)
    product = [spec.find("product_rule_alpha")]
    warm = batch_module.WARM_LIBRARIES
    preloads = batch_module.libraries_to_preload
    assert preloads(submission.load(INSTRUCTOR_NOTEBOOK), everything) == warm
    assert preloads(submission.load(EXAMPLES / "chain_rule_sympy.py"), everything) == warm
    assert preloads(submission.load(EXAMPLES / "product_rule_correct.py"), product) == ()
    # Through the setup's lazy modules: `plt` is matplotlib.pyplot, imported on first use.
    plotting = submission.Submission(
        None, "plots.py", "code", (submission.CodeCell(0, "plt.plot(t, du_dt)", "plots.py"),), None
    )
    assert preloads(plotting, product) == warm


# --- Dask -------------------------------------------------------------------------------


def test_a_dask_cluster_grades_into_the_one_gradebook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    distributed = pytest.importorskip("distributed")
    folder = class_folder(tmp_path / "class")
    for name in ("hang.py", "forks.py", "reads_files.py", "crash.py"):
        (folder / name).unlink()
    out = tmp_path / "out"
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    ) as cluster:
        code, err = batch(folder, "--out", out, "--dask", cluster.scheduler_address, capsys=capsys)
        with distributed.Client(cluster) as client:  # the worker's process did the grading
            assert list(
                client.run(lambda: batch_module._worker_sandboxes is not None).values()
            ) == [True]
    assert code == 1, err
    graded = rows(out)
    assert {key: row["status"] for key, row in graded.items()} == {
        key: EXPECTED_STATUS[key] for key in graded
    }
    assert len(graded) == 6
    assert (out / "summary.html").is_file()


def test_an_unreachable_dask_scheduler_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr(batch_module, "DASK_CONNECT_SECONDS", 1)
    folder = many(tmp_path / "class", 1)
    code, err = batch(
        folder, "--out", tmp_path / "out", "--dask", "tcp://127.0.0.1:9", capsys=capsys
    )
    assert code == 2 and "cannot reach the Dask scheduler" in err


# --- the pieces ---------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_progress_bar_with_rate_and_eta() -> None:
    stream = Terminal()
    progress = Progress(4, stream)
    for _ in range(4):
        progress.advance(graded=True)
    progress.close()
    shown = stream.getvalue()
    assert "4/4" in shown and "student/s" in shown and "100%" in shown


def test_the_gradebook_keeps_records_whole_and_lists_them_lazily(tmp_path: Path) -> None:
    curve = Curve("", "t", [0.0, 1.0], [1.0, 2.0], [1.0, 3.0], [False, True])
    check = CheckResult("dv_dt", CheckStatus.FAILED, 0.0, 1.0, "off", evidence=[curve])
    exercise = ExerciseResult("product_rule_alpha", "Product rule", Status.FAILED, "", [check])
    record = StudentRecord(
        "ann", "Ann", ["ann.py"], SubmissionResult("ann.py", [exercise]), late=True, lms={"a": "1"}
    )
    book = Gradebook(tmp_path / "gradebook.sqlite")
    book.begin_run("class", resumed=False)
    book.save(record, fingerprint="f1", spec_hash="s1")
    book.save(
        StudentRecord("bob", "Bob", [], None, problem="empty"), fingerprint="f2", spec_hash="s1"
    )
    assert book.is_current("ann", "f1", "s1")
    assert not book.is_current("ann", "f1", "s2") and not book.is_current("ann", "f9", "s1")
    assert book.record("ann") == record  # plot data included
    listed = book.records()
    assert len(listed) == 2 and listed[1].problem == "empty"
    assert [r.key for r in listed] == ["ann", "bob"]
    assert listed[0].result.exercises[0].checks[0].evidence == []  # class outputs: no plots
    assert book.status_counts() == {"failed": 1, "not_graded": 1}
    assert not book.all_full_marks()
    book.close()


def test_the_first_grader_failure_is_the_first_graded_not_the_first_in_the_alphabet(
    tmp_path: Path,
) -> None:
    book = Gradebook(tmp_path / "gradebook.sqlite")
    book.begin_run("class", resumed=False)
    for key, problem in (("zed", "the grader failed: zebra"), ("amy", "the grader failed: ant")):
        book.save(
            StudentRecord(key, key, [], None, problem), fingerprint="", spec_hash="", retry=True
        )
    assert book.grader_failures() == (2, "the grader failed: zebra")
    book.close()


def test_text_that_no_file_can_hold_is_stored_as_replacement_characters(tmp_path: Path) -> None:
    check = CheckResult("dr_da", CheckStatus.FAILED, 0.0, 1.0, "you wrote '\ud800'")
    exercise = ExerciseResult("chain_rule", "Chain rule", Status.FAILED, "", [check])
    record = StudentRecord(
        "b", "b\udcffb", ["b\udcffb.py"], SubmissionResult("b\udcffb.py", [exercise]), "\udcff"
    )
    book = Gradebook(tmp_path / "gradebook.sqlite")
    book.begin_run("class", resumed=False)
    book.save(record, fingerprint="", spec_hash="")
    stored = book.record("b")
    book.close()
    assert (stored.student, stored.files, stored.problem) == ("b\ufffdb", ["b\ufffdb.py"], "\ufffd")
    assert stored.result.exercises[0].checks[0].feedback == "you wrote '\ufffd'"
