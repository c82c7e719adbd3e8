"""`export otter`: Otter-Grader tests that grade with our checks and show our feedback.

Run with the real otter-grader 7 package: `otter check` on scripts, `grader.check` in a
notebook executed by a Jupyter kernel, and Otter's own loader in this process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import numpy as np
import pytest
import sympy as sp
from otter.execute import Checker
from otter.nbmeta_config import NBMetadataConfig
from otter.test_files import TestFile

from conftest import REPO
from graders import cli, spec
from graders.lms.otter import NOT_INSTALLED, SELF_CHECK_ONLY, check_in_namespace

EXAMPLES = REPO / "examples"
# `otter check` runs a script as it is: it brings its own imports and plotting stand-ins.
SCRIPT_PRELUDE = """\
import numpy as np
import sympy as sp

def plot_alpha_func(t, f, df_dt):
    pass

def plot_charge_transfer(t, PSP, numerical_integral):
    pass

def visualize_population_approx(t, p):
    pass

def plot_IF(t, V, I, Spike_time):
    pass

def plot_rErI(t, r_E, r_I):
    pass
"""
# The practice set's typed answers as strings, and what Bonus Section 1.2 gives.
PRACTICE_GIVEN = """
int_ftn = "t^3/3 - t^2/2 + t + C"
df_dx = "2x + 2y"
df_dy = "2(x + y)"

def sigmoid_function(x, a, theta):
    return (1 + np.exp(-a * (x - theta)))**-1 - (1 + np.exp(a * theta))**-1

exc_a, exc_theta, inh_a, inh_theta = 1.2, 2.4, 1., 4.
"""
T = np.arange(0, 10, 0.1)
TAU = 0.5


@pytest.fixture(scope="module")
def tests_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("otter") / "tests"
    assert cli.main(["export", "otter", "--out", str(out)]) == 0
    return out


@pytest.fixture
def kernel_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The course installs the toolkit: `graders` is importable in every kernel."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    return dict(os.environ)


def feedback_of(exercise_id: str, check_name: str, mistake_id: str) -> str:
    check = next(c for c in spec.find(exercise_id).checks if c.name == check_name)
    return next(m.feedback for m in check.mistakes if m.id == mistake_id)


def run_test(path: Path, env: dict[str, object]) -> TestFile:
    """Load and run a test file the way `grader.check` does, in this process."""
    return Checker.check(str(path), NBMetadataConfig(), global_env=env)


def case_results(output: str) -> dict[tuple[str, str], str]:
    """Otter's summary split into (test, case) -> that case's text."""
    results: dict[tuple[str, str], str] = {}
    test = case = None
    for line in output.splitlines():
        if match := re.match(r"^(\w+) results:", line):
            test, case = match[1], None
        elif (match := re.match(r"^ {4}(\w+) result:", line)) and test:
            case = match[1]
            results[test, case] = ""
        elif test and case:
            results[test, case] += line.strip() + "\n"
    return results


# --- the exported files -------------------------------------------------------------------


def test_export_writes_one_exception_based_test_per_exercise(tests_dir: Path):
    specs = spec.load_all()
    assert sorted(p.name for p in tests_dir.iterdir()) == sorted(f"{s.id}.py" for s in specs)
    for exercise in specs:
        test = run_test(tests_dir / f"{exercise.id}.py", {})
        assert test.name == exercise.id
        assert [(c.name, c.points, c.hidden) for c in test.test_cases] == [
            (c.name, c.points, c.hidden) for c in exercise.checks
        ]
        # Nothing defined yet: every case fails and says what to define.
        assert not any(result.passed for result in test.test_case_results)
        assert "is not defined" in test.summary()


def test_exported_tests_hold_no_answers(tests_dir: Path):
    for exercise in spec.load_all():
        text = (tests_dir / f"{exercise.id}.py").read_text()
        answers = re.findall(r"^\s*\w+ = (.{4,})$", exercise.reference_path.read_text(), re.M)
        assert answers
        assert not [answer for answer in answers if answer.strip() in text]


def test_the_export_says_otter_mode_is_for_self_checks_only(tmp_path, capsys):
    assert "for self-checks only" in SELF_CHECK_ONLY and "grade.py batch" in SELF_CHECK_ONLY
    out = tmp_path / "tests"
    assert cli.main(["export", "otter", "--out", str(out)]) == 0
    assert SELF_CHECK_ONLY in capsys.readouterr().out
    for path in out.iterdir():
        assert SELF_CHECK_ONLY in " ".join(path.read_text().split())
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "Otter-mode grading is for self-checks only" in readme


def test_export_of_an_unknown_exercise_exits_2_with_one_line(tmp_path, capsys):
    out = tmp_path / "tests"
    assert cli.main(["export", "otter", "--out", str(out), "--exercise", "nope"]) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and "unknown exercise 'nope'" in stderr
    assert not out.exists()


def test_export_into_an_unwritable_place_exits_2_with_one_line(tmp_path, capsys):
    occupied = tmp_path / "tests"
    occupied.write_text("a file, not a folder")
    assert cli.main(["export", "otter", "--out", str(occupied)]) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and "cannot write Otter tests" in stderr


# --- otter check on scripts ---------------------------------------------------------------


def otter_check(tests_dir: Path, tmp_path: Path, source: str, env: dict[str, str]) -> str:
    script = tmp_path / "submission.py"
    script.write_text(SCRIPT_PRELUDE + source, encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "otter", "check", "-t", str(tests_dir), str(script)],
        cwd=tmp_path,  # Otter writes its .OTTER_LOG here
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.mark.slow  # Otter in a process of its own; no sandbox: Otter mode has none
def test_otter_check_passes_correct_answers(tests_dir, tmp_path, kernel_env):
    source = "\n".join(
        (EXAMPLES / name).read_text()
        for name in (
            "product_rule_correct.py",
            "neuron_gain_correct.py",
            "chain_rule_sympy.py",  # dr_da as a sympy expression
            "psp_correct.py",
            "euler_population_correct.py",
            "lif_euler_correct.py",
            "euler_linear_system_correct.py",
            "sine_derivative_correct.py",
            "riemann_sum_correct.py",
            "filtering_correct.py",  # the student's own noise
        )
    )
    source += PRACTICE_GIVEN + (EXAMPLES / "partial_derivatives_2d_correct.py").read_text()
    assert otter_check(tests_dir, tmp_path, source, kernel_env).strip() == "All tests passed!"


@pytest.mark.slow  # Otter in a process of its own; no sandbox: Otter mode has none
def test_otter_check_shows_our_feedback_per_failing_check(tests_dir, tmp_path, kernel_env):
    source = "\n".join(
        [
            (EXAMPLES / "product_rule_chain_rule_forgotten.py").read_text(),
            (EXAMPLES / "neuron_gain_hard_coded_step.py").read_text(),
            'dr_da = "e^(a^4+1)"',  # a string: the outer derivative alone
        ]
    )
    results = case_results(otter_check(tests_dir, tmp_path, source, kernel_env))

    assert "Test case passed" in results["product_rule_alpha", "du_dt"]
    dv_dt = results["product_rule_alpha", "dv_dt"]
    assert "Test case failed" in dv_dt
    assert "chain rule" in dv_dt and "inner function" in dv_dt
    assert feedback_of("product_rule_alpha", "dv_dt", "dv_dt_missing_inner_derivative") in dv_dt
    assert "Hint:" in dv_dt

    assert "Test case passed" in results["neuron_gain", "rate"]
    gain = results["neuron_gain", "gain"]
    assert feedback_of("neuron_gain", "gain", "gain_step_hard_coded") in gain

    dr_da = results["chain_rule", "dr_da"]
    assert feedback_of("chain_rule", "dr_da", "chain_inner_forgotten") in dr_da

    assert "PSP is not defined" in results["psp_charge", "PSP"]


@pytest.mark.slow  # Otter in a process of its own; no sandbox: Otter mode has none
def test_without_the_toolkit_each_case_fails_with_what_to_install(tests_dir, tmp_path, kernel_env):
    # A `graders` that cannot be imported, first on the path: the toolkit is not installed.
    hiding = tmp_path / "hiding" / "graders"
    hiding.mkdir(parents=True)
    (hiding / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'graders'\", name='graders')\n"
    )
    env = {**kernel_env, "PYTHONPATH": str(hiding.parent)}
    results = case_results(otter_check(tests_dir, tmp_path, 'dr_da = "4a^3"\n', env))
    expected = {(e.id, c.name) for e in spec.load_all() for c in e.checks}
    assert set(results) == expected
    for text in results.values():
        assert "Test case failed" in text and NOT_INSTALLED in text


# --- grader.check in a notebook -----------------------------------------------------------


@pytest.mark.slow  # Otter in a process of its own; no sandbox: Otter mode has none
def test_grader_check_in_a_notebook_shows_pass_then_our_feedback(tests_dir, tmp_path, kernel_env):
    cells = [
        f"import otter\ngrader = otter.Notebook(tests_dir={str(tests_dir)!r})",
        SCRIPT_PRELUDE + (EXAMPLES / "product_rule_correct.py").read_text(),
        'grader.check("product_rule_alpha")',
        "dv_dt = np.exp(-t/tau)",
        'grader.check("product_rule_alpha")',
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=120, resources={"metadata": {"path": tmp_path}}
    )
    client.execute()

    def shown(cell: int) -> str:
        [output] = notebook.cells[cell].outputs
        return output["data"]["text/plain"]

    assert shown(2) == "product_rule_alpha results: All test cases passed!"
    failing = case_results(shown(4))
    assert "Test case passed" in failing["product_rule_alpha", "du_dt"]
    dv_dt = failing["product_rule_alpha", "dv_dt"]
    assert feedback_of("product_rule_alpha", "dv_dt", "dv_dt_missing_inner_derivative") in dv_dt


# --- check_in_namespace: the student's live values ----------------------------------------


def test_live_values_are_read_as_the_sandbox_hands_them_back():
    float32 = {
        "du_dt": np.float64(1.0),  # a numpy scalar standing for the constant slope
        "dv_dt": (-1 / TAU * np.exp(-T / TAU)).astype(np.float32),
    }
    assert check_in_namespace("product_rule_alpha", "du_dt", float32)[0]
    assert check_in_namespace("product_rule_alpha", "dv_dt", float32)[0]

    a = sp.Symbol("a")
    assert check_in_namespace("chain_rule", "dr_da", {"dr_da": 4 * a**3 * sp.exp(a**4 + 1)})[0]
    assert check_in_namespace("chain_rule", "dr_da", {"dr_da": "4a^3 e^(a^4+1)"})[0]

    passed, message = check_in_namespace("product_rule_alpha", "df_dt", {"df_dt": ...})
    assert not passed and "`...`" in message
    passed, message = check_in_namespace("product_rule_alpha", "df_dt", {})
    assert not passed and message.startswith("df_dt is not defined")


def test_the_students_function_is_called_with_the_specs_inputs():
    # The tutorial's argument names (I for the input current), as the calls pass them.
    def divides_by_zero(I, a, theta, current_timestep):  # noqa: E741
        rate = 1 / (1 + np.exp(-a * (I - theta)))
        return rate, 1 / 0

    passed, message = check_in_namespace(
        "neuron_gain", "gain", {"compute_rate_and_gain": divides_by_zero}
    )
    assert not passed
    assert "ZeroDivisionError" in message and "return rate, 1 / 0" in message

    def returns_rate_only(I, a, theta, current_timestep):  # noqa: E741
        return 1 / (1 + np.exp(-a * (I - theta)))

    passed, message = check_in_namespace(
        "neuron_gain", "rate", {"compute_rate_and_gain": returns_rate_only}
    )
    assert not passed and "should return 2 values (rate, gain)" in message


# --- another course -----------------------------------------------------------------------

POWER_RULE = """\
id: power_rule
title: Power rule
source: My course, Exercise 1
prompt: Differentiate t**3 on the array t, then twice.
given:
  t: np.linspace(-2, 2, 41)
axis: t
checks:
  - name: dy_dt
    points: 2
    hint: Bring the exponent down.
  - name: d2y_dt2
    hidden: true
"""


def test_a_course_of_ones_own_with_a_hidden_check(tmp_path, capsys):
    course = tmp_path / "course"
    (course / "exercises").mkdir(parents=True)
    (course / "reference").mkdir()
    (course / "exercises" / "power_rule.yaml").write_text(POWER_RULE)
    (course / "reference" / "power_rule.py").write_text("dy_dt = 3 * t**2\nd2y_dt2 = 6 * t\n")
    out = tmp_path / "tests"
    assert cli.main(["--course", str(course), "export", "otter", "--out", str(out)]) == 0
    assert "power_rule.py" in capsys.readouterr().out

    t = np.linspace(-2, 2, 41)
    env = {"dy_dt": 3 * t**2, "d2y_dt2": 6 * t + 1}
    test = run_test(out / "power_rule.py", env)
    assert (test.score, test.possible) == (2.0, 3.0)
    [hidden] = [r for r in test.test_case_results if r.test_case.hidden]
    assert not hidden.passed
    assert "Hidden check: not passed." in hidden.message
    assert "6 * t" not in (out / "power_rule.py").read_text()


def test_practice_exercises_are_exported_and_checked_on_the_students_own_signal(tests_dir):
    assert (tests_dir / "filtering.py").is_file()
    tx = np.arange(0, 2, 0.01)
    x1 = np.sin(0.5 * np.pi * tx) + np.random.default_rng(7).uniform(0, 1, tx.size) * 0.5
    env = {"x1": x1, "x1_diff": x1[1:] - x1[:-1], "x1_integrate": np.cumsum(x1) * 0.01}
    test = run_test(tests_dir / "filtering.py", env)
    passed = {case.test_case.name: case.passed for case in test.test_case_results}
    assert passed == {"x1_diff": True, "x1_integrate": False}
    assert "running integral of x1" in test.summary()
    assert run_test(tests_dir / "sine_derivative.py", {"sine_diff": "slope"}).test_case_results
