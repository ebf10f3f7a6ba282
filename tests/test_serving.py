"""`todo-api serve` against slow and oversized clients: real processes, real sockets."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import PATIENCE
from tests.test_cli import serving

HEADER_TIMEOUT = 2.0
# Generous, for a busy machine: a connection still open after this was never going to close.
CLOSED_WITHIN = 3 * HEADER_TIMEOUT
IMPLEMENTATIONS = ["httptools", "h11"]

Server = tuple[subprocess.Popen[str], str]


@pytest.fixture(scope="module", params=IMPLEMENTATIONS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `todo-api serve` per HTTP implementation, with a short header timeout."""
    directory = tmp_path_factory.mktemp(request.param)
    with serving(directory, "--http", request.param, HEADER_TIMEOUT=str(HEADER_TIMEOUT)) as served:
        yield served


def connect(base_url: str) -> socket.socket:
    address = urlsplit(base_url)
    return socket.create_connection((address.hostname, address.port), timeout=PATIENCE)


def until_closed(sock: socket.socket, seconds: float, *, each_second: bytes) -> bytes | None:
    """Send `each_second` every second until the server ends the connection: what it sent
    before closing, or None if the connection is still open after `seconds`."""
    deadline = time.monotonic() + seconds
    received = b""
    sock.settimeout(1.0)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            try:
                sock.sendall(each_second)
            except OSError:
                return received
            continue
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    return None


def peak_memory_kib(pid: int) -> int:
    """The process's peak resident memory (VmHWM) since `reset_peak_memory`."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def reset_peak_memory(pid: int) -> None:
    # Writing 5 to clear_refs resets VmHWM to the current resident size (Linux 4.0+).
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@pytest.mark.parametrize(
    ("opening", "each_second"),
    [
        pytest.param(b"", b"", id="silent"),
        pytest.param(b"GET /health HTTP/1.1\r\n", b"X-Slow: 1\r\n", id="dribbling"),
        pytest.param(
            b"GET /health HTTP/1.1\r\nHost: api\r\n\r\nGET /health HTTP/1.1\r\n",
            b"X-Slow: 1\r\n",
            id="dribbling-after-a-request",
        ),
    ],
)
def test_a_request_head_not_complete_within_the_header_timeout_is_closed(
    server: Server, opening: bytes, each_second: bytes
) -> None:
    with connect(server[1]) as sock:
        sock.sendall(opening)
        received = until_closed(sock, CLOSED_WITHIN, each_second=each_second)

    assert received is not None, f"still open after {CLOSED_WITHIN:g} s"
    # Status lines, wherever they start (the next answer follows a body without a line break).
    answers = re.findall(rb"HTTP/1\.1 \d{3} [^\r]*", received)
    if opening.count(b"\r\n\r\n"):
        assert answers[0] == b"HTTP/1.1 200 OK"
    # Something was sent: told why (408) before the close; nothing sent: simply closed.
    expected = [b"HTTP/1.1 408 Request Timeout"] if opening else []
    assert answers[opening.count(b"\r\n\r\n") :] == expected


def test_an_8_mib_header_block_is_refused_without_being_buffered(server: Server) -> None:
    process, base_url = server
    reset_peak_memory(process.pid)
    before = peak_memory_kib(process.pid)
    with connect(base_url) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: api\r\n")
        answer = b""
        try:
            for index in range(8192):
                sock.sendall(b"X-Filler-%d: %s\r\n" % (index, b"f" * 1000))
        except OSError:
            pass  # the server answered and closed while the headers were still coming
        with suppress(OSError):
            answer = sock.recv(65536)

    grown_kib = peak_memory_kib(process.pid) - before
    assert grown_kib < 4096, f"the server's memory grew by {grown_kib} KiB"
    # httptools: our 431; h11: its own bound, a 400. Or the answer was lost to the reset.
    assert answer.split(b"\r\n", 1)[0] in (
        b"",
        b"HTTP/1.1 431 Request Header Fields Too Large",
        b"HTTP/1.1 400 Bad Request",
    )
    assert httpx.get(f"{base_url}/health").status_code == 200


def eventually_answers(base_url: str, status: int, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while httpx.get(f"{base_url}/health").status_code != status:
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_connections_beyond_limit_concurrency_are_answered_503(tmp_path: Path) -> None:
    # A long header timeout, so that only closing them ends the idle connections.
    with serving(tmp_path, LIMIT_CONCURRENCY="3", HEADER_TIMEOUT="120") as (_, base_url):
        idle = [connect(base_url) for _ in range(3)]
        try:
            eventually_answers(base_url, 503, "never refused past LIMIT_CONCURRENCY")
        finally:
            for sock in idle:
                sock.close()
        eventually_answers(base_url, 200, "still refused after the idle connections closed")
