"""What a write route reads of `Idempotency-Key`, and the one helper it answers through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response

from todo_api.auth import CurrentUser
from todo_api.db.connection import Database
from todo_api.http_errors import documented
from todo_api.idempotency import service
from todo_api.state import app_state

# The headers of an answer that a replay repeats, besides its status and body.
REPLAYED_HEADERS = ("content-type", "etag", "location")
REPLAYED = "Idempotent-Replayed"
# The characters allowed are said in words: a pattern would have Swagger UI's "Try it out" fill
# the field with random symbols.
HEADER_SCHEMA: dict[str, Any] = {"minLength": 1, "maxLength": service.MAX_KEY_LENGTH}
HEADER_DESCRIPTION = (
    "A key of your choosing (1 to 255 visible ASCII characters; a UUID will do) that makes the "
    "write safe to retry: the first successful answer is kept with the key for your account for "
    "IDEMPOTENCY_TTL (24 hours), and a retry with the key and the same request gets it again, with "
    "`Idempotent-Replayed: true`, instead of writing twice. A refused request (4xx) uses no key."
)
# For the documented headers of an idempotent route's successful answer.
REPLAYED_HEADER: dict[str, Any] = {
    REPLAYED: {
        "description": "`true` when this is the stored answer to an earlier request with the same key.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
# Added to each idempotent route's documented answers.
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: documented("Idempotency-Key is not 1 to 255 visible ASCII characters."),
    409: documented(
        "A request with the same Idempotency-Key is still in progress; retry after `Retry-After` seconds."
    ),
    422: {"description": "The Idempotency-Key was already used for a different request (`detail` says so)."},
}


def idempotent_responses(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """A route's documented answers, with those of Idempotency-Key; where a status is already
    documented, its description says both."""
    merged = dict(responses)
    for status, entry in RESPONSES.items():
        if status in merged:
            first = merged[status]
            merged[status] = first | {"description": f"{first['description']}\n\n{entry['description']}"}
        else:
            merged[status] = entry
    return merged


@dataclass(frozen=True, slots=True)
class Idempotency:
    """The request's Idempotency-Key, checked, with what a retry must match; no key: None."""

    user_id: str
    key: str | None
    fingerprint: str
    ttl: timedelta

    async def answer(self, database: Database, write: Callable[[Database], Awaitable[Response]]) -> Response:
        """`write`'s answer; with a key, once per key (`service.answer_once`) and replayed after."""
        if self.key is None:
            return await write(database)

        async def written(database: Database) -> service.Answer:
            response = await write(database)
            headers = {name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers}
            return service.Answer(status=response.status_code, body=bytes(response.body), headers=headers)

        answer = await service.answer_once(
            database,
            user_id=self.user_id,
            key=self.key,
            fingerprint=self.fingerprint,
            ttl=self.ttl,
            write=written,
        )
        headers = dict(answer.headers) | ({REPLAYED: "true"} if answer.replayed else {})
        return Response(answer.body, answer.status, headers)

    async def claim(
        self, database: Database, *, lost_after: timedelta
    ) -> service.Claim | service.Answer | None:
        """For a request too long for one transaction (a chat turn): the key claimed
        (`service.claim`), the stored answer to replay, or None without a key."""
        if self.key is None:
            return None
        return await service.claim(
            database,
            user_id=self.user_id,
            key=self.key,
            fingerprint=self.fingerprint,
            ttl=self.ttl,
            lost_after=lost_after,
        )


async def read_idempotency_key(
    request: Request,
    user: CurrentUser,
    idempotency_key: Annotated[
        str | None, Header(description=HEADER_DESCRIPTION, json_schema_extra=HEADER_SCHEMA)
    ] = None,
) -> Idempotency:
    """The request's Idempotency-Key (InvalidKey unless 1 to 255 visible ASCII characters)."""
    if idempotency_key is None:
        return Idempotency(user_id=user.id, key=None, fingerprint="", ttl=timedelta())
    key = service.checked_key(idempotency_key)
    ttl = timedelta(seconds=app_state(request).settings.idempotency_ttl)
    path = family_path(request.scope["path"], request.scope.get("root_path", ""), request.path_params)
    return Idempotency(
        user_id=user.id,
        key=key,
        fingerprint=service.fingerprint(request.method, path, await request.body()),
        ttl=ttl,
    )


def family_path(path: str, root_path: str, path_params: dict[str, Any]) -> str:
    """The path as `/api/<collection>/…` names it: `/api/alice/tasks/5` is `/api/tasks/5`."""
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    if "user_id" in path_params:
        # /api/{user_id}/<collection>/...: the edge has checked that the id is the caller's.
        _, api, _user, rest = path.split("/", 3)
        path = f"/{api}/{rest}"
    return path


IdempotencyKey = Annotated[Idempotency, Depends(read_idempotency_key)]
