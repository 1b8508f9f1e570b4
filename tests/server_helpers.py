"""Helpers for the HTTP API tests: an in-process app over given ports, a uvicorn server in a
thread on 127.0.0.1, a mutable clock, and problem-JSON assertions."""

from __future__ import annotations

import base64
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization

PEM = serialization.Encoding.PEM


@dataclass
class MutableClock:
    """A clock a test moves by hand (session expiry)."""

    at: datetime

    def now(self) -> datetime:
        return self.at

    def advance(self, **kwargs: float) -> None:
        self.at += timedelta(**kwargs)


def chain_pem(phone: Any) -> list[str]:
    return [c.public_bytes(PEM).decode("ascii") for c in [phone.certificate, *phone.chain]]


def session_body(document: bytes, phone: Any, *, format: str, level: str,
                 **extra: Any) -> dict[str, Any]:
    return {"document": base64.b64encode(document).decode("ascii"),
            "signer_chain": chain_pem(phone), "format": format, "level": level, **extra}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def assert_problem(response: httpx.Response, status: int,
                   slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/problem+json"), \
        response.headers
    body: dict[str, Any] = response.json()
    for key in ("type", "title", "status", "detail"):
        assert key in body, body
    assert body["status"] == status
    assert "Traceback" not in response.text
    if slug is not None:
        assert body["type"] == f"urn:ltv:problem:{slug}", body
    return body


@contextlib.contextmanager
def served(app: Any, port: int) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on 127.0.0.1:port; yields its base URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            access_log=False, lifespan="on", limit_concurrency=1000,
                            backlog=2048)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=20)
