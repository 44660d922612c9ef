"""The package's shape, read from its source: its size, its layers and their import cycles.

Imports of krypto modules inside functions count in the cycles too (a cycle held together by
late imports is still a cycle), and there may be at most a few of them: the optional heavy
dependencies of the layers (the renderers, from the data index)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lib" / "krypto"
# the size of the research: cut from 13,558 to under 10,000 by one owner of the run folder, the
# runner's loop handed to Dask, table-driven report and bench, one renderer writer and a pass
# over every module; what a change adds, it pays for within this
MAX_LINES = 10_000
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
MAX_INNER_IMPORTS = 10
# the layers, lowest first: a module imports only from its own layer and those below it
LAYERS = ("base", "data", "evaluation", "learning", "challenge", "pipeline", "bench")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _nearest(name: str, modules) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imported(node: ast.AST, module: str, is_package: bool, modules) -> set[str]:
    """The modules of ``modules`` that an import statement loads: a submodule named in
    ``from package import name`` counts as that submodule, any other name as the package."""
    if isinstance(node, ast.Import):
        return {m for a in node.names if (m := _nearest(a.name, modules))}
    if not isinstance(node, ast.ImportFrom):
        return set()
    base = node.module or ""
    if node.level:
        parts = module.split(".")[: None if is_package else -1]
        parts = parts[: len(parts) - node.level + 1]
        base = ".".join(parts + ([base] if base else []))
    found = {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
    return {m for name in found if (m := _nearest(name, modules))}


class Shape:
    """Lines, long modules and functions, inner imports and the import graph of a package."""

    def __init__(self, root: Path):
        self.modules = {_module_name(p, root): p for p in sorted(root.rglob("*.py"))}
        self.lines = 0
        self.long_modules: list[str] = []
        self.long_functions: list[str] = []
        self.inner: list[str] = []
        self.graph: dict[str, set[str]] = defaultdict(set)
        for name, path in self.modules.items():
            self._read(name, path)

    def _read(self, name: str, path: Path) -> None:
        source = path.read_text()
        n = len(source.splitlines())
        self.lines += n
        if n > MAX_MODULE_LINES:
            self.long_modules.append(f"{name}: {n}")
        tree = ast.parse(source)
        functions = [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        for f in functions:
            if f.end_lineno - f.lineno + 1 > MAX_FUNCTION_LINES:
                self.long_functions.append(f"{name}.{f.name}: {f.end_lineno - f.lineno + 1}")
        inner_lines = {
            n.lineno
            for f in functions
            for n in ast.walk(f)
            if isinstance(n, ast.Import | ast.ImportFrom)
        }
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            found = _imported(node, name, is_package, self.modules) - {name}
            if found:
                self.graph[name].update(found)
                if node.lineno in inner_lines:
                    self.inner.append(f"{name}:{node.lineno}")

    def cycles(self) -> list[list[str]]:
        """Strongly connected groups of more than one module (Tarjan's algorithm)."""
        index, low, stack, on_stack, groups = {}, {}, [], set(), []

        def visit(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in self.graph.get(v, ()):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    group.append(w)
                    if w == v:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

        for v in self.modules:
            if v not in index:
                visit(v)
        return groups


def layer(module: str) -> int:
    """The layer of a krypto module (the subpackage; top-level modules are the base)."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 2 or parts[-1] in LAYERS else 0


@pytest.fixture(scope="module")
def shape() -> Shape:
    return Shape(PACKAGE)


def test_the_package_stays_the_size_of_the_research(shape):
    assert shape.lines <= MAX_LINES, f"lib/krypto holds {shape.lines} lines (at most {MAX_LINES})"
    assert not shape.long_modules, f"modules over {MAX_MODULE_LINES} lines: {shape.long_modules}"
    assert not shape.long_functions, (
        f"functions over {MAX_FUNCTION_LINES} lines: {shape.long_functions}"
    )


def test_imports_of_the_package_sit_at_the_top_of_modules(shape):
    assert len(shape.inner) <= MAX_INNER_IMPORTS, f"imports inside functions: {shape.inner}"


def test_no_import_cycle(shape):
    assert shape.cycles() == []


def test_layers_import_downwards_only(shape):
    upward = [
        f"{a} -> {b}" for a, targets in shape.graph.items() for b in targets if layer(b) > layer(a)
    ]
    assert upward == []


def test_the_shape_checks_see_what_they_guard(tmp_path):
    """Each check fails on a package planted with its defect."""
    root = tmp_path / "krypto"
    (root / "data").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "data" / "__init__.py").write_text("")
    body = "\n".join(f"    x = {i}" for i in range(MAX_FUNCTION_LINES))
    (root / "data" / "a.py").write_text(f"from krypto.data import b\n\n\ndef f():\n{body}\n")
    (root / "data" / "b.py").write_text("def g():\n    from krypto.data import a\n")
    (root / "paths.py").write_text("from krypto.data import a\n")
    planted = Shape(root)
    assert planted.long_functions == [f"krypto.data.a.f: {MAX_FUNCTION_LINES + 1}"]
    assert planted.inner == ["krypto.data.b:2"]
    assert planted.cycles() == [["krypto.data.a", "krypto.data.b"]]
    assert layer("krypto.paths") < layer("krypto.data.a")
