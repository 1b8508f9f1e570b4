"""The vocabulary and the result of validation (ETSI EN 319 102-1 §5.1, TS 119 102-2).

Indications and sub-indications are enums valued by their ETSI URNs
(``urn:etsi:019102:mainindication:total-passed``, ``urn:etsi:019102:subindication:HASH_FAILURE``);
the member names are the spec's tokens letter for letter. The report types are frozen,
keyword-only dataclasses; :meth:`ValidationReport.raise_for_indication` makes a result that
did not pass impossible to ignore by accident.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from ltv.errors import SignatureValidationError
from ltv.jpki import KeyKind
from ltv.signing import SignatureFormat, SignatureLevel

__all__ = [
    "REPORT_SCHEMA",
    "CertificateSummary",
    "Indication",
    "PoeSummary",
    "SignatureReport",
    "SignatureValidationError",
    "SignedDataObjectSummary",
    "SignerSummary",
    "SubIndication",
    "TimestampKind",
    "TimestampReport",
    "UnsignedContent",
    "ValidationReport",
    "WeakestAlgorithm",
]

REPORT_SCHEMA = "ltv.validation-report/1"

_MAIN = "urn:etsi:019102:mainindication:"
_SUB = "urn:etsi:019102:subindication:"


class Indication(enum.Enum):
    """Main status indication (EN 319 102-1 §5.1.3; URIs as TS 119 102-2 and DSS use them).

    ``PASSED`` / ``FAILED`` are the building-block level results (used for time-stamps);
    a signature ends in ``TOTAL_PASSED``, ``TOTAL_FAILED`` or ``INDETERMINATE``.
    """

    TOTAL_PASSED = _MAIN + "total-passed"
    TOTAL_FAILED = _MAIN + "total-failed"
    INDETERMINATE = _MAIN + "indeterminate"
    PASSED = _MAIN + "passed"
    FAILED = _MAIN + "failed"

    @property
    def token(self) -> str:
        """``TOTAL-PASSED``, ``INDETERMINATE``, ... (the spec's spelling)."""
        return self.name.replace("_", "-")

    @property
    def severity(self) -> int:
        """0 passed, 1 indeterminate, 2 failed: orders results for "the worst one"."""
        return {
            Indication.TOTAL_PASSED: 0, Indication.PASSED: 0,
            Indication.INDETERMINATE: 1,
            Indication.TOTAL_FAILED: 2, Indication.FAILED: 2,
        }[self]


class SubIndication(enum.Enum):
    """Sub-indications of EN 319 102-1 Table 5 (names copied letter for letter).

    EXPIRED and NOT_YET_VALID occur under TOTAL-FAILED (proof the signature was made outside
    the validity) and INDETERMINATE. DSS's private ``CUSTOM`` is not part of the standard and
    is left out.
    """

    # TOTAL-FAILED
    FORMAT_FAILURE = _SUB + "FORMAT_FAILURE"
    HASH_FAILURE = _SUB + "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = _SUB + "SIG_CRYPTO_FAILURE"
    REVOKED = _SUB + "REVOKED"
    EXPIRED = _SUB + "EXPIRED"
    NOT_YET_VALID = _SUB + "NOT_YET_VALID"
    # INDETERMINATE
    SIG_CONSTRAINTS_FAILURE = _SUB + "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = _SUB + "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = _SUB + "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = _SUB + "CRYPTO_CONSTRAINTS_FAILURE"
    POLICY_PROCESSING_ERROR = _SUB + "POLICY_PROCESSING_ERROR"
    SIGNATURE_POLICY_NOT_AVAILABLE = _SUB + "SIGNATURE_POLICY_NOT_AVAILABLE"
    TIMESTAMP_ORDER_FAILURE = _SUB + "TIMESTAMP_ORDER_FAILURE"
    NO_SIGNING_CERTIFICATE_FOUND = _SUB + "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = _SUB + "NO_CERTIFICATE_CHAIN_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND_NO_POE = _SUB + "NO_CERTIFICATE_CHAIN_FOUND_NO_POE"
    REVOKED_NO_POE = _SUB + "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = _SUB + "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NOT_REVOKED = _SUB + "OUT_OF_BOUNDS_NOT_REVOKED"
    OUT_OF_BOUNDS_NO_POE = _SUB + "OUT_OF_BOUNDS_NO_POE"
    REVOCATION_OUT_OF_BOUNDS_NO_POE = _SUB + "REVOCATION_OUT_OF_BOUNDS_NO_POE"
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE = _SUB + "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    NO_POE = _SUB + "NO_POE"
    TRY_LATER = _SUB + "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = _SUB + "SIGNED_DATA_NOT_FOUND"

    @property
    def token(self) -> str:
        return self.name

    @classmethod
    def from_token(cls, token: str) -> SubIndication:
        return cls[token]


class TimestampKind(enum.Enum):
    """What a time-stamp (or evidence record) is attached to, i.e. what it proves."""

    SIGNATURE = "signature"  # over the signature value (CAdES/XAdES signature-time-stamp)
    ARCHIVE = "archive"  # CAdES archive-time-stamp-v3, XAdES ArchiveTimeStamp
    DOCUMENT = "document"  # PAdES document time-stamp (/DocTimeStamp)
    CONTENT = "content"  # over the signed content, before signing
    EVIDENCE_RECORD = "evidence-record"  # RFC 4998 record over the whole signed file
    # Legacy long-term forms (TS 101 733 / JIS X 5092): see ltv.validation.legacy
    ESC = "esc"  # CAdES escTimeStamp (ES-X type 1)
    CERT_CRL = "cert-crl"  # CAdES certCRLTimestamp (ES-X type 2)
    ARCHIVE_V1 = "archive-v1"  # CAdES archiveTimestamp (id-aa 27, deprecated)
    ARCHIVE_V2 = "archive-v2"  # CAdES archive-time-stamp-v2 (id-aa 48)
    ARCHIVE_132 = "archive-1.3.2"  # XAdES 1.3.2 xades:ArchiveTimeStamp
    SIG_AND_REFS = "sig-and-refs"  # XAdES SigAndRefsTimeStamp(V2) (XAdES-X type 1)
    REFS_ONLY = "refs-only"  # XAdES RefsOnlyTimeStamp(V2) (XAdES-X type 2)

    @property
    def proves_existence_of_signature(self) -> bool:
        return self is not TimestampKind.CONTENT


#: Legacy time-stamps that give POE like the baseline archive ones (EN 319 102-1 §5.6.2.3):
#: ES-X stamps over the signature and its references, and archive-time-stamp-v2.
LEGACY_POE_KINDS = (TimestampKind.ESC, TimestampKind.CERT_CRL, TimestampKind.ARCHIVE_V2,
                    TimestampKind.ARCHIVE_132, TimestampKind.SIG_AND_REFS,
                    TimestampKind.REFS_ONLY)


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateSummary:
    """One certificate on the timeline (signer, TSA, CA): validity and known revocation."""

    role: str  # signer | signer-ca | tsa | tsa-ca | trust-anchor
    subject: str
    issuer: str
    serial: str  # hex
    sha256: str  # hex of the DER
    not_before: datetime
    not_after: datetime
    revocation_time: datetime | None = None
    revocation_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SignerSummary:
    subject: str
    serial: str
    issuer: str
    key_kind: KeyKind
    key_algorithm: str  # "rsa" | "ec"
    key_size: int
    not_before: datetime
    not_after: datetime
    #: JPKI holder name (SAN otherName 1.2.392.200149.8.5.5.1); None when the certificate has none.
    holder_name: str | None = None
    #: The issuing CA as people name it (the issuer's CN).
    issuer_name: str | None = None
    #: Personal data (JPKI "basic four items" besides the name): reports show them only when
    #: asked (ReportOptions.show_holder_details); never logged, never in repr().
    holder_address: str | None = field(default=None, repr=False)
    holder_date_of_birth: str | None = field(default=None, repr=False)
    holder_gender: str | None = field(default=None, repr=False)

    @property
    def display_name(self) -> str:
        """The holder name, else the subject's CN, else the whole subject."""
        if self.holder_name:
            return self.holder_name
        for part in self.subject.split(","):
            if part.strip().upper().startswith("CN="):
                return part.strip()[3:]
        return self.subject


@dataclass(frozen=True, slots=True, kw_only=True)
class TimestampReport:
    """The §5.4 result for one time-stamp (or evidence record) of a signature."""

    kind: TimestampKind
    gen_time: datetime
    tsa: str | None
    indication: Indication  # PASSED | FAILED | INDETERMINATE
    subindication: SubIndication | None
    message: str | None
    imprint_ok: bool
    used_as_poe: bool  # its proof of existence was accepted
    past_validation: bool = False  # passed only thanks to POE from a later time-stamp
    digest_algorithm: str | None = None
    token_sha256: str | None = None  # hex SHA-256 of the token DER (its identifier)
    #: "verified" | "failed" | "not-computable" (the covered data is missing)
    imprint: str | None = None
    imprint_variant: str | None = None  # which reading of the standard matched (legacy kinds)


@dataclass(frozen=True, slots=True, kw_only=True)
class PoeSummary:
    """Which proof of existence carried the verdict."""

    source: str  # a TimestampKind value, or "validation-time" when none was needed
    time: datetime
    timestamp_index: int | None  # index into SignatureReport.timestamps
    description: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedDataObjectSummary:
    """What one ``ds:Reference`` of a XAdES signature signs (TS 119 102-2 ``SignersDocument``,
    validation objects of type ``signedData``): what it resolved to, how it was digested."""

    uri: str | None
    type: str | None  # the Reference's Type attribute
    kind: str  # "document" (URI=""), "element" (#id), "detached" (a file), "octets"
    resolved_to: str  # "element Object Id=...", "document (enveloped signature excluded)", ...
    element: str | None  # the resolved element's name as written ("ds:Object")
    element_id: str | None
    path: str | None  # "/ds:Signature/ds:Object[2]"; "/" for the whole document
    transforms: tuple[str, ...]  # ds:Transform Algorithm URIs, in order
    digest_algorithm: str  # "sha256"
    digest_method: str  # the ds:DigestMethod URI
    digest_value: str  # base64, as in ds:DigestValue
    mime_type: str | None  # from the signed DataObjectFormat
    signed_properties: bool  # the reference to the signature's own SignedProperties


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsignedContent:
    """Content of a XAdES file no reference covers (``what``: element, text, attributes, more)."""

    what: str
    element: str | None
    element_id: str | None
    path: str | None
    description: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WeakestAlgorithm:
    """The algorithm use of a signature's binding whose sunset comes first (EN 319 102-1
    §5.2.8 cryptographic constraints): ``what`` names the use ("SignerInfo digestAlgorithm
    (message-digest)", "ds:Reference '#obj' DigestMethod"), ``algorithm`` the hash ("sha1"),
    ``sunset`` the policy's date for it."""

    what: str
    algorithm: str
    sunset: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureReport:
    """The validation result of one signature (EN 319 102-1 §5.1.3 validation report)."""

    id: str
    format: SignatureFormat
    level: SignatureLevel | None
    indication: Indication
    subindication: SubIndication | None
    message: str | None
    validation_time: datetime
    signing_time: datetime | None  # claimed (signed attribute / PDF /M), not proof
    best_signature_time: datetime
    signer: SignerSummary | None
    digest_algorithm: str | None
    signature_algorithm: str | None
    timestamps: tuple[TimestampReport, ...] = ()
    certificates: tuple[CertificateSummary, ...] = ()
    poe: PoeSummary | None = None
    pdf_changes_after_signing: str | None = None
    #: XAdES: every reference and what it signs (None for other formats, or when unknown).
    signed_data_objects: tuple[SignedDataObjectSummary, ...] | None = None
    #: XAdES: content outside every reference (empty: none; None: not established).
    unsigned_content: tuple[UnsignedContent, ...] | None = None
    #: The use whose algorithm sets first, of those the signature itself rests on (None: no
    #: use with a sunset in the policy, or the facts were never read).
    weakest_algorithm: WeakestAlgorithm | None = None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    #: Legacy long-term form (TS 101 733/903, JIS X 5092/5093), e.g. "ES-A (ATSv2)"; None: none.
    form: str | None = None
    #: The id of the signature this one counter-signs (JSON: nested under it), else None.
    counter_signature_of: str | None = None

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationReport:
    """All signatures of one input (schema ``ltv.validation-report/1``)."""

    validation_time: datetime
    policy: str
    offline: bool
    document_sha256: str
    signatures: tuple[SignatureReport, ...]
    schema: str = REPORT_SCHEMA
    warnings: tuple[str, ...] = field(default=())

    @property
    def indication(self) -> Indication:
        """The worst indication over all signatures (TOTAL-FAILED > INDETERMINATE > PASSED)."""
        if not self.signatures:
            return Indication.INDETERMINATE
        worst = max(self.signatures, key=lambda s: s.indication.severity)
        return worst.indication

    @property
    def passed(self) -> bool:
        return bool(self.signatures) and all(s.passed for s in self.signatures)

    def raise_for_indication(self) -> ValidationReport:
        """Return ``self`` when every signature is TOTAL-PASSED, else raise
        :class:`SignatureValidationError` naming the first one that is not."""
        for sig in self.signatures:
            if not sig.passed:
                sub = f"/{sig.subindication.token}" if sig.subindication else ""
                detail = f": {sig.message}" if sig.message else ""
                raise SignatureValidationError(
                    f"{sig.id}: {sig.indication.token}{sub}{detail}", report=self
                )
        if not self.signatures:
            raise SignatureValidationError("no signature found", report=self)
        return self
