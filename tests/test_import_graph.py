"""The import graph of ``chalicelib`` and ``app.py`` has no cycle.

Every ``import`` counts, wherever it is written: at module level, inside a function (the lazy
imports of ``app.py`` and ``services.py``), under ``if TYPE_CHECKING:`` or in a ``try``. A cycle
hidden in a function still ties two modules together (``configuration`` used to import
``classification`` inside ``load_config`` while ``classification`` imported ``configuration``).
The graph is built from the files on disk, so a module added or split tomorrow is checked too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(root: Path, packages: tuple[str, ...], modules: tuple[str, ...]) -> dict[str, Path]:
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            found[_module_name(path, root)] = path
    for module in modules:
        found[module] = root / f"{module}.py"
    return found


def _target(name: str, known: set[str]) -> str | None:
    """The known module ``name`` designates: itself, else its longest known prefix (``pkg.mod.attr``)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph(root: Path, packages: tuple[str, ...] = ("chalicelib",),
                 modules: tuple[str, ...] = ("app",)) -> dict[str, set[str]]:
    """Module -> the modules of the same code base it imports, from every import statement in its file."""
    sources = _sources(root, packages, modules)
    known = set(sources)
    graph: dict[str, set[str]] = {name: set() for name in sources}
    for name, path in sources.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [_target(alias.name, known) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: from the module's package, one level up per extra dot
                    package = name if is_package else name.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        package = package.rpartition(".")[0]
                    base = ".".join(p for p in (package, node.module or "") if p)
                else:
                    base = node.module or ""
                for alias in node.names:  # ``from pkg import mod`` imports the submodule mod
                    submodule = f"{base}.{alias.name}"
                    targets.append(submodule if submodule in known else _target(base, known))
            graph[name].update(t for t in targets if t is not None and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _describe(graph: dict[str, set[str]], group: list[str]) -> str:
    members = set(group)
    return "; ".join(f"{m} -> {', '.join(sorted(graph[m] & members))}" for m in group)


def test_chalicelib_and_app_import_each_other_without_any_cycle():
    graph = import_graph(ROOT)
    found = cycles(graph)
    assert found == [], "import cycles: " + " | ".join(_describe(graph, group) for group in found)


def test_the_graph_holds_every_module_and_the_imports_inside_functions():
    graph = import_graph(ROOT)
    files = list((ROOT / "chalicelib").rglob("*.py"))
    assert len(graph) == len(files) + 1  # + app
    # app.py reaches chalicelib's services only inside functions (cold start, through chalicelib.web): the
    # graph sees them
    assert "chalicelib.web" in graph["app"] and "chalicelib.services" in graph["chalicelib.web"]
    assert sum(len(targets) for targets in graph.values()) > len(graph)


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_a_cycle_at_module_level_is_found(tmp_path):
    root = _package(tmp_path, {"pkg/a.py": "from pkg.b import thing\n", "pkg/b.py": "import pkg.a\nthing = 1\n",
                               "pkg/c.py": "from pkg import a\n", "main.py": "import pkg.c\n"})
    assert cycles(import_graph(root, ("pkg",), ("main",))) == [["pkg.a", "pkg.b"]]


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    # the shape configuration <-> classification had: one side imports lazily, in a function
    root = _package(tmp_path, {
        "pkg/models.py": "def load():\n    from pkg.rules import compile\n    return compile()\n",
        "pkg/rules.py": "from pkg.models import load\n\ndef compile():\n    return load\n",
    })
    assert cycles(import_graph(root, ("pkg",), ())) == [["pkg.models", "pkg.rules"]]


def test_relative_imports_type_checking_imports_and_longer_cycles_are_found(tmp_path):
    root = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "from .one import x\n",
        "pkg/sub/one.py": "from ..two import y\nx = 1\n",
        "pkg/two.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import three\ny = 2\n",
        "pkg/three.py": "try:\n    import pkg.sub\nexcept ImportError:\n    pass\n",
    })
    assert cycles(import_graph(root, ("pkg",), ())) == [["pkg.sub", "pkg.sub.one", "pkg.three", "pkg.two"]]


def test_an_acyclic_package_passes(tmp_path):
    root = _package(tmp_path, {
        "pkg/__init__.py": "from pkg import a\n",
        "pkg/a.py": "import os\nfrom pkg.b import f\n\ndef g():\n    from pkg import c\n    return c\n",
        "pkg/b.py": "from pkg.c import h as f\n", "pkg/c.py": "import json\nh = json.dumps\n",
    })
    graph = import_graph(root, ("pkg",), ())
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b", "pkg.c"}, "pkg.b": {"pkg.c"}, "pkg.c": set()}
    assert cycles(graph) == []
