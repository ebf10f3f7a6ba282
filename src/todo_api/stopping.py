"""Telling long-lived answers that the server is stopping, as soon as it is asked to.

On SIGTERM (or SIGINT) uvicorn stops accepting connections and waits, up to its graceful
timeout, for the answers in flight to end; only then does the app's lifespan hear of it. An
answer that never ends by itself (an events stream) would hold the stop for the whole timeout,
and be cut without a word. `on_stop_signal` runs a callback when the signal comes, then the
handler that was there before it (uvicorn's), so those answers end first, cleanly, and their
clients reconnect elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def on_stop_signal(callback: Callable[[], None]) -> Iterator[None]:
    """Run `callback` in this event loop when a stop signal arrives, for the block; the
    handlers found are put back after it. Signals reach the main thread only: elsewhere (an
    app run in a test's thread) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    found = {stop_signal: signal.getsignal(stop_signal) for stop_signal in STOP_SIGNALS}

    def stopping(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)
        previous = found[signal.Signals(signum)]
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.default_int_handler(signum, frame)

    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, stopping)
    try:
        yield
    finally:
        for stop_signal, handler in found.items():
            # Only where ours is still in place (uvicorn puts back its own predecessors).
            if signal.getsignal(stop_signal) is stopping:
                signal.signal(stop_signal, handler)
