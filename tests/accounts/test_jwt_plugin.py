"""The jwt() plugin's endpoints as the service serves them: /token, /jwks and get-session's
`set-auth-jwt`, and the task API taking those JWTs, verified in-process."""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import UTC, datetime

import httpx
import jwt
import orjson
import pytest

from tests.accounts.conftest import cookie_pairs, sign_up
from tests.accounts.test_endpoints import sql
from tests.accounts.test_sessions_on_tasks import bearer
from tests.conftest import SECRET, serving
from todo_api.accounts import signing_keys
from todo_api.config import DEVELOPMENT_URL
from todo_api.models import jwks_table

UNAUTHORIZED = {"message": "Unauthorized", "code": "UNAUTHORIZED"}


def segment(token: str, index: int) -> dict[str, object]:
    part = token.split(".")[index]
    decoded: dict[str, object] = orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


async def verified_claims(
    client: httpx.AsyncClient, token: str, issuer: str = DEVELOPMENT_URL
) -> dict[str, object]:
    """The token's claims, checked with PyJWT against the service's own /jwks."""
    jwks = (await client.get("/api/auth/jwks")).json()
    key = jwt.PyJWKSet.from_dict(jwks)[str(segment(token, 0)["kid"])]
    claims: dict[str, object] = jwt.decode(token, key, algorithms=["EdDSA"], issuer=issuer, audience=issuer)
    return claims


async def test_token_with_the_session_cookie_is_an_eddsa_jwt_of_the_user(
    auth_client: httpx.AsyncClient,
) -> None:
    signed_up = await sign_up(auth_client)
    user = signed_up.json()["user"]

    response = await auth_client.get("/api/auth/token", headers={"Cookie": cookie_pairs(signed_up)})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    [token] = response.json().values()
    assert set(response.json()) == {"token"}
    # Better Auth's header: alg and kid, no typ.
    assert list(segment(token, 0)) == ["alg", "kid"]
    claims = await verified_claims(auth_client, token)
    assert claims == user | {
        "sub": user["id"],
        "iat": claims["iat"],
        "exp": claims["iat"] + 15 * 60,  # type: ignore[operator]
        "iss": DEVELOPMENT_URL,
        "aud": DEVELOPMENT_URL,
    }
    assert abs(int(claims["iat"]) - time.time()) < 60  # type: ignore[call-overload]


async def test_token_with_the_bearer_session_token_raw_or_signed(auth_client: httpx.AsyncClient) -> None:
    signed_up = await sign_up(auth_client)
    user_id = signed_up.json()["user"]["id"]

    for presented in (signed_up.json()["token"], signed_up.headers["set-auth-token"]):
        response = await auth_client.get("/api/auth/token", headers=bearer(presented))
        assert response.status_code == 200
        assert (await verified_claims(auth_client, response.json()["token"]))["sub"] == user_id


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("not-a-session-token"), {"Cookie": "better-auth.session_token=forged.signature"}],
    ids=["nothing", "unknown bearer", "forged cookie"],
)
async def test_token_without_a_session_is_better_auths_401(
    auth_client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await auth_client.get("/api/auth/token", headers=headers)

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


async def test_token_after_sign_out_is_a_401(auth_client: httpx.AsyncClient) -> None:
    session_token = (await sign_up(auth_client)).json()["token"]
    await auth_client.post("/api/auth/sign-out", headers=bearer(session_token))

    response = await auth_client.get("/api/auth/token", headers=bearer(session_token))

    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


async def test_jwks_lists_the_one_ed25519_key_as_better_auth_does(
    auth_client: httpx.AsyncClient, database_url: str
) -> None:
    response = await auth_client.get("/api/auth/jwks")
    again = await auth_client.get("/api/auth/jwks")

    assert response.status_code == 200
    [key] = response.json()["keys"]
    assert list(key) == ["alg", "crv", "x", "kty", "kid"]
    assert (key["alg"], key["crv"], key["kty"]) == ("EdDSA", "Ed25519", "OKP")
    assert len(base64.urlsafe_b64decode(key["x"] + "=")) == 32
    assert again.json() == response.json()
    [(kid,)] = await sql(database_url, "SELECT id FROM jwks")
    assert kid == key["kid"]


async def test_get_session_sends_a_jwt_in_set_auth_jwt_exposed_to_cors(
    auth_client: httpx.AsyncClient,
) -> None:
    signed_up = await sign_up(auth_client)

    response = await auth_client.get("/api/auth/get-session", headers={"Cookie": cookie_pairs(signed_up)})
    anonymous = await auth_client.get("/api/auth/get-session")

    claims = await verified_claims(auth_client, response.headers["set-auth-jwt"])
    assert claims["sub"] == signed_up.json()["user"]["id"]
    assert "set-auth-jwt" in response.headers["access-control-expose-headers"].split(", ")
    assert "set-auth-jwt" not in anonymous.headers


async def test_a_browser_on_a_cors_origin_may_read_set_auth_jwt(database_url: str) -> None:
    origin = "http://localhost:3000"
    async with serving(database_url, builtin_auth=True, cors_origins=[origin]) as client:
        signed_up = await sign_up(client)
        response = await client.get(
            "/api/auth/get-session", headers={"Origin": origin, "Cookie": cookie_pairs(signed_up)}
        )

    assert "set-auth-jwt" in response.headers
    assert "set-auth-jwt" in response.headers["access-control-expose-headers"].split(", ")


async def test_the_jwt_is_a_bearer_on_the_task_api_for_its_user(auth_client: httpx.AsyncClient) -> None:
    alice = await sign_up(auth_client)
    bob = await sign_up(auth_client, email="bob@example.com")
    alice_jwt = (await auth_client.get("/api/auth/token", headers=bearer(alice.json()["token"]))).json()[
        "token"
    ]
    bob_jwt = (await auth_client.get("/api/auth/token", headers=bearer(bob.json()["token"]))).json()["token"]

    created = await auth_client.post("/api/tasks", json={"title": "by jwt"}, headers=bearer(alice_jwt))
    bobs_view = await auth_client.get(f"/api/tasks/{created.json()['id']}", headers=bearer(bob_jwt))

    assert created.status_code == 201
    assert created.json()["user_id"] == alice.json()["user"]["id"]
    assert bobs_view.status_code == 404


async def test_a_jwt_fetched_before_sign_out_works_until_it_expires(auth_client: httpx.AsyncClient) -> None:
    # By design: a JWT is verified without the database, so it lives its 15 minutes.
    session_token = (await sign_up(auth_client)).json()["token"]
    token = (await auth_client.get("/api/auth/token", headers=bearer(session_token))).json()["token"]
    await auth_client.post("/api/auth/sign-out", headers=bearer(session_token))

    response = await auth_client.get("/api/tasks", headers=bearer(token))

    assert response.status_code == 200


async def test_a_jwt_for_another_issuer_on_the_same_key_is_refused(database_url: str) -> None:
    # Tokens of an instance configured with another URL carry another `iss` and `aud`.
    async with serving(database_url, builtin_auth=True, better_auth_url="https://other.example") as other:
        session_token = (await sign_up(other)).json()["token"]
        token = (await other.get("/api/auth/token", headers=bearer(session_token))).json()["token"]
        accepted_there = await other.get("/api/tasks", headers=bearer(token))
    async with serving(database_url, builtin_auth=True) as client:
        refused_here = await client.get("/api/tasks", headers=bearer(token))

    assert accepted_there.status_code == 200
    assert refused_here.status_code == 401


async def test_a_token_signed_by_an_unknown_ed25519_key_is_refused(auth_client: httpx.AsyncClient) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415

    session_token = (await sign_up(auth_client)).json()["token"]
    genuine = (await auth_client.get("/api/auth/token", headers=bearer(session_token))).json()["token"]
    header, claims = segment(genuine, 0), segment(genuine, 1)
    forged = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers=header)

    response = await auth_client.get("/api/tasks", headers=bearer(forged))

    assert response.status_code == 401


async def test_without_builtin_auth_there_is_no_token_endpoint(database_url: str) -> None:
    async with serving(database_url, builtin_auth=False) as client:
        assert (await client.get("/api/auth/token")).status_code == 404
        assert (await client.get("/api/auth/jwks")).status_code == 404


async def test_many_first_token_requests_at_once_on_several_instances_make_one_key(
    database_url: str,
) -> None:
    # Three instances on one database, each answering its first /token calls concurrently.
    async with (
        serving(database_url, builtin_auth=True) as first,
        serving(database_url, builtin_auth=True) as second,
        serving(database_url, builtin_auth=True) as third,
    ):
        session_token = (await sign_up(first)).json()["token"]
        responses = await asyncio.gather(
            *(
                client.get("/api/auth/token", headers=bearer(session_token))
                for client in [first, second, third] * 6
            )
        )
        [key] = (await second.get("/api/auth/jwks")).json()["keys"]

    assert [response.status_code for response in responses] == [200] * 18
    assert {str(segment(response.json()["token"], 0)["kid"]) for response in responses} == {key["kid"]}
    assert len(await sql(database_url, "SELECT id FROM jwks")) == 1


async def test_a_key_added_later_to_the_table_is_found_by_the_task_api(database_url: str) -> None:
    # A Node Better Auth on the same database rotating its key: the unknown kid reloads the set.
    async with serving(database_url, builtin_auth=True, jwks_refetch_interval=0) as client:
        signed_up = await sign_up(client)
        first = (await client.get("/api/auth/token", headers=bearer(signed_up.json()["token"]))).json()[
            "token"
        ]
        assert (await client.get("/api/tasks", headers=bearer(first))).status_code == 200
        row = signing_keys.new_key_row(SECRET, now=datetime.now(UTC))
        await sql(database_url, jwks_table.insert().values(row))
        jwk = signing_keys.decrypt_private_key(row["privateKey"], SECRET)
        key = signing_keys.SigningKey(kid=row["id"], private_key=jwt.PyJWK(jwk | {"alg": "EdDSA"}).key)
        rotated = signing_keys.sign(segment(first, 1), key)

        response = await client.get("/api/tasks", headers=bearer(rotated))
        newest_kid = segment(
            (await client.get("/api/auth/token", headers=bearer(signed_up.json()["token"]))).json()["token"],
            0,
        )["kid"]

    assert response.status_code == 200
    # The newest live key signs from now on, as in Better Auth.
    assert newest_kid == row["id"]
