"""Certificates as issued in the wild: extensions ``cryptography`` refuses to parse (issue #19).

Real qualified certificates carry a CertificatePolicies UserNotice with a UTF8String where
RFC 5280 says VisibleString, non-DER lengths, and the like. ``cryptography`` then raises
``ValueError`` for every access to ``Certificate.extensions``. EN 319 102-1 (§5.2.6, after
RFC 5280 §4.2) judges by criticality: a critical extension that is not understood fails the
chain (certvalidator refuses it: CHAIN_CONSTRAINTS_FAILURE), a non-critical one is ignored. ltv
reads what it needs here (the policy OIDs that decide the key kind) with the lenient
asn1crypto parser and reports each extension it could not read as a warning on that certificate.
"""

from __future__ import annotations

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

__all__ = ["extension_warnings", "policy_oids"]


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate | None:
    try:
        return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
    except ValueError:
        return None


def policy_oids(cert: x509.Certificate) -> set[str]:
    """The certificate policy OIDs, read leniently (only the OIDs, never the qualifiers)."""
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
        return {p.policy_identifier.dotted_string for p in policies}
    except x509.ExtensionNotFound:
        return set()
    except ValueError:
        pass
    parsed = _asn1(cert)
    if parsed is None:
        return set()
    oids: set[str] = set()
    try:
        for ext in parsed["tbs_certificate"]["extensions"]:
            if ext["extn_id"].dotted != "2.5.29.32":
                continue
            for info in ext["extn_value"].parsed:
                oids.add(info["policy_identifier"].dotted)
    except (ValueError, TypeError, KeyError):
        return oids
    return oids


def extension_warnings(cert: x509.Certificate, *, role: str) -> list[str]:
    """One warning per extension of ``cert`` that ``cryptography`` cannot parse (none when all
    parse), naming it and saying whether it is critical."""
    try:
        _ = cert.extensions
        return []
    except ValueError as exc:
        reason = str(exc)
    parsed = _asn1(cert)
    subject = cert.subject.rfc4514_string()
    found: list[str] = []
    if parsed is not None:
        try:
            for ext in parsed["tbs_certificate"]["extensions"]:
                try:
                    _ = ext["extn_value"].parsed.native
                except (ValueError, TypeError, KeyError):
                    critical = "critical" if ext["critical"].native else "non-critical"
                    found.append(f"{ext['extn_id'].dotted} ({critical})")
        except (ValueError, TypeError, KeyError):
            pass
    what = ", ".join(found) if found else "an extension"
    return [f"{role} certificate {subject}: {what} does not parse strictly ({reason}); read "
            "leniently, a non-critical extension is ignored (RFC 5280 §4.2)"]


def lenient_usage_problem(cert: x509.Certificate, *, signer: bool) -> str | None:
    """The key-usage / EKU check of :meth:`CertificateChecker._usage_constraints`, read with
    asn1crypto when ``cryptography`` cannot parse the extensions: the reason the certificate
    may not be used in its role, or None. Unreadable usage extensions refuse (never a pass on
    what could not be read)."""
    parsed = _asn1(cert)
    if parsed is None:
        return "the certificate's extensions cannot be read"
    try:
        usage = parsed.key_usage_value
        eku = parsed.extended_key_usage_value
    except (ValueError, TypeError, KeyError) as exc:
        return f"the certificate's key usage cannot be read ({exc})"
    flags = set(usage.native) if usage is not None else None
    if signer:
        if flags is not None and not flags & {"digital_signature", "non_repudiation"}:
            return ("the signer certificate's key usage allows neither digitalSignature nor "
                    "nonRepudiation")
        if flags is not None and "key_cert_sign" in flags:
            return "the signature was made with a CA key (keyCertSign)"
        return None
    if eku is None or "time_stamping" not in eku.native:
        return "the time-stamp's signer certificate lacks EKU timeStamping (RFC 3161 §2.3)"
    return None
