"""The sample PKI: certificate profiles (JPKI-like), files, state, revocation records, rollover."""

from __future__ import annotations

import stat
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from asn1crypto import core
from conftest import PKI_EPOCH, SERVER_AT, free_port, ltv_cli
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ltv.errors import ConfigurationError, InputError
from ltv.jpki import HOLDER_OIDS, JPKI_SIGN_POLICY_TEST, SAMPLE_SMARTPHONE_POLICY
from ltv.revocation import CertStatus, RevocationReason, ca_issuer_urls, crl_urls, ocsp_urls
from samples.pki import Holder, PkiValidity, SamplePki, generate_key

E = TypeVar("E", bound=x509.ExtensionType)


def _ext(cert: x509.Certificate, cls: type[E]) -> x509.Extension[E]:
    return cert.extensions.get_extension_for_class(cls)


def _holder(cert: x509.Certificate) -> dict[str, str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    by_oid = {v: k for k, v in HOLDER_OIDS.items()}
    return {
        by_oid[o.type_id.dotted_string]: core.UTF8String.load(o.value).native
        for o in san.get_values_for_type(x509.OtherName)
    }


@pytest.fixture
def fresh_pki(tmp_path: Path) -> SamplePki:
    return SamplePki.init(tmp_path / "pki", port=free_port(), at=PKI_EPOCH)


def test_layout_and_private_key_modes(pki: SamplePki) -> None:
    d = pki.directory
    for name in ("root.pem", "card-ca.pem", "smartphone-ca.pem", "tsa.pem", "tsa-chain.pem",
                 "ocsp-root.pem", "ocsp-card-ca.pem", "ocsp-smartphone-ca.pem", "state.json",
                 "tsa-history/tsa-1.pem", "pq-root.pem", "ocsp-pq-root.pem"):
        assert (d / name).is_file(), name
    keys = list((d / "private").glob("*.pem"))
    assert len(keys) == 9  # 4 CAs, 4 OCSP responders, 1 TSA
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
    assert stat.S_IMODE((d / "private").stat().st_mode) == 0o700
    assert SamplePki.load(d).root == pki.root
    assert pki.base_url == f"http://127.0.0.1:{pki.port}"


def test_init_refuses_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("occupied")
    with pytest.raises(ConfigurationError, match="not an empty directory"):
        SamplePki.init(tmp_path, port=8380, at=PKI_EPOCH)


def test_load_of_a_non_pki_directory_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a sample PKI"):
        SamplePki.load(tmp_path)


def test_ca_profiles(pki: SamplePki) -> None:
    root = pki.root
    assert root.issuer == root.subject
    root.verify_directly_issued_by(root)
    assert _ext(root, x509.BasicConstraints).value.ca
    for ca in (pki.card_ca, pki.smartphone_ca):
        ca.verify_directly_issued_by(root)
        bc = _ext(ca, x509.BasicConstraints)
        assert bc.critical
        assert bc.value.ca
        assert bc.value.path_length == 0
        ku = _ext(ca, x509.KeyUsage)
        assert ku.critical
        assert ku.value.key_cert_sign
        assert ku.value.crl_sign
        assert crl_urls(ca) == [f"{pki.base_url}/crl/root.crl"]
        assert ocsp_urls(ca) == [f"{pki.base_url}/ocsp/root"]
        assert ca_issuer_urls(ca) == [f"{pki.base_url}/certs/root.cer"]
    assert pki.card_ca.not_valid_after_utc - PKI_EPOCH == timedelta(days=20 * 365)
    assert pki.chain_for(pki.card_ca) == [root]
    assert pki.chain_for(root) == []


@pytest.mark.parametrize("kind", ["card", "smartphone"])
@pytest.mark.parametrize("key_type", ["rsa2048", "p256"])
def test_end_entity_profile(pki: SamplePki, kind: str, key_type: str) -> None:
    key = generate_key(key_type)
    holder = Holder(name="電子 署名子", address="大阪府大阪市北区中之島一丁目3番20号")
    cert = pki.issue_end_entity(key.public_key(), kind=kind, holder=holder,  # type: ignore[arg-type]
                                at=SERVER_AT)
    ca = pki.card_ca if kind == "card" else pki.smartphone_ca
    ca_name = "card-ca" if kind == "card" else "smartphone-ca"
    cert.verify_directly_issued_by(ca)
    assert pki.chain_for(cert) == [ca, pki.root]
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    if key_type == "rsa2048":
        assert isinstance(cert.public_key(), rsa.RSAPublicKey)
    else:
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    ku = _ext(cert, x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature
    assert ku.value.content_commitment
    assert not ku.value.key_cert_sign
    policies = {p.policy_identifier.dotted_string
                for p in _ext(cert, x509.CertificatePolicies).value}
    assert policies == {JPKI_SIGN_POLICY_TEST if kind == "card" else SAMPLE_SMARTPHONE_POLICY}
    assert _holder(cert) == {
        "name": "電子 署名子", "address": "大阪府大阪市北区中之島一丁目3番20号",
        "date_of_birth": "419900101", "gender": "1",
    }
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert holder.name not in cn
    assert cn.isascii()
    assert crl_urls(cert) == [f"{pki.base_url}/crl/{ca_name}.crl"]
    assert ocsp_urls(cert) == [f"{pki.base_url}/ocsp/{ca_name}"]
    assert ca_issuer_urls(cert) == [f"{pki.base_url}/certs/{ca_name}.cer"]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime == timedelta(days=(5 if kind == "card" else 3) * 365)
    assert pki.revocation_status(cert, at=SERVER_AT).status is CertStatus.GOOD


def test_short_keys_are_refused(pki: SamplePki) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    with pytest.raises(InputError, match="too short"):
        pki.issue_end_entity(weak.public_key(), kind="card", at=SERVER_AT)


def test_tsa_certificate_profile(pki: SamplePki) -> None:
    tsa = pki.tsa_certificate
    tsa.verify_directly_issued_by(pki.root)
    eku = _ext(tsa, x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    ku = _ext(tsa, x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature
    assert not ku.value.content_commitment
    assert ocsp_urls(tsa) == [f"{pki.base_url}/ocsp/root"]
    assert crl_urls(tsa) == [f"{pki.base_url}/crl/root.crl"]
    assert tsa.not_valid_after_utc - tsa.not_valid_before_utc == timedelta(days=6 * 365)
    identity = pki.tsa_identity()
    assert identity.certificate == tsa
    assert identity.chain == (pki.root,)
    chain = x509.load_pem_x509_certificates((pki.directory / "tsa-chain.pem").read_bytes())
    assert chain == [tsa, pki.root]


@pytest.mark.parametrize("ca", ["root", "card-ca", "smartphone-ca"])
def test_ocsp_responder_profile(pki: SamplePki, ca: str) -> None:
    cert, key = pki.responder(ca)  # type: ignore[arg-type]
    cert.verify_directly_issued_by(pki.ca_certificate(ca))  # type: ignore[arg-type]
    assert list(_ext(cert, x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.OCSP_SIGNING]
    assert isinstance(_ext(cert, x509.OCSPNoCheck).value, x509.OCSPNoCheck)
    assert not crl_urls(cert)
    assert not ocsp_urls(cert)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(serialization.Encoding.DER, spki) == (
        cert.public_key().public_bytes(serialization.Encoding.DER, spki))


def test_openssl_verifies_an_end_entity_chain(pki: SamplePki, tmp_path: Path) -> None:
    cert = pki.issue_end_entity(generate_key("p256").public_key(), kind="smartphone",
                                at=SERVER_AT)
    pem = serialization.Encoding.PEM
    (tmp_path / "ee.pem").write_bytes(cert.public_bytes(pem))
    (tmp_path / "chain.pem").write_bytes(b"".join(c.public_bytes(pem)
                                                  for c in pki.chain_for(cert)))
    result = subprocess.run(
        ["openssl", "verify", "-attime", str(int(SERVER_AT.timestamp())), "-CAfile",
         str(pki.directory / "root.pem"), "-untrusted", str(tmp_path / "chain.pem"),
         str(tmp_path / "ee.pem")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("OK")


def test_revoke_records_time_and_reason(fresh_pki: SamplePki) -> None:
    cert = fresh_pki.issue_end_entity(generate_key("p256").public_key(), kind="smartphone",
                                      at=SERVER_AT)
    when = SERVER_AT + timedelta(days=30)
    fresh_pki.revoke(cert, reason=RevocationReason.SUPERSEDED, at=when)
    before = fresh_pki.revocation_status(cert, at=when - timedelta(seconds=1))
    after = fresh_pki.revocation_status(cert, at=when)
    assert before.status is CertStatus.GOOD
    assert (after.status, after.revocation_time, after.reason) == (
        CertStatus.REVOKED, when, RevocationReason.SUPERSEDED)
    assert fresh_pki.revoked_entries("smartphone-ca", at=when) == [
        (cert.serial_number, when, RevocationReason.SUPERSEDED)]
    assert SamplePki.load(fresh_pki.directory).revocation_status(cert, at=when) == after
    with pytest.raises(InputError, match="already revoked"):
        fresh_pki.revoke(cert, reason=RevocationReason.KEY_COMPROMISE, at=when)


def test_revoke_refuses_foreign_certificates(fresh_pki: SamplePki, pki: SamplePki) -> None:
    foreign = pki.issue_end_entity(generate_key("p256").public_key(), kind="card",
                                   at=SERVER_AT)
    with pytest.raises(ConfigurationError, match="not issued by this PKI"):
        fresh_pki.revoke(foreign, reason=RevocationReason.SUPERSEDED, at=SERVER_AT)


def test_unknown_serial(pki: SamplePki) -> None:
    assert pki.status_of("card-ca", 12345, at=SERVER_AT).status is CertStatus.UNKNOWN


def test_rollover_tsa(fresh_pki: SamplePki) -> None:
    first = fresh_pki.tsa_certificate
    later = PKI_EPOCH + timedelta(days=5 * 365)
    second = fresh_pki.rollover_tsa(at=later)
    assert second != first
    assert second.not_valid_before_utc == later
    assert fresh_pki.tsa_certificates == [first, second]
    assert x509.load_pem_x509_certificate((fresh_pki.directory / "tsa.pem").read_bytes()) == second
    assert (fresh_pki.directory / "tsa-history" / "tsa-2.pem").is_file()
    assert first.not_valid_after_utc == PKI_EPOCH + timedelta(days=6 * 365)  # unchanged
    assert fresh_pki.tsa_identity().certificate == second
    assert fresh_pki.tsa_identity(at=SERVER_AT).certificate == first
    reloaded = SamplePki.load(fresh_pki.directory)
    assert reloaded.tsa_certificates == [first, second]
    assert reloaded.status_of("root", second.serial_number, at=later).status is CertStatus.GOOD


def test_configurable_validity(tmp_path: Path) -> None:
    made = SamplePki.init(tmp_path / "p", port=free_port(), at=PKI_EPOCH,
                          validity=PkiValidity(smartphone=timedelta(days=30)), tsa_key="p256")
    cert = made.issue_end_entity(generate_key("p256").public_key(), kind="smartphone",
                                 at=PKI_EPOCH)
    assert cert.not_valid_after_utc == PKI_EPOCH + timedelta(days=30)
    assert isinstance(made.tsa_certificate.public_key(), ec.EllipticCurvePublicKey)


def test_validity_is_capped_by_the_issuer(tmp_path: Path) -> None:
    made = SamplePki.init(tmp_path / "p", port=free_port(), at=PKI_EPOCH,
                          validity=PkiValidity(ca=timedelta(days=100)))
    cert = made.issue_end_entity(generate_key("p256").public_key(), kind="card",
                                 at=PKI_EPOCH + timedelta(days=50))
    assert cert.not_valid_after_utc == made.card_ca.not_valid_after_utc


def test_software_signer(pki: SamplePki, tmp_path: Path) -> None:
    pki.issue_software_signer("alice", tmp_path / "alice", at=SERVER_AT)
    cert = x509.load_pem_x509_certificate((tmp_path / "alice" / "cert.pem").read_bytes())
    chain = x509.load_pem_x509_certificates((tmp_path / "alice" / "chain.pem").read_bytes())
    assert chain == [pki.card_ca, pki.root]
    assert stat.S_IMODE((tmp_path / "alice" / "key.pem").stat().st_mode) == 0o600
    assert _holder(cert)["name"] == "alice"


def test_cli_init_issue_revoke_rollover(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    r = ltv_cli("pki", "init", d, "--port", str(free_port()), "--at", "2026-01-01T00:00:00Z")
    assert r.returncode == 0, r.stderr
    assert (d / "root.pem").is_file()
    r = ltv_cli("pki", "init", d)
    assert r.returncode == 4
    assert r.stderr.count("\n") == 1
    assert "ltv: error:" in r.stderr
    r = ltv_cli("pki", "issue", d, "bob", "--out", tmp_path / "bob", "--at", "2026-01-02")
    assert r.returncode == 0, r.stderr
    r = ltv_cli("pki", "revoke", d, "--cert", tmp_path / "bob" / "cert.pem",
                "--reason", "keyCompromise", "--at", "2026-02-01T00:00:00Z")
    assert r.returncode == 0, r.stderr
    bob = x509.load_pem_x509_certificate((tmp_path / "bob" / "cert.pem").read_bytes())
    status = SamplePki.load(d).revocation_status(bob, at=PKI_EPOCH + timedelta(days=365))
    assert status.reason is RevocationReason.KEY_COMPROMISE
    r = ltv_cli("pki", "revoke", d, "--cert", tmp_path / "bob" / "cert.pem",
                "--reason", "superseded")
    assert r.returncode == 4
    assert "already revoked" in r.stderr
    r = ltv_cli("pki", "revoke", d, "--cert", d / "state.json", "--reason", "superseded")
    assert r.returncode == 4
    assert "not a certificate" in r.stderr
    r = ltv_cli("pki", "rollover-tsa", d, "--at", "2030-01-01")
    assert r.returncode == 0, r.stderr
    assert len(SamplePki.load(d).tsa_certificates) == 2
    r = ltv_cli("pki", "revoke", d, "--cert", tmp_path / "bob" / "cert.pem",
                "--reason", "bogus")
    assert r.returncode == 2


def test_sample_contracts_are_current_and_well_formed(tmp_path: Path) -> None:
    from samples.contracts import make_contracts

    here = make_contracts.HERE
    assert (here / "contract.pdf").read_bytes() == make_contracts.make_pdf()
    assert (here / "contract.xml").read_bytes() == make_contracts.make_xml()
    assert (here / "contract.txt").read_bytes() == make_contracts.make_txt()
    assert (here / "contract.bin").read_bytes() == make_contracts.make_bin()
    assert "契約書" in (here / "contract.xml").read_text(encoding="utf-8")
    check = subprocess.run(["qpdf", "--check", str(here / "contract.pdf")],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout
