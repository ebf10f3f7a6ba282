"""Swagger UI and ReDoc served from an installed package, so the docs work offline."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
COOKIE_SCHEME = "SessionCookie"
SCHEMA_REF = "#/components/schemas/{model}"


def content_security_policy(page: HTMLResponse) -> str:
    """A policy allowing only this app's assets and the page's own inline script (by hash)."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(bytes(page.body).decode())
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; "
        # Swagger UI and ReDoc set inline styles and data: images; ReDoc runs a blob: worker.
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )


def install_docs(app: FastAPI) -> None:
    """Mount the bundled assets and the two documentation pages, each with its own CSP."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    # Built once: the pages are static, and so are the hashes their CSP allows.
    swagger_page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        # Keep a pasted token across reloads of the page.
        swagger_ui_parameters={"persistAuthorization": True},
    )
    redoc_page = get_redoc_html(
        openapi_url=openapi_url,
        title=f"{app.title} - ReDoc",
        redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
        with_google_fonts=False,
    )
    swagger_headers = {"Content-Security-Policy": content_security_policy(swagger_page)}
    redoc_headers = {"Content-Security-Policy": content_security_policy(redoc_page)}

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger_page.body, headers=swagger_headers)

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(redoc_page.body, headers=redoc_headers)


def document_session_cookie(app: FastAPI, cookie_name: str, *, alternative_to: str) -> None:
    """Declare Better Auth's session cookie as a second security scheme, an alternative to
    the `alternative_to` scheme wherever an operation takes that (Swagger's "Authorize" then
    lists both)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        schema = build()
        if first:  # FastAPI caches the schema it built; amend it once
            schema["components"]["securitySchemes"][COOKIE_SCHEME] = {
                "type": "apiKey",
                "in": "cookie",
                "name": cookie_name,
                "description": (
                    "Better Auth's signed session cookie, as a browser sends it; a write it "
                    "authenticates must come from a trusted origin (Origin or Referer)."
                ),
            }
            for operations in schema["paths"].values():
                for operation in operations.values():
                    if {alternative_to: []} in operation.get("security", []):
                        operation["security"].append({COOKIE_SCHEME: []})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_schemas(app: FastAPI, models: Sequence[type[BaseModel]]) -> None:
    """Add `models` (and the models they use) to the document's schemas, for what no route
    answers as JSON but clients must read: the events a stream's `data` carries."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        schema = build()
        if first:  # FastAPI caches the schema it built; amend it once
            _, definitions = models_json_schema(
                [(model, "serialization") for model in models], ref_template=SCHEMA_REF
            )
            known = schema["components"]["schemas"]
            for name, definition in definitions.get("$defs", {}).items():
                known.setdefault(name, definition)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
