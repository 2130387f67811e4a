"""The kernel's import graph: no module under urvc_core imports a plugin package, and the
modules import each other without a cycle, counting the imports inside functions too
(urvc imports lazily, and a lazy cycle is still two modules that need each other)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import urvc_core

KERNEL = Path(urvc_core.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(KERNEL.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_names(path: Path) -> set[str]:
    """Every module name an ``import`` in the file names, anywhere but under
    ``if TYPE_CHECKING:`` (annotations only, never run)."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for statement in child.orelse:
                    visit(statement)
                continue
            if isinstance(child, ast.Import):
                names.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names.add(child.module)
                names.update(f"{child.module}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return names


def _kernel_graph() -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    modules = {_module_name(path): path for path in KERNEL.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    plugin_imports: list[tuple[str, str]] = []
    for module, path in modules.items():
        for name in _imported_names(path):
            top = name.split(".")[0]
            if top.startswith("urvc_") and top != "urvc_core":
                plugin_imports.append((module, name))
            parts = name.split(".")
            for length in range(len(parts), 0, -1):
                target = ".".join(parts[:length])
                if target in modules:
                    # A package's own __init__ and its submodules are one unit here.
                    if target not in (module, "urvc_core") and not module.startswith(
                        f"{target}."
                    ):
                        graph[module].add(target)
                    break
    return graph, plugin_imports


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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
            connect(node)
    return found


def test_the_kernel_imports_no_plugin() -> None:
    _, plugin_imports = _kernel_graph()
    assert plugin_imports == []


def test_the_kernel_s_import_graph_has_no_cycle() -> None:
    graph, _ = _kernel_graph()
    assert sum(len(targets) for targets in graph.values()) > 50  # the graph was read
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _private_imports_from_the_kernel(path: Path) -> list[str]:
    """``from urvc_core.x import _name`` and ``urvc_core.x._name`` in one file."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("urvc_core"):
            found += [
                f"{node.module}.{alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and alias.name != "__version__"
            ]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and ast.unparse(node.value).startswith("urvc_core")
        ):
            found.append(ast.unparse(node))
    return found


def test_plugins_use_only_the_kernel_s_public_names() -> None:
    plugins = KERNEL.parent / "plugins"
    files = sorted(plugins.rglob("*.py"))
    assert len(files) > 20  # the plugins' packages and tests were read
    private = {
        str(path.relative_to(plugins)): names
        for path in files
        if (names := _private_imports_from_the_kernel(path))
    }
    assert private == {}


def test_the_private_import_finder_finds_them(tmp_path: Path) -> None:
    source = tmp_path / "plugin.py"
    source.write_text(
        "from urvc_core.rvc.conversion import _f0_methods, convert_voice\n"
        "import urvc_core.cover\n"
        "urvc_core.cover._copy_atomically\n"
    )
    assert _private_imports_from_the_kernel(source) == [
        "urvc_core.rvc.conversion._f0_methods",
        "urvc_core.cover._copy_atomically",
    ]
