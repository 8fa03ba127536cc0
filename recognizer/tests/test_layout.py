"""The code's shape: no import circles (imports inside functions count), ml free of Django, bench outside."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("digitvision_site", "recognizer", "ml", "bench")
PRODUCT = ("digitvision_site", "recognizer", "ml")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """Names an import statement brings in, absolute, with `from pkg import submodule` as pkg.submodule."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        anchor = module.split(".")
        anchor = anchor if is_package else anchor[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def _import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = set()
        for node in ast.walk(tree):  # every import, at the top or inside a function
            for target in _imported(node, name, path.name == "__init__.py"):
                if target in modules and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return _import_graph()


def test_the_graph_is_read(graph):
    assert "recognizer.models" in graph["recognizer.selectors"]
    assert "ml.model" in graph["ml.checkpoint"]


def test_no_import_circles(graph):
    assert _cycles(graph) == []


def test_a_circle_is_found():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_product_code_never_imports_the_benchmarks(graph):
    offenders = {
        name: sorted(t for t in targets if t.split(".")[0] == "bench")
        for name, targets in graph.items()
        if name.split(".")[0] in PRODUCT and "tests" not in name.split(".")  # tests may use the synthetic suites
    }
    assert {name: targets for name, targets in offenders.items() if targets} == {}


def test_ml_never_imports_django():
    offenders = []
    for path in (REPO / "ml").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = _imported(node, _module_name(path), path.name == "__init__.py")
            if any(n.split(".")[0] in ("django", "rest_framework", "recognizer", "digitvision_site") for n in names):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
