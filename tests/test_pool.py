"""Warm sandbox workers (sandbox.Pool): the promises of a one-off run, job after job.

Each pooled job is forked from a zygote that never runs student code, so the tests here
check both that a pooled job behaves as a one-off run and that nothing one job does
reaches the next. The isolation tests need bubblewrap: they skip where it is missing,
except in CI (the CI variable set), where they fail.
"""

from __future__ import annotations

import errno
import os
import platform
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_sandbox import (
    SPAWN_SLEEPERS,
    STUBBORN,
    fork_bomb,
    make_job,
    processes_with,
    statuses,
    values,
)

from conftest import REPO, require_bubblewrap
from graders import engine, sandbox, spec, submission
from graders.batch import WARM_LIBRARIES
from graders.sandbox import Call, Outcome, Pool, RunLimits, mounts
from graders.sandbox import pool as pool_module
from graders.sandbox.child import import_or_forget

LIMITS = RunLimits(cell_seconds=0.5, total_seconds=4.0, memory_mb=512, processes=16)


def isolated_pool(workers: int, limits: RunLimits = LIMITS, preload: tuple[str, ...] = ()) -> Pool:
    require_bubblewrap()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GRADERS_SANDBOX", raising=False)
        return Pool(workers, limits, require_isolation=True, preload=preload)


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    """Two isolated workers, shared by the tests that leave them as they found them."""
    with isolated_pool(2) as shared:
        yield shared


def plain_pool_of(workers: int, limits: RunLimits = LIMITS) -> Pool:
    """A pool without bubblewrap, as where it is missing."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADERS_SANDBOX", "process")
        return Pool(workers, limits)


@pytest.fixture(scope="module")
def plain_pool() -> Iterator[Pool]:
    with plain_pool_of(1) as shared:
        yield shared


def comparable(outcome: Outcome) -> dict[str, object]:
    """What a caller reads from an outcome, timing aside; arrays as lists."""
    snapshots = {
        name: (snapshot.after_cell, _plain(snapshot.values), _plain(snapshot.calls))
        for name, snapshot in outcome.snapshots.items()
    }
    return {
        "cells": outcome.cells,
        "snapshots": snapshots,
        "termination": outcome.termination,
        "stdout": outcome.stdout,
        "stderr": outcome.stderr,
        "isolation": outcome.isolation,
        "setup_failed": outcome.setup_failed,
    }


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value.tolist() if hasattr(value, "tolist") else value


# A job's scratch starts with empty directories only (those its libraries made at import).
FILES_LEFT = (
    "import os\n"
    "files_left = sorted(os.path.join(top, name)\n"
    "                    for top, _, names in os.walk('.') for name in names)"
)

ORDINARY_JOBS = [
    make_job("x = np.arange(3.0)", "y = 1 / 0", "print('hi'); z = x * 2", names=("x", "z")),
    make_job(
        "def f(a):\n    return a + 1, str(a)",
        "import sys\nsys.stderr.write('warned')\nimport os\nos._exit(0)",
        names=("f",),
        calls=(Call("f", {"a": 2}),),
    ),
    make_job("while True:\n    pass", "import os\ncwd = os.getcwd()", names=("cwd",)),
    make_job("x = 1", "while True:\n    print('y' * 100)", names=("x",)),  # output limit
    make_job(
        """
        try:
            open("big.bin", "wb").write(b"x" * 17 * 2**20)  # over the 16 MB file size
        except OSError as exc:
            big = exc.errno
        """,
        names=("big",),
    ),
]


@pytest.mark.sandbox
@pytest.mark.parametrize("number", range(len(ORDINARY_JOBS)))
def test_a_pooled_job_gives_the_outcome_of_a_one_off_run(pool: Pool, number: int) -> None:
    job = ORDINARY_JOBS[number]
    pooled = pool.start().submit(job)
    assert comparable(pooled) == comparable(sandbox.run(job, LIMITS, require_isolation=True))


@pytest.mark.sandbox
def test_the_tutorials_libraries_work_in_a_pooled_job_as_in_a_one_off_run() -> None:
    # Imported by the zygote, in a home each job then covers with its own.
    job = make_job(
        """
        import os
        import matplotlib
        import matplotlib.pyplot as plt
        import sympy
        with plt.xkcd():
            plt.plot([0, 1], [1, 0])
            plt.savefig("figure.png")
        cache = os.path.relpath(matplotlib.get_cachedir())
        open(os.path.join(cache, "written.txt"), "w").write("x")
        files = sorted(os.listdir("."))
        a = sympy.Symbol("a")
        derivative = str(sympy.diff(sympy.exp(a**4 + 1), a))
        """,
        names=("cache", "files", "derivative"),
    )
    preloaded = make_job(
        "import sys\npreloaded = [name in sys.modules for name in LIBRARIES]",
        prelude=f"LIBRARIES = {WARM_LIBRARIES!r}",
        names=("preloaded",),
    )
    roomy = RunLimits(cell_seconds=20, total_seconds=30, memory_mb=1024, processes=16)
    with isolated_pool(1, roomy, preload=WARM_LIBRARIES) as warm:
        pooled = warm.start().submit(job)
        assert values(warm.start().submit(preloaded)) == {"preloaded": [True, True, True]}
    assert "figure.png" in values(pooled)["files"]
    assert comparable(pooled) == comparable(sandbox.run(job, roomy, require_isolation=True))


def test_a_package_failing_halfway_through_its_import_is_forgotten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As matplotlib in a read-only home: its submodules imported, then an OSError.
    package = tmp_path / "halfway"
    package.mkdir()
    (package / "part.py").write_text("")
    (package / "__init__.py").write_text("from . import part\nraise OSError('no home')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import_or_forget("halfway")
    assert not any(name.startswith("halfway") for name in sys.modules)


@pytest.mark.sandbox
def test_sysctls_are_read_only_pooled_or_not(pool: Pool) -> None:
    # uid 0 inside is the host's uid 0, which is all most sysctls ask of a writer.
    job = make_job(
        """
        import os
        def opened(path):
            try:
                os.close(os.open(path, os.O_WRONLY))
                return "opened"
            except OSError as exc:
                return exc.errno
        host = opened("/proc/sys/vm/swappiness")
        shared = opened("/proc/sys/kernel/hostname")  # a worker's jobs share its uts namespace
        """,
        names=("host", "shared"),
    )
    read_only = {"host": errno.EROFS, "shared": errno.EROFS}
    assert values(pool.start().submit(job)) == read_only
    assert values(sandbox.run(job, LIMITS, require_isolation=True)) == read_only


@pytest.mark.sandbox
def test_concurrent_jobs_each_get_their_own_values_and_output(pool: Pool) -> None:
    def grade(number: int) -> tuple[object, str]:
        job = make_job(f"import time\ntime.sleep(0.02)\nx = {number}\nprint(x)", names=("x",))
        outcome = pool.start().submit(job)
        return values(outcome)["x"], outcome.stdout

    with ThreadPoolExecutor(4) as threads:
        got = list(threads.map(grade, range(20)))
    assert got == [(number, f"{number}\n") for number in range(20)]


@pytest.mark.sandbox
def test_a_run_closed_unused_gives_its_worker_back(plain_pool: Pool) -> None:
    plain_pool.start().close()
    outcome = plain_pool.start().submit(make_job("x = 1", names=("x",)))
    assert values(outcome) == {"x": 1}


@pytest.mark.sandbox
def test_grading_through_the_pool_matches_grading_alone(pool: Pool) -> None:
    product = spec.find("product_rule_alpha")
    for example in ("product_rule_correct.py", "product_rule_chain_rule_forgotten.py"):
        handed_in = submission.load(REPO / "examples" / example)
        alone = engine.grade(handed_in, [product]).to_dict()
        assert engine.grade(handed_in, [product], run=pool.start()).to_dict() == alone


# Written by job 1, looked for by job 2 on the same worker.
KEYRING = {"x86_64": (248, 250), "aarch64": (217, 219)}.get(platform.machine())
LEAVE_TRACES = """
import ctypes, os, subprocess, sys
open("left_in_scratch.txt", "w").write("x")
try:
    open("/tmp/left_in_tmp.txt", "w").write("x")
except OSError:
    pass
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)", {marker!r}])
os.environ["LEFT_BEHIND"] = "1"
np.SECRET = 1
sys.modules["json"].SECRET = 1
import matplotlib
matplotlib.rcParams["lines.linewidth"] = 42
open(os.path.join(matplotlib.get_cachedir(), "left_in_cache.txt"), "w").write("x")
ctypes.CDLL(None).shmget(0x5EC7E7, 4096, 0o1000 | 0o600)  # IPC_CREAT: a SysV segment
if {keyring!r}:
    libc = ctypes.CDLL(None)
    libc.syscall({keyring!r}[0], b"user", b"left", b"x", 1, -4)  # add_key to @u
"""
LOOK_FOR_TRACES = """
import ctypes, json, os, sys
{files_left}
scratch = files_left
in_tmp = os.path.exists("/tmp/left_in_tmp.txt")
environment = "LEFT_BEHIND" in os.environ
import matplotlib
secrets = [hasattr(np, "SECRET"), hasattr(json, "SECRET")]
line_width = matplotlib.rcParams["lines.linewidth"]
processes = sorted(p for p in os.listdir("/proc") if p.isdigit())
segment = ctypes.CDLL(None).shmget(0x5EC7E7, 0, 0)
keys = 0
if {keyring!r}:
    buffer = ctypes.create_string_buffer(64)
    keys = ctypes.CDLL(None).syscall({keyring!r}[1], 11, -4, buffer, 64)  # KEYCTL_READ @u
"""


@pytest.mark.sandbox
def test_nothing_of_a_job_reaches_the_next() -> None:
    marker = f"pool-sleeper-{uuid.uuid4().hex}"
    # One worker: both jobs come from the same zygote, which has imported matplotlib.
    with isolated_pool(1, preload=WARM_LIBRARIES) as alone:
        first = alone.start().submit(make_job(LEAVE_TRACES.format(marker=marker, keyring=KEYRING)))
        second = alone.start().submit(
            make_job(
                LOOK_FOR_TRACES.format(keyring=KEYRING, files_left=FILES_LEFT),
                names=(
                    "scratch",
                    "in_tmp",
                    "environment",
                    "secrets",
                    "line_width",
                    "processes",
                    "segment",
                    "keys",
                ),
            )
        )
    assert statuses(first) == ["ok"], first.cells
    assert values(second) == {
        "scratch": [],
        "in_tmp": False,
        "environment": False,
        "secrets": [False, False],
        "line_width": 1.5,
        "processes": ["1", "2"],  # the job's own init and runner
        "segment": -1,
        "keys": 0,
    }
    assert processes_with(marker) == []


@pytest.mark.sandbox
def test_a_hard_timeout_kills_that_job_only_and_the_pool_goes_on() -> None:
    marker = f"pool-sleeper-{uuid.uuid4().hex}"
    with isolated_pool(2, RunLimits(cell_seconds=1.0, total_seconds=1.5)) as timed:
        with ThreadPoolExecutor(2) as threads:
            stuck = threads.submit(
                timed.start().submit,
                make_job(SPAWN_SLEEPERS.format(marker=marker), STUBBORN, names=("running",)),
            )
            time.sleep(0.3)
            meanwhile = timed.start().submit(
                make_job("import time\ntime.sleep(0.5)\nx = 1", names=("x",))
            )
            hung = stuck.result()
        after = timed.start().submit(make_job("x = 2", names=("x",)))
    assert hung.termination == "timeout"
    assert values(hung) == {"running": 2}
    assert processes_with(marker) == []
    assert (meanwhile.termination, values(meanwhile)) == ("finished", {"x": 1})
    assert values(after) == {"x": 2}


@pytest.mark.sandbox
def test_memory_hogs_and_fork_bombs_are_contained(pool: Pool) -> None:
    marker = f"pool-bomb-{uuid.uuid4().hex}"
    bomb = fork_bomb(marker)
    hog = pool.start().submit(make_job("x = 1", "big = np.ones(4 * 2**30 // 8)", names=("x",)))
    bombed = pool.start().submit(make_job(bomb, "after = 1", names=("children", "after")))
    normal = pool.start().submit(make_job(f"{FILES_LEFT}\nx = len(files_left)", names=("x",)))
    assert hog.cells[1].status == "memory" or hog.termination == "memory_limit"
    assert values(hog) == {"x": 1}
    assert bombed.cells[0].exception == "BlockingIOError"
    assert values(bombed) == {"children": pytest.approx(12, abs=4), "after": 1}  # of 16
    assert processes_with(marker) == []
    assert (normal.termination, values(normal)) == ("finished", {"x": 0})


@pytest.mark.sandbox
@pytest.mark.parametrize(
    "attack",
    [
        "os.kill(os.getppid(), signal.SIGKILL)",
        "os.kill(-1, signal.SIGKILL)",
        "os.kill(1, signal.SIGKILL)",
        "os.killpg(0, signal.SIGKILL)",
    ],
)
def test_a_job_that_kills_what_it_can_ends_only_itself(pool: Pool, attack: str) -> None:
    hit = pool.start().submit(make_job("x = 1", f"import os, signal\n{attack}", names=("x",)))
    assert values(hit) == {"x": 1}
    assert hit.termination in ("finished", "crashed", "memory_limit")  # SIGKILL reads as OOM
    next_job = pool.start().submit(make_job("x = 2", names=("x",)))
    assert (next_job.termination, values(next_job)) == ("finished", {"x": 2})


@pytest.mark.sandbox
def test_garbage_and_forged_messages_spoil_only_their_own_job(pool: Pool) -> None:
    forger = make_job(
        "x = 1",
        """
        import os, sys
        os.write(int(sys.argv[1]), b'\\x00\\x00\\x00\\x05hello')
        for fd in {*range(3, 64), *map(int, os.listdir("/proc/self/fd"))} - {0, 1, 2}:
            try:
                os.write(fd, b"\\x00\\x00\\x00\\x0f" + b'{"op":"exited"}')
            except OSError:
                pass
        y = 2
        """,
        names=("x", "y"),
    )
    honest = make_job("import time\ntime.sleep(0.3)\nz = 3", names=("z",))
    with ThreadPoolExecutor(2) as threads:
        honest_outcome = threads.submit(pool.start().submit, honest)
        forged = pool.start().submit(forger)
        assert honest_outcome.result().termination == "finished"
    assert values(honest_outcome.result()) == {"z": 3}
    assert forged.termination == "channel_error"
    assert values(forged) == {"x": 1}


@pytest.mark.sandbox
def test_a_worker_killed_from_outside_is_replaced() -> None:
    others = _descendants(os.getpid())
    with isolated_pool(1) as alone:
        before = alone.start().submit(make_job("x = 1", names=("x",)))
        zygotes = [pid for pid in _descendants(os.getpid()) - others if _is_zygote(pid)]
        for pid in zygotes:  # as the out-of-memory killer would
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        after = alone.start().submit(make_job("x = 2", names=("x",)))
    assert values(before) == {"x": 1}
    assert len(zygotes) == 1
    assert (after.termination, values(after)) == ("finished", {"x": 2})


def _is_zygote(pid: int) -> bool:
    """The Python process itself, not the bubblewrap processes around it."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"--zygote" in arguments and not arguments[0].endswith(b"bwrap")


@pytest.mark.sandbox
def test_where_no_zygote_can_confine_jobs_each_starts_cold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mounts, "ZYGOTE_CAPABILITIES", ())  # as where the kernel refuses
    with (
        pytest.warns(RuntimeWarning, match="could not start: .*Operation not permitted"),
        isolated_pool(1) as cold,
    ):
        outcome = cold.start().submit(make_job("import os\nx = os.getcwd()", names=("x",)))
    assert (outcome.isolation, values(outcome)) == ("bubblewrap", {"x": "/scratch"})


@pytest.mark.sandbox
def test_jobs_leave_no_descriptor_behind(pool: Pool) -> None:
    job = make_job("print('out')\nx = 1", names=("x",))
    pool.start().submit(job)
    held = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        assert values(pool.start().submit(job)) == {"x": 1}
        assert values(sandbox.run(job, LIMITS, require_isolation=True)) == {"x": 1}
    assert len(os.listdir("/proc/self/fd")) == held


@pytest.mark.sandbox
def test_close_leaves_no_process_and_no_cgroup() -> None:
    def cgroups() -> set[Path]:
        return set(Path("/sys/fs/cgroup/pids").glob(f"graders-sandbox-{os.getpid()}-*"))

    processes_before, cgroups_before = _descendants(os.getpid()), cgroups()
    closing = isolated_pool(2)
    busy = closing.start()  # a job started and never submitted: killed by close()
    processes = _descendants(os.getpid()) - processes_before
    created = cgroups() - cgroups_before
    closing.close()
    busy.close()
    assert processes
    assert _alive(processes, wait=2.0) == set()
    assert not any(group.exists() for group in created)
    with pytest.raises(RuntimeError):
        closing.start()


def _descendants(root: int) -> set[int]:
    parents = {pid: parent for pid, (_, parent) in _processes().items()}
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int], wait: float) -> set[int]:
    """Those still running after a wait: zombies are dead, whoever reaps them (here the
    host's init, for what outlived its parent)."""
    deadline = time.monotonic() + wait
    while True:
        alive = {pid for pid, (state, _) in _processes().items() if pid in pids and state != "Z"}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def _processes() -> dict[int, tuple[str, int]]:
    """pid: (state, parent pid) of every process."""
    found = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry)] = (fields[0], int(fields[1]))
    return found


# --- without bubblewrap -----------------------------------------------------------------


@pytest.mark.sandbox
def test_a_plain_pool_runs_jobs_and_replaces_a_killed_worker(plain_pool: Pool) -> None:
    first = plain_pool.start().submit(make_job("x = np.arange(2)", names=("x",)))
    killer = plain_pool.start().submit(
        make_job("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ny = 1", names=("y",))
    )
    after = plain_pool.start().submit(make_job(f"{FILES_LEFT}\nx = files_left", names=("x",)))
    assert plain_pool.isolation == first.isolation == "process"
    assert values(first)["x"].tolist() == [0, 1]
    assert values(killer) == {"y": 1}
    assert (after.termination, values(after)) == ("finished", {"x": []})


@pytest.mark.sandbox
@pytest.mark.parametrize("ending", ["finished", "timeout"])
def test_a_plain_pool_leaves_no_descendant_of_a_job(ending: str) -> None:
    marker = f"pool-sleeper-{uuid.uuid4().hex}"
    cells = [SPAWN_SLEEPERS.format(marker=marker)] + ([STUBBORN] if ending == "timeout" else [])
    with plain_pool_of(1, RunLimits(cell_seconds=1.0, total_seconds=1.5)) as timed:
        ended = timed.start().submit(make_job(*cells, names=("running",)))
        after = timed.start().submit(make_job("x = 1", names=("x",)))
    assert (ended.termination, values(ended)) == (ending, {"running": 2})
    assert processes_with(marker) == []
    assert values(after) == {"x": 1}


def test_isolation_can_be_required_of_a_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADERS_SANDBOX", "process")
    with pytest.raises(sandbox.SandboxUnavailable):
        Pool(1, LIMITS, require_isolation=True)


@pytest.mark.sandbox
def test_without_zygotes_each_job_starts_cold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "_zygotes_work", lambda: False)
    with Pool(2, LIMITS) as cold:
        outcome = cold.start().submit(make_job("x = 1", names=("x",)))
    assert values(outcome) == {"x": 1}


@pytest.mark.sandbox
def test_threads_waiting_for_a_worker_are_released_by_close() -> None:
    busy = plain_pool_of(1)
    held = busy.start()
    failure: list[BaseException] = []

    def wait_for_worker() -> None:
        try:
            busy.start()
        except RuntimeError as exc:
            failure.append(exc)

    waiter = threading.Thread(target=wait_for_worker)
    waiter.start()
    time.sleep(0.1)
    busy.close()
    waiter.join(timeout=5)
    held.close()
    assert not waiter.is_alive() and failure


READ_LIMITS = """
import resource, time
memory = resource.getrlimit(resource.RLIMIT_AS)[0] // 2**20
file_size = resource.getrlimit(resource.RLIMIT_FSIZE)[0] // 2**20
"""


@pytest.mark.sandbox
@pytest.mark.parametrize("isolation", ["bubblewrap", "process"])
def test_jobs_of_different_limits_share_the_workers(isolation: str) -> None:
    make_pool = isolated_pool if isolation == "bubblewrap" else plain_pool_of
    small = RunLimits(cell_seconds=0.5, total_seconds=1.0, memory_mb=384, file_size_mb=2)
    with make_pool(1) as shared:
        job = make_job(READ_LIMITS, STUBBORN, names=("memory", "file_size"))
        tight = shared.start(small).submit(job)
        default = shared.start().submit(make_job(READ_LIMITS, names=("memory", "file_size")))
    assert values(tight) == {"memory": 384, "file_size": 2}
    assert tight.termination == "timeout" and tight.duration < 2.5
    assert values(default) == {"memory": LIMITS.memory_mb, "file_size": LIMITS.file_size_mb}
