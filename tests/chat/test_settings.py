"""The chat settings: checked at start-up, one clear line for what is wrong, no key shown."""

from __future__ import annotations

import pytest

from tests.conftest import IsolatedSettings
from todo_api.config import ConfigError, Settings, load_settings

KEY = "sk-test-placeholder-settings-key"


def _load(**values: object) -> Settings:
    try:
        return IsolatedSettings(**({"better_auth_secret": None} | values))  # type: ignore[arg-type]
    except Exception as error:
        raise ConfigError(str(error)) from None


def test_chat_is_off_by_default() -> None:
    settings = IsolatedSettings()

    assert settings.chat_model is None
    assert settings.chat_tracing is False
    assert (settings.chat_timeout, settings.chat_max_retries, settings.chat_max_turns) == (30.0, 1, 10)
    assert settings.rate_limit_chat == "20/minute"


def test_openai_needs_a_key_and_other_providers_may_not() -> None:
    with pytest.raises(ConfigError, match="CHAT_MODEL on OpenAI's API needs OPENAI_API_KEY"):
        _load(chat_model="gpt-4o-mini")
    ollama = IsolatedSettings(chat_model="llama3.2", openai_base_url="http://localhost:11434/v1")

    assert ollama.chat_base_url == "http://localhost:11434/v1"
    assert IsolatedSettings(chat_model="gpt-4o-mini", openai_api_key=KEY).chat_base_url == (
        "https://api.openai.com/v1"
    )


def test_tracing_needs_the_key_it_exports_with() -> None:
    with pytest.raises(ConfigError, match="CHAT_TRACING"):
        _load(chat_tracing=True)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("CHAT_TIMEOUT", "0", "CHAT_TIMEOUT"),
        ("CHAT_MAX_TURNS", "0", "CHAT_MAX_TURNS"),
        ("RATE_LIMIT_CHAT", "often", "RATE_LIMIT_CHAT: 'often' is not a rate"),
        ("OPENAI_BASE_URL", "not a url", "OPENAI_BASE_URL"),
        ("CHAT_MODEL", " gpt ", "CHAT_MODEL: must be a model name"),
    ],
)
def test_a_bad_chat_setting_stops_start_up_with_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    for setting in Settings.model_fields:  # none of the environment's own
        monkeypatch.delenv(setting.upper(), raising=False)
    monkeypatch.setenv(name, value)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None)

    message = str(raised.value)
    assert problem in message
    assert "\n" not in message
    assert KEY not in message


def test_the_key_is_never_shown() -> None:
    settings = IsolatedSettings(chat_model="gpt-4o-mini", openai_api_key=KEY)

    assert KEY not in repr(settings)
    assert KEY not in str(settings.model_dump())
