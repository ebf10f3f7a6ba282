"""serving.py's protocols in this process: a real uvicorn server on a real socket, in the test's
own event loop, driven by a client that is slow, silent or oversized on purpose.

tests/test_serving.py runs `todo-api serve` in a child process; these run the same code where a
test can see it fail (and a changed serving.py is the one that runs).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from tests.conftest import make_settings
from todo_api import serving
from todo_api.config import Settings
from todo_api.hardening import API_CSP
from todo_api.serving import (
    GuardedH11Protocol,
    GuardedHttpToolsProtocol,
    HTTPImplementation,
    protocol_class,
    uvicorn_options,
)

HEADER_TIMEOUT = 0.5
# Far longer than a close due at HEADER_TIMEOUT needs, even on a busy machine.
CLOSED_WITHIN = 5.0
# A head or a body arrives this slowly: several pieces within one header timeout.
EVERY = 0.15
# Longer than any test's connection lives: only the header deadline closes an idle connection.
KEEP_ALIVE = 60
# Twice the app's 16 KiB bound on header names and values (serving.MAX_HEAD_BYTES).
MAX_HEAD_BYTES = 32 * 1024
IMPLEMENTATIONS = [HTTPImplementation.HTTPTOOLS, HTTPImplementation.H11]


def written(status: bytes, detail: bytes) -> bytes:
    """One of serving's own answers, byte for byte."""
    body = b'{"detail": "' + detail + b'"}'
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n"
        b"x-content-type-options: nosniff\r\ncontent-security-policy: "
        + API_CSP.encode()
        + b"\r\n\r\n"
        + body
    )


TOO_SLOW = written(b"408 Request Timeout", b"Request headers not received in time")
TOO_LARGE = written(b"431 Request Header Fields Too Large", b"Request headers too large")
GET = b"GET /health HTTP/1.1\r\nHost: api\r\n\r\n"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """/early answers before reading the request body; any other path reads the body first and
    says how long it was."""
    assert scope["type"] == "http"
    size = 0
    if scope["path"] != "/early":
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
    body = b"read %d" % size
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]}
    )
    await send({"type": "http.response.body", "body": body})


def settings(**overrides: Any) -> Settings:
    return make_settings("sqlite:///unused.db", **overrides)


@pytest.fixture
def header_timeout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """HEADER_TIMEOUT as serving reads it (the environment, `.env`), fresh for this test."""
    monkeypatch.chdir(tmp_path)  # no `.env` of the developer's
    monkeypatch.setenv("HEADER_TIMEOUT", str(HEADER_TIMEOUT))
    serving._header_timeout.cache_clear()
    yield
    serving._header_timeout.cache_clear()


@asynccontextmanager
async def served(implementation: HTTPImplementation) -> AsyncIterator[int]:
    """uvicorn, as `todo-api serve` configures it, serving `app` on a free port of 127.0.0.1."""
    options = uvicorn_options(settings(keep_alive_timeout=KEEP_ALIVE), implementation)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", **options))
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    task = asyncio.create_task(server.serve(sockets=[listener]))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CLOSED_WITHIN
    try:
        while not server.started:
            if task.done():
                task.result()
                pytest.fail("uvicorn stopped before it started")
            if loop.time() > deadline:
                pytest.fail("uvicorn did not start")
            await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, CLOSED_WITHIN)
        listener.close()


class Client:
    """A raw connection. Reads go straight to the socket, so bytes that arrived before a reset
    are still read."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.buffer = b""

    async def send(self, data: bytes) -> None:
        await self.loop.sock_sendall(self.sock, data)

    async def _recv(self, seconds: float) -> bytes:
        try:
            return await asyncio.wait_for(self.loop.sock_recv(self.sock, 65536), seconds)
        except ConnectionResetError:
            return b""

    async def response(self) -> tuple[bytes, bytes]:
        """The next response's status line and body."""
        deadline = self.loop.time() + CLOSED_WITHIN
        while True:
            head, blank, rest = self.buffer.partition(b"\r\n\r\n")
            if blank:
                length = re.search(rb"(?im)^content-length: *(\d+)\r?$", head)
                assert length is not None, head
                size = int(length[1])
                if len(rest) >= size:
                    self.buffer = rest[size:]
                    return head.split(b"\r\n", 1)[0], rest[:size]
            remaining = deadline - self.loop.time()
            if remaining <= 0:
                pytest.fail(f"no whole response within {CLOSED_WITHIN:g} s: {self.buffer!r}")
            try:
                chunk = await self._recv(remaining)
            except TimeoutError:
                continue
            if not chunk:
                pytest.fail(f"closed before a whole response: {self.buffer!r}")
            self.buffer += chunk

    async def until_closed(self, *, dribble: bytes = b"") -> tuple[bytes, float]:
        """What arrives before the server closes the connection, and when it closed (the loop's
        clock), sending `dribble` every EVERY seconds until it does; a test failure if it is
        still open after CLOSED_WITHIN."""
        deadline = self.loop.time() + CLOSED_WITHIN
        received, self.buffer = self.buffer, b""
        while (remaining := deadline - self.loop.time()) > 0:
            try:
                chunk = await self._recv(min(EVERY, remaining))
            except TimeoutError:
                if dribble:
                    with suppress(OSError):
                        await self.send(dribble)
                continue
            if not chunk:
                return received, self.loop.time()
            received += chunk
        pytest.fail(f"still open after {CLOSED_WITHIN:g} s, having sent {received!r}")

    async def slowly(self, data: bytes, pieces: int) -> None:
        """`data` in `pieces` pieces, EVERY seconds apart, as a slow client sends it."""
        step = -(-len(data) // pieces)
        for start in range(0, len(data), step):
            if start:
                await asyncio.sleep(EVERY)
            await self.send(data[start : start + step])


@asynccontextmanager
async def connected(port: int) -> AsyncIterator[Client]:
    sock = socket.socket()
    sock.setblocking(False)
    try:
        connecting = asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        await asyncio.wait_for(connecting, CLOSED_WITHIN)
        yield Client(sock)
    finally:
        sock.close()


@pytest.fixture(params=IMPLEMENTATIONS, ids=str)
async def port(request: pytest.FixtureRequest, header_timeout: None) -> AsyncIterator[int]:
    async with served(request.param) as bound:
        yield bound


@pytest.fixture
async def httptools_port(header_timeout: None) -> AsyncIterator[int]:
    async with served(HTTPImplementation.HTTPTOOLS) as bound:
        yield bound


def timeout_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if getattr(record, "event", None) == "request_head_timeout"]


# The header deadline.


async def test_a_silent_connection_is_closed_without_a_word_at_the_header_timeout(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    loop = asyncio.get_running_loop()
    opened = loop.time()
    async with connected(port) as client:
        received, closed = await client.until_closed()

    assert received == b""
    assert closed - opened >= HEADER_TIMEOUT
    assert timeout_warnings(caplog) == []


async def test_a_partial_head_is_answered_408_and_closed_at_the_header_timeout(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    loop = asyncio.get_running_loop()
    opened = loop.time()
    async with connected(port) as client:
        await client.send(b"GET /health HTTP/1.1\r\nHost: api\r\n")
        received, closed = await client.until_closed()

    assert received == TOO_SLOW
    assert closed - opened >= HEADER_TIMEOUT
    [warning] = timeout_warnings(caplog)
    assert warning.levelno == logging.WARNING
    assert warning.getMessage() == "request head not received in time"
    assert getattr(warning, "client", None) == "127.0.0.1"


async def test_a_head_dribbling_in_does_not_put_off_the_deadline(port: int) -> None:
    # A header line every EVERY seconds: each arrives well within the timeout, the head never does.
    async with connected(port) as client:
        await client.send(b"GET /health HTTP/1.1\r\n")
        received, _ = await client.until_closed(dribble=b"X-Slow: 1\r\n")

    assert received == TOO_SLOW


async def test_a_head_dribbling_after_a_pipelined_request_gets_the_200_then_the_408(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    async with connected(port) as client:
        await client.send(GET + b"GET /health HTTP/1.1\r\n")
        answered = await client.response()
        received, _ = await client.until_closed(dribble=b"X-Slow: 1\r\n")

    assert answered == (b"HTTP/1.1 200 OK", b"read 0")
    assert received == TOO_SLOW
    assert len(timeout_warnings(caplog)) == 1


async def test_a_connection_idle_after_a_response_is_closed_at_the_header_timeout(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    # Keep-alive is KEEP_ALIVE seconds: only the deadline armed again after the response closes it.
    loop = asyncio.get_running_loop()
    async with connected(port) as client:
        await client.send(GET)
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read 0")
        asked = loop.time()
        await client.send(GET)
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read 0")
        received, closed = await client.until_closed()

    assert received == b""
    assert closed - asked >= HEADER_TIMEOUT
    assert timeout_warnings(caplog) == []


async def test_each_head_is_counted_from_its_own_start(port: int) -> None:
    # A head that came in pieces, then an idle connection: the pieces of the last head are no
    # part of the next one, which was never begun (so the close is a silent one).
    async with connected(port) as client:
        await client.slowly(GET, pieces=2)
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read 0")
        received, _ = await client.until_closed()

    assert received == b""


async def test_a_partial_head_after_a_response_is_answered_408(port: int) -> None:
    async with connected(port) as client:
        await client.send(GET)
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read 0")
        await client.send(b"GET /health HTTP/1.1\r\n")
        received, _ = await client.until_closed()

    assert received == TOO_SLOW


# A body is no head.


async def test_a_body_arriving_for_longer_than_the_header_timeout_is_read_in_full(port: int) -> None:
    body = b"b" * 70
    async with connected(port) as client:
        await client.send(GET)
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read 0")
        await client.send(b"POST /echo HTTP/1.1\r\nHost: api\r\nContent-Length: 70\r\n\r\n")
        await client.slowly(body, pieces=7)  # 6 * EVERY, longer than HEADER_TIMEOUT
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read 70")
        await client.send(GET)
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read 0")


async def test_a_body_still_arriving_after_the_answer_is_not_cut_and_the_deadline_follows_it(
    port: int,
) -> None:
    # /early answers before the body is read: the request is not over until the body is.
    loop = asyncio.get_running_loop()
    async with connected(port) as client:
        await client.send(GET)
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read 0")
        await client.send(b"POST /early HTTP/1.1\r\nHost: api\r\nContent-Length: 70\r\n\r\n")
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read 0")
        await client.slowly(b"b" * 70, pieces=7)
        await client.send(GET)
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read 0")
        # The body's last piece ended the request: from then on a head is awaited again.
        await client.send(b"POST /early HTTP/1.1\r\nHost: api\r\nContent-Length: 1\r\n\r\n")
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read 0")
        finished = loop.time()
        await client.send(b"b")
        received, closed = await client.until_closed()

    assert received == b""
    assert closed - finished >= HEADER_TIMEOUT


async def test_a_large_body_is_not_counted_as_head(port: int) -> None:
    size = 8 * MAX_HEAD_BYTES
    async with connected(port) as client:
        await client.send(GET)
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read 0")
        await client.send(b"POST /echo HTTP/1.1\r\nHost: api\r\nContent-Length: %d\r\n\r\n" % size)
        await client.send(b"b" * size)
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read %d" % size)
        await client.send(GET)
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read 0")


async def test_the_piece_that_ends_a_body_after_the_answer_is_not_counted_as_head(port: int) -> None:
    # Once this piece is read the request is over and a head is awaited; the piece is still
    # body. (Sent at once, it is read at once: one piece larger than the head bound.) Nothing
    # follows it, so the connection is closed at the header timeout, without a word.
    size = MAX_HEAD_BYTES + 8 * 1024
    async with connected(port) as client:
        await client.send(b"POST /early HTTP/1.1\r\nHost: api\r\nContent-Length: %d\r\n\r\n" % size)
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read 0")
        await client.send(b"b" * size)
        received, _ = await client.until_closed()

    assert received == b""


# The head's size.


def head_of(size: int) -> bytes:
    """The start of a request head, `size` bytes long and never complete."""
    start = b"GET /health HTTP/1.1\r\nHost: api\r\nX-Filler: "
    return start + b"f" * (size - len(start))


async def test_a_head_growing_past_max_head_bytes_is_answered_431_and_closed(
    httptools_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    async with connected(httptools_port) as client:
        await client.send(head_of(MAX_HEAD_BYTES + 1))
        received, _ = await client.until_closed()

    assert received == TOO_LARGE
    assert timeout_warnings(caplog) == []


async def test_a_head_read_in_many_pieces_is_counted_whole(header_timeout: None) -> None:
    # A socket cannot make the server read a head in many pieces (the kernel may join what a
    # client sends apart), so the pieces go straight to the protocol, on a real connection.
    options = uvicorn_options(settings(keep_alive_timeout=KEEP_ALIVE), HTTPImplementation.HTTPTOOLS)
    config = uvicorn.Config(app, lifespan="off", **options)
    config.load()
    protocol = GuardedHttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, sock=ours)
    try:
        head = head_of(MAX_HEAD_BYTES + 1)
        for start in range(0, len(head), 1024):
            protocol.data_received(head[start : start + 1024])
        received, _ = await Client(theirs).until_closed()
    finally:
        transport.close()
        theirs.close()

    assert received == TOO_LARGE


async def test_a_head_of_max_head_bytes_is_not_too_large(httptools_port: int) -> None:
    async with connected(httptools_port) as client:
        await client.send(head_of(MAX_HEAD_BYTES))
        received, _ = await client.until_closed()

    assert received == TOO_SLOW


async def test_a_head_of_max_head_bytes_is_complete_with_its_blank_line(httptools_port: int) -> None:
    # Only a head still awaited is counted: one that arrives complete is the app's to judge.
    async with connected(httptools_port) as client:
        await client.send(head_of(MAX_HEAD_BYTES) + b"\r\n\r\n")
        assert await client.response() == (b"HTTP/1.1 200 OK", b"read 0")


async def test_h11_bounds_a_head_at_max_head_bytes(header_timeout: None) -> None:
    async with served(HTTPImplementation.H11) as bound:
        async with connected(bound) as client:
            await client.send(head_of(MAX_HEAD_BYTES))
            at_the_bound, _ = await client.until_closed()
        async with connected(bound) as client:
            await client.send(head_of(MAX_HEAD_BYTES + 1))
            past_it, _ = await client.until_closed()

    assert at_the_bound == TOO_SLOW
    assert past_it.startswith(b"HTTP/1.1 400 ")


# Configuration.


@pytest.mark.parametrize(
    ("implementation", "expected"),
    [
        (HTTPImplementation.AUTO, GuardedHttpToolsProtocol),
        (HTTPImplementation.HTTPTOOLS, GuardedHttpToolsProtocol),
        (HTTPImplementation.H11, GuardedH11Protocol),
    ],
)
def test_protocol_class(implementation: HTTPImplementation, expected: type) -> None:
    assert protocol_class(implementation) is expected


def test_uvicorn_options_set_every_limit_from_the_settings() -> None:
    options = uvicorn_options(
        settings(keep_alive_timeout=7, limit_concurrency=13, forwarded_allow_ips="10.0.0.1, 10.1.0.0/16"),
        HTTPImplementation.H11,
    )

    assert options == {
        "http": GuardedH11Protocol,
        "h11_max_incomplete_event_size": 32 * 1024,
        "timeout_keep_alive": 7,
        "limit_concurrency": 13,
        "proxy_headers": True,
        "forwarded_allow_ips": ["10.0.0.1", "10.1.0.0/16"],
        "timeout_graceful_shutdown": 30,
        "server_header": False,
        "log_config": None,
    }


def test_uvicorn_options_trust_no_proxy_when_none_is_named() -> None:
    options = uvicorn_options(settings(), HTTPImplementation.HTTPTOOLS)

    assert options["http"] is GuardedHttpToolsProtocol
    assert options["proxy_headers"] is False
    assert options["forwarded_allow_ips"] is None
    assert (options["timeout_keep_alive"], options["limit_concurrency"]) == (5, 1000)
