"""A model for the chat tests: an OpenAI-compatible Chat Completions server in the test process
(`POST /v1/chat/completions`, plain JSON or `stream: true` server-sent events, tool calls
included, their arguments streamed in fragments), answering each request with the next reply of
the test's script and recording what it was sent. The real `openai` client and the real Agents
SDK talk to it over HTTP, as they would to a provider.

`python -m tests.chat.model_server --port N` serves it in a process of its own, for the tests
that run the service as a process (tests/interop): they give it its script with `PUT /script`
(a JSON list of replies, see `reply_of`) and read what it was sent at `GET /received`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import socket
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.conftest import answered_within, eventually

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


def _streamed(chunks: list[bytes], pause: float = 0.0) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk
            await asyncio.sleep(pause)
        yield b"data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream")


@dataclass
class Say(Reply):
    """Answer with text; streamed, `pause` seconds after each piece (a model writing slowly)."""

    text: str
    pause: float = 0.0

    async def respond(self, body: dict[str, Any], model: ScriptedModel) -> Response:
        if not body.get("stream"):
            return JSONResponse(_completion({"role": "assistant", "content": self.text}, "stop"))
        chunks = [_chunk({"role": "assistant", "content": ""})]
        chunks += [_chunk({"content": piece}) for piece in pieces(self.text)]
        chunks.append(_chunk({}, "stop"))
        chunks.append(_chunk(None, usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}))
        return _streamed(chunks, self.pause)


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


class ScriptedModel:
    """The server's state: the script still to answer, and what it was sent."""

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.received: list[Received] = []
        self.released = asyncio.Event()
        self.url = ""

    def answer(self, *replies: Reply) -> None:
        """Queue replies: each request takes the next one."""
        self.script.extend(replies)

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.received.append(Received(body, dict(request.headers)))
        if not self.script:
            return JSONResponse({"error": {"message": "the script has no reply left"}}, 500)
        return await self.script.popleft().respond(body, self)

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
        routes = [Route("/v1/chat/completions", self.completions, methods=["POST"])]
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


@asynccontextmanager
async def scripted_model() -> AsyncIterator[ScriptedModel]:
    """The model's server on a free port of 127.0.0.1, in this event loop, for the block."""
    model = ScriptedModel()
    with _listening() as listening:
        model.url = f"http://127.0.0.1:{listening.getsockname()[1]}/v1"
        server = uvicorn.Server(
            uvicorn.Config(model.app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=5)
        )
        serving = asyncio.create_task(server.serve(sockets=[listening]))

        async def started() -> bool:
            if serving.done():
                serving.result()  # raises what stopped it
            return server.started

        try:
            await eventually(started, "serving")
            yield model
        finally:
            model.released.set()
            server.should_exit = True
            await answered_within(serving)


@contextmanager
def _listening() -> Iterator[socket.socket]:
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listening.bind(("127.0.0.1", 0))
        yield listening
    finally:
        listening.close()


def main() -> None:
    """Serve a scriptable model on 127.0.0.1 until stopped."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    uvicorn.run(ScriptedModel().app(scriptable=True), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
