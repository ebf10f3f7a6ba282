"""Start and drive the real Better Auth issuer in ``issuer/`` for interop tests."""

from __future__ import annotations

import collections
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import httpx

ISSUER_DIR = Path(__file__).resolve().parent / "issuer"


class IssuerError(RuntimeError):
    """The issuer could not be installed, started or queried."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class BetterAuthIssuer:
    """A ``node server.mjs`` process: Better Auth with the jwt and bearer plugins."""

    def __init__(self, issuer_dir: Path = ISSUER_DIR) -> None:
        """Remember where the issuer lives; nothing runs until ``start``."""
        self.issuer_dir = issuer_dir
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=200)
        self._ready = threading.Event()
        self._saw_ready = False
        self._base_url: str | None = None

    def ensure_installed(self) -> None:
        """Run ``npm ci`` unless node_modules is as new as package-lock.json."""
        for tool in ("node", "npm"):
            if shutil.which(tool) is None:
                raise IssuerError(
                    f"{tool} not found on PATH; the issuer needs Node.js 20+"
                )
        lock = self.issuer_dir / "package-lock.json"
        marker = self.issuer_dir / "node_modules" / ".package-lock.json"
        if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
            return
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=self.issuer_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise IssuerError(
                f"npm ci failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )

    def start(
        self,
        database_url: str,
        port: int,
        secret: str,
        alg: str = "EdDSA",
        expiration: str = "15m",
        ready_timeout: float = 30.0,
    ) -> Self:
        """Launch the issuer against ``database_url`` and wait for its READY line."""
        if self._proc is not None:
            raise IssuerError("issuer already started")
        self.ensure_installed()
        base_url = f"http://127.0.0.1:{port}"
        env = os.environ | {
            "PORT": str(port),
            "DATABASE_URL": database_url,
            "BETTER_AUTH_SECRET": secret,
            "BETTER_AUTH_URL": base_url,
            "JWT_ALG": alg,
            "JWT_EXPIRATION": expiration,
            "ISSUER_TEST_ROUTES": "1",
        }
        self._output.clear()
        self._ready.clear()
        self._saw_ready = False
        self._proc = subprocess.Popen(
            ["node", "server.mjs"],
            cwd=self.issuer_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(
            target=self._read_output, args=(self._proc.stdout,), daemon=True
        )
        self._reader.start()
        if not self._ready.wait(ready_timeout):
            self.stop()
            raise IssuerError(
                f"issuer not ready after {ready_timeout}s:\n{self.output}"
            )
        if not self._saw_ready:
            self.stop()
            raise IssuerError(f"issuer exited before READY:\n{self.output}")
        self._base_url = base_url
        return self

    def _read_output(self, stream: IO[str]) -> None:
        """Collect the process output, flagging the READY line (or EOF)."""
        for line in stream:
            self._output.append(line)
            if line.startswith("READY "):
                self._saw_ready = True
                self._ready.set()
        self._ready.set()

    @property
    def output(self) -> str:
        """The last lines the issuer printed (stdout and stderr)."""
        return "".join(self._output)

    @property
    def base_url(self) -> str:
        """The issuer's base URL, also its JWT ``iss`` and ``aud``."""
        if self._base_url is None:
            raise IssuerError("issuer not started")
        return self._base_url

    def _request(
        self, client: httpx.Client, method: str, path: str, **kwargs: Any
    ) -> Any:
        """Send a request and return its JSON body, raising IssuerError on failure."""
        response = client.request(method, path, **kwargs)
        if response.is_error:
            raise IssuerError(
                f"{method} {path} -> {response.status_code}: {response.text}"
            )
        return response.json()

    def client(self) -> httpx.Client:
        """Return a fresh client for the issuer, with no session."""
        return httpx.Client(base_url=self.base_url, timeout=10.0)

    def sign_up(self, name: str, email: str, password: str) -> httpx.Client:
        """Create a user by email and return a client holding its session cookie."""
        client = self.client()
        body = {"name": name, "email": email, "password": password}
        try:
            self._request(client, "POST", "/api/auth/sign-up/email", json=body)
        except BaseException:
            client.close()
            raise
        return client

    def jwt(self, client: httpx.Client) -> str:
        """Return a jwt-plugin JWT (GET /api/auth/token) for the client's session."""
        token: str = self._request(client, "GET", "/api/auth/token")["token"]
        return token

    def session_token(self, client: httpx.Client) -> str:
        """Return the opaque session token (not a JWT) of the client's session."""
        session = self._request(client, "GET", "/api/auth/get-session")["session"]
        token: str = session["token"]
        return token

    def hs256_token(self, client: httpx.Client) -> str:
        """Return an HS256 JWT from the frontend-style bridge route."""
        token: str = self._request(client, "GET", "/api/hs256-token")["token"]
        return token

    def jwks(self) -> dict[str, Any]:
        """Return the published JSON Web Key Set (GET /api/auth/jwks)."""
        with self.client() as client:
            jwks: dict[str, Any] = self._request(client, "GET", "/api/auth/jwks")
            return jwks

    def rotate_keys(self) -> str:
        """Mint a new signing key and return its kid; older keys stay published."""
        with self.client() as client:
            kid: str = self._request(client, "POST", "/test/rotate-keys")["kid"]
            return kid

    def stop(self, timeout: float = 10.0) -> None:
        """Send SIGTERM, wait, and kill the issuer if it does not exit in time."""
        proc, self._proc, self._base_url = self._proc, None, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(timeout)
            self._reader = None
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> Self:
        """Return self; pair with ``start`` inside or before the ``with``."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the issuer."""
        self.stop()
