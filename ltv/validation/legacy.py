"""CAdES legacy long-term forms (TS 101 733 / RFC 5126; JIS X 5092) in the validation facts.

:func:`augment` completes what :mod:`ltv.validation.cades` found for one ``SignerInfo`` with the
ES-C/ES-X/ES-X Long/ES-A attributes (bytes read by :mod:`ltv.formats.cades_legacy`):

* escTimeStamp (ES-X type 1), certCRLTimestamp (type 2) and archive-time-stamp-v2 become
  :class:`~ltv.validation.facts.TimestampFacts` with their exact imprints (the ATSv2 tried in the
  v2.2.1 and v1.8.x readings, the matching one recorded); they give POE like the baseline
  archive time-stamps (EN 319 102-1 §5.6.2.3);
* the deprecated archiveTimestamp (id-aa 27) is reported, its imprint "not computable";
* certificate-values, revocation-values (CRLs and OCSP) and the material inside every
  time-stamp token (its certificates, CRLs and its own values attributes) join the evidence;
* complete-certificate-references are matched by hash against every certificate known, the
  unresolved ones listed;
* the form (``ES-A (ATSv2)``, ``ES-XL type 1``, ...) is recorded next to the baseline level,
  which is raised to the form's EN 319 102-1 class (E-X-L ≈ B-LT, E-A ≈ B-LTA).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from asn1crypto import cms as asn1_cms
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ltv.algorithms import DigestAlgorithm
from ltv.errors import LtvError
from ltv.evidence import EvidenceSet
from ltv.formats import cades_legacy as L
from ltv.formats import cms
from ltv.signing import SignatureLevel
from ltv.validation.facts import SignatureFacts, TimestampFacts, poe_digest
from ltv.validation.model import TimestampKind

__all__ = ["augment", "covered_by_value"]

_TOKEN_OIDS = frozenset({L.OID_SIGNATURE_TIME_STAMP, L.OID_ESC_TIME_STAMP,
                         L.OID_CERT_CRL_TIME_STAMP, L.OID_ARCHIVE_TIME_STAMP_V1,
                         L.OID_ARCHIVE_TIME_STAMP_V2, L.OID_ARCHIVE_TIME_STAMP_V3})
_LEGACY_LABEL = {
    L.OID_ESC_TIME_STAMP: (TimestampKind.ESC, "escTimeStamp (ES-X type 1)"),
    L.OID_CERT_CRL_TIME_STAMP: (TimestampKind.CERT_CRL, "certCRLTimestamp (ES-X type 2)"),
    L.OID_ARCHIVE_TIME_STAMP_V1: (TimestampKind.ARCHIVE_V1,
                                  "archiveTimestamp v1 (deprecated)"),
    L.OID_ARCHIVE_TIME_STAMP_V2: (TimestampKind.ARCHIVE_V2, "archive-time-stamp-v2"),
}


def augment(facts: SignatureFacts, *, der: bytes, index: int,
            detached: bytes | None) -> SignatureFacts:
    """``facts`` of SignerInfo ``index`` of ``der`` with its legacy attributes evaluated.

    ``detached`` is the external content of a detached signature (None: encapsulated or not
    given). A file without legacy attributes comes back unchanged."""
    raw = L.raw_signed_data(der)
    info = raw.signer_infos[index]
    attrs = [(oid, [v.raw for v in cms.read_single(values, "values").children()])
             for oid, _, values in (L._attr_fields(a) for a in info.unsigned)]
    oids = {oid for oid, _ in attrs}
    form = L.classify(oids)
    if form is None:
        return facts
    encapsulated = cms.parse_signed_data(der).encap[1] is not None
    signature_value = facts.signature_value

    # -- validation material: values attributes, and everything inside time-stamp tokens
    certs: list[bytes] = []
    crls: list[bytes] = []
    ocsps: list[bytes] = []
    warnings: list[str] = []
    for oid, values in attrs:
        _values_into(oid, values, certs, crls, ocsps, warnings)
        if oid in _TOKEN_OIDS:
            for token in values:
                _token_material(token, certs, crls, ocsps, warnings)
    loaded = _load_certificates(certs, warnings)
    known = {c.public_bytes(Encoding.DER) for c in (*facts.certificates, *loaded)}
    warnings.extend(_reference_report(attrs, known))
    all_crls = {*facts.evidence.crls, *crls}
    all_ocsps = {*facts.evidence.ocsp_responses, *ocsps}
    revocation_line, revocation_covers = _revocation_refs(attrs, all_crls, all_ocsps)
    warnings.extend(revocation_line)

    # -- what each kind covers (POE digests)
    bound = (facts.signer_certificate.public_bytes(Encoding.DER),) if (
        facts.signer_certificate is not None) else ()
    sig_covers = {poe_digest(signature_value), *(poe_digest(b) for b in bound)}
    sts_covers: set[bytes] = set()
    for oid, values in attrs:
        if oid == L.OID_SIGNATURE_TIME_STAMP:
            for token in values:
                sts_covers |= _token_objects(token)
    root_covers = {poe_digest(c) for c in raw.certificates_items if c[0] == cms.TAG_SEQUENCE}
    for item in raw.crls_items:
        if item[0] == cms.TAG_SEQUENCE:
            root_covers.add(poe_digest(item))
        elif item[0] == cms.TAG_CTX1:
            inner = cms.read_single(item, "RevocationInfoChoice").children()
            if len(inner) == 2:
                root_covers.add(poe_digest(inner[1].raw))
    values_covers = {poe_digest(x) for x in (*certs, *crls, *ocsps)}

    extra = tuple(loaded) + facts.certificates
    timestamps: list[TimestampFacts] = []
    for oid, values in attrs:
        if oid not in _LEGACY_LABEL:
            continue
        kind, label = _LEGACY_LABEL[oid]
        for token in values:
            if oid == L.OID_ESC_TIME_STAMP:
                candidates = L.esc_inputs(signature_value, info.unsigned)
                covers = (sig_covers | sts_covers | _referenced(attrs, known)
                          | revocation_covers)
            elif oid == L.OID_CERT_CRL_TIME_STAMP:
                candidates = L.cert_crl_inputs(info.unsigned)
                covers = _referenced(attrs, known) | revocation_covers
            elif oid == L.OID_ARCHIVE_TIME_STAMP_V2:
                when = L.token_gen_time(token)
                if when is None:
                    candidates = []
                elif not encapsulated and detached is None:
                    timestamps.append(_not_computable(
                        token, kind, label, extra,
                        "the signed data is needed to check the archive-time-stamp-v2 "
                        "(--detached DATA)"))
                    continue
                else:
                    candidates = [(v.value, data) for v, data in L.atsv2_inputs(
                        raw, index, gen_time=when,
                        detached=None if encapsulated else detached)]
                covers = (sig_covers | sts_covers | root_covers | values_covers
                          | _older_tokens(attrs, when))
            else:  # archiveTimestamp v1: recognised and reported only
                timestamps.append(_not_computable(
                    token, kind, label, extra,
                    "the deprecated archiveTimestamp (v1, id-aa 27) is recognised but its "
                    "imprint is not checked"))
                continue
            timestamps.append(_checked(token, kind, label, candidates, frozenset(covers), extra))

    evidence = facts.evidence.merge(EvidenceSet.of(certificates=loaded, crls=crls,
                                                   ocsp_responses=ocsps))
    errors = tuple(e for e in facts.errors
                   if e != "a legacy archive-time-stamp (v2) was not evaluated")
    level = facts.level
    klass = SignatureLevel(form.baseline_class)
    only_v1 = (form is L.LegacyForm.ES_A and not oids & {L.OID_ARCHIVE_TIME_STAMP_V2,
                                                          L.OID_ARCHIVE_TIME_STAMP_V3})
    if only_v1:
        klass = SignatureLevel.B_LT if {L.OID_CERTIFICATE_VALUES,
                                        L.OID_REVOCATION_VALUES} <= oids else SignatureLevel.B_T
    if level is not None and level < klass:
        level = klass
    return replace(
        facts, level=level, form=_form_name(form, oids, klass),
        timestamps=(*facts.timestamps, *timestamps), evidence=evidence,
        certificates=tuple(dict.fromkeys((*facts.certificates, *loaded))),
        errors=errors, warnings=(*facts.warnings, *warnings),
    )


def _form_name(form: L.LegacyForm, oids: set[str], klass: SignatureLevel) -> str:
    name = form.value
    if form is L.LegacyForm.ES_A:
        kinds = [label for oid, label in ((L.OID_ARCHIVE_TIME_STAMP_V1, "archiveTimestamp v1"),
                                          (L.OID_ARCHIVE_TIME_STAMP_V2, "ATSv2"),
                                          (L.OID_ARCHIVE_TIME_STAMP_V3, "ATSv3")) if oid in oids]
        name = f"ES-A ({', '.join(kinds)})"
    incomplete = ""
    refs = {L.OID_COMPLETE_CERTIFICATE_REFS, L.OID_COMPLETE_REVOCATION_REFS}
    values = {L.OID_CERTIFICATE_VALUES, L.OID_REVOCATION_VALUES}
    if oids & refs and not oids >= values:  # references without the values they name
        incomplete = ", validation data incomplete"
    return f"{name} [{klass.value}{incomplete}]"


# ---------------------------------------------------------------------------------------------
# Time-stamp facts


def _imprint(token: bytes) -> tuple[str, bytes] | None:
    try:
        econtent = asn1_cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"]
        parsed = econtent.parsed
        if not isinstance(parsed, tsp.TSTInfo):
            return None
        imprint = parsed["message_imprint"]
        return (str(imprint["hash_algorithm"]["algorithm"].native),
                bytes(imprint["hashed_message"].native))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _checked(token: bytes, kind: TimestampKind, label: str,
             candidates: Sequence[tuple[str, bytes]], covers: frozenset[bytes],
             extra: Sequence[x509.Certificate]) -> TimestampFacts:
    """The token's facts, its imprint compared with each candidate input in turn."""
    from ltv.validation.cades import timestamp_facts

    chosen: bytes | None = candidates[0][1] if candidates else None
    variant: str | None = None
    found = _imprint(token)
    if found is not None:
        alg, digest = found
        for name, data in candidates:
            try:
                if hmac.compare_digest(hashlib.new(alg, data).digest(), digest):
                    chosen, variant = data, name
                    break
            except ValueError:
                break
    expected: Callable[[DigestAlgorithm], bytes] | None = None
    if chosen is not None:
        data = chosen

        def expected(algorithm: DigestAlgorithm) -> bytes:
            return algorithm.digest(data)

    facts = timestamp_facts(token, kind=kind, label=label, expected=expected, covers=covers,
                            extra=extra)
    if facts.imprint_ok and variant is not None and len(candidates) > 1:
        return replace(facts, imprint_variant=variant)
    return facts


def _not_computable(token: bytes, kind: TimestampKind, label: str,
                    extra: Sequence[x509.Certificate], message: str) -> TimestampFacts:
    from ltv.validation.cades import timestamp_facts

    facts = timestamp_facts(token, kind=kind, label=label, expected=None, covers=frozenset(),
                            extra=extra)
    return replace(facts, imprint_ok=False, imprint_computable=False, imprint_message=message,
                   covers=frozenset())


def _older_tokens(attrs: Sequence[tuple[str, list[bytes]]], when: datetime | None) -> set[bytes]:
    """POE digests of the time-stamp tokens an ATSv2 made at ``when`` covers (archive stamps
    only when older than it)."""
    out: set[bytes] = set()
    for oid, values in attrs:
        if oid not in _TOKEN_OIDS:
            continue
        for token in values:
            if oid in L.ARCHIVE_OIDS:
                t = L.token_gen_time(token)
                if when is None or t is None or t >= when:
                    continue
            out |= _token_objects(token)
    return out


def _token_objects(token: bytes) -> set[bytes]:
    out: set[bytes] = set()
    try:
        parts = cms.parse_signed_data(token)
    except LtvError:
        return out
    out.add(poe_digest(parts.signer_infos[0].signature_value))
    out.update(poe_digest(c) for c in parts.certificates or () if c[0] == cms.TAG_SEQUENCE)
    return out


# ---------------------------------------------------------------------------------------------
# Validation material


def _values_into(oid: str, values: Sequence[bytes], certs: list[bytes], crls: list[bytes],
                 ocsps: list[bytes], warnings: list[str]) -> None:
    try:
        if oid == L.OID_CERTIFICATE_VALUES:
            for value in values:
                certs.extend(L.certificate_values(value))
        elif oid == L.OID_REVOCATION_VALUES:
            for value in values:
                found_crls, found_ocsps = L.revocation_values(value)
                crls.extend(found_crls)
                ocsps.extend(found_ocsps)
    except LtvError as exc:
        what = "certificate" if oid == L.OID_CERTIFICATE_VALUES else "revocation"
        warnings.append(f"a malformed {what}-values attribute was ignored: {exc}")


def _token_material(token: bytes, certs: list[bytes], crls: list[bytes], ocsps: list[bytes],
                    warnings: list[str]) -> None:
    """Validation material a time-stamp token carries: its certificates and CRLs, and its
    signer's own certificate-values / revocation-values attributes."""
    try:
        parts = cms.parse_signed_data(token)
    except LtvError:
        return
    certs.extend(c for c in parts.certificates or () if c[0] == cms.TAG_SEQUENCE)
    crls.extend(c for c in parts.crls or () if c[0] == cms.TAG_SEQUENCE)
    for info in parts.signer_infos:
        try:
            unsigned = info.unsigned_attributes()
        except LtvError:
            continue
        for oid, values in unsigned:
            _values_into(oid, values, certs, crls, ocsps, warnings)


def _load_certificates(ders: Sequence[bytes], warnings: list[str]) -> list[x509.Certificate]:
    out: list[x509.Certificate] = []
    for der in dict.fromkeys(ders):
        try:
            out.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            warnings.append(f"a certificate among the legacy values does not parse: {exc}")
    return out


def _references(attrs: Sequence[tuple[str, list[bytes]]]) -> list[tuple[str, bytes]]:
    refs: list[tuple[str, bytes]] = []
    for oid, values in attrs:
        if oid == L.OID_COMPLETE_CERTIFICATE_REFS:
            for value in values:
                try:
                    refs.extend(L.certificate_refs(value))
                except (LtvError, IndexError, ValueError):
                    continue
    return refs


def _resolve(alg: str, digest: bytes, known: set[bytes]) -> bytes | None:
    for der in known:
        try:
            if hmac.compare_digest(hashlib.new(alg, der).digest(), digest):
                return der
        except ValueError:
            return None
    return None


def _referenced(attrs: Sequence[tuple[str, list[bytes]]], known: set[bytes]) -> set[bytes]:
    """POE digests of the referenced certificates that resolve: an ES-X stamp over the
    references proves they existed (TS 101 733 §6.3.5)."""
    out: set[bytes] = set()
    for alg, digest in _references(attrs):
        der = _resolve(alg, digest, known)
        if der is not None:
            out.add(poe_digest(der))
    return out


def _reference_report(attrs: Sequence[tuple[str, list[bytes]]], known: set[bytes]) -> list[str]:
    refs = _references(attrs)
    if not refs:
        return []
    unresolved = [f"{alg}:{digest.hex()}" for alg, digest in refs
                  if _resolve(alg, digest, known) is None]
    line = (f"complete-certificate-references: {len(refs) - len(unresolved)} of {len(refs)} "
            f"resolved against the embedded certificates")
    if unresolved:
        line += "; unresolved: " + ", ".join(unresolved)
    return [line]


def _revocation_refs(attrs: Sequence[tuple[str, list[bytes]]], crls: set[bytes],
                     ocsps: set[bytes]) -> tuple[list[str], set[bytes]]:
    """complete-revocation-references matched by hash: CRLs against every CRL known, OCSP
    against the BasicOCSPResponse of every response known. Returns the report line and the
    POE digests of the resolved objects (what an ES-X stamp over the references proves)."""
    refs: list[tuple[str, str, bytes]] = []
    for oid, values in attrs:
        if oid == L.OID_COMPLETE_REVOCATION_REFS:
            for value in values:
                try:
                    refs.extend(L.revocation_refs(value))
                except (LtvError, IndexError, ValueError):
                    continue
    if not refs:
        return [], set()
    basics = {basic: response for response in ocsps
              if (basic := L.basic_ocsp(response)) is not None}
    covers: set[bytes] = set()
    unresolved: list[str] = []
    for kind, alg, digest in refs:
        pool = crls if kind == "crl" else set(basics)
        found = _resolve(alg, digest, pool)
        if found is None:
            unresolved.append(f"{kind} {alg}:{digest.hex()}")
        else:
            covers.add(poe_digest(found if kind == "crl" else basics[found]))
    line = (f"complete-revocation-references: {len(refs) - len(unresolved)} of {len(refs)} "
            f"resolved against the embedded revocation data")
    if unresolved:
        line += "; unresolved: " + ", ".join(unresolved)
    return [line], covers


def covered_by_value(oid: str, value: bytes) -> set[bytes]:
    """POE digests an archive time-stamp covering this legacy unsigned attribute value brings:
    a legacy time-stamp token's signature value and certificates, or each certificate, CRL
    and OCSP response of a values attribute. Empty for anything else."""
    if oid in _LEGACY_LABEL:
        return _token_objects(value)
    if oid not in (L.OID_CERTIFICATE_VALUES, L.OID_REVOCATION_VALUES):
        return set()
    certs: list[bytes] = []
    crls: list[bytes] = []
    ocsps: list[bytes] = []
    _values_into(oid, [value], certs, crls, ocsps, [])
    return {poe_digest(x) for x in (*certs, *crls, *ocsps)}

