"""The toolkit as a student or an autograder installs it: a wheel built from the sdist,
installed (not editable) in a fresh virtual environment and used from any directory. The
course travels inside the package, and student code still cannot read it.

Offline: the wheel is built without build isolation, and the new environment takes its
dependencies (numpy, ipykernel, ...) from this checkout's environment through a .pth line.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import INSTRUCTOR_NOTEBOOK, REPO, require_bubblewrap

pytestmark = pytest.mark.slow

COURSE_FILES = sorted(
    path.relative_to(REPO).as_posix()
    for path in [*REPO.glob("exercises/*.yaml"), *REPO.glob("reference/*.py")]
)
CORRECT = """\
du_dt = 1
dv_dt = -1 / tau * np.exp(-t / tau)
df_dt = u_t * dv_dt + v_t * du_dt
"""
WRONG = CORRECT.replace("-1 / tau * ", "")
TYPED = "4a^3 e^(a^4+1)"
# Where a walking hand-in reads every file; bigger files are skipped to keep the walk to
# seconds (the course's files are a few hundred bytes).
READ_LIMIT = 64 * 1024
WALK_CELLS = 120  # cells of at most 2 s of walking each; more than a loaded machine needs


def run(*command: object, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    # Nothing of this checkout may reach the installed toolkit through the environment.
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )


def ok(completed: subprocess.CompletedProcess[str]) -> str:
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel): the sdist from a copy of this checkout, the wheel from the sdist."""
    source = tmp_path_factory.mktemp("source") / "calculus-graders"
    ignore = shutil.ignore_patterns(
        ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "out", "tests"
    )
    shutil.copytree(REPO, source, ignore=ignore)
    dist = tmp_path_factory.mktemp("dist")
    ok(run(sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", dist, source))
    [sdist] = dist.glob("*.tar.gz")
    wheel_command = ["pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    ok(run(sys.executable, "-m", *wheel_command, "--no-cache-dir", "-w", dist, sdist))
    [wheel] = dist.glob("*.whl")
    return sdist, wheel


@pytest.fixture(scope="module")
def venv(built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed, not editable."""
    root = tmp_path_factory.mktemp("env") / "venv"
    ok(run(sys.executable, "-m", "venv", "--without-pip", root))
    python = root / "bin" / "python"
    # Plain path lines: the .pth files there (this checkout's editable install) stay unread.
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site_packages(root) / "dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index"]
    ok(run(*pip, "--no-cache-dir", built[1]))
    return root


def grade(venv: Path, *args: object, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run(venv / "bin" / "calculus-grade", *args, cwd=cwd, **env)


def site_packages(venv: Path) -> Path:
    [site] = venv.glob("lib/python3*/site-packages")
    return site


def raised(completed: subprocess.CompletedProcess[str]) -> str:
    """The message of the exception a hand-in raised on purpose to report what it saw."""
    report = json.loads(completed.stdout)
    feedback = report["exercises"][0]["feedback"]
    found = re.search(r"raised RuntimeError: (.*?) at line", feedback)
    assert found, feedback
    return found.group(1)


def test_the_sdist_and_the_wheel_carry_the_course(built: tuple[Path, Path]) -> None:
    sdist, wheel = built
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        assert {f"{top}/{name}" for name in COURSE_FILES} <= set(archive.getnames())
    with zipfile.ZipFile(wheel) as archive:
        for name in COURSE_FILES:
            assert archive.read(f"graders/course/{name}") == (REPO / name).read_bytes(), name


def test_the_installed_toolkit_is_the_wheel_and_finds_its_course(
    venv: Path, tmp_path: Path
) -> None:
    code = "import graders, graders.spec as s; print(graders.__file__); print(s.DEFAULT_COURSE)"
    module, course = ok(run(venv / "bin" / "python", "-c", code, cwd=tmp_path)).split()
    assert Path(module).is_relative_to(site_packages(venv))  # not this checkout's editable one
    assert Path(course) == site_packages(venv) / "graders" / "course"


@pytest.mark.sandbox
def test_every_command_works_from_any_directory(venv: Path, tmp_path: Path) -> None:
    listed = json.loads(ok(grade(venv, "list", "--json", cwd=tmp_path)))
    assert sorted(row["id"] for row in listed) == sorted(p.stem for p in REPO.glob("exercises/*"))
    ok(grade(venv, "check", "chain_rule", "--answer", TYPED, cwd=tmp_path))
    (tmp_path / "mine.py").write_text(CORRECT)
    ok(grade(venv, "check", "product_rule_alpha", "mine.py", cwd=tmp_path))
    graded = grade(venv, "grade", INSTRUCTOR_NOTEBOOK, "--json", cwd=tmp_path)
    # The instructor notebook answers the chain rule in prose only: every code exercise of
    # its assignment passes, the typed one is not attempted, so the exit status is 1.
    assert graded.returncode == 1, graded.stderr
    statuses = {e["id"]: e["status"] for e in json.loads(graded.stdout)["exercises"]}
    assert statuses.pop("chain_rule") == "not_attempted"
    assert set(statuses.values()) == {"passed"} and len(statuses) == 3
    ok(grade(venv, "validate", cwd=tmp_path))


@pytest.mark.sandbox
def test_a_batch_through_warm_workers(venv: Path, tmp_path: Path) -> None:
    submissions = tmp_path / "class"
    submissions.mkdir()
    (submissions / "alice.py").write_text(CORRECT)
    (submissions / "bob.py").write_text(WRONG)
    completed = grade(venv, "batch", "class", "--out", "graded", "--workers", "1", cwd=tmp_path)
    assert completed.returncode == 1, completed.stderr  # bob is short of full marks
    for student, full_marks in (("alice", True), ("bob", False)):
        report = json.loads((tmp_path / "graded" / f"{student}.json").read_text())
        assert (report["score"] == report["max_score"]) is full_marks
    with (tmp_path / "graded" / "gradebook.csv").open(newline="") as file:
        assert len(list(csv.reader(file))) == 3


def walking_notebook(needles: list[str], numpy_init: str) -> nbformat.NotebookNode:
    """A hand-in that walks the whole file system it can see and reads every regular file
    of up to READ_LIMIT bytes, looking for lines of the reference solutions. To prove that
    it would find them, it first copies one into its own scratch folder. The lines arrive
    encoded, so that its own source holds none of them."""
    encoded = base64.b64encode(json.dumps(needles).encode()).decode()
    setup = f"""\
import base64, json, os, stat, time
needles = [line.encode() for line in json.loads(base64.b64decode({encoded!r}))]
planted = os.path.abspath("planted.txt")
with open(planted, "wb") as handle:
    handle.write(b"copied by hand: " + needles[0] + b"\\n")
hits, read, saw_numpy, finished = [], 0, False, False

def everything():
    for root, dirs, files in os.walk("/"):
        if root == "/":
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]  # not stored files
        for name in files:
            yield os.path.join(root, name)

walk = everything()

def scan(seconds):
    global read, saw_numpy, finished
    deadline = time.monotonic() + seconds
    for path in walk:
        try:
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode) or info.st_size > {READ_LIMIT}:
                continue
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        read += 1
        saw_numpy = saw_numpy or path == {numpy_init!r}
        if any(needle in data for needle in needles):
            hits.append(path)
        if time.monotonic() > deadline:
            return
    finished = True
"""
    cells = [setup, *["scan(2.0)"] * WALK_CELLS]
    found = "dict(finished=finished, read=read, numpy=saw_numpy, hits=sorted(hits))"
    cells.append(f'dr_da = "0"\nraise RuntimeError("walked " + json.dumps({found}))')
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    return notebook


@pytest.mark.sandbox
def test_a_hand_in_that_reads_every_file_finds_no_reference(venv: Path, tmp_path: Path) -> None:
    require_bubblewrap()
    references = sorted((site_packages(venv) / "graders" / "course" / "reference").glob("*.py"))
    assert references
    needles = [
        line.strip()
        for path in references
        for line in path.read_text().splitlines()
        if len(line.strip()) >= 20
    ]
    numpy_init = ok(run(venv / "bin" / "python", "-c", "import numpy; print(numpy.__file__)"))
    hand_in = tmp_path / "walker.ipynb"
    nbformat.write(walking_notebook(needles, numpy_init.strip()), hand_in)
    completed = grade(
        venv, "check", "chain_rule", hand_in, "--json", "--time-limit", "600", cwd=tmp_path
    )
    walked = json.loads(raised(completed).removeprefix("walked "))
    assert walked["finished"], walked
    assert walked["numpy"], walked  # it read the mounted site-packages
    assert walked["hits"] == ["/scratch/planted.txt"], walked  # its own copy, nothing else


@pytest.mark.sandbox
def test_an_installed_wheel_stays_hidden_behind_a_checkout_on_the_path(
    venv: Path, tmp_path: Path
) -> None:
    # As the LMS entrypoints run: a checkout of the toolkit first on the path, while the
    # environment may have the wheel, and the course in it, in site-packages.
    require_bubblewrap()
    installed = site_packages(venv) / "graders" / "course" / "reference" / "chain_rule.py"
    beside = site_packages(venv) / "dependencies.pth"
    paths = [str(installed), str(beside)]
    probe = (
        f"import os\ndr_da = '0'\nraise RuntimeError(str([os.path.exists(p) for p in {paths!r}]))"
    )
    (tmp_path / "probe.py").write_text(probe + "\n")
    python = venv / "bin" / "python"
    command = [python, REPO / "grade.py", "check", "chain_rule", "probe.py", "--json"]
    completed = run(*command, cwd=tmp_path)
    assert raised(completed) == "[False, True]"


@pytest.mark.sandbox
def test_check_in_a_notebook_kernel_of_the_installed_toolkit(venv: Path, tmp_path: Path) -> None:
    jupyter = tmp_path / "jupyter"
    kernel = jupyter / "kernels" / "installed"
    kernel.mkdir(parents=True)
    argv = [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "installed graders", "language": "python"}
    (kernel / "kernel.json").write_text(json.dumps(spec))
    notebook = nbformat.v4.new_notebook()
    sources = [
        "import graders\nprint(graders.__file__)",
        "import numpy as np\nt = np.arange(0, 10, .1)\ntau = 0.5\nu_t = t\nv_t = np.exp(-t/tau)",
        CORRECT,
        'from graders import check\ncheck("product_rule_alpha")',
        f'check("chain_rule", "{TYPED}")',
    ]
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    with pytest.MonkeyPatch.context() as env:
        env.delenv("PYTHONPATH", raising=False)
        env.setenv("JUPYTER_PATH", str(jupyter))
        env.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
        env.setenv("JUPYTER_PLATFORM_DIRS", "1")
        env.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
        client = NotebookClient(
            notebook,
            kernel_name="installed",
            timeout=300,
            resources={"metadata": {"path": str(tmp_path)}},
        )
        client.execute()
    [printed] = notebook.cells[0].outputs
    assert Path(printed["text"].strip()).is_relative_to(site_packages(venv))
    for cell in notebook.cells[3:]:
        [shown] = cell.outputs
        assert "passed" in shown["data"]["text/html"], shown
