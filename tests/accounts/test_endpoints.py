"""Better Auth's endpoints as the service serves them: bodies, codes, cookies and sessions."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.accounts.conftest import PASSWORD, cookie_pairs, sign_up
from tests.conftest import SECRET, make_settings, serving, serving_app
from todo_api.accounts.cookies import sign
from todo_api.accounts.passwords import verify_password
from todo_api.db.engine import create_engine
from todo_api.models import session_table

ID = re.compile(r"[A-Za-z0-9]{32}")
JS_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
COOKIE = re.compile(
    r"better-auth\.session_token=[A-Za-z0-9]{32}\.[A-Za-z0-9%]+;"
    r" Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"
)


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


async def sql(
    database_url: str, statement: str | sa.Executable, **values: object
) -> list[sa.Row[tuple[object, ...]]]:
    engine = create_engine(make_settings(database_url))
    try:
        async with engine.begin() as connection:
            executable = sa.text(statement) if isinstance(statement, str) else statement
            result = await connection.execute(executable, values)
            return list(result) if result.returns_rows else []
    finally:
        await engine.dispose()


def expire_at(token: str, moment: datetime) -> sa.Update:
    """Set a session's expiry, written through the table's own column types."""
    return sa.update(session_table).where(session_table.c.token == token).values(expiresAt=moment)


async def test_sign_up_answers_the_token_the_user_and_the_signed_cookie(
    auth_client: httpx.AsyncClient, database_url: str
) -> None:
    response = await sign_up(auth_client, email="Alice@Example.com")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "user"}
    user = body["user"]
    assert set(user) == {"id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt"}
    assert (user["name"], user["email"], user["emailVerified"], user["image"]) == (
        "Alice",
        "alice@example.com",
        False,
        None,
    )
    assert ID.fullmatch(user["id"])
    assert ID.fullmatch(body["token"])
    assert JS_DATE.fullmatch(user["createdAt"])
    assert JS_DATE.fullmatch(user["updatedAt"])
    [cookie] = response.headers.get_list("set-cookie")
    assert COOKIE.fullmatch(cookie)
    assert response.headers["set-auth-token"] == sign(body["token"], SECRET)
    [(provider, account_id, stored)] = await sql(
        database_url,
        'SELECT "providerId", "accountId", password FROM account WHERE "userId" = :id',
        id=user["id"],
    )
    assert (provider, account_id) == ("credential", user["id"])
    assert await verify_password(str(stored), PASSWORD)


async def test_a_taken_email_is_refused_whatever_its_case(auth_client: httpx.AsyncClient) -> None:
    await sign_up(auth_client)
    again = await sign_up(auth_client, email="ALICE@example.com")

    assert again.status_code == 422
    assert again.json() == {
        "message": "User already exists. Use another email.",
        "code": "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"email": "alice@example.com", "password": PASSWORD},
            ("VALIDATION_ERROR", "[body.name] Invalid input: expected string, received undefined"),
        ),
        (
            {"name": "A", "email": "not-an-email", "password": PASSWORD},
            ("VALIDATION_ERROR", "[body.email] Invalid email address"),
        ),
        (
            {"name": "A", "email": "a@example.com", "password": 5},
            ("VALIDATION_ERROR", "[body.password] Invalid input: expected string, received number"),
        ),
        (
            {"name": "A", "email": "a@example.com", "password": "short"},
            ("PASSWORD_TOO_SHORT", "Password too short"),
        ),
        (
            {"name": "A", "email": "a@example.com", "password": "x" * 129},
            ("PASSWORD_TOO_LONG", "Password too long"),
        ),
    ],
)
async def test_a_bad_sign_up_is_a_400_with_better_auths_code(
    auth_client: httpx.AsyncClient, body: dict[str, object], expected: tuple[str, str]
) -> None:
    response = await auth_client.post("/api/auth/sign-up/email", json=body)

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["message"]) == expected
    assert "set-cookie" not in response.headers


async def test_a_wrong_password_and_an_unknown_email_are_the_same_401(auth_client: httpx.AsyncClient) -> None:
    await sign_up(auth_client)
    wrong = await auth_client.post(
        "/api/auth/sign-in/email", json={"email": "alice@example.com", "password": "wrong-password"}
    )
    unknown = await auth_client.post(
        "/api/auth/sign-in/email", json={"email": "nobody@example.com", "password": PASSWORD}
    )

    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {"message": "Invalid email or password", "code": "INVALID_EMAIL_OR_PASSWORD"}
    )


async def test_sign_in_get_session_and_sign_out(auth_client: httpx.AsyncClient) -> None:
    user = (await sign_up(auth_client)).json()["user"]
    signed_in = await auth_client.post(
        "/api/auth/sign-in/email", json={"email": "alice@example.com", "password": PASSWORD}
    )
    cookie = cookie_pairs(signed_in)

    session = await auth_client.get("/api/auth/get-session", headers={"Cookie": cookie})
    signed_out = await auth_client.post(
        "/api/auth/sign-out", json={}, headers={"Cookie": cookie, "Origin": "http://testserver"}
    )
    after = await auth_client.get("/api/auth/get-session", headers={"Cookie": cookie})

    assert signed_in.status_code == 200
    assert signed_in.json()["redirect"] is False
    assert "url" not in signed_in.json()
    assert signed_in.json()["user"] == user
    assert session.status_code == 200
    assert session.headers["cache-control"] == "no-store"
    assert session.json()["user"] == user
    assert session.json()["session"]["token"] == signed_in.json()["token"]
    assert session.json()["session"]["userId"] == user["id"]
    expires = datetime.fromisoformat(session.json()["session"]["expiresAt"])
    assert timedelta(days=7) - timedelta(minutes=1) < expires - datetime.now(UTC) <= timedelta(days=7)
    assert (signed_out.status_code, signed_out.json()) == (200, {"success": True})
    assert signed_out.headers.get_list("set-cookie") == [
        f"better-auth.{name}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
        for name in ("session_token", "session_data", "dont_remember")
    ]
    assert (after.status_code, after.json()) == (200, None)


async def test_the_session_token_works_as_a_bearer_raw_or_signed(auth_client: httpx.AsyncClient) -> None:
    signed_up = await sign_up(auth_client)
    token = signed_up.json()["token"]

    raw = await auth_client.get("/api/auth/get-session", headers={"Authorization": f"Bearer {token}"})
    signed = await auth_client.get(
        "/api/auth/get-session", headers={"Authorization": f"Bearer {signed_up.headers['set-auth-token']}"}
    )
    forged = await auth_client.get(
        "/api/auth/get-session", headers={"Authorization": f"Bearer {sign(token, SECRET + 'x')}"}
    )

    assert raw.json()["session"]["token"] == signed.json()["session"]["token"] == token
    assert forged.json() is None


def without_peer_address(app: ASGIApp) -> ASGIApp:
    """The app as a server on a Unix socket calls it: the scope names no client."""

    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "client": None}, receive, send)

    return call


async def test_a_session_records_the_clients_address_and_user_agent_or_empty_strings(
    database_url: str,
) -> None:
    async with serving_app(database_url, builtin_auth=True) as (app, client):
        known = await client.post(
            "/api/auth/sign-up/email",
            json={"name": "Alice", "email": "alice@example.com", "password": PASSWORD},
            headers={"User-Agent": "Example Browser/1.0"},
        )
        transport = httpx.ASGITransport(app=without_peer_address(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anonymous:
            request = anonymous.build_request(
                "POST",
                "/api/auth/sign-up/email",
                json={"name": "Bob", "email": "bob@example.com", "password": PASSWORD},
            )
            del request.headers["User-Agent"]
            unknown = await anonymous.send(request)
        sessions = [
            (await client.get("/api/auth/get-session", headers={"Authorization": f"Bearer {token}"})).json()
            for token in (known.json()["token"], unknown.json()["token"])
        ]

    assert [(s["session"]["ipAddress"], s["session"]["userAgent"]) for s in sessions] == [
        ("127.0.0.1", "Example Browser/1.0"),
        ("", ""),
    ]


async def test_a_signature_that_is_not_ascii_is_no_session_not_an_error(
    auth_client: httpx.AsyncClient,
) -> None:
    token = (await sign_up(auth_client)).json()["token"]
    signed = f"{token}.{quote('é' * 43 + '=')}"

    as_bearer = await auth_client.get("/api/auth/get-session", headers={"Authorization": f"Bearer {signed}"})
    as_cookie = await auth_client.get(
        "/api/auth/get-session", headers={"Cookie": f"better-auth.session_token={signed}"}
    )

    assert (as_bearer.status_code, as_bearer.json()) == (200, None)
    assert (as_cookie.status_code, as_cookie.json()) == (200, None)


async def test_a_cookie_from_an_untrusted_origin_cannot_sign_out(auth_client: httpx.AsyncClient) -> None:
    cookie = cookie_pairs(await sign_up(auth_client))

    missing = await auth_client.post("/api/auth/sign-out", json={}, headers={"Cookie": cookie})
    foreign = await auth_client.post(
        "/api/auth/sign-out", json={}, headers={"Cookie": cookie, "Origin": "https://evil.example"}
    )
    still = await auth_client.get("/api/auth/get-session", headers={"Cookie": cookie})

    assert error(missing) == (403, "MISSING_OR_NULL_ORIGIN")
    assert error(foreign) == (403, "INVALID_ORIGIN")
    assert still.json() is not None


async def test_sign_up_from_an_untrusted_origin_is_refused(auth_client: httpx.AsyncClient) -> None:
    response = await auth_client.post(
        "/api/auth/sign-up/email",
        json={"name": "A", "email": "a@example.com", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )

    assert error(response) == (403, "INVALID_ORIGIN")


async def test_remember_me_false_gives_browser_session_cookies(auth_client: httpx.AsyncClient) -> None:
    response = await sign_up(auth_client, rememberMe=False)

    cookies = response.headers.get_list("set-cookie")
    assert [cookie.split("=")[0] for cookie in cookies] == [
        "better-auth.session_token",
        "better-auth.dont_remember",
    ]
    assert all("Max-Age" not in cookie for cookie in cookies)


async def test_an_https_base_url_makes_the_cookie_secure(database_url: str) -> None:
    async with serving(database_url, builtin_auth=True, better_auth_url="https://api.example.com") as client:
        response = await sign_up(client)

    [cookie] = response.headers.get_list("set-cookie")
    assert cookie.startswith("__Secure-better-auth.session_token=")
    assert "; Secure; SameSite=Lax" in cookie


async def test_with_an_https_base_url_sign_out_expires_the_secure_cookies(database_url: str) -> None:
    async with serving(database_url, builtin_auth=True, better_auth_url="https://api.example.com") as client:
        cookie = cookie_pairs(await sign_up(client))
        signed_out = await client.post(
            "/api/auth/sign-out", json={}, headers={"Cookie": cookie, "Origin": "https://api.example.com"}
        )
        after = await client.get("/api/auth/get-session", headers={"Cookie": cookie})

    assert (signed_out.status_code, signed_out.json()) == (200, {"success": True})
    assert signed_out.headers.get_list("set-cookie") == [
        f"__Secure-better-auth.{name}=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax"
        for name in ("session_token", "session_data", "dont_remember")
    ]
    assert after.json() is None


async def test_a_session_used_after_a_day_is_extended_and_its_cookie_renewed(
    auth_client: httpx.AsyncClient, database_url: str
) -> None:
    token = (await sign_up(auth_client)).json()["token"]
    two_days_old = datetime.now(UTC) + timedelta(days=5)
    await sql(
        database_url,
        'UPDATE session SET "expiresAt" = :at WHERE token = :token',
        at=two_days_old,
        token=token,
    )

    response = await auth_client.get("/api/auth/get-session", headers={"Authorization": f"Bearer {token}"})

    expires = datetime.fromisoformat(response.json()["session"]["expiresAt"])
    assert expires - datetime.now(UTC) > timedelta(days=6, hours=23)
    assert COOKIE.fullmatch(response.headers["set-cookie"])


async def test_a_browser_that_was_not_to_remember_the_session_does_not_extend_it(
    auth_client: httpx.AsyncClient, database_url: str
) -> None:
    signed_up = await sign_up(auth_client, rememberMe=False)
    token = signed_up.json()["token"]
    five_days_left = datetime.now(UTC) + timedelta(days=5)
    await sql(database_url, expire_at(token, five_days_left))

    forgetting = await auth_client.get("/api/auth/get-session", headers={"Cookie": cookie_pairs(signed_up)})
    # Without the dont_remember cookie, the same session is extended as any other.
    session_cookie = cookie_pairs(signed_up).split("; ")[0]
    remembering = await auth_client.get("/api/auth/get-session", headers={"Cookie": session_cookie})

    assert forgetting.json()["session"]["token"] == token
    assert "set-cookie" not in forgetting.headers
    kept = datetime.fromisoformat(forgetting.json()["session"]["expiresAt"])
    assert kept - datetime.now(UTC) <= timedelta(days=5)
    assert COOKIE.fullmatch(remembering.headers["set-cookie"])
    extended = datetime.fromisoformat(remembering.json()["session"]["expiresAt"])
    assert extended - datetime.now(UTC) > timedelta(days=6, hours=23)


async def test_an_expired_session_is_null_and_deleted(
    auth_client: httpx.AsyncClient, database_url: str
) -> None:
    token = (await sign_up(auth_client)).json()["token"]
    await sql(
        database_url,
        'UPDATE session SET "expiresAt" = :at WHERE token = :token',
        at=datetime.now(UTC) - timedelta(seconds=1),
        token=token,
    )

    response = await auth_client.get("/api/auth/get-session", headers={"Authorization": f"Bearer {token}"})

    assert response.json() is None
    assert await sql(database_url, "SELECT id FROM session WHERE token = :token", token=token) == []


async def test_no_password_hash_or_token_reaches_the_logs(
    auth_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # At the default level and above (aiosqlite's and asyncpg's DEBUG lines show parameters).
    caplog.set_level(logging.INFO)
    token = (await sign_up(auth_client)).json()["token"]
    await auth_client.post(
        "/api/auth/sign-in/email", json={"email": "alice@example.com", "password": "wrong-password"}
    )
    await auth_client.post(
        "/api/auth/sign-in/email", json={"email": "nobody@example.com", "password": PASSWORD}
    )

    logged = " ".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "sign_in_refused" in logged
    for secret in (PASSWORD, "wrong-password", token, sign(token, SECRET)):
        assert secret not in logged


async def test_without_builtin_auth_the_endpoints_do_not_exist(database_url: str) -> None:
    async with serving(database_url, builtin_auth=False) as client:
        response = await client.post(
            "/api/auth/sign-up/email", json={"name": "A", "email": "a@example.com", "password": PASSWORD}
        )
        schema = (await client.get("/openapi.json")).json()

    assert response.status_code == 404
    assert not [path for path in schema["paths"] if path.startswith("/api/auth")]
