"""The scenario matrix of issue 6 (DESIGN.md "Validation"), for CAdES, PAdES and XAdES.

One table of rows × formats, on a PKI and servers of this module's own (it revokes a phone, so
it must not touch the session fixtures): every signed artefact is made once, with the signing
clock (``OffsetClock``) started at the same instant as the servers' ``--at`` clock, and reused
by every row. Time travels by restarting the servers at the row's time (only when it changes)
and by the validation ``at=``; nothing depends on today's date.

Rows (the numbering of the issue):

1. B-LTA validated now → TOTAL-PASSED.
2. After the phone certificate expired: B-LTA → TOTAL-PASSED, the POE named; B-B →
   INDETERMINATE / OUT_OF_BOUNDS_NO_POE.
3. Phone replaced, certificate revoked (superseded): signed before → TOTAL-PASSED; signed after
   → TOTAL-FAILED / REVOKED; B-B, no POE → INDETERMINATE / REVOKED_NO_POE.
4. A byte of signed content changed → HASH_FAILURE; the signature value changed →
   SIG_CRYPTO_FAILURE.
5. Unknown root → INDETERMINATE / NO_CERTIFICATE_CHAIN_FOUND.
6. ``ltv validate --offline``, no server, signer expired, archive TSA valid → TOTAL-PASSED.
7. Key kind reported (smartphone / card); a policy refusing the kind does not pass.

The PAdES column is also validated by pyHanko's own EN 319 102-1 engine
(:func:`test_pyhanko_agrees_on_pades`), with its documented differences spelled out.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from conftest import PKI_EPOCH, PkiServer, free_port, ltv_cli
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_pades import make_pdf

from ltv.cli._services import build_services
from ltv.clock import OffsetClock, format_time
from ltv.evidence import EvidenceSet
from ltv.formats import cms
from ltv.jpki import KeyKind
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.revocation import RevocationReason
from ltv.signing import SignatureFormat, SignatureLevel, sign
from ltv.validation import (
    Indication,
    RevocationFetchers,
    SignatureReport,
    SubIndication,
    ValidationPolicy,
    validate,
)
from samples.phone import Phone
from samples.pki import SamplePki

CADES, PADES, XADES = SignatureFormat.CADES, SignatureFormat.PADES, SignatureFormat.XADES
FORMATS = [CADES, PADES, XADES]

T0 = PKI_EPOCH + timedelta(days=1)  # enrolment and signing day; the servers' first clock
NOW = T0 + timedelta(minutes=10)  # "validated now"
REVOKED_AT = T0 + timedelta(days=10)  # the phone is replaced
AFTER_REVOCATION = REVOKED_AT + timedelta(days=1)  # a signature made with the revoked key
CHECK_REVOKED = REVOKED_AT + timedelta(days=2)  # row 3's servers run from then
#: Validation happens this long after the servers' clock started, so what they answered
#: (thisUpdate a few seconds after their start) is never "from the future", however slow the
#: machine (pyHanko tolerates only one second of clock skew).
SETTLED = timedelta(minutes=5)

CONTRACT = b"Contract: the buyer pays 100 JPY per month.\n" * 40
PDF_TEXT = "Lease contract"
XML = (b'<?xml version="1.0" encoding="UTF-8"?>\n<contract id="c-1"><party>Buyer</party>'
       b'<amount currency="JPY">100</amount></contract>\n')


def content_for(fmt: SignatureFormat) -> bytes:
    return {CADES: CONTRACT, PADES: make_pdf(PDF_TEXT), XADES: XML}[fmt]


# ---------------------------------------------------------------------------------------------
# The module's own PKI, servers, phones and signed artefacts


class Servers:
    """The module's ``ltv pki serve`` restarted only when a row needs another clock."""

    def __init__(self, server: PkiServer) -> None:
        self.server = server
        self.running_at: datetime | None = None

    def at(self, when: datetime) -> None:
        if self.running_at != when:
            self.server.restart(at=when)
            self.running_at = when

    def stop(self) -> None:
        self.server.stop()
        self.running_at = None


@dataclass(slots=True)
class World:
    pki: SamplePki
    servers: Servers
    phone: Phone  # RSA-2048 smartphone key
    card: Phone  # RSA-2048 card key
    replaced: Phone  # P-256 smartphone key, revoked at REVOKED_AT
    signed: dict[tuple[str, SignatureFormat], bytes] = field(default_factory=dict)

    @property
    def root_pem(self) -> Path:
        return self.pki.directory / "root.pem"

    def policy(self) -> ValidationPolicy:
        return ValidationPolicy.default(trust_anchors=[self.pki.root])


def _sign(world: World, who: Phone, fmt: SignatureFormat, level: SignatureLevel,
          at: datetime) -> bytes:
    services = build_services(pki=world.pki.directory, clock=OffsetClock(at))
    return sign(content_for(fmt), who, [who.certificate, *who.chain], fmt, level,
                services=services)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("matrix")
    pki = SamplePki.init(base / "pki", port=free_port(), at=PKI_EPOCH)
    server = PkiServer(pki.directory, pki.port, at=T0)
    servers = Servers(server)
    servers.at(T0)
    try:
        w = World(
            pki=pki, servers=servers,
            phone=Phone.enroll(base / "phone", pki, key="rsa2048", at=T0),
            card=Phone.enroll(base / "card", pki, key="rsa2048", card=True, at=T0),
            replaced=Phone.enroll(base / "replaced", pki, key="p256", at=T0),
        )
        for fmt in FORMATS:
            w.signed["lta", fmt] = _sign(w, w.phone, fmt, SignatureLevel.B_LTA, T0)
            w.signed["bb", fmt] = _sign(w, w.phone, fmt, SignatureLevel.B_B, T0)
            w.signed["card", fmt] = _sign(w, w.card, fmt, SignatureLevel.B_B, T0)
            w.signed["before-revocation", fmt] = _sign(w, w.replaced, fmt, SignatureLevel.B_LTA,
                                                       T0)
            w.signed["revoked-bb", fmt] = _sign(w, w.replaced, fmt, SignatureLevel.B_B, T0)
        pki.revoke(w.replaced.certificate, reason=RevocationReason.SUPERSEDED, at=REVOKED_AT)
        servers.at(AFTER_REVOCATION)
        for fmt in FORMATS:
            w.signed["after-revocation", fmt] = _sign(w, w.replaced, fmt, SignatureLevel.B_T,
                                                      AFTER_REVOCATION)
        yield w
    finally:
        servers.stop()


def expired_at(world: World) -> datetime:
    """Row 2's time: a month after the phone certificate (3 years) expired."""
    return world.phone.certificate.not_valid_after_utc + timedelta(days=30)


def offline_at(world: World) -> datetime:
    """Row 6's time: the signer has expired, the TSA (6 years) has not."""
    return world.phone.certificate.not_valid_after_utc + timedelta(days=60)


# ---------------------------------------------------------------------------------------------
# Tampering


def tamper_content(fmt: SignatureFormat, data: bytes) -> bytes:
    """One byte of the signed content changed."""
    needle = {CADES: CONTRACT[:20], PADES: PDF_TEXT.encode(), XADES: b">100<"}[fmt]
    pos = data.index(needle) + 1
    return data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1:]


def tamper_signature_value(fmt: SignatureFormat, data: bytes) -> bytes:
    """One byte of the signature value changed (the encoding stays well-formed)."""
    if fmt is CADES:
        value = cms.parse_signed_data(data).signer_infos[0].signature_value
        pos = data.index(value) + len(value) // 2
        return data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1:]
    if fmt is PADES:
        from pyhanko.pdf_utils.reader import PdfFileReader

        sig = PdfFileReader(BytesIO(data)).embedded_regular_signatures[0]
        value = bytes(sig.signer_info["signature"].native)
        hexed = value.hex().encode()
        found = data.lower().index(hexed)
        pos = found + len(hexed) // 2
        flipped = b"0" if data[pos:pos + 1] != b"0" else b"1"
        return data[:pos] + flipped + data[pos + 1:]
    match = re.search(rb"(<(?:ds:)?SignatureValue[^>]*>)([^<]+)(</)", data)
    assert match is not None
    raw = bytearray(base64.b64decode(b"".join(match.group(2).split())))
    raw[len(raw) // 2] ^= 0xFF
    return data[:match.start(2)] + base64.b64encode(bytes(raw)) + data[match.end(2):]


# ---------------------------------------------------------------------------------------------
# Validation helpers


def fetchers() -> RevocationFetchers:
    return RevocationFetchers(ocsp=HttpOCSPFetcher(timeout=5), crl=HttpCRLFetcher(timeout=5),
                              certificates=HttpCertificateFetcher(timeout=5))


def check(world: World, data: bytes, at: datetime, *, online_at: datetime | None = None,
          policy: ValidationPolicy | None = None) -> SignatureReport:
    """Validate at ``at``; online against the servers running at ``online_at`` (or offline)."""
    if online_at is not None:
        world.servers.at(online_at)
    report = validate(data, policy=policy or world.policy(), at=at, offline=online_at is None,
                      fetchers=fetchers() if online_at is not None else None)
    assert len(report.signatures) == 1
    return report.signatures[0]


def verdict(sig: SignatureReport) -> tuple[str, str | None]:
    return sig.indication.token, sig.subindication.token if sig.subindication else None


PASSED = ("TOTAL-PASSED", None)


@dataclass(frozen=True, slots=True)
class Row:
    """One cell family of the matrix: what is validated, when, and what must come out."""

    id: str
    artefact: str
    expected: tuple[str, str | None]
    at: Callable[[World], datetime]
    online_at: Callable[[World], datetime | None]
    alter: Callable[[SignatureFormat, bytes], bytes] | None = None
    unknown_root: bool = False
    refuse: KeyKind | None = None


ROWS = [
    Row("1-lta-now", "lta", PASSED, lambda w: NOW, lambda w: T0),
    Row("2-lta-after-expiry", "lta", PASSED, lambda w: expired_at(w) + SETTLED, expired_at),
    Row("2-bb-after-expiry", "bb", ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE"),
        lambda w: expired_at(w) + SETTLED, expired_at),
    Row("3-revoked-after-signing", "before-revocation", PASSED,
        lambda w: CHECK_REVOKED + SETTLED, lambda w: CHECK_REVOKED),
    Row("3-signed-after-revocation", "after-revocation", ("TOTAL-FAILED", "REVOKED"),
        lambda w: CHECK_REVOKED + SETTLED, lambda w: CHECK_REVOKED),
    Row("3-bb-revoked-no-poe", "revoked-bb", ("INDETERMINATE", "REVOKED_NO_POE"),
        lambda w: CHECK_REVOKED + SETTLED, lambda w: CHECK_REVOKED),
    Row("4-content-changed", "lta", ("TOTAL-FAILED", "HASH_FAILURE"), lambda w: NOW,
        lambda w: None, alter=tamper_content),
    Row("4-signature-value-changed", "lta", ("TOTAL-FAILED", "SIG_CRYPTO_FAILURE"),
        lambda w: NOW, lambda w: None, alter=tamper_signature_value),
    Row("5-unknown-root", "lta", ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND"),
        lambda w: NOW, lambda w: T0, unknown_root=True),
    Row("7-smartphone-key", "bb", PASSED, lambda w: NOW, lambda w: T0),
    Row("7-card-key", "card", PASSED, lambda w: NOW, lambda w: T0),
    Row("7-smartphone-refused", "bb", ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE"),
        lambda w: NOW, lambda w: T0, refuse=KeyKind.SMARTPHONE),
    Row("7-card-refused", "card", ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE"),
        lambda w: NOW, lambda w: T0, refuse=KeyKind.CARD),
]


def _stranger_root() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some Other Root CA")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(PKI_EPOCH - timedelta(days=1))
            .not_valid_after(PKI_EPOCH + timedelta(days=7300))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


def row_input(world: World, row: Row, fmt: SignatureFormat) -> tuple[bytes, ValidationPolicy]:
    data = world.signed[row.artefact, fmt]
    if row.alter is not None:
        data = row.alter(fmt, data)
        assert data != world.signed[row.artefact, fmt]
    policy = world.policy()
    if row.unknown_root:
        policy = ValidationPolicy.default(trust_anchors=[_stranger_root()])
    if row.refuse is not None:
        policy = policy.refusing(row.refuse)
    return data, policy


# ---------------------------------------------------------------------------------------------
# The matrix (rows ordered by server clock, so the servers restart a few times only)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.value)
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_matrix(world: World, row: Row, fmt: SignatureFormat) -> None:
    data, policy = row_input(world, row, fmt)
    sig = check(world, data, row.at(world), online_at=row.online_at(world), policy=policy)
    assert verdict(sig) == row.expected, (sig.message, sig.errors, sig.warnings)
    assert sig.format is fmt
    if row.expected == PASSED:
        assert sig.poe is not None
    if row.id == "1-lta-now":
        assert sig.level is SignatureLevel.B_LTA
        assert all(t.indication is Indication.PASSED for t in sig.timestamps), sig.timestamps
    if row.id == "2-lta-after-expiry":
        # the POE that carried the verdict is named, and predates the expiry
        assert sig.poe is not None
        assert sig.poe.source in ("signature", "archive", "document"), sig.poe
        assert sig.poe.time < world.phone.certificate.not_valid_after_utc
        assert sig.poe.timestamp_index is not None
        assert sig.poe.time.isoformat() in sig.poe.description
    if row.id == "3-revoked-after-signing":
        assert sig.poe is not None
        assert sig.poe.time < REVOKED_AT
        signer_row = next(c for c in sig.certificates if c.role == "signer")
        assert signer_row.revocation_time == REVOKED_AT
        assert signer_row.revocation_reason == "superseded"
    if row.id.startswith("7-") and sig.signer is not None:
        expected_kind = KeyKind.CARD if row.artefact == "card" else KeyKind.SMARTPHONE
        assert sig.signer.key_kind is expected_kind


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.value)
def test_row6_offline_cli_from_embedded_material(world: World, fmt: SignatureFormat,
                                                 tmp_path: Path) -> None:
    when = offline_at(world)
    assert world.phone.certificate.not_valid_after_utc < when
    assert when < world.pki.tsa_certificate.not_valid_after_utc
    world.servers.stop()  # no server: --offline must not need one
    name = {CADES: "contract.p7m", PADES: "contract.pdf", XADES: "contract.xml"}[fmt]
    file = tmp_path / name
    file.write_bytes(world.signed["lta", fmt])
    result = ltv_cli("validate", file, "--offline", "--at", format_time(when),
                     "--trust", world.root_pem, "--json", tmp_path / "report.json")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stdout.startswith(f"PASSED: {file} (B-LTA"), result.stdout
    assert "POE:" in result.stdout
    import json

    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["offline"] is True
    assert doc["signatures"][0]["poe"]["source"] in ("signature", "archive", "document")


# ---------------------------------------------------------------------------------------------
# pyHanko's EN 319 102-1 engine on the PAdES column

_PYHANKO_B_B = {"bb", "card", "revoked-bb"}

#: Where pyHanko legitimately answers otherwise, and why (one line each). pyHanko gets the same
#: revocation data our online validation fetched, as its local knowledge (LOCAL_ONLY fetching).
PYHANKO_DIFFERENCES: dict[str, tuple[tuple[str, str | None], str]] = {
    "3-signed-after-revocation": (
        ("INDETERMINATE", "NO_POE"),
        "pyHanko stops at INDETERMINATE for a signature time-stamped after the revocation; "
        "DESIGN.md scenario 3 (as DSS) reads the time-stamp as proof it was made after: REVOKED"),
    "7-smartphone-refused": (
        PASSED, "pyHanko has no key-kind (certificate policy) constraint in its policy"),
    "7-card-refused": (
        PASSED, "pyHanko has no key-kind (certificate policy) constraint in its policy"),
}


def fetched_material(world: World, data: bytes, policy: ValidationPolicy,
                     online_at: datetime | None) -> EvidenceSet:
    """What our online validation fetched for ``data`` from the servers running at
    ``online_at`` (the same gathering step, through the same ports)."""
    if online_at is None:
        return EvidenceSet()
    from ltv.validation import pades
    from ltv.validation.process import gather_online

    world.servers.at(online_at)
    facts = pades.extract(data)
    embedded = EvidenceSet()
    for item in facts:
        embedded = embedded.merge(item.evidence)
    return gather_online(facts, embedded, policy, fetchers(), [])


def pyhanko_verdict(data: bytes, trust: x509.Certificate, at: datetime, *, basic: bool,
                    known: EvidenceSet | None = None) -> tuple[str, str | None]:
    """pyHanko 0.38's AdES indication, mapped to EN 319 102-1 tokens. ``known``: revocation
    data and certificates handed over as pyHanko's local knowledge (fetching stays LOCAL_ONLY)."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESPassed
    from pyhanko.sign.validation.ades import ades_basic_validation, ades_lta_validation
    from pyhanko.sign.validation.policy_decl import (
        LocalKnowledge,
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.authority import CertTrustAnchor
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
    from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
    from pyhanko_certvalidator.registry import SimpleTrustManager
    from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer

    known = known or EvidenceSet()
    local = LocalKnowledge(
        known_ocsps=[c for o in known.ocsp_responses
                     for c in OCSPContainer.load_multi(asn1_ocsp.OCSPResponse.load(o))],
        known_crls=[CRLContainer(asn1_crl.CertificateList.load(c)) for c in known.crls],
        known_certs=[asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
                     for c in known.certificates],
    )
    root = asn1_x509.Certificate.load(trust.public_bytes(serialization.Encoding.DER))
    sig_spec = SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=[CertTrustAnchor(root)]),
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
        ),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY),
        local_knowledge=local,
    )
    timing = ValidationTimingInfo(validation_time=at, best_signature_time=at,
                                  point_in_time_validation=True)
    sig = PdfFileReader(BytesIO(data)).embedded_regular_signatures[0]
    if basic:
        result = asyncio.run(ades_basic_validation(
            sig.signed_data, sig_spec, timing_info=timing, raw_digest=sig.compute_digest()))
    else:
        result = asyncio.run(ades_lta_validation(sig, PdfSignatureValidationSpec(sig_spec),
                                                 timing_info=timing))
    sub = result.ades_subindic
    if isinstance(sub, AdESPassed):
        return PASSED
    if isinstance(sub, AdESFailure):
        return "TOTAL-FAILED", SubIndication[sub.name].token
    assert isinstance(sub, AdESIndeterminate), sub
    return "INDETERMINATE", SubIndication[sub.name].token


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_pyhanko_agrees_on_pades(world: World, row: Row) -> None:
    data, policy = row_input(world, row, PADES)
    ours = verdict(check(world, data, row.at(world), online_at=row.online_at(world),
                         policy=policy))
    assert ours == row.expected
    anchor = policy.trust_anchors[0]
    known = fetched_material(world, data, policy, row.online_at(world))
    theirs = pyhanko_verdict(data, anchor, row.at(world), basic=row.artefact in _PYHANKO_B_B,
                             known=known)
    if row.id in PYHANKO_DIFFERENCES:
        documented, reason = PYHANKO_DIFFERENCES[row.id]
        assert theirs == documented, f"pyHanko changed ({reason}): {theirs}"
    else:
        assert theirs == ours


# ---------------------------------------------------------------------------------------------
# RFC 4998 evidence records as POE (EN 319 102-1 §5.6.2.3)

ER_AT = T0 + timedelta(days=2)  # the archive stamps the B-B file two days after signing


@dataclass(frozen=True, slots=True)
class Archived:
    """What an archive keeps for the B-B file: the material fetched at ER_AT and one evidence
    record whose data group is the file and that material (RFC 4998 §4.2 step 3)."""

    record: bytes
    material: EvidenceSet
    objects: tuple[bytes, ...]


@pytest.fixture(scope="module")
def archived(world: World) -> Archived:
    from ltv.algorithms import DigestAlgorithm
    from ltv.ers import new_evidence_records
    from ltv.online.timestamps import HttpTimestampClient
    from ltv.validation import cades
    from ltv.validation.process import gather_online

    data = world.signed["bb", CADES]
    world.servers.at(ER_AT)
    facts = cades.extract(data)
    material = gather_online(facts, facts[0].evidence, world.policy(), fetchers(), [])
    assert material.ocsp_responses
    objects = (*material.ocsp_responses, *material.crls)
    client = HttpTimestampClient(f"{world.pki.base_url}/tsa")
    [record] = new_evidence_records(
        [[data, *objects]], algorithm=DigestAlgorithm.SHA256,
        timestamper=lambda digest, alg: client.timestamp(digest, alg).der)
    return Archived(record=record.to_der(), material=material, objects=tuple(objects))


def test_evidence_record_carries_an_expired_bb(world: World, archived: Archived) -> None:
    from ltv.ers import EvidenceRecord

    data = world.signed["bb", CADES]
    world.servers.at(expired_at(world))
    when = expired_at(world) + SETTLED
    report = validate(data, policy=world.policy(), at=when, fetchers=fetchers(),
                      evidence_records=[EvidenceRecord.from_der(archived.record)],
                      extra_evidence=archived.material)
    sig = report.signatures[0]
    assert verdict(sig) == PASSED, (sig.message, sig.warnings, sig.timestamps)
    assert sig.poe is not None
    assert sig.poe.source == "evidence-record"
    assert abs(sig.poe.time - ER_AT) < timedelta(minutes=5)
    assert "evidence record" in sig.poe.description
    assert sig.timestamps[-1].used_as_poe
    # the same without the record: nothing proves the signature existed before the expiry
    without = validate(data, policy=world.policy(), at=when, fetchers=fetchers(),
                       extra_evidence=archived.material)
    assert verdict(without.signatures[0]) == ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE")


def test_evidence_record_over_another_file_gives_no_poe(world: World,
                                                        archived: Archived) -> None:
    from ltv.ers import EvidenceRecord

    other = world.signed["bb", XADES]  # the same (expired) phone, another file
    world.servers.at(expired_at(world))
    when = expired_at(world) + SETTLED
    report = validate(other, policy=world.policy(), at=when, fetchers=fetchers(),
                      evidence_records=[EvidenceRecord.from_der(archived.record)])
    sig = report.signatures[0]
    record_ts = sig.timestamps[-1]
    assert record_ts.kind.value == "evidence-record"
    assert not record_ts.used_as_poe
    assert record_ts.subindication is SubIndication.HASH_FAILURE
    assert verdict(sig) == ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE")


def test_cli_evidence_record_option(world: World, archived: Archived, tmp_path: Path) -> None:
    file = tmp_path / "contract.p7m"
    file.write_bytes(world.signed["bb", CADES])
    export = tmp_path / "export"  # the layout of `ltv archive export-er`
    (export / "objects").mkdir(parents=True)
    (export / "evidence-record.ers").write_bytes(archived.record)
    (export / "objects" / "0-contract.p7m").write_bytes(file.read_bytes())
    for n, obj in enumerate(archived.objects, start=1):
        (export / "objects" / f"{n}-material.der").write_bytes(obj)
    world.servers.at(expired_at(world))
    when = expired_at(world) + SETTLED
    common = ["validate", file, "--at", format_time(when), "--trust", world.root_pem]
    passed = ltv_cli(*common, "--evidence-record", export)
    assert passed.returncode == 0, (passed.stdout, passed.stderr)
    assert "POE: evidence record of" in passed.stdout
    without = ltv_cli(*common)
    assert without.returncode == 3, without.stdout
    assert "OUT_OF_BOUNDS_NO_POE" in without.stdout
    broken = tmp_path / "broken.ers"
    broken.write_bytes(b"\x30\x03\x02\x01\x05")
    bad = ltv_cli(*common, "--evidence-record", broken)
    assert bad.returncode == 4, (bad.stdout, bad.stderr)
    assert "Traceback" not in bad.stderr
