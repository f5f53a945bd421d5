"""The floor plan holds: no import circles in ``app/``, the web layer named only by the web
layer and the command line, and every engine and weight file named only in its own home.

Read from the source with :mod:`ast` (imports at the top and inside functions, and every
string constant, docstrings included), so a rule cannot be dodged by importing late.
"""

from __future__ import annotations

import ast
from pathlib import Path

from app.engine.registry import BUILT_IN, WEIGHT_FILES

APP = Path(__file__).resolve().parents[1] / "app"


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(APP.rglob("*.py"))}


def imported_modules(name: str, path: Path) -> set[str]:
    """The ``app`` modules ``name`` imports anywhere in its source (``from a import b``
    counts ``a.b`` when that is a module, else ``a``)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


def import_graph() -> dict[str, set[str]]:
    return {name: imported_modules(name, path) for name, path in MODULES.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
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


def strings(path: Path) -> list[str]:
    return [node.value for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def test_app_has_no_import_circles() -> None:
    assert circles(import_graph()) == []


def test_the_circle_finder_finds_circles() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_only_the_web_layer_and_the_command_line_name_the_web_layer() -> None:
    outside = {name: path for name, path in MODULES.items()
               if not name.startswith(("app.web", "app.cli"))}
    graph = import_graph()
    for name, path in outside.items():
        assert not any(m.startswith("app.web") for m in graph[name]), name
        assert not any("app.web" in text for text in strings(path)), name


def _is_engine_home(name: str) -> bool:
    return name == "app.engine.registry" or name.startswith("app.engine.methods.")


def test_engines_and_weight_files_are_named_only_in_their_homes() -> None:
    engine_names = {spec.name for spec in BUILT_IN}
    file_names = {f.name for f in WEIGHT_FILES} | {f.basename for f in WEIGHT_FILES}
    offenders = []
    for name, path in MODULES.items():
        if _is_engine_home(name):
            continue
        for text in strings(path):
            if text in engine_names or any(f in text for f in file_names):
                offenders.append(f"{name}: {text[:60]!r}")
    assert offenders == []


def _top_imports(path: Path) -> set[str]:
    """Every module name ``path`` imports, anywhere in its source, as written."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_bench_uses_only_tests_support_and_tests_never_import_bench() -> None:
    """What the benchmarks and the tests share lives in ``tests/support``: a benchmark that
    reached into a test folder (or a test into ``bench``) would tie the two together."""
    root = APP.parent
    reaching = {f"{p.relative_to(root)}: {m}" for p in (root / "bench").rglob("*.py")
                for m in _top_imports(p)
                if m.split(".")[0] == "tests" and not m.startswith("tests.support")}
    reaching |= {f"{p.relative_to(root)}: {m}" for p in (root / "tests").rglob("*.py")
                 for m in _top_imports(p) if m.split(".")[0] == "bench"}
    assert not reaching, sorted(reaching)
