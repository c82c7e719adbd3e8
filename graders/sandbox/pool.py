"""Warm workers (``Pool``): a zygote per worker that forks each job into a fresh sandbox."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO

from .data import Isolation, RunLimits, SandboxUnavailable
from .environment import child_env, font_list
from .mounts import (
    CHILD_SCRIPT,
    INSIDE_FONT_LIST,
    INSIDE_SCRATCH,
    INSIDE_SCRIPT,
    PROC_COVERED,
    zygote_bwrap_options,
)
from .pipes import DRAIN_SECONDS, EXIT_WAIT_SECONDS, Ends, Pipes
from .protocol import ChannelError, parse_json
from .resources import PidsCgroup, kill_group, nproc_limit, release, rlimits, scratch_bytes
from .runs import Run, choose_isolation

START_SECONDS = 30.0  # for a new worker's zygote to import its libraries and say it is ready
KILL_SECONDS = 2.0  # for a worker to report the end of the job it was told to kill
CONTROL_BYTES = 64 * 1024  # the largest report a zygote sends
CONTROL_FIELDS = {"ready": (), "exited": ("status",)}  # its reports: integer fields


class Pool:
    """Warm, pre-imported sandbox workers; each job still runs in a fresh isolated child.

    ``start()`` blocks until a worker is free and returns a ``Run`` whose job is forked at
    once from the worker's zygote; up to ``workers`` threads may use the pool at once.
    Each job gets the limits ``start()`` is given (by default the pool's): jobs of any
    limits share the workers. A worker that dies (killed by a job, out of memory)
    is replaced at the next ``start()``; ``close()`` kills every worker and job. Where no
    zygote can work (not Linux, or the kernel refuses it nested namespaces; a warning
    says so), ``start()`` is the module's: a one-off sandbox per job.

    ``preload`` names modules (those installed) that each zygote imports besides numpy:
    its jobs find them in ``sys.modules`` instead of spending their time importing them
    (matplotlib and sympy: most of a tutorial notebook's). Not free: every fork then
    copies a larger process (about 5 ms more per fork for the tutorial's libraries, so
    a .py job's throughput halves); preload what most of the pool's jobs import.
    """

    def __init__(
        self,
        workers: int,
        limits: RunLimits = RunLimits(),
        *,
        require_isolation: bool = False,
        preload: Sequence[str] = (),
    ) -> None:
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        self.limits = limits
        self.isolation = choose_isolation(require_isolation)
        self.preload = _installed(preload)
        self._workers = self._warm_workers(workers)
        self._close = weakref.finalize(self, self._workers.close) if self._workers else None

    def _warm_workers(self, count: int) -> _Workers | None:
        """Workers, or None where every job has to start cold, as with ``start()``."""
        if not _zygotes_work():  # zygotes need Linux: namespaces, SOCK_SEQPACKET
            return None
        try:
            return _Workers(count, self.limits, self.isolation, self.preload)
        except SandboxUnavailable as exc:
            # The kernel refuses a zygote what it needs to confine a job (nested user
            # namespaces, say): one-off sandboxes are as isolated, only slower.
            warnings.warn(f"{exc}; each job starts a sandbox of its own", RuntimeWarning, 3)
            return None

    def start(self, limits: RunLimits | None = None) -> Run:
        """A Run on a free worker, blocking until there is one; its child starts now, with
        these limits (by default the pool's)."""
        limits = limits or self.limits
        if self._workers is None:
            return Run(limits, self.isolation)
        return Run(limits, self.isolation, self._workers.begin(limits))

    def close(self) -> None:
        """Kill every worker, and the jobs of those still in use."""
        if self._close is not None:
            self._close()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _zygotes_work() -> bool:
    return sys.platform.startswith("linux")


class _Workers:
    """The pool's workers, lent out one job at a time, replaced when they break."""

    def __init__(
        self, count: int, limits: RunLimits, isolation: Isolation, preload: list[str]
    ) -> None:
        self.limits = limits
        self.isolation = isolation
        self.preload = preload
        # One long-lived thread starts them all: bubblewrap's --die-with-parent follows the
        # thread that started it, and grading threads may end while the pool lives on.
        self.spawner = ThreadPoolExecutor(1, thread_name_prefix="graders-pool")
        self.changed = threading.Condition()
        self.idle: list[_Worker | None] = []  # None: a worker to spawn
        self.lent: set[_Worker] = set()
        self.closed = False
        try:
            self.idle += [self._spawn() for _ in range(count)]
            self.idle[0].wait_ready()  # whether a zygote can work here at all
        except BaseException:
            self.close()
            raise

    def begin(self, limits: RunLimits) -> _PooledJob:
        """Start a job with these limits on a free worker: a live one, else a new one."""
        worker = self._borrow()
        try:
            if worker is None or worker.broken or worker.process.poll() is not None:
                worker = self._replace(worker)
            worker.wait_ready()
            try:
                return _PooledJob.begin(worker, limits, self.give_back)
            except OSError:  # it died since its last job, too lately to tell: a new one
                worker = self._replace(worker)
                worker.wait_ready()
                return _PooledJob.begin(worker, limits, self.give_back)
        except BaseException:
            self.give_back(worker)
            raise

    def give_back(self, worker: _Worker | None) -> None:
        """A worker whose job has ended: idle again, or disposed of if broken or closed."""
        with self.changed:
            self.lent.discard(worker)
            keep = worker is not None and not worker.broken and not self.closed
            if not self.closed:
                self.idle.append(worker if keep else None)
                self.changed.notify()
        if worker is not None and not keep:
            worker.dispose()

    def close(self) -> None:
        with self.changed:
            self.closed = True
            idle, self.idle = self.idle, []
            lent = list(self.lent)
            self.changed.notify_all()
        for worker in lent:
            worker.kill()  # its job ends now; the worker is disposed of when given back
        for worker in idle:
            if worker is not None:
                worker.dispose()
        # Not waiting: a finalizer may run this on the spawner's own thread.
        self.spawner.shutdown(wait=False, cancel_futures=True)

    def _borrow(self) -> _Worker | None:
        with self.changed:
            while not self.idle and not self.closed:
                self.changed.wait()
            if self.closed:
                raise RuntimeError("the sandbox pool is closed")
            worker = self.idle.pop()
            if worker is not None:
                self.lent.add(worker)
            return worker

    def _replace(self, worker: _Worker | None) -> _Worker:
        if worker is not None:
            worker.dispose()
        new = self._spawn()
        with self.changed:
            self.lent.discard(worker)
            self.lent.add(new)
        return new

    def _spawn(self) -> _Worker:
        spawning = self.spawner.submit(_Worker.spawn, self.limits, self.isolation, self.preload)
        return spawning.result()


class _Worker:
    """A zygote (see child.py) in a bubblewrap sandbox of its own, or a plain
    process, with the pids cgroup its jobs join. It runs one job at a time.

    Its reports come over a socket that only the zygote holds: a job never has it, and
    under bubblewrap cannot see the zygote at all (its own pid namespace).
    """

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        control: socket.socket,
        cgroup: PidsCgroup | None,
        isolation: Isolation,
        stderr: IO[bytes],
        home: str | None,
    ) -> None:
        self.process = process
        self.control = control
        self.cgroup = cgroup
        self.isolation = isolation
        self.stderr = stderr  # the zygote's own, read if it fails to start
        self.home = home  # not isolated: the directory the zygote imported in
        self.ready = False
        self.broken = False
        self.running = False  # a job was sent, its end not yet reported
        self.status: int | None = None  # the last job's exit status

    @classmethod
    def spawn(cls, limits: RunLimits, isolation: Isolation, preload: list[str]) -> _Worker:
        cgroup = PidsCgroup.create(limits.processes)  # each job sets its own bound
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        procs = cgroup.open_procs() if cgroup is not None else None
        # Where the zygote imports its libraries (as a job's home, for what they cache):
        # isolated, a tmpfs of its own that each job covers with its scratch.
        home = (
            None
            if isolation == Isolation.BUBBLEWRAP
            else tempfile.mkdtemp(prefix="graders-worker-")
        )
        fonts = font_list(isolation)
        # Where the zygote reads the font list: bound inside, or the grader's own cache.
        fonts_seen = INSIDE_FONT_LIST if isolation == Isolation.BUBBLEWRAP else str(fonts)
        config = {
            "isolation": isolation,
            "scratch_bytes": scratch_bytes(limits),  # its own home's; each job has its own
            "scratch": INSIDE_SCRATCH,
            "proc_covered": PROC_COVERED,
            "procs_fd": procs,
            "preload": preload,
            "font_list": None if fonts is None else [fonts_seen, fonts.name],
        }
        if isolation == Isolation.BUBBLEWRAP:
            bwrap = shutil.which("bwrap") or "bwrap"
            command = [bwrap, *zygote_bwrap_options(fonts), "--", sys.executable, "-I", "-B"]
            command.append(INSIDE_SCRIPT)
        else:
            command = [sys.executable, "-I", "-B", str(CHILD_SCRIPT)]
        command += ["--zygote", str(theirs.fileno()), json.dumps(config)]
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 (the worker's, closed by dispose)
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd="/",
                env=child_env(home or INSIDE_SCRATCH),  # each job gets one of its own
                pass_fds=(theirs.fileno(),) if procs is None else (theirs.fileno(), procs),
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            stderr.close()
            release(cgroup, home)
            raise
        finally:
            theirs.close()
            if procs is not None:
                os.close(procs)
        return cls(process, ours, cgroup, isolation, stderr, home)

    def wait_ready(self) -> None:
        """Until the zygote has imported everything; raises if it cannot start."""
        if self.ready:
            return
        if self._receive(time.monotonic() + START_SECONDS) != {"op": "ready"}:
            self.kill()
            raise SandboxUnavailable(f"a sandbox worker could not start: {self._diagnosis()}")
        self.ready = True

    def send_job(self, ends: Ends, scratch: str, limits: RunLimits) -> None:
        # A pooled job has no bubblewrap monitor in its group, which a one-off run counts.
        processes = limits.processes - (1 if self.isolation == Isolation.BUBBLEWRAP else 0)
        if self.cgroup is not None:
            self.cgroup.set_max(processes)  # one job at a time in the worker's group
        message = {
            "op": "job",
            "scratch": scratch,
            "environment": child_env(scratch),
            "rlimits": rlimits(limits, nproc_limit(self.cgroup, processes)),
            "scratch_bytes": scratch_bytes(limits),
        }
        fds = [ends.stdin, ends.stdout, ends.stderr, ends.channel]
        socket.send_fds(self.control, [json.dumps(message).encode()], fds)
        self.running, self.status = True, None

    def kill_job(self) -> None:
        try:
            self.control.send(b'{"op":"kill"}')
        except OSError:
            self.broken = True

    def await_end(self, until: float) -> bool:
        """Read the zygote's reports until its job has ended (``status`` then says how);
        False if the deadline comes first or the worker is gone."""
        while self.running:
            message = self._receive(until)
            if message is None:
                return False
            if message["op"] != "exited":
                self.broken = True
                return False
            self.running, self.status = False, message["status"]
        return True

    def kill(self) -> None:
        """Kill the worker and its job, if any. Any thread may call this."""
        self.broken = True
        if self.process.poll() is None:  # once reaped, its pid may be another's
            # bubblewrap: its sandbox, jobs included, dies with it (--die-with-parent).
            kill_group(self.process.pid)
        # A plain zygote's job has a group of its own; the cgroup has every process of it.
        if self.cgroup is not None:
            self.cgroup.kill_all()

    def dispose(self) -> None:
        """Kill it, wait until every process of it is gone, release what it held."""
        if self.control.fileno() < 0:
            return  # disposed of already
        self.kill()
        until = time.monotonic() + KILL_SECONDS
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=KILL_SECONDS)
        # Its socket ends when the last process holding it, in the sandbox, is gone.
        while _readable(self.control.fileno(), until):
            try:
                if not self.control.recv(CONTROL_BYTES):
                    break
            except OSError:
                break
        self.control.close()
        self.stderr.close()
        release(self.cgroup, self.home)

    def _receive(self, until: float) -> dict[str, object] | None:
        """The zygote's next report; None at the deadline, when the worker is gone, or for
        a malformed report (the worker is then broken)."""
        if self.broken:
            return None
        if not _readable(self.control.fileno(), until):
            return None
        try:
            data = self.control.recv(CONTROL_BYTES)
        except OSError:
            data = b""
        message = _control_message(data)
        if message is None:
            self.broken = True
        return message

    def _diagnosis(self) -> str:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=KILL_SECONDS)
        self.stderr.seek(0)
        lines = self.stderr.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit status {self.process.poll()}"


def _readable(fd: int, until: float) -> bool:
    """Whether the descriptor has data (or its end) before the deadline."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0.0, until - time.monotonic()) * 1000))


def _control_message(data: bytes) -> dict[str, object] | None:
    """A zygote's report, checked: one that a process-isolated job tampered with loses
    its worker, never breaks the grader."""
    try:
        message = parse_json(data) if data else None
    except ChannelError:
        return None
    op = message.get("op") if isinstance(message, dict) else None
    fields = CONTROL_FIELDS.get(op) if type(op) is str else None
    if fields is None or set(message) != {"op", *fields}:
        return None
    if any(type(message[name]) is not int for name in fields):
        return None
    return message


class _PooledJob(Pipes):
    """One job on a borrowed worker. Started at once: the fork and the confinement overlap
    the caller's own work, as ``start()`` does. Ended, and the worker handed back, by
    ``close()``."""

    def __init__(
        self,
        worker: _Worker,
        ends: Ends,
        scratch: str | None,
        limits: RunLimits,
        give_back: Callable[[_Worker], None],
    ) -> None:
        super().__init__(ends, limits)
        self.worker = worker
        self.scratch = scratch  # process isolation: a fresh directory per job
        self.give_back = give_back

    @classmethod
    def begin(
        cls, worker: _Worker, limits: RunLimits, give_back: Callable[[_Worker], None]
    ) -> _PooledJob:
        scratch = None
        if worker.isolation != Isolation.BUBBLEWRAP:
            scratch = tempfile.mkdtemp(prefix="graders-run-")
        ours, theirs = Ends.pair()
        try:
            worker.send_job(theirs, scratch or INSIDE_SCRATCH, limits)
        except BaseException:
            ours.close()
            release(None, scratch)
            raise
        finally:
            theirs.close()  # the zygote has its own copies now, and gives them to the job
        return cls(worker, ours, scratch, limits, give_back)

    def exit_status(self) -> int | None:
        """The exit status of a job whose channel closed, if the zygote reports it soon."""
        if self.worker.await_end(time.monotonic() + EXIT_WAIT_SECONDS):
            return self.worker.status
        return None

    def close(self) -> None:
        """Kill whatever of the job still runs, collect its last output, give the worker
        back: as it is if it reported the job's end, else killed (and later replaced)."""
        if self.closed:
            return
        self.closed = True
        worker = self.worker
        try:
            if worker.running:
                worker.kill_job()
            if not worker.await_end(time.monotonic() + KILL_SECONDS):
                worker.kill()
            elif worker.cgroup is not None:
                worker.cgroup.kill_all()  # a plain job's processes that left its group
            self._drain(time.monotonic() + DRAIN_SECONDS)
            self._close_pipes()
        finally:
            release(None, self.scratch)
            self.give_back(worker)


def _installed(modules: Sequence[str]) -> list[str]:
    import importlib.util

    return [name for name in modules if importlib.util.find_spec(name.partition(".")[0])]
