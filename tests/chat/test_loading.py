"""The Agents SDK (and the OpenAI client) load with a worker's first chat request, not with the
app: a worker that never chats does without them. Tracing stays off unless asked for."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

from agents import add_trace_processor
from agents.tracing import TracingProcessor

from tests.chat.conftest import Chat, chat_settings
from tests.chat.model_server import Call, Say, ScriptedModel

# A fresh interpreter: this test process has imported the SDK long ago.
IN_A_FRESH_PROCESS = """
import asyncio, json, logging, sys
import httpx
from tests.conftest import SECRET, make_settings
from todo_api.main import create_app
from todo_api.tokens import create_token

async def main():
    app = create_app(make_settings(database_url=sys.argv[1], **json.loads(sys.argv[2])))
    headers = {"Authorization": "Bearer " + create_token("alice", SECRET, ttl_seconds=60)}
    loaded = lambda: " ".join(str(name in sys.modules) for name in ("agents", "openai"))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers, timeout=60
    ) as client:
        rest = await client.get("/api/tasks")
        print("rest", rest.status_code, loaded())
        answer = await client.post("/api/chat", json={"message": "hi"})
        print("chat", answer.status_code, loaded())
    root = logging.getLogger()
    print("logging", len(root.handlers), logging.getLevelName(root.level))

asyncio.run(main())
"""


def _run(database_url: str, settings: str) -> list[list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", IN_A_FRESH_PROCESS, database_url, settings],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [line.split() for line in result.stdout.splitlines()]


async def test_the_agents_sdk_is_loaded_by_the_first_chat_request_not_by_the_app(
    database_url: str, model: ScriptedModel
) -> None:
    model.answer(Say("hello"))
    settings = json.dumps({key: str(value) for key, value in chat_settings(model).items()})

    # The model's server answers in this event loop while the other process waits on it.
    rest, chat, logging_after = await asyncio.to_thread(_run, database_url, settings)

    assert rest == ["rest", "200", "False", "False"]
    assert chat == ["chat", "200", "True", "True"]
    # Loading the SDK left the process's logging as it was.
    assert logging_after == ["logging", "0", "WARNING"]
    [request] = model.received
    assert request.body["messages"][-1] == {"role": "user", "content": "hi"}


class TraceRecorder(TracingProcessor):
    """Records every trace and span the SDK starts while `recording`."""

    def __init__(self) -> None:
        self.recording = True
        self.started: list[Any] = []

    def on_trace_start(self, trace: Any) -> None:
        if self.recording:
            self.started.append(trace)

    def on_trace_end(self, trace: Any) -> None:
        pass

    def on_span_start(self, span: Any) -> None:
        if self.recording:
            self.started.append(span)

    def on_span_end(self, span: Any) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


async def test_no_trace_is_made_unless_tracing_is_turned_on(chat: Chat, model: ScriptedModel) -> None:
    recorder = TraceRecorder()
    # The SDK has no way to remove a processor: this one stops recording when the test ends.
    add_trace_processor(recorder)
    try:
        model.answer(Call(("list_tasks", {})), Say("Nothing yet."))
        await chat.ok("alice", "what do I have?", stream=False)
        model.answer(Say("Still nothing."))
        streamed = await chat.send("alice", "and now?", stream=True)
    finally:
        recorder.recording = False

    assert streamed.status_code == 200
    assert len(model.received) == 3
    assert recorder.started == []
