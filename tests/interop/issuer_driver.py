"""Start and drive the real Better Auth issuer in ``issuer/`` for interop tests."""

from __future__ import annotations

import collections
import json
import os
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass
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


def npm_ci(directory: Path) -> None:
    """Run ``npm ci`` in ``directory`` unless its node_modules is as new as the lock file."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise IssuerError(f"{tool} not found on PATH; the interop tests need Node.js 20+")
    lock = directory / "package-lock.json"
    # npm writes this copy of the lock into node_modules on every successful install.
    marker = directory / "node_modules" / ".package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise IssuerError(f"npm ci failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def run_node_script(
    script: str, env: dict[str, str], directory: Path = ISSUER_DIR, *, timeout: float = 60
) -> dict[str, Any]:
    """Run a Node script of ``issuer/`` with ``env`` (and PATH, HOME, LANG); its last line, as JSON."""
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    result = subprocess.run(
        ["node", script],
        cwd=directory,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@dataclass(frozen=True)
class IssuerConfig:
    """What one issuer process runs with; a restart reuses it (same port, same keys)."""

    database_url: str
    port: int
    secret: str
    alg: str = "EdDSA"
    expiration: str = "15m"
    # Better Auth's bearer() plugin on top of email/password and jwt().
    bearer: bool = False

    @property
    def base_url(self) -> str:
        """Better Auth's base URL; its origin is the tokens' ``iss`` and ``aud``."""
        return f"http://127.0.0.1:{self.port}"


class BetterAuthIssuer:
    """A ``node server.mjs`` process: Better Auth with email/password and the jwt() plugin."""

    def __init__(self, issuer_dir: Path = ISSUER_DIR) -> None:
        """Remember where the issuer lives; nothing runs until ``start``."""
        self.issuer_dir = issuer_dir
        self.config: IssuerConfig | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=200)
        self._ready = threading.Event()
        self._saw_ready = False

    def ensure_installed(self) -> None:
        """Install the issuer's pinned packages with ``npm ci`` if needed."""
        npm_ci(self.issuer_dir)

    def start(
        self,
        database_url: str,
        *,
        port: int,
        secret: str,
        alg: str = "EdDSA",
        expiration: str = "15m",
    ) -> Self:
        """Launch the issuer against ``database_url`` and wait for its READY line."""
        return self.start_with(IssuerConfig(database_url, port, secret, alg, expiration))

    def restart(self) -> Self:
        """Start again with the last configuration: same URL, same database, same keys."""
        if self.config is None:
            raise IssuerError("issuer never started")
        return self.start_with(self.config)

    def start_with(self, config: IssuerConfig, ready_timeout: float = 30.0) -> Self:
        """Launch the issuer for ``config`` and wait for its READY line."""
        if self._proc is not None:
            raise IssuerError("issuer already started")
        self.ensure_installed()
        # Only what Node needs, so the developer's own environment never changes the issuer.
        env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ} | {
            "PORT": str(config.port),
            "DATABASE_URL": config.database_url,
            "BETTER_AUTH_SECRET": config.secret,
            "BETTER_AUTH_URL": config.base_url,
            "JWT_ALG": config.alg,
            "JWT_EXPIRATION": config.expiration,
            "ISSUER_TEST_ROUTES": "1",
            "BEARER": "1" if config.bearer else "0",
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
        self._reader = threading.Thread(target=self._read_output, args=(self._proc.stdout,), daemon=True)
        self._reader.start()
        if not self._ready.wait(ready_timeout):
            self.stop()
            raise IssuerError(f"issuer not ready after {ready_timeout}s:\n{self.output}")
        if not self._saw_ready:
            self.stop()
            raise IssuerError(f"issuer exited before READY:\n{self.output}")
        self.config = config
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
        if self.config is None:
            raise IssuerError("issuer not started")
        return self.config.base_url

    def _request(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and return its JSON body, raising IssuerError on failure."""
        response = client.request(method, path, **kwargs)
        if response.is_error:
            raise IssuerError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json()

    def client(self) -> httpx.Client:
        """Return a fresh client for the issuer, with no session."""
        # A browser on the app's own origin sends Origin; Better Auth's CSRF check refuses
        # cookie-authenticated POSTs (delete-user) without it.
        return httpx.Client(base_url=self.base_url, headers={"Origin": self.base_url}, timeout=10.0)

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

    def user_id(self, client: httpx.Client) -> str:
        """Return the Better Auth user id of the client's session."""
        user_id: str = self._request(client, "GET", "/api/auth/get-session")["user"]["id"]
        return user_id

    def jwt(self, client: httpx.Client) -> str:
        """Return a jwt-plugin JWT (GET /api/auth/token) for the client's session."""
        token: str = self._request(client, "GET", "/api/auth/token")["token"]
        return token

    def session_token(self, client: httpx.Client) -> str:
        """Return the opaque session token (not a JWT) of the client's session."""
        session = self._request(client, "GET", "/api/auth/get-session")["session"]
        token: str = session["token"]
        return token

    def session_cookie(self, client: httpx.Client) -> str:
        """The client's signed session cookie, as the next request's Cookie header."""
        return f"better-auth.session_token={client.cookies['better-auth.session_token']}"

    def sign_out(self, client: httpx.Client) -> None:
        """End the client's session through Better Auth (POST /api/auth/sign-out)."""
        self._request(client, "POST", "/api/auth/sign-out", json={})

    def hs256_token(self, client: httpx.Client) -> str:
        """Return an HS256 JWT from the frontend-style bridge route."""
        token: str = self._request(client, "GET", "/api/hs256-token")["token"]
        return token

    def delete_user(self, client: httpx.Client, password: str) -> None:
        """Delete the client's user through Better Auth (POST /api/auth/delete-user)."""
        self._request(client, "POST", "/api/auth/delete-user", json={"password": password})

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
        proc, self._proc = self._proc, None
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
