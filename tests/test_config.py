"""Settings: what is accepted, what stops start-up, and the development secret."""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import PRODUCTION_SECRET, SECRET, IsolatedSettings
from todo_api.cli import OPENAPI_SECRET
from todo_api.config import (
    MIN_SECRET_LENGTH,
    ConfigError,
    Environment,
    Settings,
    load_settings,
    misspelt_settings,
)
from todo_api.config_checks import PLACEHOLDER_SECRETS
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
    assert settings.cors_origins == ["http://localhost:3000"]  # the Next.js example's origin


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
    assert IsolatedSettings(environment="production", better_auth_secret=PRODUCTION_SECRET).is_production
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
    production = {"environment": "production", "better_auth_secret": PRODUCTION_SECRET}

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
    values = {"environment": "production", "better_auth_secret": PRODUCTION_SECRET} | overrides

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


def production_refusal(secret: str) -> str:
    """The one line production's start-up stops with for `secret`."""
    with pytest.raises(ConfigError) as caught:
        load_settings(environment="production", better_auth_secret=secret, _env_file=None)
    return str(caught.value)


# `BETTER_AUTH_SECRET=` and a value, as .env files, shells and docs write it, or a quoted value
# after `"BETTER_AUTH_SECRET":`, as code does (a name such as SECRET or self.secret is no value).
SECRET_ASSIGNMENT = re.compile(
    r"""BETTER_AUTH_SECRET\s*=\s*["']?(?P<bare>[^\s"'`#]+)"""
    r"""|BETTER_AUTH_SECRET["']?\s*:\s*["'](?P<quoted>[^"']+)["']"""
)
CODE_SUFFIXES = {".py", ".ts", ".tsx", ".js", ".mjs"}


def example_secrets_in_the_repository() -> Iterator[tuple[str, str]]:
    """(file, value) for every BETTER_AUTH_SECRET value written out in the repository's files.

    Only files git tracks: a developer's own .env (git-ignored) is never read.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPOSITORY, capture_output=True, text=True, check=True
    ).stdout
    for name in filter(None, listed.split("\0")):
        path = REPOSITORY / name
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # not text
        for match in SECRET_ASSIGNMENT.finditer(text):
            # In code, `BETTER_AUTH_SECRET=SECRET` passes a variable: only quoted values count.
            if match["quoted"] or path.suffix not in CODE_SUFFIXES:
                yield name, match["quoted"] or match["bare"]


@pytest.mark.skipif(not (REPOSITORY / ".git").exists(), reason="needs the git checkout")
def test_production_refuses_every_example_secret_written_in_the_repository() -> None:
    found = list(example_secrets_in_the_repository())

    assert ".env.example" in dict(found)  # the search works: the root example is always there
    for where, value in found:
        message = production_refusal(value)
        assert "BETTER_AUTH_SECRET" in message, f"{where}: {message}"
        assert value not in message
    # Those the documentation and examples show (tests show bad ones on purpose) are also in
    # the list, so that it stays complete.
    shown = {
        value for where, value in found if not where.startswith("tests/") and len(value) >= MIN_SECRET_LENGTH
    }
    assert shown <= PLACEHOLDER_SECRETS, f"add to PLACEHOLDER_SECRETS: {shown - PLACEHOLDER_SECRETS}"


@pytest.mark.parametrize("secret", sorted(PLACEHOLDER_SECRETS))
def test_production_refuses_the_documentations_example_secrets_in_one_line(secret: str) -> None:
    assert production_refusal(secret) == (
        "invalid configuration: in production, BETTER_AUTH_SECRET is an example value from the "
        "documentation: anyone could sign tokens; make one with `openssl rand -base64 48`"
    )


@pytest.mark.parametrize(
    "secret",
    [
        "my-super-secret-password-for-todo-api-2026",
        "ThisIsMyVeryLongSecretKeyForJwtSigning2024!",
        "correct-horse-battery-staple-tree-lamp-river",
        "please-change-this-secret-before-deploying-2026",
        "qwertyuiopasdfghjklzxcvbnm123456",
        "abcdefghijklmnopqrstuvwxyz0123456789",
        SECRET,  # the tests' own
        OPENAPI_SECRET,  # the schema command's own
    ],
)
def test_production_refuses_a_secret_that_reads_as_words_or_a_pattern(secret: str) -> None:
    message = production_refusal(secret)

    assert message == (
        "invalid configuration: in production, BETTER_AUTH_SECRET does not look random (it reads as "
        "words or a pattern): anyone could sign tokens; make one with `openssl rand -base64 48`"
    )
    assert secret not in message


def openssl_rand(*args: str) -> str:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl")
    return subprocess.run(
        ["openssl", "rand", *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.parametrize(
    "generate",
    [
        pytest.param(lambda: openssl_rand("-base64", "48"), id="openssl rand -base64 48"),
        pytest.param(lambda: openssl_rand("-hex", "32"), id="openssl rand -hex 32"),
        pytest.param(lambda: openssl_rand("-base64", "32"), id="openssl rand -base64 32"),
        pytest.param(lambda: secrets.token_urlsafe(32), id="secrets.token_urlsafe(32)"),
        pytest.param(lambda: base64.b64encode(secrets.token_bytes(24)).decode(), id="24 random bytes"),
    ],
)
def test_production_accepts_generated_secrets(generate: Callable[[], str]) -> None:
    for _ in range(10):
        secret = generate()
        settings = load_settings(environment="production", better_auth_secret=secret, _env_file=None)

        assert settings.better_auth_secret is not None
        assert settings.better_auth_secret.get_secret_value() == secret


def test_production_judges_a_very_long_secret_by_its_start_and_quickly() -> None:
    generated = secrets.token_urlsafe(48)

    # Over zxcvbn's own 72-character limit, which would raise instead of judging.
    assert load_settings(environment="production", better_auth_secret=generated * 50, _env_file=None)
    assert "does not look random" in production_refusal("my-super-secret-password-" * 20 + generated)


def test_development_accepts_any_secret_of_32_characters() -> None:
    for secret in (*PLACEHOLDER_SECRETS, "my-super-secret-password-for-todo-api-2026", SECRET):
        assert IsolatedSettings(better_auth_secret=secret).better_auth_secret is not None


def test_cors_origins_default_to_the_example_app_in_development_and_none_in_production() -> None:
    assert load_settings(_env_file=None).cors_origins == ["http://localhost:3000"]
    assert load_settings(cors_origins="", _env_file=None).cors_origins == ["http://localhost:3000"]
    assert load_settings(cors_origins="https://app.example", _env_file=None).cors_origins == [
        "https://app.example"
    ]
    production = {"environment": "production", "better_auth_secret": PRODUCTION_SECRET, "_env_file": None}
    assert load_settings(**production).cors_origins == []
    assert load_settings(**production, cors_origins="https://app.example").cors_origins == [
        "https://app.example"
    ]


@pytest.mark.parametrize(
    ("origins", "problem"),
    [
        ("localhost:3000", "CORS_ORIGINS: 'localhost:3000' has no scheme: write http://localhost:3000"),
        (
            "https://app.example, app.example.com",
            "CORS_ORIGINS: 'app.example.com' has no scheme: write https://app.example.com",
        ),
        (
            "https://app.example/dashboard",
            "CORS_ORIGINS: 'https://app.example/dashboard' is not an origin (it has a path): "
            "write https://app.example",
        ),
        (
            "ftp://files.example",
            "CORS_ORIGINS: 'ftp://files.example' is not an http:// or https:// origin "
            "such as https://app.example",
        ),
    ],
)
def test_a_cors_origin_that_is_no_origin_is_refused_naming_the_fix(origins: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(cors_origins=origins, _env_file=None)

    assert str(caught.value) == f"invalid configuration: {problem}"


def test_misspelt_setting_names_are_found_in_the_environment_and_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("BETTER_AUTH_SECERT=placeholder\nLOG_LEVEL=info\nAUTH_MODE=jwt\n")
    environ = {"CORS_ORIGIN": "http://localhost:3000", "DATABSE_URL": "sqlite:///x.db", "cors_origins": "x"}

    found = misspelt_settings(environ, env_file=dotenv)

    assert [str(name) for name in found] == [
        "CORS_ORIGIN (in the environment) is not a setting: did you mean CORS_ORIGINS?",
        "DATABSE_URL (in the environment) is not a setting: did you mean DATABASE_URL?",
        "BETTER_AUTH_SECERT (in .env) is not a setting: did you mean BETTER_AUTH_SECRET?",
    ]


def test_names_that_are_not_like_a_setting_are_left_alone(tmp_path: Path) -> None:
    # Shells, containers, hosting platforms and neighbouring apps: none is ours, some are close.
    others = (  # noqa: SIM905 (a list to read, not to format one name a line)
        "PATH HOME HOSTNAME PWD USER LANG TZ NODE_ENV ENV APP_ENV DEBUG PGHOST PGPORT POSTGRES_URL "
        "DATABASE_URL_UNPOOLED DATABASE_USER DATABASE_PORT DATABASE_HOST REDIS_HOST REDIS_TLS_URL "
        "BETTER_AUTH_BASE_URL BETTER_AUTH_TRUSTED_ORIGINS NEXTAUTH_SECRET AUTH_SECRET JWT_SECRET "
        "CORS_ALLOW_ORIGINS SENTRY_ENVIRONMENT LOG_LEVEL_ROOT RATE_LIMIT TODO_API_URL AUTH_DATABASE_URL "
        "KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT VIRTUAL_ENV PYTHONPATH"
    ).split()
    settings = [name.upper() for name in Settings.model_fields]

    found = misspelt_settings(dict.fromkeys(others + settings, "x"), env_file=tmp_path / ".env")

    assert found == []
    # The repository's example .env files are clean too (the example app's own included).
    for example in (".env.example", "examples/nextjs/todo-api.env.example", "examples/nextjs/.env.example"):
        assert (REPOSITORY / example).is_file()
        assert misspelt_settings({}, env_file=REPOSITORY / example) == [], example


def test_judging_a_production_secret_leaves_zxcvbn_out_of_the_process() -> None:
    # A fresh interpreter, as a serving process starts: the judgment is made, and refuses a
    # phrase, without zxcvbn's dictionaries staying behind in it.
    probe = (
        "import sys, json\n"
        "from todo_api.config import ConfigError, load_settings\n"
        "load_settings(environment='production', better_auth_secret=sys.argv[1], _env_file=None)\n"
        "try:\n"
        "    load_settings(environment='production', better_auth_secret=sys.argv[2], _env_file=None)\n"
        "    refused = False\n"
        "except ConfigError:\n"
        "    refused = True\n"
        "print(json.dumps({'refused': refused, 'zxcvbn': 'zxcvbn' in sys.modules}))\n"
    )
    phrase = "my-super-secret-password-for-todo-api-2026"
    result = subprocess.run(
        [sys.executable, "-c", probe, PRODUCTION_SECRET, phrase],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert json.loads(result.stdout) == {"refused": True, "zxcvbn": False}


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
            environment="production",
            better_auth_secret=PRODUCTION_SECRET,
            public_url="http://todo.example.com",
        )
    local = IsolatedSettings(
        environment="production", better_auth_secret=PRODUCTION_SECRET, public_url="http://127.0.0.1:8000"
    )
    assert local.public_url is not None


def test_the_events_relay_is_off_by_default_and_publishes_to_redis_url_unless_told_another() -> None:
    assert load_settings(_env_file=None).events_relay == "off"

    shared = load_settings(events_relay="Redis", redis_url="redis://limits:6379/0", _env_file=None)
    own = load_settings(
        events_relay="redis",
        redis_url="redis://limits:6379/0",
        events_relay_redis_url="rediss://events:6380/1",
        _env_file=None,
    )

    assert (shared.events_relay, shared.events_relay_url) == ("redis", "redis://limits:6379/0")
    assert own.events_relay_url == "rediss://events:6380/1"
    assert (own.events_relay_stream, own.events_relay_maxlen) == ("todo-api.events", 100_000)
    assert load_settings(events_relay="", _env_file=None).events_relay == "off"


def test_the_redis_relay_without_a_redis_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(events_relay="redis", redis_url="", _env_file=None)

    assert str(caught.value) == (
        "invalid configuration: EVENTS_RELAY=redis needs EVENTS_RELAY_REDIS_URL or REDIS_URL (redis://...)"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("events_relay", "kafka"),
        ("events_relay_redis_url", "http://:hunter2-placeholder@events:6379"),
        ("events_relay_stream", "todo events"),
        ("events_relay_maxlen", "10"),
    ],
)
def test_bad_relay_settings_name_the_variable_and_never_a_url(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**{name: value}, _env_file=None)

    assert str(caught.value).startswith(f"invalid configuration: {name.upper()}: ")
    assert "hunter2" not in str(caught.value)
