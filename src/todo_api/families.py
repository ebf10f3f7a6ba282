"""Each collection of a feature in two route families: `/api/<collection>` (the user from the
token) and `/api/{user_id}/<collection>` (the user also named in the path, which must be the
token's), the same routes registered under each prefix so that each knows its full path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.params import Depends
from fastapi.routing import APIRoute

from todo_api.auth import PATH_USER_ERRORS, OwnPath
from todo_api.http_errors import API_ERRORS


def route_families(collection: str, add_routes: Callable[[APIRouter], None]) -> list[APIRouter]:
    """Both families of a collection, each with the routes `add_routes` registers."""
    families: tuple[tuple[str, str, list[Depends], dict[int | str, dict[str, Any]]], ...] = (
        (f"/api/{collection}", "", [], API_ERRORS),
        (f"/api/{{user_id}}/{collection}", "_for_user", [OwnPath], API_ERRORS | PATH_USER_ERRORS),
    )
    routers = []
    for prefix, suffix, dependencies, responses in families:
        router = APIRouter(
            prefix=prefix,
            tags=[collection],
            dependencies=dependencies,
            responses=responses,
            generate_unique_id_function=_operation_ids(suffix),
        )
        add_routes(router)
        routers.append(router)
    return routers


def _operation_ids(suffix: str) -> Callable[[APIRoute], str]:
    def operation_id(route: APIRoute) -> str:
        return f"{route.name}{suffix}"

    return operation_id
