"""Print the import graph of the installed ``vigilante`` package: rooms, levels and circles.

Run from a checkout: ``python -m scripts.import_graph``. The graph is read from the source
(``ast``), not by importing anything: every ``import``/``from`` statement in every ``.py`` file
under ``addon/`` (``vigilante``), ``rules/`` (``vigilante.rules``) and ``dashboards_py/``
(``vigilante.dashboards``, the ``*.dashboard.py`` definitions included), at module level and
inside functions alike, resolved to the ``vigilante`` module it loads.

A room is a top-level module of the package or a subpackage with everything in it. A level is
a room's depth: 1 for a room that imports no other room, else one more than the deepest room
it imports (circles are condensed to one node first). A circle is a set of modules (or rooms)
that import each other, directly or through others. Imports under ``if TYPE_CHECKING:`` never
run and are left out.
"""

from __future__ import annotations

import argparse
import ast
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = {"vigilante": "addon", "vigilante.rules": "rules", "vigilante.dashboards": "dashboards_py"}


@dataclass
class Import:
    """One import statement: the module importing, the module imported, whether in a function."""

    source: str
    target: str
    line: int
    in_function: bool


@dataclass
class Graph:
    """The package's modules and the imports between them."""

    modules: dict[str, Path] = field(default_factory=dict)
    packages: set[str] = field(default_factory=set)
    imports: list[Import] = field(default_factory=list)

    def edges(self) -> dict[str, set[str]]:
        """Module -> the modules it imports (itself excluded)."""
        out: dict[str, set[str]] = {name: set() for name in self.modules}
        for imp in self.imports:
            if imp.target != imp.source:
                out[imp.source].add(imp.target)
        return out

    def room_of(self, module: str) -> str:
        """The room a module belongs to: ``vigilante.X`` (module or subpackage), or ``vigilante``."""
        parts = module.split(".")
        return ".".join(parts[:2])

    def room_edges(self) -> dict[str, set[str]]:
        """Room -> the other rooms its modules import."""
        out: dict[str, set[str]] = {self.room_of(m): set() for m in self.modules}
        for source, targets in self.edges().items():
            for target in targets:
                if self.room_of(target) != self.room_of(source):
                    out[self.room_of(source)].add(self.room_of(target))
        return out


def module_name(package: str, root: Path, path: Path) -> str:
    """The dotted name of a source file (``overview.dashboard.py`` -> ``...overview.dashboard``)."""
    relative = path.relative_to(root).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def scan(repo: Path = REPO_ROOT) -> Graph:
    """Every module of the package and every import statement in it that loads one of them."""
    graph = Graph()
    for package, folder in PACKAGE_DIRS.items():
        root = repo / folder
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" in path.parts or _nested_package_root(repo, path, folder):
                continue
            name = module_name(package, root, path)
            graph.modules[name] = path
            if path.name == "__init__.py":
                graph.packages.add(name)
    for name, path in graph.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, in_function in _walk(tree):
            for target in _targets(graph, name, node):
                graph.imports.append(Import(name, target, node.lineno, in_function))
    return graph


def _nested_package_root(repo: Path, path: Path, folder: str) -> bool:
    # addon/ holds no other package's folder, but guard against a folder mapped twice.
    return any(path.is_relative_to(repo / other) for other in PACKAGE_DIRS.values()
               if other != folder and (repo / other).is_relative_to(repo / folder))


def _walk(tree: ast.AST, in_function: bool = False):
    """Every import node that runs, with whether it sits inside a function.

    An ``if TYPE_CHECKING:`` block never runs: its imports are for annotations and are left out.
    """
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            yield from ((node, in_function) for block in child.orelse for node, _ in _walk_one(block, in_function))
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, in_function
        inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from _walk(child, inner)


def _walk_one(node: ast.AST, in_function: bool):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node, in_function
    yield from _walk(node, in_function)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(graph: Graph, source: str, node: ast.AST) -> list[str]:
    """The package modules an import statement loads (the deepest existing module of each name)."""
    if isinstance(node, ast.Import):
        return [t for alias in node.names if (t := _existing(graph, alias.name))]
    assert isinstance(node, ast.ImportFrom)
    base = node.module or ""
    if node.level:
        package = source if source in graph.packages else source.rsplit(".", 1)[0]
        anchor = package.split(".")
        anchor = anchor[:len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    found = []
    for alias in node.names:
        target = _existing(graph, f"{base}.{alias.name}") if alias.name != "*" else None
        target = target if target and target.count(".") > base.count(".") else _existing(graph, base)
        if target:
            found.append(target)
    return found


def _existing(graph: Graph, dotted: str) -> str | None:
    parts = dotted.split(".")
    while parts:
        name = ".".join(parts)
        if name in graph.modules:
            return name
        parts.pop()
    return None


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def levels(edges: dict[str, set[str]]) -> dict[str, int]:
    """Each node's level: 1 + the deepest level it imports; the members of a circle share one."""
    group = {node: node for node in edges}
    for members in circles(edges):
        for member in members:
            group[member] = members[0]
    condensed: dict[str, set[str]] = {g: set() for g in group.values()}
    for node, targets in edges.items():
        condensed[group[node]].update(group[t] for t in targets if group[t] != group[node])
    memo: dict[str, int] = {}

    def depth(node: str) -> int:
        if node not in memo:
            memo[node] = 1 + max((depth(t) for t in condensed[node]), default=0)
        return memo[node]

    return {node: depth(group[node]) for node in edges}


def summary(graph: Graph) -> str:
    """The printed report: rooms by level with what each imports, then the circles."""
    room_edges = graph.room_edges()
    room_levels = levels(room_edges)
    module_circles = circles(graph.edges())
    room_circles = circles(room_edges)
    lines = [f"{len(graph.modules)} modules, {len(room_edges)} rooms on {max(room_levels.values())} levels, "
             f"{len(module_circles)} module circles, {len(room_circles)} room circles, "
             f"{sum(i.in_function for i in graph.imports)} function-level imports of package modules"]
    for level in sorted(set(room_levels.values())):
        lines.append(f"level {level}:")
        for room in sorted(r for r, lv in room_levels.items() if lv == level):
            size = sum(graph.room_of(m) == room for m in graph.modules)
            short = sorted(r.removeprefix("vigilante.") for r in room_edges[room])
            lines.append(f"  {room} ({size} module{'s' if size != 1 else ''})"
                         + (f" -> {', '.join(short)}" if short else ""))
    for kind, found in (("module", module_circles), ("room", room_circles)):
        for members in found:
            lines.append(f"{kind} circle: {' <-> '.join(members)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="checkout to read (default: this one)")
    print(summary(scan(parser.parse_args(argv).repo)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
