"""The layout holds: imports form no circle, features sit above the infrastructure, and the
core (services, token verification, the database layer) runs without the web framework."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from todo_api.errors import AppError

PACKAGE = Path(__file__).parents[1] / "src" / "todo_api"
# Modules that compose the app: nothing may import them.
COMPOSERS = {"todo_api.main", "todo_api.cli"}
FEATURES = (
    "todo_api.tasks",
    "todo_api.conversations",
    "todo_api.chat",
    "todo_api.accounts",
    "todo_api.assistants",
    "todo_api.events",
)
FRAMEWORK = ("fastapi", "starlette")
FRAMEWORK_FREE = [
    "todo_api.tasks.service",
    "todo_api.tasks.statements",
    "todo_api.conversations.service",
    "todo_api.conversations.statements",
    "todo_api.events.service",
    "todo_api.events.statements",
    "todo_api.events.feed",
    "todo_api.events.stream",
    "todo_api.events.reminders",
    "todo_api.idempotency.service",
    "todo_api.idempotency.statements",
    "todo_api.accounts.service",
    "todo_api.accounts.passwords",
    "todo_api.accounts.cookies",
    "todo_api.tokens",
    "todo_api.errors",
    "todo_api.db.connection",
    "todo_api.db.engine",
    "todo_api.db.sqlite",
    "todo_api.database_url",
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> set[str]:
    """Every module this file imports, wherever the import stands (lazy and typing-only too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Our modules, each with the modules of ours it imports."""
    files = {module_name(path): path for path in PACKAGE.rglob("*.py") if "versions" not in path.parts}
    return {
        name: {target for target in imported_names(path) if target in files} for name, path in files.items()
    }


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        path.append(module)
        for target in sorted(graph[module]):
            if cycle := visit(target):
                return cycle
        path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        if cycle := visit(module):
            return cycle
    return None


def test_the_graph_is_read_from_the_code() -> None:
    graph = import_graph()

    assert "todo_api.db.connection" in graph["todo_api.tasks.service"]
    assert "todo_api.database_url" in graph["todo_api.config"]


def test_imports_form_no_circle() -> None:
    assert find_cycle(import_graph()) is None


def test_a_planted_circle_would_be_found() -> None:
    graph = import_graph()
    graph["todo_api.database_url"] = graph["todo_api.database_url"] | {"todo_api.config"}

    assert find_cycle(graph) == ["todo_api.config", "todo_api.database_url", "todo_api.config"]


def test_nothing_imports_the_modules_that_compose_the_app() -> None:
    importers = {
        (module, target)
        for module, targets in import_graph().items()
        for target in targets & COMPOSERS
        if module not in COMPOSERS
    }

    assert importers == set()


# What one feature may use of another: its service functions, the schemas they take, the list
# query they read (the tasks' filters and orders, which the MCP tools take too), and the
# assistants' catalogue of task tools (which the MCP server and the chat agent both publish).
FEATURE_FACES = ("service", "schemas", "listing", "catalogue")


def is_a_face_of(module: str, feature: str) -> bool:
    # `from todo_api.tasks import service` names the package too.
    return module == feature or any(is_within(module, f"{feature}.{face}") for face in FEATURE_FACES)


@pytest.mark.parametrize("feature", FEATURES)
def test_infrastructure_never_imports_a_feature(feature: str) -> None:
    upward = {
        (module, target)
        for module, targets in import_graph().items()
        if not is_within(module, feature)
        and module not in COMPOSERS
        and not any(is_within(module, other) for other in FEATURES)
        for target in targets
        if is_within(target, feature)
    }

    assert upward == set()


@pytest.mark.parametrize("feature", FEATURES)
def test_features_use_each_other_only_through_services_and_schemas(feature: str) -> None:
    others = [other for other in FEATURES if other != feature]
    sideways = {
        (module, target)
        for module, targets in import_graph().items()
        if any(is_within(module, other) for other in others)
        for target in targets
        if is_within(target, feature) and not is_a_face_of(target, feature)
    }

    assert sideways == set()


@pytest.mark.parametrize("module", FRAMEWORK_FREE)
def test_the_core_runs_without_the_web_framework(module: str) -> None:
    # A fresh interpreter: what importing the module really loads, through everything it imports.
    probe = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    )

    assert module in loaded
    assert [name for name in loaded if name.split(".")[0] in FRAMEWORK] == []


# The rooms every feature folder has; `errors.py` too where it has domain errors.
ROOMS = ("router.py", "schemas.py", "service.py")


@pytest.mark.parametrize("feature", FEATURES)
def test_every_feature_has_the_same_rooms(feature: str) -> None:
    folder = PACKAGE / feature.rpartition(".")[2]

    assert set(ROOMS) <= {path.name for path in folder.glob("*.py")}


@pytest.mark.parametrize("feature", FEATURES)
def test_a_features_domain_errors_live_in_its_errors_module(feature: str) -> None:
    folder = PACKAGE / feature.rpartition(".")[2]
    elsewhere = []
    for path in folder.glob("*.py"):
        module = importlib.import_module(module_name(path))
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, AppError)
                and value.__module__ == module.__name__
            ):
                elsewhere.append(f"{module.__name__}.{name}")

    assert [name for name in elsewhere if not name.startswith(f"{feature}.errors.")] == []


def test_main_uses_one_module_of_each_feature() -> None:
    imported = import_graph()["todo_api.main"]

    for feature in FEATURES:
        assert len({module for module in imported if is_within(module, feature) and module != feature}) == 1
