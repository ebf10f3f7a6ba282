"""Proxies in front of PostgreSQL, so tests can change what stands between the service and the
shared server without touching it: `Proxy` takes the database away and brings it back, refused
(`cut`) or silent (`black_hole`, as behind a dead network path or a hung host); `TLSProxy`
gives it the TLS the local server lacks."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct


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


SSL_REQUEST = struct.pack("!ii", 8, 80877103)


class TLSProxy:
    """A PostgreSQL server's TLS, in front of one that has none: answers the client's
    SSLRequest with b"S", completes the handshake, and forwards the decrypted stream (without
    the SSLRequest) to the upstream. Like a server whose pg_hba.conf has only `hostssl` lines,
    it refuses clients that start without TLS. With `offer_tls=False` it is a server without
    TLS instead: it answers b"N" and forwards the plain stream."""

    def __init__(
        self, upstream_host: str, upstream_port: int, context: ssl.SSLContext, *, offer_tls: bool = True
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.context = context
        self.offer_tls = offer_tls
        self.port = 0
        self.tls_versions: list[str] = []  # one per TLS session, as negotiated
        self.refused_plaintext = 0  # clients that started without asking for TLS
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for writer in list(self._writers):
            writer.transport.abort()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._writers.add(client_writer)
        try:
            first = await client_reader.readexactly(8)
        except (OSError, asyncio.IncompleteReadError):
            client_writer.transport.abort()
            return
        if first == SSL_REQUEST and self.offer_tls:
            client_writer.write(b"S")
            await client_writer.drain()
            await client_writer.start_tls(self.context)
            tls = client_writer.get_extra_info("ssl_object")
            self.tls_versions.append(tls.version() if tls is not None else "none")
            opening = b""
        elif first == SSL_REQUEST:
            client_writer.write(b"N")
            await client_writer.drain()
            opening = b""
        elif self.offer_tls:
            self.refused_plaintext += 1
            client_writer.write(_fatal("28000", "no pg_hba.conf entry for this client, no encryption"))
            await client_writer.drain()
            client_writer.transport.close()
            return
        else:
            opening = first  # a plain client's StartupMessage: forwarded as it is
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.add(upstream_writer)
        upstream_writer.write(opening)
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))


def _fatal(code: str, message: str) -> bytes:
    """A PostgreSQL ErrorResponse, as the server sends before closing a connection it refuses."""
    fields = b"".join(
        kind + text.encode() + b"\0" for kind, text in ((b"S", "FATAL"), (b"C", code), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


class RoundTripCounter(Proxy):
    """A `Proxy` that counts the client's round trips to PostgreSQL: each Sync (the end of an
    extended-protocol exchange, which asyncpg waits on) and each simple Query is one."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        super().__init__(upstream_host, upstream_port)
        self.round_trips = 0

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if writer.get_extra_info("peername") != self.upstream:
            await super()._pipe(reader, writer)
            return
        # Client to server: the opening messages (SSLRequest, StartupMessage) have no type byte.
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            typed = False
            while True:
                if typed:
                    kind = await reader.readexactly(1)
                    length = await reader.readexactly(4)
                    body = await reader.readexactly(struct.unpack("!i", length)[0] - 4)
                    self.round_trips += kind in (b"S", b"Q")
                    writer.write(kind + length + body)
                else:
                    length = await reader.readexactly(4)
                    body = await reader.readexactly(struct.unpack("!i", length)[0] - 4)
                    typed = length + body != SSL_REQUEST
                    writer.write(length + body)
                await writer.drain()
        writer.transport.abort()
        self._writers.discard(writer)
