"""What a XAdES signature signs (issue 11 parts 4 and 5, security review finding 9).

Every attack is built from an ltv-made signature of the sample PKI's phone: an unsigned
``ds:Object`` inserted into an enveloping signature (the reviewer's reproducer), an enveloped
signature whose reference is ``#id`` with content beside the signed element (re-signed with the
phone's key so the core verifies), and duplicate Ids (Id, ID, id) next to the referenced object
and the SignedProperties. Each is checked through the library and through ``ltv validate``
(exit code, one line on stdout, no traceback), with the JSON, TS 119 102-2 XML and HTML reports
listing the signed data objects. Legit enveloped, enveloping and detached signatures pass and
list theirs.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import PkiServer, ltv_cli
from lxml import etree  # type: ignore[import-untyped,unused-ignore]
from test_validation_cades import SIGNED_AT, _services
from test_validation_reports import schema_errors
from xades_helpers import DS, NS

from ltv.clock import format_time
from ltv.formats._xmldsig import C14nMethod, canonicalize, signature_method
from ltv.formats.xades import HashFailureError, signed_data_objects, verify_xades_core
from ltv.signing import (
    Packaging,
    SignatureFormat,
    SignatureLevel,
    SigningOptions,
    SigningServices,
    extend,
    sign,
)
from ltv.tbs import DataToBeSigned, TbsForm
from ltv.validation import (
    Indication,
    SignatureReport,
    SubIndication,
    ValidationPolicy,
    ValidationReport,
    validate,
)
from ltv.validation.report_html import to_html
from ltv.validation.report_json import to_json
from ltv.validation.report_xml import NS as VR
from ltv.validation.report_xml import to_xml
from samples.phone import Phone
from samples.pki import SamplePki

AT = SIGNED_AT + timedelta(minutes=10)
EXC_C14N = C14nMethod.EXC_C14N.value
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

CONTRACT = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<contract xmlns="urn:example:contract"><amount>100</amount>'
            b"<note>signed</note></contract>\n")
# The enveloped document of attack 2: the reference signs <contract Id="c"> only.
DOC = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
       b'<doc xmlns="urn:example:contract"><contract Id="c"><amount>100</amount></contract>'
       b"</doc>\n")
PDF = b"%PDF-1.7\n% the detached file\n" + bytes(range(256))


@pytest.fixture(scope="module")
def services(pki: SamplePki, pki_server: PkiServer) -> SigningServices:
    return _services(pki, SIGNED_AT)


def _sign(phone: Phone, document: bytes, packaging: Packaging, services: SigningServices,
          level: SignatureLevel = SignatureLevel.B_LT, **options: Any) -> bytes:
    return sign(document, phone, [phone.certificate, *phone.chain], SignatureFormat.XADES, level,
                SigningOptions(packaging=packaging, **options), services=services)


@pytest.fixture(scope="module")
def enveloping(phone_rsa: Phone, services: SigningServices) -> bytes:
    return _sign(phone_rsa, CONTRACT, Packaging.ENVELOPING, services)


@pytest.fixture(scope="module")
def enveloped(phone_rsa: Phone, services: SigningServices) -> bytes:
    return _sign(phone_rsa, CONTRACT, Packaging.ENVELOPED, services)


@pytest.fixture(scope="module")
def detached(phone_ec: Phone, services: SigningServices) -> bytes:
    return _sign(phone_ec, PDF, Packaging.DETACHED, services, file_name="contract.pdf")


def _policy(pki: SamplePki, **changes: Any) -> ValidationPolicy:
    from dataclasses import replace

    return replace(ValidationPolicy.default(trust_anchors=[pki.root]), **changes)


def _validate(data: bytes, pki: SamplePki, **kwargs: Any) -> SignatureReport:
    policy = kwargs.pop("policy", None) or _policy(pki)
    report = validate(data, policy=policy, at=AT, offline=True, **kwargs)
    assert len(report.signatures) == 1
    return report.signatures[0]


def _report(data: bytes, pki: SamplePki, **kwargs: Any) -> ValidationReport:
    return validate(data, policy=_policy(pki), at=AT, offline=True, **kwargs)


def _xml(root: Any) -> bytes:
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return out


def _object_id(signed: bytes) -> str:
    root = etree.fromstring(signed)
    ref = root.find("ds:SignedInfo/ds:Reference", NS)
    uri: str = ref.get("URI")
    assert uri.startswith("#")
    return uri[1:]


def _cli(tmp_path: Path, name: str, data: bytes, pki: SamplePki, *extra: str | Path
         ) -> Any:
    file = tmp_path / name
    file.write_bytes(data)
    result = ltv_cli("validate", file, "--at", format_time(AT), "--offline", "--trust",
                     pki.directory / "root.pem", *extra)
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout
    return result


# -- the attacks --------------------------------------------------------------------------------


def insert_unsigned_object(signed: bytes) -> bytes:
    """The reviewer's reproducer: a second "contract" in a ds:Object before the signed one."""
    root = etree.fromstring(signed)
    signed_object = root.find(f"ds:Object[@Id='{_object_id(signed)}']", NS)
    evil = etree.Element(f"{{{DS}}}Object")
    contract = etree.SubElement(evil, "contract")
    etree.SubElement(contract, "amount").text = "99999999"
    etree.SubElement(contract, "note").text = "UNSIGNED: pay this amount instead"
    signed_object.addprevious(evil)
    return _xml(root)


def resign(root: Any, phone: Phone) -> None:
    """Sign ``root``'s ds:SignedInfo again with the phone's key (its own method and c14n)."""
    signature = root if root.tag == f"{{{DS}}}Signature" else root.find(".//ds:Signature", NS)
    signed_info = signature.find("ds:SignedInfo", NS)
    c14n = C14nMethod.parse(signed_info.find("ds:CanonicalizationMethod", NS).get("Algorithm"))
    mechanism, digest = signature_method(signed_info.find("ds:SignatureMethod", NS))
    tbs = DataToBeSigned(form=TbsForm.MESSAGE, data=canonicalize(signed_info, c14n),
                         digest_algorithm=digest, mechanism=mechanism)
    value = phone.sign(tbs)
    signature.find("ds:SignatureValue", NS).text = base64.b64encode(value).decode()


@pytest.fixture(scope="module")
def enveloped_by_id(phone_rsa: Phone, services: SigningServices) -> bytes:
    """A valid enveloped signature whose data reference is ``#c`` (not URI=""): made by ltv as
    URI="", then the reference pointed at <contract Id="c"> and SignedInfo signed again."""
    bb = _sign(phone_rsa, DOC, Packaging.ENVELOPED, services, level=SignatureLevel.B_B)
    root = etree.fromstring(bb)
    ref = root.find("ds:Signature/ds:SignedInfo/ds:Reference", NS)
    ref.set("URI", "#c")
    transforms = ref.find("ds:Transforms", NS)
    for transform in list(transforms):
        if transform.get("Algorithm") == ENVELOPED:
            transforms.remove(transform)
    contract = root.find("{urn:example:contract}contract")
    digest = canonicalize(contract, C14nMethod.EXC_C14N)
    ref.find("ds:DigestValue", NS).text = base64.b64encode(hashlib.sha256(digest).digest()).decode()
    resign(root, phone_rsa)
    return extend(_xml(root), SignatureFormat.XADES, SignatureLevel.B_LT, services=services)


def beside_signed_element(signed: bytes, how: str) -> bytes:
    """Content outside the signed <contract Id="c"> of an enveloped ``#c`` signature."""
    root = etree.fromstring(signed)
    contract = root.find("{urn:example:contract}contract")
    if how == "element":
        due = etree.Element("{urn:example:contract}amount-due")
        due.text = "99999999"
        contract.addnext(due)
    elif how == "attribute":
        root.set("total", "99999999")
    else:
        contract.tail = "Pay 99999999 JPY instead."
    return _xml(root)


def duplicate_id(signed: bytes, which: str, attribute: str = "Id") -> bytes:
    """A second element carrying the Id of the referenced object or of the SignedProperties."""
    root = etree.fromstring(signed)
    if which == "signed-properties":
        target = root.find(".//xades:SignedProperties", NS).get("Id")
    else:
        target = _object_id(signed)
    evil = etree.SubElement(root, f"{{{DS}}}Object")
    etree.SubElement(evil, "contract", {attribute: target}).text = "99999999"
    return _xml(root)


# -- legit signatures pass and list their signed data objects ----------------------------------


def test_enveloping_passes_and_lists_its_object(enveloping: bytes, pki: SamplePki) -> None:
    sig = _validate(enveloping, pki)
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None)
    assert sig.unsigned_content == ()
    assert sig.signed_data_objects is not None
    data, props = sig.signed_data_objects
    object_id = _object_id(enveloping)
    assert (data.uri, data.kind, data.element, data.element_id, data.path) == (
        f"#{object_id}", "element", "ds:Object", object_id, "/ds:Signature/ds:Object[2]")
    assert data.transforms == (EXC_C14N,)
    assert (data.digest_algorithm, data.mime_type, data.signed_properties) == (
        "sha256", "text/xml", False)
    assert props.signed_properties
    assert props.element == "xades:SignedProperties"
    assert props.path == "/ds:Signature/ds:Object[1]/xades:QualifyingProperties/" \
                         "xades:SignedProperties"


def test_enveloped_passes_and_lists_the_document(enveloped: bytes, pki: SamplePki) -> None:
    sig = _validate(enveloped, pki)
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None)
    assert sig.unsigned_content == ()
    assert sig.signed_data_objects is not None
    data = sig.signed_data_objects[0]
    assert (data.uri, data.kind, data.path, data.element) == ("", "document", "/", None)
    assert data.resolved_to == "document (enveloped signature excluded)"
    assert data.transforms == (ENVELOPED, EXC_C14N)


def test_detached_passes_and_lists_the_file(detached: bytes, pki: SamplePki,
                                            tmp_path: Path) -> None:
    sig = _validate(detached, pki, detached_content=PDF)
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None)
    assert sig.unsigned_content == ()
    assert sig.signed_data_objects is not None
    data = sig.signed_data_objects[0]
    assert (data.uri, data.kind, data.resolved_to, data.transforms) == (
        "contract.pdf", "detached", "external contract.pdf", ())
    assert data.digest_value == base64.b64encode(hashlib.sha256(PDF).digest()).decode()
    pdf = tmp_path / "contract.pdf"
    pdf.write_bytes(PDF)
    result = _cli(tmp_path, "detached.xml", detached, pki, "--detached", pdf)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stdout.startswith("PASSED: ")


def test_enveloped_by_id_passes_when_nothing_is_outside(enveloped_by_id: bytes,
                                                        pki: SamplePki) -> None:
    sig = _validate(enveloped_by_id, pki)
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig.message
    assert sig.unsigned_content == ()
    assert sig.signed_data_objects is not None
    data = sig.signed_data_objects[0]
    assert (data.uri, data.kind, data.element, data.element_id, data.path) == (
        "#c", "element", "contract", "c", "/doc/contract")


# -- attack 1: an unsigned ds:Object in an enveloping signature --------------------------------


def test_unsigned_object_in_enveloping_is_refused(enveloping: bytes, pki: SamplePki) -> None:
    tampered = insert_unsigned_object(enveloping)
    verify_xades_core(tampered)  # the core still verifies: that is the attack
    sig = _validate(tampered, pki)
    assert (sig.indication, sig.subindication) == (
        Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert sig.unsigned_content is not None
    [item] = sig.unsigned_content
    assert (item.what, item.element, item.element_id, item.path) == (
        "element", "ds:Object", None, "/ds:Signature/ds:Object[2]")
    assert sig.message == ("the file holds content no reference signs: element ds:Object at "
                           "/ds:Signature/ds:Object[2]")
    # the signed object moved to Object[3]; the report says so
    assert sig.signed_data_objects is not None
    assert sig.signed_data_objects[0].path == "/ds:Signature/ds:Object[3]"
    allowed = _validate(tampered, pki, policy=_policy(pki, refuse_unsigned_content=False))
    assert (allowed.indication, allowed.subindication) == (Indication.TOTAL_PASSED, None)
    assert allowed.unsigned_content == sig.unsigned_content


def test_signed_data_objects_gives_only_the_signed_octets(enveloping: bytes) -> None:
    tampered = insert_unsigned_object(enveloping)
    [obj] = signed_data_objects(tampered)
    assert obj == signed_data_objects(enveloping)[0]
    assert b"99999999" not in obj.octets
    assert b"<amount>100</amount>" in obj.octets
    assert obj.octets.startswith(b"<ds:Object ")
    assert (obj.uri, obj.mime_type) == (f"#{_object_id(enveloping)}", "text/xml")
    with pytest.raises(HashFailureError):
        signed_data_objects(enveloping.replace(b"<amount>100<", b"<amount>900<"))


def test_signed_data_objects_of_enveloped_and_detached(enveloped: bytes, detached: bytes) -> None:
    [doc] = signed_data_objects(enveloped)
    assert doc.octets.startswith(b'<contract xmlns="urn:example:contract">')
    assert b"Signature" not in doc.octets
    [pdf] = signed_data_objects(detached, detached_content=PDF)
    assert (pdf.octets, pdf.uri) == (PDF, "contract.pdf")


def test_cli_refuses_unsigned_object_and_policy_file_allows_it(
        enveloping: bytes, pki: SamplePki, tmp_path: Path) -> None:
    tampered = insert_unsigned_object(enveloping)
    out = tmp_path / "r"
    result = _cli(tmp_path, "env-tampered.xml", tampered, pki, "--json", f"{out}.json",
                  "--xml", f"{out}.xml", "--html", f"{out}.html")
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert result.stdout == (
        f"INDETERMINATE: {tmp_path / 'env-tampered.xml'} SIG_CONSTRAINTS_FAILURE the file holds "
        "content no reference signs: element ds:Object at /ds:Signature/ds:Object[2]\n")
    assert result.stderr == ""
    doc = json.loads(Path(f"{out}.json").read_text())
    assert schema_errors(doc) == []
    sig = doc["signatures"][0]
    assert sig["unsigned_content"] == [{
        "what": "element", "element": "ds:Object", "element_id": None,
        "path": "/ds:Signature/ds:Object[2]",
        "description": "element ds:Object at /ds:Signature/ds:Object[2]"}]
    assert [o["signed_properties"] for o in sig["signed_data_objects"]] == [False, True]
    xml = etree.fromstring(Path(f"{out}.xml").read_bytes())
    values = [rd.findtext(f"{{{VR}}}Value") for rd in xml.iter(f"{{{VR}}}ReportData")
              if rd.findtext(f"{{{VR}}}Type") == "urn:ltv:validation:unsigned-content"]
    assert values == ["element ds:Object at /ds:Signature/ds:Object[2]"]
    page = Path(f"{out}.html").read_text()
    assert "Unsigned content" in page
    assert "element ds:Object at /ds:Signature/ds:Object[2]" in page
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"refuse_unsigned_content": False}))
    allowed = _cli(tmp_path, "env-tampered.xml", tampered, pki, "--policy", policy)
    assert allowed.returncode == 0, (allowed.stdout, allowed.stderr)
    assert allowed.stdout.startswith("PASSED: ")
    policy.write_text(json.dumps({"refuse_unsigned_content": "no"}))
    bad = _cli(tmp_path, "env-tampered.xml", tampered, pki, "--policy", policy)
    assert bad.returncode == 4
    assert bad.stdout == ""
    assert bad.stderr.count("\n") == 1
    assert "refuse_unsigned_content" in bad.stderr


def test_unsigned_object_in_an_enveloped_signature_is_reported(enveloped: bytes,
                                                               pki: SamplePki) -> None:
    """URI="" signs the document, not the signature's own extra ds:Object."""
    root = etree.fromstring(enveloped)
    signature = root.find("ds:Signature", NS)
    etree.SubElement(signature, f"{{{DS}}}Object", Id="extra").text = "pay 99999999"
    sig = _validate(_xml(root), pki)
    assert (sig.indication, sig.subindication) == (
        Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert [u.description for u in sig.unsigned_content or ()] == [
        "element ds:Object Id=extra at /contract/ds:Signature/ds:Object[2]"]


# -- attack 2: enveloped by #id, with content outside the signed element -----------------------


@pytest.mark.parametrize(("how", "expected"), [
    ("element", "element amount-due at /doc/amount-due"),
    ("attribute", "attributes of element doc at /doc"),
    ("text", "text in element doc at /doc"),
])
def test_content_beside_the_signed_element_is_refused(enveloped_by_id: bytes, pki: SamplePki,
                                                      how: str, expected: str) -> None:
    tampered = beside_signed_element(enveloped_by_id, how)
    verify_xades_core(tampered)
    sig = _validate(tampered, pki)
    assert (sig.indication, sig.subindication) == (
        Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert [u.description for u in sig.unsigned_content or ()] == [expected]
    assert sig.message == f"the file holds content no reference signs: {expected}"


def test_cli_enveloped_by_id_with_content_outside(enveloped_by_id: bytes, pki: SamplePki,
                                                  tmp_path: Path) -> None:
    tampered = beside_signed_element(enveloped_by_id, "element")
    result = _cli(tmp_path, "by-id.xml", tampered, pki)
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert result.stdout == (
        f"INDETERMINATE: {tmp_path / 'by-id.xml'} SIG_CONSTRAINTS_FAILURE the file holds "
        "content no reference signs: element amount-due at /doc/amount-due\n")
    assert result.stderr == ""
    good = _cli(tmp_path, "by-id-good.xml", enveloped_by_id, pki)
    assert good.returncode == 0, (good.stdout, good.stderr)


def test_many_unsigned_elements_are_capped(enveloped_by_id: bytes, pki: SamplePki) -> None:
    root = etree.fromstring(enveloped_by_id)
    for n in range(120):
        etree.SubElement(root, "{urn:example:contract}row").text = str(n)
    sig = _validate(_xml(root), pki)
    assert sig.subindication is SubIndication.SIG_CONSTRAINTS_FAILURE
    items = sig.unsigned_content or ()
    assert len(items) == 51
    assert items[-1].what == "more"
    assert items[-1].description == "70 more unsigned element(s) not listed"
    assert sig.message is not None
    assert sig.message.endswith(" and more")


# -- part 5 (XML): duplicate Ids are FORMAT_FAILURE ---------------------------------------------


@pytest.mark.parametrize(("which", "attribute"), [
    ("signed-properties", "Id"),
    ("object", "Id"),
    ("object", "ID"),
    ("object", "id"),
    ("signed-properties", "id"),
])
def test_duplicate_ids_are_a_format_failure(enveloping: bytes, pki: SamplePki, which: str,
                                            attribute: str) -> None:
    tampered = duplicate_id(enveloping, which, attribute)
    sig = _validate(tampered, pki)
    assert (sig.indication, sig.subindication) == (
        Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert sig.message is not None
    assert "occurs more than once" in sig.message
    assert sig.signed_data_objects is None
    assert sig.unsigned_content is None
    doc = to_json(_report(tampered, pki))
    assert schema_errors(doc) == []
    assert doc["signatures"][0]["signed_data_objects"] is None


def test_duplicate_id_in_an_enveloped_by_id_signature(enveloped_by_id: bytes,
                                                      pki: SamplePki) -> None:
    root = etree.fromstring(enveloped_by_id)
    etree.SubElement(root, "{urn:example:contract}contract", Id="c").text = "99999999"
    sig = _validate(_xml(root), pki)
    assert (sig.indication, sig.subindication) == (
        Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert sig.message == ("the Id 'c' occurs more than once in the document (a signature "
                           "wrapping attempt, or a broken document): refused")


def test_cli_duplicate_ids_one_line(enveloping: bytes, pki: SamplePki, tmp_path: Path) -> None:
    for n, (which, attribute) in enumerate([("signed-properties", "Id"), ("object", "ID")]):
        name = f"dup-{n}.xml"
        result = _cli(tmp_path, name, duplicate_id(enveloping, which, attribute), pki)
        assert result.returncode == 1, (result.stdout, result.stderr)
        lines = result.stdout.splitlines()
        assert len(lines) == 1
        assert lines[0].startswith(f"FAILED: {tmp_path / name} FORMAT_FAILURE the Id '")
        assert "occurs more than once" in lines[0]
        assert result.stderr == ""


def test_plain_xml_is_still_not_a_signature(pki: SamplePki, tmp_path: Path) -> None:
    result = _cli(tmp_path, "plain.xml", b'<a><b Id="x"/><c Id="x"/></a>', pki)
    assert result.returncode == 4
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "plain.xml" in result.stderr


# -- the reports --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["enveloping", "enveloped", "detached"])
def test_reports_list_the_signed_data_objects(kind: str, request: pytest.FixtureRequest,
                                              pki: SamplePki) -> None:
    data: bytes = request.getfixturevalue(kind)
    report = _report(data, pki, detached_content=PDF if kind == "detached" else None)
    assert report.indication is Indication.TOTAL_PASSED
    sig = report.signatures[0]
    assert sig.signed_data_objects is not None
    data_object = sig.signed_data_objects[0]

    doc = to_json(report)
    assert schema_errors(doc) == []
    listed = doc["signatures"][0]["signed_data_objects"]
    assert [o["uri"] for o in listed] == [o.uri for o in sig.signed_data_objects]
    assert listed[0]["kind"] == {"enveloping": "element", "enveloped": "document",
                                 "detached": "detached"}[kind]
    assert listed[0]["digest_value"] == data_object.digest_value
    assert doc["signatures"][0]["unsigned_content"] == []

    root = etree.fromstring(to_xml(report).encode())
    ns = {"v": VR, "ds": DS}
    objects = root.findall("v:SignatureValidationObjects/v:ValidationObject", ns)
    ids = {o.get("id") for o in objects}
    signed = [o for o in objects if o.findtext("v:ObjectType", namespaces=ns)
              == "urn:etsi:019102:validationObject:signedData"]
    assert len(signed) == 1
    assert signed[0].findtext("v:ValidationObjectRepresentation/v:DigestAlgAndValue/"
                              "ds:DigestValue", namespaces=ns) == data_object.digest_value
    report_el = root.find("v:SignatureValidationReport", ns)
    order = [etree.QName(c).localname for c in report_el]
    assert order.index("ValidationTimeInfo") < order.index("SignersDocument") < order.index(
        "SignerInformation") < order.index("SignatureValidationStatus")
    rep = report_el.find("v:SignersDocument/v:SignersDocumentRepresentation", ns)
    assert rep.get("VOReference") == signed[0].get("id")
    for ref in root.iter(f"{{{VR}}}SignerCertificate", f"{{{VR}}}POEObject",
                         f"{{{VR}}}SignersDocumentRepresentation",
                         f"{{{VR}}}RelatedValidationObject"):
        assert set(ref.get("VOReference").split()) <= ids
    described = [rd.findtext("v:Value", namespaces=ns) for rd in root.iter(f"{{{VR}}}ReportData")
                 if rd.findtext("v:Type", namespaces=ns)
                 == "urn:ltv:validation:signed-data-object"]
    assert len(described) == 1
    assert described[0].startswith(f"URI {data_object.uri!r}: {data_object.resolved_to}")

    page = to_html(report, title=kind)
    assert "Signed data objects" in page
    assert data_object.resolved_to in page
    assert "Unsigned content" not in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    if kind == "enveloped":
        assert "<code>enveloped-signature</code><br><code>exclusive C14N</code>" in page


def test_other_formats_report_no_signed_data_objects(pki: SamplePki, pki_server: PkiServer,
                                                     phone_rsa: Phone) -> None:
    cades = sign(CONTRACT, phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                 SignatureFormat.CADES, SignatureLevel.B_LT, services=_services(pki, SIGNED_AT))
    report = _report(cades, pki)
    doc = to_json(report)
    assert schema_errors(doc) == []
    assert doc["signatures"][0]["signed_data_objects"] is None
    assert doc["signatures"][0]["unsigned_content"] is None
    assert "Signed data objects" not in to_html(report)


def test_signxml_signature_has_no_unsigned_content(pki: SamplePki,
                                                   tmp_path_factory: pytest.TempPathFactory
                                                   ) -> None:
    """Another tool's enveloped XAdES (signxml, URI="") lists its objects and nothing unsigned."""
    from test_xades_interop import _signxml_bb

    out = tmp_path_factory.mktemp("signxml-objects")
    pki.issue_software_signer("署名 花子", out, at=SIGNED_AT)
    info = verify_xades_core(_signxml_bb(out))
    assert info.unsigned_content == ()
    assert [(r.kind, r.element, r.is_signed_properties) for r in info.references] == [
        ("document", None, False), ("element", "xades:SignedProperties", True),
        ("element", "ds:KeyInfo", False)]  # signxml signs its KeyInfo too


# -- what counts as content ---------------------------------------------------------------------


def test_comments_and_unsigned_properties_are_not_content(enveloping: bytes) -> None:
    root = etree.fromstring(enveloping)
    root.append(etree.Comment(" a comment is never signed by a same-document reference "))
    root.find(f"ds:Object[@Id='{_object_id(enveloping)}']", NS).append(etree.Comment(" also "))
    info = verify_xades_core(_xml(root))
    assert root.find(".//xades:UnsignedSignatureProperties", NS) is not None  # B-LT material
    assert info.unsigned_content == ()


def test_extra_content_in_the_qualifying_properties_object_is_reported(enveloping: bytes
                                                                       ) -> None:
    root = etree.fromstring(enveloping)
    holder = root.find(".//xades:QualifyingProperties", NS).getparent()
    etree.SubElement(holder, "contract", Id="evil").text = "99999999"
    info = verify_xades_core(_xml(root))
    assert [u.description for u in info.unsigned_content] == [
        "element contract Id=evil at /ds:Signature/ds:Object[1]/contract"]


def test_enveloping_signature_inside_a_wrapper_document(enveloping: bytes) -> None:
    """A signature moved under another root: the root's other children and attributes are not
    signed (the signature's own Object still is)."""
    signature = etree.fromstring(enveloping)
    wrapper = etree.Element("{urn:evil}invoice", total="99999999", nsmap={"e": "urn:evil"})
    wrapper.append(signature)
    etree.SubElement(wrapper, "{urn:evil}line").text = "pay 99999999"
    info = verify_xades_core(_xml(wrapper))
    assert [u.description for u in info.unsigned_content] == [
        "attributes of element e:invoice at /e:invoice",
        "element e:line at /e:invoice/e:line"]



def test_unsigned_content_in_all_three_reports(enveloping: bytes, pki: SamplePki) -> None:
    """The refused unsigned ds:Object is named in the JSON (``unsigned_content``), the ETSI
    XML (a ReportData of type unsigned-content) and the HTML ("Unsigned content") reports."""
    report = _report(insert_unsigned_object(enveloping), pki)
    described = "element ds:Object at /ds:Signature/ds:Object[2]"
    doc = to_json(report)
    assert schema_errors(doc) == []
    assert [u["description"] for u in doc["signatures"][0]["unsigned_content"]] == [described]
    root = etree.fromstring(to_xml(report).encode())
    ns = {"v": VR}
    listed = [rd.findtext("v:Value", namespaces=ns) for rd in root.iter(f"{{{VR}}}ReportData")
              if rd.findtext("v:Type", namespaces=ns) == "urn:ltv:validation:unsigned-content"]
    assert listed == [described]
    page = to_html(report, title="unsigned")
    assert "Unsigned content" in page
    assert f"<li>{described}</li>" in page
