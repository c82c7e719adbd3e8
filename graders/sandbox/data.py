"""What a caller hands the sandbox and what it hands back: plain data types only."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

MB = 2**20  # RunLimits' megabytes


class Isolation(StrEnum):
    BUBBLEWRAP = "bubblewrap"  # namespaces: no network, none of the grader's files
    PROCESS = "process"  # a plain child process with the same limits, hiding nothing


# The values are the wire format's (the child writes them), and the old strings compare
# equal to their members.
class CellStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"  # the soft per-cell limit, or the run's hard limit while it ran
    MEMORY = "memory"  # an allocation the memory limit refused, or the run killed for it
    SKIPPED = "skipped"  # never reached: the run ended before (never sent by the child)


class Termination(StrEnum):
    """How a run ended."""

    FINISHED = "finished"  # the child said it was done
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    CRASHED = "crashed"  # any other end before "done": an exit, a signal
    CHANNEL_ERROR = "channel_error"  # the child broke the protocol


@dataclass(frozen=True)
class RunLimits:
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
    status: CellStatus
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
    termination: Termination
    stdout: str
    stderr: str
    isolation: Isolation
    duration: float  # seconds from submit() to the end of the run
    # The run ended before its first cell started: the grader's own setup (the prelude)
    # failed, which no student code can cause, since none has run yet.
    setup_failed: bool = False


class SandboxUnavailable(RuntimeError):
    """Isolation was required, but bubblewrap is missing or cannot work here."""
