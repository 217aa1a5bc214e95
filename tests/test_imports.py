"""The import graph of moxpy has no cycles, between modules or between packages."""

from __future__ import annotations

import ast
import os

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "moxpy")


def modules() -> dict[str, str]:
    """Module name -> file path for every module of the moxpy package."""
    found = {}
    for directory, _, files in os.walk(ROOT):
        for name in files:
            if not name.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(directory, name), os.path.dirname(ROOT))[:-3]
            parts = rel.split(os.sep)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = os.path.join(directory, name)
    return found


def imports(name: str, path: str, known: set[str]) -> set[str]:
    """The moxpy modules that a module imports, anywhere in its body."""
    is_package = path.endswith("__init__.py")
    package = name if is_package else name.rpartition(".")[0]
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                targets.add(sub if sub in known else module)
    return {t for t in targets if t in known and t != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return result


def package_of(module: str, packages: set[str]) -> str:
    """The subpackage a module belongs to (moxpy.store.db -> moxpy.store); top-level modules are their own."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def graphs() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    found = modules()
    known = set(found)
    module_graph = {name: imports(name, path, known) for name, path in found.items()}
    packages = {package_of(m, known) for m in known}
    package_graph: dict[str, set[str]] = {p: set() for p in packages}
    for source, targets in module_graph.items():
        for target in targets:
            a, b = package_of(source, packages), package_of(target, packages)
            if a != b and b != "moxpy":
                package_graph[a].add(b)
    return module_graph, package_graph


def test_no_module_cycles():
    module_graph, _ = graphs()
    assert cycles(module_graph) == []


def test_no_package_cycles():
    _, package_graph = graphs()
    assert cycles(package_graph) == []


def test_cycle_detection_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_config_imports_nothing_else_of_moxpy():
    # Everything reads the config; were it to import a package that reads it, that would be a cycle.
    _, package_graph = graphs()
    assert package_graph["moxpy.config"] == set()
