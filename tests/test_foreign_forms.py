"""The general mechanisms behind issue #19, each attacked on inputs built from the vectors:
CMS recognised by structure (DER, PEM, bare base64; a PDF inside stays CAdES), signed
attributes verified over their DER re-encoding (and a changed attribute still fails), certificates
whose extensions do not parse strictly, library failures mapped to an indication, and no
library traceback in the logs."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import cms
from conftest import ltv_cli

from ltv.signing import SignatureFormat
from ltv.validation import (
    Indication,
    SubIndication,
    ValidationPolicy,
    detect_format,
    load_trust_anchors,
    validate,
)
from ltv.validation._library_logs import OneLineExceptions

VECTORS = Path(__file__).parent / "vectors" / "foreign"
AT = datetime(2020, 1, 1, tzinfo=UTC)
CADES_PDF = VECTORS / "dss-validation/cades/cades-dss1997.p7m"  # a CMS encapsulating a PDF
REORDERED = VECTORS / "dss-validation/cades/dss-667/DER_reordered_prova.txt.p7m"


def _one(data: bytes, *, anchors: list[Path] = (), at: datetime = AT) -> tuple[
        Indication, SubIndication | None, str, tuple[str, ...]]:
    policy = ValidationPolicy.default(trust_anchors=load_trust_anchors(list(anchors)))
    report = validate(data, policy=policy, at=at, offline=True)
    (sig,) = report.signatures
    return sig.indication, sig.subindication, sig.message or "", sig.warnings


def test_cms_encapsulating_a_pdf_is_cades() -> None:
    data = CADES_PDF.read_bytes()
    assert b"%PDF-" in data[:1024]
    assert detect_format(data) is SignatureFormat.CADES
    assert detect_format(b"%PDF-1.7\n" + data) is SignatureFormat.PADES


@pytest.mark.parametrize("wrap", ["pem", "base64", "base64-lines"])
def test_wrapped_cms_gives_the_same_verdict_as_der(wrap: str, tmp_path: Path) -> None:
    der = CADES_PDF.read_bytes()
    body = base64.b64encode(der)
    lines = b"\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    data = {"pem": b"-----BEGIN PKCS7-----\n" + lines + b"\n-----END PKCS7-----\n",
            "base64": body, "base64-lines": lines + b"\n"}[wrap]
    assert detect_format(data) is SignatureFormat.CADES
    assert _one(data)[:2] == _one(der)[:2] == (Indication.INDETERMINATE,
                                                SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    path = tmp_path / "sig.p7s"
    path.write_bytes(data)
    result = ltv_cli("validate", "--offline", "--at", "2020-01-01T00:00:00Z", path)
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith(f"INDETERMINATE: {path} NO_CERTIFICATE_CHAIN_FOUND")


def test_base64_that_is_no_cms_stays_bad_input() -> None:
    with pytest.raises(Exception, match="not a signature"):
        detect_format(base64.b64encode(b"MII" + b"\x00" * 64))


def test_signed_attributes_verify_over_their_der_form() -> None:
    data = REORDERED.read_bytes()
    info = cms.ContentInfo.load(data)["content"]["signer_infos"][0]
    stored = info["signed_attrs"].dump()
    assert b"\x31" + stored[1:] != cms.CMSAttributes.load(b"\x31" + stored[1:]).dump(force=True)
    indication, sub, _, _ = _one(data)
    assert (indication, sub) == (Indication.INDETERMINATE,
                                 SubIndication.NO_CERTIFICATE_CHAIN_FOUND)


def test_a_changed_reordered_attribute_still_fails() -> None:
    data = bytearray(REORDERED.read_bytes())
    info = cms.ContentInfo.load(bytes(data))["content"]["signer_infos"][0]
    stored = info["signed_attrs"].dump()
    # the signing-time attribute's UTCTime: change one digit of the seconds
    where = bytes(data).index(stored)
    time_at = stored.index(b"\x17\x0d") + 2 + 11  # YYMMDDHHMMS|S
    pos = where + time_at
    data[pos] = ord("0") if data[pos] != ord("0") else ord("1")
    indication, sub, message, _ = _one(bytes(data))
    assert (indication, sub) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)
    assert "does not verify" in message


def test_malformed_extension_is_a_warning_not_a_crash() -> None:
    indication, sub, _, warnings = _one(REORDERED.read_bytes())
    assert indication is Indication.INDETERMINATE
    assert sub is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert any("does not parse strictly" in w and w.startswith("signer certificate")
               for w in warnings), warnings


def test_library_failure_is_indeterminate_with_its_reason() -> None:
    # certvalidator raises AttributeError on this file's SHA-512 OCSP CertID
    data = (VECTORS / "dss-validation/cades/cades-ats-v3-wrong-cert.p7m").read_bytes()
    indication, sub, message, _ = _one(
        data, anchors=[VECTORS / "roots/root-ca-515cbe1a.pem"],
        at=datetime(2024, 12, 19, 15, 45, 38, tzinfo=UTC))
    assert indication is Indication.INDETERMINATE
    assert sub is SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
    assert message.startswith("the certificate validation library could not process")
    assert "AttributeError" in message


def test_library_log_records_lose_their_traceback() -> None:
    record = logging.LogRecord("pyhanko.sign.diff_analysis.policies", logging.WARNING, __file__,
                               1, "Error in diff operation %s", ("x",), None)
    try:
        raise ValueError("VRI key modified")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert OneLineExceptions().filter(record)
    assert record.exc_info is None
    assert record.getMessage() == "Error in diff operation x: ValueError: VRI key modified"


def test_no_library_traceback_on_stderr(tmp_path: Path) -> None:
    path = VECTORS / "dss-validation/pades/PAdES-LT.pdf"
    report = tmp_path / "report.json"
    result = ltv_cli("validate", "--offline", "--at", "2020-01-01T00:00:00Z", path,
                     "--json", report)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    # issue #11 (clean output): library logging goes into the report's warnings, one line
    # each, not to stderr
    assert "SuspiciousModification" not in result.stderr
    warnings = json.loads(report.read_text())["warnings"]
    assert any("SuspiciousModification: VRI key" in w and "\n" not in w for w in warnings), warnings


SHA3 = VECTORS / "dss-validation/cades/dss-1419/CAdES-BpB-att-SHA3_256-SHA3_256withRSA.p7m"


def test_sha3_signature_verifies_and_a_changed_one_fails() -> None:
    data = SHA3.read_bytes()
    assert _one(data)[:2] == (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    info = cms.ContentInfo.load(data)["content"]["signer_infos"][0]
    signature = info["signature"].native
    broken = bytearray(data)
    at = data.index(signature) + len(signature) // 2
    broken[at] ^= 0x01
    assert _one(bytes(broken))[:2] == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)
    content = cms.ContentInfo.load(data)["content"]["encap_content_info"]["content"].native
    changed = bytearray(data)
    at = data.index(content)
    changed[at] ^= 0x01
    assert _one(bytes(changed))[:2] == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)


CS_CS = VECTORS / "xades4j/document.signed.bes.cs.cs.xml"  # a signature, counter-signed twice


def _all(data: bytes, detached: bytes | None = None) -> list[tuple[str, Indication,
                                                                    SubIndication | None, str]]:
    report = validate(data, policy=ValidationPolicy.default(trust_anchors=[]), at=AT,
                      offline=True, detached_content=detached)
    return [(s.id, s.indication, s.subindication, s.message or "") for s in report.signatures]


def test_every_xades_signature_of_a_document_is_validated() -> None:
    data = CS_CS.read_bytes()
    got = _all(data)
    assert [sid for sid, *_ in got] == [
        "xmldsig-ff7d9ad7-f36d-4af0-b21a-7db2e840efad",
        "xmldsig-7479045c-8083-49eb-9043-1ac2af4a759c",
        "xmldsig-a40919ca-9f9a-4a68-bd50-f209ce902eb3",
    ]
    assert {(i, s) for _, i, s, _ in got} == {(Indication.INDETERMINATE,
                                               SubIndication.NO_CERTIFICATE_CHAIN_FOUND)}


def test_a_broken_counter_signature_fails_alone() -> None:
    data = CS_CS.read_bytes()
    text = data.decode("utf-8")
    # the last counter-signature's SignatureValue: change one base64 character
    start = text.index("<ds:SignatureValue", text.index('Id="xmldsig-a40919ca'))
    body = text.index(">", start) + 1
    flipped = "A" if text[body + 10] != "A" else "B"
    broken = (text[:body + 10] + flipped + text[body + 11:]).encode("utf-8")
    got = {sid: (i, s) for sid, i, s, _ in _all(broken)}
    assert got["xmldsig-a40919ca-9f9a-4a68-bd50-f209ce902eb3"] == (
        Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)
    assert got["xmldsig-ff7d9ad7-f36d-4af0-b21a-7db2e840efad"] == (
        Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)


def test_duplicate_signature_ids_stay_refused() -> None:
    text = CS_CS.read_text("utf-8").replace("xmldsig-7479045c-8083-49eb-9043-1ac2af4a759c",
                                            "xmldsig-ff7d9ad7-f36d-4af0-b21a-7db2e840efad")
    got = _all(text.encode("utf-8"))
    assert all(i is Indication.TOTAL_FAILED and s is SubIndication.FORMAT_FAILURE
               for _, i, s, _ in got), got


@pytest.mark.parametrize(("file", "signer"), [
    ("dss-validation/xades/qes-xades111-filter2.xml", "Josef Bogad"),  # 1.1.1, Filter 2.0
    ("dss-validation/xades/Signature-X-FR_NOT-3.xml", "Serveur de signature p12 pp01"),  # 1.2.2
])
def test_xades_111_and_122_are_validated(file: str, signer: str) -> None:
    """Once INDETERMINATE "ltv cannot process" (XAdES 1.1.1/1.2.2 namespaces): now the
    references, the SigningCertificate v1 binding and the signature value are checked, and
    without a trust anchor the verdict is the missing chain."""
    report = validate((VECTORS / file).read_bytes(),
                      policy=ValidationPolicy.default(trust_anchors=[]), at=AT, offline=True)
    (sig,) = report.signatures
    assert (sig.indication, sig.subindication) == (Indication.INDETERMINATE,
                                                   SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    assert sig.signer is not None
    assert signer in sig.signer.subject


def test_counter_signatures_nest_under_their_parent_in_json() -> None:
    from jsonschema import Draft202012Validator

    from ltv.validation.report_json import json_schema, to_json

    report = validate(CS_CS.read_bytes(), policy=ValidationPolicy.default(trust_anchors=[]),
                      at=AT, offline=True)
    doc = to_json(report)
    Draft202012Validator(json_schema()).validate(doc)
    (top,) = doc["signatures"]
    assert top["id"] == "xmldsig-ff7d9ad7-f36d-4af0-b21a-7db2e840efad"
    (middle,) = top["counter_signatures"]
    assert middle["id"] == "xmldsig-7479045c-8083-49eb-9043-1ac2af4a759c"
    (inner,) = middle["counter_signatures"]
    assert inner["id"] == "xmldsig-a40919ca-9f9a-4a68-bd50-f209ce902eb3"
    assert "counter_signatures" not in inner
    assert [s.counter_signature_of for s in report.signatures] == [
        None, top["id"], middle["id"]]


def test_cli_signature_id_selects_one(tmp_path: Path) -> None:
    sid = "xmldsig-7479045c-8083-49eb-9043-1ac2af4a759c"
    result = ltv_cli("validate", "--offline", "--at", "2020-01-01T00:00:00Z",
                     "--signature-id", sid, CS_CS)
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines() == [
        line for line in result.stdout.splitlines()
        if line.startswith(f"INDETERMINATE: {CS_CS} NO_CERTIFICATE_CHAIN_FOUND")]
    assert len(result.stdout.splitlines()) == 1
    missing = ltv_cli("validate", "--offline", "--at", "2020-01-01T00:00:00Z",
                      "--signature-id", "nope", CS_CS)
    assert missing.returncode == 4
    errors = [ln for ln in missing.stderr.splitlines() if ln.startswith("ltv: error:")]
    assert errors == [f"ltv: error: {CS_CS}: no signature with Id 'nope' (the file holds: "
                      "xmldsig-ff7d9ad7-f36d-4af0-b21a-7db2e840efad, " + sid +
                      ", xmldsig-a40919ca-9f9a-4a68-bd50-f209ce902eb3)"]
    assert "Traceback" not in missing.stderr


DDOC = VECTORS / "dss-validation/xades/Signature-X-EE-3.ddoc"  # XML-DSig, DigiDoc 1.2
XMLDSIG_ONLY = VECTORS / "dss-validation/xades/xmldsig-only.xml"


def test_subtree_c14n_has_no_spurious_empty_default_namespace() -> None:
    import hashlib

    from lxml import etree

    from ltv.formats._xmldsig import C14nMethod, canonicalize

    tree = etree.parse(str(DDOC))
    props = tree.xpath("//*[@Id='S0-SignedProperties']")[0]
    out = canonicalize(props, C14nMethod.C14N_10)
    assert b'xmlns=""' not in out
    # the digest the signer computed (and xmlsec1 verifies)
    digest = hashlib.sha1(out).digest()  # noqa: S324 - the signer chose SHA-1 in 2003
    assert base64.b64encode(digest) == b"95UzjKd0Bky/pkJzPwXiYtLU82E="
    # an element really in no namespace keeps its undeclaration
    doc = etree.fromstring(b'<a xmlns="urn:x"><b xmlns="urn:x"><c xmlns=""/><d/></b></a>')
    assert canonicalize(doc[0], C14nMethod.C14N_10) == (
        b'<b xmlns="urn:x"><c xmlns=""></c><d></d></b>')


def test_plain_xmldsig_is_validated_as_such() -> None:
    ((_, indication, sub, _),) = _all(DDOC.read_bytes())
    assert (indication, sub) == (Indication.INDETERMINATE,
                                 SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    report = validate(DDOC.read_bytes(), policy=ValidationPolicy.default(trust_anchors=[]),
                      at=AT, offline=True)
    assert report.signatures[0].level is None
    assert any(w.startswith("form XMLDSig") for w in report.signatures[0].warnings)
    ((_, indication, sub, message),) = _all(XMLDSIG_ONLY.read_bytes())
    assert (indication, sub) == (Indication.INDETERMINATE,
                                 SubIndication.NO_SIGNING_CERTIFICATE_FOUND)
    assert "ds:KeyValue" in message


def test_changed_plain_xmldsig_fails() -> None:
    text = DDOC.read_text("utf-8")
    changed = text.replace("<SigningTime>2003.10.24T10:57:19Z", "<SigningTime>2003.10.24T10:57:18Z")
    assert changed != text
    ((_, indication, sub, _),) = _all(changed.encode("utf-8"))
    assert (indication, sub) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    text = XMLDSIG_ONLY.read_text("utf-8")
    start = text.index("<SignatureValue")
    body = text.index(">", start) + 1
    flipped = "A" if text[body + 5] != "A" else "B"
    broken = text[:body + 5] + flipped + text[body + 6:]
    ((_, indication, sub, _),) = _all(broken.encode("utf-8"))
    assert (indication, sub) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)


def test_signer_certificate_only_in_certificate_values() -> None:
    data = (VECTORS / "dss-validation/xades/xades-level-b-with-certvals.xml").read_bytes()
    ((_, indication, sub, _),) = _all(data)
    assert (indication, sub) == (Indication.INDETERMINATE,
                                 SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    # without it (CertificateValues is unsigned) the signer is unknown: still refused
    text = data.decode("utf-8")
    start = text.index("<xades:EncapsulatedX509Certificate>")
    end = text.index("</xades:EncapsulatedX509Certificate>") + len(
        "</xades:EncapsulatedX509Certificate>")
    ((_, indication, sub, message),) = _all((text[:start] + text[end:]).encode("utf-8"))
    assert (indication, sub) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert "neither in ds:KeyInfo nor in CertificateValues" in message


def test_damaged_xref_is_read_leniently_and_changes_judged_strictly() -> None:
    data = (VECTORS / "dss-validation/pades/pades-ltv.pdf").read_bytes()
    report = validate(data, policy=ValidationPolicy.default(trust_anchors=[]), at=AT,
                      offline=True)
    damaged = [s for s in report.signatures
               if any("cross-reference data is damaged" in w for w in s.warnings)]
    assert damaged
    for sig in damaged:
        assert sig.pdf_changes_after_signing == "disallowed"
        assert sig.indication is not Indication.TOTAL_PASSED


def test_document_timestamp_without_type_is_a_document_timestamp() -> None:
    data = (VECTORS / "dss-validation/pades/pades-tst-with-null-type.pdf").read_bytes()
    assert b"/ETSI.RFC3161" in data
    report = validate(data, policy=ValidationPolicy.default(trust_anchors=[]), at=AT,
                      offline=True)
    from ltv.validation import TimestampKind

    assert all(s.format is SignatureFormat.PADES for s in report.signatures)
    assert any(t.kind is TimestampKind.DOCUMENT for s in report.signatures
               for t in s.timestamps)


def test_unreadable_signer_certificate_is_indeterminate() -> None:
    data = (VECTORS / "dss-validation/pades/dss-PLAIN-ECDSA/"
            "TeleSec_PKS_eIDAS_QES_CA_1-baseline-b.pdf").read_bytes()
    ((_, indication, sub, _),) = _all(data)
    assert (indication, sub) == (Indication.INDETERMINATE,
                                 SubIndication.NO_SIGNING_CERTIFICATE_FOUND)


def test_xades_signature_value_not_base64_is_format_failure() -> None:
    data = (VECTORS / "dss-validation/xades/xades-not-base64-sigValue.xml").read_bytes()
    ((_, indication, sub, message),) = _all(data)
    assert (indication, sub) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert "SignatureValue is not base64" in message


COUNTER_CADES = VECTORS / "dss-validation/cades/counterSig.p7m"


def test_cades_counter_signature_is_its_own_entry() -> None:
    from ltv.validation.report_json import to_json

    data = COUNTER_CADES.read_bytes()
    report = validate(data, policy=ValidationPolicy.default(trust_anchors=[]), at=AT,
                      offline=True)
    assert [(s.id, s.counter_signature_of) for s in report.signatures] == [
        ("signature", None), ("signature/counter-signature 1", "signature")]
    assert {(s.indication, s.subindication) for s in report.signatures} == {
        (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)}
    (top,) = to_json(report)["signatures"]
    assert [c["id"] for c in top["counter_signatures"]] == ["signature/counter-signature 1"]


def test_changed_parent_signature_breaks_its_counter_signature() -> None:
    data = COUNTER_CADES.read_bytes()
    info = cms.ContentInfo.load(data)["content"]["signer_infos"][0]
    value = info["signature"].native
    broken = bytearray(data)
    broken[data.index(value) + 7] ^= 0x01
    got = {s: (i, sub) for s, i, sub, _ in _all(bytes(broken))}
    assert got == {
        "signature": (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE),
        "signature/counter-signature 1": (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE),
    }
