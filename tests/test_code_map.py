"""The code map in docs/development.md names every module of the package, so a newcomer who
reads it finds each file (a module added without a line there fails here)."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def named_in_map() -> list[str]:
    """The file names and patterns the code map's table mentions (``deepdream*.py`` too)."""
    text = (REPO / "docs" / "development.md").read_text()
    table = [line for line in text.splitlines() if line.startswith("| `")]
    return re.findall(r"`([^`]+\.py)`", "\n".join(table))


def test_every_module_is_in_the_code_map() -> None:
    names = named_in_map()
    missing = []
    for module in sorted((REPO / "app").rglob("*.py")):
        if module.name in ("__init__.py", "__main__.py") or "bundled" in module.parts:
            continue
        rel = module.relative_to(REPO).as_posix()
        if not any(fnmatch.fnmatch(module.name, n) or rel.endswith(n) for n in names):
            missing.append(rel)
    assert not missing, f"docs/development.md's code map does not name {missing}"


def test_the_map_names_no_module_that_is_gone() -> None:
    gone = [n for n in named_in_map() if "*" not in n and not n.startswith("tests/")
            and not any((REPO / "app").rglob(Path(n).name))]
    assert not gone, f"the code map names modules that no longer exist: {gone}"
