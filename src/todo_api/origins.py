"""Which origins the service trusts, and whether a request's Origin (or Referer) is one of
them: the check Better Auth's origin middleware runs, shared by its endpoints and by the task
routes when a session cookie authenticates a write. No web framework here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from todo_api.config import Settings

MISSING_OR_NULL_ORIGIN = "MISSING_OR_NULL_ORIGIN"
INVALID_ORIGIN = "INVALID_ORIGIN"


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL, lower-cased; None for anything without both, or that
    urlsplit refuses (`http://[` is a ValueError: an Origin header, not a 500)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


def trusted_origins(settings: Settings, own_base_url: str) -> set[str]:
    """BETTER_AUTH_URL's origin (else the service's own, as requested) and CORS_ORIGINS."""
    base = settings.better_auth_base_url or own_base_url
    origins = {origin_of(base), *(origin_of(origin) for origin in settings.cors_origins)}
    return {origin for origin in origins if origin}


def untrusted_origin(headers: Mapping[str, str], trusted: set[str]) -> str | None:
    """Better Auth's validateOrigin: None when the Origin (else the Referer) is trusted, else
    the error code, MISSING_OR_NULL_ORIGIN or INVALID_ORIGIN."""
    claimed = headers.get("origin") or headers.get("referer") or ""
    if not claimed or claimed == "null":
        return MISSING_OR_NULL_ORIGIN
    return None if origin_of(claimed) in trusted else INVALID_ORIGIN
