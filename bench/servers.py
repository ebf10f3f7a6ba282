"""Start the service or the ceiling as its own uvicorn process, and read what it costs."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _script(name: str) -> str:
    # The console script next to this interpreter, so the child is the server itself (no `uv run`
    # wrapper in between): its pid is the one to read RSS from and to point py-spy at.
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


@dataclass
class Server:
    """A running server process and where its output goes."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, health: str = "/health", timeout: float = 30.0) -> None:
        """Poll `health` until it answers 200, or fail with the log's tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}{health}", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready:\n{tail}")

    def memory_kib(self) -> dict[str, int]:
        """VmRSS (now) and VmHWM (peak) from /proc/<pid>/status, in KiB."""
        wanted = {"VmRSS": "rss_kib", "VmHWM": "peak_rss_kib"}
        values: dict[str, int] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in wanted:
                values[wanted[key]] = int(rest.split()[0])
        return values

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(
    name: str,
    command: list[str],
    env: dict[str, str],
    log: Path,
    pin: list[str],
    *,
    port: int | None = None,
    health: str = "/health",
) -> Server:
    """`command` as a process logging to `log`, once `health` answers on `port` (default: its --port)."""
    port = port or int(command[command.index("--port") + 1])
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*pin, *command], cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    server = Server(name, process, port, log)
    server.wait_ready(health)
    return server


def start_service(env: dict[str, str], log: Path, pin: list[str]) -> Server:
    """`todo-api serve` with one worker; migrations were applied beforehand."""
    command = [
        _script("todo-api"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(free_port()),
        "--workers",
        "1",
    ]
    return start("service", command, env | {"MIGRATE_ON_STARTUP": "false"}, log, pin)


def start_ceiling(env: dict[str, str], log: Path, pin: list[str]) -> Server:
    """bench/ceiling.py under the same uvicorn, one worker."""
    command = [sys.executable, "-m", "bench.ceiling", "--host", "127.0.0.1", "--port", str(free_port())]
    return start("ceiling", command, env, log, pin)


def start_peer(env: dict[str, str], log: Path, pin: list[str]) -> Server:
    """bench/peer.py (FastAPI + SQLModel, sync sessions, pool_pre_ping) under uvicorn, one worker."""
    command = [sys.executable, "-m", "bench.peer", "--host", "127.0.0.1", "--port", str(free_port())]
    return start("peer", command, env, log, pin)
