"""The layout stands: imports point down the layers, and no modules import each other in a circle.

The layers, lowest first (a module may import its own layer's modules and
any lower layer's, never a higher one's):

0. the core nouns: ``errors``, ``message``, ``envelope``, ``limits``, ``trail``
1. ``spool/``: the on-disk format
2. ``routing`` (an address names a spool), ``watcher/``, ``metrics/``,
   ``config/`` (the configuration model, read by everything above it)
3. ``handlers/``, ``writers/``: the plugin families' base classes and built-ins
4. ``component/``, ``shippers/``: the runtimes that call the plugins
5. ``daemon/``: supervision of components and shippers as processes; ``testbed/``: private
   brokers and hosts for the tests, the benchmarks and the demo across nodes
6. ``enstore/``: the reference application, on top of the library
7. ``cli/``, and the package's own ``__init__`` and ``__main__``

Every ``import`` counts, also one made inside a function or under
``TYPE_CHECKING``: a type-only import is still a dependency a reader must
follow.  Benchmarks never import the tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "spoolq"

LAYERS: dict[str, int] = {
    "spoolq.errors": 0,
    "spoolq.message": 0,
    "spoolq.envelope": 0,
    "spoolq.limits": 0,
    "spoolq.schema": 0,
    "spoolq.trail": 0,
    "spoolq.spool": 1,
    "spoolq.routing": 2,
    "spoolq.watcher": 2,
    "spoolq.metrics": 2,
    "spoolq.config": 2,
    "spoolq.plugins": 2,
    "spoolq.handlers": 3,
    "spoolq.writers": 3,
    "spoolq.component": 4,
    "spoolq.shippers": 4,
    "spoolq.daemon": 5,
    "spoolq.testbed": 5,
    "spoolq.enstore": 6,
    "spoolq.cli": 7,
    "spoolq.__main__": 7,
    "spoolq": 7,
}


def module_name(path: Path, top: Path) -> str:
    parts = list(path.relative_to(top.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_in(top: Path) -> dict[str, Path]:
    return {module_name(path, top): path for path in top.rglob("*.py")}


def import_statements(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every import statement in ``path`` (``names`` empty for ``import m``)."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def imported_by(path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports, anywhere in it."""
    found: set[str] = set()
    for module, names in import_statements(path):
        if not names:
            found.add(module)
        for name in names:
            submodule = f"{module}.{name}"
            found.add(submodule if submodule in known else module)
    return found & known


def layer_of(module: str) -> tuple[str, int]:
    """The layer a module belongs to: its longest prefix in :data:`LAYERS`."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return prefix, LAYERS[prefix]
    raise KeyError(module)


def import_graph(top: Path) -> dict[str, set[str]]:
    modules = modules_in(top)
    known = set(modules)
    return {name: imported_by(path, known) - {name} for name, path in modules.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imports in sorted(graph.items()):
        group, layer = layer_of(module)
        for target in sorted(imports):
            target_group, target_layer = layer_of(target)
            if target_layer > layer:
                found.append(f"{module} (layer {layer}) imports {target} (layer {target_layer})")
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every set of modules that import each other round, directly or not (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = lowest[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                lowest[module] = min(lowest[module], lowest[target])
            elif target in on_stack:
                lowest[module] = min(lowest[module], index[target])
        if lowest[module] == index[module]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == module:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_every_module_has_a_layer():
    for module in modules_in(PACKAGE):
        layer_of(module)


def test_imports_point_down_the_layers():
    assert upward_imports(import_graph(PACKAGE)) == []


def test_no_modules_import_each_other_in_a_circle():
    assert circles(import_graph(PACKAGE)) == []


def test_the_library_never_imports_the_reference_application():
    graph = import_graph(PACKAGE)
    library = [m for m in graph if layer_of(m)[1] < LAYERS["spoolq.enstore"]]
    assert [m for m in library if any(t.startswith("spoolq.enstore") for t in graph[m])] == []


def test_at_most_eight_modules_loose_at_the_top():
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(loose) <= 8, loose


@pytest.mark.parametrize("script", sorted((REPO / "benchmarks").glob("*.py")), ids=lambda p: p.name)
def test_benchmarks_never_import_the_tests(script):
    modules = [module for module, _ in import_statements(script)]
    assert [m for m in modules if m == "tests" or m.startswith("tests.")] == []


def test_only_the_watchers_inotify_module_speaks_raw_inotify():
    """Every other watcher of the filesystem (``tail -f``, the drop box) uses the watcher's emitters."""
    speakers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(module.split(".")[0] == "inotify_simple" for module, _ in import_statements(path))
    )
    assert speakers == ["watcher/inotify.py"]


def test_retry_and_reject_are_imported_from_spoolq_errors_only():
    sources = sorted(PACKAGE.rglob("*.py")) + sorted((REPO / "tests").rglob("*.py"))
    elsewhere = [
        f"{path.relative_to(REPO)}: from {module}"
        for path in sources
        for module, names in import_statements(path)
        if {"Retry", "Reject"} & set(names) and module != "spoolq.errors"
    ]
    assert elsewhere == []


def test_the_checks_catch_an_upward_import_and_a_circle(tmp_path):
    """The checks themselves can fail: a tiny package with one of each."""
    top = tmp_path / "spoolq"
    (top / "spool").mkdir(parents=True)
    (top / "__init__.py").write_text("")
    (top / "errors.py").write_text("from spoolq.spool import queue\n")
    (top / "spool" / "__init__.py").write_text("")
    (top / "spool" / "queue.py").write_text("from spoolq.spool import claim\n")
    (top / "spool" / "claim.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from spoolq.spool.queue import Spool\n"
    )
    graph = import_graph(top)
    assert upward_imports(graph) == ["spoolq.errors (layer 0) imports spoolq.spool.queue (layer 1)"]
    assert circles(graph) == [["spoolq.spool.claim", "spoolq.spool.queue"]]
