"""XAdES interoperability: signxml's verifier accepts ours; a signxml-made B-B raised by us to
B-LTA passes xmlsec1, openssl ts (independent imprints) and our core verifier (DESIGN.md
scenario 5)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import SERVER_AT
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree  # type: ignore[import-untyped]
from signxml import SignatureMethod  # type: ignore[attr-defined]
from signxml.xades import (  # type: ignore[attr-defined]
    XAdESSignatureConfiguration,
    XAdESSigner,
    XAdESVerifier,
)
from test_xades import PDF
from xades_helpers import NS, check_timestamps_with_openssl, xmlsec_verify

from ltv.cli._services import build_services
from ltv.clock import OffsetClock
from ltv.formats.xades import verify_xades_core
from ltv.signing import (
    Packaging,
    SignatureFormat,
    SignatureLevel,
    SigningOptions,
    SigningServices,
    extend,
    sign,
)
from samples.phone import Phone
from samples.pki import SamplePki

# signxml re-parses ASCII-serialised XML internally, so element *names* outside ASCII (our
# 契約書 sample) break it; names stay ASCII here, the Japanese text content stays.
CONTRACT = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<contract xmlns="urn:example:contract" xml:lang="ja" number="2026-001">\n'
    "  <party role=\"甲\">株式会社サンプル　代表取締役 山田太郎</party>\n"
    "  <party role=\"乙\">鈴木花子</party>\n"
    "  <body>甲と乙は、以下のとおり業務委託契約を締結する。</body>\n"
    "</contract>\n"
).encode()


# signxml digests a "#id" subtree with lxml's subtree C14N, which drops xml:lang inherited from
# an ancestor (C14N 1.0/1.1 §2.4 require it): its signatures over such documents fail xmlsec1 and
# us alike (test below). Its B-B samples therefore use a document without xml:lang.
CONTRACT_NO_LANG = CONTRACT.replace(b' xml:lang="ja"', b"")


@pytest.fixture(scope="module")
def services(pki: SamplePki, pki_server: Any) -> SigningServices:
    return build_services(pki=pki.directory, clock=OffsetClock(SERVER_AT + timedelta(hours=1)))


@pytest.mark.parametrize("key", ["rsa", "ec"])
@pytest.mark.parametrize("packaging", list(Packaging), ids=lambda p: p.value)
@pytest.mark.parametrize("level", [SignatureLevel.B_B, SignatureLevel.B_LTA], ids=lambda v: v.value)
def test_signxml_verifier_accepts_our_signed_properties(
    request: pytest.FixtureRequest, pki: SamplePki, services: SigningServices, tmp_path: Path,
    key: str, packaging: Packaging, level: SignatureLevel,
) -> None:
    phone: Phone = request.getfixturevalue(f"phone_{key}")
    content = CONTRACT if packaging is not Packaging.DETACHED else PDF
    signed = sign(content, phone, [phone.certificate, *phone.chain], SignatureFormat.XADES,
                  level, SigningOptions(packaging=packaging, file_name="contract.bin"),
                  services=services)
    results = XAdESVerifier().verify(
        signed,
        ca_pem_file=str(pki.directory / "root.pem"),
        expect_config=XAdESSignatureConfiguration(expect_references=2),
        uri_resolver=lambda uri: content if uri == "contract.bin" else None,
    )
    props = [r for r in results if getattr(r, "signed_properties", None) is not None]
    assert len(props) == 1
    signing_time = props[0].signed_properties.findtext("xades:SigningTime", namespaces=NS)  # type: ignore[attr-defined]
    assert signing_time is not None
    assert signing_time.startswith("2026-01-02T01:00")


@pytest.fixture(scope="module")
def software_signer(pki: SamplePki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("signxml-signer")
    pki.issue_software_signer("署名 太郎", out, at=SERVER_AT)
    return out


def _signxml_bb(signer_dir: Path, document: bytes = CONTRACT_NO_LANG) -> bytes:
    key = serialization.load_pem_private_key((signer_dir / "key.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    certs = x509.load_pem_x509_certificates(
        (signer_dir / "cert.pem").read_bytes() + (signer_dir / "chain.pem").read_bytes()
    )
    root = etree.fromstring(document)
    signer = XAdESSigner(signature_algorithm=SignatureMethod.RSA_SHA256)
    signed = signer.sign(root, key=key, cert=certs)
    out: bytes = etree.tostring(signed, encoding="UTF-8", xml_declaration=True)
    return out


def test_signxml_bb_extended_to_lta(pki: SamplePki, services: SigningServices, tmp_path: Path,
                                    software_signer: Path) -> None:
    bb = _signxml_bb(software_signer)
    before = verify_xades_core(bb)
    assert before.level is SignatureLevel.B_B

    lta = extend(bb, SignatureFormat.XADES, SignatureLevel.B_LTA, services=services)
    path = tmp_path / "signxml-lta.xml"
    path.write_bytes(lta)
    result = xmlsec_verify(path, root=pki.directory / "root.pem",
                           intermediate=pki.directory / "card-ca.pem")
    assert result.returncode == 0, result.stderr

    info = verify_xades_core(lta)
    assert info.level is SignatureLevel.B_LTA
    assert info.signer_certificate == before.signer_certificate
    kinds = check_timestamps_with_openssl(lta, workdir=tmp_path, root=pki.directory / "root.pem",
                                          tsa=pki.directory / "tsa.pem")
    assert kinds == ["SignatureTimeStamp", "ArchiveTimeStamp"]

    # the other tool still accepts its own signature after our extension
    XAdESVerifier().verify(lta, ca_pem_file=str(pki.directory / "root.pem"))

    # and renewal on top of it
    again = extend(lta, SignatureFormat.XADES, SignatureLevel.B_LTA, services=services)
    path.write_bytes(again)
    assert xmlsec_verify(path, root=pki.directory / "root.pem",
                         intermediate=pki.directory / "card-ca.pem").returncode == 0
    assert check_timestamps_with_openssl(
        again, workdir=tmp_path, root=pki.directory / "root.pem", tsa=pki.directory / "tsa.pem"
    ) == ["SignatureTimeStamp", "ArchiveTimeStamp", "ArchiveTimeStamp"]


def test_signxml_subset_c14n_without_inherited_xml_lang_fails_here_and_in_xmlsec1(
    pki: SamplePki, tmp_path: Path, software_signer: Path,
) -> None:
    from ltv.formats.xades import HashFailureError

    bb = _signxml_bb(software_signer, CONTRACT)
    path = tmp_path / "signxml-lang.xml"
    path.write_bytes(bb)
    result = xmlsec_verify(path, root=pki.directory / "root.pem",
                           intermediate=pki.directory / "card-ca.pem")
    assert result.returncode != 0
    with pytest.raises(HashFailureError, match="SignedProperties"):
        verify_xades_core(bb)
