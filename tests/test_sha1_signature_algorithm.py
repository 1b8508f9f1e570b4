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
