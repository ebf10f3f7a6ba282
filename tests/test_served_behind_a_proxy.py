"""`todo-api serve` behind a reverse proxy on the same host: links name the public scheme and
host, and forwarded headers are believed only from the proxies FORWARDED_ALLOW_IPS names."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SECRET
from tests.test_cli import serving
from todo_api.tokens import create_token

PROXY = "127.0.0.1"
CLIENT = "203.0.113.7"


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    with serving(tmp_path, BETTER_AUTH_SECRET=SECRET, FORWARDED_ALLOW_IPS=PROXY) as (_, url):
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


@pytest.mark.parametrize(
    ("allowed", "scheme", "client"),
    [
        pytest.param({}, "http", PROXY, id="unset"),
        pytest.param({"FORWARDED_ALLOW_IPS": "10.0.0.0/8, 192.0.2.1"}, "http", PROXY, id="other-proxies"),
        pytest.param({"FORWARDED_ALLOW_IPS": PROXY}, "https", CLIENT, id="this-proxy"),
    ],
)
def test_forwarded_headers_are_believed_only_from_configured_proxies(
    tmp_path: Path, allowed: dict[str, str], scheme: str, client: str
) -> None:
    headers = {"Authorization": f"Bearer {create_token('alice', SECRET)}"}
    forwarded = headers | {"Host": "tasks.example", "X-Forwarded-Proto": "https", "X-Forwarded-For": CLIENT}
    env = {"BETTER_AUTH_SECRET": SECRET, "LOG_LEVEL": "info", "LOG_FORMAT": "json"} | allowed
    with serving(tmp_path, **env) as (process, base_url):
        for title in ("one", "two"):
            httpx.post(f"{base_url}/api/tasks", json={"title": title}, headers=headers).raise_for_status()

        listed = httpx.get(f"{base_url}/api/tasks?limit=1", headers=forwarded)

        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)

    assert listed.headers["link"] == f'<{scheme}://tasks.example/api/tasks?limit=1&offset=1>; rel="next"'
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "request" and line["method"] == "GET"]
    assert [line["client"] for line in access if line["path"] == "/api/tasks"] == [client]
