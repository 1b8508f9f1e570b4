"""PDF signatures as other tools write them (issue #19, item 4).

* A document time-stamp is known by its ``/SubFilter /ETSI.RFC3161`` (ISO 32000-2 §12.8.5,
  EN 319 142-1 §5.4), whatever its ``/Type`` says: some tools write ``/Type /Sig`` or no
  ``/Type`` (the field listing of :mod:`ltv.validation.pades` applies this rule).
* Certificates ``cryptography`` refuses (e.g. an AlgorithmIdentifier with parameters DER
  forbids) are left out with a warning instead of making the whole PDF "damaged"; a signer
  certificate that cannot be read leaves the signer unidentified (INDETERMINATE /
  NO_SIGNING_CERTIFICATE_FOUND), never a pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cryptography import x509

__all__ = ["compute_integrity", "readable_certificates"]

def readable_certificates(certs: Iterable[Any], problems: list[str]) -> list[x509.Certificate]:
    """The asn1crypto certificates ``cryptography`` can load; one warning per other one."""
    out: list[x509.Certificate] = []
    for cert in certs:
        try:
            out.append(x509.load_der_x509_certificate(cert.dump()))
        except ValueError as exc:
            problems.append(f"an embedded certificate does not parse strictly and was left "
                            f"out: {exc}")
    return out


def compute_integrity(sig: Any) -> str | None:
    """pyHanko's integrity check of ``sig``; when its difference analysis breaks on damaged
    cross-reference data that viewers repair (an object no revision introduces, ...), the
    digest and coverage are still computed and the reason is returned: the changes after
    signing are then unknown, and the caller treats them as not allowed (strict)."""
    from pyhanko.pdf_utils.misc import PdfError

    try:
        sig.compute_integrity_info()
    except (KeyError, IndexError, ValueError, TypeError, AttributeError, PdfError) as exc:
        sig.compute_integrity_info(skip_diff=True)
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        return ("the changes after signing could not be analysed: the PDF's cross-reference "
                f"data is damaged and was read leniently ({reason}); treated as not allowed")
    return None
