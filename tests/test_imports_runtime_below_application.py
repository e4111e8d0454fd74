"""The generic runtime stands below the application: it imports no catalogue and no Enstore code,
and the verdicts a handler raises have one home, ``spoolq.errors``."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every import statement in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names)
    return found


def test_the_component_runtime_imports_no_application_module():
    runtime = sorted((REPO / "spoolq" / "component").rglob("*.py"))
    assert runtime
    upward = [
        f"{path.relative_to(REPO)}: {module}"
        for path in runtime
        for module, _ in imports_of(path)
        if "catalogue" in module.split(".") or "enstore" in module.split(".")
    ]
    assert upward == []


def test_retry_and_reject_are_imported_from_spoolq_errors_only():
    sources = sorted((REPO / "spoolq").rglob("*.py")) + sorted((REPO / "tests").rglob("*.py"))
    elsewhere = [
        f"{path.relative_to(REPO)}: from {module}"
        for path in sources
        for module, names in imports_of(path)
        if {"Retry", "Reject"} & set(names) and module != "spoolq.errors"
    ]
    assert elsewhere == []
