"""Two-step signing: ``prepare`` hands out the data to be signed, the phone signs, ``finish``
assembles and raises the signature to the requested level.

The key never leaves the phone. :class:`PendingSignature` is frozen, versioned and
JSON-serialisable, states exactly what the phone signs (:class:`~ltv.tbs.DataToBeSigned`) and
expires; :func:`finish` may run in another process (or on another API replica). It checks the
signature value against the certificate's public key before anything is assembled, so a wrong
value is a clear :class:`~ltv.errors.SignatureValueError` and nothing is produced.

Each format implements :class:`FormatBackend` (``ltv.formats.cades``, ``.pades``, ``.xades``,
each exposing a module-level ``BACKEND``). Levels follow ETSI EN 319 1x2-1: B-T adds a signature
timestamp, B-LT all certificates/CRLs/OCSP responses of every chain (:mod:`ltv.evidence`), B-LTA
an archive timestamp (CAdES archive-time-stamp-v3, PAdES document timestamp, XAdES
ArchiveTimeStamp).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import importlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ltv.algorithms import DigestAlgorithm, SignatureMechanism, mechanism_for_key, verify_signature
from ltv.clock import Clock, SystemClock, format_time, parse_time
from ltv.errors import InputError, SessionError, UnsupportedAlgorithmError
from ltv.tbs import DataToBeSigned, Signer, TbsForm

if TYPE_CHECKING:
    from ltv.revocation import CertificateFetcher, CRLFetcher, OCSPFetcher
    from ltv.timestamps import TimestampClient

__all__ = [
    "Document",
    "FormatBackend",
    "Packaging",
    "PendingSignature",
    "SignatureFormat",
    "SignatureLevel",
    "SigningOptions",
    "SigningServices",
    "backend_for",
    "document_digest",
    "extend",
    "finish",
    "prepare",
    "sign",
]

#: A document is its bytes, or a path (large PDFs are hashed in a stream, never loaded whole).
Document = bytes | Path

PENDING_SCHEMA = "ltv.pending-signature/1"


class SignatureFormat(enum.Enum):
    CADES = "cades"
    PADES = "pades"
    XADES = "xades"

    @classmethod
    def sniff(cls, data: bytes) -> SignatureFormat | None:
        """CMS ContentInfo (DER, BER or base64; whatever it encapsulates) → CAdES, then from the
        first bytes: PDF header → PAdES, XML → XAdES, PEM → CAdES, else None."""
        from ltv.formats.cms_sniff import is_base64_cms, is_cms

        head = data[:1024]
        if is_cms(data) or is_base64_cms(data):  # structure first: CMS may encapsulate a PDF
            return cls.CADES
        if b"%PDF-" in head:
            return cls.PADES
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped.startswith(b"<"):
            return cls.XADES
        if stripped.startswith((b"\x30", b"-----BEGIN")):
            return cls.CADES
        return None


class SignatureLevel(enum.Enum):
    """ETSI baseline levels, ordered: ``B_B < B_T < B_LT < B_LTA``."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @property
    def rank(self) -> int:
        return list(SignatureLevel).index(self)

    def __lt__(self, other: SignatureLevel) -> bool:
        return self.rank < other.rank

    def __le__(self, other: SignatureLevel) -> bool:
        return self.rank <= other.rank

    @classmethod
    def parse(cls, text: str) -> SignatureLevel:
        key = text.upper().replace("_", "-")
        if not key.startswith("B-"):
            key = "B-" + key
        for level in cls:
            if level.value == key:
                return level
        raise InputError(f"unknown level {text!r} (use B-B, B-T, B-LT or B-LTA)")


class Packaging(enum.Enum):
    """Where the signature sits relative to the signed data (XAdES; CAdES uses ``detached``)."""

    ENVELOPED = "enveloped"
    ENVELOPING = "enveloping"
    DETACHED = "detached"


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningOptions:
    """Choices made at ``prepare``; carried inside the pending signature."""

    digest_algorithm: DigestAlgorithm = DigestAlgorithm.SHA256
    mechanism: SignatureMechanism | None = None  # None: PKCS#1 v1.5 for RSA, ECDSA for EC
    tbs_form: TbsForm = TbsForm.DIGEST  # what the phone is handed
    detached: bool = False  # CAdES: content not encapsulated
    packaging: Packaging | None = None  # XAdES: default enveloped for XML, detached otherwise
    mime_type: str | None = None  # XAdES DataObjectFormat / CAdES content hint
    file_name: str | None = None
    reason: str | None = None  # PAdES /Reason
    location: str | None = None  # PAdES /Location
    visible: bool = False  # PAdES visible stamp
    canonicalization: str | None = None  # XAdES: C14N method URI (default exclusive C14N)
    session_lifetime: timedelta = timedelta(minutes=15)

    def to_json(self) -> dict[str, Any]:
        return {
            "digest_algorithm": self.digest_algorithm.value,
            "mechanism": self.mechanism.value if self.mechanism else None,
            "tbs_form": self.tbs_form.value,
            "detached": self.detached,
            "packaging": self.packaging.value if self.packaging else None,
            "mime_type": self.mime_type,
            "file_name": self.file_name,
            "reason": self.reason,
            "location": self.location,
            "visible": self.visible,
            "canonicalization": self.canonicalization,
            "session_lifetime_seconds": int(self.session_lifetime.total_seconds()),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> SigningOptions:
        return cls(
            digest_algorithm=DigestAlgorithm.from_name(obj["digest_algorithm"]),
            mechanism=SignatureMechanism.from_name(obj["mechanism"]) if obj.get("mechanism")
            else None,
            tbs_form=TbsForm(obj.get("tbs_form", "digest")),
            detached=bool(obj.get("detached", False)),
            packaging=Packaging(obj["packaging"]) if obj.get("packaging") else None,
            mime_type=obj.get("mime_type"),
            file_name=obj.get("file_name"),
            reason=obj.get("reason"),
            location=obj.get("location"),
            visible=bool(obj.get("visible", False)),
            canonicalization=obj.get("canonicalization"),
            session_lifetime=timedelta(seconds=int(obj.get("session_lifetime_seconds", 900))),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningServices:
    """The ports a level above B-B needs. Unset ports make the matching level fail clearly."""

    timestamp_client: TimestampClient | None = None
    ocsp_fetcher: OCSPFetcher | None = None
    crl_fetcher: CRLFetcher | None = None
    certificate_fetcher: CertificateFetcher | None = None
    clock: Clock = field(default_factory=SystemClock)
    #: Certificates known beforehand (trust anchors, intermediates) to complete chains.
    known_certificates: tuple[x509.Certificate, ...] = ()
    #: Hash of new timestamps' message imprints (archive timestamps above all): the archive
    #: moves to SHA-512 by setting it when SHA-256 nears its sunset. None: SHA-256.
    timestamp_digest: DigestAlgorithm | None = None

    def timestamp_digest_or_default(self) -> DigestAlgorithm:
        return self.timestamp_digest or DigestAlgorithm.SHA256

    def require_timestamps(self) -> TimestampClient:
        if self.timestamp_client is None:
            raise InputError("this level needs a time-stamp authority: give --tsa URL or --pki DIR")
        return self.timestamp_client


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingSignature:
    """A signature waiting for the phone's signature value (schema ``ltv.pending-signature/1``)."""

    id: str
    format: SignatureFormat
    level: SignatureLevel
    created: datetime
    expires: datetime
    signer_chain: tuple[bytes, ...]  # DER certificates, signer first
    document_digest: str  # "sha256:<hex>" of the document handed to prepare
    data_to_be_signed: DataToBeSigned
    options: SigningOptions
    format_state: Mapping[str, Any]  # JSON-able, owned by the format backend

    @property
    def signer_certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.signer_chain[0])

    @property
    def chain(self) -> list[x509.Certificate]:
        return [x509.load_der_x509_certificate(der) for der in self.signer_chain]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": PENDING_SCHEMA,
            "id": self.id,
            "format": self.format.value,
            "level": self.level.value,
            "created": format_time(self.created),
            "expires": format_time(self.expires),
            "signer_chain": [base64.b64encode(der).decode("ascii") for der in self.signer_chain],
            "document_digest": self.document_digest,
            "data_to_be_signed": self.data_to_be_signed.to_json(),
            "options": self.options.to_json(),
            "format_state": dict(self.format_state),
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> PendingSignature:
        if not isinstance(obj, Mapping) or obj.get("schema") != PENDING_SCHEMA:
            raise SessionError(f"not a pending signature of schema {PENDING_SCHEMA}")
        try:
            return cls(
                id=str(obj["id"]),
                format=SignatureFormat(obj["format"]),
                level=SignatureLevel.parse(obj["level"]),
                created=parse_time(obj["created"]),
                expires=parse_time(obj["expires"]),
                signer_chain=tuple(base64.b64decode(c, validate=True) for c in obj["signer_chain"]),
                document_digest=str(obj["document_digest"]),
                data_to_be_signed=DataToBeSigned.from_json(obj["data_to_be_signed"]),
                options=SigningOptions.from_json(obj["options"]),
                format_state=dict(obj["format_state"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise SessionError(f"pending signature is damaged: {exc}") from exc

    @classmethod
    def from_bytes(cls, data: bytes) -> PendingSignature:
        try:
            obj = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SessionError("pending signature is not JSON") from exc
        return cls.from_json(obj)


class FormatBackend(Protocol):
    """What a format module provides as ``BACKEND``.

    A backend may also provide ``assemble_and_augment(document, pending, signature_value, *,
    services) -> bytes``: :func:`finish` then calls it instead of ``assemble`` followed by
    ``augment`` (PAdES and XAdES do, to build and raise the signature in one pass).
    """

    format: SignatureFormat

    def prepare(
        self,
        document: Document,
        signer_chain: Sequence[x509.Certificate],
        *,
        level: SignatureLevel,
        options: SigningOptions,
        signing_time: datetime,
    ) -> tuple[DataToBeSigned, dict[str, Any]]:
        """Compute the data to be signed and the JSON-able state ``assemble`` needs."""
        ...

    def assemble(
        self, document: Document, pending: PendingSignature, signature_value: bytes
    ) -> bytes:
        """Build the B-B signature from the checked signature value."""
        ...

    def augment(
        self,
        signed: bytes,
        level: SignatureLevel,
        *,
        detached_content: Document | None,
        services: SigningServices,
    ) -> bytes:
        """Raise ``signed`` to ``level`` (B-LTA on a B-LTA adds a new archive timestamp)."""
        ...


_BACKENDS = {
    SignatureFormat.CADES: "ltv.formats.cades",
    SignatureFormat.PADES: "ltv.formats.pades",
    SignatureFormat.XADES: "ltv.formats.xades",
}


def backend_for(fmt: SignatureFormat) -> FormatBackend:
    try:
        module = importlib.import_module(_BACKENDS[fmt])
    except ModuleNotFoundError as exc:
        raise UnsupportedAlgorithmError(f"format {fmt.value} is not available yet") from exc
    backend: FormatBackend = module.BACKEND
    return backend


def document_digest(document: Document) -> str:
    """``sha256:<hex>`` of a document, streamed for paths."""
    if isinstance(document, Path):
        with document.open("rb") as stream:
            return "sha256:" + DigestAlgorithm.SHA256.digest_stream(stream).hex()
    return "sha256:" + hashlib.sha256(document).hexdigest()


def prepare(
    document: Document,
    signer_chain: Sequence[x509.Certificate],
    format: SignatureFormat,
    level: SignatureLevel,
    options: SigningOptions | None = None,
    *,
    clock: Clock | None = None,
) -> PendingSignature:
    """Step 1: compute what the phone must sign (EN 319 122-1/132-1/142-1 B-B data to be signed)."""
    if not signer_chain:
        raise InputError("the signer certificate chain is empty")
    options = options or SigningOptions()
    now = (clock or SystemClock()).now()
    signer = signer_chain[0]
    mechanism = options.mechanism or mechanism_for_key(signer.public_key())
    options = replace(options, mechanism=mechanism)
    tbs, state = backend_for(format).prepare(
        document, signer_chain, level=level, options=options, signing_time=now
    )
    return PendingSignature(
        id=secrets.token_urlsafe(18),
        format=format,
        level=level,
        created=now,
        expires=now + options.session_lifetime,
        signer_chain=tuple(c.public_bytes(serialization.Encoding.DER) for c in signer_chain),
        document_digest=document_digest(document),
        data_to_be_signed=tbs,
        options=options,
        format_state=state,
    )


def check_signature_value(pending: PendingSignature, signature_value: bytes) -> None:
    """Refuse a value that does not verify with the signer's key (before anything is built)."""
    if not signature_value:
        raise InputError("the signature value is empty")
    tbs = pending.data_to_be_signed
    verify_signature(
        pending.signer_certificate.public_key(),
        signature_value,
        mechanism=tbs.mechanism,
        digest_algorithm=tbs.digest_algorithm,
        digest=tbs.digest(),
    )


def finish(
    pending: PendingSignature,
    signature_value: bytes,
    *,
    document: Document,
    services: SigningServices | None = None,
) -> bytes:
    """Step 2: check the value, assemble B-B, then raise to the pending level."""
    services = services or SigningServices()
    now = services.clock.now()
    if now > pending.expires:
        raise SessionError(
            f"signing session {pending.id} expired at {format_time(pending.expires)}"
        )
    if document_digest(document) != pending.document_digest:
        raise InputError("the document differs from the one this signing session was prepared for")
    check_signature_value(pending, signature_value)
    backend = backend_for(pending.format)
    # A backend that can build and raise in one pass (PAdES: no re-reading of the PDF)
    in_one_pass = getattr(backend, "assemble_and_augment", None)
    if in_one_pass is not None:
        signed_in_one: bytes = in_one_pass(document, pending, signature_value, services=services)
        return signed_in_one
    signed = backend.assemble(document, pending, signature_value)
    if pending.level is SignatureLevel.B_B:
        return signed
    return backend.augment(
        signed,
        pending.level,
        detached_content=document if _is_detached(pending) else None,
        services=services,
    )


def _is_detached(pending: PendingSignature) -> bool:
    return pending.options.detached or pending.options.packaging is Packaging.DETACHED


def extend(
    signed: bytes,
    format: SignatureFormat,
    level: SignatureLevel,
    *,
    detached_content: Document | None = None,
    services: SigningServices,
) -> bytes:
    """Raise an existing signature (ours or another tool's) to ``level``."""
    return backend_for(format).augment(
        signed, level, detached_content=detached_content, services=services
    )


def sign(
    document: Document,
    signer: Signer,
    signer_chain: Sequence[x509.Certificate],
    format: SignatureFormat,
    level: SignatureLevel,
    options: SigningOptions | None = None,
    *,
    services: SigningServices | None = None,
) -> bytes:
    """Both steps in one go with an in-process signer (a convenience over prepare/finish)."""
    services = services or SigningServices()
    pending = prepare(document, signer_chain, format, level, options, clock=services.clock)
    value = signer.sign(pending.data_to_be_signed)
    return finish(pending, value, document=document, services=services)
