"""check() in a warm kernel on the real Tutorial 1 notebook: the first call of the session
and the median of 10 further calls, per exercise (the replay of each call is waited for,
untimed, so it does not compete with the next call).

    .venv/bin/python benchmarks/bench_notebook_check.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "tests" / "fixtures" / "W0D4_Tutorial1_instructor.ipynb"
EXERCISES = ["product_rule_alpha", "psp_charge", "neuron_gain", "chain_rule"]

TIMING = f"""\
import json, statistics, time
_times = {{}}
for _exercise in {EXERCISES!r}:
    _calls = []
    for _ in range(11):
        _began = time.perf_counter()
        _feedback = check(_exercise)
        _calls.append(time.perf_counter() - _began)
        _feedback.wait(120)
    _times[_exercise] = {{"first": _calls[0], "median_of_10": statistics.median(_calls[1:])}}
print(json.dumps(_times))
"""


def main() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and "interact(" in cell.source:
            continue  # a widget demo waits for a widget front end, which nbclient is not
        if cell.cell_type == "code":  # no network, no scipy (not installed with the toolkit)
            lines = cell.source.split("\n")
            left_out = [
                x.lstrip().startswith(("!", "import scipy")) or "https://" in x for x in lines
            ]
            cell.source = "\n".join("# " * out + x for x, out in zip(lines, left_out, strict=True))
        cells.append(cell)
        if cell.cell_type == "code" and cell.source.startswith("# Imports"):
            cells.append(nbformat.v4.new_code_cell("from graders import check"))
    cells.append(nbformat.v4.new_code_cell('dr_da = "4*a**3 * exp(a**4 + 1)"'))
    cells.append(nbformat.v4.new_code_cell(TIMING))
    notebook.cells = cells
    with tempfile.TemporaryDirectory() as home:
        kernels = Path(home) / "share" / "jupyter" / "kernels" / "bench"
        kernels.mkdir(parents=True)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        spec = {"argv": argv, "display_name": "bench", "language": "python"}
        (kernels / "kernel.json").write_text(json.dumps(spec))
        import os

        os.environ.update(JUPYTER_PATH=str(kernels.parents[1]), JUPYTER_PLATFORM_DIRS="1")
        client = NotebookClient(
            notebook,
            kernel_name="bench",
            timeout=1200,
            allow_errors=True,
            resources={"metadata": {"path": home}},
        )
        client.execute()
    printed = [o["text"] for o in notebook.cells[-1].outputs if o.get("name") == "stdout"]
    times = json.loads(printed[-1].strip().splitlines()[-1])
    for exercise, numbers in times.items():
        print(
            f"{exercise:20} first {numbers['first'] * 1000:7.1f} ms   "
            f"median of 10 {numbers['median_of_10'] * 1000:7.1f} ms"
        )


if __name__ == "__main__":
    main()
