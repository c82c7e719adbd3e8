"""Read a hand-in (a .py file, a whole notebook, or a typed answer) into plain text cells.

Nothing here executes student code: a sandbox elsewhere runs the cells. This module only
turns what the student handed in into Python the sandbox can compile, and turns every way
the input can be unreadable into one line the student can act on.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SubmissionError

if TYPE_CHECKING:
    from nbformat import NotebookNode

# Larger than any real tutorial notebook (the W0D4 one is ~80 kB), small enough to read at once.
MAX_BYTES = 20 * 1024 * 1024

_KINDS = {".py": "code", ".ipynb": "notebook", ".txt": "answer"}

# Cell magics whose body is ordinary Python run in the notebook namespace; every other cell
# magic (%%bash, %%html, %%writefile, %%timeit, ...) holds text that is not, or does not
# define anything in the namespace, so the whole cell is commented out.
_CELL_MAGICS_RUNNING_PYTHON = frozenset({"capture", "time"})

_NOTE = "# neutralised: "
# One typed answer of several: `df_dx = 2x + 2y` (`==` is not an assignment).
_NAMED_ANSWER = re.compile(r"^\s*([A-Za-z_]\w*)\s*=(?!=)(.*)$")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CELL_MAGIC = re.compile(r"^\s*%%(\w*)")
# `files = !ls`, `a, b = %sx cmd`: IPython assigns the command's output.
_ASSIGNED_MAGIC = re.compile(r"^\s*([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*[!%]")
# `np.arange?`, `np.arange??`, `?np.arange`: IPython help on an object.
_HELP = re.compile(r"^\s*(\?{1,2}[\w.*\[\]]+|[\w.*\[\]]+\?{1,2})\s*$")
# Tokens that do not begin a statement, so a statement may still start after them.
_NOT_A_STATEMENT = frozenset(
    {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
)


@dataclass(frozen=True)
class CodeCell:
    """One code cell, with the name tracebacks should show so the student can find it."""

    index: int
    source: str
    filename: str


@dataclass(frozen=True)
class TextCell:
    """A notebook's markdown or raw cell: never run, but where exercises are introduced."""

    index: int
    source: str


@dataclass(frozen=True)
class Submission:
    """A hand-in: kind "code" (.py) and "notebook" have cells, kind "answer" has the text.

    ``texts`` are a notebook's other cells, numbered among all its cells as ``cells`` are.
    """

    path: Path | None
    name: str
    kind: str
    cells: tuple[CodeCell, ...]
    answer: str | None
    texts: tuple[TextCell, ...] = ()


def load(path: Path) -> Submission:
    """Read a hand-in, choosing how by its suffix: .py code, .ipynb notebook, .txt typed answer."""
    _kind(path)  # refused before it is read
    return from_bytes(path, _read_bytes(path))


def from_bytes(path: Path, data: bytes) -> Submission:
    """A hand-in already read (from an archive, say): ``path`` names it in messages and
    tracebacks, and its suffix says what kind it is."""
    kind = _kind(path)
    if len(data) > MAX_BYTES:
        raise _error(path, f"too large: the limit is {MAX_BYTES / 2**20:g} MB")
    text = _decode(path, data)
    name = valid_text(path.name)
    if kind == "answer":
        return Submission(path, name, kind, (), _normalise_newlines(text).strip())
    if kind == "notebook":
        notebook = _read_notebook(path, text)
        return Submission(path, name, kind, _code_cells(notebook), None, _text_cells(notebook))
    cells = (CodeCell(0, neutralise_magics(_normalise_newlines(text)), name),)
    return Submission(path, name, kind, cells, None)


def _kind(path: Path) -> str:
    kind = _KINDS.get(path.suffix.lower())
    if kind is None:
        raise _error(
            path, "unsupported kind of file: hand in a .py file, a .ipynb notebook or a .txt answer"
        )
    return kind


def from_answer(text: str) -> Submission:
    """A math answer typed on the command line; empty is allowed (graded as not attempted)."""
    return Submission(None, "typed answer", "answer", (), _normalise_newlines(text).strip())


def named_answers(text: str) -> dict[str, str] | None:
    """Typed answers written one per line as ``NAME = FORMULA`` (blank lines and ``#``
    comments skipped; a later line for the same name wins), or None when some line is not
    of that form (a bare formula). Nothing is parsed as a formula here."""
    answers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        named = _NAMED_ANSWER.match(line)
        if named is None:
            return None
        answers[named[1]] = named[2].strip()
    return answers


def neutralise_magics(source: str) -> str:
    """Replace IPython-only syntax by plain Python, keeping every line where it was.

    Shell escapes and magics do nothing the grader needs, and the sandbox compiles plain
    Python; keeping the line count means tracebacks still point at the student's line.
    """
    lines = source.split("\n")
    cell_magic = _CELL_MAGIC.match(source)
    if cell_magic:
        row = next(row for row, line in enumerate(lines) if line.strip())
        if cell_magic.group(1) not in _CELL_MAGICS_RUNNING_PYTHON:
            commented = [f"# {line}".rstrip() for line in lines]
            commented[row] = _NOTE + lines[row].strip()
            return "\n".join(commented)
        lines[row] = _NOTE + lines[row].strip()
    return "\n".join(_neutralise_lines(lines))


def _neutralise_lines(lines: list[str]) -> list[str]:
    """Neutralise each line that begins a statement, and the backslash tail of a replaced one."""
    starts = _statement_starts("\n".join(lines))
    neutralised = []
    continuing = False
    for row, line in enumerate(lines):
        if continuing:
            replacement = _NOTE + line.strip()
        elif starts is None or row in starts:
            replacement = _neutralise_line(line)
        else:
            replacement = None
        continuing = replacement is not None and line.rstrip().endswith("\\")
        neutralised.append(line if replacement is None else replacement)
    return neutralised


def _neutralise_line(line: str) -> str | None:
    """The plain-Python stand-in for one line of IPython syntax, or None if the line is Python."""
    stripped = line.strip()
    indent = line[: len(line) - len(line.lstrip())]
    assigned = _ASSIGNED_MAGIC.match(line)
    if assigned:
        return f"{indent}{assigned.group(1)} = []  {_NOTE}{stripped}"
    if stripped.startswith(("!", "%")) or _HELP.match(line):
        return f"{indent}pass  {_NOTE}{stripped}"
    return None


def _statement_starts(source: str) -> set[int] | None:
    """The 0-based rows on which a statement begins, or None when the source does not tokenize.

    IPython syntax can only begin a statement. A row that continues brackets, a backslash
    line or a triple-quoted string is Python (or string content: a docstring line starting
    with `%` must survive) and is left alone. Python 3.11's tokenizer passes `!` and `?`
    through as error tokens; on a real syntax error every row is treated as a start and the
    sandbox reports the error later.
    """
    starts: set[int] = set()
    expect_start = True
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.NEWLINE:
                expect_start = True
            elif expect_start and token.type not in _NOT_A_STATEMENT:
                starts.add(token.start[0] - 1)
                expect_start = False
    except (tokenize.TokenError, SyntaxError):
        return None
    return starts


def _code_cells(notebook: NotebookNode) -> tuple[CodeCell, ...]:
    """The code cells in order, named by their position among code cells as students count them."""
    code = [(index, cell) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    return tuple(
        CodeCell(index, neutralise_magics(_normalise_newlines(cell.source)), f"code cell {number}")
        for number, (index, cell) in enumerate(code, start=1)
    )


def _text_cells(notebook: NotebookNode) -> tuple[TextCell, ...]:
    return tuple(
        TextCell(index, _normalise_newlines(cell.source))
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type != "code" and isinstance(cell.get("source"), str)
    )


def _read_notebook(path: Path, text: str) -> NotebookNode:
    """Parse and validate with nbformat (imported here: it is slow to import), as version 4.

    The text is parsed as JSON first only to report a syntax error by line and column, and to
    tell "some other JSON file" apart from a broken notebook.
    """
    if not text.strip():
        raise _error(path, "is empty: a notebook file must be JSON")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        where = f"line {err.lineno}, column {err.colno}"
        raise _error(path, f"not valid JSON ({where}): a notebook file must be JSON") from None
    except RecursionError:
        raise _error(path, "nested too deeply (brackets within brackets): not a notebook") from None
    if not isinstance(data, dict) or "nbformat" not in data:
        raise _error(path, 'is JSON but not a Jupyter notebook (it has no "nbformat" key)')
    import nbformat

    captured: dict[str, Any] = {}
    # On malformed structure nbformat raises anything from ValueError to AssertionError.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. missing cell ids: harmless for grading
            notebook = nbformat.reads(text, as_version=4, capture_validation_error=captured)
    except Exception as err:
        problem = _first_line(str(err)) or type(err).__name__
        raise _error(path, f"not a readable notebook: {problem}") from None
    invalid = captured.get("ValidationError")
    # Schema slips that grading does not depend on (a cell id in a 4.4 file, a missing
    # "outputs" list, editor metadata) are tolerated: refusing them would refuse real hand-ins.
    if invalid is not None and not _usable(notebook):
        where = _json_location(invalid.absolute_path)
        raise _error(path, f"not a valid notebook (at {where}): {_first_line(invalid.message)}")
    for cell in notebook.cells:
        if isinstance(cell.get("source"), str):
            cell.source = valid_text(cell.source)
    return notebook


def _usable(notebook: NotebookNode) -> bool:
    """Whether every cell has what grading reads: a type, and a code cell its source text."""
    cells = notebook.get("cells")
    return isinstance(cells, list) and all(
        isinstance(cell, dict)
        and isinstance(cell.get("cell_type"), str)
        and (cell["cell_type"] != "code" or isinstance(cell.get("source"), str))
        for cell in cells
    )


def valid_text(text: str) -> str:
    """The text with each lone surrogate replaced by U+FFFD. They come from JSON escapes
    (``\\ud800``, which no editor writes) and from file names that are not UTF-8 (Python
    decodes each bad byte to one); no UTF-8 file, pipe or database can take them."""
    return _SURROGATE.sub("\ufffd", text)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, at most one more than MAX_BYTES (enough to refuse it as too large)."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise _error(path, "file not found") from None
    except IsADirectoryError:
        raise _error(path, "is a directory, not a file") from None
    except PermissionError:
        raise _error(path, "permission denied: the file cannot be read") from None
    except OSError as err:
        raise _error(path, f"cannot be read ({err.strerror or err})") from None
    return data


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 text without a byte-order mark; binary files and other encodings are refused."""
    nul = data.find(b"\0")
    if nul != -1:
        raise _error(path, f"contains a NUL byte at byte offset {nul}: not a UTF-8 text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise _error(
            path,
            f"not UTF-8 text: byte 0x{data[err.start]:02x} at byte offset {err.start} (line {line})"
            " cannot be decoded; save the file as UTF-8",
        ) from None
    return text.removeprefix("\ufeff")


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _json_location(path: Any) -> str:
    """A JSON path such as cells[3].source, as validation errors locate the problem."""
    location = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return location.lstrip(".") or "top level"


def _first_line(text: str, limit: int = 160) -> str:
    """The first line of a library message, shortened: errors must stay one line."""
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _error(path: Path, problem: str) -> SubmissionError:
    return SubmissionError(f"{path}: {problem}")
