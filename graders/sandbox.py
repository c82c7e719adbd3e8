"""Runs student code in a sandboxed child process and hands back plain data only.

This is the only module that starts student code. ``start()`` spawns the child at once, so
that its Python and numpy start-up overlaps the caller's own imports; ``Run.submit(job)``
sends the cells, waits, and always returns an ``Outcome`` made of plain values.

Isolation ("bubblewrap", Linux): the child runs in new user, pid, network, ipc, uts and
cgroup namespaces, without capabilities, in its own session, dying with the grader. It sees
/usr, the libraries, a few files of /etc, the Python installation and the packages it may
import, all read-only, plus fresh /proc (its /proc/sys read-only: uid 0 inside is the
host's uid 0, and that is all most sysctls ask of a writer) and /dev and a size-bounded
tmpfs as its scratch (cwd, HOME). Nothing else exists inside: not the grader's tree
(specs, reference solutions), not /root, /work or /tmp, not other submissions, not the
network. Where a mounted directory holds this package (a wheel in site-packages, with
its course) or a course folder in use, an empty tmpfs covers it (``conceal()``).

Fallback ("process", where bubblewrap is missing or unusable, or ``GRADERS_SANDBOX=process``):
a plain child process in a temporary directory with a scrubbed environment and the same
resource limits; it cannot hide files or the network, and the caller says so.

Limits, in both modes:
- time: a soft per-cell limit raised inside the child; a hard wall-clock deadline here,
  after which every process of the run is killed (termination "timeout");
- memory RLIMIT_AS, file size RLIMIT_FSIZE, CPU RLIMIT_CPU (a backstop), no core files;
- processes: a per-run pids cgroup (root ignores RLIMIT_NPROC), else RLIMIT_NPROC;
  the child joins the cgroup and sets the rlimits itself before it reads the job (not
  between fork and exec here, which is unsafe in a grader with threads);
- output: stdout and stderr are read here as they come and kept up to ``output_kb``;
  past 16 times that the run is stopped (termination "output_limit").

Results come back over a dedicated pipe as length-prefixed JSON, never over stdout. The
child runs student code and is therefore untrusted: the decoder here accepts plain data
only (whitelisted dtypes, sizes checked against the bytes, bounded depth and lengths,
messages in the order the job implies, every string valid text) and never unpickles. What a
message may cost this process is bounded before it is parsed: its bytes and its number of
JSON values, per message and per run. Anything else ends the run
as "channel_error"; the grader never sees an exception for what a student did.

Warm workers (``Pool``, Linux): a one-off child pays for bubblewrap, Python and numpy
(~100 ms of CPU) before the student's first line. A pool keeps ``workers`` sandboxes
running, each with a zygote (sandbox_child.py) that has imported numpy, the runner and the
libraries the pool preloads, and waits on a control socket. Per job, the grader makes the
job's four pipes and passes the child's ends to the zygote (SCM_RIGHTS), which forks. The
zygote never runs student code, so every job starts from the same pristine state, and the
fork is confined before any student code runs:
- a pid namespace of its own, whose pid 1 (the job's init) takes every process of the
  job with it when it dies: the hard limit kills that job's tree, and only that job's;
- its own mount namespace with a fresh tmpfs scratch (nothing of an earlier job's files)
  and a fresh /proc in which it sees none of the worker's processes; its own ipc
  namespace (no SysV object outlives it) and user namespace (no keyring either);
- then no capabilities at all, no_new_privs, the limits' rlimits, and the worker's pids
  cgroup (the same bound as a one-off run; only one job is in it at a time);
- its own stdout, stderr and results pipe: it cannot write into another job's channel,
  and it holds none of the zygote's descriptors (nor can it see the zygote), so it cannot
  reach the control socket either.
The zygote keeps, for this, CAP_SYS_ADMIN, CAP_SETPCAP and CAP_SETFCAP in the worker's
own user namespace (never the host's: it checks). A worker whose zygote dies is replaced
at the next ``start()``; one that does not confirm a killed job's end is killed itself.
Without bubblewrap the workers are plain zygotes: the same per-job fork, environment,
fresh scratch directory, rlimits, process group and cgroup, without the namespaces.
"""

from __future__ import annotations

import ast
import base64
import binascii
import contextlib
import functools
import hashlib
import importlib.metadata
import itertools
import json
import math
import os
import re
import resource
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .values import PLACEHOLDER, CallFailure, Opaque, SymbolicText

CHILD_SCRIPT = Path(__file__).resolve().with_name("sandbox_child.py")
# Never visible inside, wherever they are installed: this package (the grader's code, and
# the course a wheel carries) and every course folder in use (see conceal()).
PACKAGE_DIR = Path(__file__).resolve().parent
INSIDE_SCRIPT = "/sandbox/child.py"
INSIDE_SCRATCH = "/scratch"
INSIDE_FONT_LIST = "/sandbox/fontlist.json"  # in a worker: its zygote copies it to its home
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives", "fonts")
PROC_COVERED = ("sys", "sysrq-trigger", "irq", "bus")  # read-only in every sandbox's /proc
MATPLOTLIB_DIR = ".matplotlib"  # MPLCONFIGDIR, in a run's home
FONT_LIST_SECONDS = 120  # for matplotlib to list the system's fonts, once per user
MB = 2**20

OUTPUT_STOP_FACTOR = 16  # output beyond this many times output_kb stops the run
SCRATCH_FACTOR = 4  # the scratch tmpfs holds this many of the largest files
DRAIN_SECONDS = 0.5  # for output still in the pipes when the run ends
# The longest wait for a child between looks at the clock: any longer wake-up is time the
# grader lost (another job's work held the process), which no job's deadline counts.
LOOK_SECONDS = 0.1
EXIT_WAIT_SECONDS = 0.5  # for the exit status of a child whose channel closed early

# Warm workers (Pool).
# In the worker's user namespace only: for namespaces and mounts, to drop capabilities, and
# to map uid 0 in each job's own user namespace (the kernel asks for CAP_SETFCAP).
ZYGOTE_CAPABILITIES = ("CAP_SYS_ADMIN", "CAP_SETPCAP", "CAP_SETFCAP")
START_SECONDS = 30.0  # for a new worker's zygote to import its libraries and say it is ready
KILL_SECONDS = 2.0  # for a worker to report the end of the job it was told to kill
CONTROL_BYTES = 64 * 1024  # the largest report a zygote sends
CONTROL_FIELDS = {"ready": (), "exited": ("status",)}  # its reports: integer fields

# Bounds on what the decoder accepts (the child keeps within them). A frame is counted
# before it is parsed: its bytes, and its JSON values (bounded by the bytes "[{,:" that
# precede every value but the first), which set what json.loads costs this process, with
# the GIL held: about 100 bytes of memory per value. The largest honest answer is arrays of
# a few thousand floats, which cross as raw bytes in one string each.
MAX_FRAME_BYTES = 16 * MB
MAX_FRAME_VALUES = 256 * 1024
MAX_CHANNEL_BYTES = 128 * MB
MAX_CHANNEL_VALUES = 4 * MAX_FRAME_VALUES
MAX_DEPTH = 32
MAX_ITEMS = MAX_FRAME_VALUES
MAX_ARRAY_ELEMENTS = 10**7
MAX_TEXT_CHARS = 100_000
MAX_NAME_CHARS = 200
MAX_MESSAGE_CHARS = 2_000
WIRE_DTYPES = {
    "bool": "|b1",
    "int64": "<i8",
    "uint64": "<u8",
    "float64": "<f8",
    "complex128": "<c16",
}
HEX_INT = re.compile(r"-?[0-9a-f]{1,1024}")
CELL_STATUSES = ("ok", "error", "timeout", "memory")
MEMORY_EXIT = 86  # the exit status of a runner that found no memory left (sandbox_child)


# --- the interface ---------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    cell_seconds: float = 5.0  # soft, per cell and per call: raised inside the child
    total_seconds: float = 20.0  # hard, whole run (descendants included), enforced here
    memory_mb: int = 1024  # address space per process
    processes: int = 32  # processes and threads alive at once (bubblewrap's two count)
    file_size_mb: int = 16  # largest file it may write (the scratch holds 4 of them)
    output_kb: int = 256  # of stdout and of stderr kept; 16 times more stops the run


@dataclass
class Cell:
    index: int  # the caller's number for it (notebook cell position); echoed back
    source: str  # Python source, IPython magics already neutralised
    filename: str  # for tracebacks and line reports, e.g. "submission.py" or "cell 28"


@dataclass
class Call:
    function: str  # a function the student defined
    kwargs: dict[str, object]  # numpy arrays and Python scalars, sent as data


@dataclass
class Extraction:
    exercise: str  # the key its snapshot comes back under in Outcome.snapshots
    names: list[str]  # names whose values to snapshot
    calls: list[Call] = field(default_factory=list)  # made at snapshot time
    # The Cell.index to snapshot after; None: after each cell that binds the names.
    after: int | None = None


@dataclass
class Job:
    cells: list[Cell]
    prelude: str = ""  # trusted setup code, run before the first cell
    lazy_modules: dict[str, str] = field(default_factory=dict)  # alias -> module
    extractions: list[Extraction] = field(default_factory=list)


@dataclass
class CellReport:
    index: int
    status: str  # "ok" | "error" | "timeout" | "memory" | "skipped"
    assigned: list[str]  # names the cell binds, found statically; [] on a syntax error
    exception: str | None = None
    message: str | None = None
    line: int | None = None  # in this cell's source, of the deepest frame in this cell
    code: str | None = None  # that line, stripped


@dataclass
class Snapshot:
    exercise: str
    after_cell: int  # Cell.index
    values: dict[str, object]  # absent names are missing
    calls: list[object]  # one per Extraction.calls: a value or a CallFailure


@dataclass
class Outcome:
    cells: list[CellReport]
    snapshots: dict[str, Snapshot]  # the last one per exercise
    termination: str  # finished|timeout|memory_limit|output_limit|crashed|channel_error
    stdout: str
    stderr: str
    isolation: str  # "bubblewrap" | "process"
    duration: float  # seconds from submit() to the end of the run
    # The run ended before its first cell started: the grader's own setup (the prelude)
    # failed, which no student code can cause, since none has run yet.
    setup_failed: bool = False


class SandboxUnavailable(RuntimeError):
    """Isolation was required, but bubblewrap is missing or cannot work here."""


def start(limits: Limits = Limits(), *, require_isolation: bool = False) -> Run:
    """Spawn the sandbox child now; hand it the job later with ``Run.submit``."""
    return Run(limits, _isolation(require_isolation))


def _isolation(require_isolation: bool) -> str:
    """The isolation to use: bubblewrap where it works and is not switched off, else a
    plain process, unless isolation is required."""
    forced = os.environ.get("GRADERS_SANDBOX") == "process"
    if not forced and isolation_available():
        return "bubblewrap"
    if require_isolation:
        reason = (
            "GRADERS_SANDBOX=process is set"
            if forced
            else "bubblewrap (bwrap) is missing or cannot create namespaces here"
        )
        raise SandboxUnavailable(f"an isolated sandbox is required, but {reason}")
    return "process"


def run(job: Job, limits: Limits = Limits(), *, require_isolation: bool = False) -> Outcome:
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
            [bwrap, *_bwrap_options(scratch_bytes=MB), "--", true],
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

    def __init__(
        self, limits: Limits, isolation: str, child: _Child | _PooledJob | None = None
    ) -> None:
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
        plan = _snapshot_plan(job, assigned)
        protocol = _Protocol(job, assigned, plan)
        try:
            ending = self._child.exchange(
                _encode_job(job, plan, self.limits.cell_seconds),
                protocol,
                deadline=began + self.limits.total_seconds,
            )
            returncode = self._child.exit_status() if ending == "ended" else None
        finally:
            self._release()
        termination = _why_ended(returncode) if ending == "ended" else ending
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


# --- what a cell binds -----------------------------------------------------------------


def assigned_names(source: str) -> list[str]:
    """The names a cell binds in the notebook's namespace, found statically, in order.

    Bindings at any block depth count, including those below a ``raise`` (the handed-out
    ``raise NotImplementedError`` comes before the answer lines): assignment, augmented
    and annotated assignment, walrus, for/with/match targets, def and class names, import
    aliases, and names a function declares ``global``. Function, class and comprehension
    bodies are their own scopes. A cell that does not parse binds nothing.
    """
    tree = parse(source)
    if tree is None:
        return []
    binder = _Binder()
    try:
        binder.visit(tree)
    except RecursionError:  # nested too deeply for a recursive walk: as good as unparseable
        return []
    return list(dict.fromkeys(binder.names))


def parse(source: str) -> ast.Module | None:
    """The syntax tree of student text, or None where Python cannot parse it: a syntax
    error, a NUL byte (ValueError), or nesting so deep that the parser runs out of stack
    (MemoryError: "parser stack overflowed") or of recursion (RecursionError). The child
    reports each of these to the student as code that cannot be parsed."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def packages_used(source: str, lazy_modules: dict[str, str]) -> set[str]:
    """The top-level packages a cell would import, found statically: those its import
    statements name (at any depth), and those of the job's lazy modules whose alias it
    reads. A cell that does not parse uses none."""
    tree = parse(source)
    if tree is None:
        return set()
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Name) and node.id in lazy_modules:
            modules.add(lazy_modules[node.id])
    return {module.partition(".")[0] for module in modules}


class _Binder(ast.NodeVisitor):
    def __init__(self) -> None:
        self.names: list[str] = []

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.names.append(node.id)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.names.append(node.name)
        self._declared_global(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.names.append(node.name)
        self._declared_global(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        pass  # its own scope

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        # Loop variables stay inside; only a walrus binds in the enclosing namespace.
        for inner in ast.walk(node):
            if isinstance(inner, ast.NamedExpr) and isinstance(inner.target, ast.Name):
                self.names.append(inner.target.id)

    visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_ListComp

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.names.append(alias.asname or alias.name.partition(".")[0])

    visit_ImportFrom = visit_Import

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.names.append(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.names.append(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self.names.append(node.rest)

    def _declared_global(self, scope: ast.AST) -> None:
        for inner in ast.walk(scope):
            if isinstance(inner, ast.Global):
                self.names.extend(inner.names)


def _snapshot_plan(job: Job, assigned: list[list[str]]) -> list[list[int]]:
    """For each cell, the extractions to snapshot after it: those meant for that cell, or
    without a cell, those whose names it binds."""

    def wanted(extraction: Extraction, cell: Cell, cell_names: list[str]) -> bool:
        if extraction.after is not None:
            return cell.index == extraction.after
        names = set(extraction.names) | {call.function for call in extraction.calls}
        return not names.isdisjoint(cell_names)

    return [
        [position for position, e in enumerate(job.extractions) if wanted(e, cell, cell_names)]
        for cell, cell_names in zip(job.cells, assigned, strict=True)
    ]


# --- the child process -----------------------------------------------------------------


@dataclass
class _Ends:
    """One run's four pipes, by direction: the child reads the job from stdin and writes
    output and results; the grader holds the other ends."""

    stdin: int
    stdout: int
    stderr: int
    channel: int

    @classmethod
    def pair(cls) -> tuple[_Ends, _Ends]:
        """(the grader's ends, the child's ends), all non-inheritable."""
        job_read, job_write = os.pipe()
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        channel_read, channel_write = os.pipe()
        return (
            cls(job_write, out_read, err_read, channel_read),
            cls(job_read, out_write, err_write, channel_write),
        )

    def close(self) -> None:
        for fd in (self.stdin, self.stdout, self.stderr, self.channel):
            os.close(fd)


class _Pipes:
    """The grader's side of one run: it feeds the job, gathers output and messages."""

    def __init__(self, ends: _Ends, limits: Limits) -> None:
        self.stdin: int | None = ends.stdin
        self.channel = ends.channel
        self.streams = {ends.stdout: "stdout", ends.stderr: "stderr"}  # those not yet ended
        self.outputs = (ends.stdout, ends.stderr)
        kept = limits.output_kb * 1024
        self.output = _Output(kept=kept, stop_at=kept * OUTPUT_STOP_FACTOR)
        self.closed = False

    def exchange(self, payload: bytes, protocol: _Protocol, deadline: float) -> str:
        """Feed the job, gather output and messages until the run ends; say how it ended.

        Returns "finished", "timeout", "output_limit", "channel_error", or "ended" when
        the channel closed before the child said it was done.

        The deadline counts the time the child had: waiting for it, and working on what it
        sent. Time this thread could not run (the grader busy with another job, holding
        the GIL) moves the deadline on, and what the child sent before the deadline is
        read before the run is called timed out.
        """
        assert self.stdin is not None
        pending = memoryview(payload)
        frames = _FrameReader()
        with selectors.DefaultSelector() as selector:
            for fd in (*self.streams, self.channel):
                os.set_blocking(fd, False)
                selector.register(fd, selectors.EVENT_READ)
            os.set_blocking(self.stdin, False)
            selector.register(self.stdin, selectors.EVENT_WRITE)
            while True:
                wait = min(max(deadline - time.monotonic(), 0.0), LOOK_SECONDS)
                looked, worked = time.monotonic(), time.thread_time()
                for key, _ in selector.select(wait):
                    if key.fd == self.stdin:
                        pending = self._feed(pending)
                        if not pending:
                            selector.unregister(self.stdin)
                            self._close_stdin()
                    elif key.fd == self.channel:
                        data = _read(self.channel)
                        if data is None:
                            continue
                        if not data:
                            return "ended"
                        try:
                            for message in frames.feed(data):
                                protocol.handle(message)
                        except _ChannelError:
                            return "channel_error"
                        if protocol.done:
                            return "finished"
                    elif not self._gather(selector, key.fd):
                        return "output_limit"
                spent = time.monotonic() - looked
                deadline += max(0.0, spent - wait - (time.thread_time() - worked))
                if wait == 0 and time.monotonic() >= deadline:
                    return "timeout"

    def _feed(self, pending: memoryview) -> memoryview:
        assert self.stdin is not None
        try:
            written = os.write(self.stdin, pending[: 64 * 1024])
        except BlockingIOError:
            written = 0
        except BrokenPipeError:
            written = len(pending)  # the child is gone: its channel will say so
        return pending[written:]

    def _close_stdin(self) -> None:
        if self.stdin is not None:
            os.close(self.stdin)
            self.stdin = None

    def _drain(self, until: float) -> None:
        with selectors.DefaultSelector() as selector:
            for fd in self.streams:
                os.set_blocking(fd, False)
                selector.register(fd, selectors.EVENT_READ)
            while self.streams and (timeout := until - time.monotonic()) > 0:
                for key, _ in selector.select(timeout):
                    self._gather(selector, key.fd)  # past the limit: the run is over anyway

    def _gather(self, selector: selectors.BaseSelector, fd: int) -> bool:
        """Read what an output stream has (forgetting it once it ended); False once the
        output is past its stopping point."""
        data = _read(fd)
        if data == b"":
            selector.unregister(fd)
            del self.streams[fd]
        return not data or self.output.add(self.streams[fd], data)

    def _close_pipes(self) -> None:
        self._close_stdin()
        for fd in (*self.outputs, self.channel):
            os.close(fd)
        self.streams = {}


class _Child(_Pipes):
    """The spawned child, its pipes and its cgroup: everything one run owns."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        ends: _Ends,
        cgroup: _PidsCgroup | None,
        scratch: str | None,
        limits: Limits,
    ) -> None:
        super().__init__(ends, limits)
        self.process = process
        self.cgroup = cgroup
        self.scratch = scratch

    @classmethod
    def spawn(cls, limits: Limits, isolation: str) -> _Child:
        # bubblewrap's monitor and init stay outside the group that the child joins.
        outside = 2 if isolation == "bubblewrap" else 0
        cgroup = _PidsCgroup.create(limits.processes - outside)
        scratch = None if isolation == "bubblewrap" else tempfile.mkdtemp(prefix="graders-run-")
        home = INSIDE_SCRATCH if scratch is None else scratch
        fonts = font_list(isolation)
        ours, theirs = _Ends.pair()
        if isolation == "bubblewrap":
            bwrap = shutil.which("bwrap") or "bwrap"
            command = [bwrap, *_bwrap_options(_scratch_bytes(limits))]
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
        config = {"rlimits": _rlimits(limits, _nproc(cgroup, limits.processes)), "procs_fd": procs}
        command += [str(theirs.channel), json.dumps(config)]
        try:
            process = subprocess.Popen(
                command,
                stdin=theirs.stdin,
                stdout=theirs.stdout,
                stderr=theirs.stderr,
                cwd=scratch or "/",
                env=_child_env(home),
                pass_fds=(theirs.channel,) if procs is None else (theirs.channel, procs),
                start_new_session=True,  # its own process group, killed as one
            )
        except BaseException:
            ours.close()
            _remove(cgroup, scratch)
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
        _remove(self.cgroup, self.scratch)

    def _kill_all(self) -> None:
        # bubblewrap: bwrap is the group leader; when it dies, the init of the sandbox's
        # pid namespace gets SIGKILL (--die-with-parent), and with it every process inside.
        # Without bubblewrap, the process group catches what did not start a session of
        # its own, and the cgroup whatever it did.
        _kill_group(self.process.pid)
        if self.cgroup is not None:
            self.cgroup.kill_all()


def _nproc(cgroup: _PidsCgroup | None, processes: int) -> int | None:
    """RLIMIT_NPROC, where no pids cgroup bounds the processes and we are not root (whom
    it does not bind)."""
    if cgroup is not None or os.geteuid() == 0:
        return None
    # RLIMIT_NPROC counts all of this user's threads: leave room for those running.
    running = _threads_of_user()
    return None if running is None else running + processes


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


# --- warm workers ------------------------------------------------------------------------


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
        limits: Limits = Limits(),
        *,
        require_isolation: bool = False,
        preload: Sequence[str] = (),
    ) -> None:
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        self.limits = limits
        self.isolation = _isolation(require_isolation)
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

    def start(self, limits: Limits | None = None) -> Run:
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

    def __init__(self, count: int, limits: Limits, isolation: str, preload: list[str]) -> None:
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

    def begin(self, limits: Limits) -> _PooledJob:
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
    """A zygote (see sandbox_child.py) in a bubblewrap sandbox of its own, or a plain
    process, with the pids cgroup its jobs join. It runs one job at a time.

    Its reports come over a socket that only the zygote holds: a job never has it, and
    under bubblewrap cannot see the zygote at all (its own pid namespace).
    """

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        control: socket.socket,
        cgroup: _PidsCgroup | None,
        isolation: str,
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
    def spawn(cls, limits: Limits, isolation: str, preload: list[str]) -> _Worker:
        cgroup = _PidsCgroup.create(limits.processes)  # each job sets its own bound
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        procs = cgroup.open_procs() if cgroup is not None else None
        # Where the zygote imports its libraries (as a job's home, for what they cache):
        # isolated, a tmpfs of its own that each job covers with its scratch.
        home = None if isolation == "bubblewrap" else tempfile.mkdtemp(prefix="graders-worker-")
        fonts = font_list(isolation)
        # Where the zygote reads the font list: bound inside, or the grader's own cache.
        fonts_seen = INSIDE_FONT_LIST if isolation == "bubblewrap" else str(fonts)
        config = {
            "isolation": isolation,
            "scratch_bytes": _scratch_bytes(limits),  # its own home's; each job has its own
            "scratch": INSIDE_SCRATCH,
            "proc_covered": PROC_COVERED,
            "procs_fd": procs,
            "preload": preload,
            "font_list": None if fonts is None else [fonts_seen, fonts.name],
        }
        if isolation == "bubblewrap":
            bwrap = shutil.which("bwrap") or "bwrap"
            command = [bwrap, *_zygote_bwrap_options(fonts), "--", sys.executable, "-I", "-B"]
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
                env=_child_env(home or INSIDE_SCRATCH),  # each job gets one of its own
                pass_fds=(theirs.fileno(),) if procs is None else (theirs.fileno(), procs),
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            stderr.close()
            _remove(cgroup, home)
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

    def send_job(self, ends: _Ends, scratch: str, limits: Limits) -> None:
        # A pooled job has no bubblewrap monitor in its group, which a one-off run counts.
        processes = limits.processes - (1 if self.isolation == "bubblewrap" else 0)
        if self.cgroup is not None:
            self.cgroup.set_max(processes)  # one job at a time in the worker's group
        message = {
            "op": "job",
            "scratch": scratch,
            "environment": _child_env(scratch),
            "rlimits": _rlimits(limits, _nproc(self.cgroup, processes)),
            "scratch_bytes": _scratch_bytes(limits),
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
            _kill_group(self.process.pid)
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
        _remove(self.cgroup, self.home)

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
        message = _parse_json(data) if data else None
    except _ChannelError:
        return None
    op = message.get("op") if isinstance(message, dict) else None
    fields = CONTROL_FIELDS.get(op) if type(op) is str else None
    if fields is None or set(message) != {"op", *fields}:
        return None
    if any(type(message[name]) is not int for name in fields):
        return None
    return message


class _PooledJob(_Pipes):
    """One job on a borrowed worker. Started at once: the fork and the confinement overlap
    the caller's own work, as ``start()`` does. Ended, and the worker handed back, by
    ``close()``."""

    def __init__(
        self,
        worker: _Worker,
        ends: _Ends,
        scratch: str | None,
        limits: Limits,
        give_back: Callable[[_Worker], None],
    ) -> None:
        super().__init__(ends, limits)
        self.worker = worker
        self.scratch = scratch  # process isolation: a fresh directory per job
        self.give_back = give_back

    @classmethod
    def begin(
        cls, worker: _Worker, limits: Limits, give_back: Callable[[_Worker], None]
    ) -> _PooledJob:
        scratch = None
        if worker.isolation != "bubblewrap":
            scratch = tempfile.mkdtemp(prefix="graders-run-")
        ours, theirs = _Ends.pair()
        try:
            worker.send_job(theirs, scratch or INSIDE_SCRATCH, limits)
        except BaseException:
            ours.close()
            _remove(None, scratch)
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
            _remove(None, self.scratch)
            self.give_back(worker)


def _read(fd: int) -> bytes | None:
    """What a ready pipe holds: b"" at its end, None if nothing after all."""
    try:
        return os.read(fd, 256 * 1024)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _remove(cgroup: _PidsCgroup | None, scratch: str | None) -> None:
    if cgroup is not None:
        cgroup.remove()
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


def _why_ended(returncode: int | None) -> str:
    """Why a child ended before saying "done": its CPU time, memory, or any other crash.

    bubblewrap exits with 128 + the signal that killed the child. SIGKILL that we did not
    send is the kernel's out-of-memory killer; MEMORY_EXIT is the runner's own word that an
    allocation was refused. What stderr says is not evidence: the student writes it.
    """
    if returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        return "timeout"
    if returncode in (-signal.SIGKILL, 128 + signal.SIGKILL, MEMORY_EXIT):
        return "memory_limit"
    return "crashed"


class _Output:
    """stdout and stderr: the first ``kept`` bytes of each are kept; past ``stop_at``
    bytes in all, the run is stopped."""

    def __init__(self, kept: int, stop_at: int) -> None:
        self.kept = kept
        self.stop_at = stop_at
        self.total = 0
        self.data = {"stdout": bytearray(), "stderr": bytearray()}

    def add(self, stream: str, data: bytes) -> bool:
        """Record output; False once there has been too much of it."""
        buffer = self.data[stream]
        buffer += data[: max(0, self.kept - len(buffer))]
        self.total += len(data)
        return self.total <= self.stop_at

    def text(self, stream: str) -> str:
        return self.data[stream].decode("utf-8", errors="replace")


# --- how the child is started ----------------------------------------------------------


def _bwrap_options(scratch_bytes: int) -> list[str]:
    """bubblewrap's options for a run: namespaces, no capabilities, a file system of
    read-only system parts and a size-bounded tmpfs scratch."""
    scratch = ["--size", str(scratch_bytes), "--tmpfs", INSIDE_SCRATCH, "--chdir", INSIDE_SCRATCH]
    return _bwrap_sandbox(["--cap-drop", "ALL"], scratch)


def _zygote_bwrap_options(fonts: Path | None) -> list[str]:
    """bubblewrap's options for a pool's worker: the same sandbox, but its zygote keeps
    the capabilities it needs to give each job namespaces and mounts of its own, held in
    a user namespace of the worker's own (--unshare-user: never the host's). Every job
    drops them all before it runs anything of the student's (sandbox_child.Zygote)."""
    capabilities = ["--unshare-user", "--cap-drop", "ALL"]
    for capability in ZYGOTE_CAPABILITIES:
        capabilities += ["--cap-add", capability]
    # An empty, read-only mount point: each job mounts a scratch of its own on it.
    scratch = ["--dir", INSIDE_SCRATCH, "--chdir", "/"]
    if fonts is not None:
        scratch += ["--ro-bind", str(fonts), INSIDE_FONT_LIST]
    return _bwrap_sandbox(capabilities, scratch)


def _bwrap_sandbox(capabilities: list[str], scratch: list[str]) -> list[str]:
    options = ["--unshare-all", "--die-with-parent", "--new-session", *capabilities]
    python_dirs = _python_dirs()
    binds = ["/usr", *python_dirs]
    options += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{name}"
        if os.path.islink(path):
            options += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            options += ["--ro-bind", path, path]
            binds.append(path)
    for name in ETC_FILES:
        options += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for path in python_dirs:
        options += ["--ro-bind", path, path]
    options += _grader_mask(binds)
    options += ["--ro-bind", str(CHILD_SCRIPT), INSIDE_SCRIPT]
    options += ["--proc", "/proc", "--dev", "/dev", *scratch]
    # uid 0 inside is uid 0 outside, and for most of /proc/sys being uid 0 is all it takes
    # to write: the host's sysctls would be the sandbox's to change. bubblewrap covers only
    # the parts it finds writable with its own capabilities; these are covered whatever.
    for name in PROC_COVERED:
        options += ["--ro-bind-try", f"/proc/{name}", f"/proc/{name}"]
    # bubblewrap's root and /dev are writable tmpfs until remounted: only the scratch is.
    options += ["--remount-ro", "/dev", "--remount-ro", "/"]
    return options


@functools.cache
def _python_dirs() -> tuple[str, ...]:
    """The Python installation, the venv, and where the importable packages live.

    Bound at their own paths: the venv's python finds its pyvenv.cfg and site-packages
    there. Outside /usr only, and none inside another.
    """
    import importlib.util

    candidates = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    candidates.add(os.path.dirname(os.path.realpath(sys.executable)))
    for package in ("numpy", "sympy", "mpmath", "matplotlib"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            candidates.update(os.path.dirname(p) for p in spec.submodule_search_locations)
    kept: list[str] = []
    for path in sorted(os.path.abspath(c) for c in candidates if os.path.isdir(c)):
        if not any(_within(path, outer) for outer in ["/usr", *kept]):
            kept.append(path)
    return tuple(kept)


_concealed: set[str] = set()


def conceal(directory: Path) -> None:
    """Hide ``directory`` (a course folder: specs and reference solutions) from every
    sandbox started from now on, also where a directory the sandbox mounts contains it."""
    _concealed.add(os.path.realpath(directory))


@functools.cache
def _installed_copies() -> frozenset[str]:
    """This package and every installed copy of it: a checkout first on PYTHONPATH does
    not stop the wheel in site-packages, and the course it carries, from being mounted."""
    import importlib.metadata

    copies = {str(PACKAGE_DIR)}
    for distribution in importlib.metadata.distributions(name="calculus-graders"):
        copies.add(os.path.realpath(distribution.locate_file(PACKAGE_DIR.name)))
    return frozenset(copies)


def _grader_mask(binds: list[str]) -> list[str]:
    """Cover each hidden directory a bound one shows (at its path inside, through
    symlinks) with an empty read-only tmpfs. A bound directory inside a covered one (the
    venv inside a checkout) is bound again on top, and one hidden inside that is covered
    in turn (a wheel installed in that venv)."""
    hidden = [path for path in {*_installed_copies(), *_concealed} if os.path.isdir(path)]
    targets = set()
    for bind in binds:
        real = os.path.realpath(bind)
        targets.update(bind + path[len(real) :] for path in hidden if _within(path, real))
    options: list[str] = []
    covered: list[str] = []
    for path in sorted({*targets, *binds}):  # a directory sorts before what it contains
        around = [outer for outer in [*binds, *covered] if outer != path and _within(path, outer)]
        inside_covered = max(around, key=len, default=None) in covered
        if path in targets and not inside_covered:
            options += ["--tmpfs", path]
            covered.append(path)
        elif path not in targets and inside_covered:
            options += ["--ro-bind", path, path]
    for path in covered:
        options += ["--remount-ro", path]
    return options


def _installed(modules: Sequence[str]) -> list[str]:
    import importlib.util

    return [name for name in modules if importlib.util.find_spec(name.partition(".")[0])]


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _child_env(home: str) -> dict[str, str]:
    """The child's whole environment: nothing of the grader's leaks in."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/{MATPLOTLIB_DIR}",
        # One BLAS thread: numpy's import fits the memory and process limits.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        # The child itself runs with -I -B; these are for Python processes it starts.
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
    }


@functools.cache
def font_list(isolation: str) -> Path | None:
    """matplotlib's font list for one-off runs, or None where matplotlib is missing or the
    list cannot be built. Built once per user, matplotlib and Python, on first use.

    A run starts with an empty home, where matplotlib's first import would list the
    system's fonts (fc-list) and write the list there: about a second, every run. The list
    is built instead by matplotlib's own font manager, with no student code, in a sandbox
    that sees the fonts a run sees; each run then finds it in its MPLCONFIGDIR, bound
    read-only (a plain process gets a copy of its own), so none can change the next one's.
    """
    try:
        version = importlib.metadata.version("matplotlib")
    except importlib.metadata.PackageNotFoundError:
        return None
    key = hashlib.sha256(f"{sys.executable}\0{version}\0{isolation}".encode()).hexdigest()
    directory = _cache_home() / "calculus-graders" / f"matplotlib-{version}-{key[:16]}"
    built = sorted(directory.glob("fontlist-v*.json"))
    if built:
        return built[-1]
    try:
        return _build_font_list(isolation, directory)
    except (OSError, subprocess.SubprocessError):
        return None


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def _build_font_list(isolation: str, directory: Path) -> Path | None:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as home:
        config = Path(home, MATPLOTLIB_DIR)
        config.mkdir()
        command, environment = [sys.executable], _child_env(home)
        if isolation == "bubblewrap":
            bwrap = shutil.which("bwrap") or "bwrap"
            inside = f"{INSIDE_SCRATCH}/{MATPLOTLIB_DIR}"
            command = [bwrap, *_bwrap_options(64 * MB), "--bind", str(config), inside, "--"]
            command.append(sys.executable)
            environment = _child_env(INSIDE_SCRATCH)
        subprocess.run(
            [*command, "-I", "-c", "import matplotlib.font_manager"],
            env=environment,
            cwd="/",
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=FONT_LIST_SECONDS,
            check=True,
        )
        made = sorted(config.glob("fontlist-v*.json"))
        if not made:
            return None
        # Whole or not at all, for a grader building it at the same time.
        os.replace(made[-1], directory / made[-1].name)
        return directory / made[-1].name


def _scratch_bytes(limits: Limits) -> int:
    return limits.file_size_mb * SCRATCH_FACTOR * MB


def _rlimits(limits: Limits, nproc: int | None) -> list[tuple[int, int, int]]:
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


class _PidsCgroup:
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
    def create(cls, max_pids: int) -> _PidsCgroup | None:
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
    for group in parent.glob(_PidsCgroup.PREFIX + "*"):
        owner = group.name.removeprefix(_PidsCgroup.PREFIX).split("-")[0]
        if owner.isdigit() and not _alive(int(owner)):
            stale = _PidsCgroup(group)
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


def _encode_job(job: Job, plan: list[list[int]], cell_seconds: float) -> bytes:
    document = {
        "cell_seconds": cell_seconds,
        "prelude": job.prelude,
        "lazy_modules": dict(job.lazy_modules),
        "cells": [
            {"source": cell.source, "filename": cell.filename, "snapshots": snapshots}
            for cell, snapshots in zip(job.cells, plan, strict=True)
        ],
        "extractions": [
            {
                "names": list(extraction.names),
                "calls": [
                    {
                        "function": call.function,
                        "kwargs": {k: _encode_argument(v) for k, v in call.kwargs.items()},
                    }
                    for call in extraction.calls
                ],
            }
            for extraction in job.extractions
        ],
    }
    return json.dumps(document, separators=(",", ":")).encode()


def _encode_argument(value: object) -> dict[str, object]:
    """A call argument (trusted, from the exercise spec) in the wire format."""
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": format(value, "x")}
    if isinstance(value, float):
        return {"t": "float", "v": value.hex()}
    if isinstance(value, complex):
        return {"t": "complex", "re": value.real.hex(), "im": value.imag.hex()}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {"t": kind, "items": [_encode_argument(item) for item in value]}
    if type(value).__module__ == "numpy":
        return _encode_numpy_argument(value)
    raise TypeError(f"cannot send a {type(value).__name__} to the sandbox")


def _encode_numpy_argument(value: object) -> dict[str, object]:
    import numpy as np

    if isinstance(value, np.generic):
        return _encode_argument(value.item())
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biufc":
        raise TypeError(f"cannot send a {type(value).__name__} to the sandbox")
    kind = value.dtype.kind
    wire = {"b": "bool", "i": "int64", "u": "int64", "f": "float64", "c": "complex128"}[kind]
    if kind == "u" and value.dtype.itemsize == 8:
        wire = "uint64"
    data = np.ascontiguousarray(value, dtype=WIRE_DTYPES[wire]).tobytes()
    return {
        "t": "array",
        "dtype": wire,
        "shape": list(value.shape),
        "data": base64.b64encode(data).decode(),
    }


# --- what comes back -------------------------------------------------------------------


class _ChannelError(Exception):
    """The child broke the protocol: the run ends as "channel_error"."""


class _FrameReader:
    """Splits the channel's bytes into length-prefixed JSON messages, each one's cost
    bounded before it is parsed."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.total = 0
        self.values = 0

    def feed(self, data: bytes) -> Iterator[object]:
        """The messages completed by these bytes, one at a time: those before a bad
        one are handled before it raises."""
        self.total += len(data)
        if self.total > MAX_CHANNEL_BYTES:
            raise _ChannelError("too much data on the channel")
        self.buffer += data
        while len(self.buffer) >= 4:
            length = int.from_bytes(self.buffer[:4], "big")
            if length > MAX_FRAME_BYTES:
                raise _ChannelError("message too large")
            if len(self.buffer) < 4 + length:
                break
            body = self.buffer[4 : 4 + length]  # a copy already: json reads a bytearray
            del self.buffer[: 4 + length]
            values = sum(body.count(mark) for mark in b"[{,:")
            self.values += values
            if values > MAX_FRAME_VALUES or self.values > MAX_CHANNEL_VALUES:
                raise _ChannelError("too many values in a message")
            yield _parse_json(body)


def _parse_json(body: bytes | bytearray) -> object:
    try:
        return json.loads(body, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _ChannelError(f"malformed message: {exc}") from None


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not sent as a JSON number")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


class _Protocol:
    """Checks the child's messages against the job, in order, and gathers the outcome.

    Per cell: "start", then "cell" (its report), then a "snapshot" for each extraction the
    plan names for it; "done" after the last cell.
    """

    def __init__(self, job: Job, assigned: list[list[str]], plan: list[list[int]]) -> None:
        self.job = job
        self.assigned = assigned
        self.plan = plan
        self.reports: list[CellReport] = []
        self.running: int | None = None
        self.taken: set[int] = set()  # extractions snapshotted after the last cell
        self.snapshots: dict[str, Snapshot] = {}
        self.done = False

    def handle(self, message: object) -> None:
        if not isinstance(message, dict) or self.done:
            raise _ChannelError("unexpected message")
        handlers = {
            "start": self._start,
            "cell": self._cell,
            "snapshot": self._snapshot,
            "done": self._done,
        }
        kind = message.get("type")
        handler = handlers.get(kind) if type(kind) is str else None
        if handler is None:
            raise _ChannelError("unknown message type")
        handler(message)

    def _start(self, message: dict[str, object]) -> None:
        _expect_keys(message, {"type", "cell"})
        if self.running is not None or _integer(message["cell"]) != len(self.reports):
            raise _ChannelError("cell started out of order")
        self.running = len(self.reports)
        self.taken = set()

    def _cell(self, message: dict[str, object]) -> None:
        _expect_keys(message, {"type", "cell", "status", "exception", "message", "line", "code"})
        position = self.running
        if position is None or _integer(message["cell"]) != position:
            raise _ChannelError("report for a cell that is not running")
        if message["status"] not in CELL_STATUSES:
            raise _ChannelError("unknown cell status")
        line = message["line"]
        self.reports.append(
            CellReport(
                index=self.job.cells[position].index,
                status=str(message["status"]),
                assigned=self.assigned[position],
                exception=_optional_text(message["exception"], MAX_NAME_CHARS),
                message=_optional_text(message["message"], MAX_MESSAGE_CHARS),
                line=None if line is None else _integer(line, minimum=1),
                code=_optional_text(message["code"], MAX_MESSAGE_CHARS),
            )
        )
        self.running = None

    def _snapshot(self, message: dict[str, object]) -> None:
        _expect_keys(message, {"type", "cell", "extraction", "values", "calls"})
        position = len(self.reports) - 1
        if self.running is not None or _integer(message["cell"]) != position:
            raise _ChannelError("snapshot out of order")
        number = _integer(message["extraction"])
        if number not in self.plan[position] or number in self.taken:
            raise _ChannelError("snapshot not asked for")
        self.taken.add(number)
        extraction = self.job.extractions[number]
        values, calls = message["values"], message["calls"]
        if not isinstance(values, dict) or not set(values) <= set(extraction.names):
            raise _ChannelError("snapshot of names not asked for")
        if not isinstance(calls, list) or len(calls) != len(extraction.calls):
            raise _ChannelError("wrong number of call results")
        self.snapshots[extraction.exercise] = Snapshot(
            exercise=extraction.exercise,
            after_cell=self.job.cells[position].index,
            values={name: _decode_value(node) for name, node in values.items()},
            calls=[_decode_call(node) for node in calls],
        )

    def _done(self, message: dict[str, object]) -> None:
        _expect_keys(message, {"type"})
        if self.running is not None or len(self.reports) != len(self.job.cells):
            raise _ChannelError("done before the last cell")
        self.done = True

    def outcome(
        self, termination: str, *, stdout: str, stderr: str, isolation: str, duration: float
    ) -> Outcome:
        """The reports, with the cells the run did not finish filled in."""
        # The cell running when the run was stopped is where the limit was hit; the
        # cells after it were never reached.
        running_status = {"timeout": "timeout", "memory_limit": "memory"}.get(
            termination, "skipped"
        )
        cells = list(self.reports)
        for position in range(len(self.reports), len(self.job.cells)):
            status = running_status if position == self.running else "skipped"
            cells.append(
                CellReport(self.job.cells[position].index, status, self.assigned[position])
            )
        return Outcome(
            cells=cells,
            snapshots=self.snapshots,
            termination=termination,
            stdout=stdout,
            stderr=stderr,
            isolation=isolation,
            duration=duration,
            setup_failed=not self.done and not self.reports and self.running is None,
        )


def _expect_keys(node: dict[str, object], keys: set[str]) -> None:
    if set(node) != keys:
        raise _ChannelError(f"expected the fields {sorted(keys)}")


def _integer(value: object, minimum: int = 0) -> int:
    # type() and not isinstance(): JSON true is not a cell number.
    if type(value) is not int or not minimum <= value <= 10**9:
        raise _ChannelError("bad integer")
    return value


def _text(value: object, limit: int) -> str:
    if type(value) is not str or len(value) > limit:
        raise _ChannelError("bad text")
    return _valid_text(value)


def _valid_text(text: str) -> str:
    """The text with each lone surrogate (JSON's "\\ud800" makes one; no encoder writes
    one) replaced by U+FFFD: every string the sandbox hands back can be printed and saved."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _optional_text(value: object, limit: int) -> str | None:
    return None if value is None else _text(value, limit)


def _float(value: object) -> float:
    try:
        return float.fromhex(_text(value, 40))
    except ValueError:
        raise _ChannelError("bad float") from None


def _decode_call(node: object) -> object:
    if isinstance(node, dict) and node.get("t") == "call_failure":
        _expect_keys(node, {"t", "exception", "message", "line", "code"})
        line = node["line"]
        return CallFailure(
            exception=_text(node["exception"], MAX_NAME_CHARS),
            message=_text(node["message"], MAX_MESSAGE_CHARS),
            line=None if line is None else _integer(line, minimum=1),
            code=_optional_text(node["code"], MAX_MESSAGE_CHARS),
        )
    return _decode_value(node)


def _decode_value(node: object, depth: int = 0) -> object:
    """One value from the wire, checked field by field; anything else is a channel error."""
    kind = node.get("t") if isinstance(node, dict) else None
    if kind in ("none", "placeholder"):
        _expect_keys(node, {"t"})
        return None if kind == "none" else PLACEHOLDER
    if kind == "bool":
        _expect_keys(node, {"t", "v"})
        if type(node["v"]) is not bool:
            raise _ChannelError("bad bool")
        return node["v"]
    if kind == "int":
        _expect_keys(node, {"t", "v"})
        digits = _text(node["v"], 1025)
        if not HEX_INT.fullmatch(digits):
            raise _ChannelError("bad int")
        return int(digits, 16)
    if kind == "float":
        _expect_keys(node, {"t", "v"})
        return _float(node["v"])
    if kind == "complex":
        _expect_keys(node, {"t", "re", "im"})
        return complex(_float(node["re"]), _float(node["im"]))
    if kind in ("str", "symbolic"):
        _expect_keys(node, {"t", "v"})
        text = _text(node["v"], MAX_TEXT_CHARS)
        return text if kind == "str" else SymbolicText(text)
    if kind == "opaque":
        _expect_keys(node, {"t", "type", "summary"})
        return Opaque(
            _text(node["type"], MAX_NAME_CHARS), _text(node["summary"], MAX_MESSAGE_CHARS)
        )
    if kind in ("list", "tuple"):
        _expect_keys(node, {"t", "items"})
        items = node["items"]
        if not isinstance(items, list) or len(items) > MAX_ITEMS or depth >= MAX_DEPTH:
            raise _ChannelError("bad sequence")
        decoded = [_decode_value(item, depth + 1) for item in items]
        return decoded if kind == "list" else tuple(decoded)
    if kind == "array":
        return _decode_array(node)
    raise _ChannelError("unknown value type")


def _decode_array(node: dict[str, object]) -> object:
    import numpy as np

    _expect_keys(node, {"t", "dtype", "shape", "data"})
    dtype = WIRE_DTYPES.get(node["dtype"]) if type(node["dtype"]) is str else None
    shape = node["shape"]
    if dtype is None or not isinstance(shape, list) or len(shape) > MAX_DEPTH:
        raise _ChannelError("bad array")
    size = math.prod(_integer(n) for n in shape)
    if size > MAX_ARRAY_ELEMENTS:
        raise _ChannelError("array too large")
    try:
        raw = base64.b64decode(_text(node["data"], 4 * MAX_FRAME_BYTES // 3), validate=True)
    except binascii.Error:
        raise _ChannelError("bad array data") from None
    if len(raw) != size * np.dtype(dtype).itemsize:
        raise _ChannelError("array data does not match its shape")
    if dtype == "|b1" and raw.translate(None, b"\x00\x01"):
        raise _ChannelError("bool array holds other bytes than 0 and 1")
    return np.frombuffer(bytearray(raw), dtype=dtype).reshape(shape)
