"""Every task test runs against both route families: /api/tasks and /api/{user_id}/tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest


class TaskApi:
    """Calls the task routes of one family as a given user."""

    def __init__(
        self, client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]], *, path_form: bool
    ) -> None:
        self.client = client
        self.auth = auth
        self.path_form = path_form

    def url(self, user: str, task_id: int | str | None = None, suffix: str = "") -> str:
        base = f"/api/{user}/tasks" if self.path_form else "/api/tasks"
        return base + (f"/{task_id}" if task_id is not None else "") + suffix

    async def call(
        self, method: str, user: str, task_id: int | str | None = None, suffix: str = "", **kwargs: Any
    ) -> httpx.Response:
        headers = self.auth(user) | kwargs.pop("headers", {})
        return await self.client.request(method, self.url(user, task_id, suffix), headers=headers, **kwargs)

    async def create(self, user: str, **body: Any) -> dict[str, Any]:
        response = await self.call("POST", user, json={"title": "a task", **body})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def get(self, user: str, task_id: int) -> httpx.Response:
        return await self.call("GET", user, task_id)

    async def list(self, user: str, **params: Any) -> httpx.Response:
        return await self.call("GET", user, params=params)


@pytest.fixture(params=["token-form", "path-form"])
def api(
    request: pytest.FixtureRequest, client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]]
) -> TaskApi:
    return TaskApi(client, auth, path_form=request.param == "path-form")
