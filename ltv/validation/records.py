"""RFC 4998 evidence records as proof of existence (EN 319 102-1 §5.6.2.3, "evidence records").

An archive keeps a signed file with an evidence record over it (:mod:`ltv.ers`). The record's
archive time-stamps prove that the file, and so everything inside it (the signature value, the
certificates, the revocation data, the time-stamp tokens), existed at each time-stamp's time.
:func:`evidence_record_facts` checks the record against the data objects it must protect
(RFC 4998 §5.3: hash trees and time-stamp imprints) and turns each archive time-stamp into a
:class:`~ltv.validation.facts.TimestampFacts` of kind ``evidence-record`` whose ``covers`` are
the POE digests of those objects. :func:`ltv.validation.validate` takes them through
``evidence_records=``, validates each time-stamp (§5.4, the later ones giving POE to the earlier
ones' tokens) and uses the accepted ones in past signature validation.

A record that does not prove the data yields time-stamps with ``imprint_ok=False``: they are
reported FAILED / HASH_FAILURE and give no POE (never an exception).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from ltv.algorithms import DigestAlgorithm
from ltv.errors import InputError, LtvError, MalformedError
from ltv.ers import EvidenceRecord, timestamp_imprint, verify_evidence_record
from ltv.evidence import EvidenceSet
from ltv.validation.facts import SignatureFacts, TimestampFacts, poe_digest
from ltv.validation.model import TimestampKind

__all__ = ["evidence_record_facts", "material_from_objects", "objects_in"]


def material_from_objects(objects: Iterable[bytes]) -> EvidenceSet:
    """The certificates, CRLs and OCSP responses among DER ``objects`` (e.g. the data objects
    an evidence record protects beside the signed file); anything else is left out."""
    certs: list[x509.Certificate] = []
    crls: list[bytes] = []
    ocsps: list[bytes] = []
    for obj in objects:
        try:
            certs.append(x509.load_der_x509_certificate(obj))
            continue
        except ValueError:
            pass
        try:
            x509.load_der_x509_crl(obj)
            crls.append(obj)
            continue
        except ValueError:
            pass
        try:
            ocsp.load_der_ocsp_response(obj)
            ocsps.append(obj)
        except ValueError:
            pass
    return EvidenceSet.of(certificates=certs, crls=crls, ocsp_responses=ocsps)


def objects_in(facts: Iterable[SignatureFacts]) -> frozenset[bytes]:
    """POE digests of everything a signed file holds, per its extracted facts: each signature
    value and signer certificate, every certificate, CRL and OCSP response, and each
    time-stamp token (its signature value and certificates)."""
    out: set[bytes] = set()
    for item in facts:
        if item.signature_value:
            out.add(poe_digest(item.signature_value))
        if item.signer_certificate is not None:
            out.add(poe_digest(item.signer_certificate.public_bytes(Encoding.DER)))
        out.update(poe_digest(c.public_bytes(Encoding.DER)) for c in item.certificates)
        out.update(poe_digest(c.public_bytes(Encoding.DER)) for c in item.evidence.certificates)
        out.update(poe_digest(c) for c in item.evidence.crls)
        out.update(poe_digest(o) for o in item.evidence.ocsp_responses)
        for ts in item.timestamps:
            out.add(poe_digest(ts.token))
            if ts.signature_value:
                out.add(poe_digest(ts.signature_value))
            out.update(poe_digest(c.public_bytes(Encoding.DER)) for c in ts.certificates)
    return frozenset(out)


def evidence_record_facts(
    record: EvidenceRecord | bytes,
    *,
    data_objects: Sequence[bytes],
    covers: frozenset[bytes],
    candidates: Sequence[bytes] = (),
    label: str = "evidence record",
) -> tuple[TimestampFacts, ...]:
    """The archive time-stamps of ``record`` as POE facts over ``data_objects``.

    ``data_objects`` are the objects the record must protect (the signed file, and any
    archived validation material kept beside it); ``covers`` the POE digests they stand for
    (:func:`objects_in` of the file's facts; the digests of extra DER objects are added here).
    Each archive time-stamp covers them and the tokens of the archive time-stamps before it
    (a renewal hashes the previous time-stamp, §5.2). ``candidates`` are further DER objects
    (archived certificates, CRLs, OCSP responses) that the record covers when they are members
    of the same data group as ``data_objects`` (their hash is in the first PartialHashtree of
    the first archive time-stamp, RFC 4998 §4.2 step 3). Undecodable DER is a
    :class:`~ltv.errors.MalformedError`.
    """
    from ltv.validation.cades import timestamp_facts

    if isinstance(record, bytes):
        record = EvidenceRecord.from_der(record)
    if not data_objects:
        raise InputError("an evidence record needs the data objects it protects")
    problem: str | None = None
    try:
        verify_evidence_record(record, data_objects, verify_timestamp=_imprint_only)
    except InputError as exc:
        problem = f"the {label} does not protect this file: {exc}"
    except MalformedError as exc:
        problem = f"the {label} is malformed: {exc}"
    all_covers = set(covers) | {poe_digest(bytes(d)) for d in data_objects}
    first = record.chains[0][0]
    if problem is None and first.reduced_hash_tree and candidates:
        group = set(first.reduced_hash_tree[0])
        algorithm_0 = first.algorithm()
        members = [c for c in candidates if algorithm_0.digest(c) in group]
        all_covers |= {poe_digest(c) for c in members}
        all_covers |= _carried_certificates(members)
    out: list[TimestampFacts] = []
    earlier: set[bytes] = set()
    count = sum(len(chain) for chain in record.chains)
    n = 0
    for chain in record.chains:
        for ats in chain:
            n += 1
            token = ats.timestamp_der
            name = label if count == 1 else f"{label}, archive time-stamp {n}"
            try:
                algorithm, imprint, _ = timestamp_imprint(token)
            except LtvError as exc:
                algorithm, imprint = DigestAlgorithm.SHA256, b""
                problem = problem or f"{name}: {exc}"

            def expected(alg: DigestAlgorithm, want: bytes = imprint,
                         token_alg: DigestAlgorithm = algorithm,
                         proven: bool = problem is None) -> bytes:
                # the hash-tree check above is what ties the token to the data
                return want if alg is token_alg and proven else b""

            facts = timestamp_facts(token, kind=TimestampKind.EVIDENCE_RECORD, label=name,
                                    expected=expected,
                                    covers=frozenset(all_covers | earlier))
            if problem is not None:
                from dataclasses import replace

                facts = replace(facts, imprint_ok=False, imprint_message=problem,
                                covers=frozenset())
            out.append(facts)
            earlier.add(poe_digest(token))
            if facts.signature_value:
                earlier.add(poe_digest(facts.signature_value))
            earlier.update(poe_digest(c.public_bytes(Encoding.DER)) for c in facts.certificates)
    return tuple(out)


def _carried_certificates(objects: Iterable[bytes]) -> set[bytes]:
    """POE digests of the certificates an OCSP response carries (its responder's chain): the
    POE of the response is one of them too."""
    out: set[bytes] = set()
    for obj in objects:
        try:
            response = ocsp.load_der_ocsp_response(obj)
            certs = response.certificates
        except ValueError:
            continue
        out.update(poe_digest(c.public_bytes(Encoding.DER)) for c in certs)
    return out


def _imprint_only(token: bytes, digest: bytes, algorithm: DigestAlgorithm) -> datetime:
    """The ``verify_timestamp`` port for the structural check: the token must be over
    ``digest``; its signature and TSA are judged later by the time-stamp validation (§5.4)."""
    token_alg, imprint, gen_time = timestamp_imprint(token)
    if token_alg is not algorithm or imprint != digest:
        raise InputError("the time-stamp is over another digest")
    if not isinstance(gen_time, datetime):
        raise MalformedError("the time-stamp has no genTime")
    return gen_time
