"""The simulated phone: enrolment (CSR to the sample CAs) and signing in every form."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from conftest import SERVER_AT, ltv_cli
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ltv.algorithms import DigestAlgorithm, SignatureMechanism, digest_info, verify_signature
from ltv.errors import ConfigurationError, InputError, UnsupportedAlgorithmError
from ltv.jpki import KeyKind, key_kind_for_policies
from ltv.tbs import DataToBeSigned, TbsForm
from samples.phone import Phone
from samples.pki import SamplePki

MESSAGE = "契約書: 甲は乙に対し…".encode()


def _kind(cert: x509.Certificate) -> KeyKind:
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    return key_kind_for_policies({p.policy_identifier.dotted_string for p in policies})


def test_enrolled_rsa_phone(phone_rsa: Phone, pki: SamplePki) -> None:
    assert isinstance(phone_rsa.certificate.public_key(), rsa.RSAPublicKey)
    assert phone_rsa.chain == [pki.smartphone_ca, pki.root]
    assert _kind(phone_rsa.certificate) is KeyKind.SMARTPHONE
    key_path = phone_rsa.directory / "secure-element" / "key.pem"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    csr = x509.load_pem_x509_csr((phone_rsa.directory / "csr.pem").read_bytes())
    assert csr.public_key() == phone_rsa.certificate.public_key()
    assert phone_rsa.certificate.not_valid_before_utc == SERVER_AT
    reloaded = Phone(phone_rsa.directory)
    assert reloaded.certificate == phone_rsa.certificate


def test_enrolled_ec_phone(phone_ec: Phone) -> None:
    key = phone_ec.certificate.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert isinstance(key.curve, ec.SECP256R1)
    assert _kind(phone_ec.certificate) is KeyKind.SMARTPHONE


def test_card_enrolment(pki: SamplePki, tmp_path: Path) -> None:
    card = Phone.enroll(tmp_path / "card", pki, card=True, at=SERVER_AT)
    assert _kind(card.certificate) is KeyKind.CARD
    assert card.chain == [pki.card_ca, pki.root]


def test_enrol_twice_is_refused(pki: SamplePki, phone_ec: Phone) -> None:
    with pytest.raises(ConfigurationError, match="already"):
        Phone.enroll(phone_ec.directory, pki, key="p256", at=SERVER_AT)


def test_a_csr_with_a_broken_signature_is_refused(pki: SamplePki, phone_rsa: Phone) -> None:
    der = bytearray(x509.load_pem_x509_csr(
        (phone_rsa.directory / "csr.pem").read_bytes()).public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01
    csr = x509.load_der_x509_csr(bytes(der))
    with pytest.raises(InputError, match="signature does not verify"):
        pki.issue_from_csr(csr, kind="smartphone", at=SERVER_AT)


def test_not_a_phone(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not an enrolled phone"):
        Phone(tmp_path)


RSA_CASES = [
    (TbsForm.DIGEST, SignatureMechanism.RSA_PKCS1V15),
    (TbsForm.DIGEST_INFO, SignatureMechanism.RSA_PKCS1V15),
    (TbsForm.MESSAGE, SignatureMechanism.RSA_PKCS1V15),
    (TbsForm.DIGEST, SignatureMechanism.RSA_PSS),
    (TbsForm.MESSAGE, SignatureMechanism.RSA_PSS),
]
EC_CASES = [(TbsForm.DIGEST, SignatureMechanism.ECDSA), (TbsForm.MESSAGE, SignatureMechanism.ECDSA)]


def _tbs(form: TbsForm, mech: SignatureMechanism, alg: DigestAlgorithm) -> DataToBeSigned:
    data = {
        TbsForm.MESSAGE: MESSAGE,
        TbsForm.DIGEST: alg.digest(MESSAGE),
        TbsForm.DIGEST_INFO: digest_info(alg, alg.digest(MESSAGE)),
    }[form]
    return DataToBeSigned(form=form, data=data, digest_algorithm=alg, mechanism=mech)


@pytest.mark.parametrize("alg", [DigestAlgorithm.SHA256, DigestAlgorithm.SHA512])
@pytest.mark.parametrize(("form", "mech"), RSA_CASES + EC_CASES)
def test_sign_every_form(phone_rsa: Phone, phone_ec: Phone, form: TbsForm,
                         mech: SignatureMechanism, alg: DigestAlgorithm) -> None:
    device = phone_ec if mech is SignatureMechanism.ECDSA else phone_rsa
    value = device.sign(_tbs(form, mech, alg))
    verify_signature(device.certificate.public_key(), value, mechanism=mech,
                     digest_algorithm=alg, data=MESSAGE)


def test_mechanism_must_fit_the_key(phone_rsa: Phone, phone_ec: Phone) -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="does not fit"):
        phone_ec.sign(_tbs(TbsForm.DIGEST, SignatureMechanism.RSA_PSS, DigestAlgorithm.SHA256))
    with pytest.raises(UnsupportedAlgorithmError, match="does not fit"):
        phone_rsa.sign(_tbs(TbsForm.DIGEST, SignatureMechanism.ECDSA, DigestAlgorithm.SHA256))


def test_cli_enroll_and_sign(pki: SamplePki, tmp_path: Path) -> None:
    phone_dir = tmp_path / "phone"
    r = ltv_cli("phone", "enroll", phone_dir, "--pki", pki.directory, "--key", "p256",
                "--at", "2026-01-02T00:00:00Z", "--name", "署名 花子", "--address", "京都府")
    assert r.returncode == 0, r.stderr
    device = Phone(phone_dir)
    san = device.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert "署名 花子".encode() in b"".join(o.value for o in san.value.get_values_for_type(
        x509.OtherName))
    (tmp_path / "m.bin").write_bytes(MESSAGE)
    out = tmp_path / "sig.bin"
    r = ltv_cli("phone", "sign", phone_dir, "--in", tmp_path / "m.bin", "-o", out)
    assert r.returncode == 0, r.stderr
    verify_signature(device.certificate.public_key(), out.read_bytes(),
                     mechanism=SignatureMechanism.ECDSA, digest_algorithm=DigestAlgorithm.SHA256,
                     data=MESSAGE)
    digest = DigestAlgorithm.SHA384.digest(MESSAGE)
    r = ltv_cli("phone", "sign", phone_dir, "--in", "-", "--form", "digest",
                "--digest-algorithm", "sha384", "--base64", input=base64.b64encode(b"x"),
                text=False)
    assert r.returncode == 4  # the stdin bytes are not a SHA-384 digest
    value = _sign_digest_via_cli(phone_dir, digest)
    verify_signature(device.certificate.public_key(), base64.b64decode(value),
                     mechanism=SignatureMechanism.ECDSA, digest_algorithm=DigestAlgorithm.SHA384,
                     digest=digest)


def _sign_digest_via_cli(phone_dir: Path, digest: bytes) -> bytes:
    r = ltv_cli("phone", "sign", phone_dir, "--in", "-", "--form", "digest",
                "--digest-algorithm", "sha384", "--base64", input=digest, text=False)
    assert r.returncode == 0, r.stderr
    return bytes(r.stdout)


def test_cli_sign_tbs_json(phone_rsa: Phone, tmp_path: Path) -> None:
    tbs = _tbs(TbsForm.DIGEST_INFO, SignatureMechanism.RSA_PKCS1V15, DigestAlgorithm.SHA256)
    (tmp_path / "tbs.json").write_text(json.dumps(tbs.to_json()))
    r = ltv_cli("phone", "sign", phone_rsa.directory, "--tbs-json", tmp_path / "tbs.json",
                "--base64")
    assert r.returncode == 0, r.stderr
    verify_signature(phone_rsa.certificate.public_key(), base64.b64decode(r.stdout),
                     mechanism=SignatureMechanism.RSA_PKCS1V15,
                     digest_algorithm=DigestAlgorithm.SHA256, data=MESSAGE)
    r = ltv_cli("phone", "sign", phone_rsa.directory, "--in", tmp_path / "tbs.json",
                "--mechanism", "ecdsa")
    assert r.returncode == 4
    assert "does not fit" in r.stderr
    r = ltv_cli("phone", "sign", phone_rsa.directory)
    assert r.returncode == 2
    r = ltv_cli("phone", "sign", tmp_path / "nowhere", "--in", tmp_path / "tbs.json")
    assert r.returncode == 4
    assert "not an enrolled phone" in r.stderr
