"""RFC 3161 time-stamps, client side: requests, responses and tokens (RFC 3161, RFC 5816).

Pure over bytes; the network lives in :mod:`ltv.online.timestamps`. The port is
:class:`TimestampClient`; :class:`LocalTimestampClient` drives any in-process ``respond(bytes)``
(our own :mod:`tsa`, or a test double), ``HttpTimestampClient`` asks a TSA over HTTP.

:func:`parse_token` checks what makes a token *a token from the TSA whose certificate it names*:

* ``ContentInfo`` of ``SignedData`` encapsulating an ``id-ct-TSTInfo`` (RFC 3161 §2.4.2), with
  exactly one ``SignerInfo`` ("MUST NOT contain any signatures other than the signature of the
  TSA");
* signed attributes content-type (= id-ct-TSTInfo) and message-digest (= hash of the encapsulated
  TSTInfo) (RFC 5652 §5.3, §11.1, §11.2);
* an ESS ``SigningCertificateV2`` (RFC 5816 §2.2.1, any hash) or ``SigningCertificate`` (RFC 3161
  §2.4.2, SHA-1) whose first certificate id matches a certificate of the token (or of
  ``extra_certificates``) by hash and, if present, by ``issuerSerial``; the ``SignerInfo``
  identifier names the same certificate (RFC 5035 §5.4);
* the signature over the DER signed attributes verifies with that certificate's key (RSA PKCS#1
  v1.5 or PSS, ECDSA, or pure ML-DSA-44/65/87 with the empty context and the signature
  algorithm's parameters absent, RFC 9882 §3 / RFC 9881 §2: see :mod:`ltv.pq`);
* that certificate has a critical extended key usage whose only purpose is id-kp-timeStamping
  (RFC 3161 §2.3).

It does **not** decide trust: chain building, revocation at genTime and algorithm strength are the
validator's (EN 319 102-1 §5.4), which gets the signer certificate, all certificates and the
algorithms from the returned :class:`TimestampToken`.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from ltv._certder import certificate_der
from ltv.algorithms import DigestAlgorithm, SignatureMechanism
from ltv.errors import (
    InputError,
    LtvError,
    MalformedError,
    SignatureValueError,
    TimestampError,
    UnsupportedAlgorithmError,
)
from ltv.pq import ML_DSA_OIDS, mldsa_name, register_asn1crypto_oids, verify_mldsa

__all__ = [
    "LocalTimestampClient",
    "TimestampClient",
    "TimestampToken",
    "build_request",
    "new_nonce",
    "parse_response",
    "parse_token",
    "verify_imprint",
]

_ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_ID_CT_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_ID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_ID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_ID_SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"
_ID_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"

_STATUS_NAMES = {
    0: "granted",
    1: "grantedWithMods",
    2: "rejection",
    3: "waiting",
    4: "revocationWarning",
    5: "revocationNotification",
}
_FAILURE_NAMES = {
    "bad_alg": "badAlg",
    "bad_request": "badRequest",
    "bad_data_format": "badDataFormat",
    "time_not_available": "timeNotAvailable",
    "unaccepted_policy": "unacceptedPolicy",
    "unaccepted_extensions": "unacceptedExtension",
    "add_info_not_available": "addInfoNotAvailable",
    "system_failure": "systemFailure",
}


class _TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161 §2.4.2, with the token OPTIONAL as the RFC has it (asn1crypto requires it)."""

    _fields = [  # noqa: RUF012 (asn1crypto's declaration style)
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class TimestampToken:
    """A parsed RFC 3161 token that passed :func:`parse_token`'s checks (not a trust decision).

    ``signature_mechanism`` and ``signature_digest_algorithm`` say how the TSA signed, for the
    validator's algorithm constraints; for a post-quantum TSA ``signature_mechanism`` is None and
    ``post_quantum_algorithm`` names the ML-DSA parameter set (``"ml-dsa-65"``).
    """

    der: bytes
    gen_time: datetime
    serial_number: int
    policy_oid: str
    digest_algorithm: DigestAlgorithm
    message_digest: bytes
    nonce: int | None
    signer_certificate: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    accuracy: timedelta | None
    signature_mechanism: SignatureMechanism | None = None
    signature_digest_algorithm: DigestAlgorithm | None = None
    post_quantum_algorithm: str | None = None


class TimestampClient(Protocol):
    """Gets an RFC 3161 token over a digest (the port; online and in-process versions exist)."""

    def timestamp(self, digest: bytes, algorithm: DigestAlgorithm) -> TimestampToken: ...


def new_nonce() -> int:
    """A random positive 63-bit nonce (fits every TSA's INTEGER handling)."""
    return secrets.randbits(63) | 1


def _check_digest(digest: bytes, algorithm: DigestAlgorithm) -> None:
    if len(digest) != algorithm.digest_size:
        raise InputError(
            f"a {algorithm.value} digest has {algorithm.digest_size} bytes, got {len(digest)}"
        )


def build_request(
    digest: bytes,
    algorithm: DigestAlgorithm,
    *,
    nonce: int | None = None,
    cert_req: bool = True,
    policy_oid: str | None = None,
) -> bytes:
    """DER ``TimeStampReq`` (RFC 3161 §2.4.1), version 1, over ``digest``.

    ``cert_req`` defaults to TRUE so the token carries the TSA certificate (needed for B-LT).
    SHA-1 imprints are refused (:class:`~ltv.errors.UnsupportedAlgorithmError`).
    """
    if algorithm is DigestAlgorithm.SHA1:
        raise UnsupportedAlgorithmError("SHA-1 is too weak for a time-stamp; use SHA-256 or more")
    _check_digest(digest, algorithm)
    # Encoded directly (the same DER asn1crypto's TimeStampReq gives, a tenth of the time):
    # SEQUENCE { version 1, messageImprint, reqPolicy?, nonce?, certReq? }
    try:
        # the AlgorithmIdentifier with NULL parameters, as asn1crypto writes it
        algorithm_id = _tlv(0x30, _der_oid(algorithm.oid) + b"\x05\x00")
        imprint = _tlv(0x30, algorithm_id + _tlv(0x04, digest))
        body = b"\x02\x01\x01" + imprint
        if policy_oid is not None:
            body += _der_oid(policy_oid)
        if nonce is not None:
            body += bytes(core.Integer(nonce).dump())
        if cert_req:
            body += b"\x01\x01\xff"  # certReq DEFAULT FALSE: present only when TRUE
        return _tlv(0x30, body)
    except ValueError as exc:
        raise InputError(f"cannot encode the time-stamp request: {exc}") from exc


def _tlv(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _der_oid(dotted: str) -> bytes:
    dumped: bytes = core.ObjectIdentifier(dotted).dump()
    return dumped


def parse_response(
    response_der: bytes,
    *,
    digest: bytes,
    algorithm: DigestAlgorithm,
    nonce: int | None,
    extra_certificates: Sequence[x509.Certificate] = (),
) -> TimestampToken:
    """Check a DER ``TimeStampResp`` against the request it answers and return its token.

    The status must be granted or grantedWithMods (RFC 3161 §2.4.2); otherwise
    :class:`~ltv.errors.TimestampError` says the status, failure info and the TSA's text. The
    token must pass :func:`parse_token`, cover exactly ``digest`` with ``algorithm`` (§2.4.2:
    the imprint MUST be the request's), and echo ``nonce`` when one was sent.
    """
    try:
        response = _TimeStampResp.load(bytes(response_der), strict=True)
        status_info = response["status"]
        status = int(status_info["status"])
        texts = [] if isinstance(status_info["status_string"], core.Void) else [
            str(text.native) for text in status_info["status_string"]
        ]
        fail_info = status_info["fail_info"]
        failures = [] if isinstance(fail_info, core.Void) else sorted(
            _FAILURE_NAMES.get(str(name), str(name)) for name in (fail_info.native or ())
        )
        token = response["time_stamp_token"]
        token_der = None if isinstance(token, core.Void) else bytes(token.dump())
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise MalformedError(f"not an RFC 3161 TimeStampResp: {exc}") from exc
    if status not in (0, 1):
        detail = f" ({', '.join(failures)})" if failures else ""
        said = f": {'; '.join(texts)}" if texts else ""
        raise TimestampError(
            f"the TSA refused the request: {_STATUS_NAMES.get(status, str(status))}{detail}{said}"
        )
    if token_der is None:
        raise TimestampError("the TSA granted the request but sent no time-stamp token")
    parsed = parse_token(token_der, extra_certificates=extra_certificates)
    if parsed.digest_algorithm is not algorithm or not hmac.compare_digest(
        parsed.message_digest, digest
    ):
        raise TimestampError(
            "the token's message imprint differs from the request "
            f"({parsed.digest_algorithm.value} {parsed.message_digest.hex()[:16]}... instead of "
            f"{algorithm.value} {digest.hex()[:16]}...)"
        )
    if nonce is not None and parsed.nonce != nonce:
        if parsed.nonce is None:
            raise TimestampError("the TSA did not echo the request's nonce")
        raise TimestampError(f"the TSA answered nonce {parsed.nonce} to a request with {nonce}")
    return parsed


def parse_token(
    token_der: bytes, *, extra_certificates: Sequence[x509.Certificate] = ()
) -> TimestampToken:
    """Parse and check an RFC 3161 token (``ContentInfo`` of ``SignedData``); see the module doc.

    Raises :class:`~ltv.errors.MalformedError` for what does not decode and
    :class:`~ltv.errors.TimestampError` for a token that decodes but fails a check.
    """
    try:
        return _parse_token(bytes(token_der), extra_certificates)
    except LtvError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
            RecursionError) as exc:
        raise MalformedError(f"not an RFC 3161 time-stamp token: {exc}") from exc


def _parse_token(token_der: bytes, extra: Sequence[x509.Certificate]) -> TimestampToken:
    register_asn1crypto_oids()
    content_info = cms.ContentInfo.load(token_der, strict=True)
    if content_info["content_type"].dotted != _ID_SIGNED_DATA:
        raise MalformedError("not a time-stamp token: the ContentInfo is not SignedData")
    signed_data = content_info["content"]
    encap = signed_data["encap_content_info"]
    if encap["content_type"].dotted != _ID_CT_TST_INFO:
        raise TimestampError(
            f"the token encapsulates {encap['content_type'].dotted}, not id-ct-TSTInfo"
        )
    if isinstance(encap["content"], core.Void):
        raise TimestampError("the token has no encapsulated TSTInfo")
    tst_der = bytes(encap["content"])  # the OCTET STRING's value, also when BER-segmented
    tst_info = tsp.TSTInfo.load(tst_der, strict=True)

    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise TimestampError(
            f"a time-stamp token has exactly one signature (RFC 3161 §2.4.2), not "
            f"{len(signer_infos)}"
        )
    signer_info = signer_infos[0]
    signed_attrs = signer_info["signed_attrs"]
    if isinstance(signed_attrs, core.Void):
        raise TimestampError("the token's signature has no signed attributes")
    # The signature covers the attributes as received, re-tagged as SET OF (RFC 5652 §5.4).
    # Take the bytes before looking inside: asn1crypto re-encodes what it has parsed.
    signed_attrs_der = b"\x31" + bytes(signed_attrs.dump())[1:]
    if len(signed_attrs) == 0:
        raise TimestampError("the token's signature has no signed attributes")
    attrs = _attributes(signed_attrs)

    content_type = attrs.get(_ID_CONTENT_TYPE)
    if content_type is None or content_type[0].dotted != _ID_CT_TST_INFO:
        raise TimestampError("the content-type signed attribute is missing or not id-ct-TSTInfo")
    message_digest = attrs.get(_ID_MESSAGE_DIGEST)
    if message_digest is None:
        raise TimestampError("the token has no message-digest signed attribute")
    signer_digest = _digest_from_oid(signer_info["digest_algorithm"]["algorithm"].dotted)
    if not hmac.compare_digest(bytes(message_digest[0].native), signer_digest.digest(tst_der)):
        raise TimestampError(
            "the message-digest attribute does not match the TSTInfo: the token was altered"
        )

    token_certs = tuple(
        x509.load_der_x509_certificate(choice.chosen.dump())
        for choice in (
            () if isinstance(signed_data["certificates"], core.Void)
            else signed_data["certificates"]
        )
        if choice.name == "certificate"
    )
    signer = _ess_signer(attrs, [*token_certs, *extra], have_certs=bool(token_certs or extra))
    _check_sid(signer_info["sid"], signer)
    _check_eku(signer)
    mechanism, sig_digest = _verify_signature(
        signer_info, signed_attrs_der, signer, signer_digest
    )
    return _token_from(
        token_der, tst_info, signer, token_certs, mechanism=mechanism, sig_digest=sig_digest,
        post_quantum=mldsa_name(signer.public_key()) if mechanism is None else None,
    )


def _attributes(signed_attrs: Any) -> dict[str, Any]:
    """Signed attributes by OID; each type once, content-type and message-digest single-valued."""
    found: dict[str, Any] = {}
    for attr in signed_attrs:
        oid = attr["type"].dotted
        if oid in found:
            raise TimestampError(f"the signed attribute {oid} appears twice")
        values = attr["values"]
        if len(values) == 0:
            raise TimestampError(f"the signed attribute {oid} has no value")
        if oid in (_ID_CONTENT_TYPE, _ID_MESSAGE_DIGEST) and len(values) != 1:
            raise TimestampError(f"the signed attribute {oid} must have exactly one value")
        found[oid] = values
    return found


def _digest_from_oid(oid: str) -> DigestAlgorithm:
    try:
        return DigestAlgorithm.from_oid(oid)
    except UnsupportedAlgorithmError as exc:
        raise TimestampError(f"the token uses an unsupported digest algorithm ({oid})") from exc


def _same_issuer(name: Any, cert: x509.Certificate) -> bool:
    """Whether the asn1crypto ``name`` is the certificate's issuer (RFC 5280 §7.1 matching)."""
    issuer = asn1_x509.Certificate.load(certificate_der(cert))["tbs_certificate"]["issuer"]
    return bool(name.untag().dump() == issuer.dump() or name == issuer)


def _ess_signer(
    attrs: dict[str, Any], candidates: Sequence[x509.Certificate], *, have_certs: bool
) -> x509.Certificate:
    """The certificate named by the first ESSCertID(v2) (RFC 5035 §5.4, RFC 5816 §2.2.1)."""
    if _ID_SIGNING_CERTIFICATE_V2 in attrs:
        ess = attrs[_ID_SIGNING_CERTIFICATE_V2][0]["certs"][0]
        hash_oid = ess["hash_algorithm"]["algorithm"].dotted
        hash_algorithm = _digest_from_oid(hash_oid)
    elif _ID_SIGNING_CERTIFICATE in attrs:
        ess = attrs[_ID_SIGNING_CERTIFICATE][0]["certs"][0]
        hash_algorithm = DigestAlgorithm.SHA1
    else:
        raise TimestampError(
            "the token has no ESS signing-certificate attribute (RFC 3161 §2.4.2, RFC 5816)"
        )
    cert_hash = bytes(ess["cert_hash"].native)
    matches = [c for c in candidates
               if hmac.compare_digest(hash_algorithm.digest(certificate_der(c)), cert_hash)]
    if not matches:
        where = "the token's certificates" if have_certs else (
            "any certificate: the token carries none (request certReq, or pass "
            "extra_certificates)"
        )
        raise TimestampError(f"the ESS signing-certificate id matches none of {where}")
    signer = matches[0]
    issuer_serial = ess["issuer_serial"]
    if not isinstance(issuer_serial, core.Void):
        if int(issuer_serial["serial_number"]) != signer.serial_number:
            raise TimestampError("the ESS issuerSerial names another serial number")
        names = [n.chosen for n in issuer_serial["issuer"] if n.name == "directory_name"]
        if not any(_same_issuer(name, signer) for name in names):
            raise TimestampError("the ESS issuerSerial names another issuer")
    return signer


def _check_sid(sid: Any, signer: x509.Certificate) -> None:
    """The SignerInfo must identify the ESS-named certificate (RFC 5652 §5.3)."""
    if sid.name == "issuer_and_serial_number":
        value = sid.chosen
        if (int(value["serial_number"]) != signer.serial_number
                or not _same_issuer(value["issuer"], signer)):
            raise TimestampError(
                "the SignerInfo identifies another certificate than the ESS signing certificate"
            )
        return
    try:
        ski = signer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        ski = x509.SubjectKeyIdentifier.from_public_key(signer.public_key()).digest
    if bytes(sid.chosen.native) != ski:
        raise TimestampError(
            "the SignerInfo key identifier does not match the ESS signing certificate"
        )


def _check_eku(signer: x509.Certificate) -> None:
    """RFC 3161 §2.3: critical extended key usage, id-kp-timeStamping its only purpose."""
    try:
        eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise TimestampError(
            f"the TSA certificate {signer.subject.rfc4514_string()} has no extended key usage "
            "timeStamping"
        ) from None
    if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise TimestampError(
            f"the TSA certificate {signer.subject.rfc4514_string()} must have a critical "
            "extended key usage with timeStamping as its only purpose (RFC 3161 §2.3)"
        )


_ML_DSA_BY_OID = {oid: name for name, oid in ML_DSA_OIDS.items()}


def _verify_mldsa(algorithm: Any, signature: bytes, data: bytes, signer: x509.Certificate,
                  signer_digest: DigestAlgorithm) -> tuple[None, DigestAlgorithm]:
    """Pure ML-DSA over the DER signed attributes, empty context (RFC 9882 §3.2); the
    identifier's parameters MUST be absent (§3.3) and name the certificate key's parameter
    set."""
    name = _ML_DSA_BY_OID[algorithm["algorithm"].dotted]
    if not isinstance(algorithm["parameters"], core.Void):
        raise TimestampError(
            f"the token's {name.upper()} signature algorithm has parameters; RFC 9882 §3.3 "
            "requires them absent"
        )
    public_key = signer.public_key()
    if mldsa_name(public_key) != name:
        raise TimestampError(
            f"the token's signature algorithm {name.upper()} does not fit the TSA "
            f"certificate's {type(public_key).__name__} key"
        )
    try:
        verify_mldsa(public_key, signature, data)
    except SignatureValueError as exc:
        raise TimestampError(
            "the token's signature does not verify with the TSA certificate's public key"
        ) from exc
    return None, signer_digest


def _verify_signature(
    signer_info: Any, data: bytes, signer: x509.Certificate, signer_digest: DigestAlgorithm
) -> tuple[SignatureMechanism | None, DigestAlgorithm]:
    """Verify the signature over ``data``, the DER SET OF signed attributes (RFC 5652 §5.4).
    The mechanism is None for ML-DSA (see :func:`_verify_mldsa`)."""
    signature = bytes(signer_info["signature"].native)
    algorithm: algos.SignedDigestAlgorithm = signer_info["signature_algorithm"]
    if algorithm["algorithm"].dotted in _ML_DSA_BY_OID:
        return _verify_mldsa(algorithm, signature, data, signer, signer_digest)
    kind = algorithm.signature_algo
    try:
        digest = _digest_from_oid(algos.DigestAlgorithmId(algorithm.hash_algo).dotted)
    except ValueError:  # rsaEncryption / id-ecPublicKey: the SignerInfo's digest algorithm
        digest = signer_digest
    public_key = signer.public_key()
    try:
        if kind == "rsassa_pkcs1v15" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), digest.crypto_hash())
            return SignatureMechanism.RSA_PKCS1V15, digest
        if kind == "rsassa_pss" and isinstance(public_key, rsa.RSAPublicKey):
            params = algorithm["parameters"]
            mgf = params["mask_gen_algorithm"]
            if mgf["algorithm"].native != "mgf1":
                raise TimestampError("the token's RSASSA-PSS signature uses a mask other than MGF1")
            mgf_digest = _digest_from_oid(mgf["parameters"]["algorithm"].dotted)
            pss = padding.PSS(
                mgf=padding.MGF1(mgf_digest.crypto_hash()),
                salt_length=int(params["salt_length"].native),
            )
            public_key.verify(signature, data, pss, digest.crypto_hash())
            return SignatureMechanism.RSA_PSS, digest
        if kind == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(digest.crypto_hash()))
            return SignatureMechanism.ECDSA, digest
    except InvalidSignature as exc:
        raise TimestampError(
            "the token's signature does not verify with the TSA certificate's public key"
        ) from exc
    raise TimestampError(
        f"the token's signature algorithm {algorithm['algorithm'].dotted} does not fit the TSA "
        f"certificate's {type(public_key).__name__} key"
    )


def _token_from(
    token_der: bytes,
    tst_info: Any,
    signer: x509.Certificate,
    token_certs: tuple[x509.Certificate, ...],
    *,
    mechanism: SignatureMechanism | None,
    sig_digest: DigestAlgorithm,
    post_quantum: str | None = None,
) -> TimestampToken:
    if int(tst_info["version"]) != 1:
        raise TimestampError(f"unsupported TSTInfo version {int(tst_info['version'])}")
    imprint = tst_info["message_imprint"]
    digest_algorithm = _digest_from_oid(imprint["hash_algorithm"]["algorithm"].dotted)
    message_digest = bytes(imprint["hashed_message"].native)
    if len(message_digest) != digest_algorithm.digest_size:
        raise TimestampError(
            f"the token's {digest_algorithm.value} imprint has {len(message_digest)} bytes"
        )
    gen_time = tst_info["gen_time"].native
    if not isinstance(gen_time, datetime) or gen_time.tzinfo is None:
        raise MalformedError("the token's genTime is not a UTC time")
    accuracy_value = tst_info["accuracy"]
    accuracy = None
    if not isinstance(accuracy_value, core.Void):
        accuracy = timedelta(
            seconds=accuracy_value["seconds"].native or 0,
            milliseconds=accuracy_value["millis"].native or 0,
            microseconds=accuracy_value["micros"].native or 0,
        )
    serial = int(tst_info["serial_number"])
    nonce = tst_info["nonce"].native
    return TimestampToken(
        der=token_der,
        gen_time=gen_time.astimezone(UTC),
        serial_number=serial,
        policy_oid=tst_info["policy"].dotted,
        digest_algorithm=digest_algorithm,
        message_digest=message_digest,
        nonce=int(nonce) if nonce is not None else None,
        signer_certificate=signer,
        certificates=token_certs,
        accuracy=accuracy,
        signature_mechanism=mechanism,
        signature_digest_algorithm=sig_digest,
        post_quantum_algorithm=post_quantum,
    )


def verify_imprint(
    token: TimestampToken, *, data: bytes | None = None, digest: bytes | None = None
) -> None:
    """Check that ``token`` covers ``data`` (hashed with the token's algorithm) or ``digest``.

    Raises :class:`~ltv.errors.TimestampError` on a mismatch (RFC 3161 §2.4.2 messageImprint).
    """
    if (data is None) == (digest is None):
        raise TypeError("give exactly one of data= or digest=")
    if digest is None:
        assert data is not None
        digest = token.digest_algorithm.digest(data)
    if not hmac.compare_digest(digest, token.message_digest):
        raise TimestampError(
            f"the time-stamp does not cover this data: its {token.digest_algorithm.value} "
            "message imprint differs"
        )


class LocalTimestampClient:
    """A :class:`TimestampClient` over an in-process ``respond(request) -> response`` (no network).

    Each request has a fresh random nonce and certReq TRUE, exactly as over HTTP.
    """

    def __init__(self, respond: Callable[[bytes], bytes]) -> None:
        self._respond = respond

    def timestamp(self, digest: bytes, algorithm: DigestAlgorithm) -> TimestampToken:
        nonce = new_nonce()
        request = build_request(digest, algorithm, nonce=nonce, cert_req=True)
        try:
            response = self._respond(request)
        except Exception as exc:
            raise TimestampError(f"the in-process TSA failed: {exc}") from exc
        return parse_response(response, digest=digest, algorithm=algorithm, nonce=nonce)
