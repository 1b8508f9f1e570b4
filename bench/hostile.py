"""What an attacker brings (security review findings 1-4), for the tests and bench_slowdrip.

* :class:`Listener`: an "internal service" on 127.0.0.1 (stdlib ``ThreadingHTTPServer``) that
  logs every request. Routes: ``/redirect*`` → 302 to ``/latest/meta-data/iam``; ``/slow*`` →
  200 with a large Content-Length, then one byte every ``drip`` seconds; ``/crl/N`` → a CRL
  signed by the attacker CA, padded to ``crl_bytes``; ``/chain/K`` → an endless caIssuers
  chain of made-up CAs; anything else → 200 ``internal ok``.
* :func:`attacker_signature`: a CAdES B-B detached signature by a signer whose certificate
  (from the attacker's own CA) names the chosen OCSP, CRL and caIssuers URLs.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

__all__ = ["Attacker", "Hit", "Listener", "attacker_signature"]

_NOW = datetime.now(UTC)  # the attacker's certificates are valid around the real time


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class Attacker:
    """The attacker's CA (EC P-256; made once per process)."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def __post_init__(self) -> None:
        name = _name("Attacker CA")
        self.ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(self.key.public_key()).serial_number(1)
                   .not_valid_before(_NOW - timedelta(days=1))
                   .not_valid_after(_NOW + timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                   .sign(self.key, hashes.SHA256()))

    def crl(self, size: int) -> bytes:
        """A CRL signed by the attacker CA, padded to about ``size`` bytes (a private,
        non-critical extension: as costly to hold as revoked entries, and quick to make)."""
        pad = b"\x04\x84" + size.to_bytes(4, "big") + b"\0" * size
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.ca.subject)
                   .last_update(_NOW - timedelta(hours=1))
                   .next_update(_NOW + timedelta(days=7))
                   .add_extension(x509.UnrecognizedExtension(
                       x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), pad), False))
        return builder.sign(self.key, hashes.SHA256()).public_bytes(
            serialization.Encoding.DER)


def attacker_signature(attacker: Attacker, *, ocsp: Sequence[str] = (),
                       crls: Sequence[str] = (), ca_issuers: Sequence[str] = (),
                       include_ca: bool = True, issuer: x509.Name | None = None,
                       issuer_key: ec.EllipticCurvePrivateKey | None = None,
                       nocheck: bool = False, document: bytes = b"doc") -> bytes:
    """A detached CAdES B-B over ``document`` by a fresh signer naming the given URLs."""
    from ltv.keys import KeySigner
    from ltv.signing import SignatureFormat, SignatureLevel, SigningOptions, sign

    key = ec.generate_private_key(ec.SECP256R1())
    aia = [x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                  x509.UniformResourceIdentifier(u)) for u in ocsp]
    aia += [x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.UniformResourceIdentifier(u)) for u in ca_issuers]
    builder = (x509.CertificateBuilder().subject_name(_name("victim signer"))
               .issuer_name(issuer or attacker.ca.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(_NOW - timedelta(hours=1))
               .not_valid_after(_NOW + timedelta(days=365))
               .add_extension(x509.KeyUsage(True, True, False, False, False, False, False,
                                            False, False), True))
    if aia:
        builder = builder.add_extension(x509.AuthorityInformationAccess(aia), False)
    if crls:
        builder = builder.add_extension(x509.CRLDistributionPoints([
            x509.DistributionPoint([x509.UniformResourceIdentifier(u)], None, None, None)
            for u in crls]), False)
    if nocheck:
        builder = builder.add_extension(x509.OCSPNoCheck(), False)
    leaf = builder.sign(issuer_key or attacker.key, hashes.SHA256())
    chain = [leaf, attacker.ca] if include_ca else [leaf]
    return sign(document, KeySigner(key), chain, SignatureFormat.CADES, SignatureLevel.B_B,
                SigningOptions(detached=True))


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    opened: float
    closed: float | None = None


class _Chain:
    """``/chain/K``: CA K, issued by made-up CA K+1 (fresh EC key), caIssuers → /chain/K+1."""

    def __init__(self, base: str, limit: int) -> None:
        self.base = base
        self.limit = limit
        self._keys: dict[int, ec.EllipticCurvePrivateKey] = {}
        self._lock = threading.Lock()

    def key(self, k: int) -> ec.EllipticCurvePrivateKey:
        with self._lock:
            if k not in self._keys:
                self._keys[k] = ec.generate_private_key(ec.SECP256R1())
            return self._keys[k]

    def cert(self, k: int) -> bytes:
        built = (x509.CertificateBuilder().subject_name(_name(f"Chain CA {k}"))
                 .issuer_name(_name(f"Chain CA {k + 1}")).public_key(self.key(k).public_key())
                 .serial_number(x509.random_serial_number())
                 .not_valid_before(_NOW - timedelta(days=1))
                 .not_valid_after(_NOW + timedelta(days=365))
                 .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                 .add_extension(x509.OCSPNoCheck(), False)
                 .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                     AuthorityInformationAccessOID.CA_ISSUERS,
                     x509.UniformResourceIdentifier(f"{self.base}/chain/{k + 1}"))]), False)
                 .sign(self.key(k + 1), hashes.SHA256()))
        return built.public_bytes(serialization.Encoding.DER)


class Listener:
    """The attacker's (or the victim's internal) HTTP service on 127.0.0.1; logs every hit."""

    def __init__(self, attacker: Attacker, *, crl_bytes: int = 4096, drip: float = 0.5,
                 drip_for: float = 60.0, chain_limit: int = 300) -> None:
        self.attacker = attacker
        self.drip = drip
        self.drip_for = drip_for
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._crl = attacker.crl(crl_bytes)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.chain = _Chain(self.base, chain_limit)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def paths(self) -> list[str]:
        with self._lock:
            return [h.path for h in self.hits]

    def _log(self, hit: Hit) -> int:
        with self._lock:
            self.hits.append(hit)
            return len(self.hits) - 1

    def _close(self, index: int) -> None:
        with self._lock:
            old = self.hits[index]
            self.hits[index] = Hit(old.method, old.path, old.opened, time.monotonic())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                self.do_GET(method="POST")

            def do_GET(self, method: str = "GET") -> None:
                index = listener._log(Hit(method, self.path, time.monotonic()))
                path = self.path
                try:
                    if path.startswith("/slow"):
                        self._slow()
                    elif path.startswith("/redirect"):
                        self._answer(302, b"", location="/latest/meta-data/iam")
                    elif path.startswith("/crl/"):
                        self._answer(200, listener._crl, "application/pkix-crl")
                    elif path.startswith("/chain/"):
                        k = int(path.rsplit("/", 1)[-1])
                        if k > listener.chain.limit:
                            self._answer(404, b"stop")
                        else:
                            self._answer(200, listener.chain.cert(k), "application/pkix-cert")
                    else:
                        self._answer(200, b"internal ok")
                finally:
                    listener._close(index)

            def _answer(self, status: int, body: bytes, kind: str = "text/plain",
                        location: str | None = None) -> None:
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                if location:
                    self.send_header("location", location)
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(body)

            def _slow(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/ocsp-response")
                self.send_header("content-length", "60000")
                self.end_headers()
                until = time.monotonic() + listener.drip_for
                try:
                    while time.monotonic() < until:
                        self.wfile.write(b"\x30")
                        self.wfile.flush()
                        time.sleep(listener.drip)
                except OSError:
                    return  # the client hung up: what a deadline does
                self.close_connection = True

        return Handler


@contextlib.contextmanager
def listening(attacker: Attacker, **kwargs: Any) -> Iterator[Listener]:
    with Listener(attacker, **kwargs) as listener:
        yield listener
