"""Sample a running server with py-spy and say where its CPU time goes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

# "function (path/to/file.py:123)" -> function and file; the line number is dropped so a
# function's samples add up wherever in its body they landed.
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
# Which layer a frame belongs to, by the first matching piece of its file path.
LAYERS = (
    ("todo_api/", "todo_api (service code)"),
    ("bench/", "bench (ceiling code)"),
    ("sqlalchemy/", "SQLAlchemy"),
    ("sqlmodel/", "SQLModel"),
    ("asyncpg/", "asyncpg"),
    ("pydantic", "pydantic"),
    ("fastapi/", "FastAPI"),
    ("starlette/", "Starlette"),
    ("uvicorn/", "uvicorn"),
    ("jwt/", "PyJWT"),
    ("logging/", "logging"),
    ("json/", "json (stdlib)"),
    ("asyncio/", "asyncio"),
    ("uvloop/", "uvloop"),
    ("anyio/", "anyio"),
    ("typing", "typing"),
)


def py_spy() -> str:
    """The py-spy binary from the dev group (next to this interpreter) or on PATH."""
    candidate = Path(sys.executable).with_name("py-spy")
    found = str(candidate) if candidate.exists() else shutil.which("py-spy")
    if not found:
        raise SystemExit("bench: py-spy not found; run `uv sync` (it is in the dev group)")
    return found


def start_recording(pid: int, seconds: float, output: Path, rate: int = 200) -> subprocess.Popen[bytes]:
    """Start py-spy on `pid` for `seconds`, writing collapsed stacks (speedscope and flamegraph.pl read them)."""
    command = [
        py_spy(),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--output",
        str(output),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _parse(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame)
    return (match["function"], match["file"]) if match else (frame, "")


def layer(path: str) -> str:
    """The library or part of the program a file belongs to."""
    for needle, name in LAYERS:
        if needle in path:
            return name
    return "other (stdlib, C calls)"


def summarize(raw: Path, top: int = 20) -> dict[str, Any]:
    """Shares of samples: own time per function and per layer, and inclusive time per function."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_parse(frame) for frame in stack.split(";")]
        function, path = frames[-1]
        own[f"{function} ({path})"] += count
        layers[layer(path)] += count
        for name in {f"{function} ({path})" for function, path in frames}:
            inclusive[name] += count

    def shares(counter: Counter[str], limit: int) -> list[tuple[str, float]]:
        return (
            [(name, round(100 * count / total, 1)) for name, count in counter.most_common(limit)]
            if total
            else []
        )

    return {
        "samples": total,
        "own_top": shares(own, top),
        "inclusive_top": shares(inclusive, top * 2),
        "layers": shares(layers, len(LAYERS) + 1),
    }
