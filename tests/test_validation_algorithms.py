"""Every algorithm a binding rests on is checked against the sunset table (issue 11 part 3).

SHA-1 is put in each place a CAdES, PAdES and XAdES binding rests on — the SignerInfo signature
algorithm, the digestAlgorithm (message-digest), the ESS signing-certificate (v1) hash, a
signature-time-stamp's imprint and its own signature; a ds:Reference DigestMethod and the
ds:SignatureMethod — with the sample PKI's real signer and TSA keys (:mod:`forge_helpers`), and
validated in 2026: INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE_NO_POE naming the SHA-1 use,
through the library and ``ltv validate``. The same SHA-1 signature with a time-stamp made before
SHA-1's sunset (a policy whose sunset falls between the time-stamp and the validation) passes,
and says what it rests on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import SERVER_AT, PkiServer, ltv_cli
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from forge_helpers import (
    build_cms,
    build_token,
    byte_range_data,
    issue_signer,
    replace_contents,
    resign_ocsp,
    signature_value_of,
    with_signature_timestamp,
    xades_with_sha1,
)
from test_pades import make_pdf
from test_validation_signer_purpose import (
    CHECK_AT,
    CONTENT,
    SIGNED_AT,
    assert_refused,
    library_verdict,
    online_fetchers,
)

from ltv.cli._services import build_services
from ltv.clock import OffsetClock, format_time
from ltv.evidence import EvidenceSet
from ltv.keys import KeySigner, PrivateKey
from ltv.signing import Packaging, SignatureFormat, SignatureLevel, SigningOptions, sign
from ltv.validation import Indication, SubIndication, ValidationPolicy, validate
from samples.pki import CaName, SamplePki

NO_POE = SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE
TS_AT = SIGNED_AT + timedelta(minutes=1)


@pytest.fixture(scope="module")
def signer(pki: SamplePki) -> tuple[PrivateKey, list]:  # type: ignore[type-arg]
    key, cert = issue_signer(pki, at=SERVER_AT)
    return key, [cert, pki.card_ca, pki.root]


def _indeterminate(pki: SamplePki, data: bytes, tmp_path: Path, words: str,
                   suffix: str = ".p7s") -> None:
    assert_refused(pki, data, tmp_path, indication=Indication.INDETERMINATE, sub=NO_POE,
                   words=words, suffix=suffix)


# ---------------------------------------------------------------------------------------------
# CAdES


def test_forge_baseline_with_timestamp_passes(pki: SamplePki, pki_server: PkiServer,
                                              signer: tuple[PrivateKey, list]) -> None:  # type: ignore[type-arg]
    key, chain = signer
    p7s = build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT)
    token = build_token(pki, signature_value_of(p7s), at=TS_AT)
    assert library_verdict(pki, with_signature_timestamp(p7s, token))[:2] == (
        Indication.TOTAL_PASSED, None)


@pytest.mark.parametrize(("knobs", "words"), [
    ({"sig_hash": "sha1"}, "sha1 in the SignerInfo signatureAlgorithm sha1_rsa is not accepted "
                           "after 2016-01-01"),
    ({"digest": "sha1", "sig_hash": "sha256"},
     "sha1 in the SignerInfo digestAlgorithm (message-digest)"),
    ({"ess": "v1"}, "sha1 in the SignerInfo ESS signing-certificate (v1) certHash"),
    ({"ess_hash": "sha1"}, "sha1 in the SignerInfo ESS signing-certificate-v2 certHash"),
], ids=["signatureAlgorithm-sha1WithRSA", "digestAlgorithm-sha1", "ess-v1", "ess-v2-sha1"])
def test_cades_sha1_in_signer_info(pki: SamplePki, pki_server: PkiServer, tmp_path: Path,
                                   signer: tuple[PrivateKey, list],  # type: ignore[type-arg]
                                   knobs: dict[str, str], words: str) -> None:
    key, chain = signer
    data = build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT, **knobs)  # type: ignore[arg-type]
    _indeterminate(pki, data, tmp_path, words)


@pytest.mark.parametrize(("knobs", "words"), [
    ({"imprint_hash": "sha1"}, "sha1 in the signature-time-stamp message imprint"),
    ({"sig_hash": "sha1"}, "sha1 in the time-stamp token SignerInfo signatureAlgorithm sha1_rsa"),
    ({"digest": "sha1", "sig_hash": "sha256"},
     "sha1 in the time-stamp token SignerInfo digestAlgorithm"),
], ids=["imprint-sha1", "token-signature-sha1", "token-digest-sha1"])
def test_cades_sha1_in_signature_timestamp(pki: SamplePki, pki_server: PkiServer,
                                           tmp_path: Path,
                                           signer: tuple[PrivateKey, list],  # type: ignore[type-arg]
                                           knobs: dict[str, str], words: str) -> None:
    """A SHA-256 signature whose signature-time-stamp rests on SHA-1: the signature fails too
    (the time-stamp's report says why, the signature names it)."""
    key, chain = signer
    p7s = build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT)
    token = build_token(pki, signature_value_of(p7s), at=TS_AT, **knobs)  # type: ignore[arg-type]
    data = with_signature_timestamp(p7s, token)
    _indeterminate(pki, data, tmp_path, words)
    report = validate(data, policy=ValidationPolicy.default(trust_anchors=[pki.root]),
                      at=CHECK_AT, offline=True)
    ts = report.signatures[0].timestamps[0]
    assert (ts.indication, ts.subindication) == (Indication.INDETERMINATE, NO_POE)
    assert not ts.used_as_poe


# ---------------------------------------------------------------------------------------------
# SHA-1 with a proof of existence before its sunset


def _sunset_policy_file(tmp_path: Path) -> tuple[Path, datetime]:
    sunset = SIGNED_AT + timedelta(minutes=30)  # after TS_AT, before CHECK_AT
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"name": "sha1-until-sunset",
                                "digest_sunset": {"sha1": format_time(sunset)}}))
    return path, sunset


def test_sha1_with_poe_before_sunset_passes(pki: SamplePki, pki_server: PkiServer,
                                            tmp_path: Path,
                                            signer: tuple[PrivateKey, list]) -> None:  # type: ignore[type-arg]
    key, chain = signer
    all_sha1 = build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT, digest="sha1",
                         sig_hash="sha1", ess="v1")
    token = build_token(pki, signature_value_of(all_sha1), at=TS_AT)
    with_poe = with_signature_timestamp(all_sha1, token)
    policy_file, sunset = _sunset_policy_file(tmp_path)
    base = ValidationPolicy.default(trust_anchors=[pki.root])
    policy = replace(base, digest_sunset={**base.digest_sunset, "sha1": sunset})

    # library: without POE refused, with the time-stamp of TS_AT < sunset accepted
    got = library_verdict(pki, all_sha1, policy=policy)
    assert got[:2] == (Indication.INDETERMINATE, NO_POE), got
    report = validate(with_poe, policy=policy, at=CHECK_AT, offline=False,
                      fetchers=online_fetchers())
    sig = report.signatures[0]
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig.message
    assert sig.best_signature_time == TS_AT
    assert any("sha1 in the SignerInfo" in w and "accepted only through the proof of existence"
               in w for w in sig.warnings), sig.warnings

    # CLI, with the policy file's sunset
    for name, data, code, start in (("nopoe.p7s", all_sha1, 3, "INDETERMINATE: "),
                                    ("poe.p7s", with_poe, 0, "PASSED: ")):
        path = tmp_path / name
        path.write_bytes(data)
        result = ltv_cli("validate", path, "--trust", pki.directory / "root.pem",
                         "--at", format_time(CHECK_AT), "--policy", policy_file)
        assert result.returncode == code, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        assert len(lines) == 1, result.stdout
        assert lines[0].startswith(start + str(path)), result.stdout
        assert "Traceback" not in result.stderr
        if code == 3:
            assert f" {NO_POE.token} " in lines[0]


def test_default_policy_refuses_sha1_even_with_timestamp(pki: SamplePki,
                                                         pki_server: PkiServer,
                                                         signer: tuple[PrivateKey, list]) -> None:  # type: ignore[type-arg]
    """2026 is after the default sunset (2016): a 2026 time-stamp proves nothing earlier."""
    key, chain = signer
    p7s = build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT, sig_hash="sha1")
    data = with_signature_timestamp(p7s, build_token(pki, signature_value_of(p7s), at=TS_AT))
    assert library_verdict(pki, data)[:2] == (Indication.INDETERMINATE, NO_POE)


# ---------------------------------------------------------------------------------------------
# XAdES


@pytest.fixture(scope="module")
def enveloping(pki: SamplePki, signer: tuple[PrivateKey, list]) -> bytes:  # type: ignore[type-arg]
    key, chain = signer
    return sign(CONTENT, KeySigner(key), chain, SignatureFormat.XADES, SignatureLevel.B_B,
                SigningOptions(packaging=Packaging.ENVELOPING),
                services=build_services(pki=pki.directory, clock=OffsetClock(SIGNED_AT)))


def test_xades_resigned_control_passes(pki: SamplePki, pki_server: PkiServer,
                                       signer: tuple[PrivateKey, list],  # type: ignore[type-arg]
                                       enveloping: bytes) -> None:
    data = xades_with_sha1(enveloping, signer[0], reference=False, signature_method=False)
    assert library_verdict(pki, data)[:2] == (Indication.TOTAL_PASSED, None)


@pytest.mark.parametrize(("where", "words"), [
    ("reference", "sha1 in the ds:Reference '#"),
    ("signed_properties_reference", "sha1 in the ds:Reference SignedProperties DigestMethod"),
    ("cert_digest", "sha1 in the xades:SigningCertificateV2 CertDigest"),
    ("signature_method", "sha1 in the ds:SignatureMethod rsassa-pkcs1v15-sha1"),
], ids=["reference-digest-sha1", "signed-properties-digest-sha1", "cert-digest-sha1",
        "signature-method-rsa-sha1"])
def test_xades_sha1(pki: SamplePki, pki_server: PkiServer, tmp_path: Path,
                    signer: tuple[PrivateKey, list], enveloping: bytes,  # type: ignore[type-arg]
                    where: str, words: str) -> None:
    data = xades_with_sha1(enveloping, signer[0], **{where: True})
    _indeterminate(pki, data, tmp_path, words, suffix=".xml")


# ---------------------------------------------------------------------------------------------
# PAdES: the CMS-level uses


@pytest.fixture(scope="module")
def signed_pdf(pki: SamplePki, signer: tuple[PrivateKey, list]) -> bytes:  # type: ignore[type-arg]
    key, chain = signer
    return sign(make_pdf("Lease"), KeySigner(key), chain, SignatureFormat.PADES,
                SignatureLevel.B_B,
                services=build_services(pki=pki.directory, clock=OffsetClock(SIGNED_AT)))


def _pades_with(pdf: bytes, signer: tuple[PrivateKey, list], **knobs: str) -> bytes:  # type: ignore[type-arg]
    key, chain = signer
    data, _, _ = byte_range_data(pdf)
    digest = knobs.get("digest", "sha256")
    forged = build_cms(None, key, chain[0], chain[1:], at=SIGNED_AT,
                       detached_digest=hashlib.new(digest, data).digest(), **knobs)  # type: ignore[arg-type]
    return replace_contents(pdf, forged)


def test_pades_forged_cms_control_passes(pki: SamplePki, pki_server: PkiServer,
                                         signer: tuple[PrivateKey, list],  # type: ignore[type-arg]
                                         signed_pdf: bytes) -> None:
    assert library_verdict(pki, _pades_with(signed_pdf, signer))[:2] == (
        Indication.TOTAL_PASSED, None)


@pytest.mark.parametrize(("knobs", "words"), [
    ({"sig_hash": "sha1"}, "sha1 in the SignerInfo signatureAlgorithm sha1_rsa"),
    ({"digest": "sha1", "sig_hash": "sha256"},
     "sha1 in the SignerInfo digestAlgorithm (message-digest)"),
    ({"ess": "v1"}, "sha1 in the SignerInfo ESS signing-certificate (v1) certHash"),
], ids=["signatureAlgorithm-sha1WithRSA", "digestAlgorithm-sha1", "ess-v1"])
def test_pades_sha1(pki: SamplePki, pki_server: PkiServer, tmp_path: Path,
                    signer: tuple[PrivateKey, list], signed_pdf: bytes,  # type: ignore[type-arg]
                    knobs: dict[str, str], words: str) -> None:
    _indeterminate(pki, _pades_with(signed_pdf, signer, **knobs), tmp_path, words,
                   suffix=".pdf")


# ---------------------------------------------------------------------------------------------
# Revocation data: an OCSP response signed with SHA-1 gives no trustworthy status


def _ocsp_response(pki: SamplePki, cert: x509.Certificate, ca: CaName, hash_name: str) -> bytes:
    responder, key = pki.responder(ca)
    at = SIGNED_AT + timedelta(minutes=30)
    builder = (ocsp.OCSPResponseBuilder()
               .add_response(cert=cert, issuer=pki.ca_certificate(ca), algorithm=hashes.SHA256(),
                             cert_status=ocsp.OCSPCertStatus.GOOD, this_update=at,
                             next_update=at + timedelta(days=1), revocation_time=None,
                             revocation_reason=None)
               .responder_id(ocsp.OCSPResponderEncoding.HASH, responder)
               .certificates([responder]))
    der = builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)
    return der if hash_name == "sha256" else resign_ocsp(der, key, hash_name)


@pytest.mark.parametrize("weak", [False, True], ids=["sha256-ocsp", "sha1-ocsp"])
def test_ocsp_response_signature_algorithm(pki: SamplePki,
                                           signer: tuple[PrivateKey, list],  # type: ignore[type-arg]
                                           weak: bool) -> None:
    key, chain = signer
    data = build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT)
    evidence = EvidenceSet.of(ocsp_responses=[
        _ocsp_response(pki, chain[0], "card-ca", "sha1" if weak else "sha256"),
        _ocsp_response(pki, pki.card_ca, "root", "sha256"),
    ])
    report = validate(data, policy=ValidationPolicy.default(trust_anchors=[pki.root]),
                      at=CHECK_AT, offline=True, extra_evidence=evidence)
    sig = report.signatures[0]
    if not weak:
        assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig.message
        return
    assert (sig.indication, sig.subindication) == (Indication.INDETERMINATE, NO_POE)
    assert sig.message is not None
    assert sig.message.startswith(
        f"sha1 in the OCSP response about {chain[0].subject.rfc4514_string()}: its signature")


# ---------------------------------------------------------------------------------------------
# pyHanko's verdict on the same PAdES attacks (differences documented, issue 11)

#: attack → (pyHanko 0.38's ades_basic_validation verdict, why it differs from ours). Ours is
#: asserted by the tests above; these rows re-check pyHanko's and say why they differ.
PYHANKO_ON_ATTACKS: dict[str, tuple[tuple[str, str | None], str]] = {
    "intermediate-ca-key": (("TOTAL-PASSED", None),
                            "pyHanko does not check the signer's purpose (TESTING.md); we give "
                            "INDETERMINATE / CHAIN_CONSTRAINTS_FAILURE"),
    "sha1WithRSA": (("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE"),
                    "pyHanko's default policy bans SHA-1 without a date, so no POE can cure it; "
                    "our sunset table says 2016-01-01, hence CRYPTO_CONSTRAINTS_FAILURE_NO_POE"),
}


def _pyhanko(pki: SamplePki, data: bytes) -> tuple[str, str | None]:
    from test_validation_matrix import pyhanko_verdict

    from ltv.validation import pades
    from ltv.validation.process import gather_online

    policy = ValidationPolicy.default(trust_anchors=[pki.root])
    facts = pades.extract(data)
    known = gather_online(facts, facts[0].evidence, policy, online_fetchers(), [])
    return pyhanko_verdict(data, pki.root, CHECK_AT, basic=True, known=known)


@pytest.mark.parametrize("attack", list(PYHANKO_ON_ATTACKS))
def test_pyhanko_on_pades_attacks(pki: SamplePki, pki_server: PkiServer,
                                  signer: tuple[PrivateKey, list],  # type: ignore[type-arg]
                                  signed_pdf: bytes, attack: str) -> None:
    if attack == "intermediate-ca-key":
        data = sign(make_pdf("Lease"), KeySigner(pki.ca_key("card-ca")),
                    [pki.card_ca, pki.root], SignatureFormat.PADES, SignatureLevel.B_B,
                    services=build_services(pki=pki.directory, clock=OffsetClock(SIGNED_AT)))
        ours = (Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE)
    else:
        data = _pades_with(signed_pdf, signer, sig_hash="sha1")
        ours = (Indication.INDETERMINATE, NO_POE)
    assert library_verdict(pki, data)[:2] == ours
    documented, reason = PYHANKO_ON_ATTACKS[attack]
    assert _pyhanko(pki, data) == documented, f"pyHanko changed ({reason})"


def test_timestamp_ess_v1_is_not_refused(pki: SamplePki, pki_server: PkiServer,
                                         signer: tuple[PrivateKey, list]) -> None:  # type: ignore[type-arg]
    """A TSA that still writes ESSCertID v1 (SHA-1, as RFC 3161 once required) is accepted:
    only a second preimage could swap the certificate it names."""
    key, chain = signer
    p7s = build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT)
    token = build_token(pki, signature_value_of(p7s), at=TS_AT, ess="v1")
    report = validate(with_signature_timestamp(p7s, token),
                      policy=ValidationPolicy.default(trust_anchors=[pki.root]), at=CHECK_AT,
                      fetchers=online_fetchers())
    sig = report.signatures[0]
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig.message
    assert sig.best_signature_time == TS_AT


# ---------------------------------------------------------------------------------------------
# The report names the weakest algorithm (JSON ``weakest_algorithm``), for each format


def test_report_names_the_weakest_algorithm(pki: SamplePki, pki_server: PkiServer,
                                            tmp_path: Path,
                                            signer: tuple[PrivateKey, list],  # type: ignore[type-arg]
                                            enveloping: bytes, signed_pdf: bytes) -> None:
    """``weakest_algorithm`` is the use the NO_POE message names ({what, algorithm, sunset}),
    for CAdES, XAdES and PAdES, through ``ltv validate --json`` (and a row of ``--html``);
    null for an all-SHA-256 signature (no use has a sunset in the default table); the JSON
    stays schema-valid."""
    from jsonschema import Draft202012Validator

    from ltv.validation.report_json import json_schema

    key, chain = signer
    cases = [
        ("cades.p7s", build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT,
                                sig_hash="sha1"), "SignerInfo signatureAlgorithm sha1_rsa"),
        ("xades.xml", xades_with_sha1(enveloping, key, reference=True),
         "ds:Reference '#"),
        ("pades.pdf", _pades_with(signed_pdf, signer, ess="v1"),
         "SignerInfo ESS signing-certificate (v1) certHash"),
        ("honest.p7s", build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT), None),
    ]
    checker = Draft202012Validator(json_schema())
    for name, data, what in cases:
        path, out, html = tmp_path / name, tmp_path / f"{name}.json", tmp_path / f"{name}.html"
        path.write_bytes(data)
        result = ltv_cli("validate", path, "--trust", pki.directory / "root.pem",
                         "--at", format_time(CHECK_AT), "--json", out, "--html", html)
        assert result.returncode == (0 if what is None else 3), result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        report = json.loads(out.read_text("utf-8"))
        checker.validate(report)
        sig = report["signatures"][0]
        weakest = sig["weakest_algorithm"]
        if what is None:
            assert (sig["indication"], weakest) == ("TOTAL-PASSED", None), sig
            assert "Weakest algorithm" not in html.read_text("utf-8")
            continue
        assert sig["subindication"] == NO_POE.token
        assert weakest["what"].startswith(what), weakest
        assert weakest["algorithm"] == "sha1"
        assert weakest["sunset"] == "2016-01-01T00:00:00Z"
        assert f"sha1 in the {weakest['what']} is not accepted after 2016-01-01" in sig["message"]
        assert "<th>Weakest algorithm</th><td>sha1 in the " in html.read_text("utf-8")


def _crl(pki: SamplePki, ca: CaName, hash_name: str) -> bytes:
    at = SIGNED_AT + timedelta(minutes=30)
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(pki.ca_certificate(ca).subject)
               .last_update(at).next_update(at + timedelta(days=1)))
    der = builder.sign(pki.ca_key(ca), hashes.SHA256()).public_bytes(Encoding.DER)  # type: ignore[arg-type]
    if hash_name == "sha256":
        return der
    # re-signed over the same tbsCertList (cryptography refuses to sign with SHA-1)
    from asn1crypto import crl as asn1_crl
    from forge_helpers import _sig_alg_name, raw_sign

    tbs = asn1_crl.CertificateList.load(der)["tbs_cert_list"]
    key = pki.ca_key(ca)
    algorithm = _sig_alg_name(key, hash_name)  # type: ignore[arg-type]
    tbs["signature"] = {"algorithm": algorithm}
    out: bytes = asn1_crl.CertificateList({
        "tbs_cert_list": tbs, "signature_algorithm": {"algorithm": algorithm},
        "signature": raw_sign(key, tbs.dump(force=True), hash_name),  # type: ignore[arg-type]
    }).dump()
    return out


@pytest.mark.parametrize("weak", [False, True], ids=["sha256-crl", "sha1-crl"])
def test_crl_signature_algorithm(pki: SamplePki,
                                 signer: tuple[PrivateKey, list],  # type: ignore[type-arg]
                                 weak: bool) -> None:
    """The CRL half of "OCSP/CRL signatures used": a signer whose only revocation data is a
    CRL signed with SHA-1 gets no trustworthy status (CRYPTO_CONSTRAINTS_FAILURE_NO_POE)."""
    key, chain = signer
    data = build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT)
    evidence = EvidenceSet.of(crls=[_crl(pki, "card-ca", "sha1" if weak else "sha256"),
                                    _crl(pki, "root", "sha256")])
    report = validate(data, policy=ValidationPolicy.default(trust_anchors=[pki.root]),
                      at=CHECK_AT, offline=True, extra_evidence=evidence)
    sig = report.signatures[0]
    if not weak:
        assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig.message
        return
    assert (sig.indication, sig.subindication) == (Indication.INDETERMINATE, NO_POE), sig.message
    assert sig.message is not None
    assert sig.message.startswith(
        f"sha1 in the CRL of {pki.card_ca.subject.rfc4514_string()}: its signature"), sig.message
