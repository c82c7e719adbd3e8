"""The instant self-check on the real Tutorial 1 and Tutorial 3 notebooks, each run once in
a real kernel (nbclient): the kernel's answer equals the replayed one, for value and
function exercises alike and for ``check_all()``; the replay says where it differs; a
rigged object fails in the kernel as it fails in the sandbox."""

from __future__ import annotations

import pytest

from conftest import FIXTURES, INSTRUCTOR_NOTEBOOK, require_bubblewrap
from notebook_kernels import execute, headless

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

TUTORIAL1 = ["product_rule_alpha", "psp_charge", "neuron_gain", "chain_rule"]
TUTORIAL3 = ["euler_population", "lif_euler", "euler_linear_system"]
ALL = "check_all"


def check_each(exercises: list[str]) -> str:
    """A cell: each exercise checked, then all at once; per check its instant answer, the
    replay's (waited for) and the divergence line, printed as one JSON line."""
    return f"""\
import json
_seen = {{}}
for _exercise in {exercises!r} + [{ALL!r}]:
    _feedback = check_all() if _exercise == {ALL!r} else check(_exercise)
    _instant = _feedback.result.to_dict()
    _seen[_exercise] = [_instant, _feedback.wait(300).to_dict(), _feedback.divergence]
print(json.dumps(_seen))
"""


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
    """The product rule answered with rigged objects; the charge transfer with a constant
    set by `%run`, which a replay does not run."""
    if "du_dt = 1" in source:
        return (
            "t = np.arange(0, 10, .1)\ntau = 0.5\n"
            + RIGGED
            + "u_t = t\nv_t = np.exp(-t/tau)\ndu_dt = Anything()\n"
            "dv_dt = np.zeros_like(t).view(Rigged)\ndf_dt = Anything()\n"
        )
    if "numerical_integral = np.cumsum" in source:
        return (
            "%run my_constants.py\nJ, t_sp, dt = 1, 1, .1\n"
            "t = np.arange(0, 10, dt)\nPSP = J * t * np.exp(-(t - t_sp)/tau_s)\n"
            "rectangle_areas = PSP * dt\nnumerical_integral = np.cumsum(rectangle_areas)\n"
        )
    return source


@pytest.fixture(scope="module")
def tutorial1(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The instructor's Tutorial 1, its product rule rigged and its charge transfer given a
    constant by `%run`; the typed chain rule answered in a cell."""
    require_bubblewrap()
    home = tmp_path_factory.mktemp("tutorial1")
    (home / "my_constants.py").write_text("tau_s = 1\n")
    typed = 'dr_da = "4*a**3 * exp(a**4 + 1)"'
    notebook = headless(INSTRUCTOR_NOTEBOOK, [typed, check_each(TUTORIAL1)], tamper)
    return execute(notebook, home)


@pytest.fixture(scope="module")
def tutorial3(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The instructor's Tutorial 3, every exercise solved, run top to bottom."""
    require_bubblewrap()
    notebook = headless(FIXTURES / "W0D4_Tutorial3_instructor.ipynb", [check_each(TUTORIAL3)])
    return execute(notebook, tmp_path_factory.mktemp("tutorial3"))


@pytest.mark.parametrize(
    ("tutorial", "exercise"),
    [("tutorial1", "neuron_gain"), ("tutorial1", "chain_rule")]
    + [("tutorial3", exercise) for exercise in TUTORIAL3],
)
def test_the_instant_answer_is_the_replayed_one(
    request: pytest.FixtureRequest, tutorial: str, exercise: str
) -> None:
    instant, replayed, divergence = request.getfixturevalue(tutorial)[exercise]
    assert instant["exercises"][0]["feedback"] == replayed["exercises"][0]["feedback"]
    assert instant == replayed
    assert divergence is None
    assert instant["exercises"][0]["status"] == "passed", instant


def test_a_rigged_object_fails_in_the_kernel_as_in_the_sandbox(tutorial1: dict) -> None:
    instant, replayed, divergence = tutorial1["product_rule_alpha"]
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
    tutorial1: dict,
) -> None:
    instant, replayed, divergence = tutorial1["psp_charge"]
    assert instant["exercises"][0]["status"] == "passed"
    assert replayed["exercises"][0]["status"] == "error"
    assert divergence.startswith("psp_charge grades otherwise when your cells are replayed: In [")
    assert "raised NameError (name 'tau_s' is not defined) when replayed" in divergence
    assert "(0/3, error), is the one that counts" in divergence
    assert replayed["notices"][0] == divergence  # the report shown is the replayed one


def test_check_all_shows_every_exercise_of_the_assignment(tutorial1: dict, tutorial3: dict):
    instant, replayed, divergence = tutorial3[ALL]
    assert sorted(e["id"] for e in instant["exercises"]) == sorted(TUTORIAL3)
    assert instant == replayed and divergence is None
    instant, replayed, divergence = tutorial1[ALL]
    assert sorted(e["id"] for e in instant["exercises"]) == sorted(TUTORIAL1)
    # Each exercise as its own check() graded it; the replay's word on psp_charge replaces it.
    for exercise in instant["exercises"]:
        assert exercise == tutorial1[exercise["id"]][0]["exercises"][0]
    assert divergence.startswith("psp_charge grades otherwise")
    assert [e["status"] for e in replayed["exercises"]] == [
        tutorial1[e["id"]][1]["exercises"][0]["status"] for e in replayed["exercises"]
    ]
