"""Runs student code in a sandboxed child process and hands back plain data only.

This package is the only code that starts student code. ``start()`` spawns the child at
once, so that its Python and numpy start-up overlaps the caller's own imports;
``Run.submit(job)`` sends the cells, waits, and always returns an ``Outcome`` made of plain
values.

Modules: ``data`` (what goes in and comes out), ``runs`` (a one-off child), ``pool`` (warm
workers), ``pipes`` (the grader's ends of a run), ``protocol`` (the wire format, checked),
``mounts`` (bubblewrap's arguments), ``resources`` (rlimits and the pids cgroup),
``environment`` (a run's variables and font list), and ``child.py``, the one
self-contained script that runs inside.

Isolation ("bubblewrap", Linux): the child runs in new user, pid, network, ipc, uts and
cgroup namespaces, without capabilities, in its own session, dying with the grader. It sees
/usr, the libraries, a few files of /etc, the Python installation and the packages it may
import, all read-only, plus fresh /proc (its /proc/sys read-only: uid 0 inside is the
host's uid 0, and that is all most sysctls ask of a writer) and /dev and a size-bounded
tmpfs as its scratch (cwd, HOME). Nothing else exists inside: not the grader's tree
(specs, reference solutions), not /root, /work or /tmp, not other submissions, not the
network. Where a mounted directory holds the graders package (a wheel in site-packages, with
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
running, each with a zygote (child.py) that has imported numpy, the runner and the
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

# Static analysis lives in graders.source_analysis; named here too for callers of the
# time when it was part of this module.
from ..source_analysis import assigned_names, packages_used, parse
from .data import (
    Call,
    Cell,
    CellReport,
    CellStatus,
    Extraction,
    Isolation,
    Job,
    Outcome,
    RunLimits,
    SandboxUnavailable,
    Snapshot,
    Termination,
)
from .environment import font_list
from .mounts import PACKAGE_DIR, conceal
from .pool import Pool
from .runs import Run, isolation_available, run, start

__all__ = [
    "PACKAGE_DIR",
    "Call",
    "Cell",
    "CellReport",
    "CellStatus",
    "Extraction",
    "Isolation",
    "Job",
    "Outcome",
    "Pool",
    "Run",
    "RunLimits",
    "SandboxUnavailable",
    "Snapshot",
    "Termination",
    "assigned_names",
    "conceal",
    "font_list",
    "isolation_available",
    "packages_used",
    "parse",
    "run",
    "start",
]
