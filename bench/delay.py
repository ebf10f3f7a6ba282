"""A TCP proxy in front of PostgreSQL that adds a round-trip time and counts round trips.

Each direction holds every chunk for half the RTT before passing it on (order kept), as a
network path a region away would. Client-to-server bytes are read as PostgreSQL protocol
messages, and each one the client then waits on counts as a round trip: Sync (the end of an
extended-protocol exchange), Flush (asyncpg's prepare asks for the answers so far) and a
simple Query. It runs on its own event loop in a thread, so sequential requests measure
the servers, not the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading

SSL_REQUEST = struct.pack("!ii", 8, 80877103)


class DelayProxy:
    """127.0.0.1:`port` forwards to `upstream`, `rtt_ms` slower; `round_trips` counts them."""

    def __init__(self, upstream_host: str, upstream_port: int, rtt_ms: float) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.delay = rtt_ms / 2000
        self.port = 0
        self.round_trips = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="delay-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        await asyncio.gather(
            self._client_to_server(client_reader, upstream_writer),
            self._forward(upstream_reader, client_writer),
        )

    def _later(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        # A constant delay keeps the order: timers that fire later were set later.
        self._loop.call_later(self.delay, _write, writer, data)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                self._later(writer, data)
        self._loop.call_later(self.delay, writer.transport.abort)

    async def _client_to_server(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The opening messages (SSLRequest, StartupMessage) have no type byte; every later one has.
        typed = False
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            while True:
                kind = await reader.readexactly(1) if typed else b""
                length = await reader.readexactly(4)
                body = await reader.readexactly(struct.unpack("!i", length)[0] - 4)
                if typed:
                    self.round_trips += kind in (b"S", b"Q", b"H")
                else:
                    typed = length + body != SSL_REQUEST
                self._later(writer, kind + length + body)
        self._loop.call_later(self.delay, writer.transport.abort)


def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
    if not writer.transport.is_closing():
        writer.write(data)
