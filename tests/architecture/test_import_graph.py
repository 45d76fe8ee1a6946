"""The packages' import graphs: no cycles, and the two halves never import each other.

Every import counts, the ones inside functions too: an import deferred to break a cycle is
still a cycle. Imports under `if TYPE_CHECKING:` are left out (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("harness", "reference_server", "slogate_common")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports (a `from pkg import mod` names the module itself)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    skipped = {id(node) for block in _type_checking_blocks(tree) for node in ast.walk(block)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(_known_prefix(alias.name, known) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else _known_prefix(base, known))
    found.discard(None)
    return found


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def _known_prefix(name: str, known: set[str]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking_blocks(tree: ast.AST) -> list[ast.If]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.If)
            and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"]


def import_graph() -> dict[str, set[str]]:
    files = [path for package in PACKAGES for path in (ROOT / package).rglob("*.py")]
    known = {module_name(path) for path in files}
    graph = {module_name(path): imported_modules(path, known) for path in files}
    # importing a submodule runs its packages' __init__ first, but that is no edge of ours
    return {name: {dep for dep in deps if dep != name and not name.startswith(dep + ".")} for name, deps in graph.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in graph.get(node, ()):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", ["harness", "reference_server"])
def test_no_import_cycles(package: str) -> None:
    graph = {name: deps for name, deps in import_graph().items() if name.split(".")[0] == package}
    assert cycles(graph) == []


def test_harness_rooms_depend_one_way() -> None:
    """Between the folders of harness/ (scenario, session, workload, load, clients, analysis,
    report, ...) the dependencies form no loop either, so each room can be read on its own."""
    rooms: dict[str, set[str]] = {}
    for name, deps in import_graph().items():
        if name.startswith("harness."):
            room = _room(name)
            rooms.setdefault(room, set()).update(_room(dep) for dep in deps if dep.startswith("harness."))
    assert cycles({room: deps - {room} for room, deps in rooms.items()}) == []


def _room(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_the_halves_never_import_each_other() -> None:
    crossing = [(name, dep) for name, deps in import_graph().items() for dep in deps
                if {name.split(".")[0], dep.split(".")[0]} == {"harness", "reference_server"}]
    assert crossing == []
