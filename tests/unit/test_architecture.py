"""The tree keeps the shape the README's map describes: no package cycle, small modules (web client too), thin doors."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ARMADA = Path(__file__).resolve().parents[2] / "armada"
WEB_STATIC = ARMADA / "web" / "static"
MAX_MODULE_LINES = 300


def _modules() -> dict[str, Path]:
    """Every module of armada/, by dotted name."""
    found = {}
    for path in sorted(ARMADA.rglob("*.py")):
        parts = list(path.relative_to(ARMADA.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The armada modules a module imports (`from armada import outbox` is armada.outbox, not armada)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("armada"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("armada"):
            module = node.module or ""
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                yield submodule if submodule in modules else module


def _unit(module: str) -> str:
    """The part of the tree a module belongs to: its subpackage (armada.chat), or itself (armada.errors)."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _package_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if name == "armada":
            continue  # the app factory: it imports every part to bind it
        for imported in _imports(path, modules):
            if _unit(imported) != _unit(name) and imported != "armada":
                graph.setdefault(_unit(name), set()).add(_unit(imported))
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, as a path that ends where it starts, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for after in sorted(graph.get(node, ())):
            if state.get(after) == "open":
                return [*stack[stack.index(after) :], after]
            if after not in state and (found := visit(after)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


def test_no_package_imports_a_package_that_imports_it_back() -> None:
    graph = _package_graph()
    assert "armada.chat" in graph["armada.realtime"]  # the graph is read: the socket handlers call chat services
    assert _cycle(graph) is None


def test_no_module_is_over_300_lines() -> None:
    long = {
        name: n for name, path in _modules().items() if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def _web_client_modules() -> dict[str, Path]:
    """The web client's own ES modules, by path under static/ (the vendored socket.io-client is not ours)."""
    return {
        str(path.relative_to(WEB_STATIC)): path
        for path in sorted(WEB_STATIC.rglob("*.js"))
        if path.relative_to(WEB_STATIC).parts[0] != "vendor"
    }


def test_no_web_client_module_is_over_300_lines() -> None:
    modules = _web_client_modules()
    assert "app.js" in modules and "chat-view.js" in modules  # the modules are read
    assert not any(name.startswith("vendor/") for name in modules)
    long = {name: n for name, path in modules.items() if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_services_never_reach_for_the_request_or_the_socket() -> None:
    """Services take the acting user and plain values; they record events and never emit them."""
    doors = {"routes", "schemas", "__init__"}
    services = [
        path
        for name, path in _modules().items()
        if name.split(".")[1:2] in (["chat"], ["auth"], ["media"]) and path.stem not in doors
    ]
    assert any(path.stem == "sending" for path in services)
    forbidden = {("flask", "request"), ("flask", "g"), ("armada.extensions", "socketio"), ("flask_socketio", "emit")}
    for path in services:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    assert (node.module, alias.name) not in forbidden, f"{path.name} imports {alias.name}"


def test_events_leave_from_the_emitter_only() -> None:
    emitters = {name for name, path in _modules().items() if "socketio.emit(" in path.read_text()}
    assert emitters == {"armada.realtime.events"}
