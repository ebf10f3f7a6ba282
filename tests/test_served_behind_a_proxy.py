"""`todo-api serve` behind a reverse proxy on the same host: links name the public scheme and host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SECRET
from tests.test_cli import serving
from todo_api.tokens import create_token


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    with serving(tmp_path, BETTER_AUTH_SECRET=SECRET) as (_, url):
        yield url


def test_next_link_uses_the_forwarded_scheme_and_the_host_the_client_asked_for(base_url: str) -> None:
    headers = {"Authorization": f"Bearer {create_token('alice', SECRET)}"}
    for title in ("one", "two"):
        assert httpx.post(f"{base_url}/api/tasks", json={"title": title}, headers=headers).status_code == 201
    public = headers | {"Host": "tasks.example", "X-Forwarded-Proto": "https"}

    proxied = httpx.get(f"{base_url}/api/tasks?limit=1", headers=public)
    direct = httpx.get(f"{base_url}/api/tasks?limit=1", headers=headers | {"Host": "tasks.example"})

    assert proxied.headers["link"] == '<https://tasks.example/api/tasks?limit=1&offset=1>; rel="next"'
    assert direct.headers["link"] == '<http://tasks.example/api/tasks?limit=1&offset=1>; rel="next"'
