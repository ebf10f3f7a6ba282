"""The chat tests' scripted model (tests/chat/model_server.py) as a process of its own on
loopback, for a service that runs as a process: the service's chat settings point at it, and
the test gives it its script over HTTP."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Self

import httpx

from tests.chat.conftest import PROVIDER_KEY
from tests.chat.model_server import MODEL
from tests.interop.issuer_driver import free_port
from tests.interop.service_driver import ServedProcess

ROOT = Path(__file__).resolve().parents[2]


class ScriptedModelProcess(ServedProcess):
    """`python -m tests.chat.model_server` on a free port of 127.0.0.1."""

    def __init__(self, workdir: Path) -> None:
        """Remember where to log; nothing runs until ``start``."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "model.log"

    def start(self, ready_timeout: float = 30.0) -> Self:
        """Start serving and wait until its model list answers."""
        env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
        command = [sys.executable, "-m", "tests.chat.model_server", "--port", str(self.port)]
        self._launch(command, ROOT, env, f"{self.url}/models", ready_timeout)
        return self

    def chat_settings(self) -> dict[str, str]:
        """The service's settings for chatting with this model (no retries: a failure is one)."""
        return {
            "CHAT_MODEL": MODEL,
            "OPENAI_BASE_URL": self.url,
            "OPENAI_API_KEY": PROVIDER_KEY,
            "CHAT_MAX_RETRIES": "0",
        }

    def script(self, *replies: dict[str, Any]) -> None:
        """Answer the next requests with these replies, in order (what was left is dropped)."""
        httpx.put(f"http://127.0.0.1:{self.port}/script", json=list(replies), timeout=10).raise_for_status()

    def received(self) -> list[dict[str, Any]]:
        """The body of each request since the script was given."""
        response = httpx.get(f"http://127.0.0.1:{self.port}/received", timeout=10)
        response.raise_for_status()
        bodies: list[dict[str, Any]] = response.json()
        return bodies
