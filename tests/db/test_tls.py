"""TLS to PostgreSQL, as a hosted database (Neon, say) requires it: `sslmode=require` reaches the
database over TLS, a plain connection to a TLS-only server is refused, and `channel_binding`
(which asyncpg cannot do) makes TLS required rather than being dropped.

The local server has no TLS, so a TLS-terminating proxy (`tests.proxy.TLSProxy`) with a
certificate made here stands in front of it.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.engine import make_url

from tests.conftest import make_settings
from tests.proxy import TLSProxy
from todo_api.main import create_app

pytestmark = pytest.mark.postgres

Auth = Callable[[str], dict[str, str]]


@pytest.fixture(scope="module")
def server_tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server-side TLS context with a self-signed certificate for localhost and 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    (directory / "server.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "server.crt", directory / "server.key")
    return context


@asynccontextmanager
async def proxy_to(postgres_url: str, context: ssl.SSLContext, *, offer_tls: bool) -> AsyncIterator[TLSProxy]:
    upstream = make_url(postgres_url)
    proxy = TLSProxy(upstream.host or "127.0.0.1", upstream.port or 5432, context, offer_tls=offer_tls)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


def through(proxy: TLSProxy, postgres_url: str, query: str) -> str:
    """DATABASE_URL for the test database behind `proxy`, with libpq-style parameters."""
    url = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
    return f"{url.render_as_string(hide_password=False)}?{query}"


async def create_and_read(database_url: str, auth: Auth) -> tuple[httpx.Response, httpx.Response]:
    """Create a task through the real app on `database_url`, then read it back."""
    app = create_app(make_settings(database_url, rate_limit_enabled=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            created = await client.post("/api/tasks", json={"title": "over TLS"}, headers=auth("alice"))
            if created.status_code != 201:
                return created, created
            read = await client.get(f"/api/tasks/{created.json()['id']}", headers=auth("alice"))
            return created, read


async def test_sslmode_require_reaches_the_database_over_tls(
    postgres_url: str, server_tls: ssl.SSLContext, auth: Auth
) -> None:
    async with proxy_to(postgres_url, server_tls, offer_tls=True) as proxy:
        created, read = await create_and_read(through(proxy, postgres_url, "sslmode=require"), auth)
    async with proxy_to(postgres_url, server_tls, offer_tls=False) as without_tls:
        # "require" never falls back to a plain connection, as "prefer" would.
        downgraded, _ = await create_and_read(through(without_tls, postgres_url, "sslmode=require"), auth)

    assert created.status_code == 201
    assert read.status_code == 200
    assert read.json() == created.json()
    assert proxy.tls_versions
    assert set(proxy.tls_versions) <= {"TLSv1.2", "TLSv1.3"}
    assert proxy.refused_plaintext == 0
    assert downgraded.status_code == 503


async def test_a_plain_connection_to_a_tls_only_server_is_refused(
    postgres_url: str, server_tls: ssl.SSLContext, auth: Auth
) -> None:
    async with proxy_to(postgres_url, server_tls, offer_tls=True) as proxy:
        created, _ = await create_and_read(through(proxy, postgres_url, "sslmode=disable"), auth)

    # The server's refusal (SQLSTATE 28000) is a configuration error, not an outage.
    assert created.status_code == 500
    assert created.json() == {"detail": "Internal Server Error"}
    assert proxy.refused_plaintext >= 1
    assert proxy.tls_versions == []


async def test_channel_binding_makes_tls_required_even_with_sslmode_disable(
    postgres_url: str, server_tls: ssl.SSLContext, auth: Auth, caplog: pytest.LogCaptureFixture
) -> None:
    pasted = "sslmode=disable&channel_binding=require"
    with caplog.at_level(logging.WARNING, logger="todo_api"):
        async with proxy_to(postgres_url, server_tls, offer_tls=True) as tls_only:
            over_tls, read = await create_and_read(through(tls_only, postgres_url, pasted), auth)
        async with proxy_to(postgres_url, server_tls, offer_tls=False) as without_tls:
            refused, _ = await create_and_read(through(without_tls, postgres_url, pasted), auth)
            # The same server is usable without TLS: only the required TLS stops the request.
            plain, _ = await create_and_read(through(without_tls, postgres_url, "sslmode=disable"), auth)

    assert over_tls.status_code == 201
    assert read.json() == over_tls.json()
    assert tls_only.tls_versions
    assert tls_only.refused_plaintext == 0
    assert refused.status_code == 503
    assert plain.status_code == 201
    assert "channel_binding=require is not supported by asyncpg" in caplog.text
    assert "TLS is still required (sslmode=require)" in caplog.text
