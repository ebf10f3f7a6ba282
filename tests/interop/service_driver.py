"""Run ``todo-api serve`` as a real process on loopback, configured only by its environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from tests.interop.issuer_driver import free_port

TODO_API = str(Path(sys.executable).parent / "todo-api")


class ServiceError(RuntimeError):
    """The service did not start."""


class TodoService:
    """One ``todo-api serve`` process; its output goes to a log file kept for diagnostics."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        """Remember the configuration; nothing runs until ``start``."""
        self.workdir = workdir
        self.env = env
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "todo-api.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout: float = 30.0) -> Self:
        """Start serving (migrations run first) and wait until /health answers."""
        # A fresh working directory: no .env or development secret of the developer's leaks in.
        self.workdir.mkdir(parents=True, exist_ok=True)
        base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(
                [TODO_API, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=self.workdir,
                env=base | {"LOG_LEVEL": "warning"} | self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServiceError(f"todo-api exited with {self._proc.returncode}:\n{self.output}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise ServiceError(f"todo-api not ready after {ready_timeout}s:\n{self.output}")

    @property
    def output(self) -> str:
        """Everything the service printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def client(self, token: str | None = None) -> httpx.Client:
        """A client for the service, sending ``token`` as the bearer token when given."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10.0)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop with SIGTERM (a graceful drain), killing the process if it hangs."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Self:
        """Start the service."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the service."""
        self.stop()
