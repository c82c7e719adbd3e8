"""The real tutorial notebooks run top to bottom in a Jupyter kernel of this interpreter
(nbclient), headless and offline, with the self-check imported: for the self-check's tests
and its benchmark."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]

# Lines that reach the network (`!pip`; a plot style loaded from a URL, which offline waits
# for a connection until the cell's timeout) and scipy, which the toolkit does not install:
# where the Imports cell stopped at it, the kernel would lack `plt`, which the sandbox
# always gives, and the two would rightly differ.
_LEFT_OUT = ("!", "import scipy")
IMPORT_CHECK = "from graders import check, check_all"


def _offline(source: str) -> str:
    return "\n".join(
        "# " + line if line.lstrip().startswith(_LEFT_OUT) or "https://" in line else line
        for line in source.split("\n")
    )


def headless(
    path: Path, appended: list[str], edit: Callable[[str], str] = lambda source: source
) -> nbformat.NotebookNode:
    """The notebook without its widget demos (they wait for a widget front end, which
    nbclient is not, until the cell's timeout) and offline, each code cell passed through
    ``edit``, the self-check imported right after the Imports cell, ``appended`` at the end."""
    notebook = nbformat.read(path, as_version=4)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            if "interact(" in cell.source:
                continue
            cell.source = edit(_offline(cell.source))
        cells.append(cell)
        if cell.cell_type == "code" and cell.source.startswith("# Imports"):
            cells.append(nbformat.v4.new_code_cell(IMPORT_CHECK))
    cells += [nbformat.v4.new_code_cell(source) for source in appended]
    notebook.cells = cells
    return notebook


@contextlib.contextmanager
def jupyter_kernel(home: Path) -> Iterator[str]:
    """A kernel of this interpreter, its files under ``home``, that imports this tree's
    graders (the interpreter may have another copy installed); yields its name."""
    name = "graders-test"
    kernels = home / "share" / "jupyter" / "kernels" / name
    kernels.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": name, "language": "python"}
    spec["env"] = {"PYTHONPATH": str(REPO)}
    (kernels / "kernel.json").write_text(json.dumps(spec))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JUPYTER_PATH", str(home / "share" / "jupyter"))
        env.setenv("JUPYTER_RUNTIME_DIR", str(home / "runtime"))
        env.setenv("JUPYTER_PLATFORM_DIRS", "1")
        env.setenv("IPYTHONDIR", str(home / "ipython"))
        yield name


def execute(notebook: nbformat.NotebookNode, home: Path, timeout: int = 600) -> object:
    """Run the notebook in a fresh kernel, its working directory ``home`` (erroring cells
    go on, as a student's run does); the JSON its last cell printed last."""
    with jupyter_kernel(home) as kernel:
        client = NotebookClient(
            notebook,
            kernel_name=kernel,
            timeout=timeout,
            allow_errors=True,
            resources={"metadata": {"path": str(home)}},
        )
        client.execute()
    outputs = notebook.cells[-1].outputs
    printed = [output["text"] for output in outputs if output.get("name") == "stdout"]
    if not printed:
        raise AssertionError(f"the last cell printed nothing: {outputs}")
    return json.loads(printed[-1].strip().splitlines()[-1])
