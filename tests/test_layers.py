"""The package's layers, read from its source: the core grades and knows nothing of who
asked; no import cycle; one import style inside the package.

Modules are classified by their top-level name under ``graders/`` (a package such as
``graders/lms/`` counts as one), so that splitting a module into a package keeps its place.
Every import counts, including those inside functions (a lazy import is still a
dependency), except those under ``if TYPE_CHECKING:``, which never run.
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "graders"

# Grading itself: a spec, a hand-in, the sandbox, the comparisons, the results.
CORE = {
    "errors",
    "spec",
    "submission",
    "values",
    "results",
    "reference",
    "checks",
    "diagnosis",  # slips of the reference, which the checks kinds match
    "formula",
    "engine",
    "sandbox",
    "source_analysis",
    "assignments",
    "limits",
    "safe_text",
    "course",  # data only: the bundled course
}
# Who asks for a grading and what only they need: the commands (validate is one), a batch's
# input (archives), its store (gradebook, records), the reports, the platforms, the notebook
# self-check and its instant answer from the kernel, and the package's own face (``from
# graders import check``).
FRONT_ENDS = {
    "__init__",
    "cli",
    "validate",
    "mistakes",
    "batch",
    "archives",
    "gradebook",
    "records",
    "handins",
    "reports",
    "lms",
    "notebook",
    "kernel",
}
COMMAND_LINE = "cli"  # grade.py's; no module of the package imports it


@dataclass(frozen=True)
class Import:
    source: str  # dotted module names
    target: str
    where: str  # file:line, for the message
    relative: bool


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_name(module: str) -> str:
    """``graders.lms.gradescope`` -> ``lms``; the package itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """The imports anywhere under ``node`` (in functions too), but not type checkers' own."""
    found: list[ast.Import | ast.ImportFrom] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            found.append(child)
        elif _type_checking(child):
            found += _import_nodes(ast.Module(body=child.orelse, type_ignores=[]))
        else:
            found += _import_nodes(child)
    return found


def imports(package: Path) -> tuple[set[str], list[Import]]:
    """Every module of the package, and every import of one of them by another."""
    paths = sorted(package.rglob("*.py"))
    modules = {module_name(path, package) for path in paths}
    root = package.name
    found: list[Import] = []
    for path in paths:
        source = module_name(path, package)
        is_package = path.name == "__init__.py"
        here = source if is_package else source.rpartition(".")[0]
        for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(package.parent)}:{node.lineno}"
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
                relative = False
            else:
                relative = node.level > 0
                if relative:
                    base = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                    module = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    module = node.module or ""
                # `from x import y` imports the module x.y where there is one.
                targets = [
                    f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module
                    for alias in node.names
                ]
            for target in dict.fromkeys(targets):  # once per statement
                if target.split(".")[0] != root:
                    continue
                while target not in modules and "." in target:  # an attribute of a module
                    target = target.rpartition(".")[0]
                if target != source:
                    found.append(Import(source, target, where, relative))
    return modules, found


def cycles(modules: set[str], edges: list[Import]) -> list[list[str]]:
    """The groups of modules that import each other, directly or not (Tarjan)."""
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for edge in edges:
        graph[edge.source].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return groups


def layer_problems(package: Path) -> list[str]:
    modules, edges = imports(package)
    root = package.name
    problems = [
        f"{root}.{name}: neither core nor front end; classify it in tests/test_layers.py"
        for name in sorted({top_name(module) for module in modules} - CORE - FRONT_ENDS)
    ]
    for edge in edges:
        source, target = top_name(edge.source), top_name(edge.target)
        if source in CORE and target in FRONT_ENDS:
            problems.append(f"{edge.where}: the core imports a front end, {edge.target}")
        if target == COMMAND_LINE and source != COMMAND_LINE:
            problems.append(f"{edge.where}: imports the command line, {edge.target}")
    problems += [f"import cycle: {' -> '.join(group)}" for group in cycles(modules, edges)]
    return problems


def absolute_imports(package: Path) -> list[str]:
    _, edges = imports(package)
    return [
        f"{edge.where}: imports {edge.target} absolutely" for edge in edges if not edge.relative
    ]


def test_the_core_never_imports_a_front_end_and_nothing_imports_in_a_cycle() -> None:
    assert layer_problems(PACKAGE) == []


def test_the_package_imports_itself_relatively() -> None:
    assert absolute_imports(PACKAGE) == []


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "graders" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "graders"


def test_a_lazy_import_of_a_front_end_by_the_core_is_found(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "__init__.py": "",
            "engine.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from .reports import Page\n"
                "def grade():\n"
                "    from .lms.gradescope import export\n"
            ),
            "reports.py": "",
            "cli.py": "from . import batch\n",
            "batch.py": "from graders import engine\n",
            "lms/__init__.py": "",
            "lms/gradescope.py": "from ..errors import CommandError\n",
            "errors.py": "",
        },
    )
    assert layer_problems(package) == [
        "graders/engine.py:5: the core imports a front end, graders.lms.gradescope"
    ]
    assert absolute_imports(package) == ["graders/batch.py:1: imports graders.engine absolutely"]


def test_an_unclassified_module_an_import_of_the_command_line_and_a_cycle_are_found(
    tmp_path: Path,
) -> None:
    package = _write(
        tmp_path,
        {
            "__init__.py": "",
            "cli.py": "from .batch import run_batch\n",
            "batch.py": "from .cli import EXIT_OK\n",
            "plugins.py": "",
        },
    )
    assert layer_problems(package) == [
        "graders.plugins: neither core nor front end; classify it in tests/test_layers.py",
        "graders/batch.py:1: imports the command line, graders.cli",
        "import cycle: graders.batch -> graders.cli",
    ]


def test_every_subpackage_is_listed_for_the_wheel() -> None:
    # pyproject.toml lists packages by hand (the course is mapped in): a subpackage left out
    # installs a toolkit that fails on its first import of it.
    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "graders").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found - listed == set()
