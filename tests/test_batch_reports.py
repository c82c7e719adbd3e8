"""The outputs of `grade.py batch`: per-student files, gradebook CSVs, the class summary and
the Canvas feedback zip, rendered from StudentRecords."""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from graders import reports, spec
from graders.lms import canvas
from graders.records import StudentRecord
from graders.reports import gradebook_csv, plots, student_page, summary, view
from graders.results import (
    CheckResult,
    CheckStatus,
    Curve,
    ExerciseResult,
    Status,
    SubmissionResult,
)

SCRIPT = "<script>alert(1)</script>"
RED_MARKER = re.compile(r'<circle class="miss"')
NOT_A_NUMBER = re.compile(r"\b(nan|inf)\b", re.IGNORECASE)
CHAIN_RULE_FORGOTTEN = """
du_dt = 1
dv_dt = np.exp(-t/tau)
df_dt = t * dv_dt + np.exp(-t/tau) * du_dt
"""
SPECS = [spec.find("product_rule_alpha"), spec.find("neuron_gain")]
CHECK_NAMES = {s.id: [check.name for check in s.checks] for s in SPECS}


# --- building records by hand ------------------------------------------------------------------


def _value_curve(wrong: range = range(10, 30), points: int = 100) -> Curve:
    x = np.linspace(0, 10, points)
    expected = -2 * np.exp(-x / 0.5)
    actual = expected.copy()
    actual[list(wrong)] += 1
    return Curve(
        "", "t", x.tolist(), expected.tolist(), actual.tolist(), (actual != expected).tolist()
    )


def _call_curve(number: int, *, wrong: bool) -> Curve:
    curve = _value_curve(range(0, 40) if wrong else range(0), points=40)
    curve.label, curve.x_name = f"with I = call{number}, a = 1.25", "I"
    return curve


def _check(
    name: str,
    status: CheckStatus = CheckStatus.PASSED,
    *,
    misconception: str | None = None,
    evidence: list[Curve] | None = None,
    hidden: bool = False,
    feedback: str = "",
) -> CheckResult:
    passed = status == CheckStatus.PASSED
    return CheckResult(
        name=name,
        status=status,
        score=1.0 if passed else 0.0,
        max_score=1.0,
        feedback=feedback or f"{name} feedback",
        misconception=misconception,
        hint=None if passed else f"{name} hint",
        hidden=hidden,
        evidence=evidence or [],
    )


def _exercise(exercise_id: str, status: Status = Status.PASSED, *checks: CheckResult):
    """An exercise of SPECS with the given checks; its other checks passed."""
    given = {check.name: check for check in checks}
    filled = [given.get(name) or _check(name) for name in CHECK_NAMES[exercise_id]]
    return ExerciseResult(exercise_id, exercise_id.replace("_", " "), status, "", filled)


def _product(status: Status = Status.PASSED, *checks: CheckResult) -> ExerciseResult:
    return _exercise("product_rule_alpha", status, *checks)


def _neuron(status: Status = Status.PASSED, *checks: CheckResult) -> ExerciseResult:
    return _exercise("neuron_gain", status, *checks)


def _record(key: str, *exercises: ExerciseResult, **fields) -> StudentRecord:
    result = SubmissionResult(f"{key}.py", list(exercises)) if exercises else None
    fields.setdefault("files", [f"{key}.py"])
    return StudentRecord(
        key=key, student=fields.pop("student", key.title()), result=result, **fields
    )


@pytest.fixture
def klass() -> list[StudentRecord]:
    """A class of six: every status, two shared mistakes, one hand-in that was not graded."""
    dv_wrong = _check("dv_dt", CheckStatus.FAILED, misconception="dv_dt_missing_inner_derivative")
    df_wrong = _check("df_dt", CheckStatus.FAILED, misconception="df_dt_from_dv_dt")
    return [
        _record("ann", _product(), _neuron(), duration=1.0),
        _record("bob", _product(Status.FAILED, dv_wrong, df_wrong), _neuron(), duration=2.0),
        _record(
            "cy",
            _product(Status.FAILED, dv_wrong),
            _neuron(
                Status.ERROR, _check("rate", CheckStatus.ERROR), _check("gain", CheckStatus.ERROR)
            ),
            duration=3.0,
        ),
        _record(
            "dee",
            _product(
                Status.NOT_ATTEMPTED,
                *[_check(n, CheckStatus.FAILED) for n in ("du_dt", "dv_dt", "df_dt")],
            ),
            _neuron(Status.TIMEOUT, _check("gain", CheckStatus.FAILED)),
            duration=4.0,
        ),
        _record(
            "eve",
            _product(),
            _neuron(
                Status.MEMORY_LIMIT, *[_check(n, CheckStatus.FAILED) for n in ("rate", "gain")]
            ),
            duration=5.0,
            late=True,
        ),
        _record("fay", problem="cannot read fay.ipynb: not JSON", duration=0.0),
    ]


def _svgs(html: str) -> list[str]:
    return re.findall(r"<svg.*?</svg>", html, re.DOTALL)


def _md_rows(markdown: str) -> list[list[str]]:
    """The cells of every Markdown table row."""
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in markdown.splitlines()
        if line.startswith("| ")
    ]


def _md_row(markdown: str, first_cell: str) -> list[str]:
    return next(row for row in _md_rows(markdown) if row[0] == first_cell)


def _rate(passed: int, total: int) -> str:
    return f"{passed}/{total} ({passed / total:.0%})"


# --- per-student files -------------------------------------------------------------------------


@pytest.mark.sandbox
def test_real_grading_json_is_the_engine_report_and_html_plots_the_failed_checks(
    grade_code, tmp_path
):
    result = grade_code("product_rule_alpha", CHAIN_RULE_FORGOTTEN)
    record = StudentRecord("s1", "Student One", ["cell.py"], result)
    out = tmp_path / "out"

    student_page.write_student_files(record, out)

    assert (out / "s1.json").read_text() == reports.to_json(result) + "\n"
    html = (out / "s1.html").read_text()
    checks = {check.name: check for check in result.exercises[0].checks}
    assert checks["du_dt"].status == CheckStatus.PASSED
    svgs = _svgs(html)
    assert len(svgs) == 2  # dv_dt and df_dt failed; a passed check needs no picture
    mismatches = sum(checks["dv_dt"].evidence[0].mismatch)
    assert 0 < mismatches <= 100
    assert len(RED_MARKER.findall(svgs[0])) == mismatches  # one red marker per wrong point
    assert html.index(svgs[0]) > html.index("dv_dt_missing_inner_derivative")


def test_problem_record_json_has_the_report_keys_score_zero_and_the_problem(klass, tmp_path):
    record = klass[-1]
    student_page.write_student_files(record, tmp_path)

    data = json.loads((tmp_path / "fay.json").read_text())
    graded = json.loads(reports.to_json(klass[0].result))
    assert set(data) == set(graded) | {"problem"}
    assert data["score"] == 0 and data["exercises"] == []
    assert data["problem"] == "cannot read fay.ipynb: not JSON"
    html = (tmp_path / "fay.html").read_text()
    assert "Could not be graded" in html and "cannot read fay.ipynb: not JSON" in html
    assert "<svg" not in html


def test_every_status_word_notes_and_late_flag_on_the_page(klass, tmp_path):
    words = []
    for record in klass:
        student_page.write_student_files(record, tmp_path)
        words.append((tmp_path / f"{record.key}.html").read_text())
    pages = "\n".join(words)
    for status in Status:
        assert f'">{view.STATUS_WORDS[status]}</span>' in pages
    late_page = student_page.student_html(klass[4])
    assert 'class="badge tone-warn">late</span>' in late_page
    assert ">late</span>" not in student_page.student_html(klass[0])
    noted = _record("gus", _product(), notes=["3 files handed in; graded the newest"])
    assert "3 files handed in; graded the newest" in student_page.student_html(noted)


def test_hidden_check_has_no_plot_and_no_feedback():
    hidden = _check(
        "gain",
        CheckStatus.FAILED,
        hidden=True,
        feedback="SECRET expected values",
        misconception="SECRET_MISTAKE",
        evidence=[_call_curve(1, wrong=True)],
    )
    shown = _check("rate", CheckStatus.FAILED, evidence=[_call_curve(1, wrong=True)])
    html = student_page.student_html(_record("hid", _neuron(Status.FAILED, shown, hidden)))

    assert "SECRET" not in html
    assert "gain" in html and "(hidden)" in html
    assert len(_svgs(html)) == 1  # rate's only


def test_function_check_plots_the_first_call_and_the_first_failing_calls():
    calls = [_call_curve(number, wrong=number in (2, 4, 5, 6, 7)) for number in range(1, 8)]
    gain = _check("gain", CheckStatus.FAILED, evidence=calls)
    html = student_page.student_html(_record("fn", _neuron(Status.FAILED, gain)))

    captions = re.findall(r"<figcaption>(.*?)</figcaption>", html)
    assert len(_svgs(html)) == plots.PLOTS_PER_CHECK == len(captions)
    assert [caption.split(",")[0] for caption in captions] == [
        "with I = call1",
        "with I = call2",
        "with I = call4",
        "with I = call5",
    ]
    assert captions[0].endswith("matches at all 40 points")
    assert captions[1].endswith("differs at 40 of 40 points")


def test_unreadable_and_misshapen_answers_are_drawn_with_a_caption_saying_so():
    full = _value_curve()
    unreadable = Curve("", "t", full.x, full.expected, None)
    short = Curve("", "t", full.x, full.expected, full.actual[:50])
    checks = [
        _check("dv_dt", CheckStatus.FAILED, evidence=[unreadable]),
        _check("df_dt", CheckStatus.FAILED, evidence=[short]),
    ]
    html = student_page.student_html(_record("odd", _product(Status.FAILED, *checks)))

    assert len(_svgs(html)) == 2
    assert "could not be read as numbers" in html
    assert "50 values where 100 are expected" in html


def test_long_curves_stay_small_and_pages_are_reproducible_with_unique_ids():
    long = _value_curve(range(0, 20_000, 2), points=20_000)
    long.actual[5] = math.inf  # drawn at the expected value, not breaking the axes
    record = _record(
        "big", _product(Status.FAILED, _check("dv_dt", CheckStatus.FAILED, evidence=[long]))
    )
    record.result.exercises[0].checks[2] = _check(
        "df_dt", CheckStatus.FAILED, evidence=[_value_curve()]
    )

    html = student_page.student_html(record)

    svgs = _svgs(html)
    assert len(svgs) == 2 and all(len(svg) < 60_000 for svg in svgs)
    # 10,000 wrong points: one path of (at most MAX_PLOT_POINTS) squares, said in the caption
    assert not NOT_A_NUMBER.search(svgs[0])
    assert not RED_MARKER.search(svgs[0]) and svgs[0].count('class="misses"') == 1
    assert len(RED_MARKER.findall(svgs[1])) == 20
    squares = re.search(r'class="misses" d="([^"]*)"', svgs[0]).group(1)
    assert squares.count("z") == plots.MAX_PLOT_POINTS
    assert "marked by small squares, 500 of them evenly spread" in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    assert student_page.student_html(record) == html


def test_gaps_break_the_lines_and_constant_or_single_point_curves_get_a_range():
    gappy = _value_curve(range(0), points=10)
    gappy.actual[3] = gappy.actual[6] = math.nan  # three pieces, the middle ones 2 points
    gappy.mismatch[3] = gappy.mismatch[6] = True
    constant = Curve("", "t", [0.0, 1.0, 2.0], [5.0] * 3, [5.0, 5.0, 6.0], [False, False, True])
    single = Curve("", "t", [2.0], [3.0], [math.inf], [True])
    checks = [
        _check(name, CheckStatus.FAILED, evidence=[curve])
        for name, curve in (("du_dt", single), ("dv_dt", gappy), ("df_dt", constant))
    ]
    html = student_page.student_html(_record("gap", _product(Status.FAILED, *checks)))

    svgs = _svgs(html)
    assert len(svgs) == 3
    for svg in svgs:
        assert not NOT_A_NUMBER.search(svg)
        numbers = re.findall(r'(?:x|y|cx|cy)="(-?[0-9.]+)"', svg)
        assert numbers and all(-1 <= float(number) <= 560 for number in numbers)
    actual_lines = [re.findall(r'd="([^"]*)"[^>]*stroke="#0969da"', svg)[0] for svg in svgs]
    assert actual_lines[0] == ""  # the student's only value is not finite: no line ...
    assert len(RED_MARKER.findall(svgs[0])) == 1  # ... but a marker at the expected value
    assert ">3<" in svgs[0] and ">2<" in svgs[0]  # a single point: a range around it
    assert actual_lines[1].count("M") == 3
    assert ">5.5<" in svgs[2] and ">6.08<" in svgs[2]  # padded range, 3 significant digits


def test_rendering_a_student_page_imports_no_matplotlib():
    code = (
        "import sys\n"
        "sys.path.insert(0, 'tests')\n"
        "from test_batch_reports import _check, _product, _record, _value_curve\n"
        "from graders.reports import student_page\n"
        "from graders.results import CheckStatus, Status\n"
        "check = _check('dv_dt', CheckStatus.FAILED, evidence=[_value_curve()])\n"
        "html = student_page.student_html(_record('m', _product(Status.FAILED, check)))\n"
        "assert '<svg' in html\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'matplotlib'))\n"
    )
    root = Path(__file__).resolve().parent.parent
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == "[]"


def test_student_text_is_escaped_everywhere_on_the_page(tmp_path):
    check = _check(
        "dv_dt", CheckStatus.FAILED, feedback=f"Your code: {SCRIPT}", evidence=[_value_curve()]
    )
    result = SubmissionResult(f"{SCRIPT}.py", [_product(Status.FAILED, check)], notices=[SCRIPT])
    record = StudentRecord(
        "x", SCRIPT, [f"{SCRIPT}.py"], result, notes=[f"graded {SCRIPT}"], late=True
    )
    problem = StudentRecord("y", SCRIPT, [SCRIPT], None, problem=f"cannot read {SCRIPT}")

    for item in (record, problem):
        student_page.write_student_files(item, tmp_path)
        html = (tmp_path / f"{item.key}.html").read_text()
        assert SCRIPT not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- gradebook CSV -----------------------------------------------------------------------------


def _read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def test_gradebook_has_a_row_per_student_with_exercise_scores_total_and_status(klass, tmp_path):
    path = tmp_path / "grades.csv"
    gradebook_csv.write_gradebook_csv(klass, SPECS, path)

    rows = _read_csv(path)
    assert rows[0] == [
        "student",
        "key",
        "product_rule_alpha",
        "neuron_gain",
        "total",
        "max",
        "status",
        "late",
        "problem",
    ]
    by_key = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert list(by_key) == [record.key for record in klass]
    assert by_key["bob"] == {
        "student": "Bob",
        "key": "bob",
        "product_rule_alpha": "1",
        "neuron_gain": "2",
        "total": "3",
        "max": "5",
        "status": "1 passed, 1 failed",
        "late": "no",
        "problem": "",
    }
    assert by_key["dee"]["status"] == "1 not attempted, 1 timed out"
    assert by_key["eve"]["late"] == "yes"
    # Not graded: no score at all, rather than a zero.
    assert by_key["fay"]["total"] == by_key["fay"]["product_rule_alpha"] == ""
    assert by_key["fay"]["status"] == "not graded"
    assert by_key["fay"]["problem"] == "cannot read fay.ipynb: not JSON"


@pytest.mark.parametrize("layout", [gradebook_csv, canvas], ids=["default", "canvas"])
def test_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(tmp_path, layout):
    names = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1:A2)", "\tTab", "\rReturn"]
    records = [
        _record(f"k{number}", _product(), _neuron(), student=name, lms={"user_id": str(number)})
        for number, name in enumerate(names)
    ]
    path = tmp_path / "grades.csv"
    layout.write_gradebook_csv(records, SPECS, path)

    students = [row[0] for row in _read_csv(path)[2 if layout is canvas else 1 :]]
    assert students == ["'" + name for name in names]


def test_canvas_gradebook_layout_with_ids(klass, tmp_path):
    lms = {
        "user_id": "1234",
        "sis_user_id": "S001",
        "sis_login_id": "jdoe",
        "section": "MATH 151-001",
        "assignment_id": "48213",
        "assignment_title": "W0D4 Tutorial 1",
    }
    klass[1].lms = lms
    klass[1].student = "Doe, Jane"
    path = tmp_path / "canvas.csv"
    canvas.write_gradebook_csv(klass, SPECS, path)

    rows = _read_csv(path)
    assert rows[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "W0D4 Tutorial 1 (48213)",
    ]
    assert rows[1] == ["    Points Possible", "", "", "", "", "5"]
    assert rows[3] == ["Doe, Jane", "1234", "S001", "jdoe", "MATH 151-001", "3"]
    assert rows[2] == ["Ann", "", "", "", "", "5"]  # no ids: Canvas matches by name
    assert rows[-1] == ["Fay", "", "", "", "", ""]  # not graded: no score
    assert len(rows) == 2 + len(klass)


def test_canvas_gradebook_without_assignment_id_names_the_course(klass, tmp_path):
    path = tmp_path / "canvas.csv"
    canvas.write_gradebook_csv(klass, SPECS, path)

    assert _read_csv(path)[0][-1] == "Neuromatch Academy W0D4 Tutorial 1"


# --- summary -----------------------------------------------------------------------------------


def test_summary_histogram_counts_the_graded_totals(klass, tmp_path):
    summary.write_summary(klass, SPECS, tmp_path, elapsed=90.0)
    markdown = (tmp_path / "summary.md").read_text()

    totals = [record.result.score for record in klass if record.result is not None]
    expected = Counter(math.floor(total) for total in totals)
    maximum = sum(check.points for s in SPECS for check in s.checks)
    for points in range(int(maximum) + 1):
        assert _md_row(markdown, str(points))[1] == str(expected[points])
    html = (tmp_path / "summary.html").read_text()
    bars = re.findall(r"<title>total (\d+): (\d+)</title>", html)
    assert {int(p): int(n) for p, n in bars} == {p: expected[p] for p in range(int(maximum) + 1)}
    assert "6 students" in markdown and "5 of 6 hand-ins graded" in markdown


def test_summary_pass_rates_per_exercise_and_check(klass, tmp_path):
    summary.write_summary(klass, SPECS, tmp_path, elapsed=90.0)
    rows = _md_rows((tmp_path / "summary.md").read_text())

    graded = [record.result for record in klass if record.result is not None]
    for exercise_spec in SPECS:
        exercises = [e for r in graded for e in r.exercises if e.id == exercise_spec.id]
        statuses = Counter(e.status for e in exercises)
        assert [
            f"{exercise_spec.title} (`{exercise_spec.id}`)",
            *[str(statuses[status]) for status in Status],
            _rate(statuses[Status.PASSED], len(exercises)),
        ] in rows
        for check in exercise_spec.checks:
            passed = Counter(c.status for e in exercises for c in e.checks if c.name == check.name)
            rate = _rate(passed[CheckStatus.PASSED], len(exercises))
            assert [f"`{exercise_spec.id}`", check.name.replace("_", "\\_"), rate] in rows


def test_summary_misconceptions_with_counts_and_their_check(klass, tmp_path):
    summary.write_summary(klass, SPECS, tmp_path, elapsed=90.0)
    markdown = (tmp_path / "summary.md").read_text()

    found = Counter(
        (check.misconception, check.name)
        for record in klass
        if record.result
        for exercise in record.result.exercises
        for check in exercise.checks
        if check.misconception
    )
    assert found == {
        ("dv_dt_missing_inner_derivative", "dv_dt"): 2,
        ("df_dt_from_dv_dt", "df_dt"): 1,
    }
    graded = sum(record.result is not None for record in klass)  # each has both exercises
    for (mistake, check), count in found.items():
        row = _md_row(markdown, f"`{mistake}`")
        assert row[1:] == [
            check.replace("_", "\\_") + " (`product_rule_alpha`)",
            str(count),
            f"{count / graded:.0%}",
        ]
    assert markdown.index("dv_dt_missing") < markdown.index("df_dt_from_dv_dt")  # most first


def test_summary_lists_errors_timeouts_and_ungraded_with_links_and_timing(klass, tmp_path):
    summary.write_summary(klass, SPECS, tmp_path, elapsed=90.0)
    html = (tmp_path / "summary.html").read_text()
    markdown = (tmp_path / "summary.md").read_text()

    links = re.findall(r'<a href="([^"]+)">', html)
    assert links == ["cy.html", "dee.html", "eve.html", "fay.html"]
    assert "neuron_gain: timed out" in html and "neuron_gain: memory limit" in html
    assert "not graded: cannot read fay.ipynb: not JSON" in html
    assert "1 min 30 s" in markdown and "15 s per submission" in markdown
    assert "2.5 s on average" in markdown  # mean of the durations 1..5 and 0

    summary.write_summary(klass, SPECS, tmp_path, elapsed=0.09)  # a warm pool's pace
    assert "15 ms per submission" in (tmp_path / "summary.md").read_text()


def test_summary_escapes_student_text(tmp_path):
    records = [_record("x", problem=f"bad {SCRIPT}", student=SCRIPT, files=[SCRIPT])]
    summary.write_summary(records, SPECS, tmp_path, elapsed=1.0)
    for name in ("summary.html", "summary.md"):
        assert SCRIPT not in (tmp_path / name).read_text()


# --- Canvas feedback zip -----------------------------------------------------------------------


def test_canvas_feedback_zip_names_match_the_downloaded_submissions(tmp_path):
    records = [
        _record(
            "a",
            _product(),
            lms={"user_id": "12345", "filename": "smithjohn_12345_678901_calc_hw3.py"},
        ),
        _record(
            "b",
            _product(),
            late=True,
            lms={
                "user_id": "23456",
                "submission_id": "678902",
                "name": "O'Neil, Mary-Kate",
                "original_name": "cell.py",
            },
        ),
        _record("c", _product(), lms={"user_id": "34567", "submission_id": "678903"}),
        _record("d", _product(), lms={"filename": f"evil_45678_678904_{SCRIPT}.py"}),
        _record("folder", _product()),  # no Canvas ids
        _record("text", _product(), lms={"user_id": "56789", "filename": "roe_56789_text.html"}),
        _record("anon", _product(), lms={"filename": "anon_x7Kq2_678905_calc_hw3.py"}),
    ]
    path = tmp_path / "feedback.zip"
    canvas.write_feedback_zip(records, path)

    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        page = archive.read(names[0]).decode()
    assert names == [
        "smithjohn_12345_678901_calc_hw3.html",
        "oneilmarykate_LATE_23456_678902_cell.html",
        "34567_678903_feedback.html",
        "evil_45678_678904__script_alert(1)_script_.html",
    ]
    assert page == student_page.student_html(records[0])
