"""The development secret: made once, kept owner-only in the working directory, reused by
every worker and every restart, and never made in production."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from todo_api.config import MIN_SECRET_LENGTH, Settings

DEV_SECRET_FILE = ".todo-api-secret"  # noqa: S105 (a file name, not a secret)


def with_dev_secret(settings: Settings, directory: Path | None = None) -> Settings:
    """In development with no key configured, use (and keep) a random local secret."""
    if not settings.needs_dev_secret:
        return settings
    path = (directory or Path.cwd()) / DEV_SECRET_FILE
    secret = _read_secret(path)
    if secret is None:
        secret = _create_secret(path)
    return settings.model_copy(update={"better_auth_secret": SecretStr(secret)})


def _read_secret(path: Path) -> str | None:
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return secret if len(secret) >= MIN_SECRET_LENGTH else None


def _create_secret(path: Path) -> str:
    """Write a new owner-only secret; if another process won the race, use its secret."""
    secret = secrets.token_urlsafe(48)
    staging = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
    try:
        # link() never replaces an existing file, so concurrent starts agree on one secret.
        os.link(staging, path)
    except FileExistsError:
        existing = _read_secret(path)
        if existing is None:
            os.replace(staging, path)
            return secret
        secret = existing
    finally:
        staging.unlink(missing_ok=True)
    return secret
