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


class ServedProcess:
    """A server process on loopback whose output goes to a log file kept for diagnostics."""

    log: Path
    _proc: subprocess.Popen[bytes] | None = None

    def _launch(
        self, command: list[str], cwd: Path, env: dict[str, str], ready_url: str, timeout: float
    ) -> None:
        """Start `command` and wait until `ready_url` answers 200; ServiceError if it never does."""
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(
                command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServiceError(f"{command[0]} exited with {self._proc.returncode}:\n{self.output}")
            try:
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise ServiceError(f"{command[0]} not ready after {timeout}s:\n{self.output}")

    @property
    def output(self) -> str:
        """Everything the process printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

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

    def start(self) -> Self:
        """Start the process and wait until it is ready."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        """Start the process."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the process."""
        self.stop()


class TodoService(ServedProcess):
    """One ``todo-api serve`` process."""

    def __init__(self, workdir: Path, env: dict[str, str], *, command: str = TODO_API) -> None:
        """Remember the configuration; nothing runs until ``start``. ``command`` is the
        ``todo-api`` to run: this environment's unless another installation's is given."""
        self.command = command
        self.workdir = workdir
        self.env = env
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "todo-api.log"

    def start(self, ready_timeout: float = 30.0) -> Self:
        """Start serving (migrations run first) and wait until /health answers."""
        # A fresh working directory: no .env or development secret of the developer's leaks in.
        self.workdir.mkdir(parents=True, exist_ok=True)
        base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
        self._launch(
            [self.command, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            self.workdir,
            base | {"LOG_LEVEL": "warning"} | self.env,
            f"{self.base_url}/health",
            ready_timeout,
        )
        return self

    def client(self, token: str | None = None) -> httpx.Client:
        """A client for the service, sending ``token`` as the bearer token when given."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10.0)
