"""Pure ASGI middleware that guards every request before routing, hardens every response, and
answers an error nothing else handled with the generic 500."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api.logs import log_unhandled_error

MAX_BODY_BYTES = 1024 * 1024
BODY_TOO_LARGE = "Request body too large (limit 1 MiB)"
MAX_HEADER_BYTES = 16 * 1024
BODY_METHODS = {"POST", "PUT", "PATCH"}
FORM = b"application/x-www-form-urlencoded"
# Headers a request may carry once (ASGI servers give names in lower case).
SINGLE_HEADERS = {
    b"authorization": "Authorization",
    b"content-length": "Content-Length",
    b"content-type": "Content-Type",
    b"host": "Host",
}
# API responses are data, never documents: nothing may load, frame or run from them.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=63072000; includeSubDomains"


async def send_json_error(send: Send, status: int, detail: str) -> None:
    """Answer before the app runs, in the one error shape."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HardeningMiddleware:
    """Refuse oversized headers (431), non-JSON bodies (415) and oversized bodies (413) before
    routing, and add the headers that make any response safe to handle in a browser.

    One middleware rather than two: each layer costs every request a call and a wrapper
    around every message it sends.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts: bool,
        max_body_bytes: int = MAX_BODY_BYTES,
        form_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Paths that also take an HTML form's body (Better Auth's sign-up and sign-in do).
        self.form_paths = form_paths
        # Added unless the response set its own (the docs pages set their own policy).
        self.defaults: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            # Everything but the docs gets the strictest policy.
            (b"content-security-policy", API_CSP.encode()),
        ]
        if hsts:
            self.defaults.append((b"strict-transport-security", HSTS.encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # /mcp carries the same per-user data as the task routes, in JSON too.
        is_api = scope["path"].startswith("/api/") or scope["path"] == "/mcp"
        answer = _Answer()
        hardened = self._hardened(send, answer, is_api=is_api)
        try:
            await self._guarded(scope, receive, hardened, is_api=is_api)
        except Exception as error:
            # The last resort: an error no handler expected. Answered here, so the generic 500
            # is hardened like any answer, and logged here once; not raised on to the server,
            # which would log it a second time, unless the answer had begun (then the server
            # must cut the connection).
            log_unhandled_error(error, path=scope["path"], client=_client(scope))
            if answer.started:
                raise
            await send_json_error(hardened, 500, "Internal Server Error")

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, *, is_api: bool) -> None:
        headers = scope["headers"]
        if sum(len(name) + len(value) for name, value in headers) > MAX_HEADER_BYTES:
            await send_json_error(send, 431, "Request headers too large")
            return
        if repeated := _repeated(headers):
            # Two of these mean two readings of one request: a proxy that takes the last
            # Authorization would see another caller than we do, two lengths another body.
            await send_json_error(send, 400, f"More than one {repeated} header")
            return
        if not has_body(headers):
            await self.app(scope, receive, send)
            return
        if (
            is_api
            and scope["method"] in BODY_METHODS
            and not self._accepts(scope, _header(headers, b"content-type"))
        ):
            await send_json_error(send, 415, "Content-Type must be application/json")
            return
        declared = _header(headers, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await send_json_error(send, 413, BODY_TOO_LARGE)
            return
        await self.app(scope, self._counted(receive), send)

    def _accepts(self, scope: Scope, content_type: bytes | None) -> bool:
        if _is_json(content_type):
            return True
        return scope["path"] in self.form_paths and is_form(content_type)

    def _counted(self, receive: Receive) -> Receive:
        # A chunked body, or one longer than its Content-Length said, is stopped as it arrives.
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # Raised inside body parsing; the error handlers render it as 413.
                    raise HTTPException(413, BODY_TOO_LARGE)
            return message

        return counting_receive

    def _hardened(self, send: Send, answer: _Answer, *, is_api: bool) -> Send:
        defaults = self.defaults

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.started = True
                # Raw header lists (names in lower case, as ASGI servers and Starlette write them)
                # rather than MutableHeaders: this runs on every response.
                headers = []
                present = set()
                for header in message.get("headers", ()):
                    name = header[0].lower()
                    # Per-user data must never sit in a shared or browser cache.
                    if not (is_api and name == b"cache-control"):
                        present.add(name)
                        headers.append(header)
                if is_api:
                    headers.append((b"cache-control", b"no-store"))
                for header in defaults:
                    if header[0] not in present:
                        headers.append(header)
                message["headers"] = headers
            await send(message)

        return send_with_headers


class _Answer:
    """Whether the response has begun (after that, no other answer can be sent)."""

    __slots__ = ("started",)

    def __init__(self) -> None:
        self.started = False


def _repeated(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The first header that must appear once but appears more often, by its usual name."""
    seen: set[bytes] = set()
    for name, _ in headers:
        if name in SINGLE_HEADERS:
            if name in seen:
                return SINGLE_HEADERS[name]
            seen.add(name)
    return None


def has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a request's headers announce a body (a length above zero, or chunks)."""
    declared = _header(headers, b"content-length")
    return (declared not in (None, b"0")) or _header(headers, b"transfer-encoding") is not None


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _media_type(content_type: bytes | None) -> bytes:
    return content_type.split(b";", 1)[0].strip().lower() if content_type is not None else b""


def _is_json(content_type: bytes | None) -> bool:
    media_type = _media_type(content_type)
    return media_type == b"application/json" or media_type.endswith(b"+json")


def is_form(content_type: bytes | None) -> bool:
    """Whether a Content-Type is an HTML form's `application/x-www-form-urlencoded`."""
    return _media_type(content_type) == FORM
