"""Checks settings make of single values: hosts on this machine, secrets that look generated."""

from __future__ import annotations

import math
from collections import Counter
from urllib.parse import urlsplit

# Estimated from character frequencies: 32 random base64 characters give about 150 bits, a
# word repeated to 32 characters about 90, one character repeated none.
MIN_SECRET_BITS = 100
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback(host: str | None) -> bool:
    """Whether `host` names this machine (where plain http cannot be overheard)."""
    return host is not None and (host in LOOPBACK_HOSTS or host.endswith(".localhost"))


def is_loopback_origin(origin: str) -> bool:
    return origin.startswith("http://") and is_loopback(urlsplit(origin).hostname)


def looks_random(secret: str) -> bool:
    """A rough test that a secret was generated, not typed: its character entropy in bits."""
    counts = Counter(secret)
    per_character = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    return per_character * len(secret) >= MIN_SECRET_BITS
