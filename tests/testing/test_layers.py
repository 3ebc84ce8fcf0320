"""The emulator's modules import each other in one direction: no cycles, no imports hidden
in functions to dodge one."""

from __future__ import annotations

import ast
from pathlib import Path

import speechrest.testing

PACKAGE = Path(speechrest.testing.__file__).parent


def _imports(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Sibling modules imported at module level, and those imported inside functions
    (imports for type checkers only are left out)."""
    top: set[str] = set()
    nested: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ImportFrom) and child.level == 1:
                names = [child.module] if child.module else [a.name for a in child.names]
                (nested if in_function else top).update(names)
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            visit(child, inside)

    visit(tree, False)
    return top, nested


def test_no_import_cycles_and_no_hidden_imports() -> None:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        top, nested = _imports(ast.parse(path.read_text(encoding="utf-8")))
        assert not nested, f"{path.name} imports {sorted(nested)} inside a function"
        graph[path.stem] = top
    done: set[str] = set()

    def walk(module: str, trail: tuple[str, ...]) -> None:
        assert module not in trail, "import cycle: " + " -> ".join((*trail, module))
        if module in done:
            return
        for imported in graph.get(module, ()):
            walk(imported, (*trail, module))
        done.add(module)

    for module in graph:
        walk(module, ())
    assert "_emulator" not in set().union(*(graph[m] for m in graph if m != "__init__"))
