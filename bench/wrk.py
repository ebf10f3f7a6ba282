"""wrk, the closed-loop load: install it if missing, run the Lua workload, read its numbers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("workload.lua")
MARKER = "BENCH_JSON "


@dataclass(frozen=True)
class LoadResult:
    """One load run: throughput, latency percentiles (ms), statuses and failures.

    `requests` counts every answer, `ok_requests` the 2xx ones; `rps` is 2xx answers per second,
    so a server that answers fast with errors does not look fast.
    """

    requests: int
    ok_requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p99_9_ms: float
    max_ms: float
    statuses: dict[str, int]
    non_2xx: int
    socket_errors: int


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's package when missing (root or sudo needed)."""
    found = shutil.which("wrk")
    if found:
        return found
    print(
        "bench: wrk is not installed; installing Debian's package: apt-get update && apt-get install -y wrk",
        file=sys.stderr,
        flush=True,
    )
    prefix = [] if os.geteuid() == 0 else (["sudo"] if shutil.which("sudo") else None)
    if prefix is None or not shutil.which("apt-get"):
        raise SystemExit(
            "bench: cannot install wrk here; install it (Debian/Ubuntu: `apt-get install wrk`) and rerun"
        )
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        if subprocess.run(prefix + command, env=env, check=False).returncode != 0:
            raise SystemExit(f"bench: `{' '.join(command)}` failed; install wrk by hand and rerun")
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: wrk still not found after installing it")
    return found


def wrk_version(wrk: str) -> str:
    """The first line of `wrk -v`, e.g. 'wrk 4.1.0 [epoll] Copyright (C) 2012 Will Glozer'."""
    output = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False).stdout
    return output.splitlines()[0].split(" Copyright")[0] if output else "wrk"


def run_wrk(
    wrk: str,
    url: str,
    load_file: Path,
    mode: str,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    pin: list[str] | None = None,
    api: str = "service",
) -> LoadResult:
    """Run wrk with the workload script for `seconds` and return what its done() reported."""
    command = [
        *(pin or []),
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(SCRIPT),
        url,
        "--",
        str(load_file),
        mode,
        api,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((row for row in completed.stdout.splitlines() if row.startswith(MARKER)), None)
    if completed.returncode != 0 or line is None:
        reason = completed.stderr.strip() or completed.stdout[-500:]
        raise RuntimeError(f"wrk failed ({completed.returncode}): {reason}")
    return parse(json.loads(line.removeprefix(MARKER)))


def parse(raw: dict[str, object]) -> LoadResult:
    """LoadResult from the JSON the Lua done() prints (wrk counts in microseconds)."""
    latency = raw["latency_us"]
    errors = raw["errors"]
    statuses = raw["statuses"]
    assert isinstance(latency, dict) and isinstance(errors, dict) and isinstance(statuses, dict)
    seconds = int(str(raw["duration_us"])) / 1e6
    counts = {str(code): int(count) for code, count in sorted(statuses.items())}
    ok = sum(count for code, count in counts.items() if code.startswith("2"))
    return LoadResult(
        requests=int(str(raw["requests"])),
        ok_requests=ok,
        seconds=seconds,
        rps=ok / seconds if seconds else 0.0,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        p99_9_ms=latency["p99_9"] / 1000,
        max_ms=latency["max"] / 1000,
        statuses=counts,
        non_2xx=sum(count for code, count in counts.items() if not code.startswith("2")),
        socket_errors=sum(int(errors[key]) for key in ("connect", "read", "write", "timeout")),
    )
