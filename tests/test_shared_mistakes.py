"""Wrong answers a class shares (#11): fingerprints robust to float noise, the groups of a
batch with their diagnosis and plot, the `mistakes:` entry to paste, `grade.py mistakes`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO, run_cli
from graders import cli, engine, spec, submission
from graders.checks.fingerprint import RESOLUTION, fingerprint
from graders.records import StudentRecord
from graders.reference import reference_cases
from graders.reports import summary
from graders.reports.groups import SharedAnswers
from graders.results import (
    CheckResult,
    CheckStatus,
    Curve,
    ExerciseResult,
    Status,
    SubmissionResult,
)

PSP_SPEC = spec.find("psp_charge")
AREAS = next(check for check in PSP_SPEC.checks if check.name == "rectangle_areas")
T = np.arange(0, 10, 0.1)
PSP = T * np.exp(-(T - 1))


# --- fingerprints -------------------------------------------------------------------------------


def _print(value: object) -> str | None:
    return fingerprint(PSP_SPEC, AREAS, [value], reference_cases(PSP_SPEC))


def test_one_wrong_answer_in_float32_float64_and_lists_has_one_fingerprint() -> None:
    divided = PSP / 0.1
    forms = [
        divided,
        (PSP.astype(np.float32) / np.float32(0.1)).astype(np.float32),
        [p / 0.1 for p in PSP.tolist()],
        np.cumsum(np.diff(np.concatenate([[0.0], divided]))),  # another summation order
    ]
    prints = {_print(form) for form in forms}
    assert len(prints) == 1 and None not in prints


def test_different_wrong_answers_have_different_fingerprints() -> None:
    others = [PSP / 0.1, PSP * 0.2, PSP, PSP[:-1] * 0.1, PSP * 0.1 * (1 + 4 * RESOLUTION), 3.0]
    prints = [_print(value) for value in others]
    assert len(set(prints)) == len(others)


def test_values_that_are_not_numbers_have_no_fingerprint() -> None:
    assert _print("PSP * dt") is None
    assert _print([[1.0, 2.0], [3.0]]) is None


def test_typed_formulas_with_the_same_values_share_a_fingerprint() -> None:
    chain = [spec.find("chain_rule")]

    def graded(answer: str) -> CheckResult:
        return engine.grade(submission.from_answer(answer), chain).exercises[0].checks[0]

    one, two = graded("4a^3e^(a^4+1)*(-1)"), graded("-4a^3 e^(a^4+1)")
    assert one.fingerprint is not None and one.fingerprint == two.fingerprint
    assert graded("3a^2 e^(a^4+1)").fingerprint not in (None, one.fingerprint)
    assert graded("4a^3 e^(a^4+1)").fingerprint is None  # right: nothing to group
    antiderivative = [spec.find("antiderivative")]
    constants = {
        engine.grade(submission.from_answer(answer), antiderivative)
        .exercises[0]
        .checks[0]
        .fingerprint
        for answer in ("t^3 - t^2", "t^3 - t^2 + 5", "t^3 - t^2 + C")
    }
    assert len(constants) == 1  # an antiderivative's constant is not part of its values


# --- grouping records ---------------------------------------------------------------------------


def _areas(
    key: str,
    values: np.ndarray,
    print_: str,
    *,
    misconception: str | None = None,
    automatic: bool = False,
    suggested: str | None = None,
) -> StudentRecord:
    expected = PSP * 0.1
    curve = Curve(
        "", "t", T.tolist(), expected.tolist(), values.tolist(), (values != expected).tolist()
    )
    check = CheckResult(
        "rectangle_areas",
        CheckStatus.FAILED,
        0.0,
        1.0,
        "wrong",
        misconception=misconception,
        evidence=[curve],
        automatic=automatic,
        suggested_value=suggested,
        fingerprint=print_,
    )
    exercise = ExerciseResult("psp_charge", "PSP", Status.FAILED, "", [check])
    return StudentRecord(key, key.title(), [f"{key}.py"], SubmissionResult(key, [exercise]))


def test_groups_that_rounded_apart_are_merged_and_different_answers_are_not() -> None:
    divided = PSP / 0.1
    step = 2.0 ** (np.frexp(divided.max())[1] - 1) * RESOLUTION
    records = [
        _areas("ann", divided, "aaaa"),
        _areas("bob", divided + step / 4, "bbbb"),  # across a grid line: another fingerprint
        _areas("cy", divided, "aaaa"),
        _areas("dee", PSP * 0.2, "cccc"),
        _areas("eve", PSP * 0.2, "cccc"),
        _areas("fay", divided * 1.01, "dddd"),
    ]
    shared = SharedAnswers()
    for record in records:
        shared.add(record)
    groups = shared.groups()
    assert [(g.size, [m.key for m in g.members]) for g in groups] == [
        (3, ["ann", "cy", "bob"]),
        (2, ["dee", "eve"]),
    ]


def test_a_group_names_a_bounded_number_of_students_and_counts_them_all() -> None:
    shared = SharedAnswers(limit=2)
    for number in range(5):
        shared.add(_areas(f"s{number}", PSP / 0.1, "aaaa"))
    [group] = shared.groups()
    assert group.size == 5 and len(group.members) == 2


def test_the_diagnosis_declared_wins_and_only_undeclared_groups_get_an_entry() -> None:
    records = [
        _areas("a1", PSP / 0.1, "aaaa", misconception="auto:areas_divided", automatic=True),
        _areas("a2", PSP / 0.1, "aaaa", misconception="auto:areas_divided", automatic=True),
        _areas("b1", PSP, "bbbb", misconception="areas_without_dt"),
        _areas("b2", PSP, "bbbb", misconception="areas_without_dt"),
        _areas("c1", PSP * 3, "cccc"),
        _areas("c2", PSP * 3, "cccc"),
    ]
    shared = SharedAnswers()
    for record in records:
        shared.add(record)
    by_first = {group.members[0].key: group for group in shared.groups()}
    assert by_first["b1"].suggestion is None and by_first["b1"].diagnosis == "areas_without_dt"
    assert by_first["a1"].diagnosis == "auto:areas_divided (automatic)"
    assert by_first["c1"].diagnosis == "none yet"
    [automatic] = yaml.safe_load(by_first["a1"].suggestion)
    assert automatic["id"] == "areas_divided" and "value" not in automatic
    assert "FILL IN" in by_first["a1"].suggestion  # the automatic diagnosis has no expression
    [unknown] = yaml.safe_load(by_first["c1"].suggestion)
    assert set(unknown) == {"id", "feedback"} and "FILL IN" in by_first["c1"].suggestion


def _paste(course: Path, check: str, entry: str) -> None:
    """The entry pasted under the check's `mistakes:` in the course's psp_charge spec."""
    path = course / "exercises" / "psp_charge.yaml"
    lines = path.read_text().splitlines(keepends=True)
    start = lines.index(f"  - name: {check}\n")
    at = next(i for i in range(start, len(lines)) if lines[i] == "    mistakes:\n") + 1
    indented = "".join(f"      {line}\n" for line in entry.splitlines())
    path.write_text("".join([*lines[:at], indented, *lines[at:]]))


@pytest.fixture
def course(tmp_path: Path) -> Path:
    copy = tmp_path / "course"
    for part in ("exercises", "reference"):
        shutil.copytree(REPO / part, copy / part)
    return copy


@pytest.mark.sandbox
def test_a_suggested_entry_with_a_value_pasted_into_the_spec_passes_validate(course) -> None:
    shared = SharedAnswers()
    for number in range(2):
        shared.add(
            _areas(
                f"s{number}",
                PSP / 0.1,
                "aaaa",
                misconception="auto:areas:divided-by-dt",
                automatic=True,
                suggested="PSP / dt",
            )
        )
    [found] = shared.groups()
    [entry] = yaml.safe_load(found.suggestion)
    assert entry["id"] == "areas_divided_by_dt" and entry["value"] == "PSP / dt"
    _paste(course, "rectangle_areas", found.suggestion)
    completed = run_cli("--course", str(course), "validate", "psp_charge")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "6 mistakes recognised" in completed.stdout  # the spec's five and the pasted one


def test_an_entry_without_a_value_loads_and_the_spec_says_what_is_missing(course) -> None:
    shared = SharedAnswers()
    for number in range(2):
        shared.add(_areas(f"s{number}", PSP * 3, "cccc"))
    [found] = shared.groups()
    _paste(course, "rectangle_areas", found.suggestion)
    loaded = yaml.safe_load((course / "exercises" / "psp_charge.yaml").read_text())
    areas = next(check for check in loaded["checks"] if check["name"] == "rectangle_areas")
    assert areas["mistakes"][0]["id"] == "rectangle_areas_shared_mistake"
    with pytest.raises(spec.SpecError, match="give either value"):
        spec.find("psp_charge", course)


def test_summary_pages_show_each_group_with_plot_diagnosis_students_and_entry(
    tmp_path: Path,
) -> None:
    records = [
        _areas("ann", PSP / 0.1, "aaaa"),
        _areas("bob", PSP / 0.1, "aaaa"),
        _areas("cy", PSP * 0.2, "cccc"),  # alone: not a group
    ]
    summary.write_summary(records, [PSP_SPEC], tmp_path, elapsed=1.0)
    html = (tmp_path / "summary.html").read_text()
    markdown = (tmp_path / "summary.md").read_text()
    shared_html = html.split("Wrong answers several students share")[1].split("<h2>")[0]
    assert shared_html.count("<figure>") == 1 and "The values these 2 students share" in html
    assert 'href="ann.html"' in shared_html and 'href="cy.html"' not in shared_html
    section = markdown.split("## Wrong answers several students share")[1].split("\n## ")[0]
    assert "| 2 | none yet | [Ann](ann.html), [Bob](bob.html) |" in section
    assert "- id: rectangle_areas_shared_mistake" in section and "Cy" not in section


# --- a class through batch and `grade.py mistakes` ---------------------------------------------

RIGHT = [
    "PSP = J * t * np.exp(-(t - t_sp) / tau_s)\nrectangle_areas = PSP * dt\n"
    "numerical_integral = np.cumsum(rectangle_areas)\n",
    "t32 = t.astype(np.float32)\nPSP = (J * t32 * np.exp(-(t32 - t_sp) / tau_s)).astype("
    "np.float32)\nrectangle_areas = PSP * np.float32(dt)\n"
    "numerical_integral = np.cumsum(rectangle_areas, dtype=np.float32)\n",
    "PSP = [J * x * np.exp(-(x - t_sp) / tau_s) for x in t]\n"
    "rectangle_areas = [p * dt for p in PSP]\nnumerical_integral = []\ntotal = 0.0\n"
    "for area in rectangle_areas:\n    total += area\n    numerical_integral.append(total)\n",
]
DT_TWICE = [  # rectangle_areas = PSP / dt, in three styles
    "PSP = J * t * np.exp(-(t - t_sp) / tau_s)\nrectangle_areas = PSP / dt\n"
    "numerical_integral = np.cumsum(rectangle_areas) * dt\n",
    "t32 = t.astype(np.float32)\nPSP = J * t32 * np.exp(-(t32 - t_sp) / tau_s)\n"
    "rectangle_areas = (PSP / np.float32(dt)).astype(np.float32)\n"
    "numerical_integral = np.cumsum(rectangle_areas) * dt\n",
    "PSP = [J * x * np.exp(-(x - t_sp) / tau_s) for x in t]\n"
    "rectangle_areas = [p / dt for p in PSP]\n"
    "numerical_integral = np.cumsum(rectangle_areas) * dt\n",
]
LINSPACE = [
    "t = np.linspace(0, 10, 100)\nPSP = J * t * np.exp(-(t - t_sp) / tau_s)\n"
    "rectangle_areas = PSP * dt\nnumerical_integral = np.cumsum(rectangle_areas)\n",
    "t = np.linspace(0, 10, 100).astype(np.float32)\nPSP = J * t * np.exp(-(t - t_sp) / tau_s)\n"
    "rectangle_areas = PSP * dt\nnumerical_integral = np.cumsum(rectangle_areas)\n",
]
GAIN_TIMES_STEP = [  # the gain multiplied by the step: np.diff and slicing
    "def compute_rate_and_gain(I, a, theta, current_timestep):\n"
    "    rate = (1 + np.exp(-a * (I - theta))) ** -1 - (1 + np.exp(a * theta)) ** -1\n"
    "    return rate, np.diff(rate) * current_timestep\n",
    "def compute_rate_and_gain(I, a, theta, current_timestep):\n"
    "    rate = 1 / (1 + np.exp(-a * (I - theta))) - 1 / (1 + np.exp(a * theta))\n"
    "    gain = (rate[1:] - rate[:-1]) * current_timestep\n"
    "    return rate, gain\n",
]
CLASS = {
    **{f"right{n}": RIGHT[n % 3] for n in range(6)},
    **{f"twice{n}": DT_TWICE[n % 3] for n in range(5)},
    **{f"grid{n}": LINSPACE[n % 2] for n in range(3)},
    "alone": "PSP = J * t * np.exp(-(t - t_sp) / tau_s)\nrectangle_areas = PSP * dt * 2\n"
    "numerical_integral = np.cumsum(rectangle_areas)\n",
    **{f"gain{n}": GAIN_TIMES_STEP[n] for n in range(2)},
}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("class")
    for key, text in CLASS.items():
        (folder / f"{key}.py").write_text(text)
    out = folder.parent / "class-out"
    arguments = ["batch", str(folder), "--out", str(out), "--workers", "2"]
    assert cli.main([*arguments, "--exercise", "psp_charge", "--exercise", "neuron_gain"]) == 1
    return out


def _mistakes(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = cli.main(["mistakes", *arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _members(group: dict) -> list[str]:
    return sorted(group["students"])


@pytest.mark.sandbox
def test_a_class_with_planted_groups_finds_them_with_their_members(graded_class, capsys) -> None:
    code, out, _ = _mistakes(capsys, str(graded_class), "--json")
    groups = json.loads(out)["groups"]
    assert code == 0
    found = {(g["exercise"], g["check"], tuple(_members(g))): g["size"] for g in groups}
    twice = tuple(sorted(f"twice{n}" for n in range(5)))
    grid = tuple(sorted(f"grid{n}" for n in range(3)))
    assert found[("psp_charge", "rectangle_areas", twice)] == 5  # float32 and float64 alike
    assert found[("psp_charge", "rectangle_areas", grid)] == 3
    assert found[("psp_charge", "PSP", grid)] == 3
    assert found[("neuron_gain", "gain", ("gain0", "gain1"))] == 2  # np.diff and slicing
    everyone = {student for g in groups for student in g["students"]}
    assert not any(s.startswith("right") for s in everyone) and "alone" not in everyone
    assert [g["size"] for g in groups] == sorted((g["size"] for g in groups), reverse=True)
    for group in groups:
        assert set(group) == {
            "exercise",
            "check",
            "size",
            "students",
            "misconception",
            "automatic",
            "suggestion",
        }
        assert group["size"] == len(group["students"])
        if group["suggestion"] is not None:
            assert isinstance(yaml.safe_load(group["suggestion"]), list)
        else:
            assert group["misconception"] is not None and not group["automatic"]


@pytest.mark.sandbox
def test_the_summary_of_the_batch_shows_the_groups(graded_class) -> None:
    markdown = (graded_class / "summary.md").read_text()
    section = markdown.split("## Wrong answers several students share")[1].split("\n## ")[0]
    assert "### `psp_charge`: rectangle\\_areas" in section
    assert "| 5 |" in section and "[twice0](twice0.html)" in section
    html = (graded_class / "summary.html").read_text()
    # Their rectangle_areas, and their numerical_integral (np.cumsum(PSP): a declared mistake).
    assert html.count("The values these 5 students share") == 2


@pytest.mark.sandbox
def test_mistakes_text_and_one_exercise(graded_class, capsys) -> None:
    code, out, _ = _mistakes(capsys, str(graded_class), "--exercise", "neuron_gain")
    assert code == 0
    assert out.startswith("neuron_gain / gain: 2 students, diagnosis ")
    assert "students: gain0, gain1" in out and "psp_charge" not in out


def test_mistakes_refuses_bad_inputs_with_one_line(tmp_path: Path, capsys) -> None:
    code, out, err = _mistakes(capsys, str(tmp_path / "nowhere"))
    assert (code, out) == (2, "") and err.count("\n") == 1 and "no such folder" in err
    code, _, err = _mistakes(capsys, str(tmp_path))
    assert code == 2 and "not the output folder of a batch" in err
    (tmp_path / "gradebook.sqlite").write_text("not a database at all, but long enough " * 10)
    code, _, err = _mistakes(capsys, str(tmp_path))
    assert code == 2 and "not a usable gradebook" in err and err.count("\n") == 1


@pytest.mark.sandbox
def test_mistakes_refuses_an_exercise_the_batch_did_not_grade(graded_class, capsys) -> None:
    code, out, err = _mistakes(capsys, str(graded_class), "--exercise", "chain_rule")
    assert (code, out) == (2, "")
    assert "graded no exercise chain_rule (it graded neuron_gain, psp_charge)" in err


def test_a_continuum_of_slightly_different_answers_is_not_chained_into_one_group() -> None:
    shared = SharedAnswers()
    step = 2.0 ** (np.frexp((PSP / 0.1).max())[1] - 1) * RESOLUTION
    for number in range(20):  # each 0.6 steps from the next: neighbours agree, ends do not
        shared.add(_areas(f"s{number:02d}", PSP / 0.1 + 0.6 * step * number, f"p{number}"))
    assert max(group.size for group in shared.groups()) <= 3
