"""The shape the code promises (see ARCHITECTURE.md): every path the map names exists, no
import circles, no module reaches into another's private names, and units a reader can hold
in their head. The layering itself is import-linter's (``lint-imports``, pyproject.toml)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "quicksearch"
MAX_FUNCTION_LINES = 120
MAX_CLASS_LINES = 500
#: Units still over the limits, each with the reason it is (none today: the test fails on any
#: unit over them, and on one listed here once it fits).
TOO_LONG_FOR_NOW: set[str] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in ``path``, those inside functions too."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.append((base, [alias.name for alias in node.names]))
    return found


def test_every_path_the_map_names_exists() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:quicksearch|tests|benchmarks)/[\w./-]*)`", text))
    assert named, "ARCHITECTURE.md names no paths"
    assert sorted(p for p in named if not (ROOT / p.rstrip("/")).exists()) == []


def test_no_module_imports_another_modules_private_names() -> None:
    private = [
        f"{module_name(path)}: from {module} import {name}"
        for path in PACKAGE.rglob("*.py")
        for module, names in imports(path)
        if module.startswith("quicksearch")
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert private == []


def test_no_import_circles() -> None:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for module, names in imports(path):
            targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
            if module in MODULES and len(targets) < len(names):
                targets.append(module)
            graph[name].update(t for t in targets if t != name)
    # Tarjan's strongly connected components: a component of two or more is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert circles == []


def test_units_a_reader_can_hold_in_their_head() -> None:
    too_long, fits = [], []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            name = f"{module_name(path)}.{_qualified(path, node)}"
            if size > limit and name not in TOO_LONG_FOR_NOW:
                too_long.append(f"{name}: {size} lines")
            elif size <= limit and name in TOO_LONG_FOR_NOW:
                fits.append(name)
    assert too_long == []
    assert fits == [], "these fit now: take them off TOO_LONG_FOR_NOW"


def _qualified(path: Path, target: ast.AST) -> str:
    """``Class.method`` or ``function`` of a definition in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            if (
                isinstance(node, ast.ClassDef)
                and getattr(child, "lineno", None) == getattr(target, "lineno", -1)
                and getattr(child, "name", None) == getattr(target, "name", None)
            ):
                return f"{node.name}.{child.name}"  # type: ignore[attr-defined]
    return target.name  # type: ignore[attr-defined]
