"""Security review finding 20 (last bullet): a delegated OCSP responder is accepted only if its
certificate was valid when it signed (producedAt, RFC 6960 §4.2.2.2). Before, an answer signed
by an expired (or not yet valid) responder of the right CA was parsed and embedded as evidence.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import PKI_EPOCH, SERVER_AT
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ltv.errors import RevocationError
from ltv.revocation import parse_ocsp_response
from samples.pki import SamplePki, generate_key
from samples.responders import OcspSigner, respond_ocsp


def _responder(pki: SamplePki, *, start, end):  # type: ignore[no-untyped-def]
    key = generate_key("p256")
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Short responder")]))
            .issuer_name(pki.smartphone_ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False)
            .add_extension(x509.OCSPNoCheck(), False)
            .sign(pki.ca_key("smartphone-ca"), hashes.SHA256()))  # type: ignore[arg-type]
    return cert, key


def _answer(pki: SamplePki, cert: x509.Certificate, responder: x509.Certificate,
            key: object) -> bytes:
    request = ocsp.OCSPRequestBuilder().add_certificate(
        cert, pki.smartphone_ca, hashes.SHA256()).build().public_bytes(Encoding.DER)
    signer = OcspSigner(ca_certificate=pki.smartphone_ca, responder_certificate=responder,
                        responder_key=key,  # type: ignore[arg-type]
                        status_of=lambda serial, at: pki.status_of("smartphone-ca", serial,
                                                                   at=at))
    return respond_ocsp(request, signer=signer, now=SERVER_AT)


@pytest.mark.parametrize(("start", "end"), [
    (PKI_EPOCH, SERVER_AT - timedelta(seconds=1)),  # expired before producedAt
    (SERVER_AT + timedelta(hours=1), SERVER_AT + timedelta(days=30)),  # not yet valid
])
def test_responder_outside_its_validity_at_produced_at_is_refused(pki: SamplePki,
                                                                  start, end) -> None:
    cert = pki.issue_end_entity(generate_key("p256").public_key(), kind="smartphone",
                                at=PKI_EPOCH)
    responder, key = _responder(pki, start=start, end=end)
    der = _answer(pki, cert, responder, key)
    with pytest.raises(RevocationError, match="valid at producedAt"):
        parse_ocsp_response(der, certificate=cert, issuer=pki.smartphone_ca)


def test_responder_valid_at_produced_at_is_accepted(pki: SamplePki) -> None:
    cert = pki.issue_end_entity(generate_key("p256").public_key(), kind="smartphone",
                                at=PKI_EPOCH)
    responder, key = _responder(pki, start=PKI_EPOCH, end=SERVER_AT + timedelta(days=1))
    answer = parse_ocsp_response(_answer(pki, cert, responder, key), certificate=cert,
                                 issuer=pki.smartphone_ca)
    assert answer.responder_certificate == responder
