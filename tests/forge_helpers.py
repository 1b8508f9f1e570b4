"""Hand-made hostile signatures from the sample PKI's real keys (issue 11, parts 1, 3 and 5).

ltv's own builders refuse SHA-1 and always write well-formed CMS, so the attacks are built here
with asn1crypto directly, as an attacker (or a careless third-party signer) would: a CMS
SignedData over any content with any key, digest, signature algorithm, ESS version, content
type, certificates set and attributes; an RFC 3161 token signed with the TSA key; a PAdES
signature whose CMS is swapped for a forged one over the same /ByteRange; XAdES signatures
with SHA-1 in a ds:Reference or the SignatureMethod, re-signed with the signer's key.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree  # type: ignore[import-untyped]

from samples.pki import SamplePki, _builder, _with_services, generate_key

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
DS = "http://www.w3.org/2000/09/xmldsig#"
_HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
           "sha512": hashes.SHA512}


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def issue_signer(pki: SamplePki, *, at: datetime, digital_signature: bool = True,
                 non_repudiation: bool = True, key_encipherment: bool = False,
                 eku: Sequence[x509.ObjectIdentifier] | None = None
                 ) -> tuple[PrivateKey, x509.Certificate]:
    """An end-entity certificate from the card CA with the given key usage and EKU, recorded
    in the PKI's state so its OCSP responder answers "good" for it."""
    key = generate_key("rsa2048")
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "Forged purpose signer")])
    builder = _builder(subject=subject, public_key=key.public_key(), issuer=pki.card_ca,
                       at=at, lifetime=timedelta(days=365)).add_extension(
        x509.KeyUsage(digital_signature=digital_signature, content_commitment=non_repudiation,
                      key_encipherment=key_encipherment, data_encipherment=False,
                      key_agreement=False, key_cert_sign=False, crl_sign=False,
                      encipher_only=False, decipher_only=False), critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    builder = _with_services(builder, pki.base_url, "card-ca")
    cert = pki._sign_and_record(builder, "card-ca")  # the PKI's own issuing step
    return key, cert


def signing_certificate(key: rsa.RSAPrivateKey, common_name: str, *, serial: int, at: datetime,
                        days: int = 30,
                        issuer: tuple[x509.Name, rsa.RSAPrivateKey] | None = None
                        ) -> x509.Certificate:
    """An end-entity certificate for ``key`` (CN ``common_name``) with the signing key usages
    (critical digitalSignature and nonRepudiation), valid ``days`` either side of ``at``;
    self-signed unless ``issuer`` (name, key) signs it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer_name, issuer_key = issuer if issuer is not None else (name, key)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name)
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(at - timedelta(days=days)).not_valid_after(at + timedelta(days=days))
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(issuer_key, hashes.SHA256()))


def tsa_key(pki: SamplePki, at: datetime) -> tuple[PrivateKey, x509.Certificate]:
    identity = pki.tsa_identity(at=at)
    key = identity.private_key
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return key, identity.certificate


def raw_sign(key: PrivateKey, data: bytes, hash_name: str) -> bytes:
    h = _HASHES[hash_name]()
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), h)
    return key.sign(data, ec.ECDSA(h))


def _sig_alg_name(key: PrivateKey, hash_name: str) -> str:
    return f"{hash_name}_{'rsa' if isinstance(key, rsa.RSAPrivateKey) else 'ecdsa'}"


def attr(name: str, *values: Any) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": name, "values": list(values)})


def ess_v2(cert: x509.Certificate, hash_name: str = "sha256") -> tsp.SigningCertificateV2:
    der = cert.public_bytes(Encoding.DER)
    return tsp.SigningCertificateV2({"certs": [{
        "hash_algorithm": {"algorithm": hash_name},
        "cert_hash": hashlib.new(hash_name, der).digest(),
    }]})


def ess_v1(cert: x509.Certificate) -> tsp.SigningCertificate:
    der = cert.public_bytes(Encoding.DER)
    return tsp.SigningCertificate({"certs": [{"cert_hash": hashlib.sha1(der).digest()}]})  # noqa: S324


def standard_attrs(cert: x509.Certificate, digest: bytes, *, at: datetime,
                   econtent_type: str = "data", ess: str = "v2",
                   ess_hash: str = "sha256") -> list[cms.CMSAttribute]:
    out = [attr("content_type", econtent_type), attr("signing_time", cms.Time({"utc_time": at})),
           attr("message_digest", digest)]
    if ess == "v2":
        out.append(attr("signing_certificate_v2", ess_v2(cert, ess_hash)))
    elif ess == "v1":
        out.append(attr("signing_certificate", ess_v1(cert)))
    return out


def build_cms(content: bytes | None, key: PrivateKey, cert: x509.Certificate,
              chain: Sequence[x509.Certificate] = (), *, at: datetime,
              digest: str = "sha256", sig_hash: str | None = None,
              econtent_type: str = "data", ess: str = "v2", ess_hash: str = "sha256",
              detached_digest: bytes | None = None,
              attrs: list[cms.CMSAttribute] | None = None,
              extra_certificates: Sequence[cms.CertificateChoices] = (),
              unsigned: Sequence[cms.CMSAttribute] = ()) -> bytes:
    """A CMS SignedData (ContentInfo DER) with one SignerInfo, as asked.

    ``content`` None makes it detached over ``detached_digest``. ``attrs`` replaces the signed
    attributes (which are then signed as given)."""
    message = detached_digest if content is None else hashlib.new(digest, content).digest()
    assert message is not None
    if attrs is None:
        attrs = standard_attrs(cert, message, at=at, econtent_type=econtent_type, ess=ess,
                               ess_hash=ess_hash)
    signed_attrs = cms.CMSAttributes(attrs)
    sig_hash = sig_hash or digest
    signature = raw_sign(key, signed_attrs.dump(), sig_hash)
    issuer_serial = cms.IssuerAndSerialNumber({
        "issuer": _asn1_cert(cert)["tbs_certificate"]["issuer"],
        "serial_number": cert.serial_number,
    })
    fields: dict[str, Any] = {
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": issuer_serial}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": digest}),
        "signed_attrs": signed_attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm(
            {"algorithm": _sig_alg_name(key, sig_hash)}),
        "signature": signature,
    }
    if unsigned:
        fields["unsigned_attrs"] = cms.CMSAttributes(list(unsigned))
    signer_info = cms.SignerInfo(fields)
    encap: dict[str, Any] = {"content_type": econtent_type}
    if content is not None:
        encap["content"] = tsp.TSTInfo.load(content) if econtent_type == "tst_info" else content
    certs = [cms.CertificateChoices({"certificate": _asn1_cert(c)}) for c in [cert, *chain]]
    signed_data = cms.SignedData({
        "version": "v3" if econtent_type != "data" else "v1",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": digest})],
        "encap_content_info": encap,
        "certificates": [*certs, *extra_certificates],
        "signer_infos": [signer_info],
    })
    out: bytes = cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
    return out


def build_token(pki: SamplePki, data: bytes, *, at: datetime, imprint_hash: str = "sha256",
                digest: str = "sha256", sig_hash: str | None = None, ess: str = "v2",
                ess_hash: str = "sha256") -> bytes:
    """An RFC 3161 TimeStampToken over ``data`` signed with the sample TSA's real key."""
    key, cert = tsa_key(pki, at)
    tst = tsp.TSTInfo({
        "version": "v1", "policy": "1.2.3.4.1",
        "message_imprint": {"hash_algorithm": {"algorithm": imprint_hash},
                            "hashed_message": hashlib.new(imprint_hash, data).digest()},
        "serial_number": int.from_bytes(hashlib.sha256(data + at.isoformat().encode())
                                        .digest()[:8], "big"),
        "gen_time": at,
    }).dump()
    return build_cms(tst, key, cert, [pki.root], at=at, digest=digest, sig_hash=sig_hash,
                     econtent_type="tst_info", ess=ess, ess_hash=ess_hash)


def signature_value_of(p7s: bytes) -> bytes:
    info = cms.ContentInfo.load(p7s)["content"]["signer_infos"][0]
    return bytes(info["signature"].native)


def with_signature_timestamp(p7s: bytes, token: bytes) -> bytes:
    """``p7s`` with ``token`` as its signature-time-stamp (an unsigned attribute)."""
    content_info = cms.ContentInfo.load(p7s)
    info = content_info["content"]["signer_infos"][0]
    info["unsigned_attrs"] = cms.CMSAttributes([cms.CMSAttribute({
        "type": "signature_time_stamp_token", "values": [cms.ContentInfo.load(token)]})])
    out: bytes = content_info.dump()
    return out


def raw_signature_timestamp(raw_value: bytes) -> cms.CMSAttribute:
    """A signature-time-stamp attribute whose value is ``raw_value`` verbatim (e.g. a DER
    SEQUENCE that is no ContentInfo), for :func:`build_cms`'s ``unsigned``."""
    attribute = (b"\x30" + _len(len(_TST_OID) + 2 + len(raw_value))
                 + _TST_OID + b"\x31" + _len(len(raw_value)) + raw_value)
    return cms.CMSAttribute.load(attribute)


_TST_OID = core.ObjectIdentifier("1.2.840.113549.1.9.16.2.14").dump()


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


# -- PAdES: swap the CMS of a signed PDF for a forged one over the same /ByteRange ----------

def byte_range_data(pdf: bytes) -> tuple[bytes, int, int]:
    """The signed bytes of the (last) signature and the hex /Contents span [start, end)."""
    found = list(re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf))
    a, b, c, d = (int(x) for x in found[-1].groups())
    return pdf[a:a + b] + pdf[c:c + d], a + b + 1, c - 1


def replace_contents(pdf: bytes, cms_der: bytes) -> bytes:
    _, start, end = byte_range_data(pdf)
    hexed = cms_der.hex().encode()
    assert len(hexed) <= end - start, "the forged CMS does not fit the /Contents placeholder"
    return pdf[:start] + hexed + b"0" * (end - start - len(hexed)) + pdf[end:]


# -- XAdES: SHA-1 where an XML signature's binding rests, re-signed with the signer's key ----

def _c14n_of(signed_info: Any) -> bytes:
    method = signed_info.find(f"{{{DS}}}CanonicalizationMethod").get("Algorithm")
    exclusive = "exc-c14n" in method
    with_comments = method.endswith("#WithComments")
    out: bytes = etree.tostring(signed_info, method="c14n", exclusive=exclusive,
                                with_comments=with_comments)
    return out


def xades_with_sha1(xml: bytes, key: PrivateKey, *, reference: bool = False,
                    signed_properties_reference: bool = False, cert_digest: bool = False,
                    signature_method: bool = False) -> bytes:
    """An XAdES signature with SHA-1 where asked — the data-object reference's DigestMethod,
    the SignedProperties reference's, the SigningCertificateV2 CertDigest, the SignatureMethod
    (rsa-sha1) — every reference digest recomputed over the same octets and SignedInfo
    re-signed with ``key``, as a third-party signer would make it."""
    from ltv.formats._xmldsig import XADES, process_reference, resolve_ids

    tree = etree.ElementTree(etree.fromstring(xml))
    signature = tree.getroot() if tree.getroot().tag == f"{{{DS}}}Signature" else next(
        tree.getroot().iter(f"{{{DS}}}Signature"))
    signed_info = signature.find(f"{{{DS}}}SignedInfo")
    if cert_digest:
        cert = next(signature.iter(f"{{{XADES}}}SigningCertificateV2")).find(
            f"{{{XADES}}}Cert")
        der = base64.b64decode("".join(signature.find(
            f".//{{{DS}}}X509Certificate").text.split()))
        digest = cert.find(f"{{{XADES}}}CertDigest")
        digest.find(f"{{{DS}}}DigestMethod").set("Algorithm", DS + "sha1")
        digest.find(f"{{{DS}}}DigestValue").text = base64.b64encode(
            hashlib.sha1(der).digest()).decode()  # noqa: S324
    ids = resolve_ids(tree)
    for ref in signed_info.findall(f"{{{DS}}}Reference"):
        is_sp = ref.get("Type", "").endswith("#SignedProperties")
        method = ref.find(f"{{{DS}}}DigestMethod")
        if (is_sp and signed_properties_reference) or (not is_sp and reference):
            method.set("Algorithm", DS + "sha1")
        name = {DS + "sha1": "sha1"}.get(method.get("Algorithm"), "sha256")
        processed = process_reference(ref, tree=tree, ids=ids, signature=signature,
                                      external=None)
        ref.find(f"{{{DS}}}DigestValue").text = base64.b64encode(
            hashlib.new(name, processed.octets).digest()).decode()
    hash_name = "sha256"
    if signature_method:
        signed_info.find(f"{{{DS}}}SignatureMethod").set("Algorithm", DS + "rsa-sha1")
        hash_name = "sha1"
    value = raw_sign(key, _c14n_of(signed_info), hash_name)
    signature.find(f"{{{DS}}}SignatureValue").text = base64.b64encode(value).decode()
    out: bytes = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
    return out


TIME_STAMPING = ExtendedKeyUsageOID.TIME_STAMPING
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
EMAIL_PROTECTION = ExtendedKeyUsageOID.EMAIL_PROTECTION
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


def resign_ocsp(der: bytes, key: PrivateKey, hash_name: str) -> bytes:
    """An OCSP response re-signed over the same tbsResponseData with ``hash_name`` (cryptography
    refuses to sign OCSP with SHA-1; an old responder did not)."""
    from asn1crypto import ocsp as asn1_ocsp

    basic = asn1_ocsp.OCSPResponse.load(der)["response_bytes"]["response"].parsed
    tbs = basic["tbs_response_data"]
    resigned = asn1_ocsp.BasicOCSPResponse({
        "tbs_response_data": tbs,
        "signature_algorithm": {"algorithm": _sig_alg_name(key, hash_name)},
        "signature": raw_sign(key, tbs.dump(), hash_name),
        "certs": basic["certs"],
    })
    out: bytes = asn1_ocsp.OCSPResponse({
        "response_status": "successful",
        "response_bytes": {"response_type": "basic_ocsp_response", "response": resigned},
    }).dump()
    return out
