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
  whose :meth:`fingerprint` lists every policy value it reads). Every validation of a document
  repeats it for each certificate the responder vouches for. Responders without ocsp-nocheck
  (whose own revocation status and POE matter), issuers that are bare keys, and any other
  algorithm policy (pyHanko's own callers in the same process) go to the original function.

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


def provenance_key(responder: asn1_x509.Certificate, issuer: Any, moment: datetime,
                   tolerance: timedelta, fingerprint: tuple[object, ...]) -> bytes:
    """The memo key of a no-check responder's authorisation: every input of the check."""
    return digest_of((
        b"ocsp-nocheck-responder", der_of(responder), der_of(issuer),
        moment.isoformat().encode(), repr(tolerance).encode(), repr(fingerprint).encode(),
    ))


_install_lock = threading.Lock()
_installed = False


def install_ocsp_provenance_memo(fingerprint_of: Callable[[object], tuple[object, ...] | None]
                                 ) -> None:
    """Wrap pyhanko-certvalidator's delegated-responder check with :data:`PROVENANCE`
    (idempotent). ``fingerprint_of(algorithm_policy)`` gives the policy's complete content, or
    None for a policy whose decisions it cannot describe (then nothing is memoized)."""
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
            if (responder_cert.ocsp_no_check_value is not None
                    and type(issuer) is AuthorityWithCert
                    and not proc_state.check_path_verif_recursion(responder_cert)):
                fingerprint = fingerprint_of(validation_context.algorithm_policy)
                if fingerprint is not None:
                    key = provenance_key(responder_cert, issuer.certificate,
                                         validation_context.moment,
                                         validation_context.time_tolerance, fingerprint)
            if key is not None and key in PROVENANCE:
                # what the original does after its successful check
                validation_context.record_validation(
                    responder_cert, chain_of(responder_cert, issuer, ee_path))
                return
            await original(responder_cert, issuer, validation_context, ee_path, proc_state)
            if key is not None:
                PROVENANCE.add(key)

        validate_ocsp._validate_delegated_ocsp_provenance = _validate_delegated_ocsp_provenance
        _installed = True
