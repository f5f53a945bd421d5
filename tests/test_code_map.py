"""The code map in docs/development.md names every module of the package, so a newcomer who
reads it finds each file (a module added without a line there fails here)."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[1]


def named_in_map() -> list[str]:
    """The module paths the code map's table names, relative to the repository: a bare
    ``name.py`` in a row belongs to the folder of the row's first path (``app/jobs/``,
    ``app/engine/registry.py``), and patterns such as ``deepdream*.py`` stay patterns."""
    text = (REPO / "docs" / "development.md").read_text()
    paths = []
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        tokens = re.findall(r"`([^`]+)`", line)
        first = next((t for t in tokens if "/" in t), "")
        folder = first if first.endswith("/") else str(PurePosixPath(first).parent) + "/"
        paths += [t if "/" in t else folder + t for t in tokens if t.endswith(".py")]
    return paths


def test_every_module_is_in_the_code_map() -> None:
    names = named_in_map()
    missing = []
    for module in sorted((REPO / "app").rglob("*.py")):
        if module.name in ("__init__.py", "__main__.py") or "bundled" in module.parts:
            continue
        rel = module.relative_to(REPO).as_posix()
        if not any(fnmatch.fnmatch(rel, n) for n in names):
            missing.append(rel)
    assert not missing, f"docs/development.md's code map does not name {missing}"


def test_the_map_names_no_module_that_is_gone() -> None:
    gone = [n for n in named_in_map() if n.startswith("app/")
            and not any(REPO.glob(n))]
    assert not gone, f"the code map names modules that no longer exist: {gone}"
