"""The instant self-check: grade the answers the student's kernel holds, without a replay.

A ``Recorder`` (IPython's ``post_run_cell`` event, installed when the self-check is
imported) notes after every cell what the sandbox would report about it: its status,
exception and line, and a snapshot of the exercises' answers it binds. ``KernelRun`` then
stands in for a sandbox run: from those notes it builds the ``sandbox.Outcome`` the
engine grades, so the feedback is the engine's, word for word.

Values cross as plain data exactly as they leave the sandbox: the child's own ``Encoder``
reads them through the built-in types' slots (a rigged ``__eq__``, ``__float__`` or
``__array__`` never runs) and they are decoded into fresh numbers, arrays and strings.
Nothing here runs student code: no cell is re-executed in the kernel.

A function exercise needs calls of the student's function, which must not run in the
grading code: those calls run in a warm sandbox (``sandbox.Pool(1)``, started in the
background when the recorder is installed). It is given only the statements the calls
need (``dependencies``: the def, and what last binds the globals it reads, found with
Python's own scoping), not the whole cells: a tutorial's cell also runs its simulation and
plots, which cost a second in the sandbox. Should the slice miss a name, the calls are
made again after the whole cells, as the replay makes them.
"""

from __future__ import annotations

import ast
import builtins
import symtable
import sys
import threading
import time
import types
from collections.abc import Collection, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from . import sandbox
from .sandbox.child import Encoder, deepest_student_frame, opaque
from .sandbox.protocol import decode_value
from .source_analysis import assigned_names, parse
from .submission import neutralise_magics
from .values import CallFailure

if TYPE_CHECKING:
    from IPython.core.interactiveshell import ExecutionResult, InteractiveShell

# Executed cells remembered, as many as a replay looks at.
REMEMBERED = 200
_BUILTINS = frozenset(dir(builtins))
_TEXT_CAP = 2_000


# --- values, as they leave the sandbox ---------------------------------------------------


class _Direct:
    """The Encoder's time limit, in the kernel: sympy's printer runs as ``print`` would."""

    @staticmethod
    def run(function: Any, seconds: float) -> tuple[Any, BaseException | None]:
        try:
            return function(), None
        except Exception as exc:
            return None, exc


class _KernelEncoder(Encoder):
    def __init__(self) -> None:
        super().__init__(_Direct(), 0.0)  # type: ignore[arg-type]

    def symbolic(self, value: Any, tp: type) -> dict:
        # A class that only claims sympy's module would have its own __str__ run here.
        if not _is_sympys(tp):
            return opaque(tp, "its text could not be read")
        return super().symbolic(value, tp)


# The built-in descriptors, so that a metaclass cannot answer for a class.
_module_of = type.__dict__["__module__"].__get__
_qualname_of = type.__dict__["__qualname__"].__get__


def _is_sympys(tp: type) -> bool:
    """Whether the class is one sympy itself defines, found where its module says."""
    module = sys.modules.get(_module_of(tp))
    found: object = module
    for part in _qualname_of(tp).split("."):
        found = getattr(found, part, None) if isinstance(found, types.ModuleType | type) else None
    return found is tp


def plain_values(namespace: dict[str, Any], names: Collection[str]) -> dict[str, object]:
    """The names' values as the sandbox hands them back (absent names are missing)."""
    encoder = _KernelEncoder()
    return {
        name: decode_value(encoder.encode_top(namespace[name]))
        for name in names
        if name in namespace
    }


# --- what the kernel ran -----------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    """One executed cell as the sandbox would report it, and the answers right after it."""

    status: str
    exception: str | None = None
    message: str | None = None
    line: int | None = None
    code: str | None = None
    values: dict[str, object] | None = None  # None: it binds no answer


class Recorder:
    """Notes every executed cell (``post_run_cell``), keyed by its execution count."""

    def __init__(self, shell: InteractiveShell, answer_groups: Sequence[Sequence[str]]) -> None:
        self.shell = shell
        self.groups = [tuple(group) for group in answer_groups]
        self.cells: dict[int, Ran] = {}
        self.first: int | None = None  # the first execution count recorded

    def add_answers(self, answer_groups: Sequence[Sequence[str]]) -> None:
        for group in answer_groups:
            if tuple(group) not in self.groups:
                self.groups.append(tuple(group))

    def after_cell(self, result: ExecutionResult) -> None:
        if not result.info.store_history or result.execution_count is None:
            return
        number = result.execution_count
        source = result.info.raw_cell or ""
        bound = set(assigned_names(neutralise_magics(source)))
        names = {name for group in self.groups if bound & set(group) for name in group}
        values = plain_values(self.shell.user_ns, names) if names else None
        self.cells[number] = replace(self._report(result, source), values=values)
        if self.first is None:
            self.first = number
        for old in [n for n in self.cells if n <= number - REMEMBERED]:
            del self.cells[old]

    def _report(self, result: ExecutionResult, source: str) -> Ran:
        before = result.error_before_exec
        if isinstance(before, SyntaxError):
            line = before.lineno
            return Ran(
                "error", "SyntaxError", str(before.msg)[:_TEXT_CAP], line, _line(source, line)
            )
        exc = result.error_in_exec or before
        if exc is None:
            return Ran("ok")
        transformed = self.shell.transform_cell(source)
        filename = self.shell.compile.get_code_name(source, transformed, result.execution_count)
        _, line = deepest_student_frame(exc, {filename})
        name = _qualname_of(type(exc))
        return Ran("error", name, _message(exc), line, _line(source, line))


def _message(exc: BaseException) -> str:
    """The exception's text, read only where no student code can produce it."""
    exact = all(type(arg) in (str, int, float) for arg in exc.args)
    if _module_of(type(exc)) != "builtins" or not exact:
        return "(the message could not be read)"
    return str(exc)[:_TEXT_CAP]


def _line(source: str, line: int | None) -> str | None:
    lines = source.splitlines()
    if line is None or not 1 <= line <= len(lines):
        return None
    return lines[line - 1].strip()[:_TEXT_CAP]


def unconditional_raise(source: str) -> Ran:
    """A cell run before the recorder: what it certainly did, from its text alone. The
    handed-out ``raise NotImplementedError("...")`` at the top level always raises."""
    tree = parse(source)
    for statement in tree.body if tree is not None else ():
        exc = statement.exc if isinstance(statement, ast.Raise) else None
        if isinstance(exc, ast.Call) and isinstance(exc.func, ast.Name):
            text = exc.args[0] if len(exc.args) == 1 and not exc.keywords else None
            if exc.func.id == "NotImplementedError" and (
                not exc.args or (isinstance(text, ast.Constant) and type(text.value) is str)
            ):
                message = text.value if isinstance(text, ast.Constant) else ""
                line = statement.lineno
                return Ran("error", "NotImplementedError", message, line, _line(source, line))
    return Ran("ok")


# --- a sandbox run, from the kernel ------------------------------------------------------


class KernelRun:
    """Stands in for ``sandbox.Run``: the job's cells were run by the kernel already."""

    def __init__(
        self,
        recorder: Recorder,
        namespace: dict[str, Any],
        functions: FunctionCalls,
        limits: sandbox.RunLimits,
    ) -> None:
        self.recorder = recorder
        self.namespace = namespace
        self.functions = functions
        self.limits = limits
        self.outcome: sandbox.Outcome | None = None

    def submit(self, job: sandbox.Job) -> sandbox.Outcome:
        began = time.monotonic()
        reports = {}
        for cell in job.cells:
            ran = self.recorder.cells.get(cell.index) or unconditional_raise(cell.source)
            reports[cell.index] = sandbox.CellReport(
                cell.index,
                ran.status,
                assigned_names(cell.source),
                ran.exception,
                ran.message,
                ran.line,
                ran.code,
            )
        snapshots = {}
        for extraction in job.extractions:
            assert extraction.after is not None
            ran = self.recorder.cells.get(extraction.after)
            if ran is not None and ran.values is not None:
                values = {n: ran.values[n] for n in extraction.names if n in ran.values}
            else:  # run before the recorder, or the cell running now: the kernel's values
                values = plain_values(self.namespace, extraction.names)
            calls: list[object] = []
            if extraction.calls:
                called = self.functions.call(job, extraction, self.limits)
                if isinstance(called, sandbox.CellReport):
                    reports[extraction.after] = called  # it did not run the same in the sandbox
                    continue
                calls = called
            snapshots[extraction.exercise] = sandbox.Snapshot(
                extraction.exercise, extraction.after, values, calls
            )
        self.outcome = sandbox.Outcome(
            cells=[reports[cell.index] for cell in job.cells],
            snapshots=snapshots,
            termination="finished",
            stdout="",
            stderr="",
            isolation=self.functions.isolation(),
            duration=time.monotonic() - began,
        )
        return self.outcome


class FunctionCalls:
    """A warm sandbox for the calls of a student's function, kept by the kernel."""

    def __init__(self) -> None:
        self._pool: Future[sandbox.Pool] = Future()
        threading.Thread(target=self._start, name="graders-warm-sandbox", daemon=True).start()

    def _start(self) -> None:
        try:
            self._pool.set_result(sandbox.Pool(1))
        except BaseException as exc:  # handed to the caller of call()
            self._pool.set_exception(exc)

    def isolation(self) -> str:
        pool = self._pool.result() if self._pool.done() and not self._pool.exception() else None
        if pool is not None:
            return pool.isolation
        return "bubblewrap" if sandbox.isolation_available() else "process"

    def call(
        self, job: sandbox.Job, extraction: sandbox.Extraction, limits: sandbox.RunLimits
    ) -> list[object] | sandbox.CellReport:
        """The extraction's calls, made in a sandbox after the statements the function
        needs; the defining cell's report instead, if it did not finish there.

        Should the slice miss a name (a global changed in place, say), the calls are made
        again after every cell up to the defining one, as the replay makes them."""
        assert extraction.after is not None
        function = extraction.calls[0].function
        position = next(p for p, cell in enumerate(job.cells) if cell.index == extraction.after)
        for cells in (
            dependencies(job.cells[: position + 1], function, provided(job)),
            job.cells[: position + 1],
        ):
            one = sandbox.Job(
                cells=cells,
                prelude=job.prelude,
                lazy_modules=job.lazy_modules,
                extractions=[extraction],
            )
            outcome = self._pool.result().start(limits).submit(one)
            snapshot = outcome.snapshots.get(extraction.exercise)
            if snapshot is not None and not any(map(_missed_a_name, snapshot.calls)):
                return snapshot.calls
        if snapshot is not None:
            return snapshot.calls
        return next(cell for cell in outcome.cells if cell.index == extraction.after)

    def close(self) -> None:
        if self._pool.done() and not self._pool.exception():
            self._pool.result().close()


def provided(job: sandbox.Job) -> set[str]:
    """Names every sandbox job starts with: numpy, the lazy modules, the setup's names."""
    return {"np", *job.lazy_modules, *assigned_names(job.prelude)}


def _missed_a_name(call: object) -> bool:
    return isinstance(call, CallFailure) and call.exception == "NameError"


def dependencies(
    cells: Sequence[sandbox.Cell], function: str, given: set[str]
) -> list[sandbox.Cell]:
    """The statements of ``cells`` (the last one defines ``function``) that its calls,
    made after them, need: those that last bind a name it reads and, in turn, the names
    they read. Each cell keeps only those (other lines blank: line numbers stay the
    student's); the last cell is kept even if empty, its snapshot follows it.

    A function reads its globals when called, after the last cell: those names are looked
    for from its end too (and, as a function may also be called earlier, from the def)."""
    statements = [
        (cell, statement) for cell in cells for statement in getattr(parse(cell.source), "body", [])
    ]
    at_call = {function}
    while True:
        kept = _last_binders(statements, at_call, given)
        read_by_functions = {name for _, st in kept for name in _reads(st)[1]} - given
        if read_by_functions <= at_call:
            break
        at_call |= read_by_functions
    lines: dict[int, set[int]] = {}
    for cell, statement in kept:
        first = min([statement.lineno] + [d.lineno for d in _decorators(statement)])
        lines.setdefault(cell.index, set()).update(
            range(first, (statement.end_lineno or first) + 1)
        )
    lines.setdefault(cells[-1].index, set())
    return [
        replace(
            cell,
            source="\n".join(
                text if number in lines[cell.index] else ""
                for number, text in enumerate(cell.source.split("\n"), 1)
            ),
        )
        for cell in cells
        if cell.index in lines
    ]


def _last_binders(
    statements: list[tuple[sandbox.Cell, ast.stmt]], needed: set[str], given: set[str]
) -> list[tuple[sandbox.Cell, ast.stmt]]:
    needed = set(needed)
    kept = []
    for cell, statement in reversed(statements):
        if not needed:
            break
        bound = set(assigned_names(ast.unparse(statement)))
        if bound & needed:
            kept.append((cell, statement))
            when_run, when_called = _reads(statement)
            needed = (needed - bound) | ((when_run | when_called) - given)
    return list(reversed(kept))


def _decorators(statement: ast.stmt) -> list[ast.expr]:
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return statement.decorator_list
    return []


def _reads(statement: ast.stmt) -> tuple[set[str], set[str]]:
    """The global names a statement reads as it runs, and those its functions (and
    comprehensions, class bodies) read: Python's own scoping (``symtable``)."""
    try:
        table = symtable.symtable(ast.unparse(statement), "<cell>", "exec")
    except SyntaxError:  # `return` or `yield` outside a function: it raised in the kernel too
        return set(), set()
    when_run = {symbol.get_name() for symbol in table.get_symbols() if symbol.is_referenced()}
    when_called: set[str] = set()
    nested = list(table.get_children())
    while nested:
        scope = nested.pop()
        nested += scope.get_children()
        when_called |= {
            symbol.get_name()
            for symbol in scope.get_symbols()
            if symbol.is_referenced() and symbol.is_global()
        }
    return when_run - _BUILTINS, when_called - _BUILTINS


# --- when the replay disagrees -----------------------------------------------------------


def same_value(one: object, two: object) -> bool:
    """Equality of plain data (both sides decoded by the grader, never student objects)."""
    import numpy as np

    if isinstance(one, np.ndarray) or isinstance(two, np.ndarray):
        return (
            isinstance(one, np.ndarray)
            and isinstance(two, np.ndarray)
            and one.shape == two.shape
            and bool(np.array_equal(one, two, equal_nan=one.dtype.kind in "fc"))
        )
    if isinstance(one, list | tuple) and isinstance(two, list | tuple):
        return (
            type(one) is type(two)
            and len(one) == len(two)
            and all(same_value(a, b) for a, b in zip(one, two, strict=True))
        )
    if isinstance(one, float) and isinstance(two, float) and one != one and two != two:
        return True  # both NaN
    return type(one) is type(two) and one == two


def difference(
    kernel: sandbox.Outcome,
    seen: Collection[int],
    replayed: sandbox.Outcome,
    exercise: str,
    cell: str,
) -> str | None:
    """What makes the replay of one exercise differ from the kernel: the graded cell or
    else the first cell ``seen`` by the recorder that ended otherwise, or the first answer
    with another value after the graded cell."""
    ran = {report.index: report for report in kernel.cells if report.index in seen}
    graded = [r for r in replayed.cells if f"In [{r.index}]" == cell]
    for report in graded + replayed.cells:
        here = ran.get(report.index)
        if here is not None and (here.status, here.exception) != (report.status, report.exception):
            if report.status == "ok":
                return f"In [{report.index}] ran without error when replayed"
            what = report.exception or report.status
            detail = f" ({report.message})" if report.message else ""
            return f"In [{report.index}] raised {what}{detail} when replayed"
    for key, snapshot in replayed.snapshots.items():
        if not key.startswith(f"{exercise}@"):
            continue
        mine = kernel.snapshots.get(key)
        theirs = snapshot.values
        if mine is None:
            continue
        for name in sorted(set(theirs) | set(mine.values)):
            if name not in mine.values or name not in theirs:
                state = "not defined" if name not in theirs else "defined"
                return f"{name} is {state} after {cell} when replayed"
            if not same_value(mine.values[name], theirs[name]):
                return f"{name} has another value after {cell} when replayed than in your kernel"
    return None
