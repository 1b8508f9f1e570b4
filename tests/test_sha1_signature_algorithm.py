"""Security review finding 8 (CAdES half): the hash inside the CMS ``signatureAlgorithm``
(``sha1WithRSAEncryption``) is checked against the policy's sunset too, not only the
SignerInfo's ``digestAlgorithm``. The review's reproducer: a legit signature's signed
attributes re-signed with RSA-SHA1 (then raised to B-LT so it validates offline) gave PASSED in
2026 although the policy sunsets SHA-1 in 2016.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from asn1crypto import algos, cms
from conftest import SERVER_AT, PkiServer
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from ltv.cli._services import build_services
from ltv.clock import OffsetClock
from ltv.signing import SignatureFormat, SignatureLevel, SigningOptions, extend, sign
from ltv.validation import Indication, SubIndication, ValidationPolicy, validate
from samples.phone import Phone
from samples.pki import SamplePki

SIGNED_AT = SERVER_AT + timedelta(hours=1)
DOC = b"A contract signed with a weak hash\n"


def _resign_sha1(signed: bytes, phone: Phone) -> bytes:
    key = load_pem_private_key((phone.directory / "secure-element" / "key.pem").read_bytes(),
                               None)
    assert isinstance(key, rsa.RSAPrivateKey)
    info = cms.ContentInfo.load(signed)
    signer_info = info["content"]["signer_infos"][0]
    set_der = b"\x31" + signer_info["signed_attrs"].dump()[1:]
    signer_info["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "sha1_rsa"})
    signer_info["signature"] = key.sign(set_der, padding.PKCS1v15(),
                                        hashes.SHA1())  # noqa: S303
    return info.dump(force=True)


@pytest.mark.parametrize("weak", [False, True], ids=["sha256", "sha1-signature-algorithm"])
def test_sha1_in_the_signature_algorithm_is_refused(pki: SamplePki, pki_server: PkiServer,
                                                    phone_rsa: Phone, weak: bool) -> None:
    services = build_services(pki=pki.directory, clock=OffsetClock(SIGNED_AT))
    signed = sign(DOC, phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                  SignatureFormat.CADES, SignatureLevel.B_B, SigningOptions(detached=True),
                  services=services)
    if weak:
        signed = _resign_sha1(signed, phone_rsa)
    lt = extend(signed, SignatureFormat.CADES, SignatureLevel.B_LT, detached_content=DOC,
                services=services)
    report = validate(lt, policy=ValidationPolicy.default(trust_anchors=[pki.root]),
                      at=SIGNED_AT + timedelta(hours=2), offline=True, detached_content=DOC)
    [sig] = report.signatures
    if not weak:
        assert sig.indication is Indication.TOTAL_PASSED, (sig.message, sig.errors)
        return
    assert sig.indication is Indication.INDETERMINATE, sig.message
    assert sig.subindication in (SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                                 SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE)
    assert "sha1" in (sig.message or "").lower(), sig.message


# --- XAdES half: a SHA-1 ds:Reference DigestMethod under an RSA-SHA256 SignatureMethod -------

_SHA1_URI = "http://www.w3.org/2000/09/xmldsig#sha1"
XML = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
       b'<contract xmlns="urn:example:contract"><amount>100</amount></contract>\n')


def _sha1_reference(signed: bytes, phone: Phone) -> bytes:
    """The review's XAdES reproducer: the data object's reference digested with SHA-1, and
    SignedInfo re-signed (RSA-SHA256), as a third-party signer would make it."""
    import base64
    import hashlib

    from lxml import etree  # type: ignore[import-untyped,unused-ignore]
    from test_xades_signed_objects import resign
    from xades_helpers import NS

    from ltv.formats._xmldsig import process_reference, resolve_ids

    root = etree.fromstring(signed)
    tree = root.getroottree()
    [ref] = [r for r in root.findall("ds:SignedInfo/ds:Reference", NS)
             if "SignedProperties" not in (r.get("Type") or "")]
    processed = process_reference(ref, tree=tree, ids=resolve_ids(tree), signature=root,
                                  external=None)
    ref.find("ds:DigestMethod", NS).set("Algorithm", _SHA1_URI)
    ref.find("ds:DigestValue", NS).text = base64.b64encode(
        hashlib.sha1(processed.octets).digest()).decode()  # noqa: S324
    resign(root, phone)
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return out


@pytest.mark.parametrize("weak", [False, True], ids=["sha256", "sha1-reference"])
def test_sha1_reference_digest_is_refused(pki: SamplePki, pki_server: PkiServer,
                                          phone_rsa: Phone, weak: bool) -> None:
    from ltv.signing import Packaging

    services = build_services(pki=pki.directory, clock=OffsetClock(SIGNED_AT))
    signed = sign(XML, phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                  SignatureFormat.XADES, SignatureLevel.B_B,
                  SigningOptions(packaging=Packaging.ENVELOPING), services=services)
    if weak:
        signed = _sha1_reference(signed, phone_rsa)
    lt = extend(signed, SignatureFormat.XADES, SignatureLevel.B_LT, services=services)
    report = validate(lt, policy=ValidationPolicy.default(trust_anchors=[pki.root]),
                      at=SIGNED_AT + timedelta(hours=2), offline=True)
    [sig] = report.signatures
    if not weak:
        assert sig.indication is Indication.TOTAL_PASSED, (sig.message, sig.errors)
        return
    assert sig.signed_data_objects is not None
    assert "sha1" in {o.digest_algorithm for o in sig.signed_data_objects}  # really SHA-1
    assert sig.indication is Indication.INDETERMINATE, sig.message
    assert sig.subindication in (SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                                 SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE)
    assert "sha1" in (sig.message or "").lower(), sig.message
