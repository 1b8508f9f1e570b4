"""What signing reuses and shortcuts for speed (issue #15) changes nothing it produces or decides.

* PAdES: the signed attributes encoded directly are pyHanko's bytes; a fresh signature
  time-stamped before ``/Contents`` is filled gives the PDF that the general path (fill, read
  back, embed the token) gives, and the view it hands the level steps is what reading the PDF
  back finds.
* RFC 3161 requests encoded directly are asn1crypto's bytes.
* The OCSP and CRL caches (injected clocks, a real responder): a revocation published after a
  cached answer's window is seen; an answer is never served at or after its nextUpdate or
  max-age, never when the clock reads earlier than its fetch, never for another certificate
  with the same issuer and serial number.
* Keep-alive: time-stamps through one egress share one TCP connection.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from io import BytesIO

import pytest
from asn1crypto import tsp
from conftest import SERVER_AT
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from test_pades import make_pdf
from test_revocation import _request, _signer

from ltv.algorithms import DigestAlgorithm, SignatureMechanism
from ltv.clock import OffsetClock
from ltv.errors import TimestampError
from ltv.formats import pades
from ltv.online.egress import Egress
from ltv.online.policy import FetchPolicy
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.online.timestamps import HttpTimestampClient
from ltv.revocation import (
    CachingCRLFetcher,
    CachingOCSPFetcher,
    CertStatus,
    Crl,
    OcspResponse,
    RevocationReason,
    parse_ocsp_response,
)
from ltv.signing import (
    PendingSignature,
    SignatureFormat,
    SignatureLevel,
    SigningServices,
    finish,
    prepare,
)
from ltv.timestamps import build_request
from samples.phone import Phone
from samples.pki import SamplePki, generate_key
from samples.responders import respond_ocsp

# ---------------------------------------------------------------------------------------------
# Direct encodings equal the library encodings they replace


@pytest.mark.parametrize("phone_name", ["phone_rsa", "phone_ec"])
@pytest.mark.parametrize("digest", [DigestAlgorithm.SHA256, DigestAlgorithm.SHA384,
                                    DigestAlgorithm.SHA512])
def test_pades_signed_attributes_are_pyhankos_bytes(request: pytest.FixtureRequest,
                                                    phone_name: str,
                                                    digest: DigestAlgorithm) -> None:
    phone: Phone = request.getfixturevalue(phone_name)
    chain = [phone.certificate, *phone.chain]
    mechanism = (SignatureMechanism.RSA_PKCS1V15 if phone_name == "phone_rsa"
                 else SignatureMechanism.ECDSA)
    signer = pades._external_signer(chain, value=b"\x00" * 64, mechanism=mechanism,
                                    digest=digest)
    document_digest = os.urandom(digest.digest_size)
    theirs = asyncio.run(signer.signed_attrs(document_digest, digest.value, use_pades=True))
    assert pades._signed_attributes(chain[0], digest, document_digest) == theirs.dump()


def _asn1crypto_request(digest: bytes, algorithm: DigestAlgorithm, nonce: int | None,
                        cert_req: bool, policy_oid: str | None) -> bytes:
    request: dict[str, object] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": algorithm.value},
                            "hashed_message": digest},
        "cert_req": cert_req,
    }
    if policy_oid is not None:
        request["req_policy"] = policy_oid
    if nonce is not None:
        request["nonce"] = nonce
    return bytes(tsp.TimeStampReq(request).dump())


@pytest.mark.parametrize("algorithm", [DigestAlgorithm.SHA256, DigestAlgorithm.SHA384,
                                       DigestAlgorithm.SHA512])
@pytest.mark.parametrize("nonce", [None, 0, 1, 127, 128, 255, 2**63 - 1, -1, -129])
@pytest.mark.parametrize(("cert_req", "policy_oid"), [(True, None), (False, "1.2.3.4.5"),
                                                      (True, "0.4.0.2023.1.1")])
def test_time_stamp_request_is_asn1cryptos_bytes(algorithm: DigestAlgorithm, nonce: int | None,
                                                 cert_req: bool, policy_oid: str | None) -> None:
    digest = os.urandom(algorithm.digest_size)
    assert build_request(digest, algorithm, nonce=nonce, cert_req=cert_req,
                         policy_oid=policy_oid) == _asn1crypto_request(
        digest, algorithm, nonce, cert_req, policy_oid)


# ---------------------------------------------------------------------------------------------
# PAdES: the fresh-signature path and the general path agree


@pytest.fixture(scope="module")
def services(pki: SamplePki, pki_server: object) -> Iterator[SigningServices]:
    egress = Egress(FetchPolicy())
    tsa = HttpTimestampClient(f"{pki.base_url}/tsa", egress=egress)
    yield SigningServices(
        timestamp_client=tsa,
        ocsp_fetcher=HttpOCSPFetcher(egress=egress),
        crl_fetcher=HttpCRLFetcher(egress=egress),
        certificate_fetcher=HttpCertificateFetcher(egress=egress),
        clock=OffsetClock(start=SERVER_AT),
        known_certificates=(pki.root,),
    )
    egress.close()


def _prepared(phone: Phone, level: SignatureLevel, services: SigningServices,
              pdf: bytes) -> tuple[PendingSignature, bytes]:
    pending = prepare(pdf, [phone.certificate, *phone.chain], SignatureFormat.PADES, level,
                      clock=services.clock)
    return pending, phone.sign(pending.data_to_be_signed)


def _general(pending: PendingSignature) -> PendingSignature:
    """The same pending signature as a state without ``fresh`` (an older prepare) has it."""
    state = {k: v for k, v in pending.format_state.items() if k != "fresh"}
    return PendingSignature.from_json({**pending.to_json(), "format_state": state})


def _revisions(pdf: bytes) -> list[str]:
    """What each revision after the original adds: signature, DSS or document time-stamp."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(BytesIO(pdf))
    kinds = []
    for sig in reader.embedded_signatures:
        kinds.append((sig.signed_revision, "doc-ts" if sig.sig_object.get("/Type") ==
                      "/DocTimeStamp" else "signature"))
    if "/DSS" in reader.root:
        kinds.append((reader.xrefs.get_last_change(reader.root.raw_get("/DSS").reference),
                      "dss"))
    return [kind for _, kind in sorted(kinds)]


def _signature_unsigned_attrs(pdf: bytes) -> list[str]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    (sig,) = PdfFileReader(BytesIO(pdf)).embedded_regular_signatures
    attrs = sig.signer_info["unsigned_attrs"]
    return [a["type"].native for a in attrs] if attrs else []


@pytest.mark.parametrize("phone_name", ["phone_rsa", "phone_ec"])
@pytest.mark.parametrize("level", [SignatureLevel.B_T, SignatureLevel.B_LT, SignatureLevel.B_LTA])
def test_fresh_signature_path_builds_what_the_general_path_builds(
        request: pytest.FixtureRequest, phone_name: str, level: SignatureLevel,
        services: SigningServices) -> None:
    phone: Phone = request.getfixturevalue(phone_name)
    pending, value = _prepared(phone, level, services, make_pdf("fresh"))
    assert pending.format_state["fresh"] is True
    fast = finish(pending, value, document=make_pdf("fresh"), services=services)
    slow = finish(_general(pending), value, document=make_pdf("fresh"), services=services)
    expected = {SignatureLevel.B_T: ["signature"],
                SignatureLevel.B_LT: ["signature", "dss"],
                SignatureLevel.B_LTA: ["signature", "dss", "doc-ts"]}[level]
    assert _revisions(fast) == _revisions(slow) == expected
    assert _signature_unsigned_attrs(fast) == _signature_unsigned_attrs(slow) == [
        "signature_time_stamp_token"]
    # both start with the same prepared revision (the kept update) byte for byte
    assert fast[:pending.format_state["reserved_region"][0]] == \
        slow[:pending.format_state["reserved_region"][0]]


@pytest.mark.parametrize("phone_name", ["phone_rsa", "phone_ec"])
def test_fresh_signature_view_is_what_reading_the_pdf_back_finds(
        request: pytest.FixtureRequest, phone_name: str, services: SigningServices) -> None:
    phone: Phone = request.getfixturevalue(phone_name)
    pdf = make_pdf("view")
    pending, value = _prepared(phone, SignatureLevel.B_LTA, services, pdf)
    out = BytesIO()
    view = pades._assemble_into(BytesIO(pdf), out, pending, value, services=services)
    assert view is not None
    read_back = pades._read_view(out)
    assert read_back.untimed == []  # the token is in the CMS
    assert (_ders(read_back.known), _ders(read_back.targets), read_back.last_tsa,
            read_back.lta) == (_ders(view.known), _ders(view.targets), [], False)
    assert len(view.targets) == 2  # the signer and the TSA


def _ders(certs: list[x509.Certificate]) -> set[bytes]:
    from cryptography.hazmat.primitives.serialization import Encoding

    return {c.public_bytes(Encoding.DER) for c in certs}


def test_a_pdf_signed_before_takes_the_general_path(phone_rsa: Phone, phone_ec: Phone,
                                                    services: SigningServices) -> None:
    first, value = _prepared(phone_rsa, SignatureLevel.B_T, services, make_pdf("twice"))
    signed_once = finish(first, value, document=make_pdf("twice"), services=services)
    pending, value = _prepared(phone_ec, SignatureLevel.B_LTA, services, signed_once)
    assert pending.format_state["fresh"] is False
    assert pades._assemble_into(BytesIO(signed_once), BytesIO(), pending, value,
                                services=services) is None
    twice = finish(pending, value, document=signed_once, services=services)
    assert _revisions(twice) == ["signature", "signature", "dss", "doc-ts"]


def test_fresh_signature_without_a_tsa_fails_before_anything_is_built(
        phone_rsa: Phone, services: SigningServices) -> None:
    class DownTsa:
        def timestamp(self, digest: bytes, algorithm: DigestAlgorithm) -> object:
            raise TimestampError("while asking the TSA at http://tsa.invalid/: timed out")

    down = SigningServices(timestamp_client=DownTsa(),  # type: ignore[arg-type]
                           clock=services.clock)
    pending, value = _prepared(phone_rsa, SignatureLevel.B_T, services, make_pdf("down"))
    with pytest.raises(TimestampError, match=r"^while asking the TSA at http://tsa.invalid/: "
                                             r"timed out$"):
        finish(pending, value, document=make_pdf("down"), services=down)


def test_cades_validation_data_from_the_checked_tokens_equals_parsing_them(
        phone_rsa: Phone, services: SigningServices) -> None:
    from dataclasses import replace

    from ltv.formats import cades

    # the same answers for both calls (the responder signs a new response each second)
    assert services.ocsp_fetcher is not None
    assert services.crl_fetcher is not None
    services = replace(services, ocsp_fetcher=CachingOCSPFetcher(services.ocsp_fetcher,
                                                                 clock=services.clock),
                       crl_fetcher=CachingCRLFetcher(services.crl_fetcher, clock=services.clock))
    chain = [phone_rsa.certificate, *phone_rsa.chain]
    pending = prepare(b"contract", chain, SignatureFormat.CADES, SignatureLevel.B_B,
                      clock=services.clock)
    signed = finish(pending, phone_rsa.sign(pending.data_to_be_signed), document=b"contract",
                    services=services)
    parsed: dict[bytes, object] = {}
    timed = cades.to_t(signed, services=services, parsed=parsed)  # type: ignore[arg-type]
    assert list(parsed) == [der for _, der in cades.timestamp_tokens(timed)]
    reused = cades.validation_data(timed, services=services, parsed=parsed)  # type: ignore[arg-type]
    again = cades.validation_data(timed, services=services)
    assert _ders(list(reused.certificates)) == _ders(list(again.certificates))
    assert (set(reused.ocsp_responses), set(reused.crls)) == (set(again.ocsp_responses),
                                                             set(again.crls))
    assert len(reused.certificates) > len(chain)  # the TSA's chain is in


@pytest.mark.parametrize("packaging", ["enveloped", "detached"])
def test_xades_one_tree_finish_builds_what_assemble_then_augment_builds(
        phone_rsa: Phone, services: SigningServices, packaging: str) -> None:
    from lxml import etree

    from ltv.formats import xades
    from ltv.signing import Packaging, SigningOptions

    document = b'<?xml version="1.0"?><contract xmlns="urn:x"><fee>100</fee></contract>'
    options = SigningOptions(packaging=Packaging(packaging))
    pending = prepare(document, [phone_rsa.certificate, *phone_rsa.chain],
                      SignatureFormat.XADES, SignatureLevel.B_LTA, options, clock=services.clock)
    value = phone_rsa.sign(pending.data_to_be_signed)
    one_tree = finish(pending, value, document=document, services=services)
    detached = document if packaging == "detached" else None
    general = xades.BACKEND.augment(xades.BACKEND.assemble(document, pending, value),
                                    SignatureLevel.B_LTA, detached_content=detached,
                                    services=services)

    def shape(signed: bytes) -> tuple[list[str], int]:
        info = xades.verify_xades_core(signed, detached_content=detached)
        root = etree.fromstring(signed)
        unsigned = root.find(".//{http://uri.etsi.org/01903/v1.3.2#}UnsignedSignatureProperties")
        assert unsigned is not None
        return [etree.QName(e).localname for e in unsigned], len(info.timestamps)

    assert shape(one_tree) == shape(general)
    assert shape(one_tree)[0][0] == "SignatureTimeStamp"


# ---------------------------------------------------------------------------------------------
# Revocation caches (injected clocks, the sample OCSP responder)


class _MovableClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


class _LiveResponder:
    """An OCSP fetcher asking the sample PKI's responder at the clock's time (what a fetch
    from the server would return), counting the fetches."""

    def __init__(self, pki: SamplePki, clock: _MovableClock) -> None:
        self.pki = pki
        self.clock = clock
        self.calls = 0

    def fetch_ocsp(self, certificate: x509.Certificate, issuer: x509.Certificate
                   ) -> OcspResponse:
        self.calls += 1
        der = respond_ocsp(_request(certificate, issuer),
                           signer=_signer(self.pki, "smartphone-ca"), now=self.clock.at)
        return parse_ocsp_response(der, certificate=certificate, issuer=issuer)


def _fresh_certificate(pki: SamplePki, at: datetime) -> x509.Certificate:
    return pki.issue_end_entity(generate_key("p256").public_key(), kind="smartphone", at=at)


def test_a_revocation_after_the_cached_window_is_seen(pki: SamplePki) -> None:
    start = SERVER_AT + timedelta(days=3)
    cert = _fresh_certificate(pki, start - timedelta(hours=1))
    clock = _MovableClock(start)
    responder = _LiveResponder(pki, clock)
    cache = CachingOCSPFetcher(responder, clock=clock, max_age=timedelta(minutes=5))
    assert cache.fetch_ocsp(cert, pki.smartphone_ca).status is CertStatus.GOOD
    pki.revoke(cert, reason=RevocationReason.KEY_COMPROMISE, at=start + timedelta(minutes=1))
    clock.at = start + timedelta(minutes=4)  # inside the window: the cached answer
    assert cache.fetch_ocsp(cert, pki.smartphone_ca).status is CertStatus.GOOD
    assert responder.calls == 1
    clock.at = start + timedelta(minutes=5)  # the window's end: fetched again, revoked
    answer = cache.fetch_ocsp(cert, pki.smartphone_ca)
    assert (answer.status, answer.revocation_reason, responder.calls) == (
        CertStatus.REVOKED, RevocationReason.KEY_COMPROMISE, 2)
    clock.at += timedelta(minutes=1)
    assert cache.fetch_ocsp(cert, pki.smartphone_ca) is answer


def test_ocsp_cache_never_serves_past_next_update(pki: SamplePki) -> None:
    start = SERVER_AT + timedelta(days=4)
    cert = _fresh_certificate(pki, start - timedelta(hours=1))
    clock = _MovableClock(start)
    responder = _LiveResponder(pki, clock)
    cache = CachingOCSPFetcher(responder, clock=clock, max_age=timedelta(days=365))
    first = cache.fetch_ocsp(cert, pki.smartphone_ca)
    assert first.next_update is not None
    clock.at = first.next_update - timedelta(seconds=1)
    assert cache.fetch_ocsp(cert, pki.smartphone_ca) is first
    clock.at = first.next_update
    second = cache.fetch_ocsp(cert, pki.smartphone_ca)
    assert (second is not first, responder.calls) == (True, 2)
    assert second.this_update >= first.next_update - timedelta(seconds=1)


def test_ocsp_cache_never_serves_an_answer_fetched_after_the_clock(pki: SamplePki) -> None:
    start = SERVER_AT + timedelta(days=5)
    cert = _fresh_certificate(pki, start - timedelta(days=1))
    clock = _MovableClock(start)
    responder = _LiveResponder(pki, clock)
    cache = CachingOCSPFetcher(responder, clock=clock, max_age=timedelta(minutes=5))
    later = cache.fetch_ocsp(cert, pki.smartphone_ca)
    clock.at = start - timedelta(minutes=1)  # an injected clock moved back
    earlier = cache.fetch_ocsp(cert, pki.smartphone_ca)
    assert (earlier is not later, responder.calls) == (True, 2)
    assert earlier.this_update <= clock.at


def test_ocsp_cache_never_serves_another_certificate_with_the_same_serial(
        pki: SamplePki) -> None:
    start = SERVER_AT + timedelta(days=6)
    cert = _fresh_certificate(pki, start - timedelta(hours=1))
    key = generate_key("p256")
    twin = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "twin")]))
            .issuer_name(cert.issuer).public_key(key.public_key())
            .serial_number(cert.serial_number)
            .not_valid_before(cert.not_valid_before_utc).not_valid_after(cert.not_valid_after_utc)
            .sign(pki.ca_key("smartphone-ca"), hashes.SHA256()))  # type: ignore[arg-type]
    assert twin != cert
    assert twin.serial_number == cert.serial_number
    clock = _MovableClock(start)
    responder = _LiveResponder(pki, clock)
    cache = CachingOCSPFetcher(responder, clock=clock)
    first = cache.fetch_ocsp(cert, pki.smartphone_ca)
    other = cache.fetch_ocsp(twin, pki.smartphone_ca)
    assert (other is not first, responder.calls) == (True, 2)
    assert cache.fetch_ocsp(cert, pki.smartphone_ca) is first
    assert responder.calls == 2


def test_crl_cache_never_serves_a_crl_fetched_after_the_clock(pki: SamplePki) -> None:
    from ltv.revocation import parse_crl
    from samples.responders import build_crl

    clock = _MovableClock(SERVER_AT)
    fetched: list[datetime] = []

    class Inner:
        def fetch_crl(self, url: str, *, issuer: x509.Certificate) -> Crl:
            fetched.append(clock.at)
            der = build_crl(ca_certificate=pki.smartphone_ca,
                            ca_key=pki.ca_key("smartphone-ca"),  # type: ignore[arg-type]
                            revoked=pki.revoked_entries("smartphone-ca", at=clock.at),
                            now=clock.at, number=len(fetched))
            return parse_crl(der, issuer=issuer)

    cache = CachingCRLFetcher(Inner(), clock=clock, max_age=timedelta(hours=1))
    first = cache.fetch_crl("http://a/x.crl", issuer=pki.smartphone_ca)
    clock.at = SERVER_AT + timedelta(minutes=59)
    assert cache.fetch_crl("http://a/x.crl", issuer=pki.smartphone_ca) is first
    clock.at = SERVER_AT - timedelta(minutes=1)
    assert cache.fetch_crl("http://a/x.crl", issuer=pki.smartphone_ca) is not first
    assert fetched == [SERVER_AT, SERVER_AT - timedelta(minutes=1)]


# ---------------------------------------------------------------------------------------------
# Keep-alive through the egress


class _CountingProxy:
    """A loopback TCP relay to ``port`` that counts the connections it accepts."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.accepted = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self.accepted += 1
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for end in (src, dst):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._server.close()


def test_time_stamps_through_one_egress_share_one_connection(pki: SamplePki,
                                                              pki_server: object) -> None:
    proxy = _CountingProxy(pki.port)
    egress = Egress(FetchPolicy())
    try:
        client = HttpTimestampClient(f"http://127.0.0.1:{proxy.port}/tsa", egress=egress)
        for _ in range(4):
            token = client.timestamp(os.urandom(32), DigestAlgorithm.SHA256)
            assert token.signer_certificate == pki.tsa_certificate
        for _ in range(3):  # the checked pool (certificate URLs) keeps its connection too
            egress.fetch("GET", f"http://127.0.0.1:{proxy.port}/healthz", what="health",
                         max_bytes=1024, error=TimestampError)
        assert proxy.accepted == 2  # one per pool: operator-trusted and checked stay apart
    finally:
        egress.close()
        proxy.close()


@pytest.mark.parametrize("phone_name", ["phone_rsa", "phone_ec"])
@pytest.mark.parametrize("digest", [DigestAlgorithm.SHA256, DigestAlgorithm.SHA512])
def test_pades_signature_cms_is_what_pyhanko_builds(request: pytest.FixtureRequest,
                                                    phone_name: str, digest: DigestAlgorithm,
                                                    services: SigningServices) -> None:
    from asn1crypto import cms as asn1_cms

    from ltv.formats.cms import parse_signed_data
    from ltv.signing import SigningOptions

    phone: Phone = request.getfixturevalue(phone_name)
    chain = [phone.certificate, *phone.chain]
    pending = prepare(make_pdf("cms"), chain, SignatureFormat.PADES, SignatureLevel.B_B,
                      SigningOptions(digest_algorithm=digest), clock=services.clock)
    value = phone.sign(pending.data_to_be_signed)
    attrs = base64.b64decode(pending.format_state["signed_attributes"])
    ours = parse_signed_data(pades._signature_cms(pending, attrs, value))
    signer = pades._external_signer(chain, value=value, mechanism=pending.data_to_be_signed
                                    .mechanism, digest=digest)
    content = asyncio.run(signer.async_sign_prescribed_attributes(
        digest.value, asn1_cms.CMSAttributes.load(attrs)))
    theirs = parse_signed_data(bytes(content.dump()))
    assert (ours.version, ours.digest_algorithms, ours.encap_content_info, ours.crls) == (
        theirs.version, theirs.digest_algorithms, theirs.encap_content_info, theirs.crls)
    assert sorted(ours.certificates or ()) == sorted(theirs.certificates or ())
    assert ours.signer_infos == theirs.signer_infos
