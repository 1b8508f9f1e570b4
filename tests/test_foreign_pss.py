"""RSASSA-PSS with the salt length and MGF1 hash its parameters state (issue #19, item 6).

CAdES and PAdES vectors are signed by ``openssl cms -sign -keyopt rsa_padding_mode:pss
-keyopt rsa_pss_saltlen:N`` (and ``rsa_mgf1_md``); the XAdES vector's ``rsa-pss``
SignatureMethod (RFC 6931 §2.3.10, RSAPSSParams) is signed with ``openssl pkeyutl`` over
SignedInfo canonicalised by lxml. Each verifies; the same signature with another salt length
(or MGF1 hash) written into its parameters fails with SIG_CRYPTO_FAILURE.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from test_foreign_pdf_legacy import _pdf

from ltv.validation import Indication, SubIndication, ValidationPolicy, validate

AT = datetime(2026, 6, 1, tzinfo=UTC)
NO_CHAIN = (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
BROKEN = (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("x19-pss")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x19 pss signer")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(9)
            .not_valid_before(AT - timedelta(days=30)).not_valid_after(AT + timedelta(days=30))
            .sign(key, hashes.SHA256()))
    (directory / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return directory


def _openssl_cms(keys: Path, data: bytes, *, salt: int, mgf: str, detached: bool) -> bytes:
    (keys / "in.bin").write_bytes(data)
    args = ["openssl", "cms", "-sign", "-binary", "-in", str(keys / "in.bin"), "-signer",
            str(keys / "cert.pem"), "-inkey", str(keys / "key.pem"), "-md", "sha256",
            "-outform", "DER", "-keyopt", "rsa_padding_mode:pss",
            "-keyopt", f"rsa_pss_saltlen:{salt}", "-keyopt", f"rsa_mgf1_md:{mgf}"]
    if not detached:
        args.append("-nodetach")
    done = subprocess.run(args, capture_output=True, timeout=60, check=True)
    return done.stdout


def _with_params(der: bytes, *, salt: int | None = None, mgf: str | None = None) -> bytes:
    """The same CMS with other PSS parameters written into its SignerInfo."""
    info = cms.ContentInfo.load(der)
    signer_info = info["content"]["signer_infos"][0]
    params = signer_info["signature_algorithm"]["parameters"]
    if salt is not None:
        params["salt_length"] = salt
    if mgf is not None:
        params["mask_gen_algorithm"]["parameters"]["algorithm"] = mgf
    return bytes(info.dump(force=True))


def _verdict(data: bytes) -> tuple[Indication, SubIndication | None]:
    (sig,) = validate(data, policy=ValidationPolicy.default(trust_anchors=[]), at=AT,
                      offline=True).signatures
    return sig.indication, sig.subindication


@pytest.mark.parametrize(("salt", "mgf", "other"), [(20, "sha256", 32), (64, "sha256", 32),
                                                     (0, "sha1", 20), (32, "sha1", 32)])
def test_cades_pss_parameters(salt: int, mgf: str, other: int, keys: Path) -> None:
    der = _openssl_cms(keys, b"contract\n", salt=salt, mgf=mgf, detached=False)
    params = cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signature_algorithm"][
        "parameters"]
    assert params["salt_length"].native == salt
    assert _verdict(der) == NO_CHAIN
    if other != salt:
        assert _verdict(_with_params(der, salt=other)) == BROKEN
    else:  # same salt, other MGF1 hash
        assert _verdict(_with_params(der, mgf="sha256" if mgf == "sha1" else "sha1")) == BROKEN


@pytest.mark.parametrize("salt", [20, 64])
def test_pades_pss_parameters(salt: int, keys: Path) -> None:
    key = serialization.load_pem_private_key((keys / "key.pem").read_bytes(), None)
    cert = x509.load_pem_x509_certificate((keys / "cert.pem").read_bytes())
    assert isinstance(key, rsa.RSAPrivateKey)

    def sign(signed: bytes) -> bytes:
        return _openssl_cms(keys, signed, salt=salt, mgf="sha256", detached=True)

    data = _pdf(key, cert, subfilter=b"/adbe.pkcs7.detached", cms_signer=sign)
    assert _verdict(data) == NO_CHAIN
    start = data.index(b"/Contents <") + len(b"/Contents <")
    end = data.index(b">", start)
    der = bytes.fromhex(data[start:end].decode())
    length = 2 + der[1] if der[1] < 0x80 else 2 + (der[1] & 0x7F) + int.from_bytes(
        der[2:2 + (der[1] & 0x7F)], "big")
    forged = _with_params(der[:length], salt=32).hex().encode()
    assert len(forged) <= end - start
    tampered = data[:start] + forged + b"0" * (end - start - len(forged)) + data[end:]
    assert _verdict(tampered) == BROKEN


DS = "http://www.w3.org/2000/09/xmldsig#"
MORE = "http://www.w3.org/2007/05/xmldsig-more#"
SHA = {"sha1": "http://www.w3.org/2000/09/xmldsig#sha1",
       "sha256": "http://www.w3.org/2001/04/xmlenc#sha256"}


def _xml_pss(keys: Path, *, salt: int, mgf: str, stated_salt: int, stated_mgf: str) -> bytes:
    cert_b64 = base64.b64encode(x509.load_pem_x509_certificate(
        (keys / "cert.pem").read_bytes()).public_bytes(serialization.Encoding.DER)).decode()
    digest = base64.b64encode(hashlib.sha256(
        f'<ds:Object xmlns:ds="{DS}" Id="obj"><data xmlns="urn:x19">contract</data>'
        "</ds:Object>".encode()).digest()).decode()
    signed_info = (
        f'<ds:SignedInfo xmlns:ds="{DS}"><ds:CanonicalizationMethod '
        'Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:CanonicalizationMethod>'
        f'<ds:SignatureMethod Algorithm="{MORE}rsa-pss"><pss:RSAPSSParams xmlns:pss="{MORE}">'
        f'<ds:DigestMethod Algorithm="{SHA["sha256"]}"></ds:DigestMethod>'
        f'<pss:MaskGenerationFunction Algorithm="{MORE}MGF1"><ds:DigestMethod '
        f'Algorithm="{SHA[stated_mgf]}"></ds:DigestMethod></pss:MaskGenerationFunction>'
        f"<pss:SaltLength>{stated_salt}</pss:SaltLength><pss:TrailerField>1</pss:TrailerField>"
        '</pss:RSAPSSParams></ds:SignatureMethod><ds:Reference URI="#obj"><ds:Transforms>'
        '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:Transform>'
        f'</ds:Transforms><ds:DigestMethod Algorithm="{SHA["sha256"]}"></ds:DigestMethod>'
        f"<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>")
    # the signature covers the stated parameters, made with ``salt``/``mgf`` (which may differ)
    c14n = etree.tostring(etree.fromstring(signed_info), method="c14n", exclusive=True)
    (keys / "si.bin").write_bytes(c14n)
    value = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", str(keys / "key.pem"), "-sigopt",
         "rsa_padding_mode:pss", "-sigopt", f"rsa_pss_saltlen:{salt}", "-sigopt",
         f"rsa_mgf1_md:{mgf}", str(keys / "si.bin")],
        capture_output=True, timeout=60, check=True).stdout
    return (f'<ds:Signature xmlns:ds="{DS}" Id="s">{signed_info}<ds:SignatureValue>'
            f"{base64.b64encode(value).decode()}</ds:SignatureValue><ds:KeyInfo><ds:X509Data>"
            f"<ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
            '<ds:Object Id="obj"><data xmlns="urn:x19">contract</data></ds:Object>'
            "</ds:Signature>").encode()


@pytest.mark.parametrize(("salt", "mgf"), [(20, "sha256"), (32, "sha1"), (0, "sha256")])
def test_xml_rsa_pss_parameters(salt: int, mgf: str, keys: Path) -> None:
    from ltv.errors import SignatureValueError
    from ltv.formats._xmldsig_plain import verify_plain_xmldsig

    data = _xml_pss(keys, salt=salt, mgf=mgf, stated_salt=salt, stated_mgf=mgf)
    info = verify_plain_xmldsig(data)
    assert info.signer_certificate is not None
    assert _verdict(data) == NO_CHAIN
    wrong_salt = _xml_pss(keys, salt=salt, mgf=mgf, stated_salt=salt + 12, stated_mgf=mgf)
    with pytest.raises(SignatureValueError, match="does not verify"):
        verify_plain_xmldsig(wrong_salt)
    assert _verdict(wrong_salt) == BROKEN
    other_mgf = "sha1" if mgf == "sha256" else "sha256"
    wrong_mgf = _xml_pss(keys, salt=salt, mgf=mgf, stated_salt=salt, stated_mgf=other_mgf)
    assert _verdict(wrong_mgf) == BROKEN
