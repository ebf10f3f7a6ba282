"""Who used the CPU during a measurement: the server, PostgreSQL, the load generator, or anything else."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def involuntary_switches(pid: int) -> int:
    """How often the process was preempted while it wanted to run (CPU contention)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("nonvoluntary_ctxt_switches:"):
            return int(line.split()[1])
    return 0


def postgres_cpu_seconds() -> float:
    """CPU time of every local `postgres` process (backends included); 0 when none is visible."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                total += process_cpu_seconds(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
    return total


def machine_busy_seconds() -> float:
    """CPU seconds spent busy on all cores since boot (/proc/stat), idle and iowait excluded."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def _children_seconds() -> float:
    # wrk and the open-loop generator are waited-for children: their CPU lands here when they exit.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuMeter:
    """CPU seconds per party between start() and stop(), for one server process."""

    server_pid: int
    _start: dict[str, float] = field(default_factory=dict)

    def _snapshot(self) -> dict[str, float]:
        return {
            "wall": time.monotonic(),
            "server": process_cpu_seconds(self.server_pid),
            "server_preempted": float(involuntary_switches(self.server_pid)),
            "postgres": postgres_cpu_seconds(),
            "load": _children_seconds(),
            "bench": _own_seconds(),
            "machine": machine_busy_seconds(),
        }

    def start(self) -> None:
        self._start = self._snapshot()

    def stop(self, requests: int) -> dict[str, float]:
        """Per-request µs for the server and PostgreSQL, and each party's share of one core in %."""
        end = self._snapshot()
        used = {key: end[key] - self._start[key] for key in end}
        wall = used.pop("wall")
        other = used["machine"] - used["server"] - used["postgres"] - used["load"] - used["bench"]
        requests = max(1, requests)
        return {
            "server_cpu_us_per_request": used["server"] / requests * 1e6,
            "postgres_cpu_us_per_request": used["postgres"] / requests * 1e6,
            "server_cpu_percent": 100 * used["server"] / wall,
            "postgres_cpu_percent": 100 * used["postgres"] / wall,
            "load_generator_cpu_percent": 100 * used["load"] / wall,
            "other_cpu_percent": 100 * max(0.0, other) / wall,
            "server_preemptions": used["server_preempted"],
        }
