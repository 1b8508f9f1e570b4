"""The memos of certificate path validation (issue #15) never change a verdict.

Every memo remembers a pure function's result under all of its inputs (ltv._certder: the
certificate object; ltv.validation._certvalidator_memo: successful signature checks and no-check
OCSP responder authorisations; certpath's shared Name hashables; revocation's responder
checks). Each test validates a good case first, in the same process, so the memos are warm,
then a case that must come out differently: a revocation published after a pass, another
validation time, another trust store, another algorithm policy, and forged certificates that
copy the good one's subject, serial number and even its signature value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from asn1crypto import algos, keys
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from conftest import PKI_EPOCH
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ltv import _certder, revocation
from ltv.errors import RevocationError
from ltv.evidence import EvidenceSet
from ltv.revocation import CertStatus, RevocationReason, parse_ocsp_response
from ltv.validation import _certvalidator_memo as memo
from ltv.validation import certpath
from ltv.validation.certpath import (
    PARSED,
    CertificateChecker,
    CertRole,
    PathOutcome,
    PoeLedger,
    _asn1,
)
from ltv.validation.model import SubIndication
from ltv.validation.policy import ValidationPolicy
from samples.pki import SamplePki, SerialStatus, generate_key
from samples.responders import OcspSigner, respond_ocsp

AT = PKI_EPOCH + timedelta(days=30)  # validation time of the good case
ANSWERED = AT - timedelta(hours=1)  # when the OCSP responses were produced
GOOD = SerialStatus(status=CertStatus.GOOD)


class Chain:
    """A smartphone-CA end entity of the session PKI, its CA and root, their responders."""

    def __init__(self, pki: SamplePki) -> None:
        self.pki = pki
        self.key = generate_key("p256")
        self.ee = pki.issue_end_entity(self.key.public_key(), kind="smartphone",
                                       at=PKI_EPOCH)
        self.ca = pki.smartphone_ca
        self.root = pki.root
        self.ca_responder = pki.responder("smartphone-ca")
        self.root_responder = pki.responder("root")
        self.ca_ocsp = answer(self.root, self.ca, self.root_responder, GOOD, ANSWERED)

    def evidence(self, ee_ocsp: bytes, *, responder: x509.Certificate | None = None,
                 ee: x509.Certificate | None = None) -> EvidenceSet:
        return EvidenceSet.of(
            certificates=[ee or self.ee, self.ca, self.root,
                          responder or self.ca_responder[0], self.root_responder[0]],
            ocsp_responses=[ee_ocsp, self.ca_ocsp])

    def good_ocsp(self, when: datetime = ANSWERED) -> bytes:
        return answer(self.ca, self.ee, self.ca_responder, GOOD, when)


def answer(issuer: x509.Certificate, cert: x509.Certificate,
           responder: tuple[x509.Certificate, object], status: SerialStatus,
           when: datetime) -> bytes:
    request = ocsp.OCSPRequestBuilder().add_certificate(
        cert, issuer, hashes.SHA256()).build().public_bytes(Encoding.DER)
    signer = OcspSigner(ca_certificate=issuer, responder_certificate=responder[0],
                        responder_key=responder[1],  # type: ignore[arg-type]
                        status_of=lambda serial, at: status)
    return respond_ocsp(request, signer=signer, now=when)


def check(cert: x509.Certificate, evidence: EvidenceSet, *, at: datetime = AT,
          anchors: Sequence[x509.Certificate], policy: ValidationPolicy | None = None,
          role: str = CertRole.SIGNER) -> PathOutcome:
    policy = policy or ValidationPolicy.default(trust_anchors=anchors)
    checker = CertificateChecker(policy=policy, at=at, evidence=evidence)
    return asyncio.run(checker.validate_at(cert, usage_time=at, ledger=PoeLedger(at),
                                           role=role))


def forget_everything() -> None:
    """Empty every memo and cache of the decisions (a cold process, as far as they go)."""
    revocation.VERIFIED.clear()
    revocation._cert_id_memo.clear()
    revocation._key_id_memo.clear()
    memo.PROVENANCE.clear()
    memo.SIGNATURES.clear()
    _certder.clear()
    PARSED.clear()
    certpath._TEMPLATES.clear()


def warm_equals_cold(cert: x509.Certificate, evidence: EvidenceSet, **kw: object
                     ) -> PathOutcome:
    """The outcome with the memos as earlier checks left them, asserted equal to the outcome
    in a cold process."""
    warm = check(cert, evidence, **kw)  # type: ignore[arg-type]
    forget_everything()
    cold = check(cert, evidence, **kw)  # type: ignore[arg-type]
    assert (warm.subindication, warm.message, warm.revocation_time) == (
        cold.subindication, cold.message, cold.revocation_time)
    return warm


@pytest.fixture(scope="module")
def chain(pki: SamplePki) -> Chain:
    return Chain(pki)


def _passes(chain: Chain, ocsp_der: bytes | None = None, **kw: object) -> PathOutcome:
    outcome = check(chain.ee, chain.evidence(ocsp_der or chain.good_ocsp()),
                    anchors=[chain.root], **kw)  # type: ignore[arg-type]
    assert outcome.ok, outcome.message
    return outcome


def test_a_revocation_after_a_pass_is_seen(chain: Chain) -> None:
    _passes(chain)
    hits = memo.PROVENANCE.hits
    revoked = answer(chain.ca, chain.ee, chain.ca_responder,
                     SerialStatus(status=CertStatus.REVOKED,
                                  revocation_time=ANSWERED - timedelta(hours=1),
                                  reason=RevocationReason.KEY_COMPROMISE), ANSWERED)
    outcome = check(chain.ee, chain.evidence(revoked), anchors=[chain.root])
    assert memo.PROVENANCE.hits > hits  # the responder's authorisation came from the memo
    assert outcome.subindication is SubIndication.REVOKED_NO_POE
    assert outcome.revocation_time == ANSWERED - timedelta(hours=1)
    _passes(chain)
    assert warm_equals_cold(chain.ee, chain.evidence(revoked), anchors=[chain.root]) == outcome
    _passes(chain)  # and the memo was not spoiled by the revoked answer


def test_another_validation_time_is_judged_afresh(pki: SamplePki, chain: Chain) -> None:
    """A no-check responder that expires between two validation times: its authorisation at
    the first is remembered, never reused at the second."""
    end = AT + timedelta(days=1)
    key = ec.generate_private_key(ec.SECP256R1())
    responder = _responder(pki, chain, key, end=end)
    produced = end - timedelta(hours=2)
    ee_ocsp = answer(chain.ca, chain.ee, (responder, key), GOOD, produced)
    ca_ocsp = answer(chain.root, chain.ca, chain.root_responder, GOOD, produced)
    evidence = EvidenceSet.of(certificates=[chain.ee, chain.ca, chain.root, responder,
                                            chain.root_responder[0]],
                              ocsp_responses=[ee_ocsp, ca_ocsp])
    before, after = end - timedelta(hours=1), end + timedelta(hours=1)
    assert check(chain.ee, evidence, at=before, anchors=[chain.root]).ok
    late = warm_equals_cold(chain.ee, evidence, at=after, anchors=[chain.root])
    assert not late.ok
    assert late.subindication is SubIndication.TRY_LATER
    assert check(chain.ee, evidence, at=before, anchors=[chain.root]).ok


def test_another_trust_store_is_judged_afresh(chain: Chain) -> None:
    """A stranger root with the real root's name (and so the same Name hashable) after a pass:
    no chain; the real root again: a pass."""
    _passes(chain)
    key = generate_key("rsa2048")
    stranger = (x509.CertificateBuilder()
                .subject_name(chain.root.subject).issuer_name(chain.root.subject)
                .public_key(key.public_key()).serial_number(chain.root.serial_number)
                .not_valid_before(PKI_EPOCH).not_valid_after(AT + timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                .sign(key, hashes.SHA256()))
    outcome = warm_equals_cold(chain.ee, chain.evidence(chain.good_ocsp()), anchors=[stranger])
    assert not outcome.ok
    assert outcome.subindication in (SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
                                     SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                                     SubIndication.CHAIN_CONSTRAINTS_FAILURE)
    _passes(chain)


def test_another_algorithm_policy_is_judged_afresh(chain: Chain) -> None:
    """RSA-2048 past its sunset in a second policy: the remembered signatures and responder
    authorisations of the default policy do not carry over."""
    _passes(chain)
    strict = ValidationPolicy.default(trust_anchors=[chain.root])
    strict.key_sunset["rsa-2048"] = AT - timedelta(days=1)
    outcome = warm_equals_cold(chain.ee, chain.evidence(chain.good_ocsp()),
                               anchors=[chain.root], policy=strict)
    assert not outcome.ok
    assert outcome.subindication is SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE
    _passes(chain)


def test_a_responder_authorisation_depends_on_the_algorithm_policy(pki: SamplePki,
                                                                   chain: Chain) -> None:
    """Only the responder's certificate rests on SHA-384: a policy past SHA-384's sunset
    refuses its answers, after the default policy accepted them in the same process."""
    key = ec.generate_private_key(ec.SECP256R1())
    responder = _responder(pki, chain, key, end=AT + timedelta(days=30),
                           digest=hashes.SHA384())
    evidence = chain.evidence(answer(chain.ca, chain.ee, (responder, key), GOOD, ANSWERED),
                              responder=responder)
    assert check(chain.ee, evidence, anchors=[chain.root]).ok
    strict = ValidationPolicy.default(trust_anchors=[chain.root])
    strict.digest_sunset["sha384"] = AT - timedelta(days=1)
    outcome = warm_equals_cold(chain.ee, evidence, anchors=[chain.root], policy=strict)
    assert outcome.subindication is SubIndication.TRY_LATER
    assert check(chain.ee, evidence, anchors=[chain.root]).ok


def _responder(pki: SamplePki, chain: Chain, key: ec.EllipticCurvePrivateKey, *,
               end: datetime, digest: hashes.HashAlgorithm | None = None
               ) -> x509.Certificate:
    """A delegated no-check responder of the smartphone CA, valid until ``end``."""
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                        "Short-lived responder")]))
            .issuer_name(chain.ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(PKI_EPOCH).not_valid_after(end)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False)
            .add_extension(x509.OCSPNoCheck(), False)
            .sign(pki.ca_key("smartphone-ca"), digest or hashes.SHA256()))  # type: ignore[arg-type]


def _forge(good: x509.Certificate, key: ec.EllipticCurvePrivateKey, *,
           keep_signature: bool) -> x509.Certificate:
    """``good`` with ``key``'s public key: same subject, issuer, serial and extensions; signed
    by ``key`` (as an attacker would), or (``keep_signature``) carrying ``good``'s own
    signature value and algorithm over the changed content."""
    parsed = asn1_x509.Certificate.load(good.public_bytes(Encoding.DER))
    tbs = parsed["tbs_certificate"].copy()
    tbs["subject_public_key_info"] = keys.PublicKeyInfo.load(
        key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
    if keep_signature:
        algorithm = parsed["signature_algorithm"].copy()
        signature = parsed["signature_value"].native
    else:
        tbs["signature"] = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"})
        algorithm = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"})
        signature = key.sign(tbs.dump(force=True), ec.ECDSA(hashes.SHA256()))
    forged = asn1_x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": algorithm,
                                    "signature_value": signature})
    return x509.load_der_x509_certificate(forged.dump(force=True))


@pytest.mark.parametrize("keep_signature", [False, True])
def test_a_forged_signer_after_the_good_one_fails(chain: Chain, keep_signature: bool) -> None:
    _passes(chain)
    forged = _forge(chain.ee, ec.generate_private_key(ec.SECP256R1()),
                    keep_signature=keep_signature)
    assert forged.subject == chain.ee.subject
    assert forged.serial_number == chain.ee.serial_number
    # the good OCSP answer matches the forged certificate's serial and issuer: only the
    # certificate's signature stands between it and a pass
    outcome = warm_equals_cold(forged, chain.evidence(chain.good_ocsp(), ee=forged),
                               anchors=[chain.root])
    assert not outcome.ok
    assert outcome.subindication is not None
    _passes(chain)


@pytest.mark.parametrize("keep_signature", [False, True])
def test_a_forged_responder_after_the_good_one_is_not_authorised(
        chain: Chain, keep_signature: bool) -> None:
    """A no-check responder certificate with the real one's subject, serial and extensions
    (and even its signature value), its key the attacker's: its "good" proves nothing."""
    _passes(chain)
    parse_ocsp_response(chain.good_ocsp(), certificate=chain.ee, issuer=chain.ca)
    key = ec.generate_private_key(ec.SECP256R1())
    forged = _forge(chain.ca_responder[0], key, keep_signature=keep_signature)
    assert forged.subject == chain.ca_responder[0].subject
    fake_good = answer(chain.ca, chain.ee, (forged, key), GOOD, ANSWERED)
    with pytest.raises(RevocationError, match="signed neither"):
        parse_ocsp_response(fake_good, certificate=chain.ee, issuer=chain.ca)
    outcome = warm_equals_cold(chain.ee, chain.evidence(fake_good, responder=forged),
                               anchors=[chain.root])
    assert not outcome.ok
    # refused as unauthorised (TRY_LATER: no usable revocation data), or, for an EC-signed
    # forgery under the CA's RSA key, pyhanko-certvalidator's own failure on the mismatch
    assert outcome.subindication in (SubIndication.TRY_LATER,
                                     SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE)
    parse_ocsp_response(chain.good_ocsp(), certificate=chain.ee, issuer=chain.ca)
    _passes(chain)


def test_certificate_der_is_each_objects_own(chain: Chain, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    """Equal certificates are distinct objects with the same DER; different ones never share
    an entry, also after evictions."""
    monkeypatch.setattr(_certder, "MAX_ENTRIES", 3)
    certs = [chain.ee, chain.ca, chain.root, *(x509.load_der_x509_certificate(
        c.public_bytes(Encoding.DER)) for c in (chain.ee, chain.ca, chain.root))]
    for _ in range(3):
        for cert in certs:
            assert _certder.certificate_der(cert) == cert.public_bytes(Encoding.DER)
    assert len(_certder._entries) <= 3


def test_signature_memo_remembers_only_what_verified(chain: Chain) -> None:
    validator = memo.MemoSignatureValidator()
    ca = asn1_x509.Certificate.load(chain.ca.public_bytes(Encoding.DER))
    ee = asn1_x509.Certificate.load(chain.ee.public_bytes(Encoding.DER))
    tbs = ee["tbs_certificate"].dump()
    args = (ee["signature_value"].native, tbs, ca.public_key, ee["signature_algorithm"])
    validator.validate_signature(*args)
    validator.validate_signature(*args)  # remembered
    for _ in range(2):  # a tampered byte never verifies, remembered or not
        with pytest.raises(InvalidSignature):
            validator.validate_signature(args[0], tbs[:-1] + bytes([tbs[-1] ^ 1]), *args[2:])
    other = keys.PublicKeyInfo.load(chain.root.public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(InvalidSignature):
        validator.validate_signature(args[0], tbs, other, args[3])


def _altered(der: bytes, *, algorithm: str | None = None, flip: bool = False) -> bytes:
    """The OCSP response with its signatureAlgorithm replaced, or a bit of its signature
    value flipped (tbsResponseData kept)."""
    response = asn1_ocsp.OCSPResponse.load(der)
    basic = response["response_bytes"]["response"].parsed.copy()
    if algorithm is not None:
        basic["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": algorithm})
    if flip:
        value = bytearray(basic["signature"].native)
        value[-1] ^= 1
        basic["signature"] = bytes(value)
    response["response_bytes"]["response"] = basic
    return bytes(response.dump(force=True))


@pytest.mark.parametrize("change", [{"algorithm": "sha384_rsa"}, {"flip": True}])
def test_an_altered_ocsp_signature_is_checked_afresh(chain: Chain,
                                                     change: dict[str, object]) -> None:
    """The same tbsResponseData, the signature algorithm changed from sha256WithRSA to
    sha384WithRSA or a bit of the signature flipped: refused after the genuine response
    verified."""
    good = chain.good_ocsp()
    parse_ocsp_response(good, certificate=chain.ee, issuer=chain.ca)
    _passes(chain, good)
    relabelled = _altered(good, **change)  # type: ignore[arg-type]
    with pytest.raises(RevocationError, match="does not verify"):
        parse_ocsp_response(relabelled, certificate=chain.ee, issuer=chain.ca)
    outcome = warm_equals_cold(chain.ee, chain.evidence(relabelled), anchors=[chain.root])
    assert outcome.subindication is SubIndication.TRY_LATER
    parse_ocsp_response(good, certificate=chain.ee, issuer=chain.ca)


def test_cert_id_hashes_are_each_issuers_own(pki: SamplePki, chain: Chain) -> None:
    """A re-keyed CA (same name, another key) after the first: its own issuerKeyHash."""
    key = generate_key("rsa2048")
    rekeyed = (x509.CertificateBuilder().subject_name(chain.ca.subject)
               .issuer_name(chain.root.subject).public_key(key.public_key())
               .serial_number(chain.ca.serial_number)
               .not_valid_before(PKI_EPOCH).not_valid_after(AT + timedelta(days=365))
               .sign(pki.ca_key("root"), hashes.SHA256()))  # type: ignore[arg-type]
    first = revocation.cert_id_hashes(chain.ca, hashes.SHA256())
    second = revocation.cert_id_hashes(rekeyed, hashes.SHA256())
    assert first[0] == second[0]  # the same name
    assert first[1] != second[1]
    request = ocsp.OCSPRequestBuilder().add_certificate(
        chain.ee, rekeyed, hashes.SHA256()).build()
    assert (request.issuer_name_hash, request.issuer_key_hash) == second


def test_a_sunset_between_two_validation_times_is_seen(pki: SamplePki, chain: Chain) -> None:
    """One policy, SHA-384 (only the responder's certificate rests on it) setting between two
    validation times: the responder's authorisation before the sunset is not reused after."""
    key = ec.generate_private_key(ec.SECP256R1())
    responder = _responder(pki, chain, key, end=AT + timedelta(days=30),
                           digest=hashes.SHA384())
    evidence = chain.evidence(answer(chain.ca, chain.ee, (responder, key), GOOD, ANSWERED),
                              responder=responder)
    sunset = AT + timedelta(hours=2)
    policy = ValidationPolicy.default(trust_anchors=[chain.root])
    policy.digest_sunset["sha384"] = sunset
    before, after = sunset - timedelta(hours=1), sunset + timedelta(hours=1)
    assert check(chain.ee, evidence, at=before, anchors=[chain.root], policy=policy).ok
    assert check(chain.ee, evidence, at=before - timedelta(minutes=5), anchors=[chain.root],
                 policy=policy).ok
    late = warm_equals_cold(chain.ee, evidence, at=after, anchors=[chain.root],
                            policy=policy)
    assert late.subindication is SubIndication.TRY_LATER
    assert check(chain.ee, evidence, at=before, anchors=[chain.root], policy=policy).ok
    assert check(chain.ee, evidence, at=after, anchors=[chain.root], policy=policy) == late


def test_a_copied_registry_is_a_fresh_one(chain: Chain) -> None:
    """The registry each validation gets (copied from one built per extra-certificate set) is
    in the state pyhanko-certvalidator's own bootstrap leaves, and copies share no lists."""
    from pyhanko_certvalidator.context import bootstrap_validation_data_handlers

    checker = CertificateChecker(policy=ValidationPolicy.default(trust_anchors=[chain.root]),
                                 at=AT, evidence=chain.evidence(chain.good_ocsp()))
    extra = [chain.ee, chain.root]
    ours = checker._handlers(PoeLedger(AT).manager(), extra).cert_registry
    again = checker._handlers(PoeLedger(AT).manager(), extra).cert_registry
    fresh = bootstrap_validation_data_handlers(
        fetchers=None, crls=checker._pool.crls, ocsps=checker._pool.ocsps,
        certs=[*checker._pool.certs, *(_asn1(c) for c in extra)],
        poe_manager=PoeLedger(AT).manager()).cert_registry
    assert vars(ours).keys() == vars(fresh).keys()
    for name, value in vars(fresh).items():
        mine = vars(ours)[name]
        if isinstance(value, dict):
            assert list(mine) == list(value), name
            assert all(mine[k] is value[k] or mine[k] == value[k] for k in value), name
        else:
            assert mine == value, name
    for name in ("_subject_map", "_key_identifier_map", "_key_hash_map"):
        for entries in vars(ours)[name].values():
            entries.append(None)
        assert None not in [c for v in vars(again)[name].values() for c in v], name


def test_a_certificate_whose_name_does_not_decode_fails_where_it_did(chain: Chain) -> None:
    """Preparing shared certificates (names' comparison form, DER) must not move a decoding
    failure: the checker is built as before and the failure comes from the validation."""
    data = chain.ee.public_bytes(Encoding.DER)
    name = chain.ee.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value.encode()
    at = data.index(name)
    junk = x509.load_der_x509_certificate(data[:at] + b"\xff" + data[at + 1:])
    evidence = EvidenceSet.of(certificates=[junk, *chain.evidence(chain.good_ocsp()).certificates],
                              ocsp_responses=[chain.good_ocsp()])
    checker = CertificateChecker(policy=ValidationPolicy.default(trust_anchors=[chain.root]),
                                 at=AT, evidence=evidence)
    with pytest.raises(UnicodeDecodeError):
        asyncio.run(checker.validate_at(chain.ee, usage_time=AT, ledger=PoeLedger(AT),
                                        role=CertRole.SIGNER))
