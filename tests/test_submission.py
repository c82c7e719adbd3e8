"""Reading hand-ins: .py files, notebooks, typed answers, and every way they can be unreadable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import INSTRUCTOR_NOTEBOOK as INSTRUCTOR
from conftest import STUDENT_NOTEBOOK as STUDENT
from graders import submission
from graders.submission import SubmissionError, from_answer, load, neutralise_magics


def _notebook(*cells: dict, nbformat_minor: int = 5) -> str:
    return json.dumps(
        {"nbformat": 4, "nbformat_minor": nbformat_minor, "metadata": {}, "cells": list(cells)}
    )


def _code(source: str | list[str]) -> dict:
    return {
        "cell_type": "code",
        "source": source,
        "metadata": {},
        "outputs": [],
        "execution_count": None,
    }


def _markdown(source: str) -> dict:
    return {"cell_type": "markdown", "source": source, "metadata": {}}


def _code_cells_of(path: Path) -> list[tuple[int, str]]:
    """(position, source) of each code cell, read straight from the JSON."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [
        (index, "".join(cell["source"]))
        for index, cell in enumerate(cells)
        if cell["cell_type"] == "code"
    ]


# --- .py files and typed answers -------------------------------------------------------------


def test_py_file_is_one_cell_named_after_the_file(tmp_path):
    path = tmp_path / "homework.py"
    path.write_text("import numpy as np\n!pip install sympy\nx = np.pi\n", encoding="utf-8")
    sub = load(path)
    assert (sub.path, sub.name, sub.kind, sub.answer) == (path, "homework.py", "code", None)
    assert sub.cells == (
        submission.CodeCell(
            0,
            "import numpy as np\npass  # neutralised: !pip install sympy\nx = np.pi\n",
            "homework.py",
        ),
    )


def test_empty_py_is_an_empty_submission_not_an_error(tmp_path):
    path = tmp_path / "empty.py"
    path.write_bytes(b"")
    assert load(path).cells == (submission.CodeCell(0, "", "empty.py"),)


def test_bom_is_dropped_and_windows_line_endings_normalised(tmp_path):
    path = tmp_path / "windows.py"
    path.write_bytes(b"\xef\xbb\xbfx = 1\r\ny = 2\r\n")
    assert load(path).cells[0].source == "x = 1\ny = 2\n"


def test_txt_answer_is_stripped_text(tmp_path):
    path = tmp_path / "answer.txt"
    path.write_bytes(b"\xef\xbb\xbf  4a^3 e^(a^4+1)\r\n\r\n")
    sub = load(path)
    assert (sub.kind, sub.name, sub.cells, sub.answer) == (
        "answer",
        "answer.txt",
        (),
        "4a^3 e^(a^4+1)",
    )


def test_empty_txt_answer_is_allowed(tmp_path):
    path = tmp_path / "answer.txt"
    path.write_text("\n  \n", encoding="utf-8")
    assert load(path).answer == ""


def test_typed_answer():
    sub = from_answer("  4a^3 e^(a^4+1) ")
    assert (sub.path, sub.name, sub.kind, sub.cells, sub.answer) == (
        None,
        "typed answer",
        "answer",
        (),
        "4a^3 e^(a^4+1)",
    )


# --- notebooks ---------------------------------------------------------------------------------


def test_student_notebook_cells_in_order_with_magics_neutralised():
    sub = load(STUDENT)
    expected = _code_cells_of(STUDENT)
    assert (sub.kind, sub.name, sub.answer) == ("notebook", STUDENT.name, None)
    assert len(sub.cells) == len(expected) == 39
    assert [cell.index for cell in sub.cells] == [index for index, _ in expected]
    assert [cell.filename for cell in sub.cells] == [f"code cell {n}" for n in range(1, 40)]
    for cell, (_, original) in zip(sub.cells, expected, strict=True):
        assert cell.source.count("\n") == original.count("\n")
        compile(cell.source, cell.filename, "exec")  # compiled, never run

    sources = "\n".join(cell.source for cell in sub.cells)
    assert "pass  # neutralised: !pip install sympy --quiet" in sources
    assert "pass  # neutralised: !pip3 install vibecheck datatops --quiet" in sources
    assert "pass  # neutralised: %config InlineBackend.figure_format = 'retina'" in sources
    for line in sources.splitlines():
        assert not line.lstrip().startswith(("!", "%")), line


def test_student_notebook_exercise_cells_are_present():
    sources = [cell.source for cell in load(STUDENT).cells]
    derivatives = next(
        s for s in sources if 'NotImplementedError("Calculate the derivatives")' in s
    )
    charge = next(s for s in sources if 'NotImplementedError("Calculate the charge transfer")' in s)
    assert "du_dt = ..." in derivatives and "df_dt = ..." in derivatives
    assert "PSP = ..." in charge and "numerical_integral = ..." in charge
    assert any(s.startswith("def compute_rate_and_gain(") for s in sources)


def test_instructor_notebook_loads_with_its_solutions():
    sub = load(INSTRUCTOR)
    assert len(sub.cells) == len(_code_cells_of(INSTRUCTOR)) == 45
    solutions = [cell for cell in sub.cells if cell.source.startswith("# to_remove solution")]
    assert len(solutions) == 2
    for cell in sub.cells:
        compile(cell.source, cell.filename, "exec")


def test_cell_source_as_string_or_list_and_non_code_cells_skipped(tmp_path):
    path = tmp_path / "small.ipynb"
    path.write_text(
        _notebook(
            _markdown("# Title"),
            _code("x = 1\n%matplotlib inline"),
            _markdown("text"),
            _code(["y = 2\n", "!ls\n", "z = 3"]),
        ),
        encoding="utf-8",
    )
    cells = load(path).cells
    assert cells == (
        submission.CodeCell(1, "x = 1\npass  # neutralised: %matplotlib inline", "code cell 1"),
        submission.CodeCell(3, "y = 2\npass  # neutralised: !ls\nz = 3", "code cell 2"),
    )


def test_notebook_with_bom_and_windows_line_endings(tmp_path):
    path = tmp_path / "windows.ipynb"
    text = _notebook(_code("x = 1\r\ny = 2\r\n"), nbformat_minor=4).replace("\n", "\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert load(path).cells[0].source == "x = 1\ny = 2\n"


def test_nbformat_3_notebook_is_converted(tmp_path):
    path = tmp_path / "old.ipynb"
    cell = {"cell_type": "code", "input": "x = 1", "language": "python", "outputs": []}
    worksheet = {"cells": [{"cell_type": "markdown", "source": "hi"}, cell]}
    path.write_text(
        json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [worksheet]}),
        encoding="utf-8",
    )
    assert load(path).cells == (submission.CodeCell(1, "x = 1", "code cell 1"),)


def test_nbformat_is_imported_only_for_notebooks():
    code = "import sys, graders.submission; assert 'nbformat' not in sys.modules"
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


# --- unreadable input --------------------------------------------------------------------------


def _expect_error(path: Path, *phrases: str) -> str:
    with pytest.raises(SubmissionError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message
    assert path.name in message
    for phrase in phrases:
        assert phrase in message
    return message


def test_missing_file(tmp_path):
    _expect_error(tmp_path / "missing.py", "file not found")


def test_directory(tmp_path):
    (tmp_path / "folder.ipynb").mkdir()
    _expect_error(tmp_path / "folder.ipynb", "is a directory")


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "locked.py"
    path.write_text("x = 1\n", encoding="utf-8")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)
    _expect_error(path, "permission denied")


@pytest.mark.parametrize("name", ["homework.pdf", "homework", "homework.docx"])
def test_unsupported_suffix(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.4")
    _expect_error(path, ".py", ".ipynb", ".txt")


def test_not_utf8_names_the_byte_offset(tmp_path):
    path = tmp_path / "latin1.py"
    path.write_bytes("x = 1\ny = 'caf\xe9'\n".encode("latin-1"))
    _expect_error(path, "not UTF-8", "0xe9", "byte offset 14", "line 2")


def test_nul_bytes(tmp_path):
    path = tmp_path / "utf16.py"
    path.write_bytes("x = 1\n".encode("utf-16-le"))
    _expect_error(path, "NUL byte at byte offset 1")


def test_too_large(tmp_path, monkeypatch):
    monkeypatch.setattr(submission, "MAX_BYTES", 10)
    path = tmp_path / "big.py"
    path.write_text("x = 1\n" * 2, encoding="utf-8")
    _expect_error(path, "too large")
    path.write_text("x = 1\n", encoding="utf-8")
    assert load(path).cells[0].source == "x = 1\n"


def test_notebook_not_json_gives_line_and_column(tmp_path):
    path = tmp_path / "homework.ipynb"
    path.write_text('{\n  "cells": [\n    ,\n', encoding="utf-8")
    message = _expect_error(path)
    assert message == f"{path}: not valid JSON (line 3, column 5): a notebook file must be JSON"


def test_empty_notebook(tmp_path):
    path = tmp_path / "empty.ipynb"
    path.write_bytes(b"")
    _expect_error(path, "is empty")


def test_truncated_notebook(tmp_path):
    path = tmp_path / "truncated.ipynb"
    data = STUDENT.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect_error(path, "not valid JSON")


@pytest.mark.parametrize("text", ['{"hello": 1}', "[1, 2]", '"cells"'])
def test_json_that_is_not_a_notebook(tmp_path, text):
    path = tmp_path / "data.ipynb"
    path.write_text(text, encoding="utf-8")
    _expect_error(path, "not a Jupyter notebook")


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        (_notebook(_code("x")).replace('"x"', "3"), "not a valid notebook (at cells[0].source)"),
        (_notebook([1, 2]), "not a readable notebook"),
        ('{"nbformat": 5, "nbformat_minor": 0, "metadata": {}, "cells": []}', "version 5"),
        ('{"nbformat": 3, "nbformat_minor": 0, "metadata": {}}', "worksheets"),
    ],
)
def test_invalid_notebook_structure(tmp_path, text, phrase):
    path = tmp_path / "broken.ipynb"
    path.write_text(text, encoding="utf-8")
    _expect_error(path, phrase)


def test_a_notebook_nested_too_deeply_is_refused_not_a_crash(tmp_path):
    path = tmp_path / "deep.ipynb"
    path.write_text("[" * 100_000, encoding="utf-8")
    _expect_error(path, "nested too deeply")


def test_a_code_cell_without_source_is_refused_and_named(tmp_path):
    path = tmp_path / "no_source.ipynb"
    cell = {key: value for key, value in _code("x = 1").items() if key != "source"}
    path.write_text(_notebook(_markdown("# intro"), cell), encoding="utf-8")
    _expect_error(path, "cells[1]", "source")


def test_lone_surrogates_in_a_cell_become_replacement_characters(tmp_path):
    path = tmp_path / "escaped.ipynb"
    path.write_text(_notebook(_code('x = "\ud800"  # \udcff')), encoding="utf-8")  # JSON escapes
    assert load(path).cells[0].source == 'x = "\ufffd"  # \ufffd'


@pytest.mark.parametrize(
    "text",
    [
        _notebook({"cell_type": "code", "source": "x = 1", "metadata": {}}),
        _notebook({**_code("x = 1"), "id": "abc"}, nbformat_minor=4),
    ],
    ids=["no-outputs", "cell-id-in-4.4"],
)
def test_schema_slips_that_grading_does_not_need_are_tolerated(tmp_path, text):
    path = tmp_path / "hand_in.ipynb"
    path.write_text(text, encoding="utf-8")
    assert [cell.source for cell in load(path).cells] == ["x = 1"]


# --- magics ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("!pip install sympy", "pass  # neutralised: !pip install sympy"),
        ("%matplotlib inline", "pass  # neutralised: %matplotlib inline"),
        (
            "for i in range(3):\n    %time f(i)\n    !echo {i}",
            "for i in range(3):\n    pass  # neutralised: %time f(i)\n"
            "    pass  # neutralised: !echo {i}",
        ),
        ("files = !ls *.py", "files = []  # neutralised: files = !ls *.py"),
        ("  names = %who_ls", "  names = []  # neutralised: names = %who_ls"),
        ("a, b = %sx date", "a, b = []  # neutralised: a, b = %sx date"),
        ("np.arange?", "pass  # neutralised: np.arange?"),
        ("np.arange??", "pass  # neutralised: np.arange??"),
        ("?np.arange", "pass  # neutralised: ?np.arange"),
        # a shell line continued with a backslash: the continuation is not Python either
        (
            "!pip install numpy \\\n    sympy\nx = 1",
            "pass  # neutralised: !pip install numpy \\\n# neutralised: sympy\nx = 1",
        ),
    ],
)
def test_line_magics(source, expected):
    assert neutralise_magics(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "%%capture\n!pip install sympy\nimport sympy",
            "# neutralised: %%capture\npass  # neutralised: !pip install sympy\nimport sympy",
        ),
        ("%%capture out\nx = 1", "# neutralised: %%capture out\nx = 1"),
        ("\n%%time\nx = 1\n", "\n# neutralised: %%time\nx = 1\n"),
        ("%%timeit\nx = 1", "# neutralised: %%timeit\n# x = 1"),
        ("%%bash\necho hi\n\nls", "# neutralised: %%bash\n# echo hi\n#\n# ls"),
        (
            "%%writefile helper.py\ndef f():\n    pass",
            "# neutralised: %%writefile helper.py\n# def f():\n#     pass",
        ),
        ("%%html\n<b>hi</b>", "# neutralised: %%html\n# <b>hi</b>"),
        ("%%javascript\nalert(1)", "# neutralised: %%javascript\n# alert(1)"),
        ("%%latex\n$x$", "# neutralised: %%latex\n# $x$"),
        ("%%markdown\n*x*", "# neutralised: %%markdown\n# *x*"),
        ("%%sh\nls", "# neutralised: %%sh\n# ls"),
        ("%%script python2\nprint 1", "# neutralised: %%script python2\n# print 1"),
        ("%%some_plugin_magic\nwhatever", "# neutralised: %%some_plugin_magic\n# whatever"),
    ],
)
def test_cell_magics(source, expected):
    assert neutralise_magics(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        'def f():\n    """Usage:\n    %timeit f()\n    !ls\n    x?\n    """\n    return 1\n',
        "template = '''\nfiles = !ls\n'''",
        "ratio = (a\n         % b)\nflag = (a\n        != b)",
        "text = 'a' \\\n    % b",
        "x = 1  # why?\n# %matplotlib inline\ns = '!ls'",
        "",
    ],
)
def test_python_is_left_alone(source):
    assert neutralise_magics(source) == source


def test_syntax_error_falls_back_to_line_by_line():
    source = "def f(:\n    %time g()\n    return 1"
    assert neutralise_magics(source) == "def f(:\n    pass  # neutralised: %time g()\n    return 1"


def test_line_count_is_preserved():
    source = "%%capture\nimport numpy as np\n!pip install x\n\n%%bash\nls\n"
    for text in (source, source.replace("%%capture", "%%bash"), source.replace("%%capture\n", "")):
        assert neutralise_magics(text).count("\n") == text.count("\n")
