"""HTTP transport of the TSA (RFC 3161 §3.4) as a raw ASGI app, and its uvicorn runner.

``POST`` with ``Content-Type: application/timestamp-query`` at any path is answered ``200`` with
``application/timestamp-reply``: a token or an RFC 3161 rejection. Transport-level refusals are
plain-text 4xx: 405 for other methods, 415 for another content type, 413 for a body larger than
``max_body_bytes``, 400 for an empty body. Nothing answers 500: an unexpected failure becomes a
``systemFailure`` rejection. Signing runs in anyio's worker threads, never on the event loop.

Configuration for :func:`run` (the ``ltv tsa serve`` and ``python -m tsa`` commands) is a
:class:`ServeSettings`; it round-trips through ``LTV_TSA_*`` environment variables, which is how
uvicorn's worker processes (started by import string, :func:`app_from_environment`) receive it.
Every worker loads the key once and shares the serial state directory (see :mod:`tsa.serials`).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio.to_thread

from ltv.clock import Clock, OffsetClock, SystemClock, format_time, parse_time
from ltv.errors import InputError
from tsa.authority import (
    DEFAULT_POLICY_OID,
    FailureInfo,
    TimeStampAuthority,
    TsaIdentity,
    rejection_response,
)
from tsa.errors import TsaConfigurationError
from tsa.serials import FileSerialAllocator, KeyBoundSerials

__all__ = [
    "DEFAULT_PORT",
    "ASGIApp",
    "ServeSettings",
    "app_from_environment",
    "build_authority",
    "create_app",
    "run",
    "serve",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_PORT = 8318
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = b"application/timestamp-reply"

_log = logging.getLogger("tsa")
_SYSTEM_FAILURE = rejection_response(FailureInfo.SYSTEM_FAILURE, "internal error of the TSA")


async def _plain(send: Send, status: int, text: str, headers: tuple[tuple[bytes, bytes], ...] = ()
                 ) -> None:
    body = (text + "\n").encode("utf-8")
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode("ascii")),
            *headers,
        ],
    })
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(
    authority: TimeStampAuthority | Callable[[], TimeStampAuthority],
    *,
    max_body_bytes: int = 16 * 1024,
) -> ASGIApp:
    """A raw ASGI app answering RFC 3161 HTTP requests at any path (RFC 3161 §3.4).

    ``authority`` is either the authority or a callable returning the one to use, called once per
    request, so a caller can swap identities (TSA key rollover) without a restart; the callable
    should return a held instance, not build one (building loads nothing, but prepares DER).
    """
    get_authority: Callable[[], TimeStampAuthority] = (
        (lambda: authority) if isinstance(authority, TimeStampAuthority) else authority
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            await _plain(send, 405, "use POST with an RFC 3161 TimeStampReq",
                         ((b"allow", b"POST"),))
            return
        content_type = b""
        declared_length = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                declared_length = value
        media_type = content_type.split(b";", 1)[0].strip().lower()
        if media_type != QUERY_TYPE.encode():
            await _plain(send, 415, f"the request must have Content-Type {QUERY_TYPE}")
            return
        too_large = f"a time-stamp request has at most {max_body_bytes} bytes"
        if declared_length is not None:
            try:
                if int(declared_length) > max_body_bytes:
                    await _plain(send, 413, too_large)
                    return
            except ValueError:
                await _plain(send, 400, "bad Content-Length")
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_body_bytes:
                await _plain(send, 413, too_large)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        if size == 0:
            await _plain(send, 400, "the request body is empty; send a DER TimeStampReq")
            return
        try:
            # Off the event loop: one signature, and every block of serials a flock and fsyncs
            # (tsa.serials), would otherwise stall every other connection of this worker.
            body = b"".join(chunks)
            reply = await anyio.to_thread.run_sync(lambda: get_authority().respond(body))
        except Exception:
            _log.exception("the time-stamp authority failed")
            reply = _SYSTEM_FAILURE
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", REPLY_TYPE),
                (b"content-length", str(len(reply)).encode("ascii")),
                (b"cache-control", b"no-store"),
            ],
        })
        await send({"type": "http.response.body", "body": reply})

    return app


def serve(
    app: ASGIApp | str,
    *,
    host: str = "127.0.0.1",
    port: int,
    workers: int = 1,
    factory: bool = False,
    log_level: str = "warning",
) -> None:
    """Run ``app`` under uvicorn until interrupted (SIGINT/SIGTERM end it cleanly).

    Several ``workers`` need ``app`` as an import string (``"module:attribute"``, with
    ``factory=True`` for a function returning the app): uvicorn starts each worker as a new
    process that imports it.
    """
    import uvicorn  # the runner only; importing tsa.server for create_app does not need it

    if workers > 1 and not isinstance(app, str):
        raise TsaConfigurationError("several workers need the app as an import string")
    uvicorn.run(
        app,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        factory=factory,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        server_header=False,
        date_header=False,
        timeout_keep_alive=30,
    )


# --- configuration --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class ServeSettings:
    """What ``ltv tsa serve`` / ``python -m tsa`` are told, as files and values."""

    key: Path
    cert: Path
    chain: Path | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    state_dir: Path = Path("var/tsa")
    policy: str = DEFAULT_POLICY_OID
    workers: int = 1
    at: datetime | None = None
    #: The real time at which ``at`` was given, so every worker's clock reads the same.
    at_origin: datetime | None = None
    key_password: bytes | None = None
    #: A file holding the key password (one line): workers read it themselves, so the password
    #: never travels through their environment (``/proc/PID/environ``).
    key_password_file: Path | None = None

    def password(self) -> bytes | None:
        """``key_password``, else the first line of ``key_password_file``, else None."""
        if self.key_password is not None or self.key_password_file is None:
            return self.key_password
        try:
            data = self.key_password_file.read_bytes()
        except OSError as exc:
            raise TsaConfigurationError(
                f"cannot read the TSA key password file {self.key_password_file}: "
                f"{exc.strerror or exc}"
            ) from exc
        return data.split(b"\n", 1)[0].rstrip(b"\r")

    def to_environment(self) -> dict[str, str]:
        """The ``LTV_TSA_*`` variables that :meth:`from_environment` reads back."""
        env = {
            "LTV_TSA_KEY": str(self.key.resolve()),
            "LTV_TSA_CERT": str(self.cert.resolve()),
            "LTV_TSA_HOST": self.host,
            "LTV_TSA_PORT": str(self.port),
            "LTV_TSA_STATE_DIR": str(self.state_dir.resolve()),
            "LTV_TSA_POLICY": self.policy,
            "LTV_TSA_WORKERS": str(self.workers),
        }
        if self.chain is not None:
            env["LTV_TSA_CHAIN"] = str(self.chain.resolve())
        if self.at is not None:
            env["LTV_TSA_AT"] = format_time(self.at)
            env["LTV_TSA_AT_ORIGIN"] = format_time(self.at_origin or SystemClock().now())
        if self.key_password_file is not None and self.key_password is None:
            env["LTV_TSA_KEY_PASSWORD_FILE"] = str(self.key_password_file.resolve())
        if self.key_password is not None:
            env["LTV_TSA_KEY_PASSWORD"] = self.key_password.decode("utf-8", "surrogateescape")
        return env

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ServeSettings:
        env = os.environ if environ is None else environ
        missing = [name for name in ("LTV_TSA_KEY", "LTV_TSA_CERT") if not env.get(name)]
        if missing:
            raise TsaConfigurationError(
                f"set {' and '.join(missing)} (the TSA key and certificate)"
            )
        try:
            password = env.get("LTV_TSA_KEY_PASSWORD")
            return cls(
                key=Path(env["LTV_TSA_KEY"]),
                cert=Path(env["LTV_TSA_CERT"]),
                chain=Path(env["LTV_TSA_CHAIN"]) if env.get("LTV_TSA_CHAIN") else None,
                host=env.get("LTV_TSA_HOST", "127.0.0.1"),
                port=int(env.get("LTV_TSA_PORT", DEFAULT_PORT)),
                state_dir=Path(env.get("LTV_TSA_STATE_DIR", "var/tsa")),
                policy=env.get("LTV_TSA_POLICY", DEFAULT_POLICY_OID),
                workers=int(env.get("LTV_TSA_WORKERS", "1")),
                at=parse_time(env["LTV_TSA_AT"]) if env.get("LTV_TSA_AT") else None,
                at_origin=(
                    parse_time(env["LTV_TSA_AT_ORIGIN"]) if env.get("LTV_TSA_AT_ORIGIN") else None
                ),
                key_password=(
                    password.encode("utf-8", "surrogateescape") if password is not None else None
                ),
                key_password_file=(
                    Path(env["LTV_TSA_KEY_PASSWORD_FILE"])
                    if env.get("LTV_TSA_KEY_PASSWORD_FILE") else None
                ),
            )
        except (ValueError, InputError) as exc:
            raise TsaConfigurationError(f"bad LTV_TSA_* setting: {exc}") from exc

    def clock(self) -> Clock:
        """The system clock, or one running from ``at`` (``--at``), same in every worker."""
        if self.at is None:
            return SystemClock()
        origin = self.at_origin or SystemClock().now()
        return OffsetClock(self.at + (SystemClock().now() - origin))


def build_authority(settings: ServeSettings) -> TimeStampAuthority:
    """Load the identity once and build the authority over the shared serial state directory,
    issuing serials bound to the key (:class:`~tsa.serials.KeyBoundSerials`)."""
    identity = TsaIdentity.from_files(
        settings.key, settings.cert, chain=settings.chain, password=settings.password()
    )
    return TimeStampAuthority(
        identity,
        serials=KeyBoundSerials(
            FileSerialAllocator(settings.state_dir), key_fingerprint=identity.key_fingerprint
        ),
        clock=settings.clock(),
        policy_oid=settings.policy,
    )


def app_from_environment() -> ASGIApp:
    """The app of one uvicorn worker, configured by ``LTV_TSA_*`` (see :meth:`ServeSettings`)."""
    return create_app(build_authority(ServeSettings.from_environment()))


def run(settings: ServeSettings) -> None:
    """Start serving as configured: load and check everything first, then hand over to uvicorn."""
    if settings.workers < 1:
        raise TsaConfigurationError(f"--workers must be 1 or more, not {settings.workers}")
    if settings.at is not None and settings.at_origin is None:
        settings = replace(settings, at_origin=SystemClock().now())
    authority = build_authority(settings)  # fails here, with a clear message, if misconfigured
    clock_note = f", clock from {format_time(settings.at)}" if settings.at else ""
    print(
        f"ltv TSA on http://{settings.host}:{settings.port}/ (policy {settings.policy}, "
        f"{settings.workers} worker(s), serials in {settings.state_dir}{clock_note})",
        file=sys.stderr,
        flush=True,
    )
    if settings.workers == 1:
        serve(create_app(authority), host=settings.host, port=settings.port)
        return
    os.environ.update(settings.to_environment())
    serve(
        "tsa.server:app_from_environment",
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        factory=True,
    )
