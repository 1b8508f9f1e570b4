"""Memos of pure checks inside pyhanko-certvalidator (issue #15): each one remembers only
*successes*, keyed by a SHA-256 over every input of the check, so a hit returns exactly what
the check would have returned and a failure is always recomputed (with its own message).

* :class:`MemoSignatureValidator` — "this signature over these bytes verifies under this
  public key with this algorithm" (certificate, OCSP response and CRL signatures). The key
  covers the signature, the signed bytes, the public key's DER, the signature algorithm's DER
  and the validation context's digest hints.
* :func:`install_ocsp_provenance_memo` — RFC 6960 §4.2.2.2: a delegated OCSP responder whose
  certificate carries id-pkix-ocsp-nocheck is checked by pyhanko-certvalidator with a path
  validation of just ``issuer → responder`` at the validation time, with no revocation check:
  a pure function of the responder's DER, the issuer certificate's DER, the moment, the time
  tolerance and the algorithm policy (:class:`~ltv.validation.certpath.SunsetAlgorithmPolicy`,
  whose :meth:`describe` lists every policy value it reads). Every validation of a document
  repeats it for each certificate the responder vouches for, and every API request at a new
  "now". Responders without ocsp-nocheck (whose own revocation status and POE matter), issuers
  that are bare keys, and any other algorithm policy (pyHanko's own callers in the same
  process) go to the original function.

Both are :class:`ltv._memo.SuccessMemo`: bounded (FIFO) and thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import algos
from asn1crypto import x509 as asn1_x509
from asn1crypto.keys import PublicKeyInfo
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
)

from ltv._memo import SuccessMemo, digest_of

__all__ = [
    "PROVENANCE",
    "SIGNATURES",
    "MemoSignatureValidator",
    "der_of",
    "install_ocsp_provenance_memo",
    "remember_der",
]


SIGNATURES = SuccessMemo(16384)
PROVENANCE = SuccessMemo(4096)


class MemoSignatureValidator(DefaultSignatureValidator):
    """pyhanko-certvalidator's signature check, remembering the signatures that verified."""

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        key = digest_of((
            b"sig", bytes(signature), bytes(signed_data), public_key_info.dump(),
            signature_algorithm.dump(), (context.contextual_md_algorithm or "").encode(),
            b"prehashed" if context.prehashed else b"",
        ))
        if key in SIGNATURES:
            return
        super().validate_signature(signature, signed_data, public_key_info,
                                   signature_algorithm, context)
        SIGNATURES.add(key)


_DER = "_ltv_der"


def remember_der(value: Any, data: bytes) -> None:
    """Record the DER a shared, never mutated asn1crypto object was parsed from (asn1crypto's
    ``dump()`` walks every parsed child to detect mutation: ~100 µs for a certificate)."""
    value.__dict__[_DER] = data


def der_of(value: Any) -> bytes:
    """The DER of an asn1crypto object: as recorded by :func:`remember_der`, else ``dump()``."""
    known: bytes | None = value.__dict__.get(_DER)
    return known if known is not None else bytes(value.dump())


def provenance_key(responder: asn1_x509.Certificate, issuer: Any, tolerance: timedelta,
                   policy: tuple[object, ...]) -> bytes:
    """The memo key of a no-check responder's authorisation: both certificates, the time
    tolerance and the algorithm policy's description at the moment (see
    :func:`install_ocsp_provenance_memo`)."""
    return digest_of((
        b"ocsp-nocheck-responder", der_of(responder), der_of(issuer),
        repr(tolerance).encode(), repr(policy).encode(),
    ))


def valid_at(cert: asn1_x509.Certificate, moment: datetime, tolerance: timedelta) -> bool:
    """pyhanko-certvalidator's validity check of a path certificate (``_check_validity``),
    the same comparisons, as a boolean."""
    validity = cert["tbs_certificate"]["validity"]
    return not (moment + tolerance < validity["not_before"].native
                or moment - tolerance > validity["not_after"].native)


_install_lock = threading.Lock()
_installed = False


def install_ocsp_provenance_memo(
        describe: Callable[[object, datetime], tuple[object, ...] | None]) -> None:
    """Wrap pyhanko-certvalidator's delegated-responder check with :data:`PROVENANCE`
    (idempotent).

    For a responder with id-pkix-ocsp-nocheck and an issuer given by its certificate, the
    check is a path validation of ``issuer → responder`` with no revocation check, in a fresh
    context whose only inputs besides the two certificates are the moment, the time
    tolerance and the algorithm policy. The moment enters in exactly two places: the
    responder's validity (``moment ± tolerance`` against notBefore/notAfter) and the
    algorithm policy's answers. ``describe(algorithm_policy, moment)`` returns the policy's
    complete content together with the class of ``moment`` among the policy's dates (two
    moments of one class get the same answer for every algorithm and key), or None for a
    policy it cannot describe (then nothing is memoized). So a success is remembered under
    (both DERs, tolerance, description), and reused only when the responder is also valid at
    the moment asked about: every input the check reads is then the same or compares alike.
    """
    global _installed
    with _install_lock:
        if _installed:
            return
        from pyhanko_certvalidator.authority import AuthorityWithCert
        from pyhanko_certvalidator.revinfo import validate_ocsp

        original = validate_ocsp._validate_delegated_ocsp_provenance
        chain_of = validate_ocsp._delegated_ocsp_response_path

        async def _validate_delegated_ocsp_provenance(
            responder_cert: asn1_x509.Certificate, issuer: Any, validation_context: Any,
            ee_path: Any, proc_state: Any,
        ) -> None:
            key: bytes | None = None
            moment, tolerance = validation_context.moment, validation_context.time_tolerance
            if (not proc_state.check_path_verif_recursion(responder_cert)  # as the original
                    and responder_cert.ocsp_no_check_value is not None
                    and type(issuer) is AuthorityWithCert):
                policy = describe(validation_context.algorithm_policy, moment)
                if policy is not None:
                    key = provenance_key(responder_cert, issuer.certificate, tolerance, policy)
            if key is not None and key in PROVENANCE and valid_at(responder_cert, moment,
                                                                  tolerance):
                # what the original does after its successful check
                validation_context.record_validation(
                    responder_cert, chain_of(responder_cert, issuer, ee_path))
                return
            await original(responder_cert, issuer, validation_context, ee_path, proc_state)
            if key is not None:
                PROVENANCE.add(key)

        validate_ocsp._validate_delegated_ocsp_provenance = _validate_delegated_ocsp_provenance
        _installed = True
