"""One-off runs: ``start()`` spawns a sandbox child for one job, ``Run`` gives it the job."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref

from ..source_analysis import assigned_names
from .data import MB, Isolation, Job, Outcome, RunLimits, SandboxUnavailable, Termination
from .environment import MATPLOTLIB_DIR, child_env, font_list
from .mounts import CHILD_SCRIPT, INSIDE_SCRATCH, INSIDE_SCRIPT, bwrap_options
from .pipes import DRAIN_SECONDS, EXIT_WAIT_SECONDS, Ends, Pipes
from .protocol import MEMORY_EXIT, Protocol, encode_job, snapshot_plan
from .resources import PidsCgroup, kill_group, nproc_limit, release, rlimits, scratch_bytes


def start(limits: RunLimits = RunLimits(), *, require_isolation: bool = False) -> Run:
    """Spawn the sandbox child now; hand it the job later with ``Run.submit``."""
    return Run(limits, choose_isolation(require_isolation))


def choose_isolation(require_isolation: bool) -> Isolation:
    """The isolation to use: bubblewrap where it works and is not switched off, else a
    plain process, unless isolation is required."""
    forced = os.environ.get("GRADERS_SANDBOX") == "process"
    if not forced and isolation_available():
        return Isolation.BUBBLEWRAP
    if require_isolation:
        reason = (
            "GRADERS_SANDBOX=process is set"
            if forced
            else "bubblewrap (bwrap) is missing or cannot create namespaces here"
        )
        raise SandboxUnavailable(f"an isolated sandbox is required, but {reason}")
    return Isolation.PROCESS


def run(job: Job, limits: RunLimits = RunLimits(), *, require_isolation: bool = False) -> Outcome:
    """Run one job in a fresh sandbox: ``start(...).submit(job)``."""
    return start(limits, require_isolation=require_isolation).submit(job)


@functools.cache
def isolation_available() -> bool:
    """Whether bubblewrap can build the sandbox here (tried once, with a no-op command)."""
    bwrap = shutil.which("bwrap")
    true = shutil.which("true")
    if not sys.platform.startswith("linux") or bwrap is None or true is None:
        return False
    try:
        probe = subprocess.run(
            [bwrap, *bwrap_options(scratch_bytes=MB), "--", true],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


class Run:
    """One sandboxed child, spawned by ``start()`` (or on a worker by ``Pool.start()``),
    given exactly one job by ``submit()``."""

    def __init__(self, limits: RunLimits, isolation: Isolation, child: Pipes | None = None) -> None:
        self.limits = limits
        self.isolation = isolation
        self._child = child if child is not None else _Child.spawn(limits, isolation)
        # Kills the child if the Run is dropped unused (or the interpreter exits).
        self._release = weakref.finalize(self, self._child.close)
        self._submitted = False

    def submit(self, job: Job) -> Outcome:
        """Run the job; kill everything the child started; return what came back."""
        if self._submitted or self._child.closed:
            raise RuntimeError("a Run takes one job, and not after close(): start() another")
        self._submitted = True
        began = time.monotonic()
        assigned = [assigned_names(cell.source) for cell in job.cells]
        plan = snapshot_plan(job, assigned)
        protocol = Protocol(job, assigned, plan)
        try:
            termination = self._child.exchange(
                encode_job(job, plan, self.limits.cell_seconds),
                protocol,
                deadline=began + self.limits.total_seconds,
            )
            if termination is None:  # the channel closed early: how the child exited says why
                termination = _why_ended(self._child.exit_status())
        finally:
            self._release()
        return protocol.outcome(
            termination,
            stdout=self._child.output.text("stdout"),
            stderr=self._child.output.text("stderr"),
            isolation=self.isolation,
            duration=time.monotonic() - began,
        )

    def close(self) -> None:
        """Kill the child without running a job (e.g. the caller gave up before submit)."""
        self._release()


class _Child(Pipes):
    """The spawned child, its pipes and its cgroup: everything one run owns."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        ends: Ends,
        cgroup: PidsCgroup | None,
        scratch: str | None,
        limits: RunLimits,
    ) -> None:
        super().__init__(ends, limits)
        self.process = process
        self.cgroup = cgroup
        self.scratch = scratch

    @classmethod
    def spawn(cls, limits: RunLimits, isolation: Isolation) -> _Child:
        # bubblewrap's monitor and init stay outside the group that the child joins.
        outside = 2 if isolation == Isolation.BUBBLEWRAP else 0
        cgroup = PidsCgroup.create(limits.processes - outside)
        scratch = (
            None if isolation == Isolation.BUBBLEWRAP else tempfile.mkdtemp(prefix="graders-run-")
        )
        home = INSIDE_SCRATCH if scratch is None else scratch
        fonts = font_list(isolation)
        ours, theirs = Ends.pair()
        if isolation == Isolation.BUBBLEWRAP:
            bwrap = shutil.which("bwrap") or "bwrap"
            command = [bwrap, *bwrap_options(scratch_bytes(limits))]
            if fonts is not None:  # read-only in a writable directory, as matplotlib wants
                inside = f"{INSIDE_SCRATCH}/{MATPLOTLIB_DIR}/{fonts.name}"
                command += ["--ro-bind", str(fonts), inside]
            command += ["--", sys.executable, "-I", "-B", INSIDE_SCRIPT]
        else:
            if fonts is not None:  # its own copy: what it does to it, no other run sees
                os.mkdir(os.path.join(home, MATPLOTLIB_DIR))
                shutil.copy(fonts, os.path.join(home, MATPLOTLIB_DIR, fonts.name))
            command = [sys.executable, "-I", "-B", str(CHILD_SCRIPT)]
        procs = cgroup.open_procs() if cgroup is not None else None
        # The child joins the cgroup and lowers its limits itself, before reading the job.
        config = {
            "rlimits": rlimits(limits, nproc_limit(cgroup, limits.processes)),
            "procs_fd": procs,
        }
        command += [str(theirs.channel), json.dumps(config)]
        try:
            process = subprocess.Popen(
                command,
                stdin=theirs.stdin,
                stdout=theirs.stdout,
                stderr=theirs.stderr,
                cwd=scratch or "/",
                env=child_env(home),
                pass_fds=(theirs.channel,) if procs is None else (theirs.channel, procs),
                start_new_session=True,  # its own process group, killed as one
            )
        except BaseException:
            ours.close()
            release(cgroup, scratch)
            raise
        finally:
            theirs.close()
            if procs is not None:
                os.close(procs)
        return cls(process, ours, cgroup, scratch, limits)

    def exit_status(self) -> int | None:
        """The exit status of a child whose channel closed, if it exits soon."""
        try:
            return self.process.wait(timeout=EXIT_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        """Kill every process of the run, collect the output still in the pipes, clean up."""
        if self.closed:
            return
        self.closed = True
        self._kill_all()
        self._drain(time.monotonic() + DRAIN_SECONDS)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=DRAIN_SECONDS)
        self._close_pipes()
        release(self.cgroup, self.scratch)

    def _kill_all(self) -> None:
        # bubblewrap: bwrap is the group leader; when it dies, the init of the sandbox's
        # pid namespace gets SIGKILL (--die-with-parent), and with it every process inside.
        # Without bubblewrap, the process group catches what did not start a session of
        # its own, and the cgroup whatever it did.
        kill_group(self.process.pid)
        if self.cgroup is not None:
            self.cgroup.kill_all()


def _why_ended(returncode: int | None) -> Termination:
    """Why a child ended before saying "done": its CPU time, memory, or any other crash.

    bubblewrap exits with 128 + the signal that killed the child. SIGKILL that we did not
    send is the kernel's out-of-memory killer; MEMORY_EXIT is the runner's own word that an
    allocation was refused. What stderr says is not evidence: the student writes it.
    """
    if returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        return Termination.TIMEOUT
    if returncode in (-signal.SIGKILL, 128 + signal.SIGKILL, MEMORY_EXIT):
        return Termination.MEMORY_LIMIT
    return Termination.CRASHED
