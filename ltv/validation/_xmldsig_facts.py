"""Facts of a plain XML-DSig signature (:mod:`ltv.formats._xmldsig_plain`), issue #19.

No signed properties: no claimed signing time, no time-stamps, no baseline level (the default
policy's minimum level then refuses a pass: INDETERMINATE / SIG_CONSTRAINTS_FAILURE), and a
warning naming the form ``XMLDSig``. Integrity failures map as for XAdES.
"""

from __future__ import annotations

from dataclasses import replace

from ltv.errors import (
    HashFailureError,
    LtvError,
    MalformedError,
    SignatureValueError,
    UnsupportedAlgorithmError,
)
from ltv.evidence import EvidenceSet
from ltv.signing import SignatureFormat
from ltv.validation.facts import IntegrityResult, IntegrityStatus, SignatureFacts

__all__ = ["FORM_NOTE", "plain_facts"]

FORM_NOTE = ("form XMLDSig: a plain XML-DSig signature without XAdES qualifying properties "
             "(no signed signing certificate, time or level)")


def plain_facts(data: bytes, *, detached_content: bytes | None, signature_id: str | None,
                signature_value: bytes) -> SignatureFacts:
    from ltv.formats._xmldsig_plain import NoSignerError, verify_plain_xmldsig

    label = signature_id or "signature"

    def external(name: str) -> bytes:
        if detached_content is None:
            raise LtvError(f"the signature references the external data {name!r}: give it as "
                           "detached content")
        return detached_content

    def failed(status: IntegrityStatus, message: str) -> SignatureFacts:
        return SignatureFacts(
            id=label, format=SignatureFormat.XADES, level=None, signer_certificate=None,
            integrity=IntegrityResult.failed(status, message), signature_value=signature_value,
            evidence=EvidenceSet(), warnings=(FORM_NOTE,),
        )

    try:
        info = verify_plain_xmldsig(data, signature_id=signature_id, external=external)
    except NoSignerError as exc:
        return replace(failed(IntegrityStatus.OK, ""), integrity=IntegrityResult(),
                       signer_identification_error=str(exc))
    except HashFailureError as exc:
        return failed(IntegrityStatus.HASH_FAILURE, str(exc))
    except SignatureValueError as exc:
        return failed(IntegrityStatus.SIG_CRYPTO_FAILURE, str(exc))
    except UnsupportedAlgorithmError as exc:
        return failed(IntegrityStatus.UNSUPPORTED_ALGORITHM, str(exc))
    except MalformedError as exc:
        return failed(IntegrityStatus.FORMAT_FAILURE, str(exc))
    except LtvError as exc:
        if detached_content is None and "detached" in str(exc):
            return failed(IntegrityStatus.SIGNED_DATA_NOT_FOUND, str(exc))
        return failed(IntegrityStatus.FORMAT_FAILURE, str(exc))
    if info.signer_certificate is None:
        return replace(failed(IntegrityStatus.OK, ""), integrity=IntegrityResult(),
                       signer_identification_error=(
                           "the signature value verifies with the ds:KeyValue key, but no "
                           "certificate identifies the signer"))
    return SignatureFacts(
        id=info.signature_id or label,
        format=SignatureFormat.XADES,
        level=None,
        signer_certificate=info.signer_certificate,
        certificates=info.key_info_certificates,
        signature_value=signature_value,
        digest_algorithm=info.digest_algorithm.value,
        signature_algorithm=f"{info.mechanism.value}-{info.digest_algorithm.value}",
        evidence=EvidenceSet.of(certificates=info.key_info_certificates),
        warnings=(FORM_NOTE,),
    )
