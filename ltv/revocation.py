"""Revocation data: OCSP responses (RFC 6960) and CRLs (RFC 5280 §5), parsed and checked.

Pure logic over DER plus three small ports that the evidence collector calls:
:class:`OCSPFetcher`, :class:`CRLFetcher`, :class:`CertificateFetcher`. The HTTP versions live in
:mod:`ltv.online.revocation`; :class:`OfflineRevocationSource` answers from supplied DER only
(``--offline`` validation, archived evidence). The caching wrappers keep a fetched answer while it
is fresh by its own ``nextUpdate`` and a maximum age, on an injected :class:`~ltv.clock.Clock`.

Checks done here are structural and cryptographic (status successful, CertID matches, responder
authorised per RFC 6960 §4.2.2.2, signature verifies; CRL issuer name and signature). Whether a
response is *fresh enough* for a signature is a validation decision (EN 319 102-1 §5.2.5) and
lives with validation.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from ltv._certder import certificate_der
from ltv._lru import ByteBudgetLru
from ltv._lru import ByteBudgetLru as _Lru
from ltv._memo import SuccessMemo, digest_of
from ltv.clock import Clock
from ltv.errors import RevocationError, SignatureValueError
from ltv.pq import is_mldsa, verify_mldsa

__all__ = [
    "DEFAULT_CRL_CACHE_BYTES",
    "DEFAULT_OCSP_CACHE_BYTES",
    "CRLFetcher",
    "CachingCRLFetcher",
    "CachingOCSPFetcher",
    "CertStatus",
    "CertificateFetcher",
    "Crl",
    "OCSPFetcher",
    "OcspResponse",
    "OfflineRevocationSource",
    "RevocationReason",
    "RevokedEntry",
    "ca_issuer_urls",
    "cert_id_hashes",
    "crl_urls",
    "ocsp_urls",
    "parse_crl",
    "parse_ocsp_response",
]


class CertStatus(enum.Enum):
    """OCSP ``CertStatus`` (RFC 6960 §4.2.1)."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


class RevocationReason(enum.Enum):
    """``CRLReason`` (RFC 5280 §5.3.1), valued by the RFC's own names."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "keyCompromise"
    CA_COMPROMISE = "cACompromise"
    AFFILIATION_CHANGED = "affiliationChanged"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation"
    CERTIFICATE_HOLD = "certificateHold"
    REMOVE_FROM_CRL = "removeFromCRL"
    PRIVILEGE_WITHDRAWN = "privilegeWithdrawn"
    AA_COMPROMISE = "aACompromise"

    @property
    def code(self) -> int:
        """The ASN.1 ENUMERATED value (7 is unused by RFC 5280)."""
        return _REASON_CODES[self]

    def to_x509(self) -> x509.ReasonFlags:
        return x509.ReasonFlags(self.value)

    @classmethod
    def from_x509(cls, flag: x509.ReasonFlags) -> RevocationReason:
        return cls(flag.value)

    @classmethod
    def from_name(cls, name: str) -> RevocationReason:
        for reason in cls:
            if reason.value.lower() == name.lower() or reason.name.lower() == name.lower():
                return reason
        raise RevocationError(
            f"unknown revocation reason {name!r} (use {', '.join(r.value for r in cls)})"
        )


_REASON_CODES = {
    RevocationReason.UNSPECIFIED: 0,
    RevocationReason.KEY_COMPROMISE: 1,
    RevocationReason.CA_COMPROMISE: 2,
    RevocationReason.AFFILIATION_CHANGED: 3,
    RevocationReason.SUPERSEDED: 4,
    RevocationReason.CESSATION_OF_OPERATION: 5,
    RevocationReason.CERTIFICATE_HOLD: 6,
    RevocationReason.REMOVE_FROM_CRL: 8,
    RevocationReason.PRIVILEGE_WITHDRAWN: 9,
    RevocationReason.AA_COMPROMISE: 10,
}

_OCSP_STATUS = {
    ocsp.OCSPCertStatus.GOOD: CertStatus.GOOD,
    ocsp.OCSPCertStatus.REVOKED: CertStatus.REVOKED,
    ocsp.OCSPCertStatus.UNKNOWN: CertStatus.UNKNOWN,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class OcspResponse:
    """A checked OCSP response about one certificate (the ``SingleResponse`` for its CertID)."""

    der: bytes
    status: CertStatus
    revocation_time: datetime | None
    revocation_reason: RevocationReason | None
    produced_at: datetime
    this_update: datetime
    next_update: datetime | None
    responder_certificate: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    serial_number: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RevokedEntry:
    """One ``revokedCertificates`` entry of a CRL."""

    serial_number: int
    revocation_time: datetime
    reason: RevocationReason | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Crl:
    """A CRL whose signature was checked with its issuer's key."""

    der: bytes
    issuer: x509.Name
    this_update: datetime
    next_update: datetime | None
    number: int | None
    x509_crl: x509.CertificateRevocationList = field(repr=False, compare=False)

    def revoked_entry(self, serial_number: int) -> RevokedEntry | None:
        """The entry for ``serial_number``, or None when the CRL does not list it."""
        revoked = self.x509_crl.get_revoked_certificate_by_serial_number(serial_number)
        if revoked is None:
            return None
        reason: RevocationReason | None = None
        try:
            flag = revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason
            reason = RevocationReason.from_x509(flag)
        except x509.ExtensionNotFound:
            pass
        return RevokedEntry(
            serial_number=serial_number,
            revocation_time=revoked.revocation_date_utc,
            reason=reason,
        )


# ---------------------------------------------------------------------------------------------
# Ports


class OCSPFetcher(Protocol):
    """Obtains a checked OCSP response about ``certificate`` issued by ``issuer``."""

    def fetch_ocsp(self, certificate: x509.Certificate, issuer: x509.Certificate) -> OcspResponse:
        ...


class CRLFetcher(Protocol):
    """Obtains a checked CRL from a distribution point ``url``, signed by ``issuer``."""

    def fetch_crl(self, url: str, *, issuer: x509.Certificate) -> Crl: ...


class CertificateFetcher(Protocol):
    """Obtains certificates from an AIA caIssuers ``url``."""

    def fetch_certificates(self, url: str) -> list[x509.Certificate]: ...


# ---------------------------------------------------------------------------------------------
# URLs from certificate extensions


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    """AIA ``id-ad-ocsp`` URIs (RFC 5280 §4.2.2.1), in certificate order."""
    return _aia_urls(cert, AuthorityInformationAccessOID.OCSP)


def ca_issuer_urls(cert: x509.Certificate) -> list[str]:
    """AIA ``id-ad-caIssuers`` URIs, in certificate order."""
    return _aia_urls(cert, AuthorityInformationAccessOID.CA_ISSUERS)


def crl_urls(cert: x509.Certificate) -> list[str]:
    """CRL distribution point full-name URIs (RFC 5280 §4.2.1.13), in certificate order."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    urls: list[str] = []
    for point in points:
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier):
                urls.append(name.value)
    return urls


def _aia_urls(cert: x509.Certificate, method: x509.ObjectIdentifier) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        d.access_location.value
        for d in aia
        if d.access_method == method
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


# ---------------------------------------------------------------------------------------------
# OCSP


#: Checks that passed, under a digest of all their inputs (issue #15): a delegated responder
#: certificate's signature by its CA, an OCSP response's signature by its responder. Every
#: validation of a document repeats them for the same responder and, in the report, for the
#: same responses; a failure is always recomputed.
VERIFIED = SuccessMemo(16384)
#: Pure functions of a certificate's DER, remembered (the project's bounded LRU).
_cert_id_memo: ByteBudgetLru[tuple[bytes, str], tuple[bytes, bytes]] = ByteBudgetLru(
    max_bytes=16 << 20, max_entries=4096)
_key_id_memo: ByteBudgetLru[bytes, bytes] = ByteBudgetLru(max_bytes=16 << 20, max_entries=4096)


def cert_id_hashes(
    issuer: x509.Certificate, algorithm: hashes.HashAlgorithm
) -> tuple[bytes, bytes]:
    """``(issuerNameHash, issuerKeyHash)`` of a CertID (RFC 6960 §4.1.1) for ``issuer``
    (remembered per issuer DER and algorithm: a pure function of both)."""
    memo_key = (certificate_der(issuer), algorithm.name)
    known = _cert_id_memo.get(memo_key)
    if known is not None:
        return known
    name = hashlib.new(algorithm.name, issuer.subject.public_bytes()).digest()
    key = hashlib.new(algorithm.name, _subject_public_key_bits(issuer)).digest()
    _cert_id_memo.put(memo_key, (name, key), cost=256 + len(memo_key[0]))
    return name, key


def _key_id(cert: x509.Certificate) -> bytes:
    """SHA-1 of the certificate's subjectPublicKey (an OCSP ResponderID byKey), remembered per
    certificate DER."""
    data = certificate_der(cert)
    known = _key_id_memo.get(data)
    if known is None:
        known = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
        _key_id_memo.put(data, known, cost=256 + len(data))
    return known


def _issued_directly(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s key signed ``cert`` and the names chain (remembered when so)."""
    key = digest_of((b"issued-by", certificate_der(cert), certificate_der(issuer)))
    if key in VERIFIED:
        return True
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    VERIFIED.add(key)
    return True


def _subject_public_key_bits(cert: x509.Certificate) -> bytes:
    """The ``subjectPublicKey`` BIT STRING's value bits (without the unused-bits octet)."""
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    _, body = _der_header(spki, 0)  # SubjectPublicKeyInfo SEQUENCE
    algorithm_end, _ = _der_header(spki, body)  # AlgorithmIdentifier, skipped
    bit_end, bit_body = _der_header(spki, algorithm_end)
    return spki[bit_body + 1 : bit_end]


def _der_header(der: bytes, offset: int) -> tuple[int, int]:
    """For the TLV at ``offset``: (offset just past its value, offset of its value)."""
    length = der[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(der[start : start + count], "big")
        start += count
    return start + length, start


def parse_ocsp_response(
    der: bytes, *, certificate: x509.Certificate, issuer: x509.Certificate
) -> OcspResponse:
    """Parse and check an ``OCSPResponse`` about ``certificate`` (RFC 6960 §3.2).

    Checks: ``responseStatus`` successful; a ``SingleResponse`` whose CertID matches the
    certificate's serial and ``issuer``; the responder is ``issuer`` itself or a delegated
    responder certificate issued by ``issuer`` with EKU id-kp-OCSPSigning (§4.2.2.2); the
    signature over ``tbsResponseData`` verifies. Raises :class:`RevocationError` otherwise.
    """
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError as exc:
        raise RevocationError(f"not a DER OCSP response: {exc}") from exc
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise RevocationError(f"the OCSP responder answered {response.response_status.name}")
    try:
        single = _matching_single_response(response, certificate, issuer)
        included = tuple(response.certificates)  # cryptography builds new objects per access
        responder = _find_responder(response, issuer, included)
        _verify_ocsp_signature(response, responder)
        revocation_time = single.revocation_time_utc
        reason_flag = single.revocation_reason
        result = OcspResponse(
            der=bytes(der),
            status=_OCSP_STATUS[single.certificate_status],
            revocation_time=revocation_time,
            revocation_reason=(
                RevocationReason.from_x509(reason_flag) if reason_flag is not None else None
            ),
            produced_at=response.produced_at_utc,
            this_update=single.this_update_utc,
            next_update=single.next_update_utc,
            responder_certificate=responder,
            certificates=included,
            serial_number=single.serial_number,
        )
    except (ValueError, UnsupportedAlgorithm) as exc:
        if isinstance(exc, RevocationError):
            raise
        raise RevocationError(f"malformed OCSP response: {exc}") from exc
    return result


def _matching_single_response(
    response: ocsp.OCSPResponse, certificate: x509.Certificate, issuer: x509.Certificate
) -> ocsp.OCSPSingleResponse:
    hashes_by_alg: dict[str, tuple[bytes, bytes]] = {}
    for single in response.responses:
        if single.serial_number != certificate.serial_number:
            continue
        alg = single.hash_algorithm
        if alg.name not in hashes_by_alg:
            hashes_by_alg[alg.name] = cert_id_hashes(issuer, alg)
        name_hash, key_hash = hashes_by_alg[alg.name]
        if single.issuer_name_hash == name_hash and single.issuer_key_hash == key_hash:
            return single
    raise RevocationError(
        f"the OCSP response says nothing about certificate serial {certificate.serial_number:#x} "
        f"issued by {issuer.subject.rfc4514_string()}"
    )


def _find_responder(response: ocsp.OCSPResponse, issuer: x509.Certificate,
                    included: tuple[x509.Certificate, ...]) -> x509.Certificate:
    candidates = [issuer, *included]
    for cand in candidates:
        if response.responder_name is not None:
            if cand.subject != response.responder_name:
                continue
        elif _key_id(cand) != response.responder_key_hash:
            continue
        if cand == issuer:
            return cand
        if not _issued_directly(cand, issuer):
            continue
        try:
            eku = cand.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            continue
        # RFC 6960 §4.2.2.2: a delegated responder's certificate must be valid when it signed
        # (producedAt); an expired responder's answer is not embedded as evidence
        if not cand.not_valid_before_utc <= response.produced_at_utc <= cand.not_valid_after_utc:
            continue
        return cand
    raise RevocationError(
        "the OCSP response is signed neither by the issuing CA nor by a responder it "
        "authorised (EKU id-kp-OCSPSigning, issued by the CA, valid at producedAt)"
    )


def _verify_ocsp_signature(response: ocsp.OCSPResponse, responder: x509.Certificate) -> None:
    """Raise :class:`RevocationError` unless the responder's key signed the response (a
    success is remembered under the responder's DER, the signature algorithm, the signature
    and the signed bytes)."""
    memo_key = digest_of((b"ocsp-signature", certificate_der(responder),
                          response.signature_algorithm_oid.dotted_string.encode(),
                          response.signature, response.tbs_response_bytes))
    if memo_key in VERIFIED:
        return
    _check_ocsp_signature(response, responder)
    VERIFIED.add(memo_key)


def _check_ocsp_signature(response: ocsp.OCSPResponse, responder: x509.Certificate) -> None:
    key = responder.public_key()
    if is_mldsa(key):  # pure ML-DSA, no hash (RFC 9881 §3; see ltv.pq)
        try:
            verify_mldsa(key, response.signature, response.tbs_response_bytes)
        except SignatureValueError as exc:
            raise RevocationError("the OCSP response signature does not verify") from exc
        return
    hash_alg = response.signature_hash_algorithm
    if hash_alg is None:
        raise RevocationError("the OCSP response names no signature hash algorithm")
    try:
        if isinstance(key, rsa.RSAPublicKey):
            try:
                key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(),
                           hash_alg)
            except InvalidSignature:
                pss = padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size)
                key.verify(response.signature, response.tbs_response_bytes, pss, hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(hash_alg))
        else:
            raise RevocationError(f"unsupported OCSP responder key {type(key).__name__}")
    except InvalidSignature as exc:
        raise RevocationError("the OCSP response signature does not verify") from exc


# ---------------------------------------------------------------------------------------------
# CRL


def parse_crl(der: bytes, *, issuer: x509.Certificate) -> Crl:
    """Parse a CRL (DER, or PEM) and check it was issued and signed by ``issuer``."""
    try:
        if der.lstrip().startswith(b"-----BEGIN"):
            crl = x509.load_pem_x509_crl(der)
            der = crl.public_bytes(Encoding.DER)
        else:
            crl = x509.load_der_x509_crl(der)
    except (ValueError, x509.InvalidVersion) as exc:
        raise RevocationError(f"not a CRL: {exc}") from exc
    try:  # cryptography parses lazily: a broken name or extension raises on first use
        return _checked_crl(crl, der, issuer)
    except RevocationError:
        raise
    except ValueError as exc:
        raise RevocationError(f"not a valid CRL: {exc}") from exc


def _checked_crl(crl: x509.CertificateRevocationList, der: bytes,
                 issuer: x509.Certificate) -> Crl:
    if crl.issuer != issuer.subject:
        raise RevocationError(
            f"the CRL is issued by {crl.issuer.rfc4514_string()}, "
            f"not by {issuer.subject.rfc4514_string()}"
        )
    try:
        valid = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError, UnsupportedAlgorithm) as exc:
        raise RevocationError(f"the CRL signature cannot be checked: {exc}") from exc
    if not valid:
        raise RevocationError(
            f"the CRL signature does not verify with the key of {issuer.subject.rfc4514_string()}"
        )
    number: int | None
    try:
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = None
    return Crl(
        der=bytes(der),
        issuer=crl.issuer,
        this_update=crl.last_update_utc,
        next_update=crl.next_update_utc,
        number=number,
        x509_crl=crl,
    )


# ---------------------------------------------------------------------------------------------
# Offline source


class OfflineRevocationSource:
    """Answers OCSP and CRL questions from supplied DER only (offline validation, archives).

    Among several matching answers the most recent (``thisUpdate``) wins. The CRL URL is not
    used for matching: a CRL is found by its issuer and signature.
    """

    def __init__(self, *, ocsp_responses: Iterable[bytes] = (), crls: Iterable[bytes] = ()) -> None:
        self._ocsp: list[tuple[frozenset[int], bytes]] = []
        for der in ocsp_responses:
            try:
                parsed = ocsp.load_der_ocsp_response(der)
                serials = frozenset(s.serial_number for s in parsed.responses)
            except ValueError:
                continue  # unusable or unsuccessful responses never answer anything
            self._ocsp.append((serials, bytes(der)))
        self._crls: list[tuple[x509.Name, bytes]] = []
        for der in crls:
            try:
                self._crls.append((x509.load_der_x509_crl(der).issuer, bytes(der)))
            except ValueError:
                continue

    def fetch_ocsp(self, certificate: x509.Certificate, issuer: x509.Certificate) -> OcspResponse:
        found: list[OcspResponse] = []
        for serials, der in self._ocsp:
            if certificate.serial_number not in serials:
                continue
            try:
                found.append(parse_ocsp_response(der, certificate=certificate, issuer=issuer))
            except RevocationError:
                continue
        if not found:
            raise RevocationError(
                f"no supplied OCSP response covers certificate serial "
                f"{certificate.serial_number:#x} ({certificate.subject.rfc4514_string()})"
            )
        return max(found, key=lambda r: r.this_update)

    def fetch_crl(self, url: str, *, issuer: x509.Certificate) -> Crl:
        found: list[Crl] = []
        for name, der in self._crls:
            if name != issuer.subject:
                continue
            try:
                found.append(parse_crl(der, issuer=issuer))
            except RevocationError:
                continue
        if not found:
            raise RevocationError(
                f"no supplied CRL is signed by {issuer.subject.rfc4514_string()} (for {url})",
                url=url,
            )
        return max(found, key=lambda c: c.this_update)


# ---------------------------------------------------------------------------------------------
# Caches

def _expiry(next_update: datetime | None, fetched: datetime, max_age: timedelta) -> datetime:
    limit = fetched + max_age
    return limit if next_update is None else min(next_update, limit)


DEFAULT_CRL_CACHE_BYTES = 64 << 20
DEFAULT_OCSP_CACHE_BYTES = 16 << 20
_ENTRY_OVERHEAD = 512  # dict slot, key, tuple, dataclass: counted per entry


def _ocsp_cost(response: OcspResponse) -> int:
    return (_ENTRY_OVERHEAD + 2 * len(response.der)
            + sum(len(certificate_der(c)) for c in response.certificates))


class CachingOCSPFetcher:
    """Reuses an OCSP answer while ``fetched <= clock.now() < min(nextUpdate, fetched +
    max_age)``.

    What a signature embeds is the same for many signatures in a row (the TSA's and the OCSP
    responders' chains, a signer who signs a batch): reusing it within that window saves a
    round trip and a signature check per certificate. It is safe because the answer is only
    ever served

    * for the exact certificate and issuer it was fetched for (keyed by the SHA-256 of both
      DER encodings, and its serial number checked again on the way out);
    * inside its own validity: never at or after its ``nextUpdate``, never after ``max_age``
      (so a revocation is seen at most ``max_age`` after it is published, as with a fresh
      fetch from a responder that pre-produces its answers), and never when the clock reads
      earlier than the fetch (an injected clock moved back: then the answer may postdate the
      time asked about).

    An LRU bounded by ``max_bytes`` (DER counted twice for the parsed form) and ``max_entries``,
    so certificates an uploader makes up can evict older answers but never grow the process.
    Thread-safe; concurrent misses may fetch twice.
    """

    def __init__(self, inner: OCSPFetcher, *, clock: Clock,
                 max_age: timedelta = timedelta(minutes=5),
                 max_bytes: int = DEFAULT_OCSP_CACHE_BYTES, max_entries: int = 16384) -> None:
        self._inner = inner
        self._clock = clock
        self._max_age = max_age
        self._entries: _Lru[tuple[bytes, bytes], tuple[datetime, datetime, OcspResponse]] = (
            _Lru(max_bytes=max_bytes, max_entries=max_entries))

    @property
    def cache(self) -> _Lru[tuple[bytes, bytes], tuple[datetime, datetime, OcspResponse]]:
        return self._entries

    def fetch_ocsp(self, certificate: x509.Certificate, issuer: x509.Certificate) -> OcspResponse:
        key = (
            hashlib.sha256(certificate_der(issuer)).digest(),
            hashlib.sha256(certificate_der(certificate)).digest(),
        )
        now = self._clock.now()
        entry = self._entries.get(key)
        if entry is not None:
            fetched, expires, cached = entry
            if fetched <= now < expires and cached.serial_number == certificate.serial_number:
                return cached
            self._entries.discard(key)
        response = self._inner.fetch_ocsp(certificate, issuer)
        fetched = self._clock.now()
        expires = _expiry(response.next_update, fetched, self._max_age)
        self._entries.put(key, (fetched, expires, response), cost=_ocsp_cost(response))
        return response


class CachingCRLFetcher:
    """Reuses a CRL while ``fetched <= clock.now() < min(nextUpdate, fetched + max_age)``.

    Keyed by (issuer certificate hash, URL): a CRL is only ever reused for the issuer it was
    checked against. An LRU bounded by ``max_bytes`` (DER counted twice for the parsed form)
    and ``max_entries``: distinct URLs an uploader makes up evict older entries but never grow
    the process beyond the budget, and a CRL larger than half the budget is not kept at all.
    """

    def __init__(self, inner: CRLFetcher, *, clock: Clock,
                 max_age: timedelta = timedelta(minutes=5),
                 max_bytes: int = DEFAULT_CRL_CACHE_BYTES, max_entries: int = 4096) -> None:
        self._inner = inner
        self._clock = clock
        self._max_age = max_age
        self._entries: _Lru[tuple[bytes, str], tuple[datetime, datetime, Crl]] = _Lru(
            max_bytes=max_bytes, max_entries=max_entries)

    @property
    def cache(self) -> _Lru[tuple[bytes, str], tuple[datetime, datetime, Crl]]:
        return self._entries

    def fetch_crl(self, url: str, *, issuer: x509.Certificate) -> Crl:
        now = self._clock.now()
        key = (hashlib.sha256(certificate_der(issuer)).digest(), url)
        entry = self._entries.get(key)
        if entry is not None:
            fetched, expires, cached = entry
            if fetched <= now < expires:  # never before the fetch (a clock moved back)
                return cached
            self._entries.discard(key)
        crl = self._inner.fetch_crl(url, issuer=issuer)
        fetched = self._clock.now()
        expires = _expiry(crl.next_update, fetched, self._max_age)
        self._entries.put(key, (fetched, expires, crl), cost=_ENTRY_OVERHEAD + 2 * len(crl.der))
        return crl
