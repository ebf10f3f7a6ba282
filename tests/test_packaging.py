"""What the package ships: its runtime imports are exactly its declared dependencies, it uses only
the public names of other packages, and the built wheel, installed alone in a fresh environment,
starts and serves.

The imports are read from the source (`ast`): every `import x` and `from x import y`, in a
function or at the top. Imports under `if TYPE_CHECKING:` are for the type checker only, never
run, so they need not be runtime dependencies (and do not make one needed). Imports by a
string (SQLAlchemy loading a driver named in a URL) are invisible here: those dependencies are
named in NEEDED_UNIMPORTED with the reason.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.assistants.test_mcp_client import post_initialize
from tests.conftest import SECRET
from tests.interop.conftest import Databases, unavailable
from tests.interop.service_driver import TodoService
from tests.test_cli import clean_env

PROJECT = Path(__file__).resolve().parents[1]
PACKAGE = PROJECT / "src" / "todo_api"
OWN = "todo_api"

# Runtime dependencies nothing imports by name, each with what needs it.
NEEDED_UNIMPORTED = {
    # SQLAlchemy loads it for the sqlite+aiosqlite:// URL migrations run on (db/engine.py,
    # database_url.py): without it `todo-api migrate`, and `serve` on SQLite, fail.
    "aiosqlite",
    # zoneinfo reads the IANA time zones from it where the host has none (slim container images,
    # Windows): tasks' time zones would otherwise all be unknown there.
    "tzdata",
}


@dataclass(frozen=True)
class Import:
    """One module an import statement loads, with the names it takes from it."""

    where: str  # file:line
    module: str  # absolute: "fastapi._compat"
    names: tuple[str, ...]  # `from module import a, b`; empty for `import module`
    typing_only: bool

    @property
    def top_level(self) -> str:
        return self.module.partition(".")[0]

    @property
    def is_third_party(self) -> bool:
        return self.top_level != OWN and self.top_level not in sys.stdlib_module_names

    def __str__(self) -> str:
        taken = f" ({', '.join(self.names)})" if self.names else ""
        return f"{self.where}: {self.module}{taken}"


def _is_type_checking(test: ast.expr) -> bool:
    """`if TYPE_CHECKING:` or `if typing.TYPE_CHECKING:`."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _ImportReader(ast.NodeVisitor):
    def __init__(self, where: str) -> None:
        self.where = where
        self.typing_only = False
        self.imports: list[Import] = []

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        outer, self.typing_only = self.typing_only, True
        for statement in node.body:
            self.visit(statement)
        self.typing_only = outer
        for statement in node.orelse:  # the `else:` of TYPE_CHECKING is what runs
            self.visit(statement)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name, ())

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module is not None:  # a relative import is our own
            self._add(node, node.module, tuple(alias.name for alias in node.names))

    def _add(self, node: ast.stmt, module: str, names: tuple[str, ...]) -> None:
        self.imports.append(Import(f"{self.where}:{node.lineno}", module, names, self.typing_only))


def read_imports(source: str, where: str) -> list[Import]:
    """Every import in `source`, wherever it stands."""
    reader = _ImportReader(where)
    reader.visit(ast.parse(source))
    return reader.imports


def package_imports() -> Iterator[Import]:
    """Every import of every module under src/todo_api (migrations included)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        yield from read_imports(path.read_text(encoding="utf-8"), str(path.relative_to(PROJECT)))


def runtime_third_party_imports() -> list[Import]:
    return [found for found in package_imports() if found.is_third_party and not found.typing_only]


@cache
def _distributions() -> dict[str, list[str]]:
    return packages_distributions()


def distributions_of(top_level: str) -> set[str]:
    """The installed distributions that provide module `top_level`, PEP 503 normalised."""
    return {canonicalize_name(name) for name in _distributions().get(top_level, [])}


def declared_dependencies() -> set[str]:
    """The distributions `[project].dependencies` names (extras aside), PEP 503 normalised."""
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {canonicalize_name(Requirement(line).name) for line in project["dependencies"]}


def test_the_reader_sees_lazy_and_typing_only_imports() -> None:
    source = """
import a.b
from c import d, _e
def f():
    import g
if TYPE_CHECKING:
    import h
    if x:
        from i import j
else:
    import k
if typing.TYPE_CHECKING:
    import m
from . import n
from .o import p
"""
    found = {(item.module, item.names, item.typing_only) for item in read_imports(source, "t.py")}

    assert found == {
        ("a.b", (), False),
        ("c", ("d", "_e"), False),
        ("g", (), False),
        ("h", (), True),
        ("i", ("j",), True),
        ("k", (), False),
        ("m", (), True),
    }


def test_every_runtime_import_is_a_declared_dependency() -> None:
    declared = declared_dependencies()

    undeclared = [
        f"{found} is from {', '.join(sorted(provider)) or 'no installed distribution'}"
        for found in runtime_third_party_imports()
        if not (provider := distributions_of(found.top_level)) & declared
    ]

    assert not undeclared, "not in [project].dependencies of pyproject.toml:\n" + "\n".join(undeclared)


def test_every_declared_dependency_is_imported_or_needed_for_a_stated_reason() -> None:
    declared = declared_dependencies()
    imported = {
        distribution
        for found in runtime_third_party_imports()
        for distribution in distributions_of(found.top_level)
    }

    assert declared - imported - NEEDED_UNIMPORTED == set(), "declared, but no module imports it"
    # The reasons stay true: each names a dependency that is declared and is not imported.
    assert sorted(NEEDED_UNIMPORTED - declared) == [], "not in [project].dependencies"
    assert sorted(NEEDED_UNIMPORTED & imported) == [], "imported after all: no reason needed"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_module_imports_a_private_name_of_another_package() -> None:
    # Typing-only imports too: a private name can vanish in any release, whoever reads it.
    private = [
        str(found)
        for found in package_imports()
        if found.is_third_party
        and (any(_is_private(part) for part in found.module.split(".")) or any(map(_is_private, found.names)))
    ]

    assert not private, "private names of other packages:\n" + "\n".join(private)


# The installed wheel.


def _uv(uv: str, *args: str, cwd: Path) -> None:
    """Run uv quietly; a failure shows what it said."""
    result = subprocess.run(
        [uv, "--quiet", *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"uv {' '.join(args)} failed:\n{result.stdout}{result.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment outside the checkout holding the built wheel and, from the index,
    its runtime dependencies only (at the versions uv.lock holds): its `bin` directory."""
    uv = shutil.which("uv")
    if uv is None:
        unavailable("uv is not on PATH, so the wheel cannot be built and installed")
    work = tmp_path_factory.mktemp("wheel")
    _uv(uv, "build", "--wheel", "--out-dir", str(work / "dist"), cwd=PROJECT)
    [wheel] = (work / "dist").glob("todo_api-*.whl")
    # Constraints only pin versions of what is installed anyway; they never add a package.
    constraints = work / "constraints.txt"
    _uv(
        uv,
        "export",
        "--frozen",
        "--no-dev",
        "--no-emit-project",
        "--no-hashes",
        "-o",
        str(constraints),
        cwd=PROJECT,
    )
    venv = work / "venv"
    _uv(uv, "venv", "--python", sys.executable, str(venv), cwd=work)
    python = venv / "bin" / "python"
    _uv(uv, "pip", "install", "--python", str(python), "--constraint", str(constraints), str(wheel), cwd=work)

    probe = "import sys, todo_api; print(*sys.version_info[:2], todo_api.__file__)"
    result = subprocess.run(
        [str(python), "-c", probe],
        cwd=work,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    major, minor, location = result.stdout.split()
    assert (int(major), int(minor)) == sys.version_info[:2], "the environment runs another Python"
    assert Path(location).is_relative_to(venv), f"todo_api imported from {location}, not the wheel"
    return venv / "bin"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a new PostgreSQL database on TEST_DATABASE_URL's server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'todo.db'}"
        return
    admin_url = os.environ.get("TEST_DATABASE_URL")
    if not admin_url:
        pytest.skip("needs PostgreSQL (set TEST_DATABASE_URL)")
    with Databases(admin_url).fresh() as url:
        yield url


@pytest.mark.slow
def test_the_installed_wheel_migrates_and_serves(
    installed: Path, fresh_database_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": fresh_database_url, "BETTER_AUTH_SECRET": SECRET}
    # In a directory of its own, outside the checkout: nothing of src/ can be imported.
    workdir = tmp_path / "service"
    service = TodoService(workdir, env, command=str(installed / "todo-api"))
    try:
        # A first start compiles every module it imports: more time than an installed checkout.
        service.start(ready_timeout=90)
        minted = subprocess.run(
            [str(installed / "todo-api"), "token", "wheel-user"],
            cwd=workdir,
            env=clean_env(**env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert minted.returncode == 0, minted.stderr
        bearer = {"Authorization": f"Bearer {minted.stdout.strip()}"}
        with service.client() as client:
            health = client.get("/health")
            created = client.post("/api/tasks", json={"title": "shipped in a wheel"}, headers=bearer)
            docs = client.get("/docs")
            assets = [client.get(path) for path in re.findall(r'(?:src|href)="(/[^"]+)"', docs.text)]
        refused = post_initialize(service, {})
        # The MCP SDK is imported on the first authenticated call only.
        initialized = post_initialize(service, bearer)
    finally:
        service.stop()

    assert health.status_code == 200, service.output
    assert created.status_code == 201, created.text
    assert created.json()["title"] == "shipped in a wheel"
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert assets, "the docs page names no assets"
    assert [(asset.url.path, asset.status_code) for asset in assets if asset.status_code != 200] == []
    assert refused.status_code == 401
    assert initialized.status_code == 200, initialized.text
    assert "result" in initialized.json(), initialized.text
