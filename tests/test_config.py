"""Settings: what is accepted, what stops start-up, and the development secret."""

from __future__ import annotations

import secrets
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SECRET, IsolatedSettings
from todo_api.config import (
    ConfigError,
    Environment,
    Settings,
    load_settings,
)
from todo_api.dev_secret import DEV_SECRET_FILE, with_dev_secret

REPOSITORY = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting of the developer's (variables or a .env in the working directory) leaks in."""
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def test_defaults_are_development_with_a_local_sqlite_file() -> None:
    settings = load_settings()

    assert settings.environment is Environment.DEVELOPMENT
    assert settings.database_url.get_secret_value() == "sqlite:///todo.db"
    assert settings.cors_origins == []


def test_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "CORS_ORIGINS=http://localhost:3000, https://app.example/\nLOG_LEVEL=WARNING\n"
    )
    monkeypatch.setenv("JWT_ISSUER", "https://app.example")

    settings = load_settings()

    assert settings.cors_origins == ["http://localhost:3000", "https://app.example"]
    assert settings.log_level == "warning"
    assert settings.jwt_issuer == "https://app.example"


def test_empty_values_mean_unset() -> None:
    settings = IsolatedSettings(better_auth_secret="", jwt_issuer="", better_auth_url="")

    assert settings.better_auth_secret is None
    assert settings.jwt_issuer is None
    assert settings.jwks_endpoint is None


def test_jwks_endpoint_derives_from_better_auth_url() -> None:
    assert (
        IsolatedSettings(better_auth_url="https://app.example/").jwks_endpoint
        == "https://app.example/api/auth/jwks"
    )
    explicit = IsolatedSettings(better_auth_url="https://app.example", jwks_url="https://keys.example/jwks")
    assert explicit.jwks_endpoint == "https://keys.example/jwks"


def test_production_refuses_to_start_without_a_way_to_verify_tokens() -> None:
    assert load_settings().needs_dev_secret  # the same settings are fine in development

    with pytest.raises(ConfigError) as caught:
        load_settings(environment="production")

    assert str(caught.value) == (
        "invalid configuration: production needs BETTER_AUTH_SECRET (at least 32 characters) "
        "or BETTER_AUTH_URL/JWKS_URL to verify tokens"
    )


def test_production_accepts_a_secret_or_jwks() -> None:
    assert IsolatedSettings(environment="production", better_auth_secret=SECRET).is_production
    assert IsolatedSettings(environment="production", better_auth_url="https://app.example").is_production


def test_short_secret_is_refused_in_one_line_without_its_value() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(better_auth_secret="too-short-secret", _env_file=None)

    message = str(caught.value)
    assert message == "invalid configuration: BETTER_AUTH_SECRET: must be at least 32 characters"
    assert "too-short-secret" not in message


def test_malformed_database_url_is_one_line_with_the_password_masked() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            database_url="postgresql://app:hunter2-placeholder@db.example:notaport/app", _env_file=None
        )

    message = str(caught.value)
    assert message.startswith("invalid configuration: DATABASE_URL: malformed URL")
    assert "hunter2-placeholder" not in message
    assert "app:***@db.example" in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("environment", "staging"),
        ("log_level", "loud"),
        ("db_pool_size", "0"),
        ("forwarded_allow_ips", "127.0.0.1, proxy.internal"),
        ("header_timeout", "0"),
        ("rate_limit_auth_failures", "many"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**{name: value}, _env_file=None)

    assert name.upper() in str(caught.value)


def test_dev_secret_is_created_owner_only_and_reused(tmp_path: Path) -> None:
    first = with_dev_secret(IsolatedSettings(), tmp_path)
    second = with_dev_secret(IsolatedSettings(), tmp_path)

    path = tmp_path / DEV_SECRET_FILE
    assert first.better_auth_secret is not None
    assert second.better_auth_secret is not None
    assert first.better_auth_secret.get_secret_value() == second.better_auth_secret.get_secret_value()
    assert len(first.better_auth_secret.get_secret_value()) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.skipif(not (REPOSITORY / ".git").exists(), reason="needs the git checkout")
def test_dev_secret_file_is_git_ignored() -> None:
    # --no-index: the answer comes from the ignore rules, whatever is checked in.
    for where in (DEV_SECRET_FILE, f"some/project/{DEV_SECRET_FILE}"):
        result = subprocess.run(
            ["git", "check-ignore", "--no-index", "--quiet", where], cwd=REPOSITORY, check=False
        )
        assert result.returncode == 0, f"{where} is not git-ignored"


def test_dev_secret_is_never_made_when_keys_are_configured_or_in_production(tmp_path: Path) -> None:
    configured = IsolatedSettings(better_auth_secret=SECRET)
    jwks = IsolatedSettings(better_auth_url="https://app.example")
    # Production with no key at all, which validation refuses: built without validation, so this
    # proves the second guard (no secret is ever generated there) on its own.
    production = IsolatedSettings.model_construct(environment=Environment.PRODUCTION)
    assert production.better_auth_secret is None
    assert production.jwks_endpoint is None

    for settings in (configured, jwks, production):
        assert with_dev_secret(settings, tmp_path) is settings
    assert not (tmp_path / DEV_SECRET_FILE).exists()


def test_secret_never_appears_in_repr() -> None:
    settings = IsolatedSettings(better_auth_secret=SECRET, database_url="postgresql://u:pw-placeholder@h/db")

    assert SECRET not in repr(settings)
    assert "pw-placeholder" not in repr(settings)
    assert isinstance(settings, Settings)


def test_logs_are_json_in_production_and_readable_in_development_unless_log_format_says() -> None:
    production = {"environment": "production", "better_auth_secret": SECRET}

    assert IsolatedSettings().log_json is False
    assert IsolatedSettings(**production).log_json is True
    assert IsolatedSettings(log_format="JSON").log_json is True
    assert IsolatedSettings(**production, log_format="text").log_json is False
    assert IsolatedSettings(**production, log_format="").log_json is True


def test_database_url_is_parsed_once_when_settings_are_read() -> None:
    settings = IsolatedSettings(database_url="postgres://app:pw-placeholder@db.example/todo?sslmode=require")

    assert settings.database_url.target.url.drivername == "postgresql+asyncpg"
    assert settings.database_url.target.connect_args == {"ssl": "require"}
    assert "pw-placeholder" not in repr(settings.database_url)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"better_auth_url": "http://app.example"}, "BETTER_AUTH_URL must use https"),
        (
            {"jwks_url": "http://keys.example/jwks", "jwt_issuer": "i", "jwt_audience": "a"},
            "JWKS_URL must use https",
        ),
        ({"cors_origins": "https://app.example,http://app.example"}, "CORS_ORIGINS must be https://"),
        ({"better_auth_secret": "x" * 40}, "BETTER_AUTH_SECRET does not look random"),
        ({"better_auth_secret": "password" * 4}, "BETTER_AUTH_SECRET does not look random"),
    ],
)
def test_production_refuses_plain_http_and_a_typed_secret_in_one_line(
    overrides: dict[str, str], problem: str
) -> None:
    values = {"environment": "production", "better_auth_secret": SECRET} | overrides

    with pytest.raises(ConfigError) as caught:
        load_settings(**values, _env_file=None)

    message = str(caught.value)
    assert message.startswith("invalid configuration: in production, ")
    assert problem in message
    assert "\n" not in message
    assert overrides.get("better_auth_secret", "not-in-the-message") not in message


def test_production_allows_http_on_this_machine_and_generated_secrets() -> None:
    settings = IsolatedSettings(
        environment="production",
        better_auth_secret=secrets.token_urlsafe(24),
        better_auth_url="http://localhost:3000",
        cors_origins="http://127.0.0.1:3000,https://app.example",
    )

    assert settings.is_production
    assert IsolatedSettings(better_auth_secret="x" * 40).better_auth_secret is not None  # development


def test_forwarded_headers_are_trusted_from_no_proxy_unless_configured() -> None:
    assert IsolatedSettings().forwarded_allow_ips == []
    assert IsolatedSettings(forwarded_allow_ips="10.0.0.1, 10.1.0.0/16,").forwarded_allow_ips == [
        "10.0.0.1",
        "10.1.0.0/16",
    ]


@pytest.mark.parametrize(
    ("settings", "served"),
    [
        ({}, True),  # a fresh clone: sign-up is there
        ({"better_auth_secret": SECRET}, True),
        ({"environment": "production", "better_auth_secret": secrets.token_urlsafe(40)}, False),
        (
            {
                "environment": "production",
                "better_auth_secret": secrets.token_urlsafe(40),
                "builtin_auth": "true",
                "better_auth_url": "https://api.example.com",
            },
            True,
        ),
        ({"builtin_auth": "false"}, False),
        # Another Better Auth signs users in: a shared database, or its JWKS and no secret.
        ({"better_auth_shared_database": "true", "better_auth_secret": SECRET}, False),
        ({"better_auth_url": "http://localhost:3000"}, False),
    ],
)
def test_builtin_auth_is_on_in_development_and_asked_for_in_production(
    settings: dict[str, str], served: bool
) -> None:
    assert load_settings(**settings).builtin_auth is served


def test_builtin_auth_in_production_needs_its_own_url_and_defaults_to_serves_in_development() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            environment="production",
            builtin_auth=True,
            better_auth_secret=secrets.token_urlsafe(48),
            _env_file=None,
        )
    development = IsolatedSettings(builtin_auth=True, better_auth_secret="x" * 40)
    configured = IsolatedSettings(
        builtin_auth=True, better_auth_secret="x" * 40, better_auth_url="https://api.example/"
    )

    assert str(caught.value) == (
        "invalid configuration: BUILTIN_AUTH in production needs BETTER_AUTH_URL,"
        " the service's own public URL"
    )
    assert development.builtin_auth_url == "http://localhost:8000"
    assert configured.builtin_auth_url == "https://api.example"


def test_public_url_is_read_and_an_empty_one_is_unset() -> None:
    assert (
        str(IsolatedSettings(public_url="https://todo.example.com").public_url) == "https://todo.example.com/"
    )
    assert IsolatedSettings(public_url="").public_url is None


@pytest.mark.parametrize(
    "url", ["ftp://todo.example.com", "todo.example.com", "https://todo.example.com/?a=1"]
)
def test_public_url_must_be_a_base_url(url: str) -> None:
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        load_settings(public_url=url)


def test_production_public_url_must_use_https() -> None:
    with pytest.raises(ConfigError, match="PUBLIC_URL: must use https in production"):
        load_settings(
            environment="production", better_auth_secret=SECRET, public_url="http://todo.example.com"
        )
    local = IsolatedSettings(
        environment="production", better_auth_secret=SECRET, public_url="http://127.0.0.1:8000"
    )
    assert local.public_url is not None
