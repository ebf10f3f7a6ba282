"""Interactive docs work offline, and the OpenAPI schema documents auth and every error."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import serving


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
