"""No import cycles in the package, counting imports at module level and inside functions.

The graph has an edge ``A -> B`` when module ``A`` imports ``B`` anywhere in its source (at the
top, inside a function or a class), with relative imports resolved. Importing ``pkg.sub.mod``
runs ``pkg/sub/__init__.py`` first, so it is also an edge to every package on the way
(``pkg.sub``), except the importer's own enclosing packages, which Python has already started
before the importer runs. Imports under ``if TYPE_CHECKING:`` never run and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "upsamp"


def _module_names(package_dir: Path) -> dict[str, Path]:
    """``{dotted name: file}`` for every module and package of the package at ``package_dir``."""
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, at any depth, outside ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if _is_type_checking_block(node):
            pending.extend(node.orelse)  # type: ignore[attr-defined]
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return found


def _imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that importing ``name`` (the file ``path``) imports directly."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        if node.level:
            parts = here.split(".")
            if node.level - 1 >= len(parts):
                raise ImportError(f"{name}: relative import beyond the top-level package")
            base = ".".join(parts[: len(parts) - (node.level - 1)])
            base = f"{base}.{node.module}" if node.module else base
        else:
            base = node.module or ""
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            targets.add(submodule if submodule in modules else base)
    edges = set()
    own_packages = {name.rsplit(".", n)[0] for n in range(1, name.count(".") + 1)}
    for target in targets:
        if target not in modules:
            continue  # outside the package
        parts = target.split(".")
        for end in range(1, len(parts) + 1):
            step = ".".join(parts[:end])  # pkg, pkg.sub, pkg.sub.mod: each is initialised
            if step in modules and step != name and step not in own_packages:
                edges.add(step)
    return edges


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """``{module: modules it imports}`` within the package at ``package_dir``."""
    modules = _module_names(package_dir)
    return {name: _imported_modules(name, path, modules) for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per back edge of a depth-first search; empty when the
    graph is acyclic."""
    state: dict[str, str] = {}  # "open" while on the search path, then "done"
    path: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_package_has_no_import_cycles():
    graph = import_graph(PACKAGE)
    assert "upsamp.geometry" in graph and len(graph) > 20
    cycles = find_cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_geometry_is_a_leaf_of_the_methods():
    """The shared geometry imports nothing of the package but the array helpers and errors."""
    graph = import_graph(PACKAGE)
    assert graph["upsamp.geometry"] == {"upsamp._arrays", "upsamp.errors"}


# --------------------------------------------------------------------------------------------
# The checker itself, on small synthetic packages
# --------------------------------------------------------------------------------------------


def _write_package(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / next(iter(files)).split("/")[0]


def test_checker_finds_a_cycle_hidden_inside_a_function(tmp_path):
    package = _write_package(
        tmp_path,
        {
            "top/__init__.py": "",
            "top/a.py": "from .b import g\n",
            "top/b.py": "def g():\n    from .a import f  # inside a function\n    return f\n",
        },
    )
    assert find_cycles(import_graph(package)) == [["top.a", "top.b", "top.a"]]


def test_checker_finds_a_cycle_through_a_package_init(tmp_path):
    """``top.data`` imports a leaf of ``top.sub``, whose ``__init__`` imports an engine that
    imports ``top.data``: a real cycle (importing ``top.data`` first fails), though no module
    imports another that imports it back directly."""
    package = _write_package(
        tmp_path,
        {
            "top/__init__.py": "",
            "top/data.py": "from .sub.leaf import size\n",
            "top/sub/__init__.py": "from . import engine\n",
            "top/sub/leaf.py": "size = 1\n",
            "top/sub/engine.py": "from .. import data\n",
        },
    )
    graph = import_graph(package)
    assert graph["top.data"] == {"top.sub", "top.sub.leaf"}
    assert graph["top.sub.engine"] == {"top.data"}
    assert find_cycles(graph) == [["top.data", "top.sub", "top.sub.engine", "top.data"]]


def test_checker_resolves_absolute_and_relative_imports(tmp_path):
    package = _write_package(
        tmp_path,
        {
            "top/__init__.py": "from .x import value\n",
            "top/x.py": "import numpy\nimport top.y\nvalue = 1\n",
            "top/y.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from .x import value\n",
            "top/sub/__init__.py": "",
            "top/sub/z.py": "from ..y import something\nfrom ...elsewhere import thing\n",
        },
    )
    with pytest.raises(ImportError, match="beyond the top-level package"):
        import_graph(package)
    (package / "sub" / "z.py").write_text("from ..y import something\n", encoding="utf-8")
    graph = import_graph(package)
    assert graph == {
        "top": {"top.x"},
        "top.x": {"top.y"},  # numpy is outside; the package "top" is x's own
        "top.y": set(),  # only under TYPE_CHECKING
        "top.sub": set(),
        "top.sub.z": {"top.y"},
    }
    assert find_cycles(graph) == []
