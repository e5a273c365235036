"""The package's layers, as the README's Layout section lists them: each module imports only from
its own layer or the ones above it, and nothing below the web layer knows about Flask."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "statuspage"

# Top to bottom; a module may import from its own layer and the layers before it.
LAYERS: list[set[str]] = [
    {"config", "vocabulary", "formatting", "budgets", "maintenance", "codec"},
    {"status"},
    {"deadline", "db", "db.changes", "db.chunks", "db.leader", "db.migrate"},
    {"backlog", "snapshot", "guard", "history", "notify", "metrics", "handoff", "operators", "board", "track",
     "published"},
    {"state"},
    {"jobs", "jobs.scheduler", "jobs.probes"},
    {"web", "web.views", "web.responses", "web.feeds", "web.chart", "web.ops", "web.openapi", "web.security",
     "web.errors", "web.htmx", "web.api_v2", "web.ops_api", "web.ops_forms",
     "web.track", "web.equity_chart", "web.caching", "web.requestmetrics", "web.static"},
    {"", "cli", "cli.env", "cli.operators", "demo", "demo.pgserver", "demo.seed", "demo.simengine"},
]
PURE = {"vocabulary", "formatting", "budgets", "status", "codec"}  # decisions and words: no I/O imported
IO_LIBRARIES = ("psycopg", "psycopg_pool", "flask", "werkzeug", "apscheduler", "urllib.request", "http", "socket",
                "subprocess", "prometheus_client")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(name: str) -> int:
    for index, layer in enumerate(LAYERS):
        if name in layer:
            return index
    raise AssertionError(f"statuspage.{name} is in no layer: add it to LAYERS and to docs/architecture.md")


def imports(path: Path) -> tuple[set[str], set[str]]:
    """(project modules, top-level outside libraries) that ``path`` imports, TYPE_CHECKING blocks left out."""
    tree = ast.parse(path.read_text())
    package = module_name(path).split(".") if path.name == "__init__.py" else module_name(path).split(".")[:-1]
    project, outside = set(), set()
    skipped = {id(node) for stmt in ast.walk(tree) if isinstance(stmt, ast.If)
               and ast.unparse(stmt.test) == "TYPE_CHECKING" for node in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])]).strip(".")
                for alias in node.names:
                    candidate = f"{target}.{alias.name}".strip(".")
                    is_module = (PACKAGE / candidate.replace(".", "/")).with_suffix(".py").exists() or (
                        PACKAGE / candidate.replace(".", "/") / "__init__.py").exists()
                    project.add(candidate if is_module else target)
            elif node.module:
                outside.add(node.module)
        elif isinstance(node, ast.Import):
            outside.update(alias.name for alias in node.names)
    return project, outside


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__main__.py")


def test_every_module_belongs_to_a_layer() -> None:
    placed = set().union(*LAYERS)
    assert [module_name(path) for path in modules() if module_name(path) not in placed] == []


def test_no_module_imports_from_a_layer_below_its_own() -> None:
    wrong = []
    for path in modules():
        name = module_name(path)
        project, _ = imports(path)
        wrong += [f"statuspage.{name} imports statuspage.{other}" for other in project
                  if layer_of(other) > layer_of(name)]
    assert wrong == []


def test_pure_modules_import_no_io_and_nothing_below_the_core() -> None:
    for path in modules():
        name = module_name(path)
        if name not in PURE:
            continue
        project, outside = imports(path)
        assert not [lib for lib in outside if lib.startswith(IO_LIBRARIES)], (name, outside)
        assert all(layer_of(other) <= layer_of("status") for other in project), (name, project)


def test_nothing_below_the_web_layer_imports_flask() -> None:
    web = layer_of("web")
    for path in modules():
        name = module_name(path)
        if layer_of(name) < web:
            assert not [lib for lib in imports(path)[1] if lib.startswith(("flask", "werkzeug"))], name
