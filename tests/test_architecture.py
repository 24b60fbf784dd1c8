"""The package's shape, checked from its source: no import cycle, an import inside a
function only with its reason beside it, and files small enough to read."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "admin_users"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, node: ast.ImportFrom | ast.Import, names: set[str]) -> set[str]:
    """The package's modules that ``node`` imports (``from . import x``: the module x)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level == 0:
        base = node.module or ""
    else:
        package = module_name(path).split(".")
        if path.name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join(package + ([node.module] if node.module else []))
    return {f"{base}.{a.name}" if f"{base}.{a.name}" in names else base for a in node.names}


def graph() -> dict[str, set[str]]:
    names = {module_name(p) for p in MODULES}
    edges = {}
    for path in MODULES:
        tree = ast.parse(path.read_text())
        name = module_name(path)
        found = set()
        for node in tree.body:  # what is imported when the module is
            if isinstance(node, ast.Import | ast.ImportFrom):
                found |= imported(path, node, names) & names
        # A module's packages are imported before it, whatever it says.
        edges[name] = {n for n in found if not name.startswith(n + ".") and n != name}
    return edges


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}

    def visit(node, trail):
        state[node] = "visiting"
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "visiting":
                return trail[trail.index(target) :] + [target]
            if target not in state and (found := visit(target, trail + [target])):
                return found
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node, [node])):
            return found
    return None


def test_the_cycle_finder_finds_one():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_package():
    edges = graph()
    assert edges["admin_users.extension"] >= {"admin_users.views", "admin_users.cli"}
    assert cycle(edges) is None, " -> ".join(cycle(edges))


def test_the_state_module_is_a_leaf():
    assert graph()["admin_users.state"] == set()


def test_an_import_inside_a_function_says_why():
    unexplained = []
    for path in MODULES:
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse(lines and "\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        line = lines[inner.lineno - 1]
                        above = lines[inner.lineno - 2].strip()
                        if "#" not in line and not above.startswith("#"):
                            unexplained.append(f"{path.name}:{inner.lineno}")
    assert not unexplained


def test_files_stay_small():
    long = [
        f"{p.relative_to(PACKAGE)}: {n}"
        for p, limit in [(p, 400) for p in MODULES]
        + [(p, 200) for p in PACKAGE.rglob("static/**/*.js")]
        if (n := len(p.read_text().splitlines())) > limit
    ]
    assert not long
