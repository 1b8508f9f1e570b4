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
  id-data; a bare RFC 3161 token (eContentType id-ct-TSTInfo) or any other content type is no
  document signature: TOTAL-FAILED / FORMAT_FAILURE unless the policy allows that content type
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


def signer_purpose(cert: x509.Certificate, *, policy: ValidationPolicy
                   ) -> ConstraintFailure | None:
    """EN 319 102-1 §5.2.6 constraints on a document signer's certificate (None: acceptable).

    A certificate that is malformed in its extensions (cryptography refuses to decode them) is
    refused too: its purpose cannot be told.
    """
    for anchor in policy.trust_anchors:
        if anchor == cert or (anchor.subject == cert.subject and _same_key(anchor, cert)):
            return _chain("the signer certificate is a trust anchor of the policy: a trust "
                          "anchor's key does not sign documents")
    try:
        basic = _ext(cert, x509.BasicConstraints)
        usage = _ext(cert, x509.KeyUsage)
        eku = _ext(cert, x509.ExtendedKeyUsage)
    except ValueError as exc:
        return _chain(f"the signer certificate's extensions do not decode: {exc}")
    if isinstance(basic, x509.BasicConstraints) and basic.ca:
        return _chain("the signer certificate is a CA certificate (basicConstraints cA=TRUE): "
                      "a CA key does not sign documents")
    if isinstance(usage, x509.KeyUsage):
        if usage.key_cert_sign or usage.crl_sign:
            which = "/".join(n for n, on in (("keyCertSign", usage.key_cert_sign),
                                             ("cRLSign", usage.crl_sign)) if on)
            return _chain(f"the signer certificate's key usage includes {which}: a CA key "
                          "does not sign documents")
        if not (usage.digital_signature or usage.content_commitment):
            return _chain("the signer certificate's key usage allows neither "
                          "digitalSignature nor nonRepudiation")
    if isinstance(eku, x509.ExtendedKeyUsage):
        oids = [o.dotted_string for o in eku]
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
    why = (" (a bare RFC 3161 time-stamp token)" if name == "id-ct-TSTInfo" else "")
    return ConstraintFailure(
        subindication=SubIndication.FORMAT_FAILURE,
        message=f"the signed content is {name}{why}, not id-data: not a document signature",
    )
