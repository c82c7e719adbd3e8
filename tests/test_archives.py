"""Reading a class's hand-ins: layouts, newest-file-wins, keys, and hostile archives."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from graders.archives import ArchiveLimits, Input, InputError
from graders.handins import Entry, HandIn, MemberError, safe_key

DATE = (2024, 3, 1, 12, 0, 0)


def make_zip(path: Path, entries: dict[str, bytes], dates: dict[str, tuple] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name, (dates or {}).get(name, DATE)), data)
    return path


def handins(path: Path, **limits: int) -> tuple[Input, dict[str, HandIn]]:
    source = Input(path, ArchiveLimits(**limits))
    return source, {handin.key: handin for handin in source.handins}


def patch_flags(data: bytes, *, set_bits: int = 0, clear_bits: int = 0) -> bytes:
    """Change the general-purpose flags of every local and central header of a zip."""
    patched = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = patched.find(signature)
        while start != -1:
            flags = int.from_bytes(patched[start + offset : start + offset + 2], "little")
            flags = (flags | set_bits) & ~clear_bits
            patched[start + offset : start + offset + 2] = flags.to_bytes(2, "little")
            start = patched.find(signature, start + 4)
    return bytes(patched)


def patch_sizes(data: bytes, size: int) -> bytes:
    """Make every header claim ``size`` uncompressed bytes (a lying zip bomb)."""
    patched = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = patched.find(signature)
        while start != -1:
            patched[start + offset : start + offset + 4] = size.to_bytes(4, "little")
            start = patched.find(signature, start + 4)
    return bytes(patched)


# --- layouts -------------------------------------------------------------------------


def test_a_folder_gives_one_hand_in_per_file_or_sub_folder(tmp_path: Path) -> None:
    (tmp_path / "alice.py").write_text("x = 1")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "work.ipynb").write_text("{}")
    (tmp_path / ".DS_Store").write_text("junk")
    source, found = handins(tmp_path)
    assert source.layout == "plain"
    assert sorted(found) == ["alice", "bob"]
    assert found["alice"].filename == "alice.py"
    assert found["bob"].files == ["bob/work.ipynb"]
    assert source.read(found["alice"].chosen) == b"x = 1"


def test_a_zip_with_one_top_folder_is_seen_from_inside(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "class.zip", {"class/alice.py": b"a", "class/bob/b.py": b"b"})
    with Input(path) as source:
        assert [h.student for h in source.handins] == ["alice", "bob"]
        assert source.read(source.handins[1].chosen) == b"b"


def test_the_newest_file_of_a_folder_wins_and_the_notes_say_so(tmp_path: Path) -> None:
    folder = tmp_path / "carol"
    folder.mkdir()
    for name, mtime in (("first.py", 1_000), ("final.py", 3_000), ("draft.ipynb", 2_000)):
        (folder / name).write_text(name)
        os.utime(folder / name, (mtime, mtime))
    (folder / "notes.pdf").write_text("not gradable")
    _, found = handins(tmp_path)
    carol = found["carol"]
    assert carol.filename == "final.py"
    assert len(carol.files) == 4
    assert carol.notes == ["3 gradable files handed in; graded the newest, final.py"]


def test_the_newest_zip_entry_wins_by_its_date(tmp_path: Path) -> None:
    entries = {"dan/old.py": b"old", "dan/new.py": b"new"}
    dates = {"dan/old.py": (2024, 3, 2, 0, 0, 0), "dan/new.py": (2024, 3, 1, 0, 0, 0)}
    path = make_zip(tmp_path / "in.zip", {**entries, "erin.py": b"e"}, dates)
    source, found = handins(path)
    assert found["dan"].filename == "old.py"  # the later date, whatever the name
    assert source.read(found["dan"].chosen) == b"old"


def test_a_student_without_a_gradable_file_gets_a_problem(tmp_path: Path) -> None:
    (tmp_path / "frank").mkdir()
    (tmp_path / "frank" / "answers.docx").write_text("?")
    _, found = handins(tmp_path)
    assert found["frank"].chosen is None
    assert "no readable .py, .ipynb, .txt file" in found["frank"].problem
    assert "answers.docx" in found["frank"].problem


def test_canvas_names_give_students_ids_late_flags_and_upload_order(tmp_path: Path) -> None:
    entries = {
        "smithjohn_12345_678901_calc.py": b"first",
        "smithjohn_12345_678999_calc-1.py": b"second",
        "doejane_LATE_23456_678902_psp.py": b"late",
        "oneilmarykate_late_34567_678903_gain.py": b"old canvas",
        "anon_x7Kq2_678904_calc.py": b"anonymous",
        "leeann_45678_text.html": b"<p>text</p>",
    }
    source, found = handins(make_zip(tmp_path / "course-hw submissions.zip", entries))
    assert source.layout == "canvas"
    assert sorted(found) == [
        "anon_x7Kq2",
        "doejane_23456",
        "leeann_45678",
        "oneilmarykate_34567",
        "smithjohn_12345",
    ]
    john = found["smithjohn_12345"]
    assert source.read(john.chosen) == b"second"
    assert john.filename == "calc-1.py"
    assert john.lms == {
        "user_id": "12345",
        "name": "smithjohn",
        "filename": "smithjohn_12345_678999_calc-1.py",
        "submission_id": "678999",
        "original_name": "calc-1.py",
    }
    assert found["doejane_23456"].late and found["oneilmarykate_34567"].late
    assert not john.late
    assert found["anon_x7Kq2"].lms["anonymous_id"] == "x7Kq2"
    assert found["leeann_45678"].chosen is None  # a text entry, not a file


GRADESCOPE_YML = """\
submission_101:
  :submitters:
  - :name: Jane Doe
    :sid: '123'
    :email: jane@example.edu
  :created_at: 2024-01-02 10:00:00.000000000 -08:00
  :score: 0.0
submission_102:
  :submitters:
  - :name: Jane Doe
    :sid: '123'
    :email: jane@example.edu
  :created_at: 2024-01-03 09:00:00.000000000 -08:00
submission_103:
  :submitters:
  - :name: Ana Lim
    :sid: '456'
    :email: ana@example.edu
  - :name: Bo Chen
    :sid: '789'
    :email: bo@example.edu
  :created_at: '2024-01-02T11:00:00-08:00'
"""


def test_gradescope_export_names_submitters_and_keeps_the_latest(tmp_path: Path) -> None:
    entries = {
        "assignment_9_export/submission_metadata.yml": GRADESCOPE_YML.encode(),
        "assignment_9_export/submission_101/hw.py": b"jane first",
        "assignment_9_export/submission_102/hw.py": b"jane latest",
        "assignment_9_export/submission_103/hw.ipynb": b"{}",
    }
    source, found = handins(make_zip(tmp_path / "export.zip", entries))
    assert source.layout == "gradescope"
    assert sorted(found) == ["Ana_Lim_Bo_Chen_456_789", "Jane_Doe_123"]
    jane = found["Jane_Doe_123"]
    assert source.read(jane.chosen) == b"jane latest"
    assert jane.lms == {"submission_id": "102", "sid": "123", "email": "jane@example.edu"}
    assert jane.notes == ["2 submissions; graded the latest, submission_102"]
    assert found["Ana_Lim_Bo_Chen_456_789"].student == "Ana Lim, Bo Chen"


def test_gradescope_folders_with_a_metadata_json_each(tmp_path: Path) -> None:
    meta = b'{"id": 7, "created_at": "2024-01-02T10:00:00-08:00", "users": [{"name": "Kim Li"}]}'
    entries = {"submission_7/hw.py": b"x", "submission_7/submission_metadata.json": meta}
    source, found = handins(make_zip(tmp_path / "export.zip", entries))
    assert source.layout == "gradescope"
    assert list(found) == ["Kim_Li_7"]
    assert found["Kim_Li_7"].files == ["submission_7/hw.py"]


def test_unreadable_gradescope_metadata_is_a_warning_not_the_end(tmp_path: Path) -> None:
    entries = {"submission_metadata.yml": b"- [unbalanced", "submission_5/hw.py": b"x"}
    source, found = handins(make_zip(tmp_path / "export.zip", entries))
    assert list(found) == ["submission_5"]
    assert "submission_metadata.yml ignored" in source.warnings[0]


def test_keys_are_file_name_safe_and_unique(tmp_path: Path) -> None:
    for name in ("José Núñez.py", "jose nunez.py", "con.py", "日本.py", "summary.py"):
        (tmp_path / name).write_text("x")
    keys = [handin.key for handin in Input(tmp_path).handins]
    assert len(set(keys)) == len(keys) == 5
    for key in keys:
        assert key == safe_key(key) and "/" not in key and key.isascii()
    # summary.html is the class summary's; con is a device name on Windows.
    assert sorted(keys) == ["Jose_Nunez", "con_", "jose_nunez-2", "student", "summary-2"]
    assert safe_key("../../etc/passwd") == "etc_passwd"


# --- hostile inputs -------------------------------------------------------------------


def test_entries_leaving_the_folder_or_absolute_are_refused_and_reported(tmp_path: Path) -> None:
    entries = {
        "../evil.py": b"x",
        "good/../../evil.py": b"x",
        "/etc/evil.py": b"x",
        "C:\\evil.py": b"x",
        "..\\evil.py": b"x",
        "alice.py": b"ok",
    }
    source, found = handins(make_zip(tmp_path / "in.zip", entries))
    assert list(found) == ["alice"]
    assert len(source.warnings) == 5
    assert any("outside" in warning for warning in source.warnings)
    assert any("absolute" in warning for warning in source.warnings)
    assert not (tmp_path.parent / "evil.py").exists()


def test_a_symlink_entry_is_refused_with_a_note_for_its_student(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("mallory/solution.py", DATE)
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = tmp_path / "in.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(link, "/work/main/reference/psp_charge.py")
        archive.writestr("alice.py", "x = 1")
    source, found = handins(path)
    mallory = found["mallory"]
    assert mallory.chosen is None
    assert mallory.notes == [
        "mallory/solution.py is a symbolic link (refused: it could point anywhere)"
    ]
    assert "no readable" in mallory.problem
    refused = Entry("mallory/solution.py", ("mallory", "solution.py"), 0.0, 10, "a link")
    with pytest.raises(MemberError, match="a link"):
        source.read(refused)


def test_symlinks_in_a_folder_are_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.py"
    secret.write_text("answer = 42")
    classroom = tmp_path / "class"
    (classroom / "mallory").mkdir(parents=True)
    (classroom / "mallory" / "hw.py").symlink_to(secret)
    (classroom / "trudy.py").symlink_to(secret)
    (classroom / "eve").symlink_to(tmp_path, target_is_directory=True)
    _, found = handins(classroom)
    assert all(handin.chosen is None for handin in found.values())
    assert "symbolic link" in found["mallory"].notes[0]


def test_a_member_over_its_declared_size_limit_is_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "in.zip", {"big.py": b"#" * 5000, "small.py": b"x"})
    source, found = handins(path, member_bytes=1000)
    with pytest.raises(MemberError, match="too large"):
        source.read(found["big"].chosen)
    assert source.read(found["small"].chosen) == b"x"


def test_an_archive_declaring_too_much_in_total_is_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "in.zip", {f"s{i}.py": b"0" * 5000 for i in range(3)})
    with pytest.raises(InputError, match="zip bomb"):
        Input(path, ArchiveLimits(total_bytes=10_000))


def test_a_bomb_that_lies_about_its_size_is_cut_off(tmp_path: Path) -> None:
    real = make_zip(tmp_path / "real.zip", {"bomb.py": b"\0" * 2_000_000}).read_bytes()
    path = tmp_path / "bomb.zip"
    path.write_bytes(patch_sizes(real, 100))  # claims 100 bytes, expands to 2 MB
    source, found = handins(path, member_bytes=1000)
    with pytest.raises(MemberError, match=r"bomb\.py"):
        source.read(found["bomb"].chosen)
    assert source._read_total <= 1000 + 64 * 1024  # stopped reading at the limit


def test_too_many_members_are_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "in.zip", {f"s{i}.py": b"x" for i in range(6)})
    with pytest.raises(InputError, match="6 entries, more than the 5 allowed"):
        Input(path, ArchiveLimits(members=5))
    folder = tmp_path / "folder"
    folder.mkdir()
    for i in range(6):
        (folder / f"s{i}.py").write_text("x")
    with pytest.raises(InputError, match="more than 5 files"):
        Input(folder, ArchiveLimits(members=5))


def test_a_name_flagged_utf8_that_is_not_refuses_the_archive(tmp_path: Path) -> None:
    good = make_zip(tmp_path / "good.zip", {"é.py": b"x"}).read_bytes()
    path = tmp_path / "bad.zip"
    path.write_bytes(good.replace("é".encode(), b"\xff\xfe"))
    with pytest.raises(InputError, match="not valid UTF-8"):
        Input(path)


def test_unflagged_names_are_utf8_when_they_can_be_else_cp437(tmp_path: Path) -> None:
    flagged = make_zip(tmp_path / "a.zip", {"José.py": b"x"}).read_bytes()
    path = tmp_path / "utf8-without-flag.zip"
    path.write_bytes(patch_flags(flagged, clear_bits=0x800))
    assert [h.student for h in Input(path).handins] == ["José"]
    cp437 = flagged.replace("é".encode(), b"\x94\x84")  # not UTF-8; cp437 for "öä"
    path.write_bytes(patch_flags(cp437, clear_bits=0x800))
    assert [h.student for h in Input(path).handins] == ["Josöä"]


def test_control_characters_in_names_are_refused(tmp_path: Path) -> None:
    source, found = handins(make_zip(tmp_path / "in.zip", {"a\x1b[2J.py": b"x", "b.py": b"y"}))
    assert list(found) == ["b"]
    assert "control characters" in source.warnings[0]


def test_a_damaged_member_is_a_member_error(tmp_path: Path) -> None:
    data = bytearray(make_zip(tmp_path / "a.zip", {"alice.py": b"x = 1\n" * 200}).read_bytes())
    data[40:60] = b"\xff" * 20  # inside the compressed bytes
    path = tmp_path / "damaged.zip"
    path.write_bytes(bytes(data))
    source, found = handins(path)
    with pytest.raises(MemberError, match="damaged"):
        source.read(found["alice"].chosen)


def test_not_a_zip_or_missing_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="not a readable folder or zip"):
        Input(tmp_path / "notes.txt")
    with pytest.raises(InputError, match="no such file or folder"):
        Input(tmp_path / "missing")


def test_the_output_folder_inside_the_input_is_not_a_student(tmp_path: Path) -> None:
    (tmp_path / "alice.py").write_text("x")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "alice.json").write_text("{}")
    assert [h.key for h in Input(tmp_path, exclude=tmp_path / "out").handins] == ["alice"]


def test_a_canvas_file_name_cannot_claim_another_students_ids(tmp_path: Path) -> None:
    entries = {
        "mallory_1001_2001_X_late_1002_text.html": b"claims 1002",
        "mallory_1001_2002_y_1002_3002_z.py": b"claims 1002 and an attachment",
        "victim_1002_2003_answer.py": b"the real 1002",
    }
    source, found = handins(make_zip(tmp_path / "submissions.zip", entries))
    assert source.layout == "canvas"
    assert sorted(found) == ["mallory_1001", "victim_1002"]
    assert found["mallory_1001"].files == sorted(entries)[:2]
    assert found["mallory_1001"].lms["user_id"] == "1001" and not found["mallory_1001"].late
    assert found["mallory_1001"].filename == "y_1002_3002_z.py"
    assert found["victim_1002"].files == ["victim_1002_2003_answer.py"]


def test_an_upload_named_text_html_is_a_file_not_a_text_entry(tmp_path: Path) -> None:
    _, found = handins(make_zip(tmp_path / "s.zip", {"smith_1001_2001_text.html": b"x"}))
    assert found["smith_1001"].lms["user_id"] == "1001"


def test_a_file_name_that_is_not_utf8_is_graded_with_a_note(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "ann.py").write_bytes(b"x = 1")
    os.mkdir(os.path.join(os.fsencode(folder), b"b\xf6b"))
    with open(os.path.join(os.fsencode(folder), b"b\xf6b", b"h\xe9.py"), "wb") as file:
        file.write(b"x = 2")
    source, found = handins(folder)
    bob = found["bb"]
    assert bob.student == "b\ufffdb" and bob.files == ["b\ufffdb/h\ufffd.py"]
    assert bob.filename == "h\ufffd.py" and source.read(bob.chosen) == b"x = 2"
    assert bob.notes == [
        "b\ufffdb/h\ufffd.py: its name is not valid UTF-8; the bytes that are not show as \ufffd"
    ]
    assert found["ann"].notes == []


@pytest.mark.parametrize(
    "limits", [ArchiveLimits(members=1), ArchiveLimits(total_bytes=1)], ids=["members", "size"]
)
def test_an_archive_refused_on_opening_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limits: ArchiveLimits
) -> None:
    opened: list[zipfile.ZipFile] = []

    class Tracked(zipfile.ZipFile):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            opened.append(self)

    path = make_zip(tmp_path / "in.zip", {"a.py": b"x = 1", "b.py": b"x = 2"})
    monkeypatch.setattr(zipfile, "ZipFile", Tracked)
    with pytest.raises(InputError):
        Input(path, limits)
    assert len(opened) == 1 and opened[0].fp is None
