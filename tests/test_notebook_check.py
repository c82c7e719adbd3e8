"""`from graders import check` inside a running Jupyter kernel, in plain Python, and the
rules that turn a kernel's input history into the cells that are replayed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO, run_cli
from graders.notebook import MAX_CELLS, CheckError, check, history_cells
from graders.results import Status
from notebook_kernels import jupyter_kernel

ANSWERS = ["du_dt", "dv_dt", "df_dt"]

SETUP = """\
%config InlineBackend.figure_format = 'retina'
%matplotlib inline
import numpy as np
import matplotlib.pyplot as plt
"""

PLOT_HELPER = """\
def plot_alpha_func(t, f, df_dt):
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    axes[0].plot(t, f)
    axes[1].plot(t, df_dt)
    plt.show()
"""

EXERCISE = """\
# TODO: complete the derivatives, then remove the next line
raise NotImplementedError("Calculate the derivatives")
t = np.arange(0, 10, .1)
tau = 0.5
f = t * np.exp(-t/tau)
u_t = t
v_t = np.exp(-t/tau)
du_dt = ...
dv_dt = ...
df_dt = ...
plot_alpha_func(t, f, df_dt)
"""


def attempt(dv_dt: str) -> str:
    body = EXERCISE.split("\n", 2)[2]
    return body.replace("du_dt = ...", "du_dt = 1").replace("dv_dt = ...", f"dv_dt = {dv_dt}")


WRONG = attempt("np.exp(-t/tau)").replace("df_dt = ...", "df_dt = u_t * dv_dt + v_t * du_dt")
CORRECT = WRONG.replace("dv_dt = np.exp(-t/tau)", "dv_dt = -1/tau * np.exp(-t/tau)")

PSP_CORRECT = """\
J, tau_s, t_sp, dt = 1, 1, 1, .1
t = np.arange(0, 10, dt)
PSP = J * t * np.exp(-(t - t_sp)/tau_s)
rectangle_areas = PSP * dt
numerical_integral = np.cumsum(rectangle_areas)
"""

# A student's session, in the order they ran it: the cell as handed out, a wrong attempt,
# a correct one, a typed answer, a typo, and a check in the middle of an answer cell.
SESSION = {
    "setup": SETUP,
    "helper": PLOT_HELPER,
    "handed_out": EXERCISE,
    "not_attempted": 'from graders import check\ncheck("product_rule_alpha")',
    "wrong": WRONG,
    "failed": 'r = check("product_rule_alpha")',
    "look": "t.shape",
    "correct": CORRECT,
    "passed": 'r = check("product_rule_alpha")\nprint(r.result.score, r.result.max_score)',
    "typed": 'check("chain_rule", "4a^3 e^(a^4+1)")',
    "unknown": 'check("product_rule_alfa")',
    "mid_cell": PSP_CORRECT + 'check("psp_charge")\nnumerical_integral = None',
}
RAISING = {"handed_out", "unknown"}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """Run SESSION in a fresh kernel of this interpreter; the outputs of each cell by name."""
    notebook = nbformat.v4.new_notebook()
    for name, source in SESSION.items():
        tags = ["raises-exception"] if name in RAISING else []
        notebook.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    home = tmp_path_factory.mktemp("kernel")
    with jupyter_kernel(home) as kernel:
        client = NotebookClient(
            notebook,
            kernel_name=kernel,
            timeout=120,
            resources={"metadata": {"path": str(home)}},
        )
        client.execute()
    return {name: cell.outputs for name, cell in zip(SESSION, notebook.cells, strict=True)}


def html(outputs: list[dict]) -> str:
    shown = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert len(shown) == 1, outputs  # the report, shown once
    return shown[0]


@pytest.mark.sandbox
def test_correct_answers_pass_with_full_marks(session):
    report = html(session["passed"])
    assert "3/3" in report
    assert "passed" in report
    assert "failed" not in report
    printed = "".join(o.get("text", "") for o in session["passed"] if o["output_type"] == "stream")
    assert printed.split() == ["3.0", "3.0"]  # the SubmissionResult is returned


@pytest.mark.sandbox
def test_wrong_answer_shows_the_misconception_and_the_hint(session):
    report = html(session["failed"])
    assert "failed" in report
    assert "1/3" in report  # du_dt is right; df_dt is right for the wrong dv_dt
    assert "inner function" in report  # dv_dt_missing_inner_derivative's feedback
    assert "The chain rule says" in report  # dv_dt's hint


@pytest.mark.sandbox
def test_handed_out_cell_is_not_attempted(session):
    report = html(session["not_attempted"])
    assert "not attempted" in report
    assert "NotImplementedError" in report
    assert "In [3]" in report  # the cell is named as the notebook numbers it


@pytest.mark.sandbox
def test_typed_answer_is_graded(session):
    report = html(session["typed"])
    assert "passed" in report
    assert "1/1" in report
    # check(...) as the cell's last line shows the report once, not again as its value.
    assert [o["output_type"] for o in session["typed"]] == ["display_data"]


@pytest.mark.sandbox
def test_unknown_exercise_is_one_line(session):
    [error] = session["unknown"]
    assert error["output_type"] == "error"
    known = ", ".join(sorted(path.stem for path in (REPO / "exercises").glob("*.yaml")))
    assert error["traceback"] == [
        f"CheckError: unknown exercise 'product_rule_alfa' (known: {known})"
    ]


@pytest.mark.sandbox
def test_check_in_an_answer_cell_sees_only_the_lines_above_it(session):
    report = html(session["mid_cell"])
    assert "3/3" in report  # numerical_integral is still right: the line below had not run


@pytest.mark.sandbox
def test_report_styles_stay_inside_the_report(session):
    report = html(session["passed"])
    assert report.startswith('<div class="graders-check">')
    assert "<body" not in report and "<html" not in report
    assert "\nbody" not in report  # the page's body rule now targets the report's div


@pytest.mark.sandbox
def test_plain_text_for_terminals(session):
    [text] = [o["data"]["text/plain"] for o in session["passed"] if "data" in o]
    assert text.startswith("your notebook — 3/3 points")
    assert "<" not in text


# --- outside Jupyter ---------------------------------------------------------------------


def run_python(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.mark.sandbox
def test_plain_python_grades_the_calling_file_up_to_the_call(tmp_path: Path):
    script = tmp_path / "my_answers.py"
    body = CORRECT.replace("plot_alpha_func(t, f, df_dt)\n", "")
    script.write_text(
        "from graders import check\nimport numpy as np\n"
        + body
        + 'feedback = check("product_rule_alpha")\n'
        + "print('score', feedback.result.score)\n"
        + "dv_dt = None  # after the call: not graded\n"
    )
    completed = run_python(str(script), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "my_answers.py — 3/3 points" in completed.stdout
    assert "score 3.0" in completed.stdout


@pytest.mark.sandbox
def test_source_file_gets_the_command_lines_report(capsys: pytest.CaptureFixture[str]):
    hand_in = REPO / "examples" / "product_rule_chain_rule_forgotten.py"
    feedback = check("product_rule_alpha", source_file=hand_in)
    assert feedback.result.exercises[0].status == Status.FAILED
    printed = capsys.readouterr().out
    assert printed == run_cli("check", "product_rule_alpha", str(hand_in)).stdout
    assert repr(feedback) + "\n" == printed


def test_a_typed_answer_for_a_code_exercise_is_refused():
    with pytest.raises(CheckError, match=r'graded from your code.*check\("psp_charge"\)'):
        check("psp_charge", "1")


def test_without_ipython_or_a_file_check_says_what_to_do(tmp_path: Path):
    code = "from graders import check\ncheck('product_rule_alpha')"
    completed = run_python("-c", code, cwd=tmp_path)
    assert completed.returncode == 1
    last = completed.stderr.strip().splitlines()[-1]
    assert last.startswith("graders.notebook.CheckError: check() grades the cells you ran")
    assert "python grade.py check product_rule_alpha my_cell.py" in last


def test_importing_the_package_does_not_load_the_self_check(tmp_path: Path):
    code = (
        "import sys, graders\n"
        "print(sorted(m for m in ('numpy', 'graders.engine', 'graders.notebook') "
        "if m in sys.modules))\n"
        "from graders import check\n"
        "print(check.__module__)"
    )
    completed = run_python("-c", code, cwd=tmp_path)
    assert completed.stdout.split("\n")[:2] == ["[]", "graders.notebook"], completed.stderr


# --- from a history to the cells replayed ------------------------------------------------


def replayed(history: list[str], current_line: int | None = None) -> dict[int, str]:
    cells, dropped = history_cells(history, ANSWERS, current_line)
    assert dropped == 0
    return {cell.index: cell.source for cell in cells}


def test_history_is_replayed_in_execution_order_with_repeats():
    history = ["", "du_dt = 1", "du_dt = 2", "du_dt = 1"]
    cells, _ = history_cells(history, ANSWERS)
    assert [(c.index, c.filename, c.source) for c in cells] == [
        (1, "In [1]", "du_dt = 1"),
        (2, "In [2]", "du_dt = 2"),
        (3, "In [3]", "du_dt = 1"),
    ]


def test_grader_imports_and_calls_are_commented_out_keeping_lines():
    history = [
        "",
        "import graders as g\nfrom graders import check as c\ndu_dt = 1",
        'c("product_rule_alpha")\ndv_dt = 2\nr = g.check("x")\nfor e in ["a"]:\n    check(e)',
    ]
    assert replayed(history) == {
        1: "# import graders as g\n# from graders import check as c\ndu_dt = 1",
        2: '# c("product_rule_alpha")\ndv_dt = 2\n# r = g.check("x")\n'
        '# for e in ["a"]:\n#     check(e)',
    }


def test_cells_that_only_show_something_are_skipped():
    history = [
        "",
        "du_dt = 1",
        "du_dt",
        "print(du_dt)\nplt.plot(du_dt)\nplt.gca().legend()",
        "%matplotlib inline",
        "# a note",
        "du_dt.fill(0)",
    ]
    assert replayed(history) == {1: "du_dt = 1", 6: "du_dt.fill(0)"}


def test_the_running_cell_is_cut_at_the_call():
    history = ["", "du_dt = 1\nr = check(\n    'product_rule_alpha'\n)\ndu_dt = 2"]
    assert replayed(history, current_line=3) == {
        1: "du_dt = 1\n# r = check(\n#     'product_rule_alpha'\n# )\n# du_dt = 2"
    }


def test_cells_after_the_last_mention_of_an_answer_are_not_replayed():
    history = ["", "import numpy as np", "df_dt = np.ones(3)", "x = np.zeros(10**9)"]
    assert list(replayed(history)) == [1, 2]
    assert replayed(["", "import numpy as np"]) == {}


def test_syntax_errors_and_magics_reach_the_sandbox_as_cells():
    history = ["", "!pip install sympy\ndu_dt = (1", "df_dt = 1?"]
    assert replayed(history) == {
        1: "pass  # neutralised: !pip install sympy\ndu_dt = (1",
        2: "df_dt = 1?",
    }


def test_long_histories_keep_the_most_recent_cells():
    history = ["", *(f"du_dt = {n}" for n in range(MAX_CELLS + 50))]
    cells, dropped = history_cells(history, ANSWERS)
    assert len(cells) == MAX_CELLS
    assert dropped == 50
    assert cells[-1].source == f"du_dt = {MAX_CELLS + 49}"


@pytest.mark.sandbox
def test_a_long_session_says_what_was_left_out(tmp_path: Path):
    """In an IPython shell (no kernel needed) with more cells than are replayed."""
    code = textwrap.dedent(
        f"""
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        for n in range({MAX_CELLS + 5}):
            shell.run_cell(f"dr_da = '4*a**3 * exp(a**4 + {{n}})'", store_history=True)
        shell.run_cell("dr_da = '4*a**3 * exp(a**4 + 1)'", store_history=True)
        shell.run_cell("from graders import check; r = check('chain_rule')", store_history=True)
        print("score", shell.user_ns["r"].result.score)
        """
    )
    completed = run_python("-c", code, cwd=tmp_path)
    assert "score 1.0" in completed.stdout, completed.stderr
    assert f"Only the last {MAX_CELLS} cells you ran were replayed, not the 6" in completed.stdout
