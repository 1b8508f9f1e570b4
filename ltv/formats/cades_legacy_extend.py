"""Extending a legacy ES-A (archive-time-stamp-v2 or v1) without breaking its archive time-stamps.

EN 319 122-1 §5.5.3: "If an ATSv2, or other earlier form of archive time-stamp … is present …
the root SignedData.certificates and SignedData.crls contents shall not be modified. The new
validation material shall be provided within the TimeStampToken of the latest archive
time-stamp". An ATSv2 hashes those fields as found, so :func:`to_lt_legacy` leaves them alone and
adds the missing certificates and revocation data as certificate-values / revocation-values
(TS 101 733 §6.3.3, §6.3.4) to the SignerInfo of the latest archive time-stamp's token (outside
what its TSA signed, and newer than every older ATSv2, which therefore excludes it). The caller
then adds an archive-time-stamp-v3 over everything (:func:`ltv.formats.cades.to_lta`).
"""

from __future__ import annotations

from datetime import datetime

from ltv.errors import InputError
from ltv.formats import cades_legacy as legacy
from ltv.formats import cms
from ltv.signing import SigningServices

__all__ = ["has_legacy_archive", "to_lt_legacy"]

_LEGACY_ARCHIVES = frozenset({legacy.OID_ARCHIVE_TIME_STAMP_V1, legacy.OID_ARCHIVE_TIME_STAMP_V2})


def has_legacy_archive(signed: bytes) -> bool:
    """Whether any SignerInfo carries an archive-time-stamp-v2 or the v1 archiveTimestamp."""
    parts = cms.parse_signed_data(signed)
    return any(oid in _LEGACY_ARCHIVES for info in parts.signer_infos
               for oid, _ in info.unsigned_attributes())


def _values_attributes(certs: list[bytes], crls: list[bytes], ocsps: list[bytes]) -> list[bytes]:
    out = []
    if certs:
        out.append(cms.attribute(legacy.OID_CERTIFICATE_VALUES,
                                 [cms.tlv(cms.TAG_SEQUENCE, b"".join(certs))]))
    basics = [b for b in (legacy.basic_ocsp(o) for o in ocsps) if b is not None]
    if crls or basics:
        body = b""
        if crls:
            body += cms.tlv(cms.TAG_CTX0, cms.tlv(cms.TAG_SEQUENCE, b"".join(crls)))
        if basics:
            body += cms.tlv(cms.TAG_CTX1, cms.tlv(cms.TAG_SEQUENCE, b"".join(basics)))
        out.append(cms.attribute(legacy.OID_REVOCATION_VALUES, [cms.tlv(cms.TAG_SEQUENCE, body)]))
    return out


def to_lt_legacy(signed: bytes, *, services: SigningServices) -> bytes:
    """The validation material of every signer and time-stamp, added to the token of each
    SignerInfo's latest archive time-stamp; root certificates/crls and every other byte an
    ATSv2 covers unchanged. Refuses (InputError) what cannot be extended that way."""
    from ltv.formats.cades import validation_data

    raw = legacy.raw_signed_data(signed)
    for name, field in (("certificates", raw.certificates), ("crls", raw.crls)):
        if field is not None and field[1] == 0x80:
            raise InputError(f"this ES-A keeps its SignedData.{name} in BER indefinite length: "
                             "extending it would change bytes its archive-time-stamp-v2 covers")
    parts = cms.parse_signed_data(signed)
    evidence = validation_data(signed, services=services)
    root_certs = set(parts.certificates or ())
    root_crls = set(parts.crls or ())
    certs = [c for c in evidence.certificate_ders if c not in root_certs]
    crls = [c for c in evidence.crls if c not in root_crls]
    ocsps = list(evidence.ocsp_responses)
    for index, info in enumerate(parts.signer_infos):
        attrs = list(info.unsigned_attrs or ())
        latest: tuple[datetime, int, int] | None = None
        for pos, attr in enumerate(attrs):
            oid, _, values = cms.attribute_parts(attr)
            if oid not in legacy.ARCHIVE_OIDS:
                continue
            for vpos, value in enumerate(values):
                when = legacy.token_gen_time(value)
                if when is not None and (latest is None or when > latest[0]):
                    latest = (when, pos, vpos)
        if latest is None:
            continue
        _, pos, vpos = latest
        oid, _, values = cms.attribute_parts(attrs[pos])
        token = cms.parse_signed_data(values[vpos])
        if len(token.signer_infos) != 1:
            raise InputError("the latest archive time-stamp token has several SignerInfos")
        token_info = token.signer_infos[0]
        for attr in _values_attributes(certs, crls, ocsps):
            token_info = token_info.add_unsigned_attr(attr)
        values[vpos] = token.with_signer_info(0, token_info).dump()
        attrs[pos] = cms.attribute(oid, values)
        parts = parts.with_signer_info(index, info.with_unsigned_attrs(attrs))
    return parts.dump()
