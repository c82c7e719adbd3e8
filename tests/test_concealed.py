"""Course folders and the toolkit itself stay hidden from student code wherever they lie,
also inside a directory the sandbox mounts (the Python installation and its packages),
in a one-off sandbox and in a pool's workers alike."""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import REPO, require_bubblewrap
from graders import sandbox, spec
from graders.sandbox import Cell, Extraction, Job, Outcome, RunLimits, mounts

pytestmark = pytest.mark.sandbox

LIMITS = RunLimits(cell_seconds=2.0, total_seconds=10.0, memory_mb=512, processes=16)


@pytest.fixture(autouse=True)
def isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADERS_SANDBOX", raising=False)
    require_bubblewrap()
    # What a test conceals stays in the test.
    monkeypatch.setattr(mounts, "_concealed", set(mounts._concealed))


def one_off(job: Job) -> Outcome:
    return sandbox.run(job, LIMITS, require_isolation=True)


def pooled(job: Job) -> Outcome:
    with sandbox.Pool(1, LIMITS, require_isolation=True) as pool:
        return pool.start().submit(job)


RUNNERS = pytest.mark.parametrize("runner", [one_off, pooled], ids=["one-off", "pool"])


def existing(paths: list[Path]) -> Job:
    """A job that reports which of the paths it can see."""
    source = f"import os\nseen = [p for p in {[str(p) for p in paths]!r} if os.path.exists(p)]"
    return Job(cells=[Cell(0, source, "cell 0")], extractions=[Extraction("ex", ["seen"], [])])


def seen(outcome: Outcome) -> list[str]:
    assert outcome.termination == "finished", outcome
    return outcome.snapshots["ex"].values["seen"]


def mount(monkeypatch: pytest.MonkeyPatch, *directories: Path) -> None:
    """Have the sandbox mount these directories, as it mounts the Python installation."""
    bound = mounts._python_dirs()
    monkeypatch.setattr(mounts, "_python_dirs", lambda: (*bound, *map(str, directories)))


@RUNNERS
def test_a_course_loaded_from_a_mounted_directory_is_hidden(
    runner: Callable[[Job], Outcome], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `--course DIR` where DIR lies in, say, site-packages or /usr/share.
    mounted = tmp_path / "mounted"
    course = mounted / "my_course"
    for part in ("exercises", "reference"):
        shutil.copytree(REPO / part, course / part)
    (mounted / "beside.txt").write_text("not a course file\n")
    mount(monkeypatch, mounted)
    [loaded] = spec.load_specs(course, ["chain_rule"])  # what marks the course as in use
    reference = loaded.reference_path
    assert reference.is_file()
    assert seen(runner(existing([reference, course / "exercises", mounted / "beside.txt"]))) == [
        str(mounted / "beside.txt")
    ]


def test_a_course_whose_specs_arrive_pickled_is_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Dask worker gets the specs pickled, never loading them itself.
    mounted = tmp_path / "mounted"
    course = mounted / "my_course"
    for part in ("exercises", "reference"):
        shutil.copytree(REPO / part, course / part)
    mount(monkeypatch, mounted)
    sent = pickle.dumps(spec.load_specs(course, ["chain_rule"]))
    monkeypatch.setattr(mounts, "_concealed", set())  # as in the worker's fresh process
    [received] = pickle.loads(sent)
    assert seen(one_off(existing([received.reference_path, mounted]))) == [str(mounted)]


def test_hidden_directories_nested_in_mounted_ones_are_hidden_at_every_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A checkout (hidden) inside a mounted directory, its venv (mounted) inside it, a wheel
    # installed in that venv (hidden); and the same seen through a symlink that is mounted.
    outer = tmp_path / "outer"
    checkout = outer / "checkout"
    site = checkout / "venv" / "site-packages"
    installed = site / "graders"
    for directory in (installed, checkout / "reference"):
        directory.mkdir(parents=True)
        (directory / "secret.py").write_text("answer = 42\n")
    (site / "numpy_stand_in.py").write_text("")
    (outer / "beside.txt").write_text("")
    link = tmp_path / "link"
    link.symlink_to(outer)
    mount(monkeypatch, outer, checkout / "venv", link)
    sandbox.conceal(checkout)
    monkeypatch.setattr(mounts, "_installed_copies", lambda: frozenset({str(installed)}))
    visible = [site / "numpy_stand_in.py", link / "beside.txt"]
    hidden = [
        checkout / "reference" / "secret.py",
        installed / "secret.py",
        link / "checkout" / "reference" / "secret.py",
        link / "checkout" / "venv" / "site-packages" / "graders" / "secret.py",
    ]
    assert seen(one_off(existing([*visible, *hidden]))) == [str(path) for path in visible]


def test_the_package_itself_is_hidden_where_python_is_mounted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As a wheel installs it, in the site-packages the sandbox mounts: the package (and
    # the course it carries) is hidden, what lies beside it is not.
    monkeypatch.setattr(mounts, "_concealed", set())  # no course in use: the package alone
    beside = sandbox.PACKAGE_DIR.parent / "pyproject.toml"
    mount(monkeypatch, sandbox.PACKAGE_DIR.parent)
    outcome = one_off(existing([sandbox.PACKAGE_DIR / "spec.py", beside]))
    assert seen(outcome) == [str(beside)]
