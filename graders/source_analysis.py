"""Static analysis of student source: what a cell binds and which packages it imports.

Nothing here runs student code: the source is parsed (``ast``), never executed. The sandbox
uses it to plan a job's snapshots; batch, notebook and assignment matching use it to read
a hand-in before it runs.
"""

from __future__ import annotations

import ast


def assigned_names(source: str) -> list[str]:
    """The names a cell binds in the notebook's namespace, found statically, in order.

    Bindings at any block depth count, including those below a ``raise`` (the handed-out
    ``raise NotImplementedError`` comes before the answer lines): assignment, augmented
    and annotated assignment, walrus, for/with/match targets, def and class names, import
    aliases, and names a function declares ``global``. Function, class and comprehension
    bodies are their own scopes. A cell that does not parse binds nothing.
    """
    tree = parse(source)
    if tree is None:
        return []
    binder = _Binder()
    try:
        binder.visit(tree)
    except RecursionError:  # nested too deeply for a recursive walk: as good as unparseable
        return []
    return list(dict.fromkeys(binder.names))


def parse(source: str) -> ast.Module | None:
    """The syntax tree of student text, or None where Python cannot parse it: a syntax
    error, a NUL byte (ValueError), or nesting so deep that the parser runs out of stack
    (MemoryError: "parser stack overflowed") or of recursion (RecursionError). The child
    reports each of these to the student as code that cannot be parsed."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def packages_used(source: str, lazy_modules: dict[str, str]) -> set[str]:
    """The top-level packages a cell would import, found statically: those its import
    statements name (at any depth), and those of the job's lazy modules whose alias it
    reads. A cell that does not parse uses none."""
    tree = parse(source)
    if tree is None:
        return set()
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Name) and node.id in lazy_modules:
            modules.add(lazy_modules[node.id])
    return {module.partition(".")[0] for module in modules}


class _Binder(ast.NodeVisitor):
    def __init__(self) -> None:
        self.names: list[str] = []

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.names.append(node.id)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.names.append(node.name)
        self._declared_global(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.names.append(node.name)
        self._declared_global(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        pass  # its own scope

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        # Loop variables stay inside; only a walrus binds in the enclosing namespace.
        for inner in ast.walk(node):
            if isinstance(inner, ast.NamedExpr) and isinstance(inner.target, ast.Name):
                self.names.append(inner.target.id)

    visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_ListComp

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.names.append(alias.asname or alias.name.partition(".")[0])

    visit_ImportFrom = visit_Import

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.names.append(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.names.append(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self.names.append(node.rest)

    def _declared_global(self, scope: ast.AST) -> None:
        for inner in ast.walk(scope):
            if isinstance(inner, ast.Global):
                self.names.extend(inner.names)
