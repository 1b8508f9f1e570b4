"""Signer purpose: may this certificate sign a document, and is this CMS a document signature?

Two building-block checks of EN 319 102-1 that the path validation library does not make:

* :func:`signer_purpose` — the X.509 validation constraints on the signing certificate
  (§5.2.6, the constraints of §5.2.5 ISC's outcome): the signer of a document signature is an
  end entity meant for signing. Refused, each as INDETERMINATE / CHAIN_CONSTRAINTS_FAILURE with
  the reason named: a trust anchor used as signer; a CA certificate (basicConstraints cA=TRUE,
  or keyUsage keyCertSign / cRLSign); a keyUsage with neither digitalSignature nor
  nonRepudiation; an extendedKeyUsage without any purpose of
  :attr:`~ltv.validation.policy.ValidationPolicy.signer_extended_key_usages` (a TSA's
  timeStamping-only or an OCSP responder's OCSPSigning-only certificate above all).
* :func:`content_type_constraint` — format checking (§5.2.2): a CAdES or PAdES signature signs
  id-data; a bare RFC 3161 token (eContentType id-ct-TSTInfo) is no document signature:
  TOTAL-FAILED / FORMAT_FAILURE; any other content type (e.g. id-signedData) is INDETERMINATE /
  SIG_CONSTRAINTS_FAILURE; unless the policy allows that content type
  (:attr:`~ltv.validation.policy.ValidationPolicy.allowed_content_types`).

The same rules hold for CAdES, PAdES and XAdES: they run in the format-independent process
(:func:`ltv.validation.process.validate_basic`). PAdES document time-stamps are time-stamps,
not document signatures, and are never judged here.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import ExtendedKeyUsageOID

from ltv.validation.model import SubIndication
from ltv.validation.policy import ValidationPolicy

__all__ = ["ConstraintFailure", "content_type_constraint", "signer_purpose"]

_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH.dotted_string: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING.dotted_string: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING.dotted_string: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING.dotted_string: "OCSPSigning",
    "2.5.29.37.0": "anyExtendedKeyUsage",
}
_SERVICE_EKUS = {ExtendedKeyUsageOID.TIME_STAMPING.dotted_string: "a time-stamping unit",
                 ExtendedKeyUsageOID.OCSP_SIGNING.dotted_string: "an OCSP responder"}

_CONTENT_TYPE_NAMES = {
    "1.2.840.113549.1.7.1": "id-data",
    "1.2.840.113549.1.9.16.1.4": "id-ct-TSTInfo",
    "1.2.840.113549.1.7.2": "id-signedData",
    "1.2.840.113549.1.9.16.1.2": "id-ct-authData",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ConstraintFailure:
    """A refused constraint: the sub-indication it is tied to and the reason, in one line."""

    subindication: SubIndication
    message: str


def _chain(message: str) -> ConstraintFailure:
    return ConstraintFailure(subindication=SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                             message=message)


def _same_key(a: x509.Certificate, b: x509.Certificate) -> bool:
    fmt = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return a.public_key().public_bytes(*fmt) == b.public_key().public_bytes(*fmt)


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Purpose:
    """The three extensions that tell a certificate's purpose (RFC 5280 §4.2.1.3, .9, .12)."""

    ca: bool = False
    usage: frozenset[str] | None = None  # keyUsage bits set, by asn1crypto name
    eku: tuple[str, ...] | None = None  # extendedKeyUsage purpose OIDs


_USAGE_BITS = {"digital_signature": "digital_signature", "content_commitment": "non_repudiation",
               "key_cert_sign": "key_cert_sign", "crl_sign": "crl_sign"}


def _purpose(cert: x509.Certificate) -> _Purpose | str:
    """basicConstraints, keyUsage and extendedKeyUsage of ``cert``, or why one of them does not
    decode. Only these three are read: another non-critical extension that does not parse
    (issue #19: real certificates carry such) says nothing about the purpose."""
    try:
        basic = _ext(cert, x509.BasicConstraints)
        usage = _ext(cert, x509.KeyUsage)
        eku = _ext(cert, x509.ExtendedKeyUsage)
    except ValueError:
        return _purpose_asn1(cert)
    bits = None
    if isinstance(usage, x509.KeyUsage):
        bits = frozenset(name for attr, name in _USAGE_BITS.items() if getattr(usage, attr))
    return _Purpose(ca=isinstance(basic, x509.BasicConstraints) and basic.ca, usage=bits,
                    eku=(tuple(o.dotted_string for o in eku)
                         if isinstance(eku, x509.ExtendedKeyUsage) else None))


def _purpose_asn1(cert: x509.Certificate) -> _Purpose | str:
    """:func:`_purpose` by asn1crypto, each extension on its own (cryptography decodes all
    extensions at once and refuses the lot for one malformed extension)."""
    from asn1crypto import x509 as asn1_x509

    parsed = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
    try:
        basic = parsed.basic_constraints_value
        ca = bool(basic["ca"].native) if basic is not None else False
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        return f"the signer certificate's basicConstraints extension does not decode: {exc}"
    try:
        usage = parsed.key_usage_value
        bits = frozenset(usage.native) if usage is not None else None
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        return f"the signer certificate's keyUsage extension does not decode: {exc}"
    try:
        eku_value = parsed.extended_key_usage_value
        eku = tuple(p.dotted for p in eku_value) if eku_value is not None else None
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        return f"the signer certificate's extendedKeyUsage extension does not decode: {exc}"
    return _Purpose(ca=ca, usage=bits, eku=eku)


def signer_purpose(cert: x509.Certificate, *, policy: ValidationPolicy
                   ) -> ConstraintFailure | None:
    """EN 319 102-1 §5.2.6 constraints on a document signer's certificate (None: acceptable).

    A certificate whose basicConstraints, keyUsage or extendedKeyUsage does not decode is
    refused: its purpose cannot be told. Other extensions are not read here.
    """
    for anchor in policy.trust_anchors:
        if anchor == cert or (anchor.subject == cert.subject and _same_key(anchor, cert)):
            return _chain("the signer certificate is a trust anchor of the policy: a trust "
                          "anchor's key does not sign documents")
    purpose = _purpose(cert)
    if isinstance(purpose, str):
        return _chain(purpose)
    if purpose.ca:
        return _chain("the signer certificate is a CA certificate (basicConstraints cA=TRUE): "
                      "a CA key does not sign documents")
    if purpose.usage is not None:
        usage = purpose.usage
        if usage & {"key_cert_sign", "crl_sign"}:
            which = "/".join(n for n, bit in (("keyCertSign", "key_cert_sign"),
                                              ("cRLSign", "crl_sign")) if bit in usage)
            return _chain(f"the signer certificate's key usage includes {which}: a CA key "
                          "does not sign documents")
        if not usage & {"digital_signature", "non_repudiation"}:
            return _chain("the signer certificate's key usage allows neither "
                          "digitalSignature nor nonRepudiation")
    if purpose.eku is not None:
        oids = list(purpose.eku)
        if not set(oids) & policy.signer_extended_key_usages:
            names = ", ".join(_EKU_NAMES.get(o, o) for o in oids) or "none"
            services = {_SERVICE_EKUS[o] for o in oids if o in _SERVICE_EKUS}
            if services and set(oids) <= set(_SERVICE_EKUS):
                return _chain(f"the signer certificate is {' and '.join(sorted(services))}'s "
                              f"(extended key usage {names} only): it does not sign documents")
            return _chain(f"the signer certificate's extended key usage ({names}) allows no "
                          "document signing purpose")
    return None


def content_type_constraint(content_type: str | None, *, policy: ValidationPolicy
                            ) -> ConstraintFailure | None:
    """EN 319 102-1 §5.2.2: the eContentType of a CMS document signature (None: XAdES)."""
    if content_type is None or content_type in policy.allowed_content_types:
        return None
    name = _CONTENT_TYPE_NAMES.get(content_type, content_type)
    if name == "id-ct-TSTInfo":
        return ConstraintFailure(
            subindication=SubIndication.FORMAT_FAILURE,
            message=(f"the signed content is {name} (a bare RFC 3161 time-stamp token), not "
                     "id-data: not a document signature"))
    # another content type (e.g. id-signedData in real files): a signature all the same, which
    # the policy does not accept — a constraint failure, never a pass
    return ConstraintFailure(
        subindication=SubIndication.SIG_CONSTRAINTS_FAILURE,
        message=f"content type {name} is not accepted by the policy (only id-data is signed "
                "as a document)",
    )
