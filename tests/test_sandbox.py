"""The sandbox: what student code can and cannot do, and what comes back from it.

The isolation tests need bubblewrap; where it is missing they skip, except in CI (the CI
variable set), where they fail: the promises must be checked somewhere they can be.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import socket
import struct
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from conftest import require_bubblewrap
from graders import sandbox
from graders.sandbox import (
    Call,
    Cell,
    Extraction,
    Job,
    Outcome,
    RunLimits,
    SandboxUnavailable,
    mounts,
    protocol,
    run,
    start,
)
from graders.values import PLACEHOLDER, CallFailure, Opaque, SymbolicText

FAST = RunLimits(cell_seconds=1.0, total_seconds=5.0, memory_mb=512, processes=16)
GRADER_ROOT = Path(sandbox.__file__).resolve().parents[2]


@pytest.fixture
def bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Isolation tests: bubblewrap must work (in CI it must; locally they may skip)."""
    monkeypatch.delenv("GRADERS_SANDBOX", raising=False)
    require_bubblewrap()


@pytest.fixture
def fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADERS_SANDBOX", "process")


def make_job(*sources: str, names: tuple[str, ...] = (), calls: tuple[Call, ...] = (), **kw) -> Job:
    """One cell per source ("cell 0", "cell 1", ...) and one extraction "ex"."""
    cells = [Cell(i, textwrap.dedent(source), f"cell {i}") for i, source in enumerate(sources)]
    extractions = [Extraction("ex", list(names), list(calls))] if names or calls else []
    return Job(cells=cells, extractions=extractions, **kw)


def isolated(job: Job, limits: RunLimits = FAST) -> Outcome:
    return run(job, limits, require_isolation=True)


def values(outcome: Outcome) -> dict[str, object]:
    return outcome.snapshots["ex"].values


def statuses(outcome: Outcome) -> list[str]:
    return [cell.status for cell in outcome.cells]


def path_down_to_python(directory: str | Path) -> set[str]:
    """The entries of a directory that lie on the way to the Python bound inside it."""
    entries = set()
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        relative = os.path.relpath(prefix, directory)
        if not relative.startswith(".."):
            entries.add(Path(relative).parts[0])
    return entries


def processes_with(marker: str, wait: float = 2.0) -> list[int]:
    """Host pids whose command line holds the marker, after waiting for them to go."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


# --- isolation: each promise ------------------------------------------------------------


@pytest.mark.sandbox
def test_no_network_not_even_the_hosts_loopback(bwrap: None) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        outcome = isolated(
            make_job(
                f"""
                import socket
                def attempt(action):
                    try:
                        action()
                        return "reached"
                    except OSError as exc:
                        return type(exc).__name__
                def connect(host, port):
                    socket.create_connection((host, port), timeout=1).close()
                loopback = attempt(lambda: connect("127.0.0.1", {port}))
                dns = attempt(lambda: socket.getaddrinfo("example.com", 443))
                public = attempt(lambda: connect("1.1.1.1", 53))
                """,
                names=("loopback", "dns", "public"),
            )
        )
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert outcome.termination == "finished"
    assert "reached" not in values(outcome).values()
    assert set(values(outcome)) == {"loopback", "dns", "public"}


@pytest.mark.sandbox
def test_files_outside_the_scratch_cannot_be_read_or_written(bwrap: None, tmp_path: Path) -> None:
    other = tmp_path / "other_submission.py"
    other.write_text("answer = 42\n")
    tag = uuid.uuid4().hex
    targets = [
        f"/tmp/escape-{tag}",
        f"/work/escape-{tag}",
        f"{sys.prefix}/escape-{tag}",
        f"/escape-{tag}",
        f"/dev/shm/escape-{tag}",
        f"/usr/escape-{tag}",
        f"{tmp_path}/escape-{tag}",
    ]
    outcome = isolated(
        make_job(
            f"""
            import os
            def attempt(action):
                try:
                    action()
                    return "allowed"
                except OSError as exc:
                    return type(exc).__name__
            def write(path):
                with open(path, "w") as handle:
                    handle.write("x")
            read_other = attempt(lambda: open({str(other)!r}).read())
            writes = [attempt(lambda p=p: write(p)) for p in {targets!r}]
            scratch = attempt(lambda: write("mine.txt"))
            root = sorted(os.listdir("/root")) if os.path.isdir("/root") else []
            """,
            names=("read_other", "writes", "scratch", "root"),
        )
    )
    got = values(outcome)
    assert got["read_other"] == "FileNotFoundError"
    assert "allowed" not in got["writes"], got["writes"]
    assert got["scratch"] == "allowed"
    assert set(got["root"]) <= path_down_to_python("/root")
    assert not any(os.path.exists(target) for target in targets)


@pytest.mark.sandbox
def test_the_graders_tree_is_invisible(bwrap: None, tmp_path: Path) -> None:
    marker = tmp_path / "grader_only.yaml"  # stands in for the specs and solutions
    marker.write_text("secret: 1\n")
    paths = [
        marker,
        GRADER_ROOT / "reference",
        GRADER_ROOT / "exercises",
        GRADER_ROOT / "graders",
        GRADER_ROOT / "pyproject.toml",
        GRADER_ROOT / ".git",
        Path(sandbox.__file__),
    ]
    outcome = isolated(
        make_job(
            f"""
            import os
            seen = [p for p in {[str(p) for p in paths]!r} if os.path.exists(p)]
            root = {str(GRADER_ROOT)!r}
            listing = sorted(os.listdir(root)) if os.path.isdir(root) else []
            """,
            names=("seen", "listing"),
        )
    )
    assert values(outcome)["seen"] == []
    # The grader's directory shows at most the path down to the venv bound inside it.
    assert set(values(outcome)["listing"]) <= path_down_to_python(GRADER_ROOT)


@pytest.mark.sandbox
def test_grader_files_inside_a_bound_directory_are_masked(
    bwrap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if Python were installed around the grader's tree: the tree is bound, then masked,
    # and the venv inside it bound again.
    bound = mounts._python_dirs()
    monkeypatch.setattr(mounts, "_python_dirs", lambda: (*bound, str(GRADER_ROOT)))
    outcome = isolated(
        make_job(
            f"""
            import os
            seen = os.path.exists({str(GRADER_ROOT / "graders")!r})
            x = np.arange(2)
            """,
            names=("seen", "x"),
        )
    )
    assert values(outcome)["seen"] is False
    assert values(outcome)["x"].tolist() == [0, 1]


@pytest.mark.sandbox
def test_environment_is_scrubbed_and_namespaces_are_new(
    bwrap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "do-not-leak")
    outcome = isolated(
        make_job(
            """
            import os, sys
            environment = dict(os.environ)
            cwd = os.getcwd()
            isolated_flag = sys.flags.isolated
            capabilities = [l for l in open("/proc/self/status") if l.startswith("CapEff")][0]
            visible_pids = len([p for p in os.listdir("/proc") if p.isdigit()])
            """,
            names=("environment", "cwd", "isolated_flag", "capabilities", "visible_pids"),
        )
    )
    got = values(outcome)
    assert "GRADER_SECRET_TOKEN" not in str(got["environment"])
    assert got["cwd"] == mounts.INSIDE_SCRATCH
    assert got["isolated_flag"] == 1
    assert got["capabilities"].split()[1] == "0" * 16
    assert got["visible_pids"] < 5  # a pid namespace of its own: bwrap's init and python


@pytest.mark.sandbox
def test_a_cell_over_its_soft_limit_times_out_and_the_next_still_runs(bwrap: None) -> None:
    outcome = isolated(
        make_job("x = 1", "while True:\n    pass", "y = 2", names=("x", "y")),
        RunLimits(cell_seconds=0.3, total_seconds=5),
    )
    assert statuses(outcome) == ["ok", "timeout", "ok"]
    assert outcome.cells[1].exception == "TimeoutError"
    assert outcome.termination == "finished"
    assert values(outcome) == {"x": 1, "y": 2}


# Ignores the soft limit's signal: only the hard limit, from outside, can stop it.
STUBBORN = "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\ntime.sleep(1000)"


@pytest.mark.sandbox
def test_code_that_ignores_the_soft_limit_is_killed_at_the_hard_one(bwrap: None) -> None:
    began = time.monotonic()
    outcome = isolated(
        make_job("x = 1", STUBBORN, "y = 2", names=("x", "y")),
        RunLimits(cell_seconds=0.2, total_seconds=1.5),
    )
    assert time.monotonic() - began < 4
    assert outcome.termination == "timeout"
    assert statuses(outcome) == ["ok", "timeout", "skipped"]
    assert values(outcome) == {"x": 1}  # the snapshot sent before the hang is kept


SPAWN_SLEEPERS = """
import os, subprocess, sys, time
MARK = {marker!r}
sleeper = [sys.executable, "-c", "import time; time.sleep(1000)", MARK]
subprocess.Popen(sleeper)
if os.fork() == 0:  # a daemon: its own session, its parent gone
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, sleeper)
    os._exit(0)
time.sleep(0.5)
running = sum(MARK.encode() in open(f"/proc/{{p}}/cmdline", "rb").read()
              for p in os.listdir("/proc") if p.isdigit())
"""


@pytest.mark.sandbox
@pytest.mark.parametrize("ending", ["finished", "timeout"])
def test_descendants_do_not_outlive_the_run(bwrap: None, ending: str) -> None:
    marker = f"sandbox-sleeper-{uuid.uuid4().hex}"
    cells = [SPAWN_SLEEPERS.format(marker=marker)] + ([STUBBORN] if ending == "timeout" else [])
    outcome = isolated(make_job(*cells, names=("running",)), RunLimits(total_seconds=2.5))
    assert outcome.termination == ending
    assert values(outcome) == {"running": 2}
    assert processes_with(marker) == []


@pytest.mark.sandbox
def test_running_out_of_memory_is_reported_and_earlier_snapshots_kept(bwrap: None) -> None:
    outcome = isolated(
        make_job("x = np.arange(3)", "big = np.ones(4 * 2**30 // 8)", "y = 1", names=("x", "y")),
        RunLimits(memory_mb=512),
    )
    assert outcome.cells[1].status == "memory" or outcome.termination == "memory_limit"
    assert values(outcome)["x"].tolist() == [0, 1, 2]


def fork_bomb(marker: str) -> str:
    """Student code that tries to start 500 sleeping processes tagged with ``marker``."""
    return f"""
    import os, sys
    sleeper = [sys.executable, "-c", "import time; time.sleep(5)", {marker!r}]
    children = 0
    for _ in range(500):
        if os.fork() == 0:
            try:
                os.execv(sys.executable, sleeper)
            finally:
                os._exit(1)
        children += 1
    """


@pytest.mark.sandbox
def test_a_fork_bomb_is_contained(bwrap: None) -> None:
    marker = f"sandbox-bomb-{uuid.uuid4().hex}"
    bomb = fork_bomb(marker)
    outcome = isolated(make_job(bomb, "after = 1", names=("children", "after")))
    assert outcome.cells[0].status == "error"
    assert outcome.cells[0].exception == "BlockingIOError"
    assert outcome.termination == "finished"
    assert values(outcome) == {"children": pytest.approx(12, abs=4), "after": 1}  # of 16
    assert subprocess.run(["true"], check=False).returncode == 0  # the host still forks
    assert processes_with(marker) == []


@pytest.mark.sandbox
def test_file_size_and_scratch_size_are_bounded(bwrap: None) -> None:
    outcome = isolated(
        make_job(
            """
            def write(name, size):
                with open(name, "wb") as handle:
                    handle.write(b"x" * size)
            try:
                write("big.bin", 3 * 2**20)
                big = "written"
            except OSError as exc:
                big = exc.errno
            filled = None
            for number in range(100):
                try:
                    write(f"part{number}.bin", 2**20 + 2**19)
                except OSError as exc:
                    filled = (number, exc.errno)
                    break
            """,
            names=("big", "filled"),
        ),
        RunLimits(file_size_mb=2),
    )
    assert values(outcome)["big"] == errno.EFBIG
    number, code = values(outcome)["filled"]
    assert code == errno.ENOSPC and number <= 6  # the scratch holds 4 x 2 MB


@pytest.mark.sandbox
def test_printing_forever_stops_the_run_and_keeps_a_prefix(bwrap: None) -> None:
    outcome = isolated(
        make_job("x = 1", "while True:\n    print('y' * 100)", names=("x",)),
        RunLimits(output_kb=4, total_seconds=5),
    )
    assert outcome.termination == "output_limit"
    assert outcome.stdout.startswith("y" * 100 + "\n")
    assert len(outcome.stdout) <= 4096
    assert values(outcome) == {"x": 1}


@pytest.mark.sandbox
def test_a_result_printed_by_the_student_is_only_output(bwrap: None) -> None:
    fake = json.dumps(
        {
            "type": "snapshot",
            "cell": 0,
            "extraction": 0,
            "values": {"x": {"t": "int", "v": "2a"}},
            "calls": [],
        }
    )
    outcome = isolated(
        make_job(
            f"""
            import struct, sys
            fake = {fake!r}
            print(fake)
            sys.stdout.flush()
            sys.stdout.buffer.write(struct.pack(">I", len(fake)) + fake.encode())
            sys.stderr.write(fake)
            x = 1
            """,
            names=("x",),
        )
    )
    assert outcome.termination == "finished"
    assert values(outcome) == {"x": 1}
    assert fake in outcome.stdout


@pytest.mark.sandbox
def test_rigged_objects_cross_as_opaque_or_as_their_plain_data(bwrap: None) -> None:
    outcome = isolated(
        make_job(
            """
            class X:
                __eq__ = lambda self, other: True
                __array__ = lambda self, *args, **kwargs: np.zeros(3)
                __float__ = lambda self: 0.0
                __repr__ = __str__ = lambda self: "array([0., 0., 0.])"
            class Meta(type):
                __hash__ = lambda cls: 1 / 0
                __name__ = property(lambda cls: "ndarray")
            class Sneaky(metaclass=Meta):
                __module__ = "sympy.core"
                __str__ = lambda self: "x**2"
            class Lying(float):
                __eq__ = lambda self, other: True
                __float__ = lambda self: 99.0
            class Sub(np.ndarray):
                def tobytes(self, *args):
                    raise RuntimeError("rigged")
            answer = X()
            sneaky = Sneaky()
            lying = Lying(2.5)
            sub = np.arange(3.0).view(Sub)
            """,
            names=("answer", "sneaky", "lying", "sub"),
        )
    )
    got = values(outcome)
    assert got["answer"] == Opaque("X", "")
    assert got["sneaky"] == SymbolicText("x**2")  # only ever text, re-parsed by the grader
    assert type(got["lying"]) is float and got["lying"] == 2.5
    assert type(got["sub"]) is np.ndarray and got["sub"].tolist() == [0.0, 1.0, 2.0]


@pytest.mark.sandbox
def test_garbage_on_every_descriptor_gives_at_worst_a_channel_error(bwrap: None) -> None:
    outcome = isolated(
        make_job(
            "x = 1",
            """
            import os
            for fd in {*range(3, 21), *map(int, os.listdir("/proc/self/fd"))} - {0, 1, 2}:
                try:
                    os.write(fd, b"\\xff\\xff\\x00\\x10garbage{not json")
                except OSError:
                    pass
            y = 2
            """,
            names=("x", "y"),
        )
    )
    assert outcome.termination in ("channel_error", "crashed", "finished")
    assert values(outcome)["x"] == 1


@pytest.mark.sandbox
def test_a_malformed_message_on_the_channel_is_a_channel_error(bwrap: None) -> None:
    outcome = isolated(
        make_job(
            "x = 1",
            "import os, sys\nos.write(int(sys.argv[1]), b'\\x00\\x00\\x00\\x05hello')\ny = 2",
            names=("x", "y"),
        )
    )
    assert outcome.termination == "channel_error"
    assert values(outcome) == {"x": 1}


# --- the fallback ---------------------------------------------------------------------


@pytest.mark.sandbox
def test_fallback_runs_a_plain_process(fallback: None) -> None:
    outcome = run(make_job("x = np.arange(3)", names=("x",)), FAST)
    assert outcome.isolation == "process"
    assert outcome.termination == "finished"
    assert values(outcome)["x"].tolist() == [0, 1, 2]


@pytest.mark.sandbox
def test_fallback_enforces_the_time_limits(fallback: None) -> None:
    marker = f"sandbox-sleeper-{uuid.uuid4().hex}"
    outcome = run(
        make_job("while True: pass", SPAWN_SLEEPERS.format(marker=marker), STUBBORN),
        RunLimits(cell_seconds=0.8, total_seconds=2.5),
    )
    assert outcome.isolation == "process"
    assert statuses(outcome) == ["timeout", "ok", "timeout"]
    assert outcome.termination == "timeout"
    assert processes_with(marker) == []


def test_isolation_can_be_required(fallback: None) -> None:
    with pytest.raises(SandboxUnavailable):
        start(FAST, require_isolation=True)


@pytest.mark.sandbox
def test_an_unused_run_can_be_closed() -> None:
    started = start(FAST)
    started.close()
    assert started._child.process.poll() is not None
    with pytest.raises(RuntimeError):
        started.submit(make_job("x = 1"))


# --- cells and what they report --------------------------------------------------------


@pytest.mark.sandbox
def test_an_erroring_cell_does_not_stop_the_next() -> None:
    outcome = run(make_job("x = 1 / 0", "y = 2", names=("y",)), FAST)
    assert statuses(outcome) == ["error", "ok"]
    first = outcome.cells[0]
    assert (first.exception, first.message) == ("ZeroDivisionError", "division by zero")
    assert (first.line, first.code) == (1, "x = 1 / 0")
    assert values(outcome) == {"y": 2}


@pytest.mark.sandbox
def test_exits_are_errors_or_end_the_run() -> None:
    outcome = run(
        make_job(
            "x = 1",
            "import sys\nsys.exit(3)",
            "y = 2",
            "import os\nos._exit(0)",
            "z = 3",
            names=("x", "y", "z"),
        ),
        FAST,
    )
    assert statuses(outcome) == ["ok", "error", "ok", "skipped", "skipped"]
    assert outcome.cells[1].exception == "SystemExit"
    assert outcome.termination == "crashed"
    assert values(outcome) == {"x": 1, "y": 2}


@pytest.mark.sandbox
def test_reports_carry_the_static_names_and_the_raise_line() -> None:
    cell = "t = np.arange(3)\nraise NotImplementedError('fill in')\ndt = t[1] - t[0]\n"
    outcome = run(make_job(cell, names=("dt",)), FAST)
    report = outcome.cells[0]
    assert report.assigned == ["t", "dt"]
    assert (report.exception, report.line) == ("NotImplementedError", 2)
    assert report.code == "raise NotImplementedError('fill in')"
    assert values(outcome) == {}  # dt was never bound


@pytest.mark.sandbox
def test_line_numbers_point_at_the_students_own_line() -> None:
    outcome = run(
        make_job(
            "a = 1\nb = 2\nhelper(a)\n",
            "def inner(x):\n    return np.reshape(x, (2, 2))\n",
            "t = np.arange(3)\n\nr = inner(t)\n",
            "x = (1,\ny = 2\n",
            prelude="def helper(v):\n    raise ValueError('bad value')\n",
        ),
        FAST,
    )
    assert [(c.line, c.code) for c in outcome.cells] == [
        (3, "helper(a)"),
        (None, None),
        (3, "r = inner(t)"),
        (1, "x = (1,"),
    ]
    assert outcome.cells[2].exception == "ValueError"
    assert outcome.cells[3].exception == "SyntaxError"
    assert outcome.cells[3].assigned == []


# --- values ---------------------------------------------------------------------------


@pytest.mark.sandbox
def test_values_cross_as_plain_data() -> None:
    outcome = run(
        make_job(
            """
            f32 = np.linspace(0, 1, 5, dtype=np.float32)
            i32 = np.arange(4, dtype=np.int32).reshape(2, 2)
            u8 = np.array([1, 255], dtype=np.uint8)
            u64 = np.array([2**64 - 1], dtype=np.uint64)
            flags = np.array([True, False])
            z = np.array([1 + 2j])
            zero_d = np.array(3.5)
            empty = np.zeros((0, 3))
            nested = [1, (2.5, "s"), [None, True], ()]
            scalars = (np.float64(1.5), np.int32(7), np.bool_(True), np.complex64(1j))
            numbers = (2**100, -7, float("nan"), float("-inf"), -0.0, 1e-300)
            text = "héllo\\n"
            placeholder = ...
            half_done = [1, ...]
            objects = np.array([1, "a"], dtype=object)
            mapping = {"a": 1}
            function = lambda t, h=1: t
            module = np
            long_text = "x" * 200_000
            loop = []
            loop.append(loop)
            """,
            names=(
                *("f32", "i32", "u8", "u64", "flags", "z", "zero_d", "empty", "nested"),
                *("scalars", "numbers", "text", "placeholder", "half_done", "objects"),
                *("mapping", "function", "module", "long_text", "loop", "never_bound"),
            ),
        ),
        FAST,
    )
    got = values(outcome)
    assert got["f32"].dtype == np.float64 and got["f32"].tolist() == [0, 0.25, 0.5, 0.75, 1]
    assert got["i32"].dtype == np.int64 and got["i32"].shape == (2, 2)
    assert got["u8"].dtype == np.int64 and got["u8"].tolist() == [1, 255]
    assert got["u64"].dtype == np.uint64 and got["u64"].tolist() == [2**64 - 1]
    assert got["flags"].dtype == np.bool_ and got["flags"].tolist() == [True, False]
    assert got["z"].tolist() == [1 + 2j]
    assert got["zero_d"].shape == () and float(got["zero_d"]) == 3.5
    assert got["empty"].shape == (0, 3)
    assert got["nested"] == [1, (2.5, "s"), [None, True], ()]
    assert got["scalars"] == (1.5, 7, True, 1j)
    assert [type(v) for v in got["scalars"]] == [float, int, bool, complex]
    big, negative, nan, minus_inf, minus_zero, tiny = got["numbers"]
    assert (big, negative, minus_inf, tiny) == (2**100, -7, float("-inf"), 1e-300)
    assert nan != nan and str(minus_zero) == "-0.0"
    assert got["text"] == "héllo\n"
    assert got["placeholder"] is PLACEHOLDER
    assert got["half_done"] == [1, PLACEHOLDER]
    assert got["objects"] == Opaque("numpy.ndarray", "dtype |O, shape (2,)")
    assert got["mapping"] == Opaque("dict", "")
    assert got["function"] == Opaque("function", "<lambda>(t, h)")
    assert got["module"] == Opaque("module", "module numpy")
    assert isinstance(got["long_text"], Opaque)
    assert isinstance(got["loop"], list) and "nested too deeply" in str(got["loop"])
    assert "never_bound" not in got


@pytest.mark.sandbox
def test_sympy_objects_cross_as_text() -> None:
    outcome = run(
        make_job(
            "import sympy\nt = sympy.Symbol('t')\nexpr = sympy.sin(t) ** 2\n",
            "derivative = sp.diff(expr, t)",
            names=("expr", "derivative"),
            lazy_modules={"sp": "sympy"},
        ),
        RunLimits(total_seconds=15),
    )
    assert values(outcome) == {
        "expr": SymbolicText("sin(t)**2"),
        "derivative": SymbolicText("2*sin(t)*cos(t)"),
    }


@pytest.mark.sandbox
def test_lazy_matplotlib_works_headless() -> None:
    outcome = run(
        make_job(
            "plt.plot([1, 2, 3])\nplt.savefig('figure.png')",
            "drawn = 1",
            names=("drawn",),
            lazy_modules={"plt": "matplotlib.pyplot"},
        ),
        RunLimits(total_seconds=15),
    )
    assert statuses(outcome) == ["ok", "ok"], outcome.cells[0]
    assert values(outcome) == {"drawn": 1}


@pytest.mark.sandbox
def test_calls_get_fresh_arrays_and_return_tuples() -> None:
    function = """
    def f(t, scale, flags, n):
        assert t.dtype == np.float64 and flags.dtype == bool
        t *= 2  # must not change what the next call gets
        return t * scale, int(flags.sum()), n + 1
    """
    arguments = {"t": np.arange(3.0), "scale": 2, "flags": np.array([True, True]), "n": np.int64(4)}
    outcome = run(make_job(function, calls=(Call("f", arguments), Call("f", arguments))), FAST)
    first, second = outcome.snapshots["ex"].calls
    assert isinstance(first, tuple) and len(first) == 3
    assert first[0].tolist() == [0.0, 4.0, 8.0] and first[1:] == (2, 5)
    assert second[0].tolist() == first[0].tolist()
    assert outcome.snapshots["ex"].after_cell == 0


@pytest.mark.sandbox
def test_failing_calls_report_the_students_line() -> None:
    cells = (
        "def g(x):\n    y = x + 1\n    return y / 0\n",
        "def slow():\n    while True:\n        pass\n",
    )
    outcome = run(
        make_job(
            *cells,
            names=("g",),
            calls=(Call("g", {"x": 1}), Call("missing", {}), Call("slow", {})),
        ),
        RunLimits(cell_seconds=0.3),
    )
    failing, missing, slow = outcome.snapshots["ex"].calls
    assert failing == CallFailure("ZeroDivisionError", "division by zero", 3, "return y / 0")
    assert missing == CallFailure("NameError", "name 'missing' is not defined")
    assert isinstance(slow, CallFailure) and slow.exception == "TimeoutError"
    assert slow.code in ("while True:", "pass")


# --- the decoder ----------------------------------------------------------------------


def encoded(data: bytes) -> str:
    return base64.b64encode(data).decode()


def nested(depth: int) -> dict[str, object]:
    node: dict[str, object] = {"t": "none"}
    for _ in range(depth):
        node = {"t": "list", "items": [node]}
    return node


@pytest.mark.parametrize(
    "node",
    [
        {"t": "array", "dtype": "object", "shape": [1], "data": encoded(b"\0" * 8)},
        {"t": "array", "dtype": ">f8", "shape": [1], "data": encoded(b"\0" * 8)},
        {"t": "array", "dtype": "float64", "shape": [2], "data": encoded(b"\0" * 8)},
        {"t": "array", "dtype": "float64", "shape": [-1], "data": ""},
        {"t": "array", "dtype": "float64", "shape": [10**5, 10**5], "data": ""},
        {"t": "array", "dtype": "float64", "shape": [1], "data": "not base64!"},
        {"t": "array", "dtype": "bool", "shape": [1], "data": encoded(b"\x02")},
        {"t": "pickle", "v": encoded(b"cos\nsystem\n")},
        {"t": "int", "v": "12 "},
        {"t": "int", "v": 12},
        {"t": "float", "v": 1.5},
        {"t": "bool", "v": 1},
        {"t": "str", "v": "x", "extra": 1},
        {"t": "list", "items": "abc"},
        {"t": "opaque", "type": "x" * 10_000, "summary": ""},
        nested(protocol.MAX_DEPTH + 1),
        "a bare string",
    ],
)
def test_the_decoder_accepts_plain_data_only(node: object) -> None:
    with pytest.raises(protocol.ChannelError):
        protocol.decode_value(node)


def test_the_decoder_rejects_bad_frames_and_out_of_order_messages() -> None:
    def frame(text: str) -> bytes:
        return struct.pack(">I", len(text)) + text.encode()

    for data in (frame("NaN"), frame('{"a": 1, "a": 2}'), frame("[[[" * 5000), b"\xff" * 8):
        with pytest.raises(protocol.ChannelError):
            list(protocol.FrameReader().feed(data))
    job = make_job("x = 1", names=("x",))
    replies = protocol.Protocol(job, [["x"]], [[0]])
    with pytest.raises(protocol.ChannelError):
        replies.handle({"type": "cell", "cell": 0, "status": "ok"})
    with pytest.raises(protocol.ChannelError):
        replies.handle({"type": "start", "cell": True})
    with pytest.raises(protocol.ChannelError):
        replies.handle({"type": "done"})
