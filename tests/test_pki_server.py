"""The live sample PKI servers (``ltv pki serve``) checked by OpenSSL and by our HTTP fetchers."""

from __future__ import annotations

import base64
import re
import subprocess
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import PKI_EPOCH, SERVER_AT, PkiServer, free_port, ltv_cli
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from ltv.algorithms import DigestAlgorithm
from ltv.errors import RevocationError
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.revocation import CertStatus, RevocationReason, crl_urls, ocsp_urls
from samples.phone import Phone
from samples.pki import SamplePki

# The responses are dated by the server's --at clock, long before the wall clock; OpenSSL's
# freshness check would call them expired, so give it a window wider than the test timeline.
_WIDE = ["-validity_period", str(20 * 365 * 86400)]


def _openssl_ocsp(pki: SamplePki, phone: Phone, issuer: str = "smartphone-ca.pem"
                  ) -> subprocess.CompletedProcess[str]:
    [url] = ocsp_urls(phone.certificate)
    return subprocess.run(
        ["openssl", "ocsp", "-issuer", str(pki.directory / issuer),
         "-cert", str(phone.directory / "cert.pem"), "-url", url,
         "-CAfile", str(pki.directory / "root.pem"), *_WIDE],
        capture_output=True, text=True, check=False, timeout=30,
    )


def test_healthz_and_not_found(pki_server: PkiServer) -> None:
    assert httpx.get(f"{pki_server.base_url}/healthz").text == "ok\n"
    assert httpx.get(f"{pki_server.base_url}/nothing").status_code == 404
    assert httpx.get(f"{pki_server.base_url}/crl/other.crl").status_code == 404
    assert httpx.put(f"{pki_server.base_url}/ocsp/root").status_code == 405


def test_openssl_ocsp_good_then_revoked(pki: SamplePki, pki_server: PkiServer,
                                        tmp_path: Path) -> None:
    phone = Phone.enroll(tmp_path / "phone", pki, at=PKI_EPOCH + timedelta(hours=12))
    result = _openssl_ocsp(pki, phone)
    assert result.returncode == 0, result.stderr
    assert "Response verify OK" in result.stderr
    assert f"{phone.directory / 'cert.pem'}: good" in result.stdout
    r = ltv_cli("pki", "revoke", pki.directory, "--cert", phone.directory / "cert.pem",
                "--reason", "superseded", "--at", "2026-01-01T18:00:00Z")
    assert r.returncode == 0, r.stderr
    result = _openssl_ocsp(pki, phone)  # the server (at 2026-01-02) picks up the new state
    assert result.returncode == 0, result.stderr
    assert f"{phone.directory / 'cert.pem'}: revoked" in result.stdout
    assert "Reason: superseded" in result.stdout
    assert "Revocation Time: Jan  1 18:00:00 2026 GMT" in result.stdout


def test_crl_verifies_with_openssl_and_lists_the_revoked_serial(
        pki: SamplePki, pki_server: PkiServer, tmp_path: Path) -> None:
    phone = Phone.enroll(tmp_path / "phone", pki, key="p256", card=True,
                         at=PKI_EPOCH + timedelta(hours=1))
    pki.revoke(phone.certificate, reason=RevocationReason.AFFILIATION_CHANGED,
               at=PKI_EPOCH + timedelta(hours=2))
    [url] = crl_urls(phone.certificate)
    assert url.endswith("/crl/card-ca.crl")
    response = httpx.get(url)
    assert response.headers["content-type"] == "application/pkix-crl"
    (tmp_path / "card-ca.crl").write_bytes(response.content)
    (tmp_path / "cas.pem").write_bytes((pki.directory / "card-ca.pem").read_bytes()
                                       + (pki.directory / "root.pem").read_bytes())
    result = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(tmp_path / "card-ca.crl"),
         "-CAfile", str(tmp_path / "cas.pem"), "-noout", "-text"],
        capture_output=True, text=True, check=False, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stderr + result.stdout
    assert f"{phone.certificate.serial_number:X}" in result.stdout.replace(" ", "")
    assert "Affiliation Changed" in result.stdout
    # The CRL follows the server's --at clock (SERVER_AT, ticking since the server started),
    # not the wall clock; no test session runs for an hour.
    found = re.search(r"Last Update: (\w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}) GMT", result.stdout)
    assert found, result.stdout
    last_update = datetime.strptime(found.group(1), "%b %d %H:%M:%S %Y").replace(tzinfo=UTC)
    assert SERVER_AT <= last_update < SERVER_AT + timedelta(hours=1)


def test_http_fetchers(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone) -> None:
    with HttpOCSPFetcher(nonce=True) as fetcher:
        response = fetcher.fetch_ocsp(phone_rsa.certificate, pki.smartphone_ca)
    assert response.status is CertStatus.GOOD
    assert abs(response.produced_at - SERVER_AT) < timedelta(minutes=10)
    with HttpCRLFetcher() as crls:
        crl = crls.fetch_crl(crl_urls(phone_rsa.certificate)[0], issuer=pki.smartphone_ca)
    assert crl.revoked_entry(phone_rsa.certificate.serial_number) is None
    with HttpCertificateFetcher() as certs:
        assert certs.fetch_certificates(f"{pki.base_url}/certs/smartphone-ca.cer") == [
            pki.smartphone_ca]
        assert certs.fetch_certificates(f"{pki.base_url}/certs/root.cer") == [pki.root]


def test_http_fetcher_errors_name_the_url(pki: SamplePki, pki_server: PkiServer,
                                          phone_rsa: Phone) -> None:
    bad = f"{pki.base_url}/crl/nothing.crl"
    with pytest.raises(RevocationError, match=re.escape("at 127.0.0.1: HTTP 404") + "$") as info:
        HttpCRLFetcher().fetch_crl(bad, issuer=pki.smartphone_ca)
    assert info.value.url == bad
    assert "/crl/" not in str(info.value)  # reports name the host only
    with pytest.raises(RevocationError, match="not by"):
        HttpCRLFetcher().fetch_crl(f"{pki.base_url}/crl/card-ca.crl", issuer=pki.smartphone_ca)
    down = f"http://127.0.0.1:{free_port()}/crl/x.crl"
    with pytest.raises(RevocationError, match="while asking the CRL distribution point"):
        HttpCRLFetcher(timeout=2).fetch_crl(down, issuer=pki.smartphone_ca)
    with pytest.raises(RevocationError, match="while asking the OCSP responder"):
        HttpOCSPFetcher().fetch_ocsp(phone_rsa.certificate, pki.card_ca)  # wrong issuer


def test_ocsp_get_form(pki: SamplePki, pki_server: PkiServer, phone_ec: Phone) -> None:
    request = ocsp.OCSPRequestBuilder().add_certificate(
        phone_ec.certificate, pki.smartphone_ca, hashes.SHA256()).build()
    encoded = urllib.parse.quote(base64.b64encode(request.public_bytes(Encoding.DER)), safe="")
    response = httpx.get(f"{pki.base_url}/ocsp/smartphone-ca/{encoded}")
    assert response.headers["content-type"] == "application/ocsp-response"
    parsed = ocsp.load_der_ocsp_response(response.content)
    assert parsed.certificate_status is ocsp.OCSPCertStatus.GOOD


@pytest.mark.parametrize("body", [b"", b"garbage", b"\x30\x80\x00\x00", b"\x30" * 5000])
def test_malformed_ocsp_requests(pki_server: PkiServer, body: bytes) -> None:
    response = httpx.post(f"{pki_server.base_url}/ocsp/card-ca", content=body,
                          headers={"content-type": "application/ocsp-request"})
    assert response.status_code == 200
    parsed = ocsp.load_der_ocsp_response(response.content)
    assert parsed.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    get = httpx.get(f"{pki_server.base_url}/ocsp/card-ca/%%%not-base64")
    assert ocsp.load_der_ocsp_response(get.content).response_status is (
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST)


def test_unknown_status_from_the_live_responder(pki: SamplePki, pki_server: PkiServer) -> None:
    request = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        *_hashes(pki.card_ca), 987654321, hashes.SHA1()).build()  # noqa: S303
    response = httpx.post(f"{pki.base_url}/ocsp/card-ca",
                          content=request.public_bytes(Encoding.DER),
                          headers={"content-type": "application/ocsp-request"})
    parsed = ocsp.load_der_ocsp_response(response.content)
    assert parsed.certificate_status is ocsp.OCSPCertStatus.UNKNOWN


def _hashes(ca: x509.Certificate) -> tuple[bytes, bytes]:
    from ltv.revocation import cert_id_hashes

    return cert_id_hashes(ca, hashes.SHA1())  # noqa: S303


def test_restart_moves_the_clock(pki: SamplePki, pki_server: PkiServer, tmp_path: Path) -> None:
    phone = Phone.enroll(tmp_path / "phone", pki, at=SERVER_AT)
    pki.revoke(phone.certificate, reason=RevocationReason.KEY_COMPROMISE,
               at=SERVER_AT + timedelta(days=10))
    with HttpOCSPFetcher() as fetcher:
        assert fetcher.fetch_ocsp(phone.certificate, pki.smartphone_ca).status is (
            CertStatus.GOOD)
        try:
            pki_server.restart(at=SERVER_AT + timedelta(days=11))
            late = fetcher.fetch_ocsp(phone.certificate, pki.smartphone_ca)
        finally:
            pki_server.restart()
    assert late.status is CertStatus.REVOKED
    assert late.revocation_reason is RevocationReason.KEY_COMPROMISE
    assert late.this_update >= SERVER_AT + timedelta(days=11)


def test_tsa_route(pki: SamplePki, pki_server: PkiServer) -> None:
    from ltv.online.timestamps import HttpTimestampClient

    digest = DigestAlgorithm.SHA256.digest(b"contract")
    with HttpTimestampClient(pki_server.tsa_url) as client:
        token = client.timestamp(digest, DigestAlgorithm.SHA256)
    assert token.signer_certificate == pki.tsa_certificate
    assert abs(token.gen_time - SERVER_AT) < timedelta(minutes=10)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[SamplePki, PkiServer]]:
    made = SamplePki.init(tmp_path / "pki", port=free_port(), at=PKI_EPOCH)
    server = PkiServer(made.directory, made.port).start()
    try:
        yield made, server
    finally:
        server.stop()


def test_tsa_rollover_while_serving(own_server: tuple[SamplePki, PkiServer]) -> None:
    from ltv.online.timestamps import HttpTimestampClient

    made, server = own_server
    first = made.tsa_certificate
    digest = DigestAlgorithm.SHA256.digest(b"contract")
    with HttpTimestampClient(server.tsa_url) as client:
        assert client.timestamp(digest, DigestAlgorithm.SHA256).signer_certificate == first
        r = ltv_cli("pki", "rollover-tsa", made.directory, "--at", "2026-01-01T12:00:00Z")
        assert r.returncode == 0, r.stderr
        second = SamplePki.load(made.directory).tsa_certificate
        assert second != first
        token = client.timestamp(digest, DigestAlgorithm.SHA256)
    assert token.signer_certificate == second
    assert token.serial_number > 1  # one serial state across identities


def test_serve_refuses_a_missing_directory(tmp_path: Path) -> None:
    r = ltv_cli("pki", "serve", tmp_path / "none")
    assert r.returncode == 4
    assert "not a sample PKI" in r.stderr
