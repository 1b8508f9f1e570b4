"""What a format adapter tells the validation engine: the format-neutral facts of a signature.

An adapter (``ltv.validation.cades``, ``.pades``, ``.xades``) parses its format, checks what only
the format can check (digests of the signed data, the signature value, the signing-certificate
reference, each time-stamp's message imprint) and hands over a :class:`SignatureFacts`. The
processes of EN 319 102-1 (:mod:`ltv.validation.process`) run over these facts only, so the three
formats share one engine, and an adapter stays a thin parser.

Proof of existence (POE) is expressed by content: each :class:`TimestampFacts` lists the SHA-256
digests (:func:`poe_digest`) of the objects it covers (the signature value, certificates, CRLs,
OCSP responses, earlier time-stamp tokens). This is the same digest pyhanko-certvalidator's
``POEManager`` keys on, so the POEs feed its past-validation and time-slide algorithms directly.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from ltv.evidence import EvidenceSet
from ltv.signing import SignatureFormat, SignatureLevel
from ltv.validation.model import SignedDataObjectSummary, TimestampKind, UnsignedContent

__all__ = [
    "AlgorithmUse",
    "IntegrityResult",
    "IntegrityStatus",
    "SignatureFacts",
    "TimestampFacts",
    "evidence_digests",
    "poe_digest",
]


def poe_digest(data: bytes) -> bytes:
    """The digest a POE is recorded under: SHA-256 of the object's DER (or of the signature
    value for signatures and time-stamp tokens), as pyhanko-certvalidator's POE manager uses."""
    return hashlib.sha256(data).digest()


class IntegrityStatus(enum.Enum):
    """Outcome of the format's own checks (EN 319 102-1 §5.2.2 FC, §5.2.7 CV)."""

    OK = "ok"
    FORMAT_FAILURE = "FORMAT_FAILURE"  # does not conform to the format
    HASH_FAILURE = "HASH_FAILURE"  # a signed data object's digest does not match
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"  # the signature value does not verify
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"  # detached content not supplied
    # A feature ltv cannot process (issue #19): INDETERMINATE naming it, never TOTAL-FAILED.
    UNSUPPORTED_ALGORITHM = "UNSUPPORTED_ALGORITHM"  # → CRYPTO_CONSTRAINTS_FAILURE


@dataclass(frozen=True, slots=True, kw_only=True)
class IntegrityResult:
    status: IntegrityStatus = IntegrityStatus.OK
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is IntegrityStatus.OK

    @classmethod
    def failed(cls, status: IntegrityStatus, message: str) -> IntegrityResult:
        return cls(status=status, message=message)


@dataclass(frozen=True, slots=True, kw_only=True)
class AlgorithmUse:
    """One algorithm a signature's (or time-stamp's) binding rests on (EN 319 102-1 §5.2.8).

    ``what`` says where it is used, as a reader of the report would look for it ("SignerInfo
    signatureAlgorithm sha1_rsa", "ds:Reference '#obj-1' DigestMethod"); ``algorithm`` is the
    hash, spelled as the policy's sunset table spells it ("sha1", "sha256", "md5").
    """

    what: str
    algorithm: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TimestampFacts:
    """One RFC 3161 time-stamp (or an RFC 4998 evidence record) attached to a signature.

    ``integrity`` is the token's own CMS check (message digest over TSTInfo, signature value
    with ``tsa_certificate``); ``imprint_ok`` whether its message imprint matches what it must
    cover. ``covers`` holds :func:`poe_digest` values of every object it proves existed at
    ``gen_time``. For an evidence record, ``token`` is the record's first archive time-stamp.
    """

    kind: TimestampKind
    token: bytes  # DER ContentInfo of the TimeStampToken
    gen_time: datetime
    signature_value: bytes  # the token's SignerInfo signature (its own POE key)
    tsa_certificate: x509.Certificate | None
    certificates: tuple[x509.Certificate, ...] = ()  # carried in the token
    integrity: IntegrityResult = field(default_factory=IntegrityResult)
    imprint_ok: bool = True
    imprint_message: str | None = None
    digest_algorithm: str | None = None  # message imprint hash (e.g. "sha256")
    covers: frozenset[bytes] = frozenset()
    label: str = ""
    #: The token's own algorithms: its SignerInfo digest and signature hash, its ESS
    #: signing-certificate hash (the imprint is ``digest_algorithm``, judged at genTime).
    algorithm_uses: tuple[AlgorithmUse, ...] = ()
    #: False when the covered data is missing (e.g. detached content): "not-computable".
    imprint_computable: bool = True
    imprint_variant: str | None = None  # which reading of the standard matched (legacy kinds)

    @property
    def imprint(self) -> str:
        """``verified``, ``failed`` or ``not-computable``."""
        if self.imprint_ok:
            return "verified"
        return "failed" if self.imprint_computable else "not-computable"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureFacts:
    """Everything the engine needs to know about one signature, whatever its format."""

    id: str  # "signature 1", a PDF field name, an XML Id
    format: SignatureFormat
    level: SignatureLevel | None  # detected baseline level (None: not even B-B)
    signer_certificate: x509.Certificate | None
    signer_identification_error: str | None = None  # why no signer certificate (ISC)
    certificates: tuple[x509.Certificate, ...] = ()  # candidates for path building
    integrity: IntegrityResult = field(default_factory=IntegrityResult)
    signature_value: bytes = b""  # POE key of the signature itself
    claimed_signing_time: datetime | None = None
    digest_algorithm: str | None = None  # "sha256", ...
    signature_algorithm: str | None = None  # "sha256_rsa", "rsassa_pss", "sha256_ecdsa", ...
    signature_key_size: int | None = None
    timestamps: tuple[TimestampFacts, ...] = ()
    evidence: EvidenceSet = field(default_factory=EvidenceSet)  # embedded validation material
    pdf_changes_after_signing: str | None = None  # PAdES: none | allowed | disallowed
    pdf_changes_detail: str | None = None
    #: XAdES: what each reference signs, and content no reference covers (EN 319 102-1 §5.2.8).
    signed_data_objects: tuple[SignedDataObjectSummary, ...] | None = None
    unsigned_content: tuple[UnsignedContent, ...] | None = None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    #: Constraint violations of the signature's attributes (EN 319 102-1 §5.2.8 SAV): any
    #: entry makes the result INDETERMINATE / SIG_CONSTRAINTS_FAILURE.
    constraint_failures: tuple[str, ...] = ()
    #: Every algorithm the binding of the signature rests on (signature hash, message digest,
    #: references, signing-certificate digest), judged at the signature's POE (§5.2.8).
    algorithm_uses: tuple[AlgorithmUse, ...] = ()
    #: CMS eContentType (dotted OID) of a CAdES/PAdES signature; None for XAdES.
    content_type: str | None = None
    #: Legacy long-term form (``ltv.validation.legacy``), e.g. "ES-A (ATSv2)"; None: none.
    form: str | None = None
    #: The id of the signature this one counter-signs (XAdES CounterSignature), else None.
    counter_signature_of: str | None = None


def evidence_digests(
    *,
    certificates: Iterable[bytes] = (),
    crls: Iterable[bytes] = (),
    ocsp_responses: Iterable[bytes] = (),
    others: Iterable[bytes] = (),
) -> frozenset[bytes]:
    """:func:`poe_digest` of each given DER object, as one set (for ``TimestampFacts.covers``)."""
    out: set[bytes] = set()
    for group in (certificates, crls, ocsp_responses, others):
        out.update(poe_digest(item) for item in group)
    return frozenset(out)
