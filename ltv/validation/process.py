"""The validation processes of ETSI EN 319 102-1, over format-neutral facts.

* :func:`validate_basic` — §5.3 validation process for Basic Signatures: format checking (FC),
  identification of the signing certificate (ISC), X.509 certificate validation with revocation
  freshness (XCV, RFC) at the validation time, cryptographic verification (CV).
* :func:`validate_timestamp` — §5.4 time-stamp validation building block.
* :func:`validate_with_time` — §5.5 validation process for Signatures with Time (and with
  Long-Term Validation Material): signature time-stamps give the signature a POE, which turns
  REVOKED_NO_POE into a pass when the POE predates the revocation.
* :func:`validate_lta` — §5.6.3 validation process for Signatures providing Long Term
  Availability and Integrity of Validation Material: POE from archive time-stamps, document
  time-stamps and evidence records (§5.6.2.3, oldest first, each validated with the POE of the
  next), then :func:`past_signature_validation` (§5.6.2.4) and the signature acceptance
  validation (SAV, §5.2.8) at the best-signature-time.

Gather first, then decide: :func:`validate` collects everything (embedded material, and unless
offline, fresh OCSP/CRL/certificates through the fetcher ports) before a single decision; the
processes then run over that fixed evidence set. Time is always the explicit ``at``.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import mmap
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from lxml import etree  # type: ignore[import-untyped,unused-ignore]
from pyhanko_certvalidator.errors import (
    CRLValidationError,
    OCSPValidationError,
    PathError,
    ValidationError,
)

from ltv._aio import run_sync
from ltv.errors import (
    InputError,
    LtvError,
    MalformedError,
    RevocationError,
    UnsupportedAlgorithmError,
)
from ltv.ers import EvidenceRecord
from ltv.evidence import EvidenceSet
from ltv.formats.pdf_revisions import Buffer
from ltv.jpki import KeyKind, key_kind_for_policies
from ltv.revocation import (
    CertificateFetcher,
    CertStatus,
    CRLFetcher,
    OCSPFetcher,
    OfflineRevocationSource,
    ca_issuer_urls,
    crl_urls,
    ocsp_urls,
)
from ltv.signing import SignatureFormat
from ltv.validation.certpath import (
    PAST_VALIDATION_CANDIDATES,
    CertificateChecker,
    CertRole,
    PathOutcome,
    PoeLedger,
    der,
    key_description,
)
from ltv.validation.constraints import content_type_constraint, signer_purpose
from ltv.validation.crypto_constraints import (
    CryptoVerdict,
    cryptographic_constraints,
    key_use,
    normalise_digest_name,
    revocation_algorithm_uses,
)
from ltv.validation.diagnostics import library_log
from ltv.validation.facts import (
    AlgorithmUse,
    IntegrityStatus,
    SignatureFacts,
    TimestampFacts,
    poe_digest,
)
from ltv.validation.limits import (
    Census,
    Guard,
    Monotonic,
    census_of_data,
    census_of_facts,
    computable_time,
    malformed,
)
from ltv.validation.limits import (
    unvalidated_timestamp as _unvalidated,
)
from ltv.validation.model import (
    LEGACY_POE_KINDS,
    CertificateSummary,
    Indication,
    PoeSummary,
    SignatureReport,
    SignerSummary,
    SubIndication,
    TimestampKind,
    TimestampReport,
    ValidationReport,
    WeakestAlgorithm,
)
from ltv.validation.policy import ValidationPolicy

__all__ = [
    "RevocationFetchers",
    "best_signature_time",
    "detect_format",
    "past_signature_validation",
    "validate",
    "validate_basic",
    "validate_facts",
    "validate_file",
    "validate_lta",
    "validate_timestamp",
    "validate_with_time",
]

_FAILED_SUBS = frozenset({
    SubIndication.FORMAT_FAILURE, SubIndication.HASH_FAILURE, SubIndication.SIG_CRYPTO_FAILURE,
    SubIndication.REVOKED, SubIndication.EXPIRED, SubIndication.NOT_YET_VALID,
})


_T = TypeVar("_T")

_KEEP_CURRENT = frozenset({
    SubIndication.REVOKED_NO_POE, SubIndication.REVOKED_CA_NO_POE,
    SubIndication.OUT_OF_BOUNDS_NO_POE, SubIndication.OUT_OF_BOUNDS_NOT_REVOKED,
})


@dataclass(frozen=True, slots=True, kw_only=True)
class RevocationFetchers:
    """The ports online validation fetches through (HTTP ones live in ``ltv.online``)."""

    ocsp: OCSPFetcher | None = None
    crl: CRLFetcher | None = None
    certificates: CertificateFetcher | None = None


# ---------------------------------------------------------------------------------------------
# Entry point


def detect_format(data: Buffer) -> SignatureFormat:
    """PDF header → PAdES, XML → XAdES, else CMS → CAdES; anything else is malformed.

    Only the first bytes are looked at unless they may begin bare base64 (``MI``...), which
    :meth:`SignatureFormat.sniff` decodes whole: its answer is the same, without copying a
    large file."""
    head = data[:_SNIFF_BYTES]
    lead = head.lstrip()
    whole = len(data) <= len(head) or not lead or lead.startswith(b"MI")
    fmt = SignatureFormat.sniff(bytes(data) if whole else head)
    if fmt is not None:
        return fmt
    if not data:
        raise MalformedError("empty input: not a signature")
    raise MalformedError("not a signature: neither a PDF, an XML document nor CMS (DER or PEM)")


def _extract(fmt: SignatureFormat, data: Buffer, detached: bytes | None,
             reader: Any = None) -> list[SignatureFacts]:
    if fmt is SignatureFormat.PADES:
        from ltv.validation import pades

        return pades.extract(data, detached_content=detached, reader=reader)
    assert isinstance(data, bytes)  # only a PDF is validated from an mmap (validate_file)
    if fmt is SignatureFormat.CADES:
        from ltv.validation import cades

        return cades.extract(data, detached_content=detached)
    from ltv.validation import xades

    return xades.extract(data, detached_content=detached)


_SNIFF_BYTES = 4096
#: Files at least this large are validated from an mmap and a file stream by
#: :func:`validate_file` (PAdES: only the pages the checks look at are read).
STREAM_THRESHOLD = 16 << 20


def validate_file(
    path: str | os.PathLike[str],
    *,
    policy: ValidationPolicy,
    at: datetime,
    detached_content: bytes | None = None,
    offline: bool = False,
    fetchers: RevocationFetchers | None = None,
    evidence_records: Sequence[TimestampFacts | EvidenceRecord] = (),
    extra_evidence: EvidenceSet | None = None,
    monotonic: Monotonic | None = None,
    stream_threshold: int | None = None,
) -> ValidationReport:
    """:func:`validate` of the file at ``path``, the same report as over its bytes.

    A PDF of ``stream_threshold`` bytes or more (default :data:`STREAM_THRESHOLD`) is not
    read into memory: pyHanko reads it through a file stream (its ``/ByteRange`` digests in
    chunks), the byte-level checks of :mod:`ltv.formats.pdf_revisions` read an mmap (the
    ``/Contents`` gaps and what follows the signed revisions), the document's SHA-256 is
    computed in chunks. Other files, and files with evidence records, are read whole."""
    threshold = STREAM_THRESHOLD if stream_threshold is None else stream_threshold
    options = {"policy": policy, "at": at, "detached_content": detached_content,
               "offline": offline, "fetchers": fetchers, "evidence_records": evidence_records,
               "extra_evidence": extra_evidence, "monotonic": monotonic}
    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        if size < max(threshold, 1) or evidence_records:
            return validate(stream.read(), **options)  # type: ignore[arg-type]
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as view:
            if detect_format(view) is not SignatureFormat.PADES:
                return validate(view[:], **options)  # type: ignore[arg-type]
            return _validate(view, stream, **options)  # type: ignore[arg-type]


def validate(
    data: bytes,
    *,
    policy: ValidationPolicy,
    at: datetime,
    detached_content: bytes | None = None,
    offline: bool = False,
    fetchers: RevocationFetchers | None = None,
    evidence_records: Sequence[TimestampFacts | EvidenceRecord] = (),
    extra_evidence: EvidenceSet | None = None,
    monotonic: Monotonic | None = None,
) -> ValidationReport:
    """Validate every signature in ``data`` at ``at`` (EN 319 102-1 §5.6.3 for each).

    ``offline`` forbids any fetching; otherwise missing OCSP responses, CRLs and issuer
    certificates are fetched through ``fetchers`` (none given: nothing is fetched) before the
    processes run. ``evidence_records`` are POE sources for the whole file: RFC 4998 records
    over ``data`` (checked and turned into facts by
    :func:`ltv.validation.records.evidence_record_facts`) or facts made beforehand;
    ``extra_evidence`` adds archived validation material.
    The policy's caps bound the work (:mod:`ltv.validation.limits`; ``monotonic`` is the
    deadline's time source, ``time.monotonic`` by default); what the libraries log goes into
    the report's warnings (:mod:`ltv.validation.diagnostics`).
    Malformed input raises :class:`~ltv.errors.MalformedError`.
    """
    return _validate(data, None, policy=policy, at=at, detached_content=detached_content,
                     offline=offline, fetchers=fetchers, evidence_records=evidence_records,
                     extra_evidence=extra_evidence, monotonic=monotonic)


def _validate(
    data: Buffer,
    stream: BinaryIO | None,
    *,
    policy: ValidationPolicy,
    at: datetime,
    detached_content: bytes | None,
    offline: bool,
    fetchers: RevocationFetchers | None,
    evidence_records: Sequence[TimestampFacts | EvidenceRecord],
    extra_evidence: EvidenceSet | None,
    monotonic: Monotonic | None,
) -> ValidationReport:
    """:func:`validate` over ``data`` (bytes, or an mmap of the file ``stream`` reads)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InputError("the validation time needs a time zone")
    guard = Guard.start(policy, monotonic=monotonic)
    at, moved = computable_time(at, policy)
    if moved:
        guard.notes.append(moved)
    fmt = detect_format(data)
    document_sha256 = _sha256(data, stream)
    is_offline = offline or fetchers is None
    with library_log() as logged:
        reader = None
        if fmt is SignatureFormat.PADES:  # one pyHanko reader for the census and the facts
            from ltv.validation import pades

            reader = pades.open_reader(stream if stream is not None
                                       else io.BytesIO(data))
            signatures, stamps = pades.census(reader) if reader is not None else (None, None)
            census = Census(signatures=signatures, timestamps=stamps)
        else:
            assert isinstance(data, bytes)
            census = census_of_data(fmt, data, policy)  # before any expensive work
        report = guard.refusal(census, fmt=fmt, at=at, offline=is_offline,
                               document_sha256=document_sha256)
        if report is None:
            facts = _facts(fmt, data, detached_content, evidence_records, extra_evidence,
                           reader=reader)
            report = guard.refusal(census_of_facts(facts), fmt=fmt, at=at, offline=is_offline,
                                   document_sha256=document_sha256) or _validate_guarded(
                facts, guard=guard, at=at, offline=offline, fetchers=fetchers,
                extra_evidence=extra_evidence, document_sha256=document_sha256)
    from dataclasses import replace

    return replace(report, warnings=tuple(dict.fromkeys(
        (*guard.notes, *report.warnings, *logged.lines()))))


#: What parsers (asn1crypto, cryptography, lxml, pyHanko) raise on malformed input.
_RAW_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError,
               RecursionError, OverflowError, x509.InvalidVersion, etree.LxmlError)
#: What pyhanko-certvalidator may let escape from path and revocation checks.
_CERTVALIDATOR_ERRORS = (OCSPValidationError, CRLValidationError, PathError, ValidationError,
                         UnsupportedAlgorithm)


def _sha256(data: Buffer, stream: BinaryIO | None) -> str:
    """The document's SHA-256 (from ``stream`` in chunks when there is one)."""
    if stream is None:
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def _facts(fmt: SignatureFormat, data: Buffer, detached_content: bytes | None,
           evidence_records: Sequence[TimestampFacts | EvidenceRecord],
           extra_evidence: EvidenceSet | None, *, reader: Any = None) -> list[SignatureFacts]:
    try:
        facts = _extract(fmt, data, detached_content, reader)
    except LtvError:
        raise
    except _RAW_ERRORS as exc:
        raise MalformedError(f"not a valid {fmt.value} signature: {exc}") from exc
    except UnsupportedAlgorithm as exc:
        raise UnsupportedAlgorithmError(f"{fmt.value} signature: {exc}") from exc
    if not facts:
        raise MalformedError(f"the {fmt.value} input holds no signature")
    if evidence_records:
        from ltv.validation.records import evidence_record_facts, objects_in

        record_facts: list[TimestampFacts] = []
        inside = objects_in(facts)
        archived: list[bytes] = []
        if extra_evidence is not None:
            archived = [*(der(c) for c in extra_evidence.certificates), *extra_evidence.crls,
                        *extra_evidence.ocsp_responses]
        for n, record in enumerate(evidence_records, start=1):
            if isinstance(record, TimestampFacts):
                record_facts.append(record)
                continue
            label = "evidence record" if len(evidence_records) == 1 else f"evidence record {n}"
            whole = data if isinstance(data, bytes) else data[:]
            record_facts.extend(evidence_record_facts(record, data_objects=[whole],
                                                      covers=inside, candidates=archived,
                                                      label=label))
        facts = [_with_records(f, record_facts) for f in facts]
    return facts


def _validate_guarded(facts: Sequence[SignatureFacts], *, guard: Guard, at: datetime,
                      offline: bool, fetchers: RevocationFetchers | None,
                      extra_evidence: EvidenceSet | None, document_sha256: str
                      ) -> ValidationReport:
    """:func:`validate_facts`, one signature at a time so the deadline is checked between
    them, over the evidence gathered once (through fetchers that honour the caps)."""
    evidence = _embedded_evidence(facts, extra_evidence)
    notes: list[str] = []
    policy = guard.policy
    late = guard.expired()
    if not offline and fetchers is not None and not late:
        capped = RevocationFetchers(ocsp=guard.ocsp(fetchers.ocsp), crl=guard.crl(fetchers.crl),
                                    certificates=guard.certificates(fetchers.certificates))
        evidence = evidence.merge(gather_online(facts, evidence, policy, capped, notes))
    reports: list[SignatureReport] = []
    for item in facts:
        late = late or guard.expired()
        if late:
            reports.append(guard.too_late(item, at=at))
            continue
        try:
            one = validate_facts([item], policy=policy, at=at, offline=True,
                                 extra_evidence=evidence)
        except LtvError:
            raise
        except (*_RAW_ERRORS, *_CERTVALIDATOR_ERRORS) as exc:  # found by fuzzing
            reports.append(malformed(item, at=at, exc=exc))
            continue
        reports.extend(guard.judge(sig) for sig in one.signatures)
    return ValidationReport(
        validation_time=at, policy=policy.describe(), offline=offline or fetchers is None,
        document_sha256=document_sha256, signatures=tuple(reports), warnings=tuple(notes),
    )


def _with_records(facts: SignatureFacts, records: Sequence[TimestampFacts]) -> SignatureFacts:
    from dataclasses import replace

    return replace(facts, timestamps=(*facts.timestamps, *records))


def _embedded_evidence(facts: Sequence[SignatureFacts],
                       extra: EvidenceSet | None) -> EvidenceSet:
    """Everything the signatures carry (their own material and their time-stamps'
    certificates), plus ``extra`` (e.g. the archive's material for this document)."""
    evidence = EvidenceSet()
    for item in facts:
        evidence = evidence.merge(item.evidence)
        for ts in item.timestamps:
            evidence = evidence.merge(EvidenceSet.of(certificates=ts.certificates))
    return evidence.merge(extra) if extra is not None else evidence


def validate_facts(
    facts: Sequence[SignatureFacts],
    *,
    policy: ValidationPolicy,
    at: datetime,
    offline: bool = False,
    fetchers: RevocationFetchers | None = None,
    extra_evidence: EvidenceSet | None = None,
    document_sha256: str = "",
) -> ValidationReport:
    """The engine over adapter output (what :func:`validate` runs after parsing)."""
    evidence = _embedded_evidence(facts, extra_evidence)
    notes: list[str] = []
    if not offline and fetchers is not None:
        evidence = evidence.merge(gather_online(facts, evidence, policy, fetchers, notes))
    # The decisions read parsed certificates, CRLs and OCSP responses that validations share
    # (certpath.PARSED, the policy's trust anchors); asn1crypto decodes their parts lazily, on
    # first access, and that is not thread-safe (a concurrent reader sees a half-filled field
    # list). Decisions are pure CPU under the GIL, so taking them one at a time per process
    # costs no throughput; gathering (network) and parsing the document stay concurrent.
    with _DECISIONS:
        reports = run_sync(_validate_all(facts, policy=policy, at=at, evidence=evidence))
    return ValidationReport(
        validation_time=at, policy=policy.describe(), offline=offline or fetchers is None,
        document_sha256=document_sha256, signatures=tuple(reports), warnings=tuple(notes),
    )


_DECISIONS = threading.Lock()


async def _validate_all(facts: Sequence[SignatureFacts], *, policy: ValidationPolicy,
                        at: datetime, evidence: EvidenceSet) -> list[SignatureReport]:
    out = []
    for item in facts:
        checker = CertificateChecker(policy=policy, at=at, evidence=evidence,
                                     extra_certificates=item.certificates)
        out.append(await validate_lta(item, checker=checker, evidence=evidence))
    return out


# ---------------------------------------------------------------------------------------------
# Gathering (online), before any decision


def gather_online(facts: Sequence[SignatureFacts], evidence: EvidenceSet,
                  policy: ValidationPolicy, fetchers: RevocationFetchers,
                  notes: list[str]) -> EvidenceSet:
    """Fetch OCSP responses (else CRLs) and missing issuer certificates for the chains of every
    signer and TSA certificate, through the ports. Failures become notes, never exceptions:
    the processes then decide with what there is (e.g. TRY_LATER)."""
    pool: list[x509.Certificate] = [*evidence.certificates, *policy.trust_anchors]
    for item in facts:
        pool.extend(item.certificates)
    targets: list[x509.Certificate] = []
    for item in facts:
        if item.signer_certificate is not None:
            targets.append(item.signer_certificate)
        targets.extend(ts.tsa_certificate for ts in item.timestamps if ts.tsa_certificate)
    fetched_certs: list[x509.Certificate] = []
    crls: list[bytes] = []
    ocsps: list[bytes] = []
    done: set[bytes] = set()
    anchors = {der(a) for a in policy.trust_anchors}
    for target in targets:
        chain = _simple_chain(target, pool, fetchers, notes, fetched_certs)
        for cert, issuer in itertools.pairwise(chain):
            key = der(cert)
            if key in done or key in anchors:
                continue
            done.add(key)
            got = False
            if fetchers.ocsp is not None and ocsp_urls(cert):
                try:
                    response = fetchers.ocsp.fetch_ocsp(cert, issuer)
                    ocsps.append(response.der)
                    fetched_certs.extend(response.certificates)
                    got = True
                except LtvError as exc:
                    notes.append(f"OCSP for {_name(cert)}: {exc}")
            if not got and fetchers.crl is not None:
                for url in crl_urls(cert):
                    try:
                        crls.append(fetchers.crl.fetch_crl(url, issuer=issuer).der)
                        break
                    except LtvError as exc:
                        notes.append(f"CRL for {_name(cert)}: {exc}")
    return EvidenceSet.of(certificates=fetched_certs, crls=crls, ocsp_responses=ocsps)


def _simple_chain(cert: x509.Certificate, pool: list[x509.Certificate],
                  fetchers: RevocationFetchers, notes: list[str],
                  fetched: list[x509.Certificate]) -> list[x509.Certificate]:
    chain = [cert]
    current = cert
    for _ in range(8):
        if current.issuer == current.subject:
            break
        issuer = _find_issuer(current, pool)
        if issuer is None and fetchers.certificates is not None:
            for url in ca_issuer_urls(current):
                try:
                    found = fetchers.certificates.fetch_certificates(url)
                except LtvError as exc:
                    notes.append(f"issuer certificate of {_name(current)}: {exc}")
                    continue
                pool.extend(found)
                fetched.extend(found)
                issuer = _find_issuer(current, pool)
                if issuer is not None:
                    break
        if issuer is None:
            break
        chain.append(issuer)
        current = issuer
    return chain


def _find_issuer(cert: x509.Certificate, pool: Sequence[x509.Certificate]
                 ) -> x509.Certificate | None:
    for cand in pool:
        if cand.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(cand)
        except (ValueError, TypeError, InvalidSignature):
            continue  # not this one
        return cand
    return None


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


# ---------------------------------------------------------------------------------------------
# The processes


@dataclass(slots=True)
class _Run:
    """Working state of one signature's validation."""

    facts: SignatureFacts
    checker: CertificateChecker
    evidence: EvidenceSet
    ledger: PoeLedger
    ts_reports: dict[int, TimestampReport] = field(default_factory=dict)
    ts_paths: dict[int, tuple[x509.Certificate, ...]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    signer_path: tuple[x509.Certificate, ...] = ()
    revocation: tuple[datetime, str | None] | None = None

    @property
    def at(self) -> datetime:
        return self.checker.at


async def validate_timestamp(ts: TimestampFacts, *, checker: CertificateChecker,
                             ledger: PoeLedger) -> tuple[TimestampReport, tuple[x509.Certificate,
                                                                                 ...]]:
    """EN 319 102-1 §5.4: the token's integrity and imprint, then its TSA certificate with XCV
    at the validation time (revocation fresh for a use at genTime) and, when that is
    indeterminate for lack of POE, past signature validation with the POEs of ``ledger``."""

    def report(indication: Indication, sub: SubIndication | None, message: str | None, *,
               past: bool = False) -> TimestampReport:
        return TimestampReport(
            kind=ts.kind, gen_time=ts.gen_time,
            tsa=ts.tsa_certificate.subject.rfc4514_string() if ts.tsa_certificate else None,
            indication=indication, subindication=sub, message=message, imprint_ok=ts.imprint_ok,
            used_as_poe=indication is Indication.PASSED, past_validation=past,
            digest_algorithm=ts.digest_algorithm, token_sha256=hashlib.sha256(ts.token).hexdigest(),
            imprint=ts.imprint, imprint_variant=ts.imprint_variant,
        )

    if not ts.integrity.ok:
        sub = SubIndication[ts.integrity.status.value] if ts.integrity.status.value in (
            SubIndication.__members__) else SubIndication.FORMAT_FAILURE
        return report(Indication.FAILED, sub, ts.integrity.message), ()
    if not ts.imprint_ok and not ts.imprint_computable:
        return report(Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND,
                      ts.imprint_message), ()
    if not ts.imprint_ok:
        return report(Indication.FAILED, SubIndication.HASH_FAILURE, ts.imprint_message), ()
    tsa = ts.tsa_certificate
    if tsa is None:
        return report(Indication.INDETERMINATE, SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                      "the TSA certificate is not in the token"), ()
    if ts.gen_time > tsa.not_valid_after_utc:
        return report(Indication.FAILED, SubIndication.EXPIRED,
                      "genTime is after the TSA certificate expired"), ()
    if ts.gen_time < tsa.not_valid_before_utc:
        return report(Indication.FAILED, SubIndication.NOT_YET_VALID,
                      "genTime is before the TSA certificate's validity"), ()
    crypto = _timestamp_crypto(ts, checker=checker, ledger=ledger)
    if not crypto.ok:
        return report(Indication.INDETERMINATE, crypto.subindication, crypto.message), ()
    outcome = await checker.validate_at(tsa, usage_time=ts.gen_time, ledger=ledger,
                                        role=CertRole.TSA, extra_certificates=ts.certificates)
    if outcome.ok:
        return report(Indication.PASSED, None, None), outcome.path
    current = outcome.subindication
    assert current is not None
    if current in PAST_VALIDATION_CANDIDATES:
        past = await checker.past_signature_validation(
            tsa, ledger=ledger, signature_poe=ledger.time_of(poe_digest(ts.signature_value)),
            current=current, role=CertRole.TSA, extra_certificates=ts.certificates,
        )
        if past.ok:
            return report(Indication.PASSED, None, None, past=True), past.path
        indication = Indication.FAILED if past.failed else Indication.INDETERMINATE
        return (report(indication, past.subindication, past.message or outcome.message),
                past.path or outcome.path)
    indication = Indication.FAILED if current in _FAILED_SUBS else Indication.INDETERMINATE
    return report(indication, current, outcome.message), outcome.path


def _timestamp_crypto(ts: TimestampFacts, *, checker: CertificateChecker,
                      ledger: PoeLedger) -> CryptoVerdict:
    """§5.2.8 for a time-stamp: its message imprint at genTime (the TSA vouches for when it
    saw the imprint), its own SignerInfo algorithms at the token's POE (a forged token could
    claim any genTime, so only an earlier proof of the token counts)."""
    label = ts.label or ts.kind.value
    if ts.digest_algorithm:
        imprint = cryptographic_constraints(
            [AlgorithmUse(what=f"{label} message imprint", algorithm=ts.digest_algorithm)],
            policy=checker.policy, moment=ts.gen_time, subject="the time-stamped data")
        if not imprint.ok:
            return imprint
    uses = ts.algorithm_uses
    if ts.tsa_certificate is not None:  # the TSA's own key (RSA-2048 sunset, NIST IR 8547)
        uses = (*uses, key_use(ts.tsa_certificate.public_key(), f"{label} TSA signature key"))
    return cryptographic_constraints(
        uses, policy=checker.policy,
        moment=ledger.time_of(poe_digest(ts.signature_value)), subject=f"the {label}")


async def _gather_poe(run: _Run) -> None:
    """§5.6.2.3 POE extraction from archive time-stamps, document time-stamps and evidence
    records: oldest first, each validated with the prima facie POE of the next one; a failure
    discards the chain (no POE from it), as the evidence-record validation requires."""
    indexed = [(i, ts) for i, ts in enumerate(run.facts.timestamps)
               if ts.kind in (TimestampKind.ARCHIVE, TimestampKind.DOCUMENT,
                              TimestampKind.EVIDENCE_RECORD, *LEGACY_POE_KINDS)]
    indexed.sort(key=lambda pair: pair[1].gen_time)
    accepted = run.ledger.copy()
    for pos, (index, ts) in enumerate(indexed):
        temporary = accepted.copy()
        for later_index, later in indexed[pos + 1:]:
            temporary.register_all(later.covers, later.gen_time, source=later.kind.value,
                                   index=later_index)
        ts_report, path = await validate_timestamp(ts, checker=run.checker, ledger=temporary)
        run.ts_reports[index] = ts_report
        run.ts_paths[index] = path
        if ts_report.indication is Indication.PASSED:
            accepted.register_all(ts.covers, ts.gen_time, source=ts.kind.value, index=index)
        else:
            run.warnings.append(
                f"{ts.label or ts.kind.value} of {ts.gen_time.isoformat()} gives no proof of "
                f"existence: {ts_report.subindication.token if ts_report.subindication else ''}"
                f" {ts_report.message or ''}".rstrip()
            )
            for later_index, _ in indexed[pos + 1:]:
                run.ts_reports.pop(later_index, None)
            accepted = run.ledger.copy()
            for later_index, later in indexed[pos + 1:]:
                later_report, later_path = await validate_timestamp(
                    later, checker=run.checker, ledger=accepted)
                run.ts_reports[later_index] = _not_poe(later_report)
                run.ts_paths[later_index] = later_path
            break
    run.ledger = accepted


def _not_poe(report: TimestampReport) -> TimestampReport:
    from dataclasses import replace

    return replace(report, used_as_poe=False)


async def validate_basic(run: _Run) -> PathOutcome | SignatureReport:
    """EN 319 102-1 §5.3: FC, ISC, CV, then XCV of the signer at the validation time.

    Returns a final report when the signature fails before XCV, else the XCV outcome."""
    facts = run.facts
    integrity = facts.integrity
    if integrity.status is IntegrityStatus.FORMAT_FAILURE:
        return _final(run, Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                      integrity.message)
    # FC: a CMS that signs no id-data, or an embedded time-stamp that does not parse
    content_type = content_type_constraint(facts.content_type, policy=run.checker.policy)
    if content_type is not None and content_type.subindication is SubIndication.FORMAT_FAILURE:
        return _final(run, Indication.TOTAL_FAILED, content_type.subindication,
                      content_type.message)
    for ts in facts.timestamps:
        if (ts.kind in (TimestampKind.SIGNATURE, TimestampKind.CONTENT, TimestampKind.ARCHIVE)
                and ts.integrity.status is IntegrityStatus.FORMAT_FAILURE):
            return _final(run, Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                          f"the {ts.label or ts.kind.value} is malformed: "
                          f"{ts.integrity.message}")
    # A signed data object that does not match is final whatever else holds (CV §5.2.7).
    if integrity.status is IntegrityStatus.HASH_FAILURE:
        return _final(run, Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE, integrity.message)
    if integrity.status is IntegrityStatus.SIG_CRYPTO_FAILURE:
        return _final(run, Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE,
                      integrity.message)
    if integrity.status is IntegrityStatus.SIGNED_DATA_NOT_FOUND:
        return _final(run, Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND,
                      integrity.message)
    if content_type is not None:  # another content type than id-data: not accepted (#19)
        return _final(run, Indication.INDETERMINATE, content_type.subindication,
                      content_type.message)
    if facts.constraint_failures:  # format breaches of intact signatures (BER, no content-type)
        return _final(run, Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE,
                      "; ".join(facts.constraint_failures))
    if integrity.status is IntegrityStatus.UNSUPPORTED_ALGORITHM:  # issue #19, item 7
        return _final(run, Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                      f"ltv cannot process this signature: {integrity.message}")
    if facts.signer_certificate is None:
        return _final(run, Indication.INDETERMINATE, SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                      facts.signer_identification_error or "no signer certificate")
    from ltv.validation._cert_extensions import extension_warnings

    run.warnings.extend(extension_warnings(facts.signer_certificate, role="signer"))
    purpose = signer_purpose(facts.signer_certificate, policy=run.checker.policy)
    if purpose is not None:  # §5.2.6 constraints: an end entity meant for signing
        return _final(run, Indication.INDETERMINATE, purpose.subindication, purpose.message)
    kind = signer_key_kind(facts.signer_certificate)
    if kind not in run.checker.policy.accepted_key_kinds:
        return _final(run, Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                      f"the policy does not accept {kind.value} keys (certificate policy)")
    outcome = await run.checker.validate_at(
        facts.signer_certificate, usage_time=run.at, ledger=run.ledger, role=CertRole.SIGNER,
        extra_certificates=facts.certificates,
    )
    run.signer_path = outcome.path
    if outcome.revocation_time is not None and outcome.revoked_is_ee:
        run.revocation = (outcome.revocation_time, outcome.revocation_reason)
    return outcome


async def validate_with_time(run: _Run) -> None:
    """EN 319 102-1 §5.5 (time part): validate signature and content time-stamps; a passing
    signature time-stamp registers POE for the signature value at its genTime."""
    for index, ts in sorted(enumerate(run.facts.timestamps), key=lambda p: p[1].gen_time):
        if ts.kind not in (TimestampKind.SIGNATURE, TimestampKind.CONTENT):
            continue
        ts_report, path = await validate_timestamp(ts, checker=run.checker, ledger=run.ledger)
        run.ts_reports[index] = ts_report
        run.ts_paths[index] = path
        if ts_report.indication is Indication.PASSED and ts.kind is TimestampKind.SIGNATURE:
            run.ledger.register_all(ts.covers, ts.gen_time, source=ts.kind.value, index=index)
        elif ts_report.indication is not Indication.PASSED:
            run.warnings.append(
                f"{ts.label or ts.kind.value}: {ts_report.indication.token}"
                f"{'/' + ts_report.subindication.token if ts_report.subindication else ''}"
                f"{': ' + ts_report.message if ts_report.message else ''}"
            )


def best_signature_time(run: _Run) -> datetime:
    """The earliest trusted POE of the signature value, or the validation time (§5.5.4)."""
    return run.ledger.time_of(poe_digest(run.facts.signature_value))


async def past_signature_validation(run: _Run, current: SubIndication) -> PathOutcome:
    """EN 319 102-1 §5.6.2.4 for the signer certificate, with every POE gathered."""
    signer = run.facts.signer_certificate
    assert signer is not None
    return await run.checker.past_signature_validation(
        signer, ledger=run.ledger, signature_poe=best_signature_time(run), current=current,
        role=CertRole.SIGNER, extra_certificates=run.facts.certificates,
    )


async def validate_lta(facts: SignatureFacts, *, checker: CertificateChecker,
                       evidence: EvidenceSet) -> SignatureReport:
    """EN 319 102-1 §5.6.3 for one signature (lower levels simply have fewer POE sources)."""
    run = _Run(facts=facts, checker=checker, evidence=evidence, ledger=PoeLedger(checker.at),
               errors=list(facts.errors), warnings=[*facts.warnings, *checker.problems])
    # 1-2: POE from archive/document time-stamps and evidence records (§5.6.2.3)
    await _gather_poe(run)
    # 3: the signature at the current time (§5.5 → §5.3)
    basic = await validate_basic(run)
    if isinstance(basic, SignatureReport):
        return basic
    await validate_with_time(run)
    content_ts_times = [ts.gen_time for i, ts in enumerate(facts.timestamps)
                        if ts.kind is TimestampKind.CONTENT
                        and run.ts_reports.get(i) is not None
                        and run.ts_reports[i].indication is Indication.PASSED]
    not_before = max(content_ts_times, default=None)
    best = best_signature_time(run)
    if not_before is not None and best < not_before:
        return _final(run, Indication.INDETERMINATE, SubIndication.TIMESTAMP_ORDER_FAILURE,
                      "a content time-stamp is later than the signature's proof of existence")
    outcome = basic
    carried_by_past = False
    if not outcome.ok:
        sub = outcome.subindication
        assert sub is not None
        if (sub is SubIndication.REVOKED_NO_POE and outcome.revocation_time is not None
                and best < outcome.revocation_time):
            outcome = PathOutcome(subindication=None, path=outcome.path)  # §5.5.4 6 c)
            carried_by_past = True
        elif sub in PAST_VALIDATION_CANDIDATES:
            past = await past_signature_validation(run, sub)
            if past.ok:
                outcome = past
                carried_by_past = True
                run.signer_path = past.path or run.signer_path
            else:
                if past.failed:
                    return _final(run, Indication.TOTAL_FAILED, past.subindication, past.message)
                # Past validation could not help; a specific current-time finding (revoked,
                # expired) stays the verdict, otherwise the past-validation reason is reported.
                if sub not in _KEEP_CURRENT:
                    sub = past.subindication or sub
                outcome = PathOutcome(subindication=sub,
                                      message=past.message or outcome.message,
                                      path=outcome.path,
                                      revocation_time=outcome.revocation_time,
                                      revocation_reason=outcome.revocation_reason,
                                      revoked_is_ee=outcome.revoked_is_ee)
    if not outcome.ok and outcome.subindication is SubIndication.NO_POE:
        # The proof of existence is missing because a time-stamp that would have given it
        # rests on an algorithm past its sunset (RSA-2048 after 2035 without an ML-DSA
        # renewal, say): that is the telling reason (EN 319 102-1 §5.2.8).
        weak_ts = _timestamp_crypto_failure(run)
        if weak_ts is not None:
            return _final(run, Indication.INDETERMINATE, weak_ts[0],
                          f"{weak_ts[1]} (so: {outcome.message})")
    if not outcome.ok:
        sub = outcome.subindication
        assert sub is not None
        if sub is SubIndication.REVOKED_NO_POE and run.revocation is not None:
            revoked_at = run.revocation[0]
            proof_after = (not_before is not None and not_before >= revoked_at) or (
                facts.claimed_signing_time is not None
                and facts.claimed_signing_time >= revoked_at and best >= revoked_at)
            if proof_after:
                return _final(run, Indication.TOTAL_FAILED, SubIndication.REVOKED,
                              f"the signature was made after the signer certificate was revoked "
                              f"({revoked_at.isoformat()})")
        indication = Indication.TOTAL_FAILED if sub in _FAILED_SUBS else Indication.INDETERMINATE
        return _final(run, indication, sub, outcome.message)
    # SAV (§5.2.8): cryptographic constraints at the best-signature-time, then the policy
    signer = facts.signer_certificate
    assert signer is not None
    crypto = cryptographic_constraints(facts.algorithm_uses, policy=run.checker.policy,
                                       moment=best)
    if not crypto.ok:
        return _final(run, Indication.INDETERMINATE, crypto.subindication, crypto.message)
    weak_revocation = _revocation_crypto_failure(run)
    if weak_revocation is not None:
        return _final(run, Indication.INDETERMINATE, weak_revocation.subindication,
                      weak_revocation.message)
    weak_ts = _timestamp_crypto_failure(run)
    if weak_ts is not None:
        return _final(run, Indication.INDETERMINATE, weak_ts[0], weak_ts[1])
    if crypto.weakest is not None and crypto.sunset is not None and crypto.sunset <= run.at:
        run.warnings.append(
            f"{crypto.weakest.algorithm} in the {crypto.weakest.what} is past its sunset "
            f"({crypto.sunset.date().isoformat()}); it is accepted only through the proof of "
            f"existence of {best.isoformat()}")
    sub_crypto, why = run.checker.signature_algorithm_verdict(
        digest_algorithm=facts.digest_algorithm, public_key=signer.public_key(), moment=best)
    if sub_crypto is not None:
        return _final(run, Indication.INDETERMINATE, sub_crypto, why)
    policy = run.checker.policy
    if facts.level is None or facts.level < policy.minimum_level:
        level = facts.level.value if facts.level else "no baseline level"
        return _final(run, Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE,
                      f"{level} is below the policy's minimum {policy.minimum_level.value}")
    if facts.pdf_changes_after_signing == "disallowed" and policy.refuse_disallowed_pdf_changes:
        return _final(run, Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE,
                      "the document was changed after signing in a way the signature does not "
                      f"allow: {facts.pdf_changes_detail or 'disallowed changes'}")
    if facts.unsigned_content and policy.refuse_unsigned_content:
        return _final(run, Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE,
                      "the file holds content no reference signs: "
                      + "; ".join(u.description for u in facts.unsigned_content[:3])
                      + (" and more" if len(facts.unsigned_content) > 3 else ""))
    return _final(run, Indication.TOTAL_PASSED, None, None, carried_by_past=carried_by_past)


def _revocation_crypto_failure(run: _Run) -> CryptoVerdict | None:
    """§5.2.8 for the revocation data of the signer's path: a certificate whose every OCSP
    response and CRL is signed with an algorithm past its sunset (at that object's POE) gives
    no trustworthy revocation status."""
    for uses in revocation_algorithm_uses(run.signer_path,
                                          ocsp_responses=run.evidence.ocsp_responses,
                                          crls=run.evidence.crls):
        verdicts = [cryptographic_constraints(
            [u.use], policy=run.checker.policy, moment=run.ledger.time_of(poe_digest(u.der)),
            subject="that revocation data") for u in uses]
        if verdicts and not any(v.ok for v in verdicts):
            return verdicts[0]
    return None


def _timestamp_crypto_failure(run: _Run) -> tuple[SubIndication, str] | None:
    """A time-stamp of this signature that failed its cryptographic constraints makes the
    signature fail them too: SHA-1 anywhere in the binding, without POE, is refused."""
    crypto_subs = (SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                   SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE)
    for index, ts in enumerate(run.facts.timestamps):
        ts_report = run.ts_reports.get(index)
        if ts_report is not None and ts_report.subindication in crypto_subs:
            assert ts_report.subindication is not None
            return ts_report.subindication, (f"{ts.label or ts.kind.value} of "
                                             f"{ts.gen_time.isoformat()}: {ts_report.message}")
    return None


# ---------------------------------------------------------------------------------------------
# Reporting


def signer_key_kind(cert: x509.Certificate) -> KeyKind:
    from ltv.validation._cert_extensions import policy_oids  # lenient: issue #19

    return key_kind_for_policies(policy_oids(cert))


def _holder_fields(cert: x509.Certificate) -> dict[str, str | None]:
    """The JPKI holder data and the issuing CA's name, as SignerSummary fields."""
    from ltv.validation.holder import holder_data, issuer_name

    holder = holder_data(cert)
    return {"holder_name": holder.name, "issuer_name": issuer_name(cert),
            "holder_address": holder.address, "holder_date_of_birth": holder.date_of_birth,
            "holder_gender": holder.gender}


def _final(run: _Run, indication: Indication, sub: SubIndication | None,
           message: str | None, *, carried_by_past: bool = False) -> SignatureReport:
    facts = run.facts
    signer = facts.signer_certificate
    best = best_signature_time(run)
    summary = None
    if signer is not None:
        algorithm, bits = key_description(signer.public_key())
        summary = SignerSummary(
            subject=signer.subject.rfc4514_string(), serial=format(signer.serial_number, "x"),
            issuer=signer.issuer.rfc4514_string(), key_kind=signer_key_kind(signer),
            key_algorithm=algorithm, key_size=bits,
            not_before=signer.not_valid_before_utc, not_after=signer.not_valid_after_utc,
            **_holder_fields(signer),
        )
    poe = _poe_summary(run, indication, carried_by_past)
    timestamps = tuple(
        run.ts_reports.get(i) or _unvalidated(ts) for i, ts in enumerate(facts.timestamps)
    )
    errors = list(run.errors)
    if indication is not Indication.TOTAL_PASSED and message:
        errors.append(message)
    crypto = cryptographic_constraints(facts.algorithm_uses, policy=run.checker.policy,
                                       moment=best)
    weakest = (None if crypto.weakest is None or crypto.sunset is None
               else WeakestAlgorithm(what=crypto.weakest.what,
                                     algorithm=normalise_digest_name(crypto.weakest.algorithm),
                                     sunset=crypto.sunset))
    return SignatureReport(
        id=facts.id, format=facts.format, level=facts.level, indication=indication,
        subindication=sub, message=message, validation_time=run.at,
        signing_time=facts.claimed_signing_time, best_signature_time=best, signer=summary,
        digest_algorithm=facts.digest_algorithm, signature_algorithm=facts.signature_algorithm,
        timestamps=timestamps, certificates=_timeline(run), poe=poe,
        pdf_changes_after_signing=facts.pdf_changes_after_signing,
        signed_data_objects=facts.signed_data_objects, unsigned_content=facts.unsigned_content,
        weakest_algorithm=weakest,
        errors=tuple(dict.fromkeys(errors)), warnings=tuple(dict.fromkeys(run.warnings)),
        form=facts.form,
        counter_signature_of=facts.counter_signature_of,
    )


def _poe_summary(run: _Run, indication: Indication, carried_by_past: bool) -> PoeSummary | None:
    if indication is not Indication.TOTAL_PASSED:
        return None
    source = run.ledger.source_of(poe_digest(run.facts.signature_value))
    if source is None:
        return PoeSummary(source="validation-time", time=run.at, timestamp_index=None,
                          description="the signer certificate is valid at the validation time; "
                                      "no earlier proof of existence was needed")
    when, kind, index = source
    label = (run.facts.timestamps[index].label if index is not None
             and index < len(run.facts.timestamps) else kind)
    how = ("past signature validation relied on it" if carried_by_past
           else "it sets the best-signature-time")
    return PoeSummary(source=kind, time=when, timestamp_index=index,
                      description=f"{label or kind} of {when.isoformat()}: {how}")


def _timeline(run: _Run) -> tuple[CertificateSummary, ...]:
    rows: list[CertificateSummary] = []
    seen: set[tuple[str, bytes]] = set()
    source = OfflineRevocationSource(ocsp_responses=run.evidence.ocsp_responses,
                                     crls=run.evidence.crls)

    def add(cert: x509.Certificate, role: str, issuer: x509.Certificate | None) -> None:
        key = (role, der(cert))
        if key in seen:
            return
        seen.add(key)
        revoked_at: datetime | None = None
        reason: str | None = None
        if role == "signer" and run.revocation is not None:
            revoked_at, reason = run.revocation
        elif issuer is not None:
            revoked_at, reason = _known_revocation(cert, issuer, source)
        rows.append(CertificateSummary(
            role=role, subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(), serial=format(cert.serial_number, "x"),
            sha256=hashlib.sha256(der(cert)).hexdigest(), not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc, revocation_time=revoked_at,
            revocation_reason=reason,
        ))

    signer = run.facts.signer_certificate
    if signer is not None:
        path = list(reversed(run.signer_path)) if run.signer_path else [signer]
        for pos, cert in enumerate(path):
            issuer = path[pos + 1] if pos + 1 < len(path) else None
            role = "signer" if pos == 0 else ("trust-anchor" if issuer is None else "signer-ca")
            add(cert, role, issuer)
    for index, ts in enumerate(run.facts.timestamps):
        if ts.tsa_certificate is None:
            continue
        tpath = list(reversed(run.ts_paths.get(index, ()))) or [ts.tsa_certificate]
        for pos, cert in enumerate(tpath[:-1] if len(tpath) > 1 else tpath):
            issuer = tpath[pos + 1] if pos + 1 < len(tpath) else None
            add(cert, "tsa" if pos == 0 else "tsa-ca", issuer)
    return tuple(rows)


def _known_revocation(cert: x509.Certificate, issuer: x509.Certificate,
                      source: OfflineRevocationSource) -> tuple[datetime | None, str | None]:
    try:
        response = source.fetch_ocsp(cert, issuer)
        if response.status is CertStatus.REVOKED:
            reason = response.revocation_reason.value if response.revocation_reason else None
            return response.revocation_time, reason
    except RevocationError:
        pass
    for url in crl_urls(cert) or ["embedded"]:
        try:
            entry = source.fetch_crl(url, issuer=issuer).revoked_entry(cert.serial_number)
        except RevocationError:
            continue
        if entry is not None:
            return entry.revocation_time, entry.reason.value if entry.reason else None
        break
    return None, None
