"""Cookie signatures and dates, against values the pinned Better Auth (better-call) produced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from todo_api.accounts.cookies import AuthCookies, parse_cookie_header, sign, unsign
from todo_api.accounts.schemas import js_date

# From better-call's serializeSignedCookie, with a placeholder secret and token.
SECRET = "placeholder-secret-for-fixtures-0123456789"
TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
BETTER_CALL_COOKIE = (
    "better-auth.session_token=AbCdEfGhIjKlMnOpQrStUvWxYz012345.vgXb9DiQDU5vzjNEN3x6ainz7BbAvJS83O%2BPXAc9jeo%3D;"
    " Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"
)
BETTER_CALL_SECURE_COOKIE = (
    "__Secure-better-auth.session_token=AbCdEfGhIjKlMnOpQrStUvWxYz012345.vgXb9DiQDU5vzjNEN3x6ainz7BbAvJS83O%2BPXAc9jeo%3D;"
    " Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=Lax"
)


def test_the_session_cookie_is_byte_for_byte_what_better_call_writes() -> None:
    cookies = AuthCookies(secret=SECRET, secure=False, max_age=604800)

    assert cookies.session(TOKEN, remember=True) == [BETTER_CALL_COOKIE]


def test_with_https_the_cookie_is_secure_and_prefixed_as_better_call_writes_it() -> None:
    cookies = AuthCookies(secret=SECRET, secure=True, max_age=604800)

    assert cookies.session(TOKEN, remember=True) == [BETTER_CALL_SECURE_COOKIE]


def test_without_remember_me_both_cookies_last_the_browser_session() -> None:
    cookies = AuthCookies(secret=SECRET, secure=False, max_age=604800)

    assert cookies.session(TOKEN, remember=False) == [
        BETTER_CALL_COOKIE.replace(" Max-Age=604800;", ""),
        "better-auth.dont_remember=true.4tm0wcXYN1Wm55evU347J9ivTcaPABncnHFap%2BDOGPc%3D;"
        " Path=/; HttpOnly; SameSite=Lax",
    ]


def test_a_signature_is_percent_encoded_as_encode_uri_component_encodes_it() -> None:
    # A slash is encoded too (urllib's quote would leave it).
    cookies = AuthCookies(secret=SECRET, secure=False, max_age=604800)

    assert cookies.signed("session_token", "AbCdEfGhIjKlMnOpQrStUvWxYz012001", max_age=None) == (
        "better-auth.session_token=AbCdEfGhIjKlMnOpQrStUvWxYz012001."
        "o1uA97z0ZuVlyEhmh%2BtDd2T1RcZQQeal6ZFPl1%2FAaQQ%3D; Path=/; HttpOnly; SameSite=Lax"
    )


def test_a_cookie_better_call_signed_is_read_back() -> None:
    cookies = AuthCookies(secret=SECRET, secure=False, max_age=604800)
    jar = parse_cookie_header("other=1; " + BETTER_CALL_COOKIE.split(";", maxsplit=1)[0] + "; theme=dark")

    assert cookies.read(jar, "session_token") == TOKEN


def test_a_signature_made_with_another_secret_or_altered_is_refused() -> None:
    signed = sign(TOKEN, SECRET)

    assert unsign(signed, SECRET) == TOKEN
    assert unsign(signed, SECRET + "x") is None
    assert unsign(TOKEN[:-1] + "X" + signed[len(TOKEN) :], SECRET) is None
    assert unsign(TOKEN, SECRET) is None


def test_the_signature_is_what_follows_the_last_dot_and_an_empty_value_is_none() -> None:
    # As better-call reads a signed cookie: the value may hold dots, and must not be empty.
    assert unsign(sign("a.b", SECRET), SECRET) == "a.b"
    assert unsign(sign("", SECRET), SECRET) is None


def test_the_first_cookie_of_a_name_wins_and_odd_pairs_are_skipped() -> None:
    jar = parse_cookie_header('a=1; junk; a=2; b="quoted"; c=%E0%A4%A; d=%41')

    assert jar == {"a": "1", "b": "quoted", "c": "%E0%A4%A", "d": "A"}


def test_quotes_are_stripped_only_from_a_value_that_begins_and_ends_with_one() -> None:
    jar = parse_cookie_header('a="x"; b=""; c="; d="open; e=close"')

    assert jar == {"a": "x", "b": "", "c": '"', "d": '"open', "e": 'close"'}


def test_dates_have_exactly_milliseconds_and_z_as_javascript_writes_them() -> None:
    # JSON.stringify(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6))) in Node.
    moment = datetime(2026, 1, 2, 3, 4, 5, 6999, tzinfo=UTC)

    assert js_date(moment) == "2026-01-02T03:04:05.006Z"
    assert js_date(moment.astimezone(timezone(timedelta(hours=5)))) == "2026-01-02T03:04:05.006Z"
    assert js_date(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00.000Z"
