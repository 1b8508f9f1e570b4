"""XAdES B-B..B-LTA (EN 319 132-1): every packaging and level from the phone's key, checked by
xmlsec1, openssl ts (imprints recomputed in tests/xades_helpers.py) and our core verifier."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import SERVER_AT
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree  # type: ignore[import-untyped]
from xades_helpers import DS, NS, XADES, check_timestamps_with_openssl, xmlsec_verify

from ltv.algorithms import SignatureMechanism
from ltv.cli._services import build_services
from ltv.clock import OffsetClock
from ltv.errors import MalformedError, SessionError, SignatureValueError
from ltv.formats import xades
from ltv.formats.xades import C14nMethod, HashFailureError, XadesBackend, verify_xades_core
from ltv.signing import (
    Packaging,
    PendingSignature,
    SignatureFormat,
    SignatureLevel,
    SigningOptions,
    SigningServices,
    extend,
    finish,
    prepare,
    sign,
)
from ltv.tbs import TbsForm
from samples.phone import Phone
from samples.pki import SamplePki

CONTRACT = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<契約書 xmlns="urn:example:contract" xml:lang="ja" 番号="2026-001">\n'
    "  <当事者 役割=\"甲\">株式会社サンプル　代表取締役 山田太郎</当事者>\n"
    "  <当事者 役割=\"乙\">鈴木花子</当事者>\n"
    "  <本文>甲と乙は、以下のとおり業務委託契約を締結する。"
    "金額：１２３，４５６円（税込）。</本文>\n"
    "  <!-- 署名欄 -->\n"
    "</契約書>\n"
).encode()

PDF = b"%PDF-1.7\n% not really a PDF, just bytes\n" + bytes(range(256)) * 4

LEVELS = [SignatureLevel.B_B, SignatureLevel.B_T, SignatureLevel.B_LT, SignatureLevel.B_LTA]


@pytest.fixture(scope="module")
def services(pki: SamplePki, pki_server: Any) -> SigningServices:
    return build_services(pki=pki.directory, clock=OffsetClock(SERVER_AT + timedelta(hours=1)))


def _phone(request: pytest.FixtureRequest, key: str) -> Phone:
    phone: Phone = request.getfixturevalue(f"phone_{key}")
    return phone


def _sign(phone: Phone, document: bytes | Path, level: SignatureLevel, packaging: Packaging,
          services: SigningServices, **options: Any) -> bytes:
    return sign(document, phone, [phone.certificate, *phone.chain], SignatureFormat.XADES, level,
                SigningOptions(packaging=packaging, **options), services=services)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _xmlsec_ok(pki: SamplePki, path: Path) -> None:
    result = xmlsec_verify(path, root=pki.directory / "root.pem",
                           intermediate=pki.directory / "smartphone-ca.pem")
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stderr + result.stdout


def _content(packaging: Packaging, kind: str) -> bytes:
    return CONTRACT if kind == "xml" else PDF


CASES = [
    (Packaging.ENVELOPED, "xml"),
    (Packaging.ENVELOPING, "xml"),
    (Packaging.ENVELOPING, "binary"),
    (Packaging.DETACHED, "xml"),
    (Packaging.DETACHED, "binary"),
]


@pytest.mark.parametrize("key", ["rsa", "ec"])
@pytest.mark.parametrize(("packaging", "kind"), CASES, ids=lambda v: getattr(v, "value", v))
@pytest.mark.parametrize("level", LEVELS, ids=lambda v: v.value)
def test_every_level_and_packaging_passes_xmlsec1(
    request: pytest.FixtureRequest, pki: SamplePki, services: SigningServices, tmp_path: Path,
    key: str, packaging: Packaging, kind: str, level: SignatureLevel,
) -> None:
    phone = _phone(request, key)
    content = _content(packaging, kind)
    name = "契約書.xml" if kind == "xml" else "contract.pdf"
    data_path = _write(tmp_path, name, content)
    signed = _sign(phone, data_path, level, packaging, services)
    sig_path = _write(tmp_path, "signed.xml", signed)
    _xmlsec_ok(pki, sig_path)

    info = verify_xades_core(signed, detached_content=data_path
                             if packaging is Packaging.DETACHED else None)
    assert info.level is level
    assert info.signer_certificate == phone.certificate
    assert info.signing_time is not None
    assert len(info.references) == 2
    data_ref = info.references[0]
    assert data_ref.mime_type == ("text/xml" if kind == "xml" else "application/pdf")
    if packaging is Packaging.DETACHED:
        assert data_ref.resolved_to.startswith("external")
    if key == "ec":
        value = etree.fromstring(signed).find(".//ds:SignatureValue", NS).text
        assert len(base64.b64decode(value)) == 64  # r || s for P-256, not DER

    kinds = check_timestamps_with_openssl(
        signed, workdir=tmp_path, root=pki.directory / "root.pem",
        tsa=pki.directory / "tsa.pem",
        detached=content if packaging is Packaging.DETACHED else None)
    expected = {SignatureLevel.B_B: [], SignatureLevel.B_T: ["SignatureTimeStamp"],
                SignatureLevel.B_LT: ["SignatureTimeStamp"],
                SignatureLevel.B_LTA: ["SignatureTimeStamp", "ArchiveTimeStamp"]}[level]
    assert kinds == expected
    assert [t.kind for t in info.timestamps] == expected


def _usp(signed: bytes) -> list[str]:
    tree = etree.fromstring(signed)
    usp = tree.find(".//xades:UnsignedSignatureProperties", NS)
    return [etree.QName(c).localname for c in usp]


def test_lt_embeds_validation_data_for_signer_and_timestamp_chains(
    phone_rsa: Phone, services: SigningServices, pki: SamplePki,
) -> None:
    signed = _sign(phone_rsa, CONTRACT, SignatureLevel.B_LT, Packaging.ENVELOPED, services)
    assert _usp(signed) == ["SignatureTimeStamp", "CertificateValues", "RevocationValues",
                            "TimeStampValidationData"]
    info = verify_xades_core(signed)
    ders = set(info.evidence.certificate_ders)
    from cryptography.hazmat.primitives.serialization import Encoding

    for cert in [pki.root, pki.smartphone_ca, pki.tsa_certificate, phone_rsa.certificate]:
        assert cert.public_bytes(Encoding.DER) in ders
    # one OCSP response per non-root certificate of the signer chain and of the TSA chain
    assert len(info.evidence.ocsp_responses) + len(info.evidence.crls) >= 3


def _fresh_services(pki: SamplePki, hours: int) -> SigningServices:
    """New fetchers (no cache) a little later: fresh OCSP answers, as a renewal years on gets.

    The sample responder stamps its answers to the second of its own clock, and signing and
    renewal here can fall within one second of it: the renewal's requests carry a nonce, so
    its answers are new whatever the wall clock did (not a byte-identical repeat of one
    already embedded)."""
    from dataclasses import replace

    from ltv.online.egress import default_egress
    from ltv.online.revocation import HttpOCSPFetcher

    services = build_services(pki=pki.directory,
                              clock=OffsetClock(SERVER_AT + timedelta(hours=hours)))
    return replace(services, ocsp_fetcher=HttpOCSPFetcher(nonce=True, egress=default_egress()))


def test_lta_renewal_adds_validation_data_then_a_new_archive_timestamp(
    phone_ec: Phone, services: SigningServices, pki: SamplePki, tmp_path: Path,
) -> None:
    signed = _sign(phone_ec, CONTRACT, SignatureLevel.B_LTA, Packaging.ENVELOPED, services)
    renewed = extend(signed, SignatureFormat.XADES, SignatureLevel.B_LTA,
                     services=_fresh_services(pki, 3))
    again = extend(renewed, SignatureFormat.XADES, SignatureLevel.B_LTA,
                   services=_fresh_services(pki, 4))
    names = _usp(again)
    assert names[:4] == ["SignatureTimeStamp", "CertificateValues", "RevocationValues",
                         "TimeStampValidationData"]
    # Renewal: validation data for the previous archive time-stamp's TSA goes in first (only
    # what is new: the responder may still answer with a response already embedded).
    assert names[4:7] == ["ArchiveTimeStamp", "TimeStampValidationData", "ArchiveTimeStamp"]
    assert names[7:] in (["TimeStampValidationData", "ArchiveTimeStamp"], ["ArchiveTimeStamp"])
    _xmlsec_ok(pki, _write(tmp_path, "renewed.xml", again))
    kinds = check_timestamps_with_openssl(again, workdir=tmp_path, root=pki.directory / "root.pem",
                                          tsa=pki.directory / "tsa.pem")
    assert kinds == ["SignatureTimeStamp"] + ["ArchiveTimeStamp"] * 3
    info = verify_xades_core(again)
    assert [t.kind for t in info.timestamps][-3:] == ["ArchiveTimeStamp"] * 3
    # the earlier archive time-stamps' inputs are unchanged by the renewal
    first = verify_xades_core(signed).timestamps[-1]
    assert info.timestamps[1].imprint_input == first.imprint_input


def test_extend_level_by_level(phone_rsa: Phone, services: SigningServices, pki: SamplePki,
                               tmp_path: Path) -> None:
    doc = _write(tmp_path, "contract.pdf", PDF)
    signed = _sign(phone_rsa, doc, SignatureLevel.B_B, Packaging.DETACHED, services)
    for level in LEVELS[1:]:
        signed = extend(signed, SignatureFormat.XADES, level, detached_content=doc,
                        services=services)
        assert verify_xades_core(signed, detached_content=doc).level is level
    # extending to a lower level changes nothing
    assert extend(signed, SignatureFormat.XADES, SignatureLevel.B_LT, detached_content=doc,
                  services=services) == signed
    _xmlsec_ok(pki, _write(tmp_path, "signed.xml", signed))


def test_japanese_content_survives_byte_exactly(phone_rsa: Phone, services: SigningServices
                                                ) -> None:
    signed = _sign(phone_rsa, CONTRACT, SignatureLevel.B_B, Packaging.ENVELOPED, services)
    head = CONTRACT.split(b"<!--")[0].split(b"?>\n", 1)[1]
    assert head in signed  # the UTF-8 text is there, unescaped and unchanged
    original = etree.tostring(etree.fromstring(CONTRACT), method="c14n", exclusive=True)
    root = etree.fromstring(signed)
    root.remove(root.find("ds:Signature", NS))
    assert etree.tostring(root, method="c14n", exclusive=True) == original
    digest = root.getroottree()  # noqa: F841 - the reference digest is checked by xmlsec1 above

    enveloping = _sign(phone_rsa, CONTRACT, SignatureLevel.B_B, Packaging.ENVELOPING, services)
    assert "甲と乙は、以下のとおり業務委託契約を締結する。".encode() in enveloping


@pytest.mark.parametrize("method", [C14nMethod.C14N_10, C14nMethod.C14N_11, C14nMethod.EXC_C14N],
                         ids=lambda m: m.name)
@pytest.mark.parametrize("packaging", [Packaging.ENVELOPED, Packaging.ENVELOPING],
                         ids=lambda p: p.value)
def test_canonicalisation_methods(monkeypatch: pytest.MonkeyPatch, phone_rsa: Phone,
                                  services: SigningServices, pki: SamplePki, tmp_path: Path,
                                  method: C14nMethod, packaging: Packaging) -> None:
    monkeypatch.setattr(xades, "BACKEND", XadesBackend(canonicalization=method))
    signed = _sign(phone_rsa, CONTRACT, SignatureLevel.B_LTA, packaging, services)
    root = etree.fromstring(signed)
    assert root.find(".//ds:CanonicalizationMethod", NS).get("Algorithm") == method.value
    _xmlsec_ok(pki, _write(tmp_path, "signed.xml", signed))
    check_timestamps_with_openssl(signed, workdir=tmp_path, root=pki.directory / "root.pem",
                                  tsa=pki.directory / "tsa.pem")
    assert verify_xades_core(signed).canonicalization is method


def test_rsa_pss_uses_rfc6931_rsa_pss_with_params(phone_rsa: Phone, services: SigningServices
                                                  ) -> None:
    signed = _sign(phone_rsa, CONTRACT, SignatureLevel.B_T, Packaging.ENVELOPED, services,
                   mechanism=SignatureMechanism.RSA_PSS)
    method = etree.fromstring(signed).find(".//ds:SignatureMethod", NS)
    assert method.get("Algorithm") == "http://www.w3.org/2007/05/xmldsig-more#rsa-pss"
    pss = "{http://www.w3.org/2007/05/xmldsig-more#}"
    assert method.findtext(f"{pss}RSAPSSParams/{pss}SaltLength") == "32"
    info = verify_xades_core(signed)
    assert info.mechanism is SignatureMechanism.RSA_PSS
    # xmlsec1 1.2.37 (Debian 12) has no RSA-PSS transform: checked by our verifier only.


_PREPARE = """
import json, sys
from pathlib import Path
from cryptography import x509
from ltv.clock import FixedClock, parse_time
from ltv.signing import prepare, SignatureFormat, SignatureLevel, SigningOptions, Packaging
from ltv.tbs import TbsForm
doc, chain, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
certs = x509.load_pem_x509_certificates(chain.read_bytes())
pending = prepare(doc, certs, SignatureFormat.XADES, SignatureLevel.B_LTA,
                  SigningOptions(packaging=Packaging(sys.argv[4]), tbs_form=TbsForm(sys.argv[5])),
                  clock=FixedClock(parse_time(sys.argv[6])))
out.write_bytes(pending.to_bytes())
"""

_FINISH = """
import sys
from datetime import timedelta
from pathlib import Path
from ltv.cli._services import build_services
from ltv.clock import OffsetClock, parse_time
from ltv.signing import PendingSignature, finish
pending = PendingSignature.from_bytes(Path(sys.argv[1]).read_bytes())
value = Path(sys.argv[2]).read_bytes()
services = build_services(pki=Path(sys.argv[5]), clock=OffsetClock(parse_time(sys.argv[6])))
Path(sys.argv[4]).write_bytes(finish(pending, value, document=Path(sys.argv[3]),
                                     services=services))
"""


@pytest.mark.parametrize("packaging", list(Packaging), ids=lambda p: p.value)
@pytest.mark.parametrize("form", [TbsForm.DIGEST, TbsForm.MESSAGE], ids=lambda f: f.value)
def test_prepare_and_finish_in_separate_processes(
    phone_ec: Phone, pki: SamplePki, pki_server: Any, tmp_path: Path, packaging: Packaging,
    form: TbsForm,
) -> None:
    from ltv.clock import format_time

    doc = _write(tmp_path, "契約書.xml", CONTRACT)
    chain = _write(tmp_path, "chain.pem", (phone_ec.directory / "cert.pem").read_bytes()
                   + (phone_ec.directory / "chain.pem").read_bytes())
    at = format_time(SERVER_AT + timedelta(hours=2))
    run = [sys.executable, "-c"]
    subprocess.run([*run, _PREPARE, str(doc), str(chain), str(tmp_path / "pending.json"),
                    packaging.value, form.value, at], check=True, timeout=60)
    pending = PendingSignature.from_bytes((tmp_path / "pending.json").read_bytes())
    assert json.loads((tmp_path / "pending.json").read_bytes())["format_state"]["schema"] \
        == "ltv.xades-state/1"
    (tmp_path / "value.bin").write_bytes(phone_ec.sign(pending.data_to_be_signed))
    out = tmp_path / "signed.xml"
    subprocess.run([*run, _FINISH, str(tmp_path / "pending.json"), str(tmp_path / "value.bin"),
                    str(doc), str(out), str(pki.directory), at], check=True, timeout=120)
    _xmlsec_ok(pki, out)
    info = verify_xades_core(out.read_bytes(),
                             detached_content=doc if packaging is Packaging.DETACHED else None)
    assert info.level is SignatureLevel.B_LTA
    assert info.signing_time == SERVER_AT + timedelta(hours=2)


def test_finish_refuses_a_wrong_value_and_a_changed_document(phone_rsa: Phone, tmp_path: Path,
                                                             services: SigningServices) -> None:
    chain = [phone_rsa.certificate, *phone_rsa.chain]
    pending = prepare(CONTRACT, chain, SignatureFormat.XADES, SignatureLevel.B_B,
                      clock=services.clock)
    value = phone_rsa.sign(pending.data_to_be_signed)
    with pytest.raises(SignatureValueError):
        finish(pending, value[:-1] + bytes([value[-1] ^ 1]), document=CONTRACT,
               services=services)
    with pytest.raises(ValueError, match="differs"):
        finish(pending, value, document=CONTRACT.replace("鈴木".encode(), "佐藤".encode()),
               services=services)
    # a state whose skeleton was altered is refused before anything is assembled
    state = dict(pending.format_state)
    skeleton = base64.b64decode(state["signature_skeleton"]).replace(b"text/xml", b"text/html")
    state["signature_skeleton"] = base64.b64encode(skeleton).decode()
    forged = PendingSignature.from_json({**pending.to_json(), "format_state": state})
    with pytest.raises(SessionError, match="does not verify"):
        finish(forged, value, document=CONTRACT, services=services)


# -- tampering and wrapping ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def enveloped_lta(phone_rsa: Phone, services: SigningServices) -> bytes:
    return _sign(phone_rsa, CONTRACT, SignatureLevel.B_LTA, Packaging.ENVELOPED, services)


def test_changed_document_is_a_hash_failure(enveloped_lta: bytes) -> None:
    tampered = enveloped_lta.replace("１２３，４５６".encode(), "９２３，４５６".encode())
    with pytest.raises(HashFailureError, match=r"reference ''"):
        verify_xades_core(tampered)


def test_changed_signed_property_is_a_hash_failure(enveloped_lta: bytes) -> None:
    tampered = enveloped_lta.replace(b"<xades:MimeType>text/xml", b"<xades:MimeType>text/html")
    with pytest.raises(HashFailureError, match="signedprops"):
        verify_xades_core(tampered)


def test_changed_signature_value_is_a_crypto_failure(enveloped_lta: bytes) -> None:
    root = etree.fromstring(enveloped_lta)
    sv = root.find(".//ds:SignatureValue", NS)
    raw = bytearray(base64.b64decode(sv.text))
    raw[10] ^= 0xFF
    sv.text = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(SignatureValueError):
        verify_xades_core(etree.tostring(root, encoding="UTF-8"))


def test_duplicate_id_wrapping_is_refused(enveloped_lta: bytes) -> None:
    """Classic wrapping: a forged copy of the signed element under the same Id elsewhere."""
    root = etree.fromstring(enveloped_lta)
    sp = root.find(".//xades:SignedProperties", NS)
    forged = etree.fromstring(etree.tostring(sp))
    forged.find(".//xades:SigningTime", NS).text = "2020-01-01T00:00:00Z"
    holder = etree.SubElement(root, "{urn:evil}Holder")
    holder.append(forged)
    with pytest.raises(MalformedError, match="more than once"):
        verify_xades_core(etree.tostring(root, encoding="UTF-8"))


def test_signed_properties_outside_the_signature_are_refused(enveloped_lta: bytes) -> None:
    """The SignedProperties reference must resolve to this signature's own SignedProperties:
    moving the real one out and leaving an unsigned one in place is reported, not followed."""
    root = etree.fromstring(enveloped_lta)
    sp = root.find(".//xades:SignedProperties", NS)
    sp_id = sp.get("Id")
    qp = sp.getparent()
    index = qp.index(sp)
    qp.remove(sp)
    signature = root.find("ds:Signature", NS)
    holder = etree.SubElement(signature, f"{{{DS}}}Object")
    holder.append(sp)  # the signed one, now outside QualifyingProperties (digest still matches)
    fake = etree.Element(f"{{{XADES}}}SignedProperties", Id=sp_id + "-x")
    qp.insert(index, fake)
    # with the Id kept on the moved one, the reference resolves outside the signature
    with pytest.raises(MalformedError, match="not this signature's own SignedProperties"):
        verify_xades_core(etree.tostring(root, encoding="UTF-8"))


def test_wrapped_signature_reports_only_the_resolved_node(enveloped_lta: bytes) -> None:
    info = verify_xades_core(enveloped_lta)
    assert info.references[0].resolved_to == "document (enveloped signature excluded)"
    assert info.references[1].resolved_to.startswith("element SignedProperties Id=")
    assert info.references[1].is_signed_properties


def test_hostile_xml_is_refused_before_signing(phone_rsa: Phone, services: SigningServices
                                               ) -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>')
    xxe = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    for doc in (bomb, xxe):
        with pytest.raises(MalformedError, match="DOCTYPE"):
            _sign(phone_rsa, doc, SignatureLevel.B_B, Packaging.ENVELOPED, services)
        with pytest.raises(MalformedError, match="DOCTYPE"):
            verify_xades_core(doc)


def test_signature_in_enveloping_doc_has_object_last(phone_ec: Phone, services: SigningServices
                                                     ) -> None:
    signed = _sign(phone_ec, PDF, SignatureLevel.B_B, Packaging.ENVELOPING, services)
    root = etree.fromstring(signed)
    assert root.tag == f"{{{DS}}}Signature"
    obj = root.findall("ds:Object", NS)[-1]
    assert obj.get("Encoding") == "http://www.w3.org/2000/09/xmldsig#base64"
    assert base64.b64decode(obj.text) == PDF


def test_rsa_key_size_in_signature_value(phone_rsa: Phone, services: SigningServices) -> None:
    signed = _sign(phone_rsa, CONTRACT, SignatureLevel.B_B, Packaging.ENVELOPED, services)
    value = base64.b64decode(etree.fromstring(signed).find(".//ds:SignatureValue", NS).text)
    key = phone_rsa.certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert len(value) == key.key_size // 8
