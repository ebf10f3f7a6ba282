"""The chat agent on the OpenAI Agents SDK: the catalogue's task tools for the turn's caller,
a model on any OpenAI-compatible Chat Completions API, and the provider's failures as our own
errors. Imported on a worker's first chat request (the SDK takes a second or two to load), by
`router.ChatAgent`.

Tracing is off unless CHAT_TRACING is set; even then, no message, answer or tool argument is
in a trace (`trace_include_sensitive_data=False`).
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import openai
from agents import (
    Agent,
    AgentsException,
    FunctionTool,
    MaxTurnsExceeded,
    ModelTimeoutError,
    OpenAIChatCompletionsModel,
    RawResponsesStreamEvent,
    RunConfig,
    RunItemStreamEvent,
    Runner,
    ToolExecutionConfig,
    TResponseInputItem,
)
from agents.function_schema import function_schema
from agents.tool_context import ToolContext
from openai.types.responses import ResponseTextDeltaEvent
from pydantic import BaseModel, JsonValue

from todo_api.assistants.catalogue import TASK_TOOLS, current_caller, failure_sentence, refused_arguments
from todo_api.chat.errors import ModelBusy, ModelFailed, ModelTimedOut, ModelUnanswered
from todo_api.chat.turns import CHAT_PATH, Reply, Turn
from todo_api.config import Settings
from todo_api.conversations.schemas import ToolCall
from todo_api.db.query import Row
from todo_api.logs import log_unhandled_error
from todo_api.models import MessageRole

logger = logging.getLogger(__name__)

# Sent to providers that need no key (a local Ollama): the client refuses to start without one.
NO_KEY = "unused"


def stopped_early(max_turns: int) -> str:
    """The answer of a turn that reached CHAT_MAX_TURNS: what happened, and what to do."""
    return (
        f"I stopped after {max_turns} steps without finishing. The changes listed with this "
        "answer were made; ask me to go on if there is more to do."
    )


class SDKAgent:
    """The task agent on the configured model; one per app, its HTTP client closed with it."""

    def __init__(self, settings: Settings) -> None:
        if settings.chat_model is None:
            raise ValueError("CHAT_MODEL is not set")
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        self._client = openai.AsyncOpenAI(
            base_url=settings.chat_base_url,
            api_key=key or NO_KEY,
            timeout=settings.chat_timeout,
            max_retries=settings.chat_max_retries,
        )
        self._model_name = settings.chat_model
        # Chat Completions, not the Responses API: what every compatible provider speaks.
        self._model = OpenAIChatCompletionsModel(model=settings.chat_model, openai_client=self._client)
        self._tools: list[FunctionTool] = [task_tool(function) for function in TASK_TOOLS]
        self._max_turns = settings.chat_max_turns
        self._run_config = RunConfig(
            tracing_disabled=not settings.chat_tracing,
            tracing={"api_key": key} if settings.chat_tracing and key else None,
            trace_include_sensitive_data=False,
            workflow_name="todo-api chat",
            # One tool call at a time, in the order the model asked for them.
            tool_execution=ToolExecutionConfig(max_function_tool_concurrency=1),
            # A tool the model made up is an error it reads and can recover from.
            tool_not_found_behavior="return_error_to_model",
        )

    @property
    def model(self) -> str:
        return self._model_name

    async def aclose(self) -> None:
        await self._client.close()

    def _agent(self, turn: Turn) -> Agent[Turn]:
        return Agent[Turn](
            name="todo-api", instructions=turn.instructions, tools=list(self._tools), model=self._model
        )

    async def answer(self, turn: Turn) -> Reply:
        """The whole answer to `turn`, or a ModelUnanswered error."""
        try:
            result = await Runner.run(
                self._agent(turn),
                model_input(turn),
                context=turn,
                max_turns=self._max_turns,
                run_config=self._run_config,
            )
        except MaxTurnsExceeded:
            return Reply(stopped_early(self._max_turns), list(turn.tool_calls))
        except Exception as error:
            raise unanswered(error) from None
        return Reply(str(result.final_output or ""), list(turn.tool_calls))

    async def stream(self, turn: Turn) -> AsyncIterator[str | ToolCall | Reply]:
        """Pieces of the answer's text and each tool call as it returns, then the Reply."""
        result = Runner.run_streamed(
            self._agent(turn),
            model_input(turn),
            context=turn,
            max_turns=self._max_turns,
            run_config=self._run_config,
        )
        told = 0
        finished = False
        try:
            async for event in result.stream_events():
                if isinstance(event, RawResponsesStreamEvent) and isinstance(
                    event.data, ResponseTextDeltaEvent
                ):
                    yield event.data.delta
                elif isinstance(event, RunItemStreamEvent) and event.name == "tool_output":
                    # One tool runs at a time: the calls recorded since the last event are done.
                    for call in turn.tool_calls[told:]:
                        yield call
                    told = len(turn.tool_calls)
            finished = True
        except MaxTurnsExceeded:
            finished = True
            text = stopped_early(self._max_turns)
            yield text
            yield Reply(text, list(turn.tool_calls))
            return
        except Exception as error:
            raise unanswered(error) from None
        finally:
            if not finished:  # failed, or left by its reader: the SDK's run must not go on
                result.cancel()
        yield Reply(str(result.final_output or ""), list(turn.tool_calls))


def model_input(turn: Turn) -> list[TResponseInputItem]:
    """The conversation so far, with the tool calls of earlier answers, then the new message."""
    items: list[TResponseInputItem] = []
    for message in turn.history:
        if message["role"] == MessageRole.USER:
            items.append({"role": "user", "content": message["content"]})
            continue
        items.extend(_earlier_tool_calls(message))
        items.append({"role": "assistant", "content": message["content"]})
    items.append({"role": "user", "content": turn.message})
    return items


def _earlier_tool_calls(message: Row) -> list[TResponseInputItem]:
    if not message["tool_calls"]:
        return []
    items: list[TResponseInputItem] = []
    for index, call in enumerate(json.loads(message["tool_calls"])):
        call_id = f"call_{message['message_id']}_{index}"
        items.append(
            {
                "type": "function_call",
                "call_id": call_id,
                "name": call["name"],
                "arguments": json.dumps(call["arguments"]),
            }
        )
        items.append(
            {"type": "function_call_output", "call_id": call_id, "output": json.dumps(call["result"])}
        )
    return items


def task_tool(function: Callable[..., Awaitable[BaseModel]]) -> FunctionTool:
    """A catalogue function as the agent's tool: its signature is the schema (no argument names
    a user, and one that does is refused), it acts for the turn's caller only, and a failure is
    the sentence the MCP tools give too."""
    schema = function_schema(function, strict_json_schema=False)
    # Not strict mode: not every compatible provider takes it; our own validation is strict.
    parameters = schema.params_json_schema | {"additionalProperties": False}
    known = frozenset(parameters.get("properties", {}))

    async def invoke(context: ToolContext[Turn], arguments: str) -> str:
        turn = context.context
        given = _arguments(arguments)
        result: JsonValue
        if given is None:
            result = "Invalid arguments: not a JSON object"
        elif refused := refused_arguments(given, known):
            result = refused
        else:
            acting = current_caller.set(turn.caller)
            try:
                args, kwargs = schema.to_call_args(schema.params_pydantic_model.model_validate(given))
                result = (await function(*args, **kwargs)).model_dump(mode="json")
            except Exception as error:
                result = failure_sentence(error, path=CHAT_PATH)
            finally:
                current_caller.reset(acting)
        turn.tool_calls.append(ToolCall(name=schema.name, arguments=given or {}, result=result))
        return json.dumps(result)

    return FunctionTool(
        name=schema.name,
        description=" ".join((schema.description or "").split()),
        params_json_schema=parameters,
        on_invoke_tool=invoke,
        strict_json_schema=False,
    )


def _arguments(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def unanswered(error: Exception) -> ModelUnanswered:
    """The provider's failure as ours, logged by its kind and status only: its text may echo a
    prompt."""
    status: int | None = None
    if isinstance(error, openai.APITimeoutError | ModelTimeoutError):
        ours: ModelUnanswered = ModelTimedOut()
    elif isinstance(error, openai.RateLimitError):
        status = error.status_code
        ours = ModelBusy(retry_after(error.response.headers))
    elif isinstance(error, openai.APIStatusError):
        status = error.status_code
        ours = ModelFailed()
    elif isinstance(error, openai.OpenAIError | AgentsException | ValueError):
        # Unreachable, or a reply that is not the API's (not JSON, not its shape).
        ours = ModelFailed()
    else:
        # Neither the provider's nor the model's doing: a bug, logged as one; still a 502.
        log_unhandled_error(error, path=CHAT_PATH, client=None)
        return ModelFailed()
    logger.warning(
        "chat model failed",
        extra={"event": "chat_model_failed", "error": type(error).__name__, "provider_status": status},
    )
    return ours


def retry_after(headers: Any) -> int | None:
    """The provider's Retry-After (seconds or an HTTP date) as whole seconds, if it gave one."""
    value = headers.get("retry-after")
    if value is None:
        milliseconds = headers.get("retry-after-ms")
        try:
            return max(1, math.ceil(float(milliseconds) / 1000)) if milliseconds is not None else None
        except ValueError:
            return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    if not math.isfinite(seconds):
        return None
    return max(1, math.ceil(seconds))
