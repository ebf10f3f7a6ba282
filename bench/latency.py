"""The `latency` workload: each task endpoint requested one at a time, behind a delay proxy.

A database a region away makes every round trip a user's wait; one per request is the floor.
Each endpoint is requested `REQUESTS` times in a row on one keep-alive connection (after
`WARMUP` unreported ones, which also prepare the statements), each on a task made just before
it where it changes one; the report gives the p50 and the round trips each request made,
counted by the proxy, against the target of 1.5 × RTT + 3 ms.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench.delay import DelayProxy

REQUESTS = 30
WARMUP = 3
# name: (method, path under the task's URL or None for the collection, body)
ENDPOINTS: dict[str, tuple[str, str | None, dict[str, Any] | None]] = {
    "list": ("GET", None, None),
    "create": ("POST", None, {"title": "latency check"}),
    "get": ("GET", "", None),
    "put": ("PUT", "", {"title": "replaced", "description": "put", "completed": False}),
    "patch": ("PATCH", "", {"title": "patched"}),
    "toggle": ("PATCH", "/complete", None),
    "delete": ("DELETE", "", None),
}


def target_ms(rtt_ms: float) -> float:
    """The issue's target for a sequential request behind `rtt_ms` of round trip."""
    return 1.5 * rtt_ms + 3


def summary(endpoints: dict[str, dict[str, Any]]) -> str:
    """One progress line: p50 and round trips per endpoint."""
    return "  ".join(
        f"{name} {run['p50_ms']:.1f} ms/{run['round_trips']:g} rt" for name, run in endpoints.items()
    )


def measure(base_url: str, token: str, proxy: DelayProxy) -> dict[str, dict[str, Any]]:
    """p50 and round trips per request for every endpoint of the server at `base_url`."""
    results: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:

        def new_task() -> str:
            created = client.post("/api/tasks", json={"title": "latency"})
            created.raise_for_status()
            return f"/api/tasks/{created.json()['id']}"

        for name, endpoint in ENDPOINTS.items():
            results[name] = _endpoint(client, proxy, endpoint, new_task)
    return results


def _endpoint(
    client: httpx.Client,
    proxy: DelayProxy,
    endpoint: tuple[str, str | None, dict[str, Any] | None],
    new_task: Callable[[], str],
) -> dict[str, Any]:
    method, suffix, body = endpoint
    times_ms: list[float] = []
    trips: list[int] = []
    failures = 0
    for index in range(WARMUP + REQUESTS):
        path = "/api/tasks" if suffix is None else new_task() + suffix
        before = proxy.round_trips
        started = time.perf_counter()
        response = client.request(method, path, json=body)
        elapsed = (time.perf_counter() - started) * 1000
        if index >= WARMUP:
            times_ms.append(elapsed)
            trips.append(proxy.round_trips - before)
            failures += not response.is_success
    return {
        "p50_ms": statistics.median(times_ms),
        "round_trips": statistics.median(trips),
        "max_round_trips": max(trips),
        "requests": REQUESTS,
        "failures": failures,
    }
