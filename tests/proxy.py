"""A TCP proxy in front of PostgreSQL, so a test can take the database away and bring it back
without stopping the shared server: refused (`cut`), or silent (`black_hole`), as a database
behind a dead network path or a hung host is."""

from __future__ import annotations

import asyncio
import contextlib


class Proxy:
    """Forwards 127.0.0.1:<port> to the upstream; `cut()` and `black_hole()` are outages,
    `restore()` ends them."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.swallowed = 0  # connections accepted in black-hole mode
        self._silent = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones, as a crashed database would."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._drop_connections()

    async def black_hole(self) -> None:
        """Accept connections but never answer, and forward nothing more on the open ones, as a
        dead network path does: nothing is refused or reset, so only a client's own timeouts
        end its waits."""
        self._silent = True
        if self._server is None:
            await self.start()

    async def restore(self) -> None:
        """End either outage: new connections reach the upstream again (connections that lost
        bytes to the black hole are dropped, as their streams are no longer whole)."""
        if self._silent:
            self._silent = False
            self._drop_connections()
        if self._server is None:
            await self.start()

    def _drop_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._silent:
            self.swallowed += 1
            self._writers.add(client_writer)
            with contextlib.suppress(OSError):
                while await client_reader.read(65536):
                    pass  # read and forget: the client's bytes go nowhere, no answer comes back
            self._writers.discard(client_writer)
            client_writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, upstream_writer))
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer)
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                if not self._silent:
                    writer.write(data)
                    await writer.drain()
        writer.transport.abort()
        self._writers.discard(writer)
