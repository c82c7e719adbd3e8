"""What bounds a run's resources: its rlimits, and the pids cgroup its processes join."""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import resource
import shutil
import signal
import time
from pathlib import Path

from .data import MB, RunLimits

SCRATCH_FACTOR = 4  # the scratch tmpfs holds this many of the largest files


def scratch_bytes(limits: RunLimits) -> int:
    return limits.file_size_mb * SCRATCH_FACTOR * MB


def rlimits(limits: RunLimits, nproc: int | None) -> list[tuple[int, int, int]]:
    """(resource, soft, hard) for the child. Hard limits are set too, so that nothing the
    child runs can raise them again."""
    cpu = math.ceil(limits.total_seconds) + 1  # a backstop: the wall clock comes first
    wanted = [
        (resource.RLIMIT_AS, limits.memory_mb * MB, limits.memory_mb * MB),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * MB, limits.file_size_mb * MB),
        # Soft below hard: SIGXCPU, not SIGKILL, which would read as the OOM killer.
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    if nproc is not None:
        wanted.append((resource.RLIMIT_NPROC, nproc, nproc))
    result = []
    for kind, soft, hard in wanted:
        # Without privileges a hard limit cannot be raised: never ask above the current one.
        current = resource.getrlimit(kind)[1]
        if current != resource.RLIM_INFINITY:
            soft, hard = min(soft, current), min(hard, current)
        result.append((kind, soft, hard))
    return result


def _threads_of_user() -> int | None:
    """How many threads this user runs now (Linux); None where /proc cannot say."""
    uid = os.getuid()
    try:
        entries = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return None
    total = 0
    for entry in entries:
        with contextlib.suppress(OSError):
            if os.stat(f"/proc/{entry}").st_uid == uid:
                total += len(os.listdir(f"/proc/{entry}/task"))
    return total


def nproc_limit(cgroup: PidsCgroup | None, processes: int) -> int | None:
    """RLIMIT_NPROC, where no pids cgroup bounds the processes and we are not root (whom
    it does not bind)."""
    if cgroup is not None or os.geteuid() == 0:
        return None
    # RLIMIT_NPROC counts all of this user's threads: leave room for those running.
    running = _threads_of_user()
    return None if running is None else running + processes


class PidsCgroup:
    """A cgroup for one run, whose pids.max bounds its processes and threads.

    We run as root, which RLIMIT_NPROC does not bind, and a fork bomb must not take the
    host down: the child joins this group between fork and exec, so everything it starts
    is counted, wherever it goes (a new session, a double fork). The group's member list
    also finds every process of the run for the final kill.
    """

    PREFIX = "graders-sandbox-"
    _numbers = itertools.count()

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, max_pids: int) -> PidsCgroup | None:
        """A new group, or None where no pids controller can be written to."""
        parent = _pids_hierarchy()
        if parent is None:
            return None
        _sweep_stale(parent)
        path = parent / f"{cls.PREFIX}{os.getpid()}-{next(cls._numbers)}"
        group = cls(path)
        try:
            path.mkdir()
            group.set_max(max_pids)
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return group

    def set_max(self, max_pids: int) -> None:
        (self.path / "pids.max").write_text(str(max_pids))

    def open_procs(self) -> int:
        return os.open(self.path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)

    def members(self) -> list[int]:
        try:
            return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_all(self) -> None:
        kill = self.path / "cgroup.kill"  # cgroup v2 (Linux 5.14+): all at once
        if kill.exists():
            with contextlib.suppress(OSError):
                kill.write_text("1")
        for _ in range(200):
            pids = self.members()
            if not pids:
                return
            for pid in pids:
                _kill_member(pid, self.path.name)
            time.sleep(0.002)

    def remove(self) -> None:
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:  # members still exiting
                self.kill_all()
                time.sleep(0.005)
        # Left for the sweep that the next run after this process ends will do.


def _kill_member(pid: int, group: str) -> None:
    """SIGKILL a process listed in the group, unless its pid now belongs to another.

    The pid was read from cgroup.procs; the process may have exited and the pid been
    reused since. A pidfd pins the process; its cgroup is checked after pinning.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except OSError:  # no pidfd (Linux < 5.3): the race is accepted
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        return
    try:
        with open(f"/proc/{pid}/cgroup") as lines:
            if any(line.rstrip().endswith("/" + group) for line in lines):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except OSError:
        pass  # gone already
    finally:
        os.close(pidfd)


def _pids_hierarchy() -> Path | None:
    """Where per-run pids cgroups can be made: under our own group, else the root, of
    cgroup v1's pids controller or of cgroup v2 where pids is enabled for children."""
    v1 = Path("/sys/fs/cgroup/pids")
    v2 = Path("/sys/fs/cgroup")
    if (v1 / "cgroup.procs").exists():
        candidates = [v1 / _own_cgroup("pids").lstrip("/"), v1]
    elif "pids" in _read_text(v2 / "cgroup.controllers").split():
        candidates = [
            group
            for group in (v2 / _own_cgroup("").lstrip("/"), v2)
            if "pids" in _read_text(group / "cgroup.subtree_control").split()
        ]
    else:
        return None
    return next((p for p in candidates if p.is_dir() and os.access(p, os.W_OK)), None)


def _own_cgroup(controller: str) -> str:
    """Our cgroup path for a v1 controller, or in the v2 hierarchy ("")."""
    for line in _read_text(Path("/proc/self/cgroup")).splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):  # v2's line has "" for controllers
            return path
    return "/"


def _sweep_stale(parent: Path) -> None:
    """Remove groups left by grader processes that died before cleaning up."""
    for group in parent.glob(PidsCgroup.PREFIX + "*"):
        owner = group.name.removeprefix(PidsCgroup.PREFIX).split("-")[0]
        if owner.isdigit() and not _alive(int(owner)):
            stale = PidsCgroup(group)
            stale.kill_all()
            with contextlib.suppress(OSError):
                group.rmdir()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


# --- what goes to the child ------------------------------------------------------------


def release(cgroup: PidsCgroup | None, scratch: str | None) -> None:
    """Remove what a run or worker held: its cgroup, and its scratch directory if any."""
    if cgroup is not None:
        cgroup.remove()
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


# --- warm workers ------------------------------------------------------------------------
