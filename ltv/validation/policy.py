"""The validation policy: trust anchors, algorithm sunset dates, revocation freshness, key kinds.

A :class:`ValidationPolicy` is the "signature validation policy / constraints" input of
EN 319 102-1 §5.1.4, in the small shape this service needs:

* ``trust_anchors``: the certificates a chain must end at (PEM files or directories).
* Algorithm sunset dates (EN 319 102-1 §5.2.8 cryptographic constraints, in the spirit of
  ETSI TS 119 312): a digest algorithm or an RSA key shorter than ``min_rsa_bits`` is refused
  for anything whose proof of existence is *after* its sunset date; an older POE keeps it valid
  (that is what archive time-stamps are for). SHA-1 and RSA < 2048 are refused by date.
  Public-key algorithms have their own table (``key_sunset``, keyed by :func:`key_class`:
  ``rsa-2048``, ``rsa-3072``, ``p-256``, ``p-384``, ``p-521``, ``ml-dsa-44/65/87``): by default
  RSA-2048 and P-256 set on 2036-01-01, following NIST IR 8547 (ipd, 2024): 112-bit RSA/ECDSA
  "deprecated after 2030, disallowed after 2035". ML-DSA (FIPS 204) has no sunset.
* Revocation freshness (§5.2.5): revocation information counts for a use of a certificate at
  time *T* when it was issued no earlier than ``T - revocation_freshness``.
* Accepted key kinds (smartphone, card, other), told by the certificate policy OID
  (:func:`ltv.jpki.key_kind_for_policies`); a refused kind is a chain constraint, so it gives
  INDETERMINATE / CHAIN_CONSTRAINTS_FAILURE (§5.2.6: acceptable certificate policies are part of
  the X.509 validation constraints).
* ``minimum_level``: a signature below it gives INDETERMINATE / SIG_CONSTRAINTS_FAILURE.
* ``refuse_unsigned_content``: a XAdES file holding content no reference signs gives
  INDETERMINATE / SIG_CONSTRAINTS_FAILURE (on by default).
* Caps on the work one file may cost (:mod:`ltv.validation.limits`): ``max_signatures``,
  ``max_timestamps``, ``max_path_length``, ``max_fetched_certificates`` and ``deadline``.
* Signer purpose (§5.2.6 X.509 validation constraints, :mod:`ltv.validation.constraints`): the
  extended key usages that allow document signing (``signer_extended_key_usages``) and the CMS
  content types a document signature may sign (``allowed_content_types``, default id-data only).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ltv.errors import ConfigurationError
from ltv.jpki import KeyKind
from ltv.signing import SignatureLevel

__all__ = [
    "DEFAULT_CONTENT_TYPES",
    "DEFAULT_DIGEST_SUNSET",
    "DEFAULT_KEY_SUNSET",
    "DEFAULT_RSA_SUNSET",
    "DEFAULT_SIGNER_EKUS",
    "ValidationPolicy",
    "key_class",
    "key_sunset_from",
    "load_trust_anchors",
]

#: Digest algorithms and the date after which a new use is no longer accepted.
#: SHA-1: refused for signatures since 2016-01-01 (ETSI TS 119 312, NIST SP 800-131A r2).
DEFAULT_DIGEST_SUNSET: dict[str, datetime] = {
    "md5": datetime(2005, 1, 1, tzinfo=UTC),
    "sha1": datetime(2016, 1, 1, tzinfo=UTC),
}

#: RSA keys shorter than 2048 bits: refused for uses after 2014-01-01 (NIST SP 800-131A).
DEFAULT_RSA_SUNSET = datetime(2014, 1, 1, tzinfo=UTC)

#: Public-key algorithms (by :func:`key_class`) and the date from which a new use is refused.
#: NIST IR 8547 (initial public draft, November 2024), "Transition to Post-Quantum Cryptography
#: Standards", Table 2: digital signatures with 112 bits of security (RSA-2048, P-256 is 128 but
#: listed with ECDSA as quantum-vulnerable) are deprecated after 2030 and every RSA/ECDSA
#: signature is disallowed after 2035. We set the two classes the sample PKI and JPKI use;
#: a policy file may add ``rsa-3072``, ``p-384``, ... (see README, "Post-quantum evidence").
DEFAULT_KEY_SUNSET: dict[str, datetime] = {
    "rsa-2048": datetime(2036, 1, 1, tzinfo=UTC),
    "p-256": datetime(2036, 1, 1, tzinfo=UTC),
}


def key_class(algorithm: str, bits: int) -> str:
    """The sunset-table name of a public key: ``rsa-2048`` (2048 <= n < 3072 bits),
    ``rsa-3072`` (3072 <= n < 4096), ``rsa-4096`` (n >= 4096), ``p-256``/``p-384``/``p-521``
    for EC keys of that size, ``ml-dsa-65`` for asn1crypto's ``mldsa65`` (and the like);
    anything else its algorithm name."""
    name = algorithm.lower()
    if name in ("rsa", "rsassa_pss"):
        size = 4096 if bits >= 4096 else 3072 if bits >= 3072 else 2048 if bits >= 2048 else bits
        return f"rsa-{size}"
    if name in ("ec", "ecdsa"):
        return f"p-{521 if bits > 384 else bits}"
    if name.startswith("mldsa"):
        return f"ml-dsa-{name[5:]}"
    return name


#: Extended key usages that let a certificate sign documents, when it carries an EKU at all
#: (a certificate without the extension is not limited by it, RFC 5280 §4.2.1.12):
#: anyExtendedKeyUsage; emailProtection (S/MIME signing certificates, which many qualified and
#: national signature certificates carry); documentSigning (RFC 9336); Adobe Authentic
#: Documents Trust; Microsoft Document Signing. Deliberately *not*: serverAuth, clientAuth
#: (authentication keys, JPKI's user-authentication certificate among them), codeSigning (a
#: software publisher's key), timeStamping (a TSA key, RFC 3161 §2.3) and OCSPSigning (a
#: responder key, RFC 6960 §4.2.2.2): a certificate meant for those signs no contract.
DEFAULT_SIGNER_EKUS: frozenset[str] = frozenset({
    "2.5.29.37.0",  # anyExtendedKeyUsage
    "1.3.6.1.5.5.7.3.4",  # id-kp-emailProtection
    "1.3.6.1.5.5.7.3.36",  # id-kp-documentSigning (RFC 9336)
    "1.2.840.113583.1.1.5",  # Adobe Authentic Documents Trust
    "1.3.6.1.4.1.311.10.3.12",  # Microsoft Document Signing (szOID_KP_DOCUMENT_SIGNING)
})

#: CMS eContentTypes a document signature may sign: id-data only. id-ct-TSTInfo (a bare RFC
#: 3161 token) and any other content type is not a document signature (FORMAT_FAILURE).
DEFAULT_CONTENT_TYPES: frozenset[str] = frozenset({"1.2.840.113549.1.7.1"})


_KEY_CLASSES = ("rsa-2048", "rsa-3072", "rsa-4096", "p-256", "p-384", "p-521",
                "ml-dsa-44", "ml-dsa-65", "ml-dsa-87")


def key_sunset_from(current: dict[str, datetime], entries: object) -> dict[str, datetime]:
    """A policy file's ``key_sunset`` object merged over ``current``: ``{"rsa-2048":
    "2031-01-01T00:00:00Z", "p-256": null}`` sets RSA-2048's sunset and removes P-256's.
    An unknown key class or a bad time is a :class:`ConfigurationError`."""
    from ltv.clock import parse_time  # (ltv.clock is light; kept local like the CLI does)

    if not isinstance(entries, dict):
        raise ConfigurationError("key_sunset is an object: key class -> ISO 8601 time or null")
    merged = dict(current)
    for raw, value in entries.items():
        name = str(raw).strip().lower()
        if name not in _KEY_CLASSES:
            raise ConfigurationError(
                f"key_sunset: unknown key class {raw!r} (use {', '.join(_KEY_CLASSES)})")
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = parse_time(str(value))
    return merged


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationPolicy:
    """Constraints a signature is validated against (frozen; derive variants with ``replace``)."""

    name: str = "ltv-default/1"
    trust_anchors: tuple[x509.Certificate, ...] = ()
    digest_sunset: dict[str, datetime] = field(default_factory=lambda: dict(DEFAULT_DIGEST_SUNSET))
    min_rsa_bits: int = 2048
    rsa_sunset: datetime = DEFAULT_RSA_SUNSET
    min_ec_bits: int = 256
    #: Public-key algorithm sunsets (see :data:`DEFAULT_KEY_SUNSET` and :func:`key_class`).
    key_sunset: dict[str, datetime] = field(default_factory=lambda: dict(DEFAULT_KEY_SUNSET))
    revocation_freshness: timedelta = timedelta(hours=24)
    clock_tolerance: timedelta = timedelta(seconds=60)
    accepted_key_kinds: frozenset[KeyKind] = frozenset(KeyKind)
    minimum_level: SignatureLevel = SignatureLevel.B_B
    #: PAdES: signatures followed by disallowed incremental changes do not pass.
    refuse_disallowed_pdf_changes: bool = True
    #: XAdES: content outside every ds:Reference (an unsigned ds:Object, elements beside the
    #: signed one) makes the signature INDETERMINATE / SIG_CONSTRAINTS_FAILURE.
    refuse_unsigned_content: bool = True
    #: Caps (ltv.validation.limits): a file with more signatures or time-stamps is refused
    #: (INDETERMINATE / SIG_CONSTRAINTS_FAILURE) before any expensive work.
    max_signatures: int = 100
    max_timestamps: int = 200
    #: A signer certificate path longer than this (trust anchor included) does not pass
    #: (INDETERMINATE / CHAIN_CONSTRAINTS_FAILURE).
    max_path_length: int = 10
    #: Certificates fetched (AIA caIssuers, OCSP responses) per validation, at most.
    max_fetched_certificates: int = 50
    #: Total time per file; what is not validated by then is INDETERMINATE / TRY_LATER.
    deadline: timedelta = timedelta(seconds=60)
    #: Extended key usages that allow document signing (see :data:`DEFAULT_SIGNER_EKUS`).
    signer_extended_key_usages: frozenset[str] = DEFAULT_SIGNER_EKUS
    #: CMS eContentTypes accepted as signed content (see :data:`DEFAULT_CONTENT_TYPES`).
    allowed_content_types: frozenset[str] = DEFAULT_CONTENT_TYPES

    @classmethod
    def default(cls, *, trust_anchors: Iterable[x509.Certificate] = ()) -> ValidationPolicy:
        return cls(trust_anchors=tuple(trust_anchors))

    def with_trust_anchors(self, anchors: Iterable[x509.Certificate]) -> ValidationPolicy:
        return replace(self, trust_anchors=(*self.trust_anchors, *anchors))

    def refusing(self, *kinds: KeyKind) -> ValidationPolicy:
        """The same policy without ``kinds`` among the accepted key kinds."""
        return replace(self, accepted_key_kinds=self.accepted_key_kinds - set(kinds))

    def digest_sunset_for(self, name: str) -> datetime | None:
        return self.digest_sunset.get(name.lower().replace("-", ""))

    def key_sunset_for(self, name: str) -> datetime | None:
        """The sunset of a :func:`key_class` name (``"rsa-2048"``), None if it has none."""
        return self.key_sunset.get(name.lower())

    def describe(self) -> str:
        refused = sorted(k.value for k in set(KeyKind) - self.accepted_key_kinds)
        extra = f", refusing {'/'.join(refused)} keys" if refused else ""
        return f"{self.name} ({len(self.trust_anchors)} trust anchor(s){extra})"


def load_trust_anchors(paths: Sequence[str | os.PathLike[str]]) -> tuple[x509.Certificate, ...]:
    """Certificates from PEM (or DER) files, and from every ``*.pem``/``*.crt``/``*.cer`` file of
    each directory given. A missing or unreadable file is a :class:`ConfigurationError`."""
    anchors: list[x509.Certificate] = []
    for raw in paths:
        path = Path(raw)
        files: list[Path]
        if path.is_dir():
            files = sorted(p for p in path.iterdir()
                           if p.suffix.lower() in {".pem", ".crt", ".cer", ".der"})
        else:
            files = [path]
        for file in files:
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot read trust anchor {file}: {exc.strerror}"
                ) from exc
            anchors.extend(_certificates_from(data, file))
    seen: set[bytes] = set()
    unique: list[x509.Certificate] = []
    for cert in anchors:
        der = cert.public_bytes(serialization.Encoding.DER)
        if der not in seen:
            seen.add(der)
            unique.append(cert)
    return tuple(unique)


def _certificates_from(data: bytes, source: Path) -> list[x509.Certificate]:
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ConfigurationError(f"{source} holds no readable certificate: {exc}") from exc
    if not certs:
        raise ConfigurationError(f"{source} holds no certificate")
    return certs
