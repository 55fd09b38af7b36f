"""No new import cycles between tether's modules, lazy (in-function) imports included.

The cycles listed in KNOWN are still to be broken (the async-core rework);
removing one from the code must remove it here too, and a new one fails.
"""

import ast
from pathlib import Path

import tether

ROOT = Path(tether.__file__).parent

#: strongly connected groups of modules that import each other today
KNOWN = {
    frozenset({"tether.commands.quoting", "tether.exceptions"}),
    frozenset({"tether.commands.base", "tether.commands.plan"}),
    frozenset({"tether.machines.cwd", "tether.machines.local", "tether.paths.cross", "tether.paths.local"}),
    frozenset({"tether.machines.remote", "tether.machines.remote_cwd"}),
    frozenset({"tether.network.client", "tether.network.link"}),
    frozenset({"tether.network.admin", "tether.network.manager", "tether.network.peer", "tether.network.routing"}),
    frozenset({"tether.testing.server", "tether.testing.sshd"}),
}


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every tether module ``name`` imports, anywhere in its body."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                child = f"{target}.{alias.name}"
                found.add(child if child in known else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in known and m != name}


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """Tarjan's strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.add(frozenset(group))

    for node in graph:
        if node not in index:
            visit(node)
    return groups


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {frozenset("abc")}


def test_no_import_cycles_beyond_the_known_ones():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    found = cycles(graph)
    assert not found - KNOWN, f"new import cycles: {sorted(map(sorted, found - KNOWN))}"
    assert not KNOWN - found, f"cycles gone (remove them from KNOWN): {sorted(map(sorted, KNOWN - found))}"


def test_execution_never_imports_machines():
    """docs/architecture.md: machines/ stands on execution/, never the other way round."""
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    upward = {
        (name, target)
        for name in graph
        if name.split(".")[:2] == ["tether", "execution"]
        for target in graph[name]
        if target == "tether" or target.split(".")[:2] == ["tether", "machines"]
    }
    assert not upward, f"execution/ imports from above it: {sorted(upward)}"
