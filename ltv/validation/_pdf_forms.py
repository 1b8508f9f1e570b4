"""PDF signatures as other tools write them (issue #19, item 4).

* A document time-stamp is known by its ``/SubFilter /ETSI.RFC3161`` (ISO 32000-2 §12.8.5,
  EN 319 142-1 §5.4), whatever its ``/Type`` says: some tools write ``/Type /Sig`` or no
  ``/Type`` (the field listing of :mod:`ltv.validation.pades` applies this rule).
* Certificates ``cryptography`` refuses (e.g. an AlgorithmIdentifier with parameters DER
  forbids) are left out with a warning instead of making the whole PDF "damaged"; a signer
  certificate that cannot be read leaves the signer unidentified (INDETERMINATE /
  NO_SIGNING_CERTIFICATE_FOUND), never a pass.
* ``/SubFilter /adbe.pkcs7.sha1`` (ISO 32000-1 §12.8.3.3.1, deprecated in ISO 32000-2): the
  PKCS#7 SignedData encapsulates the SHA-1 digest of the ``/ByteRange`` and signs that
  content. Checked as such (the encapsulated digest against the byte range, then the CMS
  signature over it); the byte-range digest is a SHA-1 use the policy's algorithm
  constraints judge (its sunset with POE), so an intact one is at worst INDETERMINATE /
  CRYPTO_CONSTRAINTS_FAILURE, never FORMAT_FAILURE.
* A last trailer saying ``/Prev 0`` (no previous cross-reference section at byte 0, as some
  tools write for the first revision): when the PDF does not read otherwise, it is read with
  that entry blanked out (same length, so every offset stays), then the reader is pointed back
  at the original bytes, which the signatures' digests are computed over.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Callable, Iterable
from typing import Any

from cryptography import x509

__all__ = ["SHA1_SUBFILTER", "compute_integrity", "readable_certificates",
           "reread_without_prev_zero",
           "sha1_subfilter_integrity", "sha1_subfilter_uses"]

SHA1_SUBFILTER = "/adbe.pkcs7.sha1"


_PREV_ZERO = re.compile(rb"/Prev\s+0(?![0-9])")


def reread_without_prev_zero(data: bytes | mmap.mmap, read: Callable[[bytes], Any]
                             ) -> Any | None:
    """A reader for ``data`` whose last trailer's ``/Prev 0`` is ignored (see the module), or
    None when there is no such entry or the PDF still does not read."""
    import io

    from ltv.errors import MalformedError

    trailer = data.rfind(b"trailer")
    start = trailer if trailer >= 0 else data.rfind(b"/XRef")
    if start < 0:
        return None
    match = _PREV_ZERO.search(data, start)
    if match is None:
        return None
    patched = bytes(data[:match.start()]) + b" " * (match.end() - match.start()) \
        + bytes(data[match.end():])
    try:
        reader = read(patched)
    except MalformedError:
        return None
    reader.stream = io.BytesIO(bytes(data))
    return reader


def _is_sha1_subfilter(sig: Any) -> bool:
    return str(sig.sig_object.get("/SubFilter")) == SHA1_SUBFILTER


def sha1_subfilter_integrity(sig: Any) -> tuple[bool, bool] | None:
    """(intact, valid) of an ``adbe.pkcs7.sha1`` signature; None for other sub-filters.

    Intact: the encapsulated content is the SHA-1 digest of the byte range and the CMS
    message digest (if there are signed attributes) matches it; valid: the signature value
    verifies with the signer certificate's key."""
    import hashlib
    import hmac

    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    if not _is_sha1_subfilter(sig):
        return None
    content = sig.signed_data["encap_content_info"]["content"]
    econtent = bytes(content.native) if content.native is not None else b""
    digest_name = str(sig.signer_info["digest_algorithm"]["algorithm"].native)
    try:
        digest = hashlib.new(digest_name, econtent).digest()
    except (ValueError, TypeError):
        return False, False
    covers = hmac.compare_digest(econtent, sig.compute_digest("sha1"))
    intact, valid = validate_sig_integrity(sig.signer_info, sig.signer_cert, "data", digest)
    return bool(covers and intact), bool(valid)


def sha1_subfilter_uses(sig: Any) -> tuple[Any, ...]:
    """The SHA-1 byte-range digest of an ``adbe.pkcs7.sha1`` signature, for the algorithm
    constraints (EN 319 102-1 §5.2.8)."""
    from ltv.validation.facts import AlgorithmUse

    if not _is_sha1_subfilter(sig):
        return ()
    return (AlgorithmUse(what="adbe.pkcs7.sha1 /ByteRange digest", algorithm="sha1"),)

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
