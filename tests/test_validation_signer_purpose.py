"""Signer purpose (issue 11 part 1) and malformed CMS (part 5, CMS half), attacked from the
sample PKI's real keys.

Each attack is built here (:mod:`forge_helpers`): documents signed with the root CA key, an
intermediate CA key, the TSA key, the OCSP responder key, a signer whose key usage allows
neither digitalSignature nor nonRepudiation, one whose EKU is timeStamping only or clientAuth
only; a bare RFC 3161 token validated as a document; CMS structures with an attribute
certificate or garbage in the certificates set, duplicate or missing signed attributes, an
unparsable signature-time-stamp token. Each is validated online against the live sample
servers through the library and through ``ltv validate`` (exit code, the one stdout line, no
traceback on stderr).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from conftest import SERVER_AT, PkiServer, ltv_cli
from forge_helpers import (
    CLIENT_AUTH,
    DOCUMENT_SIGNING,
    EMAIL_PROTECTION,
    TIME_STAMPING,
    attr,
    build_cms,
    issue_signer,
    raw_signature_timestamp,
    standard_attrs,
    tsa_key,
)
from test_pades import make_pdf

from ltv.algorithms import DigestAlgorithm
from ltv.cli._services import build_services
from ltv.clock import OffsetClock, format_time
from ltv.keys import KeySigner, PrivateKey
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.signing import Packaging, SignatureFormat, SignatureLevel, SigningOptions, sign
from ltv.validation import (
    Indication,
    RevocationFetchers,
    SubIndication,
    ValidationPolicy,
    validate,
)
from samples.pki import SamplePki

CONTENT = b"Contract: the buyer pays 100 JPY per month.\n" * 20
SIGNED_AT = SERVER_AT + timedelta(hours=1)
CHECK_AT = SIGNED_AT + timedelta(hours=1)
CHAIN = SubIndication.CHAIN_CONSTRAINTS_FAILURE
FORMAT = SubIndication.FORMAT_FAILURE


def online_fetchers() -> RevocationFetchers:
    return RevocationFetchers(ocsp=HttpOCSPFetcher(timeout=5), crl=HttpCRLFetcher(timeout=5),
                              certificates=HttpCertificateFetcher(timeout=5))


def library_verdict(pki: SamplePki, data: bytes, *, policy: ValidationPolicy | None = None,
                    detached: bytes | None = None) -> tuple[Indication, SubIndication | None,
                                                            str]:
    report = validate(data, policy=policy or ValidationPolicy.default(trust_anchors=[pki.root]),
                      at=CHECK_AT, fetchers=online_fetchers(), detached_content=detached)
    assert len(report.signatures) == 1
    sig = report.signatures[0]
    return sig.indication, sig.subindication, sig.message or ""


def assert_refused(pki: SamplePki, data: bytes, tmp_path: Path, *, indication: Indication,
                   sub: SubIndication, words: str, suffix: str = ".p7s",
                   detached: bytes | None = None) -> None:
    """The library and ``ltv validate`` both give ``indication``/``sub`` with ``words`` in the
    reason; the CLI prints one verdict line, at most one diagnostic line and no traceback."""
    got = library_verdict(pki, data, detached=detached)
    assert got[:2] == (indication, sub), got
    assert words in got[2], got[2]
    path = tmp_path / f"attack{suffix}"
    path.write_bytes(data)
    args: list[str | Path] = ["validate", path, "--trust", pki.directory / "root.pem",
                              "--at", format_time(CHECK_AT)]
    if detached is not None:
        (tmp_path / "content.bin").write_bytes(detached)
        args += ["--detached", tmp_path / "content.bin"]
    result = ltv_cli(*args)
    word = "FAILED" if indication is Indication.TOTAL_FAILED else "INDETERMINATE"
    assert result.returncode == (1 if word == "FAILED" else 3), result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith(f"{word}: {path} {sub.token} "), lines[0]
    assert words in lines[0]
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 1, result.stderr  # diagnostics: one line each


# ---------------------------------------------------------------------------------------------
# Signers that must not sign documents (CAdES)

Attack = Callable[[SamplePki], tuple[PrivateKey, list]]  # type: ignore[type-arg]


def _root(pki: SamplePki) -> tuple[PrivateKey, list]:  # type: ignore[type-arg]
    return pki.ca_key("root"), [pki.root]


def _card_ca(pki: SamplePki) -> tuple[PrivateKey, list]:  # type: ignore[type-arg]
    return pki.ca_key("card-ca"), [pki.card_ca, pki.root]


def _tsa(pki: SamplePki) -> tuple[PrivateKey, list]:  # type: ignore[type-arg]
    key, cert = tsa_key(pki, SIGNED_AT)
    return key, [cert, pki.root]


def _ocsp(pki: SamplePki) -> tuple[PrivateKey, list]:  # type: ignore[type-arg]
    cert, key = pki.responder("card-ca")
    return key, [cert, pki.card_ca, pki.root]


def _no_signing_usage(pki: SamplePki) -> tuple[PrivateKey, list]:  # type: ignore[type-arg]
    key, cert = issue_signer(pki, at=SERVER_AT, digital_signature=False,
                             non_repudiation=False, key_encipherment=True)
    return key, [cert, pki.card_ca, pki.root]


def _timestamping_eku(pki: SamplePki) -> tuple[PrivateKey, list]:  # type: ignore[type-arg]
    key, cert = issue_signer(pki, at=SERVER_AT, eku=[TIME_STAMPING])
    return key, [cert, pki.card_ca, pki.root]


def _client_auth_eku(pki: SamplePki) -> tuple[PrivateKey, list]:  # type: ignore[type-arg]
    key, cert = issue_signer(pki, at=SERVER_AT, eku=[CLIENT_AUTH])
    return key, [cert, pki.card_ca, pki.root]


ATTACKS: dict[str, tuple[Attack, str]] = {
    "root-ca-key": (_root, "is a trust anchor of the policy"),
    "intermediate-ca-key": (_card_ca, "is a CA certificate (basicConstraints cA=TRUE)"),
    "tsa-key": (_tsa, "is a time-stamping unit's (extended key usage timeStamping only)"),
    "ocsp-responder-key": (_ocsp, "is an OCSP responder's (extended key usage OCSPSigning only)"),
    "no-digitalSignature-no-nonRepudiation": (
        _no_signing_usage, "allows neither digitalSignature nor nonRepudiation"),
    "timeStamping-only-eku": (_timestamping_eku, "is a time-stamping unit's"),
    "clientAuth-only-eku": (_client_auth_eku,
                            "extended key usage (clientAuth) allows no document signing"),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_cades_signer_purpose_refused(pki: SamplePki, pki_server: PkiServer, tmp_path: Path,
                                      name: str) -> None:
    make, words = ATTACKS[name]
    key, chain = make(pki)
    data = build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT)
    assert_refused(pki, data, tmp_path, indication=Indication.INDETERMINATE, sub=CHAIN,
                   words=words)


def test_cades_signer_purpose_refused_through_ltv_signing(pki: SamplePki,
                                                          pki_server: PkiServer,
                                                          tmp_path: Path) -> None:
    """The same refusal for a signature made by ltv's own builder with the card CA's key."""
    key, chain = _card_ca(pki)
    data = sign(CONTENT, KeySigner(key), chain, SignatureFormat.CADES, SignatureLevel.B_B,
                services=build_services(pki=pki.directory, clock=OffsetClock(SIGNED_AT)))
    assert_refused(pki, data, tmp_path, indication=Indication.INDETERMINATE, sub=CHAIN,
                   words="cA=TRUE")


@pytest.mark.parametrize("eku", [EMAIL_PROTECTION, DOCUMENT_SIGNING],
                         ids=["emailProtection", "documentSigning"])
def test_signing_ekus_pass(pki: SamplePki, pki_server: PkiServer, eku: object) -> None:
    key, cert = issue_signer(pki, at=SERVER_AT, eku=[eku])  # type: ignore[list-item]
    data = build_cms(CONTENT, key, cert, [pki.card_ca, pki.root], at=SIGNED_AT)
    assert library_verdict(pki, data)[:2] == (Indication.TOTAL_PASSED, None)


def test_policy_may_allow_another_eku(pki: SamplePki, pki_server: PkiServer) -> None:
    key, chain = _client_auth_eku(pki)
    data = build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT)
    policy = ValidationPolicy.default(trust_anchors=[pki.root])
    from dataclasses import replace
    allowing = replace(policy, signer_extended_key_usages=policy.signer_extended_key_usages
                       | {CLIENT_AUTH.dotted_string})
    assert library_verdict(pki, data, policy=allowing)[:2] == (Indication.TOTAL_PASSED, None)


def test_policy_file_eku_and_content_type_lists(pki: SamplePki, pki_server: PkiServer,
                                                tmp_path: Path) -> None:
    """``signer_extended_key_usages`` in a ``--policy`` file lets the clientAuth signer pass;
    a bare string instead of a list of dotted OIDs is bad input (one line, exit 4), not a
    set of characters that refuses every signature."""
    import json

    key, chain = _client_auth_eku(pki)
    path = tmp_path / "client-auth.p7s"
    path.write_bytes(build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT))
    policy = tmp_path / "policy.json"
    args: list[str | Path] = ["validate", path, "--trust", pki.directory / "root.pem",
                              "--at", format_time(CHECK_AT), "--policy", policy]
    policy.write_text(json.dumps({"signer_extended_key_usages": [
        "1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4"]}), "utf-8")
    allowed = ltv_cli(*args)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert allowed.stdout.startswith(f"PASSED: {path} ")
    for key_name in ("signer_extended_key_usages", "allowed_content_types"):
        for bad in ("1.2.840.113549.1.7.1", ["id-data"]):
            policy.write_text(json.dumps({key_name: bad}), "utf-8")
            refused = ltv_cli(*args)
            assert refused.returncode == 4, refused.stdout + refused.stderr
            assert refused.stdout == ""
            assert refused.stderr.splitlines() == [
                f"ltv: error: {policy}: {key_name} is a list of dotted OIDs "
                f'(e.g. ["1.2.840.113549.1.7.1"])']


# ---------------------------------------------------------------------------------------------
# PAdES and XAdES: the same rules


@pytest.mark.parametrize("name", ["intermediate-ca-key", "tsa-key", "ocsp-responder-key"])
def test_pades_signer_purpose_refused(pki: SamplePki, pki_server: PkiServer, tmp_path: Path,
                                      name: str) -> None:
    make, words = ATTACKS[name]
    key, chain = make(pki)
    data = sign(make_pdf("Lease"), KeySigner(key), chain, SignatureFormat.PADES,
                SignatureLevel.B_B,
                services=build_services(pki=pki.directory, clock=OffsetClock(SIGNED_AT)))
    assert_refused(pki, data, tmp_path, indication=Indication.INDETERMINATE, sub=CHAIN,
                   words=words, suffix=".pdf")


@pytest.mark.parametrize("name", ["root-ca-key", "no-digitalSignature-no-nonRepudiation",
                                  "timeStamping-only-eku"])
def test_xades_signer_purpose_refused(pki: SamplePki, pki_server: PkiServer, tmp_path: Path,
                                      name: str) -> None:
    make, words = ATTACKS[name]
    key, chain = make(pki)
    data = sign(CONTENT, KeySigner(key), chain, SignatureFormat.XADES, SignatureLevel.B_B,
                SigningOptions(packaging=Packaging.ENVELOPING),
                services=build_services(pki=pki.directory, clock=OffsetClock(SIGNED_AT)))
    assert_refused(pki, data, tmp_path, indication=Indication.INDETERMINATE, sub=CHAIN,
                   words=words, suffix=".xml")


@pytest.mark.parametrize("fmt", [SignatureFormat.CADES, SignatureFormat.PADES,
                                 SignatureFormat.XADES], ids=["cades", "pades", "xades"])
def test_signer_purpose_in_all_three_reports(pki: SamplePki, pki_server: PkiServer,
                                             fmt: SignatureFormat) -> None:
    """The refusal's reason (a TSA key as signer) is in the JSON message, the ETSI XML
    report's message ReportData and the HTML "Reason" row, for each format."""
    from lxml import etree  # type: ignore[import-untyped,unused-ignore]

    from ltv.validation.report_html import to_html
    from ltv.validation.report_json import to_json
    from ltv.validation.report_xml import NS, to_xml

    key, chain = _tsa(pki)
    content = make_pdf("Lease") if fmt is SignatureFormat.PADES else CONTENT
    options = (SigningOptions(packaging=Packaging.ENVELOPING)
               if fmt is SignatureFormat.XADES else None)
    data = sign(content, KeySigner(key), chain, fmt, SignatureLevel.B_B, options,
                services=build_services(pki=pki.directory, clock=OffsetClock(SIGNED_AT)))
    report = validate(data, policy=ValidationPolicy.default(trust_anchors=[pki.root]),
                      at=CHECK_AT, fetchers=online_fetchers())
    words = "extended key usage timeStamping only"
    sig = to_json(report)["signatures"][0]
    assert (sig["indication"], sig["subindication"]) == ("INDETERMINATE", CHAIN.token)
    assert words in sig["message"]
    root = etree.fromstring(to_xml(report).encode())
    messages = [rd.findtext(f"{{{NS}}}Value") for rd in root.iter(f"{{{NS}}}ReportData")
                if rd.findtext(f"{{{NS}}}Type") == "urn:ltv:validation:message"]
    assert any(words in (m or "") for m in messages), messages
    page = to_html(report, title="tsa key")
    assert "<th>Reason</th>" in page
    assert words in page


# ---------------------------------------------------------------------------------------------
# Content types: a bare time-stamp token is no document signature


def test_bare_timestamp_token_is_not_a_document(pki: SamplePki, pki_server: PkiServer,
                                                tmp_path: Path) -> None:
    services = build_services(pki=pki.directory, clock=OffsetClock(SIGNED_AT))
    assert services.timestamp_client is not None
    token = services.timestamp_client.timestamp(hashlib.sha256(CONTENT).digest(),
                                                DigestAlgorithm.SHA256).der
    assert_refused(pki, token, tmp_path, indication=Indication.TOTAL_FAILED, sub=FORMAT,
                   words="id-ct-TSTInfo (a bare RFC 3161 time-stamp token)")
    # A policy that accepts TSTInfo content still refuses the TSA as a document signer.
    policy = ValidationPolicy.default(trust_anchors=[pki.root])
    from dataclasses import replace
    allowing = replace(policy, allowed_content_types=policy.allowed_content_types
                       | {"1.2.840.113549.1.9.16.1.4"})
    assert library_verdict(pki, token, policy=allowing)[:2] == (Indication.INDETERMINATE, CHAIN)


def test_other_content_type_is_not_a_document(pki: SamplePki, pki_server: PkiServer,
                                              tmp_path: Path) -> None:
    key, cert = issue_signer(pki, at=SERVER_AT)
    data = build_cms(CONTENT, key, cert, [pki.card_ca, pki.root], at=SIGNED_AT,
                     econtent_type="1.2.3.4.5")
    # Only a bare RFC 3161 token is a format failure; another content type is a signature the
    # policy does not accept (real DSS samples sign id-signedData): never PASSED, not FAILED.
    assert_refused(pki, data, tmp_path, indication=Indication.INDETERMINATE,
                   sub=SubIndication.SIG_CONSTRAINTS_FAILURE,
                   words="content type 1.2.3.4.5 is not accepted by the policy")
    policy = ValidationPolicy.default(trust_anchors=[pki.root])
    from dataclasses import replace
    allowing = replace(policy, allowed_content_types=policy.allowed_content_types | {"1.2.3.4.5"})
    assert library_verdict(pki, data, policy=allowing)[:2] == (Indication.TOTAL_PASSED, None)


# ---------------------------------------------------------------------------------------------
# Malformed CMS structures (part 5, CMS half): FORMAT_FAILURE, one line, never PASSED


@pytest.fixture(scope="module")
def honest(pki: SamplePki) -> tuple[PrivateKey, list]:  # type: ignore[type-arg]
    key, cert = issue_signer(pki, at=SERVER_AT)
    return key, [cert, pki.card_ca, pki.root]


def test_honest_forged_baseline_passes(pki: SamplePki, pki_server: PkiServer,
                                       honest: tuple[PrivateKey, list]) -> None:  # type: ignore[type-arg]
    """The forge makes valid signatures: every refusal below is the attack's, not the forge's."""
    key, chain = honest
    data = build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT)
    assert library_verdict(pki, data)[:2] == (Indication.TOTAL_PASSED, None)


def _attribute_certificate() -> cms.CertificateChoices:
    raw = bytes.fromhex("a2") + bytes([3]) + bytes.fromhex("300100")  # [2] { SEQUENCE {..} }
    return cms.CertificateChoices.load(raw)


def test_attribute_certificate_in_certificates_set(pki: SamplePki, pki_server: PkiServer,
                                                   tmp_path: Path,
                                                   honest: tuple[PrivateKey, list]) -> None:  # type: ignore[type-arg]
    key, chain = honest
    data = build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT,
                     extra_certificates=[_attribute_certificate()])
    assert_refused(pki, data, tmp_path, indication=Indication.TOTAL_FAILED, sub=FORMAT,
                   words="the CMS certificates set holds a malformed attribute certificate (v2)")


def test_garbage_in_certificates_set(pki: SamplePki, pki_server: PkiServer, tmp_path: Path,
                                     honest: tuple[PrivateKey, list]) -> None:  # type: ignore[type-arg]
    key, chain = honest
    garbage = cms.CertificateChoices.load(bytes.fromhex("3006020101020102"))
    data = build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT,
                     extra_certificates=[garbage])
    assert_refused(pki, data, tmp_path, indication=Indication.TOTAL_FAILED, sub=FORMAT,
                   words="the CMS certificates set holds an entry that is no certificate")


def _signed_attr_variant(pki: SamplePki, honest: tuple[PrivateKey, list],  # type: ignore[type-arg]
                         change: str) -> bytes:
    key, chain = honest
    cert = chain[0]
    digest = hashlib.sha256(CONTENT).digest()
    attrs = standard_attrs(cert, digest, at=SIGNED_AT)
    if change == "duplicate-message-digest":
        attrs.append(attr("message_digest", hashlib.sha256(b"another document").digest()))
    elif change == "two-message-digest-values":
        attrs[2] = attr("message_digest", digest, hashlib.sha256(b"other").digest())
    elif change == "missing-content-type":
        attrs = attrs[1:]
    elif change == "missing-message-digest":
        attrs = [a for a in attrs if a["type"].native != "message_digest"]
    elif change == "duplicate-signing-certificate-v2":
        from forge_helpers import ess_v2
        attrs.append(attr("signing_certificate_v2", ess_v2(pki.card_ca)))
    return build_cms(CONTENT, key, cert, chain[1:], at=SIGNED_AT, attrs=attrs)


@pytest.mark.parametrize(("change", "words"), [
    ("duplicate-message-digest", "the signed attribute message-digest occurs twice"),
    ("two-message-digest-values", "the signed attribute message-digest holds 2 values"),
    ("missing-content-type", "the mandatory signed attribute content-type is missing"),
    ("missing-message-digest", "the mandatory signed attribute message-digest is missing"),
    ("duplicate-signing-certificate-v2",
     "the signed attribute signing-certificate-v2 occurs twice"),
])
def test_signed_attributes_malformed(pki: SamplePki, pki_server: PkiServer, tmp_path: Path,
                                     honest: tuple[PrivateKey, list],  # type: ignore[type-arg]
                                     change: str, words: str) -> None:
    data = _signed_attr_variant(pki, honest, change)
    indication, sub = Indication.TOTAL_FAILED, FORMAT
    if change == "missing-content-type":
        # Real signers (DSS samples, issue #19) omit content-type while the signature value
        # still binds the content: a constraint failure (never PASSED), not a format failure.
        # Counter-signatures must not carry it at all (RFC 5652 §11.1).
        indication, sub = Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE
    assert_refused(pki, data, tmp_path, indication=indication, sub=sub, words=words)


def test_only_single_instance_attributes_may_not_repeat() -> None:
    """RFC 5652 §11 / RFC 5035: content-type, message-digest, signing-time and
    signing-certificate(-v2) occur once; CAdES allows several content-time-stamps."""
    from ltv.formats.cades import (
        OID_CONTENT_TIME_STAMP,
        OID_CONTENT_TYPE,
        OID_MESSAGE_DIGEST,
        OID_SIGNING_TIME,
    )
    from ltv.validation.cades import signed_attributes_problem

    base = [(OID_CONTENT_TYPE, 1), (OID_MESSAGE_DIGEST, 1)]
    assert signed_attributes_problem(
        [*base, (OID_CONTENT_TIME_STAMP, 1), (OID_CONTENT_TIME_STAMP, 1)]) is None
    assert signed_attributes_problem([*base, (OID_SIGNING_TIME, 1), (OID_SIGNING_TIME, 1)]) == (
        "the signed attribute signing-time occurs twice")
    assert signed_attributes_problem([*base, (OID_CONTENT_TYPE, 1)]) == (
        "the signed attribute content-type occurs twice")


@pytest.mark.parametrize("raw", [bytes.fromhex("3003020101"), bytes.fromhex("0400")],
                         ids=["sequence-no-contentinfo", "octet-string"])
def test_unparsable_signature_timestamp(pki: SamplePki, pki_server: PkiServer, tmp_path: Path,
                                        honest: tuple[PrivateKey, list],  # type: ignore[type-arg]
                                        raw: bytes) -> None:
    key, chain = honest
    data = build_cms(CONTENT, key, chain[0], chain[1:], at=SIGNED_AT,
                     unsigned=[raw_signature_timestamp(raw)])
    assert_refused(pki, data, tmp_path, indication=Indication.TOTAL_FAILED, sub=FORMAT,
                   words="the signature-time-stamp is malformed")

