"""A model for the chat tests: an OpenAI-compatible Chat Completions server in the test process
(`POST /v1/chat/completions`, plain JSON or `stream: true` server-sent events, tool calls
included, their arguments streamed in fragments), answering each request with the next reply of
the test's script and recording what it was sent. The real `openai` client and the real Agents
SDK talk to it over HTTP, as they would to a provider.

`python -m tests.chat.model_server` serves one in a process of its own and prints its URL:
with `--port N` on that port, for the tests that run the service as a process (tests/interop),
which give it its script with `PUT /script` (a JSON list of replies, see `reply_of`) and read
what it was sent at `GET /received`; with `--by-rule`, answering by rule (see `by_rule`) until
its standard input closes, as the benchmark's model, whose work is then not the service's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import socket
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

MODEL = "scripted-model"
_ids = itertools.count(1)


class Reply:
    """One scripted answer to one request."""

    async def respond(self, body: dict[str, Any], model: ScriptedModel) -> Response:
        raise NotImplementedError


def _completion(message: dict[str, Any], finish: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": 1_800_000_000,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> bytes:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    chunk = {
        "id": "chatcmpl-stream",
        "object": "chat.completion.chunk",
        "created": 1_800_000_000,
        "model": MODEL,
        "choices": choices,
    } | extra
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def pieces(text: str, count: int = 3) -> list[str]:
    """`text` cut in about `count` pieces, as a model streams it."""
    size = max(1, -(-len(text) // count))
    return [text[start : start + size] for start in range(0, len(text), size)] or [""]


def _streamed(chunks: list[bytes]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk
        yield b"data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream")


@dataclass
class Say(Reply):
    """Answer with text; streamed, `pause` seconds after each piece (a model writing slowly),
    and `hold` (when given) awaited after the first piece, so the rest of the answer comes only
    once the test sets it."""

    text: str
    pause: float = 0.0
    hold: asyncio.Event | None = None

    async def respond(self, body: dict[str, Any], model: ScriptedModel) -> Response:
        if not body.get("stream"):
            return JSONResponse(_completion({"role": "assistant", "content": self.text}, "stop"))
        first = [_chunk({"role": "assistant", "content": ""})]
        text = pieces(self.text)
        first.append(_chunk({"content": text[0]}))
        rest = [_chunk({"content": piece}) for piece in text[1:]]
        rest.append(_chunk({}, "stop"))
        rest.append(_chunk(None, usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}))
        hold, pause = self.hold, self.pause

        async def held() -> AsyncIterator[bytes]:
            for chunk in first:
                yield chunk
            if hold is not None:
                await hold.wait()
            for chunk in rest:
                if pause:
                    await asyncio.sleep(pause)  # a model writing slowly, for a person to see
                yield chunk
            yield b"data: [DONE]\n\n"

        return StreamingResponse(held(), media_type="text/event-stream")


@dataclass
class Call(Reply):
    """Call tools: each (name, arguments), in one reply; `raw` sends arguments text as it is."""

    calls: list[tuple[str, dict[str, Any] | str]]

    def __init__(self, *calls: tuple[str, dict[str, Any] | str]) -> None:
        self.calls = list(calls)

    def _arguments(self, arguments: dict[str, Any] | str) -> str:
        return arguments if isinstance(arguments, str) else json.dumps(arguments)

    async def respond(self, body: dict[str, Any], model: ScriptedModel) -> Response:
        ids = [f"call_{next(_ids)}" for _ in self.calls]
        if not body.get("stream"):
            tool_calls = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": self._arguments(args)},
                }
                for call_id, (name, args) in zip(ids, self.calls, strict=True)
            ]
            return JSONResponse(
                _completion({"role": "assistant", "content": None, "tool_calls": tool_calls}, "tool_calls")
            )
        chunks = [_chunk({"role": "assistant", "content": None})]
        for index, (call_id, (name, args)) in enumerate(zip(ids, self.calls, strict=True)):
            opening = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            chunks.append(_chunk({"tool_calls": [opening]}))
            # The arguments in fragments, as providers stream them.
            for fragment in pieces(self._arguments(args)):
                chunks.append(_chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}))
        chunks.append(_chunk({}, "tool_calls"))
        return _streamed(chunks)


@dataclass
class Fail(Reply):
    """Answer with an HTTP error, as a provider does."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "provider-secret-text: the provider's own words"

    async def respond(self, body: dict[str, Any], model: ScriptedModel) -> Response:
        error = {"error": {"message": self.message, "type": "server_error", "code": None}}
        return JSONResponse(error, self.status, headers=self.headers)


@dataclass
class Garbage(Reply):
    """A 200 whose body is not the API's JSON."""

    async def respond(self, body: dict[str, Any], model: ScriptedModel) -> Response:
        if body.get("stream"):
            return _streamed([b"data: {this is not json\n\n"])
        return Response(b"<html>this is not json", media_type="application/json")


@dataclass
class Hang(Reply):
    """No answer until the test ends: only the client's timeout ends the wait."""

    async def respond(self, body: dict[str, Any], model: ScriptedModel) -> Response:
        await model.released.wait()
        return JSONResponse(_completion({"role": "assistant", "content": "too late"}, "stop"))


@dataclass
class Silent(Reply):
    """Say nothing until `until` is set, then answer with `reply`: a model thinking for long."""

    reply: Reply
    until: asyncio.Event

    async def respond(self, body: dict[str, Any], model: ScriptedModel) -> Response:
        await self.until.wait()
        return await self.reply.respond(body, model)


@dataclass
class Think(Reply):
    """Answer with what `decide` makes of the request, as a model reads its instructions, the
    conversation and the tools' results to choose its answer."""

    decide: Callable[[Received], Reply]

    async def respond(self, body: dict[str, Any], model: ScriptedModel) -> Response:
        return await self.decide(Received(body, {})).respond(body, model)


@dataclass
class Received:
    """A request the model got."""

    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body["messages"])

    @property
    def tool_names(self) -> list[str]:
        return [tool["function"]["name"] for tool in self.body.get("tools", [])]

    @property
    def instructions(self) -> str:
        """The system message: the agent's instructions."""
        first = self.messages[0]
        assert first["role"] == "system", first
        return str(first["content"])

    def tool_results(self) -> list[Any]:
        """What each tool call in the conversation returned, in order, read as JSON."""
        return [json.loads(m["content"]) for m in self.messages if m["role"] == "tool"]


def by_rule(received: Received) -> Reply:
    """The benchmark's model: a tool's result is answered "Done.", a message beginning with
    "add " is an add_task of the rest, anything else is answered "Hello."."""
    last = received.messages[-1]
    if last["role"] == "tool":
        return Say("Done.")
    content = str(last.get("content") or "")
    if content.startswith("add "):
        return Call(("add_task", {"title": content.removeprefix("add ")}))
    return Say("Hello.")


class ScriptedModel:
    """The server's state: the script still to answer, and what it was sent."""

    def __init__(self, otherwise: Callable[[Received], Reply] | None = None, *, record: bool = True) -> None:
        self.script: deque[Reply] = deque()
        self.received: list[Received] = []
        self.released = asyncio.Event()
        self.url = ""
        # Answers a request when the script has no reply left (none: a 500 saying so).
        self.otherwise = otherwise
        self.record = record
        # Seconds spent answering (reading the request, building the answer), for the benchmark.
        self.busy_seconds = 0.0
        self.answered = 0

    def answer(self, *replies: Reply) -> None:
        """Queue replies: each request takes the next one."""
        self.script.extend(replies)

    async def completions(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            body = await request.json()
            received = Received(body, dict(request.headers))
            if self.record:
                self.received.append(received)
            if self.script:
                return await self.script.popleft().respond(body, self)
            if self.otherwise is not None:
                return await self.otherwise(received).respond(body, self)
            return JSONResponse({"error": {"message": "the script has no reply left"}}, 500)
        finally:
            self.busy_seconds += time.perf_counter() - started
            self.answered += 1

    async def stats(self, request: Request) -> Response:
        return JSONResponse({"busy_seconds": self.busy_seconds, "answered": self.answered})

    async def models(self, request: Request) -> Response:
        """The model list, as providers answer it (what a process's readiness check asks)."""
        return JSONResponse(
            {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "test"}]}
        )

    async def replace_script(self, request: Request) -> Response:
        """A new script (a JSON list of replies), in place of what was left of the last."""
        self.script = deque(reply_of(reply) for reply in await request.json())
        self.received = []
        return Response(status_code=204)

    async def received_bodies(self, request: Request) -> Response:
        """The body of every request since the script was given, in order."""
        return JSONResponse([received.body for received in self.received])

    def app(self, *, scriptable: bool = False) -> Starlette:
        routes = [
            Route("/v1/chat/completions", self.completions, methods=["POST"]),
            Route("/stats", self.stats),
        ]
        if scriptable:
            routes += [
                Route("/v1/models", self.models),
                Route("/script", self.replace_script, methods=["PUT"]),
                Route("/received", self.received_bodies),
            ]
        return Starlette(routes=routes)


def reply_of(data: dict[str, Any]) -> Reply:
    """A reply from its JSON: `{"say": text, "pause": seconds}`, `{"call": [[name, arguments], …]}`
    or `{"fail": status}`."""
    if "say" in data:
        return Say(data["say"], float(data.get("pause", 0.0)))
    if "call" in data:
        return Call(*((name, arguments) for name, arguments in data["call"]))
    if "fail" in data:
        return Fail(int(data["fail"]))
    raise ValueError(f"not a reply: {data!r}")


# How long a server may take to start or to stop.
PATIENCE = 30.0


@asynccontextmanager
async def served(app: ASGIApp, *, port: int = 0, **options: Any) -> AsyncIterator[str]:
    """uvicorn serving `app` on 127.0.0.1 (on `port`, or a free one), in this event loop, for the
    block: its base URL (`http://127.0.0.1:<port>`)."""
    listening = socket.create_server(("127.0.0.1", port))
    # Inherited by each connection it accepts: an answer's head and body, written apart, are
    # sent at once rather than the body waiting for the client's delayed ACK (40 ms on Linux).
    listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    config: dict[str, Any] = {
        "log_level": "warning",
        "lifespan": "off",
        "timeout_graceful_shutdown": 5,
    } | options
    server = uvicorn.Server(uvicorn.Config(app, **config))
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    try:
        while not server.started:
            if serving.done():
                serving.result()  # raises what stopped it
                raise RuntimeError("uvicorn stopped before it started")
            if loop.time() > deadline:
                raise TimeoutError(f"uvicorn did not start within {PATIENCE:g} s")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{listening.getsockname()[1]}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(serving, PATIENCE)
        finally:
            listening.close()


@asynccontextmanager
async def scripted_model(model: ScriptedModel | None = None) -> AsyncIterator[ScriptedModel]:
    """The model's server on a free port of 127.0.0.1, in this event loop, for the block."""
    model = model or ScriptedModel()
    async with served(model.app()) as url:
        model.url = f"{url}/v1"
        try:
            yield model
        finally:
            model.released.set()  # a Hang still waiting ends, so the server can stop


async def _serve(arguments: argparse.Namespace) -> None:
    model = ScriptedModel(by_rule, record=False) if arguments.by_rule else ScriptedModel()
    async with served(model.app(scriptable=True), port=arguments.port) as url:
        model.url = f"{url}/v1"
        print(model.url, flush=True)
        try:
            if arguments.by_rule:
                # Until stdin closes: the process that started this one ended it, or went away.
                await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
            else:
                await asyncio.Event().wait()  # until stopped
        finally:
            model.released.set()


def main() -> None:
    """Serve a model on 127.0.0.1 until stopped (or, by rule, until stdin closes)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="the port (default: a free one)")
    parser.add_argument("--by-rule", action="store_true", help="answer by rule (the benchmark's model)")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
