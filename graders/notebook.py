"""Self-check from inside Jupyter, Colab or IPython: ``check("product_rule_alpha")``.

Two answers, one after the other. The instant one grades the answers the kernel holds
(``graders.kernel``: read as plain data, as they leave the sandbox, after each cell that
bound them), so a check takes milliseconds. The graded one rebuilds the code that produced
them: the cells the kernel executed, in execution order, from IPython's input history,
replayed in the sandbox in a background thread as a handed-in notebook is graded. When the
two differ, the report shown is replaced by the replayed one, with a line saying what made
the difference. Both go through the engine, so the feedback is the command line's word for
word. Outside IPython, the caller's own ``.py`` file is graded.

Nothing here executes student code; sources are only parsed (``ast``) to leave out what
must not be replayed: ``check`` calls and imports of this package (the sandbox cannot see
the grader) and cells that only show something.
"""

from __future__ import annotations

import ast
import re
import sys
import threading
from collections.abc import Collection, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from . import engine, reports, sandbox
from .assignments import exercises_for
from .errors import MESSAGE_ERRORS
from .kernel import FunctionCalls, KernelRun, Recorder, difference
from .limits import LimitOverrides, limits_for
from .results import ExerciseResult, SubmissionResult
from .source_analysis import assigned_names, parse
from .spec import DEFAULT_COURSE, Spec, find, load_all, of_assignment
from .submission import CodeCell, Submission, from_answer, load, neutralise_magics

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

# Replayed cells at most: a long session is cut to its most recent cells (and says so), so
# that a check stays about a second however long the kernel has been running.
MAX_CELLS = 200

SUBMISSION_NAME = "your notebook"

# Expression statements that only show something: skipping them saves the sandbox from
# drawing plots no one sees. Any other call may change state and is replayed.
_DISPLAY_FUNCTIONS = frozenset({"print", "display"})
_DISPLAY_MODULES = frozenset({"plt"})

# The report page's styles are written for a page of its own (body, h1, table): inside a
# notebook they must apply to the report only, not to the notebook around it.
_SCOPE = "graders-check"
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)
_BODY = re.compile(r"<body>(.*)</body>", re.DOTALL)
_RULE = re.compile(r"([^{}]+)\{")
# Notebook front-ends right-align table cells (for data frames) with two-class selectors:
# the report's text goes back to the left; its own rules, later and as specific, still win.
_HOST_RESET = f".{_SCOPE}.{_SCOPE} td {{ text-align: left; }}"


class CheckError(Exception):
    """``check`` cannot be carried out; the message is one line the student can act on."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the message is the whole story.
        return [f"{type(self).__name__}: {self}"]


class Feedback:
    """A graded self-check: the report as HTML in a notebook, as text in a terminal.

    ``result`` is the SubmissionResult (score, statuses, per-check feedback): the instant
    answer at first, the replayed one if the replay found a difference (then ``divergence``
    is the line that says what made it).
    """

    def __init__(self, result: SubmissionResult) -> None:
        self.result = result
        self.divergence: str | None = None
        self._replay: Future[SubmissionResult] | None = None
        self._handle: Any = None  # IPython's DisplayHandle of the report shown
        self._shown_in: int | None = None  # the execution count of the cell that showed it

    def _repr_html_(self) -> str:
        return _fragment(reports.to_html(self.result))

    def __repr__(self) -> str:
        return reports.to_text(self.result, color=False)

    def _bundle(self) -> dict[str, str]:
        return {"text/html": self._repr_html_(), "text/plain": repr(self)}

    def show(self) -> None:
        """Show the report now: rich output in IPython, printed text elsewhere."""
        shell = _shell()
        if shell is None:
            print(repr(self))
            return
        from IPython.display import display

        self._handle = display(self._bundle(), raw=True, display_id=True)
        self._shown_in = shell.execution_count

    def _ipython_display_(self) -> None:
        # `check(...)` as a cell's last line: check() has already shown the report there.
        shell = _shell()
        if shell is None or self._shown_in != shell.execution_count:
            self.show()

    def wait(self, timeout: float | None = None) -> SubmissionResult:
        """The graded result: the replay's, once it has finished (the instant one if none)."""
        if self._replay is not None:
            self._replay.result(timeout)
        return self.result

    def _replayed(self, replayed: SubmissionResult, divergence: str | None) -> None:
        """The replay's word: where it differs, it replaces the report shown."""
        if divergence is None:
            return
        replayed.notices.insert(0, divergence)
        self.result, self.divergence = replayed, divergence
        if self._handle is not None:
            self._handle.update(self._bundle(), raw=True)
        else:
            print(f"\n{divergence}", flush=True)


def check(
    exercise: str | None = None,
    answer: str | None = None,
    *,
    assignment: str | None = None,
    source_file: str | Path | None = None,
    course: str | Path = DEFAULT_COURSE,
) -> Feedback:
    """Grade one exercise now, show the report, and return it.

    With no ``answer`` or ``source_file``, the answers this kernel holds are graded at
    once, and the cells it has executed are replayed in the background (in Jupyter, Colab
    or IPython; in plain Python, the calling ``.py`` file is graded). ``answer`` is a typed
    formula for an expression exercise (``check("chain_rule", "4a^3 e^(a^4+1)")``);
    ``source_file`` grades a ``.py``, ``.ipynb`` or ``.txt`` file instead. Without
    ``exercise``, every exercise of the notebook's assignment is graded, as ``grade.py
    grade`` grades a notebook: ``assignment`` names it instead of recognising it from the
    exercise cells.
    """
    caller = sys._getframe(1)
    try:
        specs = _specs(exercise, assignment, Path(course))
        replay = _replay(specs, answer, source_file, caller)
        if exercise is None:
            specs = exercises_for(replay.submission, specs, assignment)
        answered_only = exercise is None and replay.submission.kind == "code"
        kernel = _kernel() if replay.from_history else None
        if kernel is None:
            result = engine.grade(replay.submission, specs, answered_only=answered_only)
        else:
            kernel.recorder.add_answers([spec.snapshot_names for spec in specs])
            instant = kernel.run(replay.submission, specs)
            result = engine.grade(kernel.instant(replay.submission), specs, run=instant)
    except MESSAGE_ERRORS as exc:
        raise CheckError(str(exc)) from None
    finally:
        del caller  # a frame kept alive keeps the whole cell's namespace alive
    if replay.dropped:
        result.notices.append(
            f"Only the last {MAX_CELLS} cells you ran were replayed, not the "
            f"{replay.dropped} before them. If the result looks wrong, restart the kernel "
            "and run the notebook from the top."
        )
    feedback = Feedback(result)
    feedback.show()
    if kernel is not None:
        feedback._replay = kernel.replay(feedback, replay.submission, specs, instant)
    return feedback


def check_all(*, assignment: str | None = None, course: str | Path = DEFAULT_COURSE) -> Feedback:
    """Every exercise of the notebook's assignment at once: ``check()`` without an exercise."""
    return check(assignment=assignment, course=course)


# --- the kernel's own answers, and their replay ------------------------------------------


class _Kernel:
    """What the self-check keeps in a kernel: the recorder and the warm sandbox."""

    def __init__(self, shell: InteractiveShell) -> None:
        self.shell = shell
        self.recorder = Recorder(shell, [spec.snapshot_names for spec in load_all(DEFAULT_COURSE)])
        shell.events.register("post_run_cell", self.recorder.after_cell)
        self.functions = FunctionCalls()
        self._replays = threading.Lock()  # one at a time: the machine's cores are the student's

    def instant(self, submission: Submission) -> Submission:
        """The history without the answering cells the recorder did not see and a later
        cell answers again: the kernel no longer holds what they left."""
        recorded = self.recorder.cells
        later: set[str] = set()
        kept = []
        for cell in reversed(submission.cells):
            bound = set(assigned_names(cell.source))
            if (
                cell.index in recorded
                or not bound
                or not bound <= later
                or cell is submission.cells[-1]
            ):
                kept.append(cell)
            later |= bound
        return Submission(None, submission.name, "notebook", tuple(reversed(kept)), None)

    def run(self, submission: Submission, specs: Sequence[Spec]) -> KernelRun:
        limits = limits_for(specs, submission, LimitOverrides())
        return KernelRun(self.recorder, self.shell.user_ns, self.functions, limits)

    def replay(
        self, feedback: Feedback, submission: Submission, specs: list[Spec], instant: KernelRun
    ) -> Future[SubmissionResult]:
        done: Future[SubmissionResult] = Future()

        def work() -> None:
            with self._replays:
                try:
                    first = feedback.result
                    replayed, outcome = self._second_opinion(submission, specs)
                    assert instant.outcome is not None
                    divergence = _divergence(first, instant, replayed, outcome)
                    feedback._replayed(replayed, divergence)
                    done.set_result(feedback.result)
                except BaseException as exc:  # the instant answer stands
                    done.set_exception(exc)

        threading.Thread(target=work, name="graders-replay", daemon=True).start()
        return done

    def _second_opinion(
        self, submission: Submission, specs: list[Spec]
    ) -> tuple[SubmissionResult, sandbox.Outcome]:
        limits = limits_for(specs, submission, LimitOverrides())
        run = _Kept(sandbox.start(limits))
        replayed = engine.grade(submission, specs, run=run)
        assert run.outcome is not None
        return replayed, run.outcome


def _divergence(
    instant: SubmissionResult,
    kernel: KernelRun,
    replayed: SubmissionResult,
    outcome: sandbox.Outcome,
) -> str | None:
    """One line on the first exercise the replay grades otherwise, or None if none."""
    for mine, theirs in zip(instant.exercises, replayed.exercises, strict=True):
        if _verdict(mine) == _verdict(theirs):
            continue
        cell = theirs.graded_cell or "its cell"
        assert kernel.outcome is not None
        cause = difference(kernel.outcome, kernel.recorder.cells, outcome, theirs.id, cell) or (
            "the cells you ran leave other values when replayed than your kernel holds"
        )
        return (
            f"{theirs.id} grades otherwise when your cells are replayed: {cause}. The replayed "
            f"result, shown here ({theirs.score:g}/{theirs.max_score:g}, "
            f"{theirs.status.value.replace('_', ' ')}), is the one that counts."
        )
    return None


def _verdict(exercise: ExerciseResult) -> tuple[object, ...]:
    checks = tuple((c.name, c.status, c.score) for c in exercise.checks)
    return exercise.status, exercise.score, checks


class _Kept:
    """A sandbox run that keeps its outcome, to say where the replay differs."""

    def __init__(self, run: sandbox.Run) -> None:
        self.run = run
        self.outcome: sandbox.Outcome | None = None

    def submit(self, job: sandbox.Job) -> sandbox.Outcome:
        self.outcome = self.run.submit(job)
        return self.outcome


_state: dict[int, _Kernel] = {}


def _kernel() -> _Kernel | None:
    """The self-check's state in this IPython shell, made on first use."""
    shell = _shell()
    if shell is None:
        return None
    if id(shell) not in _state:
        _state[id(shell)] = _Kernel(shell)
    return _state[id(shell)]


def _specs(exercise: str | None, assignment: str | None, course: Path) -> list[Spec]:
    """The exercise named, or those that may be the notebook's (all, or the assignment's)."""
    if exercise is not None:
        if assignment is not None:
            raise CheckError("name an exercise or an assignment, not both")
        return [find(exercise, course)]
    specs = load_all(course)
    return of_assignment(specs, assignment) if assignment is not None else specs


@dataclass(frozen=True)
class _Replay:
    """A submission to grade, and how many executed cells were left out for length."""

    submission: Submission
    dropped: int = 0
    from_history: bool = False  # the kernel's history: its answers can be read at once


def _replay(
    specs: list[Spec], answer: str | None, source_file: str | Path | None, caller: FrameType
) -> _Replay:
    if answer is not None and source_file is not None:
        raise CheckError("give either a typed answer or source_file, not both")
    if answer is not None:
        if len(specs) != 1:
            raise CheckError('a typed answer needs its exercise: check("chain_rule", "...")')
        if not specs[0].accepts_typed_answers:
            raise CheckError(
                f"{specs[0].id} is graded from your code, not a typed answer: "
                f'call check("{specs[0].id}") after running your cell'
            )
        return _Replay(from_answer(answer))
    if source_file is not None:
        return _Replay(load(Path(source_file)))
    shell = _shell()
    if shell is not None and shell.history_manager is not None:
        current_line = caller.f_lineno if _runs_cell(caller, shell.user_ns) else None
        names = [name for spec in specs for name in spec.answer_names]
        cells, dropped = history_cells(shell.history_manager.input_hist_raw, names, current_line)
        submission = Submission(None, SUBMISSION_NAME, "notebook", cells, None)
        return _Replay(submission, dropped, from_history=True)
    return _Replay(_script(specs[0], caller))


def _shell() -> InteractiveShell | None:
    """The running IPython shell, if any; IPython is not imported when it is not loaded."""
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    return get_ipython()


def _runs_cell(frame: FrameType, user_ns: dict[str, Any]) -> bool:
    """Whether the frame is a cell's top level (not a function the student defined)."""
    return frame.f_globals is user_ns and frame.f_code.co_name == "<module>"


def _script(spec: Spec, caller: FrameType) -> Submission:
    """Plain Python: the caller's .py file, up to the statement that called check()."""
    path = Path(caller.f_code.co_filename)
    if path.suffix != ".py" or not path.is_file():
        raise CheckError(
            "check() grades the cells you ran, which only Jupyter, Colab or IPython keep; "
            f"here, run `python grade.py check {spec.id} my_cell.py` or call "
            f'check("{spec.id}", source_file="my_cell.py")'
        )
    loaded = load(path)
    stop = caller.f_lineno if caller.f_code.co_name == "<module>" else None
    source = loaded.cells[0].source
    replayed = _replayable(source, _grader_names([source]), stop) or ""
    return Submission(path, path.name, "code", (CodeCell(0, replayed, path.name),), None)


# --- from history to cells ---------------------------------------------------------------


def history_cells(
    history: Sequence[str], answer_names: Collection[str], current_line: int | None = None
) -> tuple[tuple[CodeCell, ...], int]:
    """The cells to replay, and how many executed cells before them were left out.

    ``history`` is IPython's raw input history: entry n is the source of In [n], entry 0
    is empty, the last is the cell running now. That cell is cut before ``current_line``
    (the rest of it has not run yet). Cells after the last one that mentions an answer
    cannot change it and are not replayed. The history is read from its end, so a long
    session costs no more than MAX_CELLS cells.
    """
    names = _grader_names(history)
    mentions = re.compile(r"\b(" + "|".join(map(re.escape, answer_names)) + r")\b")
    running = len(history) - 1
    kept: list[CodeCell] = []
    for number in range(running, 0, -1):
        stop = current_line if number == running else None
        source = _replayable(neutralise_magics(history[number]), names, stop)
        if source is None or (not kept and not mentions.search(source)):
            continue
        if len(kept) == MAX_CELLS:
            return tuple(reversed(kept)), number  # In [1] to In [number] are left out
        kept.append(CodeCell(number, source, f"In [{number}]"))
    return tuple(reversed(kept)), 0


def _grader_names(sources: Sequence[str]) -> set[str]:
    """Names bound to this package or to its check() anywhere in the history."""
    names = {"check", "graders"}
    for source in sources:
        if "graders" not in source:
            continue
        tree = parse(neutralise_magics(source))
        for node in ast.walk(tree) if tree is not None else ():
            if _imports_graders(node):
                names.update(assigned_names(ast.unparse(node)))
    return names


def _imports_graders(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] == "graders"
    return isinstance(node, ast.Import) and any(
        alias.name.split(".")[0] == "graders" for alias in node.names
    )


def _replayable(source: str, grader_names: set[str], stop: int | None) -> str | None:
    """The cell without the grader's statements, or None when nothing in it needs replaying.

    Statements are commented out rather than removed, so that line numbers in tracebacks
    still match the student's cell. A cell that does not parse is replayed as it is: its
    syntax error is the feedback.
    """
    tree = parse(source)
    if tree is None:
        return source
    lines = source.split("\n")
    kept = []
    for statement in tree.body:
        end = statement.end_lineno or statement.lineno
        if stop is not None and end >= stop:
            _comment_out(lines, statement.lineno, len(lines))
            break
        if _uses_grader(statement, grader_names):
            _comment_out(lines, statement.lineno, end)
        else:
            kept.append(statement)
    if all(_only_shows(statement) for statement in kept):
        return None
    return "\n".join(lines)


def _comment_out(lines: list[str], first: int, last: int) -> None:
    for row in range(first - 1, last):
        lines[row] = "# " + lines[row]


def _uses_grader(statement: ast.stmt, grader_names: set[str]) -> bool:
    return any(
        _imports_graders(node) or (isinstance(node, ast.Name) and node.id in grader_names)
        for node in ast.walk(statement)
    )


def _only_shows(statement: ast.stmt) -> bool:
    """`pass` (a neutralised magic), a bare value to display, print(...), plt.plot(...)."""
    if isinstance(statement, ast.Pass):
        return True
    if not isinstance(statement, ast.Expr):
        return False
    value = statement.value
    if isinstance(value, ast.Call) and _shows(value.func):
        return True
    return not any(
        isinstance(node, (ast.Call, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom))
        for node in ast.walk(value)
    )


def _shows(function: ast.expr) -> bool:
    """print / display, or anything of plt (plt.plot, plt.show, plt.gca().legend)."""
    if isinstance(function, ast.Name):
        return function.id in _DISPLAY_FUNCTIONS
    while isinstance(function, (ast.Attribute, ast.Call)):
        function = function.value if isinstance(function, ast.Attribute) else function.func
    return isinstance(function, ast.Name) and function.id in _DISPLAY_MODULES


# --- HTML for a notebook output ----------------------------------------------------------


def _fragment(page: str) -> str:
    """The report page's body as a notebook output, with its styles scoped to it."""
    style = _STYLE.search(page)
    body = _BODY.search(page)
    css = _RULE.sub(_scoped_rule, style.group(1)) if style else ""
    content = body.group(1).strip() if body else page
    return f'<div class="{_SCOPE}">\n<style>\n  {_HOST_RESET}{css}</style>\n{content}\n</div>'


def _scoped_rule(rule: re.Match[str]) -> str:
    selectors = []
    for selector in rule.group(1).split(","):
        selector = selector.strip()
        selectors.append(f".{_SCOPE}" if selector == "body" else f".{_SCOPE} {selector}")
    return "\n  " + ", ".join(selectors) + " {"


# Installed on import (`from graders import check`), so that every cell run from then on is
# noted as the sandbox would report it, and the warm sandbox is ready by the first check.
if _shell() is not None:
    _kernel()
