"""Better Auth's signing keys as the service sees them: rotation, forgeries, expiry, outages.

The service is configured only with BETTER_AUTH_URL (and iss/aud); every key it trusts
comes from the real issuer's JWKS endpoint.
"""

from __future__ import annotations

import time
import uuid
from contextlib import closing
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.interop.conftest import (
    BetterAuthUser,
    Databases,
    ServiceFactory,
    jwks_settings,
    running_issuer,
    sign_up,
)
from tests.interop.issuer_driver import BetterAuthIssuer
from tests.interop.service_driver import TodoService

pytestmark = pytest.mark.interop

# The service's allowance for clock skew (tokens.CLOCK_LEEWAY_SECONDS) is 30 s; an
# issuer whose tokens expire two minutes before they are issued is well past it.
ALREADY_EXPIRED = "2 minutes ago"


def kid_of(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


def forge(genuine_token: str, *, kid: str) -> str:
    """The genuine token's claims, signed by a key Better Auth never had."""
    claims: dict[str, Any] = jwt.decode(genuine_token, options={"verify_signature": False})
    return jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid})


def list_status(service: TodoService, token: str) -> int:
    with service.client(token) as api:
        return api.get("/api/tasks").status_code


def test_tokens_from_before_and_after_a_key_rotation_both_verify(
    issuer: BetterAuthIssuer, jwks_service: TodoService, alice: BetterAuthUser
) -> None:
    before = issuer.jwt(alice.session)
    accepted_before_rotation = list_status(jwks_service, before)  # the service caches the old key set

    new_kid = issuer.rotate_keys()
    after = issuer.jwt(alice.session)

    assert accepted_before_rotation == 200
    assert kid_of(after) == new_kid != kid_of(before)
    assert {kid_of(before), new_kid} <= {key["kid"] for key in issuer.jwks()["keys"]}
    assert list_status(jwks_service, after) == 200
    assert list_status(jwks_service, before) == 200


def test_token_with_an_unknown_kid_is_refused(
    issuer: BetterAuthIssuer, jwks_service: TodoService, alice: BetterAuthUser
) -> None:
    forged = forge(issuer.jwt(alice.session), kid=uuid.uuid4().hex)

    with jwks_service.client(forged) as api:
        response = api.get("/api/tasks")

    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token: unknown signing key"})


def test_token_signed_by_another_key_under_a_published_kid_is_refused(
    issuer: BetterAuthIssuer, jwks_service: TodoService, alice: BetterAuthUser
) -> None:
    genuine = issuer.jwt(alice.session)
    forged = forge(genuine, kid=kid_of(genuine))

    with jwks_service.client(forged) as api:
        response = api.get("/api/tasks")

    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token: invalid signature"})


def test_jwt_issuer_with_a_trailing_slash_refuses_better_auth_tokens(
    issuer: BetterAuthIssuer, module_services: ServiceFactory, alice: BetterAuthUser
) -> None:
    service = module_services(jwks_settings(issuer) | {"JWT_ISSUER": f"{issuer.base_url}/"})

    with service.client(issuer.jwt(alice.session)) as api:
        response = api.get("/api/tasks")

    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token: wrong issuer"})


def test_expired_better_auth_token_is_refused(
    databases: Databases, installed_issuer: BetterAuthIssuer, start_service: ServiceFactory
) -> None:
    with (
        databases.fresh() as url,
        running_issuer(installed_issuer, url, expiration=ALREADY_EXPIRED) as issuer,
    ):
        service = start_service(jwks_settings(issuer))
        user = sign_up(issuer, "carol")
        with closing(user.session):
            token = issuer.jwt(user.session)

        with service.client(token) as api:
            response = api.get("/api/tasks")

    assert jwt.decode(token, options={"verify_signature": False})["exp"] < time.time() - 60
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token: token expired"})


def test_better_auth_outage_keeps_cached_keys_working_and_never_gives_500(
    databases: Databases, installed_issuer: BetterAuthIssuer, start_service: ServiceFactory
) -> None:
    with databases.fresh() as url, running_issuer(installed_issuer, url) as issuer:
        service = start_service(jwks_settings(issuer))
        user = sign_up(issuer, "dave")
        with closing(user.session):
            cached = issuer.jwt(user.session)
            assert list_status(service, cached) == 200  # its key is now cached
            issuer.rotate_keys()
            # Signed by a key the service has never fetched: unknown to it until Better Auth answers.
            unseen = issuer.jwt(user.session)

        issuer.stop()
        with service.client(cached) as api:
            created_during_outage = api.post("/api/tasks", json={"title": "during the outage"})
        with service.client(unseen) as api:
            unseen_during_outage = api.get("/api/tasks")
        with service.client(forge(cached, kid=uuid.uuid4().hex)) as api:
            forged_during_outage = api.get("/api/tasks")
        issuer.restart()
        unseen_after_recovery = list_status(service, unseen)

    assert created_during_outage.status_code == 201
    for response in (unseen_during_outage, forged_during_outage):
        assert response.status_code == 503
        assert response.json() == {"detail": "Cannot verify the token right now, retry shortly"}
        assert int(response.headers["Retry-After"]) > 0
    assert unseen_after_recovery == 200


def test_better_auth_url_alone_pins_iss_and_aud_to_what_better_auth_writes(
    issuer: BetterAuthIssuer, module_services: ServiceFactory, alice: BetterAuthUser
) -> None:
    # No JWT_ISSUER / JWT_AUDIENCE: the defaults taken from BETTER_AUTH_URL must be Better Auth's own.
    settings = {key: value for key, value in jwks_settings(issuer).items() if not key.startswith("JWT_")}
    service = module_services(settings)
    token = issuer.jwt(alice.session)
    claims = jwt.decode(token, options={"verify_signature": False})

    with service.client(token) as api:
        response = api.get("/api/tasks")

    assert response.status_code == 200, response.text
    assert (claims["iss"], claims["aud"]) == (issuer.base_url, issuer.base_url)
