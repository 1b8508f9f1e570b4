"""The JPKI holder data of a signing certificate: name, and the personal data beside it.

JPKI signing certificates carry the holder's "basic four items" as subjectAltName otherNames
(:data:`ltv.jpki.HOLDER_OIDS`, UTF8String values): name, gender, date of birth and address. The
subject CN is a serial-like identifier, so the name is what a report shows. Address, birth date
and gender are personal data: reports leave them out unless asked
(:attr:`ltv.validation.report_options.ReportOptions.show_holder_details`) and nothing logs them.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import core
from cryptography import x509

from ltv.jpki import HOLDER_OIDS

__all__ = ["HolderData", "holder_data", "issuer_name"]

_FIELDS = {oid: name for name, oid in HOLDER_OIDS.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class HolderData:
    """What a JPKI-like certificate says of its holder (None: not in the certificate)."""

    name: str | None = None
    address: str | None = None
    date_of_birth: str | None = None  # "EYYYYMMDD" as JPKI writes it (E: era digit)
    gender: str | None = None  # JIS X 0303: 1 male, 2 female, 9 not applicable

    def __repr__(self) -> str:  # personal data stays out of logs and tracebacks
        return f"HolderData(name={self.name!r}, details={'...' if self.address else None})"


def _text(der: bytes) -> str | None:
    """A DER string value (UTF8String, PrintableString, BMPString...) as text, else None."""
    try:
        value = core.load(der, strict=True)
        native = value.native
    except (ValueError, TypeError, OverflowError, LookupError):
        return None
    if not isinstance(native, str):
        return None
    text = native.strip()
    return text or None


def holder_data(certificate: x509.Certificate) -> HolderData:
    """The holder data in ``certificate``'s subjectAltName otherNames (empty if none)."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return HolderData()
    found: dict[str, str] = {}
    for other in san.get_values_for_type(x509.OtherName):
        field = _FIELDS.get(other.type_id.dotted_string)
        if field in ("name", "address", "date_of_birth", "gender") and field not in found:
            text = _text(other.value)
            if text is not None:
                found[field] = text
    return HolderData(**found)


def issuer_name(certificate: x509.Certificate) -> str:
    """The issuing CA as people name it: the issuer's CN (O, else the whole name)."""
    for oid in (x509.NameOID.COMMON_NAME, x509.NameOID.ORGANIZATION_NAME):
        values = certificate.issuer.get_attributes_for_oid(oid)
        if values:
            value = values[0].value
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return certificate.issuer.rfc4514_string()
