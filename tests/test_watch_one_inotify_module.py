"""Raw inotify is spoken in one module: every other watcher of the filesystem uses its emitters."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "spoolq"
THE_INOTIFY_MODULE = PACKAGE / "watcher" / "inotify.py"


def imports_inotify_simple(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "inotify_simple" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "inotify_simple":
            return True
    return False


def test_only_the_watchers_inotify_module_imports_inotify_simple():
    speakers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if imports_inotify_simple(p))
    assert speakers == [str(THE_INOTIFY_MODULE.relative_to(PACKAGE))]
