"""Many open events streams (GET /api/events), and how long each change takes to reach them.

Run as its own process: `python -m bench.streams URL LOAD_FILE --streams 1000` opens the
streams (one per user of the load file, cycling), prints `opened N` on stdout once all are
live, reads until its stdin closes, then prints one JSON object: the streams, the events
received, and the delivery latency (from the event's `at`, stamped by the database as the
change is written, to the moment its frame is read here) at p50, p90, p99 and max.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench.load import read_users


class Streams:
    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.errors = 0
        self.opened = 0

    def settled(self, ready: asyncio.Event, total: int) -> None:
        """`ready` once every stream is open or has failed."""
        if self.opened + self.errors >= total:
            ready.set()

    async def follow(self, host: str, port: int, token: str, ready: asyncio.Event, total: int) -> None:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            self.errors += 1
            self.settled(ready, total)
            return
        request = (
            f"GET /api/events HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        )
        writer.write(request.encode())
        try:
            status = await reader.readline()
            if b" 200 " not in status:
                self.errors += 1
                self.settled(ready, total)
                return
            live = False
            while line := await reader.readline():
                if line.startswith(b"event: ready") and not live:
                    live = True
                    self.opened += 1
                    self.settled(ready, total)
                elif line.startswith(b'data: {"event_id"'):
                    # Chunked framing puts size lines between frames; only data lines matter.
                    received = time.time()
                    at = json.loads(line[6:])["at"]
                    written = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
                    self.latencies_ms.append((received - written) * 1000)
        except (OSError, ValueError):
            self.errors += 1
        finally:
            writer.close()


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main_async(url: str, load_file: Path, streams: int) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    users = read_users(load_file)
    state = Streams()
    ready = asyncio.Event()
    tasks = [
        asyncio.create_task(state.follow(host, port, users[index % len(users)].token, ready, streams))
        for index in range(streams)
    ]
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(ready.wait(), 120)
    print(f"opened {state.opened}", flush=True)
    # Until the runner closes our stdin: the load has ended.
    await loop.run_in_executor(None, sys.stdin.read)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = state.latencies_ms
    return {
        "streams": streams,
        "opened": state.opened,
        "errors": state.errors,
        "events": len(latencies),
        "p50_ms": percentile(latencies, 0.50),
        "p90_ms": percentile(latencies, 0.90),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Open events streams and time delivery.")
    parser.add_argument("url")
    parser.add_argument("load_file", type=Path)
    parser.add_argument("--streams", type=int, default=1000)
    options = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(options.url, options.load_file, options.streams))), flush=True)


if __name__ == "__main__":
    main()
