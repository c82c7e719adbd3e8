"""The instant self-check on the real Tutorial 1 notebook, in a real kernel (nbclient):
the kernel's answer equals the replayed one, the replay says where it differs, and a
rigged object fails in the kernel as it fails in the sandbox."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import INSTRUCTOR_NOTEBOOK, STUDENT_NOTEBOOK, require_bubblewrap

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

LEFT_OUT = ("!", "import scipy")
EXERCISES = ["product_rule_alpha", "psp_charge", "neuron_gain", "chain_rule"]

# Each exercise checked, its instant answer kept, then the replay waited for: one JSON line.
CHECK_EVERY_EXERCISE = f"""\
import json
_seen = {{}}
for _exercise in {EXERCISES!r}:
    _feedback = check(_exercise)
    _instant = _feedback.result.to_dict()
    _seen[_exercise] = [_instant, _feedback.wait(120).to_dict(), _feedback.divergence]
print(json.dumps(_seen))
"""


def offline(source: str) -> str:
    """The cell without the lines that reach the network (`!pip`, a plot style from a
    URL, which offline waits for a connection until the cell's timeout) and without
    scipy, which the toolkit does not install: where the Imports cell stops at it, the
    kernel lacks `plt`, which the sandbox always gives, and the two rightly differ."""
    return "\n".join(
        "# " + line if line.lstrip().startswith(LEFT_OUT) or "https://" in line else line
        for line in source.split("\n")
    )


def run_notebook(path: Path, edit, home: Path) -> list[dict]:
    """Run the notebook (edited) in a fresh kernel of this interpreter; its last cell's
    printed JSON."""
    require_bubblewrap()
    notebook = nbformat.read(path, as_version=4)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and "interact(" in cell.source:
            continue  # a widget demo waits for a widget front end, which nbclient is not
        if cell.cell_type == "code":
            cell.source = offline(cell.source)
            cell.source = edit(cell.source)
        cells.append(cell)
        if cell.cell_type == "code" and cell.source.startswith("# Imports"):
            cells.append(nbformat.v4.new_code_cell("from graders import check"))
    cells.append(nbformat.v4.new_code_cell('dr_da = "4*a**3 * exp(a**4 + 1)"'))
    cells.append(nbformat.v4.new_code_cell(CHECK_EVERY_EXERCISE))
    notebook.cells = cells
    kernels = home / "share" / "jupyter" / "kernels" / "graders-instant"
    kernels.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "graders test", "language": "python"}
    (kernels / "kernel.json").write_text(json.dumps(spec))
    (home / "my_constants.py").write_text("tau_s = 1\n")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JUPYTER_PATH", str(home / "share" / "jupyter"))
        env.setenv("JUPYTER_RUNTIME_DIR", str(home / "runtime"))
        env.setenv("JUPYTER_PLATFORM_DIRS", "1")
        env.setenv("IPYTHONDIR", str(home / "ipython"))
        client = NotebookClient(
            notebook,
            kernel_name="graders-instant",
            timeout=300,
            allow_errors=True,
            resources={"metadata": {"path": str(home)}},
        )
        client.execute()
    printed = [o["text"] for o in notebook.cells[-1].outputs if o.get("name") == "stdout"]
    assert printed, notebook.cells[-1].outputs
    return json.loads(printed[-1].strip().splitlines()[-1])


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The instructor's notebook: every exercise solved, run top to bottom."""
    return run_notebook(INSTRUCTOR_NOTEBOOK, lambda source: source, tmp_path_factory.mktemp("k"))


RIGGED = """\
class Rigged(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), bool)
    def __array__(self, *args, **kwargs):
        return np.asarray(-1/tau * np.exp(-t/tau))

class Anything:
    def __eq__(self, other):
        return True
    def __float__(self):
        return 0.0
    __array__ = Rigged.__array__
"""


def tamper(source: str) -> str:
    """The student's notebook, answered with rigged objects (product rule) and with a
    constant set by `%run`, which a replay cannot run (charge transfer)."""
    if 'raise NotImplementedError("Calculate the derivatives")' in source:
        return (
            "import numpy as np\nt = np.arange(0, 10, .1)\ntau = 0.5\n"
            + RIGGED
            + "u_t = t\nv_t = np.exp(-t/tau)\ndu_dt = Anything()\n"
            "dv_dt = np.zeros_like(t).view(Rigged)\ndf_dt = Anything()\n"
        )
    if 'raise NotImplementedError("Calculate the charge transfer")' in source:
        return (
            "%run my_constants.py\nJ, t_sp, dt = 1, 1, .1\n"
            "t = np.arange(0, 10, dt)\nPSP = J * t * np.exp(-(t - t_sp)/tau_s)\n"
            "rectangle_areas = PSP * dt\nnumerical_integral = np.cumsum(rectangle_areas)\n"
        )
    return source


@pytest.fixture(scope="module")
def tampered(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_notebook(STUDENT_NOTEBOOK, tamper, tmp_path_factory.mktemp("k"))


@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_instant_answer_is_the_replayed_one(solved: dict, exercise: str) -> None:
    instant, replayed, divergence = solved[exercise]
    assert instant["exercises"][0]["feedback"] == replayed["exercises"][0]["feedback"]
    assert instant == replayed
    assert divergence is None
    assert instant["exercises"][0]["status"] == "passed", instant


def test_a_rigged_object_fails_in_the_kernel_as_in_the_sandbox(tampered: dict) -> None:
    instant, replayed, divergence = tampered["product_rule_alpha"]
    assert divergence is None
    checks = {c["name"]: c for c in instant["exercises"][0]["checks"]}
    assert {name: c["status"] for name, c in checks.items()} == {
        "du_dt": "failed",
        "dv_dt": "failed",
        "df_dt": "failed",
    }
    assert "Anything" in checks["du_dt"]["feedback"]  # the type it got, named
    assert instant == replayed


def test_state_the_replay_cannot_rebuild_shows_one_line_and_the_graded_result(
    tampered: dict,
) -> None:
    instant, replayed, divergence = tampered["psp_charge"]
    assert instant["exercises"][0]["status"] == "passed"
    assert replayed["exercises"][0]["status"] == "error"
    assert divergence.startswith("psp_charge grades otherwise when your cells are replayed: In [")
    assert "raised NameError (name 'tau_s' is not defined) when replayed" in divergence
    assert "(0/3, error), is the one that counts" in divergence
    assert replayed["notices"][0] == divergence  # the report shown is the replayed one
