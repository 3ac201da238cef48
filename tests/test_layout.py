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
    ("files and settings", ["dreamer.version", "dreamer.startup", "dreamer.settings", "dreamer.errors",
                            "dreamer.fileio", "dreamer.images", "dreamer.config", "dreamer.precision",
                            "dreamer.outputs", "dreamer.presets", "dreamer.configfile"]),
    ("models and objectives", ["dreamer.models", "dreamer.objectives", "dreamer.classify"]),
    ("engine", ["dreamer.engine", "dreamer.param"]),
    ("api", ["dreamer.api"]),
    ("features", ["dreamer.atlas", "dreamer.atlas_settings", "dreamer.batch", "dreamer.video", "dreamer.probe",
                  "dreamer.executors", "dreamer.dataset", "dreamer.report",
                  "dreamer.attribution"]),  # dream explain (issue 22): report uses it when it is installed
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


MAX_PARAMETERS = 8
MAX_MODULE_LINES = 400


def public_names() -> set[str]:
    """The names in a package's ``__all__`` (the facade's included): the public Python API."""
    names = set()
    for path in PACKAGE.rglob("__init__.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                names |= {element.value for element in node.value.elts if isinstance(element, ast.Constant)}
    return names


def parameter_count(node: ast.FunctionDef | ast.AsyncFunctionDef, public: bool) -> int:
    """Positional and keyword-only parameters, ``*args`` and ``**kwargs`` one each, ``self``/``cls`` aside.

    A public API name's keyword-only settings are not counted (``dream(image, *, model=..., layers=...)``).
    """
    args = node.args
    positional = [a.arg for a in args.posonlyargs + args.args]
    count = len(positional) - (1 if positional[:1] in (["self"], ["cls"]) else 0)
    count += (args.vararg is not None) + (args.kwarg is not None)
    return count + (0 if public else len(args.kwonlyargs))


def functions_with_owner(tree: ast.AST):
    """Every function with the name of the class it is a method of (else its own name)."""
    owners = {id(item): node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef) for item in node.body}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield owners.get(id(node), node.name), node


@pytest.mark.parametrize("path", package_modules(), ids=lambda p: module_name(p))
def test_no_function_takes_more_than_8_parameters(path):
    public = public_names()
    many = {f"{function.name} ({parameter_count(function, owner in public)})"
            for owner, function in functions_with_owner(ast.parse(path.read_text(encoding="utf-8")))
            if parameter_count(function, owner in public) > MAX_PARAMETERS}
    assert not many, f"{module_name(path)}: {', '.join(sorted(many))}: group them in a request or settings object"


def test_the_parameter_count_sees_kwargs_and_spares_the_public_api():
    function = ast.parse("def f(self, a, b=1, *rest, c, d=2, **more): pass").body[0]
    assert parameter_count(function, public=False) == 6 and parameter_count(function, public=True) == 4
    assert {"dream", "Dreamer", "probe"} <= public_names()


@pytest.mark.parametrize("path", package_modules(), ids=lambda p: module_name(p))
def test_no_module_over_400_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module_name(path)} has {lines} lines: split it by subject"
