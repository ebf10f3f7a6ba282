"""What the numbers were measured on: CPU, memory, PostgreSQL, Python and library versions."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "sqlmodel",
    "pydantic",
    "asyncpg",
    "uvicorn",
    "uvloop",
    "pyjwt",
    "orjson",
)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def describe(postgres_version: str, wrk_version: str) -> dict[str, object]:
    """Facts about this machine and software stack, for the report."""
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count() or 0,
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "postgresql": postgres_version,
        "python": platform.python_version(),
        "wrk": wrk_version,
        "packages": {name: _package_version(name) for name in PACKAGES},
    }
