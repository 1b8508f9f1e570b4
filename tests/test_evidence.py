"""Evidence collection: every certificate of every chain has its revocation data inside B-LT/LTA.

The walk below reads the signature with asn1crypto/cryptography only: for each certificate of
each chain (signer, every TSA of every token, every OCSP responder) it finds an OCSP response
about it or a CRL from its issuer in ``SignedData.crls`` - or the certificate is a trust anchor
or carries id-pkix-ocsp-nocheck.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from asn1crypto import cms as acms
from conftest import SERVER_AT, PkiServer
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509 import ocsp

from ltv.algorithms import DigestAlgorithm
from ltv.cli._services import build_services
from ltv.clock import OffsetClock
from ltv.errors import RevocationError
from ltv.evidence import collect, collect_for_tokens, has_ocsp_nocheck, is_self_signed
from ltv.revocation import OfflineRevocationSource
from ltv.signing import SignatureFormat, SignatureLevel, SigningOptions, SigningServices, sign
from samples.phone import Phone
from samples.pki import SamplePki

ID_RI_OCSP_RESPONSE = "1.3.6.1.5.5.7.16.2"
TOKEN_OIDS = {"1.2.840.113549.1.9.16.2.14", "0.4.0.1733.2.4"}


@pytest.fixture(scope="module")
def services(pki: SamplePki, pki_server: PkiServer) -> SigningServices:
    return build_services(pki=pki.directory, clock=OffsetClock(SERVER_AT + timedelta(hours=1)))


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def walk(signed: bytes) -> tuple[list[x509.Certificate], list[str]]:
    """Certificates of every chain in the signature, and the problems found (empty = covered)."""
    sd = acms.ContentInfo.load(signed)["content"]
    pool = [x509.load_der_x509_certificate(c.chosen.dump()) for c in sd["certificates"]]
    ocsps: list[ocsp.OCSPResponse] = []
    crls: list[x509.CertificateRevocationList] = []
    for choice in sd["crls"]:
        if choice.name == "crl":
            crls.append(x509.load_der_x509_crl(choice.chosen.dump()))
        else:
            assert choice.chosen["other_rev_info_format"].dotted == ID_RI_OCSP_RESPONSE
            ocsps.append(ocsp.load_der_ocsp_response(choice.chosen["other_rev_info"].dump()))
    targets = [pool[0]]
    si = sd["signer_infos"][0]
    for attr in si["unsigned_attrs"]:
        if attr["type"].dotted in TOKEN_OIDS:
            for token in attr["values"]:
                tsd = acms.ContentInfo.load(token.dump())["content"]
                tcerts = [x509.load_der_x509_certificate(c.chosen.dump())
                          for c in tsd["certificates"]]
                pool.extend(tcerts)
                serial = tsd["signer_infos"][0]["sid"].chosen["serial_number"].native
                targets.extend(c for c in tcerts if c.serial_number == serial)
    for response in ocsps:
        pool.extend(response.certificates)
        # The responder certificate is a chain of its own.
        targets.extend(c for c in response.certificates if c not in targets)
    problems: list[str] = []
    seen: list[x509.Certificate] = []
    queue = list(targets)
    while queue:
        cert = queue.pop()
        if cert in seen:
            continue
        seen.append(cert)
        if is_self_signed(cert):
            continue
        issuers = [c for c in pool if _issued_by(cert, c)]
        if not issuers:
            problems.append(f"no issuer for {cert.subject.rfc4514_string()}")
            continue
        queue.append(issuers[0])
        if has_ocsp_nocheck(cert):
            continue
        about = [r for r in ocsps
                 if any(s.serial_number == cert.serial_number for s in r.responses)]
        from_issuer = [c for c in crls if c.issuer == cert.issuer
                       and c.is_signature_valid(issuers[0].public_key())]  # type: ignore[arg-type]
        if not about and not from_issuer:
            problems.append(f"no revocation data for {cert.subject.rfc4514_string()}")
    return seen, problems


@pytest.mark.parametrize("level", [SignatureLevel.B_LT, SignatureLevel.B_LTA],
                         ids=lambda lv: lv.value)
@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_every_chain_has_revocation_data(level: SignatureLevel, key: str, phone_rsa: Phone,
                                         phone_ec: Phone, services: SigningServices,
                                         pki: SamplePki) -> None:
    phone = phone_rsa if key == "rsa" else phone_ec
    signed = sign(b"contract", phone, [phone.certificate, *phone.chain], SignatureFormat.CADES,
                  level, SigningOptions(), services=services)
    seen, problems = walk(signed)
    assert problems == []
    subjects = {c.subject for c in seen}
    assert pki.tsa_certificate.subject in subjects  # the TSA chain was walked
    assert pki.root.subject in subjects
    assert phone.certificate in seen


def test_collect_signer_chain(phone_rsa: Phone, services: SigningServices,
                              pki: SamplePki) -> None:
    evidence = collect([phone_rsa.certificate], services=services)
    assert evidence.certificates[0] == phone_rsa.certificate
    assert pki.smartphone_ca in evidence.certificates
    assert pki.root in evidence.certificates
    # signer and smartphone CA: one OCSP response each (responders carry ocsp-nocheck)
    assert len(evidence.ocsp_responses) == 2
    responders = [c for c in evidence.certificates if has_ocsp_nocheck(c)]
    assert responders


def test_collect_for_tokens(services: SigningServices, pki: SamplePki) -> None:
    client = services.require_timestamps()
    token = client.timestamp(b"\x00" * 32, DigestAlgorithm.SHA256)
    evidence = collect_for_tokens([token.der], services=services)
    assert token.signer_certificate in evidence.certificates
    assert evidence.ocsp_responses or evidence.crls


def test_missing_revocation_names_the_certificate(phone_ec: Phone, pki: SamplePki) -> None:
    offline = OfflineRevocationSource()
    services = SigningServices(ocsp_fetcher=offline, crl_fetcher=offline,
                               known_certificates=(pki.root, pki.smartphone_ca))
    with pytest.raises(RevocationError) as info:
        collect([phone_ec.certificate], services=services)
    message = str(info.value)
    assert phone_ec.certificate.subject.rfc4514_string() in message
    assert "OCSP" in message
    assert "CRL" in message


def test_missing_issuer_is_an_error(phone_ec: Phone) -> None:
    with pytest.raises(RevocationError, match="issuer"):
        collect([phone_ec.certificate], services=SigningServices())


def test_issuer_fetched_by_aia(phone_ec: Phone, services: SigningServices,
                               pki: SamplePki) -> None:
    bare = SigningServices(ocsp_fetcher=services.ocsp_fetcher, crl_fetcher=services.crl_fetcher,
                           certificate_fetcher=services.certificate_fetcher,
                           clock=services.clock)
    evidence = collect([phone_ec.certificate], services=bare)
    assert pki.smartphone_ca in evidence.certificates
    assert pki.root in evidence.certificates
