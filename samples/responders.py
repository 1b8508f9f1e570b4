"""OCSP responses (RFC 6960) and CRLs (RFC 5280 §5) for the sample PKI: pure functions of the
request bytes, the CA material, the revocation status and the time.

* :func:`respond_ocsp` answers one request (only the first ``Request`` of a list is answered:
  cryptography builds single responses). Malformed requests get ``malformedRequest``, a request
  about another CA ``unauthorized``; it never raises on bad input. ``producedAt``/``thisUpdate``
  are ``now``, ``nextUpdate`` is ``now + 1 day``; a nonce is echoed when asked; the response is
  signed by the CA's delegated responder, whose certificate is included.
* :func:`build_crl` makes a full CRL: ``thisUpdate = now``, ``nextUpdate = now + 1 day``, a CRL
  number, one entry with reason code per revocation in force at ``now``, signed by the CA.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from ltv.pq import algorithm_identifier_der, is_mldsa
from ltv.revocation import CertStatus, RevocationReason, cert_id_hashes
from samples.pki import AnyPrivateKey, SerialStatus

__all__ = ["UPDATE_INTERVAL", "OcspSigner", "build_crl", "respond_ocsp"]

UPDATE_INTERVAL = timedelta(days=1)

@dataclass(frozen=True, slots=True, kw_only=True)
class OcspSigner:
    """What one CA's responder needs: the CA, its delegated responder and a status lookup."""

    ca_certificate: x509.Certificate
    responder_certificate: x509.Certificate
    responder_key: AnyPrivateKey
    status_of: Callable[[int, datetime], SerialStatus]


# --- a tiny DER writer: the response is small and fixed in shape, and building it with
# asn1crypto cost twice the RSA signature (measured by bench/bench_revocation.py).


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _time(at: datetime) -> bytes:
    return _tlv(0x18, at.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode("ascii"))


_HASH_ALGORITHM_DER = {  # AlgorithmIdentifier with NULL parameters, as OpenSSL writes them
    "sha1": bytes.fromhex("300906052b0e03021a0500"),
    "sha224": bytes.fromhex("300d06096086480165030402040500"),
    "sha256": bytes.fromhex("300d06096086480165030402010500"),
    "sha384": bytes.fromhex("300d06096086480165030402020500"),
    "sha512": bytes.fromhex("300d06096086480165030402030500"),
}
_SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
_SHA256_ECDSA = bytes.fromhex("300a06082a8648ce3d040302")
_ID_PKIX_OCSP_BASIC = bytes.fromhex("06092b0601050507300101")
_ID_PKIX_OCSP_NONCE = bytes.fromhex("06092b0601050507300102")
_RESPONSE_STATUS = {"successful": 0, "malformed_request": 1, "internal_error": 2,
                    "try_later": 3, "sig_required": 5, "unauthorized": 6}


def _unsuccessful(status: str) -> bytes:
    return _seq(_tlv(0x0A, bytes([_RESPONSE_STATUS[status]])))


def respond_ocsp(request_der: bytes, *, signer: OcspSigner, now: datetime) -> bytes:
    """A DER ``OCSPResponse`` for ``request_der``; never raises on a bad request.

    Written by hand rather than with cryptography's builder, because that one stamps
    ``producedAt`` with the wall clock and the sample servers run on a chosen clock.
    """
    now = now.astimezone(UTC).replace(microsecond=0)
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        algorithm = request.hash_algorithm
        name_hash, key_hash = request.issuer_name_hash, request.issuer_key_hash
        serial = request.serial_number
        nonce: bytes | None
        try:
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            nonce = None
        hash_algorithm = _HASH_ALGORITHM_DER[algorithm.name]
        expected = cert_id_hashes(signer.ca_certificate, algorithm)
    except (ValueError, UnsupportedAlgorithm, TypeError, KeyError):
        return _unsuccessful("malformed_request")
    if (name_hash, key_hash) != expected:
        return _unsuccessful("unauthorized")
    status = signer.status_of(serial, now)
    if status.status is CertStatus.REVOKED:
        assert status.revocation_time is not None
        info = _time(status.revocation_time)
        if status.reason is not None:
            info += _tlv(0xA0, _tlv(0x0A, bytes([status.reason.code])))
        cert_status = _tlv(0xA1, info)
    elif status.status is CertStatus.GOOD:
        cert_status = b"\x80\x00"
    else:
        cert_status = b"\x82\x00"
    single = _seq(
        _seq(hash_algorithm, _tlv(0x04, name_hash), _tlv(0x04, key_hash), _int(serial)),
        cert_status,
        _time(now),
        _tlv(0xA0, _time(now + UPDATE_INTERVAL)),
    )
    responder = signer.responder_certificate
    responder_key_id = x509.SubjectKeyIdentifier.from_public_key(responder.public_key()).digest
    tbs = _tlv(0xA2, _tlv(0x04, responder_key_id)) + _time(now) + _seq(single)
    if nonce is not None:
        tbs += _tlv(0xA1, _seq(_seq(_ID_PKIX_OCSP_NONCE, _tlv(0x04, _tlv(0x04, nonce)))))
    tbs_data = _seq(tbs)
    key = signer.responder_key
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(tbs_data, padding.PKCS1v15(), hashes.SHA256())
        sig_alg = _SHA256_RSA
    elif not isinstance(key, ec.EllipticCurvePrivateKey):  # ML-DSA: pure, RFC 9881 §2-3
        signature = key.sign(tbs_data)
        sig_alg = algorithm_identifier_der(key)
    else:
        signature = key.sign(tbs_data, ec.ECDSA(hashes.SHA256()))
        sig_alg = _SHA256_ECDSA
    basic = _seq(tbs_data, sig_alg, _tlv(0x03, b"\x00" + signature),
                 _tlv(0xA0, _seq(responder.public_bytes(Encoding.DER))))
    return _seq(
        _tlv(0x0A, b"\x00"),
        _tlv(0xA0, _seq(_ID_PKIX_OCSP_BASIC, _tlv(0x04, basic))),
    )


def build_crl(*, ca_certificate: x509.Certificate, ca_key: AnyPrivateKey,
              revoked: Iterable[tuple[int, datetime, RevocationReason]], now: datetime,
              number: int) -> bytes:
    """A full DER CRL of ``ca_certificate`` listing ``revoked`` (serial, time, reason)."""
    now = now.astimezone(UTC).replace(microsecond=0)
    ski = ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_certificate.subject)
        .last_update(now)
        .next_update(now + UPDATE_INTERVAL)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                       critical=False)
    )
    for serial, when, reason in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(when)
            .add_extension(x509.CRLReason(reason.to_x509()), critical=False)
            .build()
        )
        builder = builder.add_revoked_certificate(entry)
    crl = builder.sign(ca_key, None if is_mldsa(ca_key) else hashes.SHA256())
    return crl.public_bytes(Encoding.DER)
