"""What one chat turn costs the service itself, without the model's own time, measured in-process.

The whole app over an ASGI client (middleware, authentication, the conversation's statements,
the Agents SDK, the OpenAI client over HTTP, the tool's service call), on SQLite in a temporary
directory, rate limits off. The model is the tests' scripted Chat Completions server
(`tests/chat/model_server.py`) in a process of its own, answering at once by rule: "hello" with
text (one model call), "add <title>" with an `add_task` call and then "Done." (two model calls).
Each turn starts a conversation, so every turn sends the model the same history (none).

Two figures per turn, best of several passes (the least disturbed on a shared machine),
medians kept too:
- CPU: this process's CPU time (all its threads, aiosqlite's included) per turn. The model's
  work is in the other process, so this is the service's own work and nothing else.
- wall: the time per turn less the time the model server spent answering (its own count):
  the service's time, plus the round trips to the model over the loopback.
`python -m bench.chatcost` runs it alone, briefly; it needs no network beyond 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from todo_api.config import Settings
from todo_api.main import create_app
from todo_api.migrations import upgrade_database
from todo_api.tokens import create_token

PROJECT = Path(__file__).resolve().parents[1]
PASSES = 7
TURNS_PER_PASS = 40
# The scripted model's module, run as `python -m` from the project (the benchmark imports
# nothing of the tests).
MODEL_SERVER = "tests.chat.model_server"
MODEL = "scripted-model"
STARTED_WITHIN = 60.0

Timings = dict[str, list[float]]


class ModelProcess:
    """The scripted model in a process of its own: its URL, and how long it spent answering."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", MODEL_SERVER, "--by-rule"],
            cwd=PROJECT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()  # printed once it serves
        if not self.url.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"the scripted model did not start: {self.url!r}")

    async def busy_seconds(self, client: httpx.AsyncClient) -> float:
        stats = (await client.get(self.url.removesuffix("/v1") + "/stats")).json()
        return float(stats["busy_seconds"])

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()  # it serves until its stdin closes
        try:
            self.process.wait(timeout=STARTED_WITHIN)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def _timed_passes(
    turn: Callable[[], Awaitable[None]], model_busy: Callable[[], Awaitable[float]], turns: int
) -> Timings:
    await turn()  # warm: the SDK loaded, the agent built, statements compiled, the token cached
    cpu, wall = [], []
    for _ in range(PASSES):
        busy = await model_busy()
        cpu_started, started = time.process_time(), time.perf_counter()
        for _ in range(turns):
            await turn()
        elapsed = time.perf_counter() - started
        cpu.append(time.process_time() - cpu_started)
        wall.append(elapsed - (await model_busy() - busy))
    return {"cpu": cpu, "wall": wall}


async def _measure(settings: Settings, model: ModelProcess, turns: int) -> dict[str, Timings]:
    await upgrade_database(settings)
    app = create_app(settings)
    assert settings.better_auth_secret is not None
    token = create_token("bench-user", settings.better_auth_secret.get_secret_value(), ttl_seconds=3600)
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(timeout=STARTED_WITHIN) as stats_client,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers=auth,
            timeout=STARTED_WITHIN,
        ) as client,
    ):

        def chat(message: str, calls: int) -> Callable[[], Awaitable[None]]:
            async def turn() -> None:
                response = await client.post("/api/chat", json={"message": message})
                if response.status_code != 200 or len(response.json()["tool_calls"]) != calls:
                    raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

            return turn

        async def model_busy() -> float:
            return await model.busy_seconds(stats_client)

        return {
            "plain": await _timed_passes(chat("hello", 0), model_busy, turns),
            "tool": await _timed_passes(chat("add buy milk", 1), model_busy, turns),
        }


def measure(turns: int = TURNS_PER_PASS) -> dict[str, float]:
    """µs per chat turn in the service, the model's own time excluded: a turn answered with text
    (`plain`) and one with an `add_task` call (`tool`), as CPU and as wall time."""
    model = ModelProcess()
    try:
        with tempfile.TemporaryDirectory() as directory:
            settings = Settings(
                database_url=f"sqlite:///{Path(directory) / 'bench.db'}",
                better_auth_secret=secrets.token_urlsafe(48),
                rate_limit_enabled=False,
                chat_model=MODEL,
                openai_base_url=model.url,
                openai_api_key="bench-placeholder-key",
                chat_max_retries=0,
                _env_file=None,  # type: ignore[call-arg]
            )
            timings = asyncio.run(_measure(settings, model, turns))
    finally:
        model.close()
    per_turn = 1e6 / turns
    results: dict[str, float] = {"turns_per_pass": turns}
    for kind, measured in timings.items():
        for figure, values in measured.items():
            results[f"{kind}_{figure}_us"] = round(min(values) * per_turn)
            results[f"{kind}_{figure}_median_us"] = round(statistics.median(values) * per_turn)
    return results


if __name__ == "__main__":
    print(measure())
