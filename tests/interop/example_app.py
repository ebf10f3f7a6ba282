"""Build examples/nextjs once and run it with `next start`, configured only by its environment."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Self

from tests.interop.issuer_driver import IssuerError, free_port, npm_ci
from tests.interop.service_driver import ServedProcess

ROOT = Path(__file__).resolve().parents[2]
CLIENT_DIR = ROOT / "clients" / "typescript"
EXAMPLE_DIR = ROOT / "examples" / "nextjs"
BUILD_ID = EXAMPLE_DIR / ".next" / "BUILD_ID"
# Nothing leaves the machine: no telemetry, and the app uses system fonts only.
NEXT_ENV = {"NEXT_TELEMETRY_DISABLED": "1"}


def _base_env() -> dict[str, str]:
    return {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ} | NEXT_ENV


def _run(command: list[str], cwd: Path, timeout: float) -> None:
    result = subprocess.run(
        command, cwd=cwd, env=_base_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise IssuerError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )


def _newest(*paths: Path) -> float:
    """The newest modification time among the files under `paths` (installs and builds aside)."""
    files = [
        path
        for directory in paths
        for path in directory.rglob("*")
        if path.is_file() and not {"node_modules", ".next"} & set(path.parts)
    ]
    return max((path.stat().st_mtime for path in files), default=0.0)


def _is_current(built: Path, *sources: Path) -> bool:
    return built.exists() and built.stat().st_mtime >= _newest(*sources)


def build_client() -> None:
    """Install the client's tools and build it with `tsc` (strict), unless dist/ is current."""
    npm_ci(CLIENT_DIR)  # which builds it (its `prepare`)
    if not _is_current(CLIENT_DIR / "dist" / "index.js", CLIENT_DIR / "src", CLIENT_DIR / "tsconfig.json"):
        _run(["npm", "run", "build"], CLIENT_DIR, timeout=120)


def build_example() -> None:
    """Build the client and the example (`next build`), each unless current.

    .ci/run builds both once per run; this rebuilds only what a newer source needs.
    """
    build_client()
    npm_ci(EXAMPLE_DIR)
    if not _is_current(BUILD_ID, EXAMPLE_DIR, CLIENT_DIR / "dist"):
        _run(["npm", "run", "build"], EXAMPLE_DIR, timeout=600)


class ExampleApp(ServedProcess):
    """One `next start` of the built example on localhost."""

    def __init__(self, workdir: Path, env: dict[str, str], port: int | None = None) -> None:
        """Remember the configuration; nothing runs until ``start``."""
        self.port = port or free_port()
        # One host name everywhere: Better Auth's origin check and CORS compare it exactly.
        self.base_url = f"http://localhost:{self.port}"
        self.env = env
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "next.log"

    def start(self, ready_timeout: float = 60.0) -> Self:
        """Start `next start` and wait until the page answers."""
        self._launch(
            [str(EXAMPLE_DIR / "node_modules/.bin/next"), "start", "-p", str(self.port), "-H", "localhost"],
            EXAMPLE_DIR,
            _base_env() | self.env,
            self.base_url,
            ready_timeout,
        )
        return self
