"""Where the relay publishes: a small interface, and its Redis Streams implementation.

A transport publishes a batch of CloudEvents in the order given and returns only once the
broker has acknowledged all of them; anything less is an exception, and the relay publishes
the batch again later (so a broker may receive an event twice: consumers deduplicate on its
`id`). docs/events.md says how to add another broker (Kafka, Dapr pub/sub).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import coredis

# The stream entry's one field, holding the whole CloudEvent: the layout Dapr's Redis Streams
# pub/sub component writes and reads.
REDIS_FIELD = "data"


@dataclass(frozen=True, slots=True)
class OutgoingEvent:
    """One event as a broker is given it."""

    id: str
    # The user's id: a user's events must stay in order, so a partitioned broker (Kafka) keys
    # them by it; other users' events may go elsewhere.
    key: str
    # The CloudEvent, structured mode: one JSON object (schemas.cloud_event).
    body: bytes


class Transport(Protocol):
    """A broker the relay publishes to."""

    @property
    def name(self) -> str:
        """What logs call the broker: its kind and address, never a credential."""
        ...

    async def publish(self, batch: Sequence[OutgoingEvent]) -> None:
        """Publish `batch` in order; return once the broker has acknowledged every event, else raise."""
        ...

    async def close(self) -> None:
        """Close the connections, without waiting on the broker."""
        ...


class RedisStreamTransport:
    """Each event as an entry of one Redis Stream, a batch in one MULTI/EXEC: all of it is
    appended, in order, or none of it. The stream is trimmed to about `maxlen` entries."""

    def __init__(self, url: str, *, stream: str, maxlen: int, timeout: float) -> None:
        # Imported here: a worker without the relay (or rate limits in Redis) never loads it.
        import coredis  # noqa: PLC0415

        self._stream = stream
        self._maxlen = maxlen
        # Every wait bounded, so a silent network fails a publish instead of hanging the relay.
        self._client: coredis.Redis[bytes] = coredis.Redis.from_url(
            url, connect_timeout=timeout, stream_timeout=timeout
        )
        self.name = f"Redis at {redis_address(url)} (stream {stream})"

    async def publish(self, batch: Sequence[OutgoingEvent]) -> None:
        from coredis.tokens import PureToken  # noqa: PLC0415

        async with await self._client.pipeline(transaction=True) as pipeline:
            for event in batch:
                pipeline.xadd(
                    self._stream,
                    {REDIS_FIELD: event.body},
                    trim_strategy=PureToken.MAXLEN,
                    trim_operator=PureToken.APPROXIMATELY,
                    threshold=self._maxlen,
                )
            await pipeline.execute()

    async def close(self) -> None:
        self._client.connection_pool.disconnect()


def redis_address(url: str) -> str:
    """host:port of a Redis URL, without its user or password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
