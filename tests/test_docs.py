"""Interactive docs work offline, and the OpenAPI schema documents auth and every error."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.chat.conftest import chat_settings
from tests.chat.model_server import Say, scripted_model
from tests.conftest import TokenFactory, serving


async def assert_served_offline(client: httpx.AsyncClient, page: httpx.Response) -> None:
    """Every asset the page loads is served by this app; nothing comes from a CDN."""
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets
    for asset in assets:
        assert asset.startswith("/"), asset
        assert (await client.get(asset)).status_code == 200, asset
    assert "cdn" not in page.text.lower()
    assert "fonts.googleapis" not in page.text


async def test_swagger_ui_loads_only_local_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")

    await assert_served_offline(client, page)
    assert "persistAuthorization" in page.text


async def test_redoc_loads_only_local_assets(client: httpx.AsyncClient) -> None:
    await assert_served_offline(client, await client.get("/redoc"))


@pytest.mark.parametrize(
    ("overrides", "security"),
    [
        ({"builtin_auth": False}, [{"BearerJWT": []}]),
        ({"builtin_auth": True}, [{"BearerJWT": []}, {"SessionCookie": []}]),
        (
            {"builtin_auth": False, "better_auth_shared_database": True},
            [{"BearerJWT": []}, {"SessionCookie": []}],
        ),
    ],
)
async def test_openapi_declares_bearer_auth_and_the_session_cookie_on_every_task_route(
    database_url: str, overrides: dict[str, bool], security: list[dict[str, list[str]]]
) -> None:
    async with serving(database_url, **overrides) as client:
        schema = (await client.get("/openapi.json")).json()
        again = (await client.get("/openapi.json")).json()

    assert schema["components"]["securitySchemes"]["BearerJWT"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "A JWT from Better Auth's jwt() plugin, or an HS256 token signed with BETTER_AUTH_SECRET."
        ),
    }
    if len(security) > 1:
        assert schema["components"]["securitySchemes"]["SessionCookie"]["name"] == "better-auth.session_token"
    assert again == schema
    for path, operations in schema["paths"].items():
        # Better Auth's own endpoints read their session themselves.
        if not path.startswith("/api") or path.startswith("/api/auth/"):
            continue
        for method, operation in operations.items():
            assert operation["security"] == security, (method, path)
            assert {"401", "500", "503"} <= set(operation["responses"]), (method, path)


async def test_openapi_documents_each_routes_error_statuses(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    assert "400" in paths["/api/tasks"]["get"]["responses"]
    assert {"201", "422", "413"} <= set(paths["/api/tasks"]["post"]["responses"])
    for method in ("get", "put", "patch", "delete"):
        assert "404" in paths["/api/tasks/{task_id}"][method]["responses"]
    for method in ("get", "post"):
        assert "403" in paths["/api/{user_id}/tasks"][method]["responses"]
    assert "403" not in paths["/api/tasks"]["get"]["responses"]
    assert "204" in paths["/api/tasks/{task_id}"]["delete"]["responses"]


async def test_operation_ids_are_unique_and_readable(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    ids = [operation["operationId"] for operations in paths.values() for operation in operations.values()]
    assert len(ids) == len(set(ids))
    assert {"list_tasks", "create_task", "list_tasks_for_user", "complete_task"} <= set(ids)


def keyword_pointers(node: Any, keyword: str, pointer: str = "") -> list[str]:
    """Where `keyword` is a key anywhere in `node`, as JSON pointers."""
    if isinstance(node, dict):
        found = [f"{pointer}/{keyword}"] if keyword in node else []
        for key, value in node.items():
            found += keyword_pointers(value, keyword, f"{pointer}/{key}")
        return found
    if isinstance(node, list):
        return [
            hit
            for index, item in enumerate(node)
            for hit in keyword_pointers(item, keyword, f"{pointer}/{index}")
        ]
    return []


@pytest.mark.parametrize("builtin_auth", [False, True])
async def test_the_openapi_document_has_no_pattern_for_people_to_read(
    database_url: str, builtin_auth: bool
) -> None:
    # Swagger UI's "Try it out" fills a field from its pattern: a title of random symbols.
    async with serving(database_url, builtin_auth=builtin_auth) as client:
        document = (await client.get("/openapi.json")).json()

    assert keyword_pointers(document, "pattern") == []


async def test_the_title_rule_is_stated_in_words(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]

    for model in ("TaskCreate", "TaskUpdate"):
        title = schemas[model]["properties"]["title"]
        assert title["type"] == "string"
        assert title["minLength"] == 1
        # The limit counts the title once trimmed, so a schema maxLength would not be true.
        assert "maxLength" not in title
        assert "1 to 200 characters" in title["description"]
        assert "whitespace" in title["description"]


BODY_OPERATIONS = ("post", "put", "patch")


def request_examples(document: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """(method, path, example name, value) for every request body example of every operation."""
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            media = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            if "example" in media:
                found.append((method, path, "example", media["example"]))
            for name, example in media.get("examples", {}).items():
                found.append((method, path, name, example["value"]))
    return found


async def test_every_example_in_the_openapi_document_succeeds_as_shown(
    database_url: str, make_token: TokenFactory
) -> None:
    headers = {"Authorization": f"Bearer {make_token('alice')}"}
    # The chat examples need a model: the scripted one answers each of them.
    async with scripted_model() as model, serving(database_url, **chat_settings(model)) as client:
        document = (await client.get("/openapi.json")).json()
        examples = request_examples(document)
        model.answer(*[Say("Done.") for _ in examples])
        # Every example in the document is one of those (none hides in a schema or a parameter)...
        bodies = {
            f"/paths/{path}/{method}/requestBody/content/application/json/{keyword}"
            for method, path, _, _ in examples
            for keyword in ("example", "examples")
        }
        assert set(keyword_pointers(document, "example") + keyword_pointers(document, "examples")) <= bodies
        # ...and every operation that takes a body shows at least one.
        with_body = {
            (method, path)
            for path, operations in document["paths"].items()
            for method, operation in operations.items()
            if "requestBody" in operation
        }
        assert with_body
        assert with_body <= {(method, path) for method, path, _, _ in examples}

        outcomes = []
        for method, path, name, body in examples:
            # A task of the caller's own for each example (an example may delete or complete it),
            # with a tag an example may rename.
            task = {"title": "for an example", "tags": ["chores"]}
            created = await client.post("/api/tasks", json=task, headers=headers)
            url = path.format(user_id="alice", task_id=created.json()["id"], name="chores")
            response = await client.request(method.upper(), url, json=body, headers=headers)
            outcomes.append((method, path, name, response.status_code, response.text))

    assert [outcome for outcome in outcomes if not 200 <= outcome[3] < 300] == []
