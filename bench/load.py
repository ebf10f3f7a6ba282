"""Open-loop load at a fixed rate, for latency percentiles free of coordinated omission.

wrk is closed-loop (a slow response delays the next request, hiding the stall) and Debian ships
no wrk2, so this sends request i at start + i/rate whatever happened before, and times each one
from that intended start to its last byte. Run as its own process:
`python -m bench.load URL LOAD_FILE --rate 200 --seconds 20` prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

TITLES = (
    "Call the plumber about the leak",
    "Review PR #731",
    "Buy coffee beans",
    "Prepare slides for Monday",
)


@dataclass(frozen=True)
class User:
    token: str
    task_ids: tuple[str, ...]
    # Only PocketBase's load file names the user (its creates must say whose task it is).
    user_id: str = ""


def read_users(path: Path) -> list[User]:
    """The load file bench/seed.py writes, `token<TAB>id,id,...` per line (`<TAB>user id` after it
    in bench/pocketbase.py's)."""
    users = []
    for line in path.read_text(encoding="ascii").splitlines():
        token, _, rest = line.partition("\t")
        ids, _, user_id = rest.partition("\t")
        users.append(User(token, tuple(ids.split(",")) if ids else (), user_id))
    return users


def mixed_request(user: User, rng: random.Random, host: str) -> bytes:
    """The wrk script's `mixed` mix: 40% list, 30% get one, 15% toggle, 15% create."""
    roll = rng.randint(1, 100)
    method, path, body = "GET", "/api/tasks", b""
    if 40 < roll <= 70:
        path = f"/api/tasks/{rng.choice(user.task_ids)}"
    elif 70 < roll <= 85:
        method, path = "PATCH", f"/api/tasks/{rng.choice(user.task_ids)}/complete"
    elif roll > 85:
        method = "POST"
        body = json.dumps({"title": rng.choice(TITLES), "description": "Created by the benchmark."}).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {user.token}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough parsing for this API's responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    # (latency, seconds into the run, request line) of every request, to name the slowest.
    timeline: list[tuple[float, float, str]] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    socket_errors: int = 0
    max_send_lag: float = 0.0


async def run(
    url: str, users: list[User], *, rate: float, seconds: float, connections: int, seed: int
) -> Outcome:
    """Send rate × seconds requests on schedule over at most `connections` connections."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    slots = asyncio.Semaphore(connections)
    outcome = Outcome()
    rng = random.Random(seed)

    async def one(request: bytes, due: float) -> None:
        # The wait for a free connection counts: a queued request is a slow request.
        async with slots:
            connection = idle.get_nowait() if not idle.empty() else None
            try:
                if connection is None:
                    connection = Connection(*await asyncio.open_connection(host, port))
                status = await connection.exchange(request)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                outcome.socket_errors += 1
                if connection is not None:
                    connection.close()
                return
            latency = time.perf_counter() - due
            outcome.latencies.append(latency)
            outcome.timeline.append((latency, due - start, request.split(b" HTTP/", 1)[0].decode()))
            outcome.statuses[str(status)] = outcome.statuses.get(str(status), 0) + 1
            idle.put_nowait(connection)

    total = int(rate * seconds)
    start = time.perf_counter() + 0.05
    pending = []
    for index in range(total):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        outcome.max_send_lag = max(outcome.max_send_lag, time.perf_counter() - due)
        request = mixed_request(users[index % len(users)], rng, f"{host}:{port}")
        pending.append(asyncio.create_task(one(request, due)))
    await asyncio.gather(*pending)
    while not idle.empty():
        idle.get_nowait().close()
    return outcome


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(outcome: Outcome, *, rate: float, seconds: float) -> dict[str, object]:
    """The numbers the report uses, latencies in milliseconds."""
    ordered = sorted(outcome.latencies)
    ok = sum(count for status, count in outcome.statuses.items() if status.startswith("2"))
    return {
        "offered_rps": rate,
        "seconds": seconds,
        "requests": len(ordered),
        "ok_requests": ok,
        # Only 2xx answers count as achieved: a fast error is not throughput.
        "achieved_rps": ok / seconds,
        "p50_ms": percentile(ordered, 0.50) * 1000,
        "p90_ms": percentile(ordered, 0.90) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "p99_9_ms": percentile(ordered, 0.999) * 1000,
        "max_ms": (ordered[-1] if ordered else float("nan")) * 1000,
        "statuses": dict(sorted(outcome.statuses.items())),
        "non_2xx": sum(count for status, count in outcome.statuses.items() if not status.startswith("2")),
        "socket_errors": outcome.socket_errors,
        "max_send_lag_ms": outcome.max_send_lag * 1000,
        "slowest": [
            {"ms": round(latency * 1000, 2), "at_s": round(at, 3), "request": line}
            for latency, at, line in sorted(outcome.timeline, reverse=True)[:10]
        ],
    }


def main() -> None:
    """Command line: run the open-loop `mixed` load and print its summary as JSON."""
    parser = argparse.ArgumentParser(description="Open-loop fixed-rate `mixed` load for the task API.")
    parser.add_argument("url")
    parser.add_argument("load_file", type=Path)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second offered")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    coroutine = run(
        args.url,
        read_users(args.load_file),
        rate=args.rate,
        seconds=args.seconds,
        connections=args.connections,
        seed=args.seed,
    )
    # uvloop when present: a cheaper event loop keeps the generator's own jitter low.
    runner = importlib.import_module("uvloop").run if importlib.util.find_spec("uvloop") else asyncio.run
    outcome = runner(coroutine)
    print(json.dumps(summary(outcome, rate=args.rate, seconds=args.seconds)))


if __name__ == "__main__":
    main()
