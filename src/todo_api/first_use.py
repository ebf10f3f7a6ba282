"""Something a worker builds on its first use, not at start-up (an SDK that takes a second to
import and memory a worker that never needs it should not hold), while one run of the app's
lifespan is open (an app may be started again); closed when that run ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class BuiltOnFirstUse(Generic[T]):
    """`build()` on the first `get()` of a run of the lifespan (`running`), `close(it)` after it."""

    def __init__(
        self, build: Callable[[], Awaitable[T]], close: Callable[[T], Awaitable[None]], what: str
    ) -> None:
        self._build = build
        self._close = close
        self._outside = f"{what} called outside the app's lifespan"
        self._open = False
        self._starting: asyncio.Lock | None = None
        self._built: T | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve while the context is open; close what was built, if anything, on leaving."""
        # A lock of this run's event loop: a restarted app may run on another.
        starting = self._starting = asyncio.Lock()
        self._open = True
        try:
            yield
        finally:
            self._open = False
            async with starting:
                built, self._built = self._built, None
            if built is not None:
                await self._close(built)

    async def get(self) -> T:
        """What was built, building it first if this is the first use."""
        if self._built is not None:
            return self._built
        if self._starting is None:
            raise RuntimeError(self._outside)
        async with self._starting:
            if not self._open:
                raise RuntimeError(self._outside)
            if self._built is None:
                self._built = await self._build()
            return self._built
