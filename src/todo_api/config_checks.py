"""Checks settings make of single values: hosts on this machine, secrets that look generated,
setting names that look misspelled."""

from __future__ import annotations

import difflib
import math
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Collection
from urllib.parse import urlsplit

# Estimated from character frequencies: 32 random base64 characters give about 150 bits, a
# word repeated to 32 characters about 90, one character repeated none.
MIN_SECRET_BITS = 100
# Every example secret this repository's files show (tests/test_config.py finds them all):
# anyone can read them, so production refuses them whatever they look like.
PLACEHOLDER_SECRETS = frozenset(
    {
        "replace-with-at-least-32-random-characters",  # .env.example
        "replace-me-with-32-or-more-random-characters",  # docs/frontend.md, examples/nextjs
    }
)
# zxcvbn's estimate for characters in which it finds no word or pattern is 10 guesses each, so
# a generated secret of n characters comes out near 10**n: at least 10**(0.85 n) in 20,000
# random 32-character hex secrets, 10**(0.89 n) in 20,000 of secrets.token_urlsafe(24). Words
# and patterns cost far less: typed phrases such as "my-super-secret-password-for-todo-api-2026"
# come out under 10**(0.8 n).
MIN_GUESS_DIGITS_PER_CHARACTER = 0.8
# zxcvbn's own limit, and the first 72 letters and digits are plenty to tell: its time grows
# faster than the length (up to about 50 ms at 72 characters, 0.2 s at 200, 1.8 s at 400).
JUDGED_CHARACTERS = 72
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
# How alike a name must be to a setting's (difflib's ratio) to be taken for a misspelling of
# it, and how many characters may differ: DATABSE_URL is DATABASE_URL, DATABASE_USER is not.
NAME_SIMILARITY = 0.85
MAX_MISSPELT_CHARACTERS = 2


def is_loopback(host: str | None) -> bool:
    """Whether `host` names this machine (where plain http cannot be overheard)."""
    return host is not None and (host in LOOPBACK_HOSTS or host.endswith(".localhost"))


def is_loopback_origin(origin: str) -> bool:
    return origin.startswith("http://") and is_loopback(urlsplit(origin).hostname)


def origin_problem(origin: str) -> str | None:
    """What keeps `origin` from being a browser origin (`scheme://host[:port]`), and the fix."""
    if origin == "*":  # any origin: CORSMiddleware's own wildcard
        return None
    parts = urlsplit(origin)
    if "://" not in origin:
        # `localhost:3000` parses as the scheme "localhost"; a browser never sends an origin
        # without a scheme, so it would be dropped without a word.
        scheme = "http" if is_loopback(urlsplit(f"//{origin}").hostname) else "https"
        return f"'{origin}' has no scheme: write {scheme}://{origin}"
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"'{origin}' is not an http:// or https:// origin such as https://app.example"
    if parts.path or parts.query or parts.fragment:
        return f"'{origin}' is not an origin (it has a path): write {parts.scheme}://{parts.netloc}"
    return None


def weak_secret_reason(secret: str) -> str | None:
    """Why `secret` does not look generated (a few words for an operator), or None if it does."""
    if secret in PLACEHOLDER_SECRETS:
        return "is an example value from the documentation"
    counts = Counter(secret)
    per_character = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    if per_character * len(secret) < MIN_SECRET_BITS:
        return "does not look random (too few different characters)"
    if reads_as_words_or_patterns(secret):
        return "does not look random (it reads as words or a pattern)"
    return None


def reads_as_words_or_patterns(secret: str) -> bool:
    """Whether zxcvbn finds words, names, dates, sequences or keyboard patterns in most of it."""
    # Letters and digits only, in one case: zxcvbn sees a phrase's words best without the
    # separators and capitals, which it would otherwise count as guesses of their own.
    judged = re.sub(r"[^a-z0-9]", "", secret.lower())[:JUDGED_CHARACTERS]
    if not judged:  # nothing for zxcvbn: the character count above judges it alone
        return False
    return guess_digits(judged) < MIN_GUESS_DIGITS_PER_CHARACTER * len(judged)


def guess_digits(judged: str) -> float:
    """log10 of zxcvbn's guesses for `judged`, worked out in a child interpreter: zxcvbn's
    dictionaries would otherwise stay in every serving process (about 12 MiB each), for a
    judgment made once, at start-up. In this process if no child can be started."""
    if judged not in _judged:
        try:
            child = subprocess.run(
                [sys.executable, "-m", "todo_api.secret_strength"],
                input=judged,
                capture_output=True,
                text=True,
                timeout=CHILD_TIMEOUT_SECONDS,
                check=True,
            )
            _judged[judged] = float(child.stdout)
        except (OSError, ValueError, subprocess.SubprocessError):
            _judged[judged] = zxcvbn_guess_digits(judged)
    return _judged[judged]


def zxcvbn_guess_digits(judged: str) -> float:
    """log10 of zxcvbn's estimate of the guesses `judged` takes."""
    from zxcvbn import zxcvbn  # noqa: PLC0415 (its dictionaries cost about 12 MiB)

    return math.log10(float(zxcvbn(judged)["guesses"]))


# The verdicts of this process, by judged text (settings are often built more than once).
_judged: dict[str, float] = {}
CHILD_TIMEOUT_SECONDS = 30


def misspelt_name(name: str, known: Collection[str]) -> str | None:
    """The known name `name` looks like a misspelling of, if any (all names upper case)."""
    if name in known:
        return None
    for candidate in difflib.get_close_matches(name, known, n=1, cutoff=NAME_SIMILARITY):
        matcher = difflib.SequenceMatcher(None, name, candidate)
        changed = sum(
            max(end - start, other_end - other_start)
            for tag, start, end, other_start, other_end in matcher.get_opcodes()
            if tag != "equal"
        )
        if changed <= MAX_MISSPELT_CHARACTERS:
            return candidate
    return None
