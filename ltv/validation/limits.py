"""Caps on the work one validation may cost (security review findings 2, 4 and 10).

A validator that answers anyone must bound what a single file can make it do. The caps are
policy fields (:class:`~ltv.validation.policy.ValidationPolicy`), each named in the verdict it
causes, so a report says which cap decided:

* ``max_signatures`` (100) and ``max_timestamps`` (200) per file: counted *before* any
  expensive work (a cheap census of the CMS ``SignerInfos`` and their time-stamp attributes,
  the PDF's signature fields, the XML's ``ds:Signature`` elements), and again over what the
  adapter extracted. More is refused as one INDETERMINATE / SIG_CONSTRAINTS_FAILURE entry
  (EN 319 102-1 §5.2.8: the signature does not meet the validation constraints).
* ``max_path_length`` (10, trust anchor included): a longer signer path is
  INDETERMINATE / CHAIN_CONSTRAINTS_FAILURE (§5.2.6 X.509 validation constraints).
* ``max_fetched_certificates`` (50 per validation): further AIA / OCSP certificates are not
  fetched; a signature left without a chain or revocation data because of it is
  INDETERMINATE / TRY_LATER naming the cap.
* ``deadline`` (60 s per file): checked before gathering, before each fetch and before each
  signature; whatever is not validated by then is INDETERMINATE / TRY_LATER naming the cap
  (what was validated keeps its verdict). The time source is a port (:data:`Monotonic`), so
  tests advance it instead of sleeping.

Validation times at the edge of what :class:`datetime` can hold (``--at 0001-01-01``,
``9999-12-31``) are moved inside by :func:`computable_time`, with a warning, so that the
processes' arithmetic (``at - revocation_freshness``) cannot overflow.
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from cryptography import x509

from ltv.clock import format_time
from ltv.errors import ServiceError
from ltv.revocation import CertificateFetcher, Crl, CRLFetcher, OCSPFetcher, OcspResponse
from ltv.signing import SignatureFormat
from ltv.validation.facts import SignatureFacts, TimestampFacts
from ltv.validation.model import (
    Indication,
    SignatureReport,
    SubIndication,
    TimestampReport,
    ValidationReport,
)
from ltv.validation.policy import ValidationPolicy

__all__ = [
    "Census",
    "Guard",
    "Monotonic",
    "census_of_data",
    "census_of_facts",
    "computable_time",
    "malformed",
]

#: The deadline's time source: seconds from an arbitrary origin, never going back.
Monotonic = Callable[[], float]

#: How far inside datetime's range the processes run (they subtract and add days and hours),
#: beyond the policy's own time spans.
_EDGE = timedelta(days=400)

_TIMESTAMP_ATTRIBUTES = frozenset({
    "1.2.840.113549.1.9.16.2.14",  # signature-time-stamp
    "1.2.840.113549.1.9.16.2.48",  # archive-time-stamp-v2
    "0.4.0.1733.2.4",  # archive-time-stamp-v3
})
_CONTENT_TIME_STAMP = "1.2.840.113549.1.9.16.2.20"
_XADES_TOKENS = b"EncapsulatedTimeStamp"


@dataclass(frozen=True, slots=True, kw_only=True)
class Census:
    """How many signatures and time-stamps a file holds (``None``: not counted)."""

    signatures: int | None
    timestamps: int | None


def computable_time(at: datetime, policy: ValidationPolicy) -> tuple[datetime, str | None]:
    """``at``, or the nearest whole day the processes can compute with (``at`` minus or plus
    the policy's freshness and tolerance must stay a datetime), and a warning if moved."""
    edge = _EDGE + max(policy.revocation_freshness, policy.clock_tolerance, policy.deadline)
    earliest = datetime.min.replace(tzinfo=UTC) + edge
    latest = datetime.max.replace(tzinfo=UTC) - edge
    if earliest <= at <= latest:
        return at, None
    moved = (earliest + timedelta(days=1) if at < earliest else latest).replace(
        hour=0, minute=0, second=0, microsecond=0)
    return moved, (f"the validation time {format_time(at)} is at the edge of the "
                   f"representable range; the processes ran at {format_time(moved)}")


# ---------------------------------------------------------------------------------------------
# Census: cheap counts before the adapters do any expensive work


def census_of_data(fmt: SignatureFormat, data: bytes, policy: ValidationPolicy) -> Census:
    """Count signatures and time-stamps without verifying anything (counting stops once a cap
    is exceeded: the refusal is then certain). A file the census cannot read is left to the
    adapter, which says what is wrong with it (``None`` counts)."""
    try:
        if fmt is SignatureFormat.CADES:
            return _cms_census(data, policy)
        if fmt is SignatureFormat.PADES:
            return _pdf_census(data)
        return _xml_census(data)
    except Exception:  # the census never decides: a broken file is the adapter's to report
        return Census(signatures=None, timestamps=None)


def census_of_facts(facts: Sequence[SignatureFacts]) -> Census:
    """The exact counts over what the adapter extracted."""
    return Census(signatures=len(facts), timestamps=sum(len(f.timestamps) for f in facts))


def _cms_census(data: bytes, policy: ValidationPolicy) -> Census:
    from ltv.formats import cms

    der = data
    if data.lstrip().startswith(b"-----BEGIN"):
        body = [ln for ln in data.strip().splitlines() if not ln.startswith(b"-----")]
        der = base64.b64decode(b"".join(body))
    parts = cms.parse_signed_data(der)
    signatures = len(parts.signer_infos)
    if signatures > policy.max_signatures:
        return Census(signatures=signatures, timestamps=None)
    stamps = 0
    for info in parts.signer_infos:
        stamps += sum(len(values) for oid, values in info.unsigned_attributes()
                      if oid in _TIMESTAMP_ATTRIBUTES)
        stamps += sum(len(values) for oid, values in info.signed_attributes()
                      if oid == _CONTENT_TIME_STAMP)
        if stamps > policy.max_timestamps:
            break
    return Census(signatures=signatures, timestamps=stamps)


def _pdf_census(data: bytes) -> Census:
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    if reader.encrypted:
        return Census(signatures=None, timestamps=None)
    regular = len(list(reader.embedded_regular_signatures))
    stamps = len(list(reader.embedded_timestamp_signatures))
    return Census(signatures=regular, timestamps=stamps)


def _xml_census(data: bytes) -> Census:
    from ltv.xmlsafe import parse_xml

    root = parse_xml(data, what="the XML document").getroot()
    signatures = sum(1 for _ in root.iter("{http://www.w3.org/2000/09/xmldsig#}Signature"))
    stamps = sum(1 for node in root.iter()
                 if isinstance(node.tag, str) and node.tag.endswith("}EncapsulatedTimeStamp"))
    return Census(signatures=signatures, timestamps=stamps)


# ---------------------------------------------------------------------------------------------
# The guard of one validation


@dataclass(slots=True)
class Guard:
    """The caps of ``policy`` applied to one validation of one file (mutable working state)."""

    policy: ValidationPolicy
    monotonic: Monotonic = time.monotonic
    started: float = 0.0
    fetched_certificates: int = 0
    notes: list[str] = field(default_factory=list)
    fetch_cap_hit: bool = False

    @classmethod
    def start(cls, policy: ValidationPolicy, *, monotonic: Monotonic | None = None) -> Guard:
        clock = monotonic or time.monotonic
        return cls(policy=policy, monotonic=clock, started=clock())

    # -- deadline ---------------------------------------------------------------------------

    def expired(self) -> bool:
        """One read of the time source: is the deadline behind us?"""
        return self.monotonic() - self.started > self.policy.deadline.total_seconds()

    @property
    def deadline_message(self) -> str:
        return (f"the validation deadline of {self.policy.deadline.total_seconds():g} s per "
                f"file (cap deadline) passed before this signature was validated")

    def too_late(self, facts: SignatureFacts, *, at: datetime) -> SignatureReport:
        """The report of a signature the deadline left unvalidated."""
        return _indeterminate(facts.id, facts.format, at, SubIndication.TRY_LATER,
                              self.deadline_message, facts=facts)

    # -- counts -----------------------------------------------------------------------------

    def refusal(self, census: Census, *, fmt: SignatureFormat, at: datetime,
                document_sha256: str, offline: bool) -> ValidationReport | None:
        """A report refusing the file when a count exceeds its cap, else ``None``."""
        why: list[str] = []
        if census.signatures is not None and census.signatures > self.policy.max_signatures:
            why.append(f"the file holds {census.signatures} signatures; the policy allows at "
                       f"most {self.policy.max_signatures} (cap max_signatures)")
        if census.timestamps is not None and census.timestamps > self.policy.max_timestamps:
            why.append(f"the file holds {census.timestamps} time-stamps; the policy allows at "
                       f"most {self.policy.max_timestamps} (cap max_timestamps)")
        if not why:
            return None
        message = "; ".join(why) + "; nothing was validated"
        entry = _indeterminate("file", fmt, at, SubIndication.SIG_CONSTRAINTS_FAILURE, message)
        return ValidationReport(validation_time=at, policy=self.policy.describe(),
                                offline=offline, document_sha256=document_sha256,
                                signatures=(entry,))

    # -- after the processes ----------------------------------------------------------------

    def judge(self, sig: SignatureReport) -> SignatureReport:
        """Apply the caps the processes cannot see: path length, and the fetch cap's effect."""
        if sig.indication is Indication.TOTAL_FAILED:
            return sig
        path = sum(1 for c in sig.certificates
                   if c.role in ("signer", "signer-ca", "trust-anchor"))
        if path > self.policy.max_path_length:
            message = (f"the signer's certificate path has {path} certificates; the policy "
                       f"allows at most {self.policy.max_path_length} (cap max_path_length)")
            return _downgrade(sig, SubIndication.CHAIN_CONSTRAINTS_FAILURE, message)
        if self.fetch_cap_hit and sig.indication is Indication.INDETERMINATE and (
                sig.subindication in _MISSING_MATERIAL):
            message = (f"{sig.message or 'validation material is missing'} (cap "
                       f"max_fetched_certificates: at most "
                       f"{self.policy.max_fetched_certificates} certificates are fetched per "
                       f"validation)")
            return _downgrade(sig, SubIndication.TRY_LATER, message)
        return sig

    # -- fetchers ---------------------------------------------------------------------------

    def ocsp(self, inner: OCSPFetcher | None) -> OCSPFetcher | None:
        return None if inner is None else _GuardedOcsp(self, inner)

    def crl(self, inner: CRLFetcher | None) -> CRLFetcher | None:
        return None if inner is None else _GuardedCrl(self, inner)

    def certificates(self, inner: CertificateFetcher | None) -> CertificateFetcher | None:
        return None if inner is None else _GuardedCertificates(self, inner)

    def before_fetch(self, what: str) -> None:
        if self.expired():
            raise ServiceError(f"{what}: not fetched, the validation deadline of "
                               f"{self.policy.deadline.total_seconds():g} s (cap deadline) "
                               f"has passed")

    def take(self, certs: Sequence[x509.Certificate], what: str) -> list[x509.Certificate]:
        """Count fetched certificates against the cap; keep only what the cap allows."""
        room = max(self.policy.max_fetched_certificates - self.fetched_certificates, 0)
        kept = list(certs[:room])
        self.fetched_certificates += len(kept)
        if len(kept) < len(certs):
            self.fetch_cap_hit = True
            self.notes.append(
                f"{what}: {len(certs) - len(kept)} certificate(s) dropped, the cap "
                f"max_fetched_certificates ({self.policy.max_fetched_certificates} per "
                f"validation) is reached")
        return kept


_MISSING_MATERIAL = frozenset({
    SubIndication.NO_CERTIFICATE_CHAIN_FOUND, SubIndication.NO_CERTIFICATE_CHAIN_FOUND_NO_POE,
    SubIndication.TRY_LATER, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
})


@dataclass(frozen=True, slots=True)
class _GuardedOcsp:
    guard: Guard
    inner: OCSPFetcher

    def fetch_ocsp(self, certificate: x509.Certificate, issuer: x509.Certificate
                   ) -> OcspResponse:
        what = f"OCSP for {certificate.subject.rfc4514_string()}"
        self.guard.before_fetch(what)
        response = self.inner.fetch_ocsp(certificate, issuer)
        kept = self.guard.take(response.certificates, what)
        if len(kept) == len(response.certificates):
            return response
        return replace(response, certificates=tuple(kept))


@dataclass(frozen=True, slots=True)
class _GuardedCrl:
    guard: Guard
    inner: CRLFetcher

    def fetch_crl(self, url: str, *, issuer: x509.Certificate) -> Crl:
        self.guard.before_fetch(f"CRL at {url}")
        return self.inner.fetch_crl(url, issuer=issuer)


@dataclass(frozen=True, slots=True)
class _GuardedCertificates:
    guard: Guard
    inner: CertificateFetcher

    def fetch_certificates(self, url: str) -> list[x509.Certificate]:
        what = f"certificates at {url}"
        self.guard.before_fetch(what)
        if self.guard.fetched_certificates >= self.guard.policy.max_fetched_certificates:
            self.guard.fetch_cap_hit = True
            raise ServiceError(f"{what}: not fetched, the cap max_fetched_certificates "
                               f"({self.guard.policy.max_fetched_certificates} per validation) "
                               f"is reached", url=url)
        return self.guard.take(self.inner.fetch_certificates(url), what)


# ---------------------------------------------------------------------------------------------
# Reports made without running the processes


def malformed(facts: SignatureFacts, *, at: datetime, exc: BaseException) -> SignatureReport:
    """The verdict on a signature whose embedded material broke a library while the processes
    ran over it (found by fuzzing and in real files): INDETERMINATE /
    CERTIFICATE_CHAIN_GENERAL_FAILURE naming what broke (EN 319 102-1 §5.2.6), never a pass.

    Not TOTAL-FAILED / FORMAT_FAILURE: the container itself parsed during extraction (where a
    malformed structure is FORMAT_FAILURE); what failed here is a library reading one piece of
    validation material, e.g. a certificate extension asn1crypto cannot decode in a file that
    other validators accept (DSS's dss874 sample)."""
    from ltv.validation.diagnostics import one_line

    if isinstance(exc, _PARSE_ERRORS):
        message = one_line(f"malformed validation material in the signature "
                           f"({type(exc).__name__}: {exc})")
    else:
        message = one_line(f"the certificate path could not be validated "
                           f"({type(exc).__name__}: {exc})")
    return _indeterminate(facts.id, facts.format, at,
                          SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, message, facts=facts)


_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError,
                 RecursionError, OverflowError)


def unvalidated_timestamp(ts: TimestampFacts) -> TimestampReport:
    """A time-stamp reported as found, without its own validation (its imprint result kept)."""
    return TimestampReport(
        kind=ts.kind, gen_time=ts.gen_time,
        tsa=ts.tsa_certificate.subject.rfc4514_string() if ts.tsa_certificate else None,
        indication=Indication.INDETERMINATE, subindication=None,
        message=(ts.imprint_message if ts.kind.value == "archive-v1"
                 else "not evaluated (the signature failed before)"), imprint_ok=ts.imprint_ok,
        used_as_poe=False, digest_algorithm=ts.digest_algorithm,
        token_sha256=hashlib.sha256(ts.token).hexdigest(),
        imprint=ts.imprint, imprint_variant=ts.imprint_variant,
    )


def _indeterminate(sig_id: str, fmt: SignatureFormat, at: datetime, sub: SubIndication,
                   message: str, *, facts: SignatureFacts | None = None) -> SignatureReport:
    return SignatureReport(
        id=sig_id, format=fmt, level=facts.level if facts else None,
        indication=Indication.INDETERMINATE, subindication=sub, message=message,
        validation_time=at, signing_time=facts.claimed_signing_time if facts else None,
        best_signature_time=at, signer=None,
        digest_algorithm=facts.digest_algorithm if facts else None,
        signature_algorithm=facts.signature_algorithm if facts else None,
        errors=(message,), form=facts.form if facts else None,
        timestamps=tuple(unvalidated_timestamp(ts) for ts in facts.timestamps) if facts else (),
    )


def _downgrade(sig: SignatureReport, sub: SubIndication, message: str) -> SignatureReport:
    return replace(sig, indication=Indication.INDETERMINATE, subindication=sub, message=message,
                   poe=None, errors=tuple(dict.fromkeys((*sig.errors, message))))
