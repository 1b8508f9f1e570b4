"""ltv.revocation (parse/check OCSP and CRLs, caches, offline source) over the pure responders."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from conftest import PKI_EPOCH, SERVER_AT
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from hypothesis import given, settings
from hypothesis import strategies as st

from ltv.clock import FixedClock
from ltv.errors import RevocationError
from ltv.revocation import (
    CachingCRLFetcher,
    CachingOCSPFetcher,
    CertStatus,
    Crl,
    OcspResponse,
    OfflineRevocationSource,
    RevocationReason,
    parse_crl,
    parse_ocsp_response,
)
from samples.pki import CaName, SamplePki, generate_key
from samples.responders import OcspSigner, build_crl, respond_ocsp


def _signer(pki: SamplePki, ca: CaName) -> OcspSigner:
    cert, key = pki.responder(ca)
    return OcspSigner(ca_certificate=pki.ca_certificate(ca), responder_certificate=cert,
                      responder_key=key,
                      status_of=lambda serial, at: pki.status_of(ca, serial, at=at))


def _request(cert: x509.Certificate, issuer: x509.Certificate, *,
             algorithm: hashes.HashAlgorithm | None = None, nonce: bytes | None = None) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer,
                                                        algorithm or hashes.SHA1())  # noqa: S303
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(Encoding.DER)


@pytest.fixture(scope="module")
def revoked_cert(pki: SamplePki) -> x509.Certificate:
    cert = pki.issue_end_entity(generate_key("p256").public_key(), kind="smartphone",
                                at=PKI_EPOCH)
    pki.revoke(cert, reason=RevocationReason.AFFILIATION_CHANGED, at=PKI_EPOCH + timedelta(hours=6))
    return cert


@pytest.fixture(scope="module")
def good_cert(pki: SamplePki) -> x509.Certificate:
    return pki.issue_end_entity(generate_key("p256").public_key(), kind="smartphone",
                                at=PKI_EPOCH)


def _ocsp(pki: SamplePki, cert: x509.Certificate, now: datetime = SERVER_AT, **kw: object
          ) -> OcspResponse:
    der = respond_ocsp(_request(cert, pki.smartphone_ca, **kw),  # type: ignore[arg-type]
                       signer=_signer(pki, "smartphone-ca"), now=now)
    return parse_ocsp_response(der, certificate=cert, issuer=pki.smartphone_ca)


def test_ocsp_good(pki: SamplePki, good_cert: x509.Certificate) -> None:
    resp = _ocsp(pki, good_cert)
    assert resp.status is CertStatus.GOOD
    assert resp.produced_at == SERVER_AT  # the responder's clock, not the wall clock
    assert resp.this_update == SERVER_AT
    assert resp.next_update == SERVER_AT + timedelta(days=1)
    assert resp.responder_certificate == pki.responder("smartphone-ca")[0]
    assert resp.certificates == (resp.responder_certificate,)
    assert resp.serial_number == good_cert.serial_number
    assert resp.revocation_time is None
    assert resp.revocation_reason is None


def test_ocsp_revoked_only_from_the_revocation_time(pki: SamplePki,
                                                    revoked_cert: x509.Certificate) -> None:
    before = _ocsp(pki, revoked_cert, now=PKI_EPOCH + timedelta(hours=5))
    assert before.status is CertStatus.GOOD
    after = _ocsp(pki, revoked_cert)
    assert after.status is CertStatus.REVOKED
    assert after.revocation_time == PKI_EPOCH + timedelta(hours=6)
    assert after.revocation_reason is RevocationReason.AFFILIATION_CHANGED


def test_ocsp_unknown_serial(pki: SamplePki) -> None:
    # A certificate the CA never issued: the CA's name as issuer, a serial it never used.
    key = generate_key("p256")
    builder = (x509.CertificateBuilder().subject_name(pki.smartphone_ca.subject)
               .issuer_name(pki.smartphone_ca.subject).public_key(key.public_key())
               .serial_number(4242).not_valid_before(PKI_EPOCH)
               .not_valid_after(PKI_EPOCH + timedelta(days=1)))
    fake = builder.sign(key, hashes.SHA256())
    assert _ocsp(pki, fake).status is CertStatus.UNKNOWN


def test_ocsp_sha256_cert_id_and_nonce(pki: SamplePki, good_cert: x509.Certificate) -> None:
    der = respond_ocsp(_request(good_cert, pki.smartphone_ca, algorithm=hashes.SHA256(),
                                nonce=b"0123456789abcdef"),
                       signer=_signer(pki, "smartphone-ca"), now=SERVER_AT)
    parsed = ocsp.load_der_ocsp_response(der)
    assert parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == (
        b"0123456789abcdef")
    resp = parse_ocsp_response(der, certificate=good_cert, issuer=pki.smartphone_ca)
    assert resp.status is CertStatus.GOOD


def test_ocsp_malformed_and_unauthorized_requests(pki: SamplePki,
                                                  good_cert: x509.Certificate) -> None:
    signer = _signer(pki, "smartphone-ca")
    bad = ocsp.load_der_ocsp_response(respond_ocsp(b"\x30\x03\x02\x01\x01", signer=signer,
                                                   now=SERVER_AT))
    assert bad.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    wrong_ca = respond_ocsp(_request(good_cert, pki.smartphone_ca),
                            signer=_signer(pki, "card-ca"), now=SERVER_AT)
    assert ocsp.load_der_ocsp_response(wrong_ca).response_status is (
        ocsp.OCSPResponseStatus.UNAUTHORIZED)
    with pytest.raises(RevocationError, match="UNAUTHORIZED"):
        parse_ocsp_response(wrong_ca, certificate=good_cert, issuer=pki.smartphone_ca)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_requests_get_an_ocsp_answer_never_an_exception(pki: SamplePki,
                                                               data: bytes) -> None:
    answer = ocsp.load_der_ocsp_response(respond_ocsp(data, signer=_signer(pki, "root"),
                                                      now=SERVER_AT))
    assert answer.response_status in (ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
                                      ocsp.OCSPResponseStatus.UNAUTHORIZED,
                                      ocsp.OCSPResponseStatus.SUCCESSFUL)


def test_tampered_ocsp_response_is_rejected(pki: SamplePki, good_cert: x509.Certificate) -> None:
    der = bytearray(respond_ocsp(_request(good_cert, pki.smartphone_ca),
                                 signer=_signer(pki, "smartphone-ca"), now=SERVER_AT))
    index = der.find(SERVER_AT.strftime("%Y%m%d").encode())  # producedAt, inside the signed part
    der[index + 3] ^= 0x01  # 2026 -> 2027
    with pytest.raises(RevocationError, match="does not verify"):
        parse_ocsp_response(bytes(der), certificate=good_cert, issuer=pki.smartphone_ca)
    with pytest.raises(RevocationError):
        parse_ocsp_response(b"not der", certificate=good_cert, issuer=pki.smartphone_ca)


def test_ocsp_response_for_another_certificate_or_issuer(pki: SamplePki,
                                                         good_cert: x509.Certificate,
                                                         revoked_cert: x509.Certificate) -> None:
    der = respond_ocsp(_request(good_cert, pki.smartphone_ca),
                       signer=_signer(pki, "smartphone-ca"), now=SERVER_AT)
    with pytest.raises(RevocationError, match="says nothing about"):
        parse_ocsp_response(der, certificate=revoked_cert, issuer=pki.smartphone_ca)
    with pytest.raises(RevocationError, match="says nothing about"):
        parse_ocsp_response(der, certificate=good_cert, issuer=pki.card_ca)


def test_ocsp_responder_of_another_ca_is_not_authorised(pki: SamplePki,
                                                        good_cert: x509.Certificate) -> None:
    card_responder, card_key = pki.responder("card-ca")
    signer = OcspSigner(ca_certificate=pki.smartphone_ca, responder_certificate=card_responder,
                        responder_key=card_key,
                        status_of=lambda serial, at: pki.status_of("smartphone-ca", serial,
                                                                   at=at))
    der = respond_ocsp(_request(good_cert, pki.smartphone_ca), signer=signer, now=SERVER_AT)
    with pytest.raises(RevocationError, match="authorised"):
        parse_ocsp_response(der, certificate=good_cert, issuer=pki.smartphone_ca)


def test_ocsp_signed_by_the_ca_itself_is_accepted(pki: SamplePki,
                                                  good_cert: x509.Certificate) -> None:
    signer = OcspSigner(ca_certificate=pki.smartphone_ca, responder_certificate=pki.smartphone_ca,
                        responder_key=pki.ca_key("smartphone-ca"),
                        status_of=lambda serial, at: pki.status_of("smartphone-ca", serial,
                                                                   at=at))
    der = respond_ocsp(_request(good_cert, pki.smartphone_ca), signer=signer, now=SERVER_AT)
    resp = parse_ocsp_response(der, certificate=good_cert, issuer=pki.smartphone_ca)
    assert resp.responder_certificate == pki.smartphone_ca


def _crl(pki: SamplePki, now: datetime = SERVER_AT, number: int = 7) -> bytes:
    return build_crl(ca_certificate=pki.smartphone_ca, ca_key=pki.ca_key("smartphone-ca"),
                     revoked=pki.revoked_entries("smartphone-ca", at=now), now=now,
                     number=number)


def test_crl_lists_revocations_in_force(pki: SamplePki, revoked_cert: x509.Certificate,
                                        good_cert: x509.Certificate) -> None:
    crl = parse_crl(_crl(pki), issuer=pki.smartphone_ca)
    assert (crl.this_update, crl.next_update, crl.number) == (
        SERVER_AT, SERVER_AT + timedelta(days=1), 7)
    entry = crl.revoked_entry(revoked_cert.serial_number)
    assert entry is not None
    assert entry.revocation_time == PKI_EPOCH + timedelta(hours=6)
    assert entry.reason is RevocationReason.AFFILIATION_CHANGED
    assert crl.revoked_entry(good_cert.serial_number) is None
    early = parse_crl(_crl(pki, now=PKI_EPOCH + timedelta(hours=1)), issuer=pki.smartphone_ca)
    assert early.revoked_entry(revoked_cert.serial_number) is None
    pem = crl.x509_crl.public_bytes(Encoding.PEM)
    assert parse_crl(pem, issuer=pki.smartphone_ca).der == crl.der


def test_tampered_or_foreign_crl_is_rejected(pki: SamplePki) -> None:
    der = bytearray(_crl(pki))
    der[-5] ^= 0x01  # inside the signature value
    with pytest.raises(RevocationError, match="does not verify"):
        parse_crl(bytes(der), issuer=pki.smartphone_ca)
    with pytest.raises(RevocationError, match="issued by"):
        parse_crl(_crl(pki), issuer=pki.card_ca)
    with pytest.raises(RevocationError, match="not a CRL"):
        parse_crl(b"\x30\x00", issuer=pki.card_ca)


class _CountingOcsp:
    def __init__(self, responses: list[OcspResponse]) -> None:
        self.responses = responses
        self.calls = 0

    def fetch_ocsp(self, certificate: x509.Certificate, issuer: x509.Certificate) -> OcspResponse:
        self.calls += 1
        return self.responses[min(self.calls, len(self.responses)) - 1]


class _MutableClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def test_ocsp_cache_reuses_until_max_age_or_next_update(pki: SamplePki,
                                                        good_cert: x509.Certificate) -> None:
    response = _ocsp(pki, good_cert)  # nextUpdate = SERVER_AT + 1 day
    inner = _CountingOcsp([response])
    clock = _MutableClock(SERVER_AT)
    cache = CachingOCSPFetcher(inner, clock=clock, max_age=timedelta(minutes=5))
    assert cache.fetch_ocsp(good_cert, pki.smartphone_ca) is response
    clock.at += timedelta(minutes=4)
    cache.fetch_ocsp(good_cert, pki.smartphone_ca)
    assert inner.calls == 1
    clock.at += timedelta(minutes=2)
    cache.fetch_ocsp(good_cert, pki.smartphone_ca)
    assert inner.calls == 2
    long_cache = CachingOCSPFetcher(inner, clock=clock, max_age=timedelta(days=30))
    long_cache.fetch_ocsp(good_cert, pki.smartphone_ca)
    clock.at = SERVER_AT + timedelta(hours=23)
    long_cache.fetch_ocsp(good_cert, pki.smartphone_ca)
    assert inner.calls == 3
    clock.at = SERVER_AT + timedelta(days=1)  # == nextUpdate: stale
    long_cache.fetch_ocsp(good_cert, pki.smartphone_ca)
    assert inner.calls == 4


def test_ocsp_cache_with_fixed_clock_keys_by_certificate(pki: SamplePki,
                                                         good_cert: x509.Certificate,
                                                         revoked_cert: x509.Certificate) -> None:
    inner = _CountingOcsp([_ocsp(pki, good_cert), _ocsp(pki, revoked_cert)])
    cache = CachingOCSPFetcher(inner, clock=FixedClock(SERVER_AT))
    first = cache.fetch_ocsp(good_cert, pki.smartphone_ca)
    second = cache.fetch_ocsp(revoked_cert, pki.smartphone_ca)
    assert (first.status, second.status) == (CertStatus.GOOD, CertStatus.REVOKED)
    assert cache.fetch_ocsp(good_cert, pki.smartphone_ca) is first
    assert inner.calls == 2


def test_crl_cache(pki: SamplePki) -> None:
    crl = parse_crl(_crl(pki), issuer=pki.smartphone_ca)
    calls: list[str] = []

    class Inner:
        def fetch_crl(self, url: str, *, issuer: x509.Certificate) -> Crl:
            calls.append(url)
            return crl

    clock = _MutableClock(SERVER_AT)
    cache = CachingCRLFetcher(Inner(), clock=clock, max_age=timedelta(hours=1))
    for _ in range(3):
        assert cache.fetch_crl("http://a/x.crl", issuer=pki.smartphone_ca) is crl
    cache.fetch_crl("http://a/y.crl", issuer=pki.smartphone_ca)
    assert calls == ["http://a/x.crl", "http://a/y.crl"]
    clock.at += timedelta(hours=1)
    cache.fetch_crl("http://a/x.crl", issuer=pki.smartphone_ca)
    assert len(calls) == 3


def test_offline_source(pki: SamplePki, good_cert: x509.Certificate,
                        revoked_cert: x509.Certificate) -> None:
    signer = _signer(pki, "smartphone-ca")
    older = respond_ocsp(_request(good_cert, pki.smartphone_ca), signer=signer,
                         now=SERVER_AT - timedelta(hours=3))
    newer = respond_ocsp(_request(good_cert, pki.smartphone_ca), signer=signer, now=SERVER_AT)
    source = OfflineRevocationSource(
        ocsp_responses=[b"junk", older, newer],
        crls=[b"junk", _crl(pki, now=SERVER_AT - timedelta(days=1)), _crl(pki)],
    )
    assert source.fetch_ocsp(good_cert, pki.smartphone_ca).this_update == SERVER_AT
    with pytest.raises(RevocationError, match="no supplied OCSP response"):
        source.fetch_ocsp(revoked_cert, pki.smartphone_ca)
    crl = source.fetch_crl("http://anywhere/x.crl", issuer=pki.smartphone_ca)
    assert crl.this_update == SERVER_AT
    assert crl.revoked_entry(revoked_cert.serial_number) is not None
    with pytest.raises(RevocationError, match="no supplied CRL") as info:
        source.fetch_crl("http://anywhere/y.crl", issuer=pki.card_ca)
    assert info.value.url == "http://anywhere/y.crl"


def test_reason_names() -> None:
    assert RevocationReason.from_name("superseded") is RevocationReason.SUPERSEDED
    assert RevocationReason.from_name("KEY_COMPROMISE") is RevocationReason.KEY_COMPROMISE
    assert RevocationReason.REMOVE_FROM_CRL.code == 8
    assert {r.value for r in RevocationReason} == {f.value for f in x509.ReasonFlags}
    with pytest.raises(RevocationError):
        RevocationReason.from_name("lost")
