"""XPath, XPath Filter 2.0, XSLT, XPointer and XAdES 1.1.1/1.2.2 (issue #19, item 5).

Every vector here is signed by xmlsec1 (an independent XML-DSig implementation) from a template,
with a fresh self-signed key, then verified by ltv: the intact one verifies, a forged one (a
change inside what the transforms keep) is HASH_FAILURE, and a change in what the transforms
leave out still verifies (the transform really filtered). The confined XSLT and XPath paths are
attacked too: document(), extension functions and elements, xsl:include, endless recursion,
huge output, over-long expressions; each is INDETERMINATE naming what was refused.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from forge_helpers import signing_certificate

from ltv.errors import HashFailureError, UnsupportedAlgorithmError
from ltv.formats._xmldsig_plain import verify_plain_xmldsig
from ltv.signing import SignatureLevel
from ltv.validation import (
    Indication,
    SubIndication,
    ValidationPolicy,
    load_trust_anchors,
    validate,
)

DS = "http://www.w3.org/2000/09/xmldsig#"
X111 = "http://uri.etsi.org/01903/v1.1.1#"
X122 = "http://uri.etsi.org/01903/v1.2.2#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
XSLT = "http://www.w3.org/TR/1999/REC-xslt-19991116"
ENVELOPED = DS + "enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
AT = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, x509.Certificate]:
    """A self-signed signer (key and certificate as one PEM file for xmlsec1)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = signing_certificate(key, "x19 transform signer", serial=4711, at=AT)
    directory = tmp_path_factory.mktemp("x19-signer")
    pem = directory / "signer.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return directory, cert


def _reference(uri: str, transforms: str, *, rid: str = "", type_: str = "") -> str:
    attrs = f' URI="{uri}"' + (f' Id="{rid}"' if rid else "") + (
        f' Type="{type_}"' if type_ else "")
    body = f"<ds:Transforms>{transforms}</ds:Transforms>" if transforms else ""
    return (f"<ds:Reference{attrs}>{body}<ds:DigestMethod Algorithm=\"{SHA256}\"/>"
            "<ds:DigestValue></ds:DigestValue></ds:Reference>")


def _signature(references: str, *, objects: str = "", sid: str = "sig") -> str:
    return (f'<ds:Signature xmlns:ds="{DS}" Id="{sid}"><ds:SignedInfo>'
            f'<ds:CanonicalizationMethod Algorithm="{C14N}"/>'
            '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
            f"{references}</ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>"
            "<ds:KeyInfo><ds:X509Data></ds:X509Data></ds:KeyInfo>"
            f"{objects}</ds:Signature>")


def _xmlsec_sign(template: str, signer: tuple[Path, x509.Certificate], tmp: Path,
                 *id_attrs: str) -> bytes:
    directory, _ = signer
    path = tmp / "template.xml"
    path.write_text(template, encoding="utf-8")
    args = ["xmlsec1", "--sign", "--privkey-pem",
            f"{directory / 'signer.pem'},{directory / 'cert.pem'}"]
    for spec in id_attrs:
        args += ["--id-attr:Id", spec]
    done = subprocess.run([*args, str(path)], capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def _xmlsec_verifies(data: bytes, signer: tuple[Path, x509.Certificate], tmp: Path,
                     *id_attrs: str) -> bool:
    directory, _ = signer
    path = tmp / "check.xml"
    path.write_bytes(data)
    args = ["xmlsec1", "--verify", "--enabled-key-data", "x509", "--trusted-pem",
            str(directory / "cert.pem"), "--verification-time", AT.strftime("%Y-%m-%d %H:%M:%S")]
    for spec in id_attrs:
        args += ["--id-attr:Id", spec]
    done = subprocess.run([*args, str(path)], capture_output=True, timeout=60, check=False)
    return done.returncode == 0


DOC = ('<doc xmlns="urn:x19" xmlns:b="urn:x19:b"><keep Id="k">signed <b:part>text</b:part>'
       '</keep><drop>free</drop><!-- a comment --></doc>')


def _enveloped(signature: str) -> str:
    return DOC.replace("<!-- a comment -->", "<!-- a comment -->" + signature)


@pytest.mark.parametrize(("name", "uri", "transforms", "kept", "dropped"), [
    ("xpath", "", f'<ds:Transform Algorithm="{XPATH}"><ds:XPath>'
     "not(ancestor-or-self::ds:Signature) and not(ancestor-or-self::x:drop)</ds:XPath>"
     f'</ds:Transform><ds:Transform Algorithm="{C14N}"/>', "signed", "free"),
    ("xpath-here", "", f'<ds:Transform Algorithm="{XPATH}"><ds:XPath>'
     "count(ancestor-or-self::ds:Signature | here()/ancestor::ds:Signature[1]) &gt; "
     "count(ancestor-or-self::ds:Signature)</ds:XPath></ds:Transform>", "signed", None),
    ("xpath-holes", "", f'<ds:Transform Algorithm="{XPATH}"><ds:XPath>'
     "not(ancestor-or-self::ds:Signature) and not(self::b:part) and not(name() = 'Id') and "
     "not(self::comment()) and not(self::x:drop/namespace::b)</ds:XPath></ds:Transform>",
     "signed", None),
    ("xpath-holes-exc", "", f'<ds:Transform Algorithm="{XPATH}"><ds:XPath>'
     "not(ancestor-or-self::ds:Signature) and not(self::x:keep) and "
     "not(parent::x:keep and name() = 'Id')</ds:XPath></ds:Transform>"
     f'<ds:Transform Algorithm="{EXC}WithComments"/>', "text", None),
    ("filter2", "", f'<ds:Transform Algorithm="{FILTER2}">'
     f'<f:XPath xmlns:f="{FILTER2}" Filter="intersect">/x:doc</f:XPath>'
     f'<f:XPath xmlns:f="{FILTER2}" Filter="subtract">//x:drop | //ds:Signature</f:XPath>'
     "</ds:Transform>", "signed", "free"),
    ("filter2-union", "", f'<ds:Transform Algorithm="{FILTER2}">'
     f'<f:XPath xmlns:f="{FILTER2}" Filter="subtract">/x:doc</f:XPath>'
     f'<f:XPath xmlns:f="{FILTER2}" Filter="union">//x:keep</f:XPath></ds:Transform>',
     "signed", "free"),
    ("filter2-exc", "", f'<ds:Transform Algorithm="{FILTER2}">'
     f'<f:XPath xmlns:f="{FILTER2}" Filter="intersect">//b:part</f:XPath></ds:Transform>'
     f'<ds:Transform Algorithm="{EXC}"/>', "text", "signed "),
    ("xpointer-id", "#xpointer(id('k'))", "", "signed", "free"),
    ("xpointer-root", "#xpointer(/)", f'<ds:Transform Algorithm="{ENVELOPED}"/>', "signed",
     None),
    ("xslt", "#k", f'<ds:Transform Algorithm="{XSLT}">'
     '<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0" '
     'xmlns:y="urn:x19"><xsl:output method="text"/>'
     '<xsl:template match="/">[<xsl:value-of select="normalize-space(/y:keep)"/>]'
     "</xsl:template></xsl:stylesheet></ds:Transform>", "signed", "free"),
])
def test_transform_vector_signed_by_xmlsec(name: str, uri: str, transforms: str, kept: str,
                                           dropped: str | None,
                                           signer: tuple[Path, x509.Certificate],
                                           tmp_path: Path) -> None:
    transforms = transforms.replace("<ds:XPath>",
                                    '<ds:XPath xmlns:x="urn:x19" xmlns:b="urn:x19:b">').replace(
        '<f:XPath xmlns:f="', '<f:XPath xmlns:x="urn:x19" xmlns:b="urn:x19:b" xmlns:f="')
    template = _enveloped(_signature(_reference(uri, transforms)))
    ids = ("urn:x19:keep",)
    signed = _xmlsec_sign(template, signer, tmp_path, *ids)
    assert _xmlsec_verifies(signed, signer, tmp_path, *ids)
    info = verify_plain_xmldsig(signed)
    assert info.signer_certificate == signer[1]
    text = signed.decode("utf-8")
    forged = text.replace(f">{kept}", f">{kept}!", 1).encode("utf-8")
    assert forged != signed
    assert not _xmlsec_verifies(forged, signer, tmp_path, *ids)
    with pytest.raises(HashFailureError):
        verify_plain_xmldsig(forged)
    if dropped is not None:  # outside what the transforms keep: still verifies, for both
        free = text.replace(f">{dropped}<", f">{dropped} changed<", 1).encode("utf-8")
        assert free != signed
        assert _xmlsec_verifies(free, signer, tmp_path, *ids)
        verify_plain_xmldsig(free)
    verdict = validate(forged, policy=ValidationPolicy.default(trust_anchors=[]), at=AT,
                       offline=True).signatures[0]
    assert (verdict.indication, verdict.subindication) == (Indication.TOTAL_FAILED,
                                                           SubIndication.HASH_FAILURE)


def _xades_old(ns: str, signer: tuple[Path, x509.Certificate], *, filter2: bool) -> str:
    """A XAdES 1.1.1/1.2.2 enveloping template: SigningTime, SigningCertificate v1 (1.1.1:
    DigestMethod/DigestValue in the XAdES namespace), the data object in a ds:Object."""
    cert = signer[1]
    der = cert.public_bytes(serialization.Encoding.DER)
    dns = "etsi" if ns == X111 else "ds"
    digest = (f'<{dns}:DigestMethod Algorithm="{SHA256}"/><{dns}:DigestValue>'
              f"{base64.b64encode(hashlib.sha256(der).digest()).decode()}</{dns}:DigestValue>")
    props = (f'<etsi:QualifyingProperties xmlns:etsi="{ns}" Target="#sig">'
             '<etsi:SignedProperties Id="sp"><etsi:SignedSignatureProperties>'
             "<etsi:SigningTime>2026-05-31T10:00:00Z</etsi:SigningTime>"
             f"<etsi:SigningCertificate><etsi:Cert><etsi:CertDigest>{digest}</etsi:CertDigest>"
             f"<etsi:IssuerSerial><ds:X509IssuerName>{cert.issuer.rfc4514_string()}"
             f"</ds:X509IssuerName><ds:X509SerialNumber>{cert.serial_number}"
             "</ds:X509SerialNumber></etsi:IssuerSerial></etsi:Cert></etsi:SigningCertificate>"
             "<etsi:SignaturePolicyIdentifier><etsi:SignaturePolicyImplied/>"
             "</etsi:SignaturePolicyIdentifier></etsi:SignedSignatureProperties>"
             "</etsi:SignedProperties></etsi:QualifyingProperties>")
    if filter2:
        sp_ref = _reference("", f'<ds:Transform Algorithm="{FILTER2}"><f:XPath xmlns:f='
                            f'"{FILTER2}" xmlns:etsi="{ns}" Filter="intersect">'
                            "//etsi:SignedProperties</f:XPath></ds:Transform>",
                            type_=ns + "SignedProperties")
    else:
        sp_ref = _reference("#sp", f'<ds:Transform Algorithm="{C14N}"/>',
                            type_=ns + "SignedProperties")
    objects = (f'<ds:Object Id="data"><payload xmlns="urn:x19">contract</payload></ds:Object>'
               f"<ds:Object>{props}</ds:Object>")
    return _signature(_reference("#data", "") + sp_ref, objects=objects)


@pytest.mark.parametrize(("ns", "filter2"), [(X111, False), (X111, True), (X122, False)])
def test_old_xades_signed_by_xmlsec(ns: str, filter2: bool,
                                    signer: tuple[Path, x509.Certificate],
                                    tmp_path: Path) -> None:
    ids = (f"{ns}:SignedProperties", f"{DS}:Object")
    signed = _xmlsec_sign(_xades_old(ns, signer, filter2=filter2), signer, tmp_path, *ids)
    assert _xmlsec_verifies(signed, signer, tmp_path, *ids)
    anchors = load_trust_anchors([signer[0] / "cert.pem"])
    report = validate(signed, policy=ValidationPolicy.default(trust_anchors=anchors), at=AT,
                      offline=True)
    (sig,) = report.signatures
    assert sig.signer is not None
    assert "x19 transform signer" in sig.signer.subject
    assert sig.signing_time == datetime(2026, 5, 31, 10, tzinfo=UTC)
    assert sig.indication is not Indication.TOTAL_FAILED, sig.message
    no_anchor = validate(signed, policy=ValidationPolicy.default(trust_anchors=[]), at=AT,
                         offline=True).signatures[0]
    assert (no_anchor.indication, no_anchor.subindication) == (
        Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    text = signed.decode("utf-8")
    for forged in (text.replace("2026-05-31T10:00:00Z", "2026-05-30T10:00:00Z"),
                   text.replace(">contract<", ">contract v2<")):
        assert forged != text
        assert not _xmlsec_verifies(forged.encode(), signer, tmp_path, *ids)
        got = validate(forged.encode(), policy=ValidationPolicy.default(trust_anchors=anchors),
                       at=AT, offline=True).signatures[0]
        assert (got.indication, got.subindication) == (Indication.TOTAL_FAILED,
                                                       SubIndication.HASH_FAILURE)
    # the SigningCertificate digest names another certificate: the signer is not identified
    other = text.replace("<ds:X509SerialNumber>4711<", "<ds:X509SerialNumber>4712<")
    got = validate(other.encode(), policy=ValidationPolicy.default(trust_anchors=anchors),
                   at=AT, offline=True).signatures[0]
    assert (got.indication, got.subindication) == (Indication.TOTAL_FAILED,
                                                   SubIndication.HASH_FAILURE)


# -- attacks on the confined transforms -------------------------------------------------------

def _xslt_vector(stylesheet_body: str) -> bytes:
    transform = (f'<ds:Transform Algorithm="{XSLT}"><xsl:stylesheet '
                 'xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0">'
                 f"{stylesheet_body}</xsl:stylesheet></ds:Transform>")
    return _enveloped(_signature(_reference("#k", transform))).encode("utf-8")


@pytest.mark.parametrize(("body", "named"), [
    ('<xsl:template match="/"><xsl:copy-of select="document(\'/etc/passwd\')"/></xsl:template>',
     "document()"),
    ('<xsl:template match="/"><xsl:value-of select="document(\'http://127.0.0.1:9/x\')"/>'
     "</xsl:template>", "document()"),
    ('<xsl:template match="/" xmlns:exsl="http://exslt.org/common">'
     '<xsl:value-of select="exsl:node-set(.)"/></xsl:template>', "exsl:node-set()"),
    ('<xsl:template match="/" xmlns:php="http://php.net/xsl">'
     "<a href=\"{php:function('system', 'id')}\"/></xsl:template>", "php:function()"),
    ('<xsl:include href="/etc/other.xsl"/>', "xsl:include"),
    ('<xsl:import href="http://127.0.0.1:9/a.xsl"/>', "xsl:import"),
    ('<xsl:template match="/"><xsl:document href="/tmp/x19-written">x</xsl:document>'
     "</xsl:template>", "xsl:document"),
    ('<xsl:template match="/" xmlns:f="http://exslt.org/common" '
     'extension-element-prefixes="f"><f:document href="/tmp/x19-out">x</f:document>'
     "</xsl:template>", "extension elements"),
])
def test_xslt_reaching_outside_is_refused(body: str, named: str) -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="XSLT") as caught:
        verify_plain_xmldsig(_xslt_vector(body))
    assert named in str(caught.value)


def test_xslt_runaway_is_stopped() -> None:
    loop = ('<xsl:template match="/"><xsl:call-template name="t"><xsl:with-param name="n" '
            'select="40"/></xsl:call-template></xsl:template><xsl:template name="t">'
            '<xsl:param name="n"/><xsl:if test="$n &gt; 0"><xsl:call-template name="t">'
            '<xsl:with-param name="n" select="$n - 1"/></xsl:call-template>'
            '<xsl:call-template name="t"><xsl:with-param name="n" select="$n - 1"/>'
            "</xsl:call-template></xsl:if></xsl:template>")
    with pytest.raises(UnsupportedAlgorithmError, match=r"the XSLT transform (ran longer|failed)"):
        verify_plain_xmldsig(_xslt_vector(loop))
    blowup = ('<xsl:template match="/"><xsl:call-template name="t"><xsl:with-param name="s" '
              'select="\'xxxxxxxxxxxxxxxx\'"/><xsl:with-param name="n" select="28"/>'
              '</xsl:call-template></xsl:template><xsl:template name="t"><xsl:param name="s"/>'
              '<xsl:param name="n"/><xsl:choose><xsl:when test="$n &gt; 0">'
              '<xsl:call-template name="t"><xsl:with-param name="s" select="concat($s, $s)"/>'
              '<xsl:with-param name="n" select="$n - 1"/></xsl:call-template></xsl:when>'
              '<xsl:otherwise><xsl:value-of select="$s"/></xsl:otherwise></xsl:choose>'
              "</xsl:template>")
    with pytest.raises(UnsupportedAlgorithmError, match="the XSLT transform"):
        verify_plain_xmldsig(_xslt_vector(blowup))
    recursion = ('<xsl:template match="/"><xsl:call-template name="r"/></xsl:template>'
                 '<xsl:template name="r"><xsl:call-template name="r"/></xsl:template>')
    with pytest.raises(UnsupportedAlgorithmError, match="the XSLT transform failed"):
        verify_plain_xmldsig(_xslt_vector(recursion))


def test_refused_transform_is_indeterminate_naming_it() -> None:
    data = _xslt_vector('<xsl:template match="/"><xsl:copy-of select="document(\'/etc/passwd\')"/>'
                        "</xsl:template>")
    (sig,) = validate(data, policy=ValidationPolicy.default(trust_anchors=[]), at=AT,
                      offline=True).signatures
    assert (sig.indication, sig.subindication) == (Indication.INDETERMINATE,
                                                   SubIndication.CRYPTO_CONSTRAINTS_FAILURE)
    assert (sig.message or "").startswith("ltv cannot process this signature: ")
    assert "document()" in (sig.message or "")


def test_xpath_runaway_is_stopped() -> None:
    """An expression whose cost grows with the fourth power of the document: the confined
    evaluation is stopped (CPU limit or wall clock), INDETERMINATE naming it."""
    body = "<e>x</e>" * 3000
    expr = "count(//*[count(//*[count(//*) &gt; 0]) &gt; 0]) &gt; 0"
    data = (f'<doc xmlns="urn:x19">{body}'
            + _signature(_reference("", f'<ds:Transform Algorithm="{XPATH}"><ds:XPath>{expr}'
                                    "</ds:XPath></ds:Transform>")) + "</doc>").encode()
    with pytest.raises(UnsupportedAlgorithmError,
                       match=r"the XPath transform: the XPath evaluation (ran longer|failed)"):
        verify_plain_xmldsig(data)


def test_xpath_too_long_or_foreign_xpointer_is_refused() -> None:
    long_expr = "not(ancestor-or-self::ds:Signature)" + " and true()" * 400
    data = _enveloped(_signature(_reference(
        "", f'<ds:Transform Algorithm="{XPATH}"><ds:XPath>{long_expr}</ds:XPath>'
        "</ds:Transform>"))).encode()
    with pytest.raises(UnsupportedAlgorithmError, match=r"XPath expression of .* characters"):
        verify_plain_xmldsig(data)
    data = _enveloped(_signature(_reference("#xpointer(//*)", ""))).encode()
    with pytest.raises(UnsupportedAlgorithmError, match="XPointer reference"):
        verify_plain_xmldsig(data)


# -- XAdES 1.1.1 time-stamps name their input with HashDataInfo -------------------------------

def _tsa_token(data: bytes, tmp: Path) -> bytes:
    """An RFC 3161 token over SHA-256(``data``) from ltv's own TSA (in process, fixed clock)."""
    from asn1crypto import tsp

    from ltv.clock import FixedClock
    from tsa.authority import TimeStampAuthority, TsaIdentity
    from tsa.serials import MemorySerialSource

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x19 tsa")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(99)
            .not_valid_before(AT - timedelta(days=30)).not_valid_after(AT + timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]),
                           critical=True)
            .sign(key, hashes.SHA256()))
    authority = TimeStampAuthority(TsaIdentity(private_key=key, certificate=cert),
                                   serials=MemorySerialSource(), clock=FixedClock(AT))
    request = tsp.TimeStampReq({
        "version": 1,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                            "hashed_message": hashlib.sha256(data).digest()},
        "cert_req": True})
    response = tsp.TimeStampResp.load(authority.respond(request.dump()))
    assert response["status"]["status"].native == "granted"
    return bytes(response["time_stamp_token"].dump())


def test_xades_111_signature_timestamp_over_hash_data_info(
        signer: tuple[Path, x509.Certificate], tmp_path: Path) -> None:
    from lxml import etree

    ids = (f"{X111}:SignedProperties", f"{DS}:Object", f"{DS}:SignatureValue")
    template = _xades_old(X111, signer, filter2=False).replace(
        "<ds:SignatureValue>", '<ds:SignatureValue Id="sv">')
    signed = _xmlsec_sign(template, signer, tmp_path, *ids)
    root = etree.fromstring(signed)
    sv = root.find(f"{{{DS}}}SignatureValue")
    imprint_input = etree.tostring(sv, method="c14n")  # C14N 1.0 of the element in context
    token = _tsa_token(imprint_input, tmp_path)

    def with_timestamp(uri: str) -> bytes:
        doc = etree.fromstring(signed)
        qp = doc.find(f".//{{{X111}}}QualifyingProperties")
        usp = etree.SubElement(etree.SubElement(qp, f"{{{X111}}}UnsignedProperties"),
                               f"{{{X111}}}UnsignedSignatureProperties")
        stamp = etree.SubElement(usp, f"{{{X111}}}SignatureTimeStamp")
        info = etree.SubElement(stamp, f"{{{X111}}}HashDataInfo", uri=uri)
        transforms = etree.SubElement(info, f"{{{X111}}}Transforms")
        etree.SubElement(transforms, f"{{{DS}}}Transform", Algorithm=C14N)
        etree.SubElement(stamp, f"{{{X111}}}EncapsulatedTimeStamp").text = base64.b64encode(
            token).decode()
        out: bytes = etree.tostring(doc)
        return out

    report = validate(with_timestamp("#sv"), policy=ValidationPolicy.default(trust_anchors=[]),
                      at=AT, offline=True)
    (sig,) = report.signatures
    assert sig.level is SignatureLevel.B_T
    (stamp,) = sig.timestamps
    assert (stamp.imprint, stamp.imprint_ok) == ("verified", True)
    # the same token said to cover another element: its imprint does not match
    wrong = validate(with_timestamp("#data"), policy=ValidationPolicy.default(trust_anchors=[]),
                     at=AT, offline=True).signatures[0]
    (stamp,) = wrong.timestamps
    assert (stamp.imprint, stamp.imprint_ok) == ("failed", False)


def test_xpath_over_detached_data() -> None:
    """xades4j's detached signature applies an XPath transform to the detached document (the
    prefix bound on its ds:XPath element) and a Filter 2.0 intersect selecting track 1.
    Intact as given; a changed track fails. The XPath *filter* ``/collection/album/foo:tracks``
    is an absolute path, true at every node (XMLDSIG §6.6.3 evaluates it per node), so that
    reference signs the whole document and a changed album title fails too."""
    vectors = Path(__file__).parent / "vectors" / "foreign" / "xades4j"
    signature = (vectors / "detached.bes.xml").read_bytes()
    document = (vectors / "document.xml").read_bytes()

    def verdict(content: bytes) -> tuple[Indication, SubIndication | None]:
        (sig,) = validate(signature, policy=ValidationPolicy.default(trust_anchors=[]),
                          at=datetime(2020, 1, 1, tzinfo=UTC), offline=True,
                          detached_content=content).signatures
        return sig.indication, sig.subindication

    assert verdict(document) == (Indication.INDETERMINATE,
                                 SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    track = document.replace(b"What do you know?", b"What do you know!")
    assert track != document
    assert verdict(track) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    title = document.replace(b"Questions, unanswered", b"Questions, answered")
    assert title != document
    assert verdict(title) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
