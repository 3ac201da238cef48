"""The package's layout rules: layers import only downward, no import circles, and functions stay short.

The layers, bottom to top, as docs/architecture.md states them. A
module may import from its own layer and the layers below; never from above.
A new module or package must be given a layer here (and in docs/architecture.md).
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dreamer"

LAYERS = [
    ("files and settings", ["dreamer.version", "dreamer.settings", "dreamer.errors", "dreamer.fileio",
                            "dreamer.images", "dreamer.config", "dreamer.precision", "dreamer.outputs",
                            "dreamer.presets", "dreamer.configfile"]),
    ("models and objectives", ["dreamer.models", "dreamer.objectives", "dreamer.classify"]),
    ("engine", ["dreamer.engine", "dreamer.param"]),
    ("api", ["dreamer.api"]),
    ("features", ["dreamer.atlas", "dreamer.atlas_settings", "dreamer.batch", "dreamer.video", "dreamer.probe",
                  "dreamer.executors",
                  "dreamer.attribution"]),
    ("cli", ["dreamer.cli", "dreamer.__main__"]),
]
#: ``dreamer/__init__.py`` is the facade: it re-exports the API lazily, and everyone may read its ``__version__``.
FACADE = "dreamer"
MAX_FUNCTION_LINES = 50


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    """The index of the module's layer: the longest listed prefix wins."""
    best, length = None, -1
    for index, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = index, len(prefix)
    if best is None:
        raise AssertionError(f"{module} has no layer: add it to LAYERS in tests/test_layout.py and to "
                             "docs/architecture.md")
    return best


def imported_modules(path: Path) -> set[str]:
    """Every dreamer module ``path`` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "dreamer"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "dreamer":
            if node.module != FACADE:
                found.add(node.module)
                continue
            for alias in node.names:  # ``from dreamer import api`` names a module; ``__version__`` the facade
                submodule = PACKAGE / alias.name
                if submodule.with_suffix(".py").exists() or submodule.is_dir():
                    found.add(f"dreamer.{alias.name}")
    return found


def package_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if module_name(p) != FACADE)


@pytest.mark.parametrize("path", package_modules(), ids=lambda p: module_name(p))
def test_imports_look_down_only(path):
    module = module_name(path)
    own = layer_of(module)
    upward = [m for m in imported_modules(path) if layer_of(m) > own]
    assert not upward, f"{module} ({LAYERS[own][0]}) imports from a layer above: {', '.join(sorted(upward))}"


def test_the_architecture_page_states_every_layer():
    layout = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name, prefixes in LAYERS:
        assert name in layout, name
        for prefix in prefixes:
            assert prefix.removeprefix("dreamer.").split(".")[0] in layout, prefix


@pytest.mark.parametrize("path", package_modules(), ids=lambda p: module_name(p))
def test_no_function_over_50_lines(path):
    long = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = node.end_lineno - node.lineno + 1
            if ast.get_docstring(node, clean=False) is not None:
                lines -= node.body[0].end_lineno - node.body[0].lineno + 1
            if lines > MAX_FUNCTION_LINES:
                long.append(f"{node.name} ({lines} lines)")
    assert not long, f"{module_name(path)}: {', '.join(long)}"


def import_graph() -> dict[str, set[str]]:
    """Each file of dreamer/ (the facade included) -> the files it imports, at the top or inside functions.

    ``from dreamer.models import catalog`` names the file ``dreamer/models/catalog.py``;
    ``from dreamer.models import load_model`` names ``dreamer/models/__init__.py``.
    """
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for module, path in files.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges |= {alias.name for alias in node.names if alias.name in files}
            elif isinstance(node, ast.ImportFrom) and node.module in files:
                for alias in node.names:
                    edges.add(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in files else node.module)
        graph[module] = edges - {module}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph``: each one found as a path that comes back to its start."""
    found, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(graph.get(module, ())):
            if target in path:
                found.append(path[path.index(target):] + [target])
            elif target not in done:
                visit(target, path + [target])
        done.add(module)

    for start in sorted(graph):
        if start not in done:
            visit(start, [start])
    return found


def test_the_import_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "dreamer.api" in graph["dreamer"]  # the facade's lazy import, inside __getattr__
    assert "dreamer.models.catalog" in graph["dreamer.models.registry"]  # from dreamer.models import catalog
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles():
    found = circles(import_graph())
    assert not found, "import circles: " + "; ".join(" -> ".join(c) for c in found)
