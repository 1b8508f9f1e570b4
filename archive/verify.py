"""Offline proof of an evidence package (``ltv archive verify ID``).

1. Read the package and check every hash (the id is the manifest's SHA-256).
2. Assemble its RFC 4998 record from the batch entries and verify it over the package's data
   objects (:func:`ltv.ers.verify_evidence_record`, RFC 4998 §5.3); each token is checked with
   :func:`ltv.timestamps.parse_token` (signature, ESS signing certificate, EKU) and must cover
   the computed root. Validation material stored with a renewal must hash into the renewal's
   tree (it was covered by that timestamp).
3. Validate the signed document (EN 319 102-1) offline at ``at`` with the record's archive
   timestamps as evidence-record POE: each one proves the document's objects and everything
   before it (earlier tokens, the material fetched for them), so the engine validates each
   TSA certificate in the past at the POE the next timestamp gives (§5.6.2.4), the newest at
   ``at``. The archived material (package evidence, renewal material) is the only source of
   certificates and revocation data: nothing is fetched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from archive.errors import ArchiveInputError, ObjectNotFoundError
from archive.ingest import BatchEntry, assemble_record, parse_material, read_entries
from archive.package import DEFAULT_TENANT, Package, blob_key, data_objects, read_package
from archive.store import ObjectStore
from ltv.algorithms import DigestAlgorithm
from ltv.errors import InputError, TimestampError
from ltv.ers import EvidenceRecord, compute_root, timestamp_imprint, verify_evidence_record
from ltv.evidence import EvidenceSet
from ltv.timestamps import parse_token
from ltv.validation import TimestampKind, ValidationPolicy, ValidationReport, validate
from ltv.validation.facts import TimestampFacts, evidence_digests, poe_digest

__all__ = ["Evidence", "VerifyResult", "batch_material", "load_evidence", "record_facts",
           "verify_evidence", "verify_package"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """A package with its assembled record and the archived validation material."""

    package: Package
    entries: tuple[BatchEntry, ...]
    record: EvidenceRecord
    material: EvidenceSet  # package evidence + every renewal's material
    proven_material: tuple[EvidenceSet | None, ...]  # per entry, covered by its timestamp


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyResult:
    package_id: str
    times: tuple[datetime, ...]  # genTime of each archive timestamp, oldest first
    report: ValidationReport


def _package_evidence(package: Package) -> EvidenceSet:
    certs = []
    for obj in package.manifest.objects:
        if obj.role in ("certificate", "trust-anchor"):
            certs.append(x509.load_der_x509_certificate(package.content(obj)))
    return EvidenceSet.of(
        certificates=certs,
        crls=[package.content(o) for o in package.manifest.objects if o.role == "crl"],
        ocsp_responses=[package.content(o) for o in package.manifest.objects if o.role == "ocsp"],
    )


def load_evidence(store: ObjectStore, package_id: str, *, tenant: str = DEFAULT_TENANT
                  ) -> Evidence:
    """Read a package, assemble its record and check the material hashes."""
    package = read_package(store, package_id, tenant=tenant)
    entries = read_entries(store, package.manifest.batch, tenant=tenant)
    if not entries:
        raise ArchiveInputError(f"package {package_id} has no evidence record (batch "
                                f"{package.manifest.batch} was never sealed)")
    material, proven = batch_material(store, entries, tenant=tenant)
    return _evidence(package, entries, assemble_record(entries, package), material, proven)


def batch_material(store: ObjectStore, entries: Sequence[BatchEntry], *,
                   tenant: str = DEFAULT_TENANT
                   ) -> tuple[EvidenceSet, tuple[EvidenceSet | None, ...]]:
    """The renewal material of a batch's entries (the same for every package of the batch),
    each proven to hash into the tree its timestamp covers: (all of it, per entry)."""
    material = EvidenceSet()
    proven: list[EvidenceSet | None] = []
    for entry in entries:
        item: EvidenceSet | None = None
        if entry.material is not None:
            raw = store.get(blob_key(tenant, entry.material))
            _, imprint, _ = timestamp_imprint(entry.token)
            if compute_root(entry.algorithm.digest(raw), entry.material_upper,
                            entry.algorithm) != imprint:
                raise ArchiveInputError(f"batch {entry.batch}: the material of timestamp "
                                        f"{entry.chain}-{entry.index} is not what it covers")
            item = parse_material(raw)
            material = material.merge(item)
        if entry.token_material is not None:
            with contextlib.suppress(ObjectNotFoundError):
                material = material.merge(
                    parse_material(store.get(blob_key(tenant, entry.token_material))))
        proven.append(item)
    return material, tuple(proven)


def _evidence(package: Package, entries: Sequence[BatchEntry], record: EvidenceRecord,
              material: EvidenceSet, proven: tuple[EvidenceSet | None, ...]) -> Evidence:
    return Evidence(package=package, entries=tuple(entries), record=record,
                    material=_package_evidence(package).merge(material),
                    proven_material=proven)


def _check_token(token: bytes, digest: bytes, algorithm: DigestAlgorithm) -> datetime:
    parsed = parse_token(token)
    if parsed.digest_algorithm is not algorithm or parsed.message_digest != digest:
        raise TimestampError("an archive timestamp does not cover the hash tree root")
    return parsed.gen_time


def _signature_value(token: bytes) -> bytes:
    info = cms.ContentInfo.load(token)
    return bytes(info["content"]["signer_infos"][0]["signature"].native)


def _document_covers(signed: bytes, detached: bytes | None) -> frozenset[bytes]:
    """POE digests of everything in the signed file (signature values, tokens, material)."""
    from ltv.signing import SignatureFormat
    from ltv.validation import detect_format

    fmt = detect_format(signed)
    if fmt is SignatureFormat.CADES:
        from ltv.validation.cades import extract
    elif fmt is SignatureFormat.PADES:
        from ltv.validation.pades import extract
    else:
        from ltv.validation.xades import extract
    covers: set[bytes] = {poe_digest(signed)}
    for facts in extract(signed, detached_content=detached):
        covers.add(poe_digest(facts.signature_value))
        covers |= evidence_digests(
            certificates=[c.public_bytes(Encoding.DER) for c in (*facts.certificates,
                                                         *facts.evidence.certificates)],
            crls=facts.evidence.crls, ocsp_responses=facts.evidence.ocsp_responses)
        for ts in facts.timestamps:
            covers.add(poe_digest(ts.signature_value))
            covers.add(poe_digest(ts.token))
            covers |= evidence_digests(
                certificates=[c.public_bytes(Encoding.DER) for c in ts.certificates])
    return frozenset(covers)


def record_facts(evidence: Evidence, *, base_covers: frozenset[bytes]) -> list[TimestampFacts]:
    """One EVIDENCE_RECORD :class:`TimestampFacts` per archive timestamp, oldest first."""
    facts: list[TimestampFacts] = []
    covers = set(base_covers)
    package_material = _package_evidence(evidence.package)
    covers |= evidence_digests(certificates=package_material.certificate_ders,
                               crls=package_material.crls,
                               ocsp_responses=package_material.ocsp_responses)
    position = 0
    for c, chain in enumerate(evidence.record.chains):
        for a, ats in enumerate(chain):
            proven = evidence.proven_material[position]
            if proven is not None:
                covers |= evidence_digests(certificates=proven.certificate_ders,
                                           crls=proven.crls,
                                           ocsp_responses=proven.ocsp_responses)
            token = parse_token(ats.timestamp_der)
            facts.append(TimestampFacts(
                kind=TimestampKind.EVIDENCE_RECORD, token=ats.timestamp_der,
                gen_time=token.gen_time, signature_value=_signature_value(ats.timestamp_der),
                tsa_certificate=token.signer_certificate, certificates=token.certificates,
                digest_algorithm=token.digest_algorithm.value, covers=frozenset(covers),
                label=f"evidence record chain {c + 1} timestamp {a + 1}"))
            covers.add(poe_digest(facts[-1].signature_value))
            covers.add(poe_digest(ats.timestamp_der))
            position += 1
    return facts


def verify_package(
    store: ObjectStore,
    package_id: str,
    *,
    at: datetime,
    tenant: str = DEFAULT_TENANT,
    trust_anchors: Sequence[x509.Certificate] = (),
    policy: ValidationPolicy | None = None,
) -> VerifyResult:
    """Prove a package offline at ``at`` (see the module docstring).

    ``trust_anchors`` default to those recorded in the package at ingest. Raises
    :class:`ltv.errors.InputError` (or :class:`ArchiveInputError`) when the evidence record
    does not prove the package's bytes; otherwise the report carries the verdict.
    """
    evidence = load_evidence(store, package_id, tenant=tenant)
    return verify_evidence(evidence, at=at, trust_anchors=trust_anchors, policy=policy)


def verify_evidence(evidence: Evidence, *, at: datetime,
                    trust_anchors: Sequence[x509.Certificate] = (),
                    policy: ValidationPolicy | None = None) -> VerifyResult:
    """:func:`verify_package` of an already loaded package (:func:`load_evidence`)."""
    package = evidence.package
    package_id = package.id
    try:
        times = verify_evidence_record(evidence.record, data_objects(package),
                                       verify_timestamp=_check_token)
    except InputError as exc:
        raise ArchiveInputError(f"package {package_id}: evidence record: {exc}") from exc
    signed_obj = package.manifest.first("signed")
    if signed_obj is None:
        raise ArchiveInputError(f"package {package_id} has no signed document")
    signed = package.content(signed_obj)
    detached_obj = package.manifest.first("detached")
    detached = package.content(detached_obj) if detached_obj else None
    if policy is None:
        anchors = list(trust_anchors) or [
            x509.load_der_x509_certificate(package.content(o))
            for o in package.manifest.objects if o.role == "trust-anchor"]
        policy = ValidationPolicy.default(trust_anchors=anchors)
    facts = record_facts(evidence, base_covers=_document_covers(signed, detached))
    report = validate(signed, policy=policy, at=at, detached_content=detached, offline=True,
                      evidence_records=facts, extra_evidence=evidence.material)
    return VerifyResult(package_id=package_id, times=tuple(times), report=report)
