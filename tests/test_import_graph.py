"""The import graph of the package: no cycle, and no module importing one above it.

Read from the source with `ast`: every import a module runs (at the top, or inside a function),
but not those under `if TYPE_CHECKING:` (type names only, never run). Layers, lowest first:
`vocabulary` imports nothing of the project; the shared sandbox imports no vendor and no part of
the request's way; a vendor imports nothing of the request's way, the application or the server.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mockserver"
# the request's way, the application, the server and the control API: what vendors and the sandbox serve
ABOVE_VENDORS = frozenset(
    {
        "app",
        "answers",
        "cli",
        "connections",
        "control",
        "dashboard",
        "limits",
        "operation_checks",
        "pipeline",
        "plan",
        "routing",
        "server",
        "traffic",
        "workers",
        "pytest_plugin",
    }
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, but those under `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from runtime_imports(node)


def imported(name: str) -> set[str]:
    """The project modules `name` imports when it runs."""
    found: set[str] = set()
    package = name if is_package(name) else name.rpartition(".")[0]
    for node in runtime_imports(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name.removeprefix("mockserver.") for alias in node.names if alias.name.startswith("mockserver.")]
            found.update(target for target in targets if target in MODULES)
            continue
        if node.level == 0:
            if not (node.module or "").startswith("mockserver"):
                continue
            base = (node.module or "").removeprefix("mockserver").removeprefix(".")
        else:
            parts = package.split(".") if package else []
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        for alias in node.names:
            submodule = f"{base}.{alias.name}" if base else alias.name
            found.add(submodule if submodule in MODULES else base)
    found.discard(name)
    return {target for target in found if target in MODULES}


GRAPH = {name: imported(name) for name in MODULES}


def test_the_graph_is_read_from_every_module() -> None:
    assert {"vocabulary", "pipeline", "routing", "plan", "vendors", "vendors.bitcain", "sandbox.world"} <= set(GRAPH)
    assert "vocabulary" in GRAPH["pipeline"] and "answers" in GRAPH["pipeline"]


def test_no_import_cycle() -> None:
    """Tarjan's strongly connected components: every one must be a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    assert cycles == []


def test_the_vocabulary_is_a_leaf() -> None:
    assert GRAPH["vocabulary"] == set()


@pytest.mark.parametrize("name", sorted(name for name in MODULES if name.startswith("vendors")))
def test_a_vendor_imports_nothing_above_it(name: str) -> None:
    assert GRAPH[name] & ABOVE_VENDORS == set()


@pytest.mark.parametrize("name", sorted(name for name in MODULES if name.startswith("sandbox")))
def test_the_shared_sandbox_imports_no_vendor_and_nothing_above_it(name: str) -> None:
    assert {target for target in GRAPH[name] if target.startswith("vendors")} == set()
    assert GRAPH[name] & ABOVE_VENDORS == set()
