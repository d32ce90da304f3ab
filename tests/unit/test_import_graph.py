"""The import graph of Tastemaker's own packages (every top-level folder with an ``__init__.py`` but tests/ and
bench/): no module imports itself through others; the domain core (``tastemaker``) imports none of the
layers above it (app, agents, tables, models), nor Faust; the records (``models``) and the tables import no
layer above them.

The graph is read from the source with ``ast``, not by importing: every ``import x.y`` and ``from x import y``
(relative ones too) anywhere in a module, at module level or inside a function, since a function-level import
that closes a circle is still a circle (it only moves the failure to the first call). ``from pkg import name``
is an edge to the submodule ``pkg.name`` when there is one, else to ``pkg``. Importing ``pkg.mod`` also runs
``pkg/__init__.py``, which is not counted: Python handles a package whose ``__init__`` is still running, and
counting it would make every ``__init__`` that gathers its package a circle.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXCLUDED = {"tests", "bench", ".venv"}
# What a package may not import (ours, or another distribution by its top-level name), as it holds today:
# the domain core is plain Python below the app, without Faust (nor mode, the service library Faust runs on);
# the records that travel on topics and the tables are below the stages that use them.
MAY_NOT_IMPORT = {
    "tastemaker": ("app", "agents", "tables", "models", "faust", "mode"),
    "models": ("app", "agents", "tables"),
    "tables": ("agents",),
}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module: one of ours, or the top-level name of another distribution
    line: int
    in_function: bool

    def where(self, modules: dict[str, Path], root: Path) -> str:
        place = "in a function" if self.in_function else "at module level"
        return f"{modules[self.source].relative_to(root)}:{self.line}, {place}"


def packages(root: Path = ROOT) -> list[str]:
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and p.name not in EXCLUDED
                  and (p / "__init__.py").is_file())


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of our packages (a package is its ``__init__.py``)."""
    found = {}
    for package in packages(root):
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if any(part == "__pycache__" or not part.isidentifier() for part in parts):
                continue
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_package(module: str, known: dict[str, Path]) -> bool:
    return known[module].name == "__init__.py"


def _ours_or_top(name: str, known: dict[str, Path]) -> str:
    """The longest prefix of ``name`` that is one of our modules, else the top-level name (another distribution)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return parts[0]


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, known: dict[str, Path]):
        self.module, self.known, self.depth, self.found = module, known, 0, []

    def _function(self, node) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def _add(self, target: str, node: ast.AST) -> None:
        if target != "__future__":
            self.found.append(Import(self.module, target, node.lineno, self.depth > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(_ours_or_top(alias.name, self.known), node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.module.split(".")
            if not _is_package(self.module, self.known):
                base = base[:-1]
            base = base[:len(base) - (node.level - 1)]
            name = ".".join(base + ([node.module] if node.module else []))
        else:
            name = node.module or ""
        for alias in node.names:
            submodule = f"{name}.{alias.name}"
            self._add(submodule if submodule in self.known else _ours_or_top(name, self.known), node)


def imports(root: Path = ROOT) -> tuple[dict[str, Path], list[Import]]:
    """Our modules and every import statement in them (duplicates kept, each with its line)."""
    known = modules(root)
    found = []
    for module, path in known.items():
        collector = _Collector(module, known)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found.extend(collector.found)
    return known, found


def graph(known: dict[str, Path], found: list[Import]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {module: set() for module in known}
    for imp in found:
        if imp.target in known:
            edges[imp.source].add(imp.target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One circle (first module repeated at the end) for each set of modules that import each other, in a
    stable order."""
    return [_circle(component, edges) for component in entangled(edges)]


def entangled(edges: dict[str, set[str]]) -> list[list[str]]:
    """The sets of modules that import each other (strongly connected components with a circle: Tarjan's
    algorithm, iterative), each sorted, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(edges[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in edges[node]:
                        components.append(sorted(component))
    return sorted(components)


def _circle(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """The shortest circle through the component's first module, inside the component (breadth first)."""
    start, members = component[0], set(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(edges[node] & members):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"no circle in {component}")  # a strongly connected component always has one


def describe(component: list[str], edges: dict[str, set[str]], known: dict[str, Path], found: list[Import],
             root: Path = ROOT) -> str:
    """A circle of the component, each link with where it is imported, and the component's other modules."""
    circle = _circle(component, edges)
    lines = [" -> ".join(circle)]
    for source, target in zip(circle, circle[1:]):
        places = dict.fromkeys(imp.where(known, root) for imp in found if imp.source == source and imp.target == target)
        lines.append(f"    {source} -> {target}  ({'; '.join(places)})")
    if len(component) > len(circle) - 1:
        lines.append(f"    (all of these import each other: {', '.join(component)})")
    return "\n".join(lines)


KNOWN, FOUND = imports()


def test_the_graph_is_read():
    # Not vacuous: the packages are found, and module-level, function-level and ``from pkg import module``
    # imports all become edges.
    assert {"app", "agents", "tables", "models", "tastemaker"} <= set(packages())
    edges = graph(KNOWN, FOUND)
    assert "app.main" in edges["app.commands"]
    assert "app.topics" in edges["app"]  # from app import topics: the submodule
    assert any(imp.in_function and imp.target in KNOWN for imp in FOUND)


def test_no_module_imports_itself_through_others():
    edges = graph(KNOWN, FOUND)
    found = entangled(edges)
    assert not found, ("import cycles (a function-level import that closes one is still one):\n"
                       + "\n".join(describe(component, edges, KNOWN, FOUND) for component in found))


def test_the_domain_core_and_the_lower_layers_import_nothing_above_them():
    offending = [imp for imp in FOUND
                 if imp.target.split(".")[0] in MAY_NOT_IMPORT.get(imp.source.split(".")[0], ())]
    assert not offending, "imports a layer above (or Faust, for tastemaker/):\n" + "\n".join(
        f"    {imp.source} imports {imp.target}  ({imp.where(KNOWN, ROOT)})" for imp in offending)


def test_a_circle_closed_inside_a_function_is_found(tmp_path):
    # The checker itself, on a package of its own: relative imports, ``from pkg import module``, and a circle
    # whose last link is an import inside a function.
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text("from . import c\n")
    (tmp_path / "pkg" / "a.py").write_text("from pkg import b\nimport os\n")
    (tmp_path / "pkg" / "b.py").write_text("from .sub.c import NAME\n")
    (tmp_path / "pkg" / "sub" / "c.py").write_text("NAME = 1\n\ndef late():\n    from ..a import x\n")
    (tmp_path / "pkg" / "d.py").write_text("import pkg.a\nfrom pkg.sub import NAME\n")
    known, found = imports(tmp_path)
    edges = graph(known, found)
    assert edges == {"pkg": set(), "pkg.sub": {"pkg.sub.c"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.sub.c"},
                     "pkg.sub.c": {"pkg.a"}, "pkg.d": {"pkg.a", "pkg.sub"}}
    assert cycles(edges) == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]]
    assert "pkg.sub.c -> pkg.a  (pkg/sub/c.py:4, in a function)" in describe(
        entangled(edges)[0], edges, known, found, tmp_path)
