"""Self-check from inside Jupyter, Colab or IPython: ``check("product_rule_alpha")``.

The answers live in the student's kernel, but reading them from there would run student
code in the grading process (a rigged ``__eq__``, a patched numpy). So ``check`` rebuilds
the code that produced them instead: the cells the kernel executed, in execution order,
from IPython's input history. They are graded as a handed-in notebook is, in the sandbox
and through the same comparators, so the feedback is the command line's word for word.
Outside IPython, the caller's own ``.py`` file is graded.

Nothing here executes student code; sources are only parsed (``ast``) to leave out what
must not be replayed: ``check`` calls and imports of this package (the sandbox cannot see
the grader) and cells that only show something.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from . import engine, report
from .assignments import exercises_for
from .results import SubmissionResult
from .sandbox import assigned_names, parse
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

    ``result`` is the SubmissionResult (score, statuses, per-check feedback).
    """

    def __init__(self, result: SubmissionResult) -> None:
        self.result = result
        self._shown_in: int | None = None  # the execution count of the cell that showed it

    def _repr_html_(self) -> str:
        return _fragment(report.to_html(self.result))

    def __repr__(self) -> str:
        return report.to_text(self.result, color=False)

    def show(self) -> None:
        """Show the report now: rich output in IPython, printed text elsewhere."""
        shell = _shell()
        if shell is None:
            print(repr(self))
            return
        from IPython.display import display

        display({"text/html": self._repr_html_(), "text/plain": repr(self)}, raw=True)
        self._shown_in = shell.execution_count

    def _ipython_display_(self) -> None:
        # `check(...)` as a cell's last line: check() has already shown the report there.
        shell = _shell()
        if shell is None or self._shown_in != shell.execution_count:
            self.show()


def check(
    exercise: str | None = None,
    answer: str | None = None,
    *,
    assignment: str | None = None,
    source_file: str | Path | None = None,
    course: str | Path = DEFAULT_COURSE,
) -> Feedback:
    """Grade one exercise now, show the report, and return it.

    With no ``answer`` or ``source_file``, the cells this kernel has executed are graded
    (in Jupyter, Colab or IPython; in plain Python, the calling ``.py`` file). ``answer``
    is a typed formula for an expression exercise (``check("chain_rule", "4a^3
    e^(a^4+1)")``); ``source_file`` grades a ``.py``, ``.ipynb`` or ``.txt`` file instead.
    Without ``exercise``, every exercise of the notebook's assignment is graded, as
    ``grade.py grade`` grades a notebook: ``assignment`` names it instead of recognising
    it from the exercise cells.
    """
    caller = sys._getframe(1)
    try:
        specs = _specs(exercise, assignment, Path(course))
        replay = _replay(specs, answer, source_file, caller)
        if exercise is None:
            specs = exercises_for(replay.submission, specs, assignment)
        answered_only = exercise is None and replay.submission.kind == "code"
        result = engine.grade(replay.submission, specs, answered_only=answered_only)
    except engine.GRADING_ERRORS as exc:
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
    return feedback


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
        return _Replay(Submission(None, SUBMISSION_NAME, "notebook", cells, None), dropped)
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
