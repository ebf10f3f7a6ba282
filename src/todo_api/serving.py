"""How `todo-api serve` runs uvicorn: its limits set deliberately, and the one it lacks.

uvicorn closes an idle keep-alive connection (`timeout_keep_alive`), but nothing bounds a
request head that arrives slowly: a connection that sends one header line every few seconds, or
nothing at all, stays open for ever, and httptools (its parser when installed) buffers a header
block of any size before the app's 16 KiB guard sees it. The protocols here close a connection
whose request head is not complete within HEADER_TIMEOUT, and answer a head that grows past
MAX_HEAD_BYTES with 431 as soon as it has.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from enum import StrEnum
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from todo_api.config import Settings, load_settings
from todo_api.hardening import API_CSP, MAX_HEADER_BYTES

logger = logging.getLogger(__name__)

# The app answers 431 past 16 KiB of header names and values; this leaves room for the request
# line and the framing, and stops a head long before it reaches megabytes. (A head is read in
# chunks of up to 256 KiB, so that is the most held past this bound.)
MAX_HEAD_BYTES = 2 * MAX_HEADER_BYTES
# Seconds SIGTERM leaves in-flight requests to finish.
GRACEFUL_SHUTDOWN_SECONDS = 30


class HTTPImplementation(StrEnum):
    AUTO = "auto"
    HTTPTOOLS = "httptools"
    H11 = "h11"


def _response(status: int, phrase: str, detail: str) -> bytes:
    """A whole response written before any request exists, so no middleware adds to it. Written
    when it is sent (rarely), not kept from import, so that the tests run this code."""
    body = json.dumps({"detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n"
        f"x-content-type-options: nosniff\r\ncontent-security-policy: {API_CSP}\r\n\r\n"
    )
    return head.encode() + body


HEAD_TOO_LARGE = (431, "Request Header Fields Too Large", "Request headers too large")
HEAD_TOO_SLOW = (408, "Request Timeout", "Request headers not received in time")


@functools.cache
def _header_timeout() -> float:
    # uvicorn builds protocols from its own configuration, in worker processes of their own,
    # so the setting is read where the app reads its settings: the environment and `.env`.
    return load_settings().header_timeout


class _HeadLimits(asyncio.Protocol):
    """What both protocols add. Each says when it awaits a request head: on a new connection,
    and once a request has been read in full and answered."""

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    client: tuple[str, int] | None
    _head_deadline: asyncio.TimerHandle | None = None
    # Bytes of the awaited head received so far.
    _head_bytes = 0

    def _awaiting_head(self) -> bool:
        raise NotImplementedError

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._watch_head()

    def data_received(self, data: bytes) -> None:
        # Counted only when a head was awaited before this chunk and still is after it: then
        # every byte of the chunk belongs to that head (never to a body before it).
        awaited = self._head_deadline is not None
        super().data_received(data)
        if awaited and self._awaiting_head() and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._answer_and_close(_response(*HEAD_TOO_LARGE))
                return
        self._watch_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._watch_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        super().connection_lost(exc)

    def _watch_head(self) -> None:
        if self.transport.is_closing() or not self._awaiting_head():
            self._stop_deadline()
        elif self._head_deadline is None:
            self._head_bytes = 0
            self._head_deadline = self.loop.call_later(_header_timeout(), self._head_timed_out)

    def _stop_deadline(self) -> None:
        # The byte count is reset where the next deadline starts (`_watch_head`): only bytes
        # received while a deadline runs are counted.
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        if not self._head_bytes:
            # Nothing sent (a browser's speculative connection, say): closed without a word.
            self.transport.close()
            return
        logger.warning(
            "request head not received in time",
            extra={"event": "request_head_timeout", "client": self.client[0] if self.client else None},
        )
        self._answer_and_close(_response(*HEAD_TOO_SLOW))

    def _answer_and_close(self, response: bytes) -> None:
        self._stop_deadline()
        self.transport.write(response)
        self.transport.close()


class GuardedHttpToolsProtocol(_HeadLimits, HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size bound for each request head."""

    # Whether the current request's body has been read to its end (a response may come first).
    _request_read = False

    def on_headers_complete(self) -> None:
        self._request_read = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._request_read = True

    def _awaiting_head(self) -> bool:
        # `cycle` is the latest request whose head is complete (pipelined ones included).
        cycle = self.cycle
        return cycle is None or (cycle.response_complete and self._request_read)


class GuardedH11Protocol(_HeadLimits, H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head (h11 bounds its size)."""

    def _awaiting_head(self) -> bool:
        # h11 returns to IDLE only once the last request was read in full and answered.
        return self.conn.their_state is h11.IDLE


def protocol_class(implementation: HTTPImplementation) -> type[asyncio.Protocol]:
    """The guarded protocol for `implementation`; `auto` is httptools when installed, as in uvicorn."""
    if implementation is HTTPImplementation.AUTO:
        try:
            import httptools  # noqa: F401, PLC0415
        except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
            return GuardedH11Protocol
        return GuardedHttpToolsProtocol
    return GuardedH11Protocol if implementation is HTTPImplementation.H11 else GuardedHttpToolsProtocol


def uvicorn_options(settings: Settings, implementation: HTTPImplementation) -> dict[str, Any]:
    """uvicorn's options for these settings: every limit chosen here, none left to its defaults."""
    allowed_proxies = settings.forwarded_allow_ips
    return {
        "http": protocol_class(implementation),
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        "timeout_keep_alive": settings.keep_alive_timeout,
        "limit_concurrency": settings.limit_concurrency,
        # uvicorn trusts X-Forwarded-For/-Proto from 127.0.0.1 unless told otherwise; here
        # only from the proxies FORWARDED_ALLOW_IPS names, and from none when it is unset.
        "proxy_headers": bool(allowed_proxies),
        "forwarded_allow_ips": allowed_proxies or None,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "server_header": False,
        "log_config": None,
    }
