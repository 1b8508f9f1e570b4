"""The time-stamp authority: ``respond(request DER) -> response DER`` (RFC 3161, RFC 5816).

:class:`TimeStampAuthority` is pure apart from its two ports, a :class:`~tsa.serials.SerialSource`
and a :class:`~ltv.clock.Clock`; the HTTP transport (RFC 3161 §3.4) lives in :mod:`tsa.server`.

What a granted response carries (RFC 3161 §2.4.2, RFC 5816 §2.2.1, RFC 5652 §5):

* ``TimeStampResp`` with status ``granted`` and a ``ContentInfo`` of ``SignedData`` (version 3,
  since the encapsulated content is not id-data) that encapsulates the DER ``TSTInfo``;
* ``TSTInfo``: version 1; ``policy`` (the request's ``reqPolicy`` when we accept it, else our
  default); ``messageImprint`` copied from the request, byte for byte; a ``serialNumber`` unique
  for this TSA (positive, at most 160 bits); ``genTime`` in UTC with fractional seconds when the
  clock has them (trailing zeros dropped, §2.4.2); ``accuracy``; ``nonce`` echoed when the request
  had one; ``tsa`` (our certificate's subject) only when asked for at construction;
* exactly one ``SignerInfo`` (§2.4.2: no other signature), identified by issuer and serial
  number, whose signed attributes are content-type (id-ct-TSTInfo), message-digest and the RFC 5816
  ``signingCertificateV2`` holding one ``ESSCertIDv2`` (SHA-256, so ``hashAlgorithm`` is omitted as
  its DEFAULT, with ``issuerSerial``); no signing-time: ``genTime`` is the time;
* the signature is sha256WithRSAEncryption (PKCS#1 v1.5) for RSA keys, ecdsa-with-SHA256 for P-256
  and ecdsa-with-SHA384 (with a SHA-384 message digest) for P-384; for ML-DSA-65/87 keys it is
  pure ML-DSA with the empty context over the DER signed attributes, ``signatureAlgorithm``
  id-ml-dsa-65/87 with parameters absent (RFC 9882 §3.1, RFC 9881 §2) and ``digestAlgorithm``
  id-sha512, parameters absent (RFC 9882 §3.3: SHA-512 MUST be supported, and it has the
  collision strength of both parameter sets), exactly as RFC 9882's example with signed
  attributes; ML-DSA tokens also carry the RFC 6211 ``CMSAlgorithmProtection`` signed attribute
  naming both algorithms (RFC 9882 §4: SHOULD, against algorithm substitution);
* the TSA certificate, then its ``chain``, in ``certificates`` when ``certReq`` is TRUE; no
  certificates at all when it is FALSE or absent (§2.4.1).

Bad requests never raise: they are answered with status ``rejection`` and one PKIFailureInfo bit
(§2.4.2): ``badDataFormat`` (not DER, truncated, oversized, imprint of the wrong length),
``badAlg`` (hash other than SHA-256/384/512: SHA-1 and MD5 are refused), ``badRequest`` (version
not 1), ``unacceptedPolicy`` (``reqPolicy`` not accepted), ``unacceptedExtension`` (any request
extension: §2.4.1 says a TSA that does not recognise one SHALL NOT issue a token), and
``systemFailure`` (no serial, clock outside the TSA certificate's validity, internal error).

The DER is assembled by hand from parts prepared once per identity (names, ESS certificate id,
certificate set, algorithm identifiers); a request costs one parse, two hashes and one signature.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, mldsa, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from ltv.algorithms import DigestAlgorithm
from ltv.clock import Clock
from ltv.pq import algorithm_identifier_der
from tsa.errors import TsaConfigurationError
from tsa.keys import TsaPrivateKey, load_certificates, load_private_key
from tsa.serials import MAX_SERIAL, SerialSource

__all__ = [
    "ACCEPTED_DIGESTS",
    "DEFAULT_POLICY_OID",
    "FailureInfo",
    "TimeStampAuthority",
    "TsaIdentity",
    "rejection_response",
]

_log = logging.getLogger("tsa")

#: Our default TSA policy: arc ``.2`` (time-stamping) of the project's UUID arc
#: 2.25.<UUID d2134c21-e05f-431e-bbfc-db1c40fa1fc7> (ITU-T X.667, no registration needed), policy
#: ``.1``: tokens from the ltv TSA, genTime from the server clock, accuracy as stated in each
#: token (1 s by default), no ordering guarantee, no retention of requests.
DEFAULT_POLICY_OID = "2.25.279238076902243542650764225004258860999.2.1"

#: Message-imprint hash algorithms we time-stamp (RFC 3161 §2.4.1 lets the TSA choose; SHA-1 and
#: MD5 are refused with badAlg).
ACCEPTED_DIGESTS = {
    DigestAlgorithm.SHA256.oid: DigestAlgorithm.SHA256,
    DigestAlgorithm.SHA384.oid: DigestAlgorithm.SHA384,
    DigestAlgorithm.SHA512.oid: DigestAlgorithm.SHA512,
}


class FailureInfo:
    """PKIFailureInfo bit numbers (RFC 3161 §2.4.2)."""

    BAD_ALG = 0
    BAD_REQUEST = 2
    BAD_DATA_FORMAT = 5
    TIME_NOT_AVAILABLE = 14
    UNACCEPTED_POLICY = 15
    UNACCEPTED_EXTENSION = 16
    ADD_INFO_NOT_AVAILABLE = 17
    SYSTEM_FAILURE = 25


# --- DER building blocks ------------------------------------------------------------------

def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _der_len(len(content)) + content


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _set_of(*parts: bytes) -> bytes:
    """DER SET OF: components in ascending order of their encodings (X.690 §11.6)."""
    return _tlv(0x31, b"".join(sorted(parts)))


def _int(value: int) -> bytes:
    size = ((value if value >= 0 else ~value).bit_length() + 8) // 8
    return _tlv(0x02, value.to_bytes(size, "big", signed=True))


def _octets(value: bytes) -> bytes:
    return _tlv(0x04, value)


def _oid(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).dump())


def _generalized_time(at: datetime) -> bytes:
    """GeneralizedTime in UTC with the fraction's trailing zeros dropped (RFC 3161 §2.4.2)."""
    text = f"{at:%Y%m%d%H%M%S}"
    if at.microsecond:
        text += f".{at.microsecond:06d}".rstrip("0")
    return _tlv(0x18, (text + "Z").encode("ascii"))


def _bit(bit: int) -> bytes:
    """A named BIT STRING with one bit set, trailing zero bits removed (X.690 §11.2.2)."""
    octets = bytearray(bit // 8 + 1)
    octets[bit // 8] = 0x80 >> (bit % 8)
    return _tlv(0x03, bytes((7 - bit % 8,)) + bytes(octets))


_INT_1 = _int(1)
_INT_3 = _int(3)
_NULL = b"\x05\x00"
_OID_SIGNED_DATA = _oid("1.2.840.113549.1.7.2")
_OID_TST_INFO = _oid("1.2.840.113549.1.9.16.1.4")
_OID_CONTENT_TYPE = _oid("1.2.840.113549.1.9.3")
_OID_MESSAGE_DIGEST = _oid("1.2.840.113549.1.9.4")
_OID_SIGNING_CERTIFICATE_V2 = _oid("1.2.840.113549.1.9.16.2.47")
_OID_CMS_ALGORITHM_PROTECTION = _oid("1.2.840.113549.1.9.52")  # RFC 6211
_CONTENT_TYPE_ATTR = _seq(_OID_CONTENT_TYPE, _set_of(_OID_TST_INFO))
_STATUS_GRANTED = _seq(_int(0))
_STATUS_REJECTION = _int(2)

_SIGNATURE_OIDS = {
    ("rsa", DigestAlgorithm.SHA256): "1.2.840.113549.1.1.11",  # sha256WithRSAEncryption
    ("ec", DigestAlgorithm.SHA256): "1.2.840.10045.4.3.2",  # ecdsa-with-SHA256
    ("ec", DigestAlgorithm.SHA384): "1.2.840.10045.4.3.3",  # ecdsa-with-SHA384
}


def rejection_response(failure: int, text: str | None = None) -> bytes:
    """A ``TimeStampResp`` with status rejection, one PKIFailureInfo bit and a statusString."""
    parts = [_STATUS_REJECTION]
    if text:
        parts.append(_seq(_tlv(0x0C, text.encode("utf-8"))))
    parts.append(_bit(failure))
    return _seq(_seq(*parts))


class _Rejection(Exception):
    def __init__(self, failure: int, text: str) -> None:
        super().__init__(text)
        self.failure = failure
        self.text = text


# --- identity -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class TsaIdentity:
    """The TSA's key, its certificate and the issuer certificates to ship with ``certReq``.

    The certificate must carry the key's public key and a critical extended key usage whose only
    purpose is id-kp-timeStamping (RFC 3161 §2.3); otherwise :class:`TsaConfigurationError`.
    """

    private_key: TsaPrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    def __post_init__(self) -> None:
        subject = self.certificate.subject.rfc4514_string()
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if self.private_key.public_key().public_bytes(*spki) != (
            self.certificate.public_key().public_bytes(*spki)
        ):
            raise TsaConfigurationError(
                f"the TSA key does not belong to the certificate of {subject}"
            )
        try:
            eku = self.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        except x509.ExtensionNotFound:
            raise TsaConfigurationError(
                f"the TSA certificate of {subject} has no extended key usage; RFC 3161 §2.3 "
                "requires a critical one with id-kp-timeStamping only"
            ) from None
        if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
            raise TsaConfigurationError(
                f"the TSA certificate of {subject} must have a critical extended key usage with "
                "id-kp-timeStamping as its only purpose (RFC 3161 §2.3)"
            )

    @property
    def key_fingerprint(self) -> str:
        """SHA-256 (hex) of the key's SubjectPublicKeyInfo: what binds serial state to the key
        (:class:`tsa.serials.KeyBoundSerials`)."""
        spki = self.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(spki).hexdigest()

    @classmethod
    def from_files(
        cls, key: Path, cert: Path, *, chain: Path | None = None, password: bytes | None = None
    ) -> TsaIdentity:
        """Load the key, the certificate (first of ``cert``; any others join the chain) and the
        optional PEM ``chain`` bundle. Copies of the TSA certificate in the chain are dropped."""
        private_key = load_private_key(key, password=password)
        certificates = load_certificates(cert)
        certificate, extra = certificates[0], certificates[1:]
        if chain is not None:
            extra += load_certificates(chain)
        issuers: list[x509.Certificate] = []
        for candidate in extra:
            if candidate != certificate and candidate not in issuers:
                issuers.append(candidate)
        return cls(private_key=private_key, certificate=certificate, chain=tuple(issuers))


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Everything constant per identity, encoded once."""

    sign: Callable[[bytes], bytes]
    digest: DigestAlgorithm
    digest_alg_id: bytes
    signature_alg_id: bytes
    sid: bytes
    ess_attr: bytes
    #: Further constant signed attributes (RFC 6211 CMSAlgorithmProtection for ML-DSA).
    extra_attrs: tuple[bytes, ...]
    certificates: bytes
    tsa_name: bytes
    not_before: datetime
    not_after: datetime


def _prepare(identity: TsaIdentity) -> _Prepared:
    key = identity.private_key
    if isinstance(key, rsa.RSAPrivateKey):
        digest = DigestAlgorithm.SHA256
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

        def sign(data: bytes) -> bytes:
            return key.sign(data, pkcs1, sha256)

        signature_alg_id = _seq(_oid(_SIGNATURE_OIDS["rsa", digest]), _NULL)
    elif isinstance(key, mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey):
        digest = DigestAlgorithm.SHA512  # RFC 9882 §3.3
        mldsa_key = key

        def sign(data: bytes) -> bytes:
            return mldsa_key.sign(data)  # pure ML-DSA, empty context (RFC 9882 §3.1)

        signature_alg_id = algorithm_identifier_der(key)  # parameters absent (RFC 9881 §2)
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        p384 = isinstance(key.curve, ec.SECP384R1)
        digest = DigestAlgorithm.SHA384 if p384 else DigestAlgorithm.SHA256
        ecdsa = ec.ECDSA(digest.crypto_hash())

        def sign(data: bytes) -> bytes:
            return key.sign(data, ecdsa)

        signature_alg_id = _seq(_oid(_SIGNATURE_OIDS["ec", digest]))

    cert_der = identity.certificate.public_bytes(serialization.Encoding.DER)
    tbs = asn1_x509.Certificate.load(cert_der)["tbs_certificate"]
    issuer_der = bytes(tbs["issuer"].dump())
    subject_der = bytes(tbs["subject"].dump())
    serial = _int(identity.certificate.serial_number)
    # ESSCertIDv2 (RFC 5035 §5.4.1.1): SHA-256 is the DEFAULT hashAlgorithm, so DER omits it.
    issuer_serial = _seq(_seq(_tlv(0xA4, issuer_der)), serial)
    ess_cert_id = _seq(_octets(hashlib.sha256(cert_der).digest()), issuer_serial)
    ess_attr = _seq(_OID_SIGNING_CERTIFICATE_V2, _set_of(_seq(_seq(ess_cert_id))))
    extra: tuple[bytes, ...] = ()
    if isinstance(key, mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey):
        # CMSAlgorithmProtection ::= SEQUENCE { digestAlgorithm, signatureAlgorithm [1] IMPLICIT }
        protection = _seq(_seq(_oid(digest.oid)), _tlv(0xA1, signature_alg_id[2:]))
        extra = (_seq(_OID_CMS_ALGORITHM_PROTECTION, _set_of(protection)),)
    chain_der = [c.public_bytes(serialization.Encoding.DER) for c in identity.chain]
    chain_der = [c for c in dict.fromkeys(chain_der) if c != cert_der]
    return _Prepared(
        sign=sign,
        digest=digest,
        digest_alg_id=_seq(_oid(digest.oid)),
        signature_alg_id=signature_alg_id,
        sid=_seq(issuer_der, serial),
        ess_attr=ess_attr,
        extra_attrs=extra,
        certificates=_tlv(0xA0, cert_der + b"".join(chain_der)),
        tsa_name=_tlv(0xA0, _tlv(0xA4, subject_der)),
        not_before=identity.certificate.not_valid_before_utc,
        not_after=identity.certificate.not_valid_after_utc,
    )


def _accuracy(accuracy: timedelta) -> bytes:
    """``Accuracy ::= SEQUENCE { seconds, millis [0], micros [1] }`` with zero parts omitted."""
    total_us = accuracy // timedelta(microseconds=1)
    seconds, rest = divmod(total_us, 1_000_000)
    millis, micros = divmod(rest, 1000)
    parts = []
    if seconds:
        parts.append(_int(seconds))
    if millis:
        parts.append(_tlv(0x80, _int(millis)[2:]))
    if micros:
        parts.append(_tlv(0x81, _int(micros)[2:]))
    return _seq(*parts)


# --- the authority --------------------------------------------------------------------------

@dataclass(slots=True)
class _Request:
    imprint_der: bytes
    policy_der: bytes
    nonce: int | None
    cert_req: bool


class TimeStampAuthority:
    """Answers DER ``TimeStampReq`` with DER ``TimeStampResp`` (RFC 3161 §2.4).

    ``policy_oid`` is used when a request names no policy; ``accepted_policies`` (default: just
    ``policy_oid``, which is always accepted) are the ``reqPolicy`` values we issue under.
    ``tsa_name`` puts our certificate's subject in the TSTInfo ``tsa`` field.
    Thread-safe; :meth:`respond` never raises.
    """

    def __init__(
        self,
        identity: TsaIdentity,
        *,
        serials: SerialSource,
        clock: Clock,
        policy_oid: str = DEFAULT_POLICY_OID,
        accepted_policies: frozenset[str] | None = None,
        accuracy: timedelta = timedelta(seconds=1),
        max_request_bytes: int = 16 * 1024,
        tsa_name: bool = False,
    ) -> None:
        if accuracy <= timedelta(0):
            raise TsaConfigurationError(f"the accuracy must be positive, not {accuracy}")
        if max_request_bytes < 64:
            raise TsaConfigurationError("max_request_bytes must allow a request (64 or more)")
        self.identity = identity
        self.policy_oid = policy_oid
        self.accepted_policies = frozenset(accepted_policies or ()) | {policy_oid}
        self.accuracy = accuracy
        self.max_request_bytes = max_request_bytes
        self._serials = serials
        self._clock = clock
        self._policies: dict[str, bytes] = {}
        for oid in self.accepted_policies:
            try:
                self._policies[oid] = _oid(oid)
            except (ValueError, TypeError) as exc:
                raise TsaConfigurationError(f"not a policy OID: {oid!r}") from exc
        self._default_policy = self._policies[policy_oid]
        self._prepared = _prepare(identity)
        self._accuracy = _accuracy(accuracy)
        self._tsa_name = self._prepared.tsa_name if tsa_name else b""

    def respond(self, request_der: bytes) -> bytes:
        """The DER ``TimeStampResp`` for ``request_der``: a token, or a rejection. Never raises."""
        try:
            return self._respond(request_der)
        except _Rejection as rejection:
            return rejection_response(rejection.failure, rejection.text)
        except Exception:
            _log.exception("time-stamp request failed")
            return rejection_response(FailureInfo.SYSTEM_FAILURE, "internal error of the TSA")

    def _respond(self, request_der: bytes) -> bytes:
        request = self._parse(request_der)
        prepared = self._prepared
        now = self._clock.now().astimezone(UTC)
        if not prepared.not_before <= now <= prepared.not_after:
            _log.error("clock %s is outside the TSA certificate's validity", now.isoformat())
            raise _Rejection(
                FailureInfo.SYSTEM_FAILURE, "the TSA certificate is not valid at the current time"
            )
        try:
            serial = self._serials.next_serial()
        except Exception:
            _log.exception("no serial number")
            raise _Rejection(
                FailureInfo.SYSTEM_FAILURE, "the TSA cannot allocate a serial number"
            ) from None
        if not 1 <= serial <= MAX_SERIAL:
            raise _Rejection(FailureInfo.SYSTEM_FAILURE, "the TSA's serial numbers are exhausted")

        tst_info = _seq(
            _INT_1,
            request.policy_der,
            request.imprint_der,
            _int(serial),
            _generalized_time(now),
            self._accuracy,
            b"" if request.nonce is None else _int(request.nonce),
            self._tsa_name,
        )
        message_digest_attr = _seq(
            _OID_MESSAGE_DIGEST, _set_of(_octets(prepared.digest.digest(tst_info)))
        )
        attrs = b"".join(sorted((_CONTENT_TYPE_ATTR, message_digest_attr, prepared.ess_attr,
                                 *prepared.extra_attrs)))
        signature = prepared.sign(_tlv(0x31, attrs))  # RFC 5652 §5.4: signed as a SET OF
        signer_info = _seq(
            _INT_1,
            prepared.sid,
            prepared.digest_alg_id,
            _tlv(0xA0, attrs),
            prepared.signature_alg_id,
            _octets(signature),
        )
        signed_data = _seq(
            _INT_3,
            _tlv(0x31, prepared.digest_alg_id),
            _seq(_OID_TST_INFO, _tlv(0xA0, _octets(tst_info))),
            prepared.certificates if request.cert_req else b"",
            _tlv(0x31, signer_info),
        )
        return _seq(_STATUS_GRANTED, _seq(_OID_SIGNED_DATA, _tlv(0xA0, signed_data)))

    def _parse(self, request_der: bytes) -> _Request:
        if len(request_der) > self.max_request_bytes:
            raise _Rejection(
                FailureInfo.BAD_DATA_FORMAT,
                f"the request is larger than {self.max_request_bytes} bytes",
            )
        try:
            req = tsp.TimeStampReq.load(bytes(request_der), strict=True)
            version = int(req["version"])
            imprint = req["message_imprint"]
            algorithm = imprint["hash_algorithm"]
            algorithm_oid = algorithm["algorithm"].dotted
            parameters = algorithm["parameters"].native
            hashed = imprint["hashed_message"].native
            req_policy = req["req_policy"]
            policy = None if isinstance(req_policy, core.Void) else req_policy.dotted
            nonce = req["nonce"].native
            cert_req = bool(req["cert_req"].native)
            extensions = req["extensions"]
            has_extensions = not isinstance(extensions, core.Void) and len(extensions) > 0
            imprint_der = bytes(imprint.dump())
        except Exception as exc:
            raise _Rejection(
                FailureInfo.BAD_DATA_FORMAT, "the request is not a DER TimeStampReq"
            ) from exc
        if version != 1:
            raise _Rejection(FailureInfo.BAD_REQUEST, f"unsupported request version {version}")
        digest = ACCEPTED_DIGESTS.get(algorithm_oid)
        if digest is None:
            raise _Rejection(
                FailureInfo.BAD_ALG,
                f"unsupported hash algorithm {algorithm_oid}; use SHA-256, SHA-384 or SHA-512",
            )
        if parameters is not None:
            raise _Rejection(
                FailureInfo.BAD_ALG, "hash algorithm parameters must be absent or NULL"
            )
        if not isinstance(hashed, bytes) or len(hashed) != digest.digest_size:
            raise _Rejection(
                FailureInfo.BAD_DATA_FORMAT,
                f"a {digest.value} message imprint has {digest.digest_size} bytes",
            )
        if has_extensions:
            raise _Rejection(
                FailureInfo.UNACCEPTED_EXTENSION, "this TSA accepts no request extensions"
            )
        if policy is None:
            policy_der = self._default_policy
        else:
            found = self._policies.get(policy)
            if found is None:
                raise _Rejection(
                    FailureInfo.UNACCEPTED_POLICY, f"policy {policy} is not offered by this TSA"
                )
            policy_der = found
        return _Request(
            imprint_der=imprint_der,
            policy_der=policy_der,
            nonce=nonce if isinstance(nonce, int) else None,
            cert_req=cert_req,
        )
