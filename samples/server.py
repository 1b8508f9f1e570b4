"""The sample PKI's HTTP services on 127.0.0.1: OCSP, CRLs, CA certificates and the TSA.

A raw ASGI application (no framework) run by uvicorn. Routes (``<ca>`` is ``root``, ``card-ca`` or
``smartphone-ca``):

=====================================  ==========================================================
``POST /ocsp/<ca>``                    OCSP request (``application/ocsp-request``), RFC 6960
``GET /ocsp/<ca>/<base64 request>``    the same, GET form of RFC 6960 appendix A.1
``GET /crl/<ca>.crl``                  a fresh full CRL (``application/pkix-crl``)
``GET /certs/<ca>.cer``                the CA certificate, DER (``application/pkix-cert``)
``POST /tsa``                          RFC 3161 time-stamp requests (:mod:`tsa.server`)
``GET /healthz``                       ``ok``
=====================================  ==========================================================

State changes made by ``ltv pki revoke`` / ``rollover-tsa`` / enrolments while the server runs
are picked up on the next request (one ``stat`` of state.json per request).
"""

from __future__ import annotations

import base64
import binascii
import logging
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from ltv.clock import Clock, OffsetClock, SystemClock, format_time
from samples.pki import CA_NAMES, CaName, SamplePki
from samples.responders import OcspSigner, build_crl, respond_ocsp

__all__ = ["PkiApp", "create_app", "serve"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_OCSP_REQUEST = 64 * 1024
_log = logging.getLogger("samples.server")


class _TooLarge(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, content_type: str,
                   extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", content_type.encode()),
               (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class PkiApp:
    """ASGI application over one :class:`SamplePki` and a :class:`Clock`."""

    def __init__(self, pki: SamplePki, *, clock: Clock, tsa_app: AsgiApp | None = None) -> None:
        self.pki = pki
        self.clock = clock
        self.tsa_app = tsa_app

    def _signer(self, ca: CaName) -> OcspSigner:
        cert, key = self.pki.responder(ca)
        pki = self.pki
        return OcspSigner(
            ca_certificate=pki.ca_certificate(ca), responder_certificate=cert, responder_key=key,
            status_of=lambda serial, at: pki.status_of(ca, serial, at=at),
        )

    def ocsp(self, ca: CaName, request_der: bytes) -> bytes:
        self.pki.refresh()
        return respond_ocsp(request_der, signer=self._signer(ca), now=self.clock.now())

    def crl(self, ca: CaName) -> bytes:
        self.pki.refresh()
        now = self.clock.now()
        return build_crl(
            ca_certificate=self.pki.ca_certificate(ca), ca_key=self.pki.ca_key(ca),
            revoked=self.pki.revoked_entries(ca, at=now), now=now,
            number=max(1, int(now.timestamp())),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        method: str = scope["method"]
        path: str = scope["path"]
        status = await self._route(method, path, scope, receive, send)
        _log.info("%s %s %s", method, path if len(path) < 80 else path[:77] + "...", status)

    async def _route(self, method: str, path: str, scope: Scope, receive: Receive,
                     send: Send) -> int:
        if path == "/tsa" or path.startswith("/tsa/"):
            if self.tsa_app is None:
                await _respond(send, 503, b"no TSA configured\n", "text/plain")
                return 503
            await self.tsa_app(scope, receive, send)
            return 200
        if path == "/healthz" and method in ("GET", "HEAD"):
            await _respond(send, 200, b"ok\n", "text/plain")
            return 200
        parts = path.split("/", 3)  # "", kind, name, rest
        if len(parts) >= 3 and parts[1] == "ocsp" and parts[2] in CA_NAMES:
            ca: CaName = parts[2]
            if method == "POST" and len(parts) == 3:
                try:
                    body = await _read_body(receive, MAX_OCSP_REQUEST)
                except _TooLarge:
                    await _respond(send, 413, b"request too large\n", "text/plain")
                    return 413
            elif method == "GET" and len(parts) == 4:
                try:
                    body = base64.b64decode(parts[3], validate=False)
                except (binascii.Error, ValueError):
                    body = b""
            else:
                await _respond(send, 405, b"use POST, or GET with a base64 request\n",
                               "text/plain")
                return 405
            await _respond(send, 200, self.ocsp(ca, body), "application/ocsp-response")
            return 200
        if method in ("GET", "HEAD") and len(parts) == 3:
            name = parts[2]
            if parts[1] == "crl" and name.endswith(".crl") and name[:-4] in CA_NAMES:
                crl = self.crl(cast(CaName, name[:-4]))
                await _respond(send, 200, crl, "application/pkix-crl")
                return 200
            if parts[1] == "certs" and name.endswith(".cer") and name[:-4] in CA_NAMES:
                der = self.pki.ca_certificate(cast(CaName, name[:-4])).public_bytes(Encoding.DER)
                await _respond(send, 200, der, "application/pkix-cert")
                return 200
        await _respond(send, 404, b"not found\n", "text/plain")
        return 404


def _tsa_app(pki: SamplePki, clock: Clock) -> AsgiApp | None:
    """The TSA of :mod:`tsa`, signing with the PKI's newest TSA identity (None if absent)."""
    try:
        from tsa.authority import TimeStampAuthority
        from tsa.serials import FileSerialAllocator, KeyBoundSerials
        from tsa.server import create_app as create_tsa_app
    except ImportError as exc:  # the TSA package is optional for OCSP/CRL-only use
        _log.warning("no TSA at /tsa: %s", exc)
        return None
    serials = FileSerialAllocator(pki.directory / "tsa-state")
    cache: dict[bytes, TimeStampAuthority] = {}

    def current() -> TimeStampAuthority:
        pki.refresh()
        identity = pki.tsa_identity()
        key = identity.certificate.fingerprint(hashes.SHA256())
        authority = cache.get(key)
        if authority is None:
            cache.clear()
            bound = KeyBoundSerials(serials, key_fingerprint=identity.key_fingerprint)
            authority = cache[key] = TimeStampAuthority(identity, serials=bound, clock=clock)
        return authority

    return create_tsa_app(current)


def create_app(directory: Path, *, clock: Clock | None = None) -> PkiApp:
    """The ASGI app for the sample PKI in ``directory`` (with the TSA when :mod:`tsa` is there)."""
    pki = SamplePki.load(directory)
    clock = clock if clock is not None else SystemClock()
    return PkiApp(pki, clock=clock, tsa_app=_tsa_app(pki, clock))


def serve(directory: Path, *, at: datetime | None = None) -> None:
    """Run the servers on 127.0.0.1:PORT (PORT from the PKI) until interrupted."""
    import uvicorn

    clock: Clock = OffsetClock(at) if at is not None else SystemClock()
    app = create_app(directory, clock=clock)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    described = f"{format_time(at)} and ticking, from --at" if at is not None else "system"
    print(f"serving sample PKI at {app.pki.base_url} (clock: {described})", flush=True)
    config = uvicorn.Config(app, host="127.0.0.1", port=app.pki.port, log_level="warning",
                            access_log=False, lifespan="off")
    uvicorn.Server(config).run()
