"""The same script with Better Auth's own client, against a Node Better Auth and against the
service's built-in /api/auth: every answer must look the same (status, body keys and types,
error codes and messages, cookies and their attributes, the bearer header)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.interop.conftest import PASSWORD, SECRET, Databases, ServiceFactory
from tests.interop.issuer_driver import BetterAuthIssuer, IssuerConfig, free_port, run_node_script

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def node_better_auth(databases: Databases, installed_issuer: BetterAuthIssuer) -> Iterator[BetterAuthIssuer]:
    """Better Auth with email/password, jwt() and bearer(): what the service answers as."""
    with databases.fresh() as url, BetterAuthIssuer(installed_issuer.issuer_dir) as issuer:
        issuer.start_with(IssuerConfig(url, free_port(), SECRET, bearer=True))
        yield issuer


def run_differential(issuer: BetterAuthIssuer, base_url: str) -> dict[str, Any]:
    env = {"API_URL": base_url, "EMAIL": f"diff-{uuid.uuid4().hex[:8]}@example.com", "PASSWORD": PASSWORD}
    return run_node_script("differential-client.mjs", env, issuer.issuer_dir)


def differences(node: Any, ours: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, one line per leaf: `path: node … / service …`."""
    if isinstance(node, dict) and isinstance(ours, dict):
        return [
            line
            for key in sorted(node.keys() | ours.keys())
            for line in differences(node.get(key, "(absent)"), ours.get(key, "(absent)"), f"{path}.{key}")
        ]
    if isinstance(node, list) and isinstance(ours, list) and len(node) == len(ours):
        return [
            line
            for i, pair in enumerate(zip(node, ours, strict=True))
            for line in differences(*pair, f"{path}[{i}]")
        ]
    return [] if node == ours else [f"{path}: node {json.dumps(node)} / service {json.dumps(ours)}"]


def test_the_service_answers_better_auths_client_as_better_auth_does(
    node_better_auth: BetterAuthIssuer, module_services: ServiceFactory
) -> None:
    # Node's rate limit is off; so is the service's, or a burst of sign-ins would differ.
    service = module_services(
        {"BUILTIN_AUTH": "true", "BETTER_AUTH_SECRET": SECRET, "RATE_LIMIT_ENABLED": "false"}
    )

    node = run_differential(node_better_auth, node_better_auth.base_url)
    ours = run_differential(node_better_auth, service.base_url)

    # Both sides answering alike is only worth something if Node's answers are the real ones.
    statuses = {name: [exchange["status"] for exchange in step["exchanges"]] for name, step in node.items()}
    assert statuses["signUp"] == statuses["signIn"] == statuses["getSessionByBearer"] == [200]
    assert statuses["signInFromOtherSite"] == statuses["signOutWithoutOrigin"] == [403]
    assert set(node["getSession"]["client"]["data"]) == {"session", "user"}
    different = differences(node, ours)
    assert not different, "\n".join(different)
