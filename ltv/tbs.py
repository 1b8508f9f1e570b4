"""What the phone is asked to sign: the contract between the signing core and any signer.

A :class:`DataToBeSigned` says exactly which bytes the key operates on and how, so a handset, a
card APDU or an in-process key produce the same signature value:

* ``DIGEST``: ``data`` is the hash; the signer applies the mechanism to a pre-hashed value
  (PKCS#1 v1.5 adds the DigestInfo itself; ECDSA signs the hash).
* ``DIGEST_INFO``: ``data`` is DER ``DigestInfo`` (RFC 8017 §9.2), what a JPKI card's raw RSA
  SIGN APDU takes (PKCS#1 v1.5 only).
* ``MESSAGE``: ``data`` is the full to-be-signed octets; the signer hashes them.
"""

from __future__ import annotations

import base64
import enum
from dataclasses import dataclass
from typing import Any, Protocol

from ltv.algorithms import DigestAlgorithm, SignatureMechanism, digest_info, parse_digest_info
from ltv.errors import InputError, UnsupportedAlgorithmError

__all__ = ["DataToBeSigned", "Signer", "TbsForm"]


class TbsForm(enum.Enum):
    DIGEST = "digest"
    DIGEST_INFO = "digest-info"
    MESSAGE = "message"


@dataclass(frozen=True, slots=True, kw_only=True)
class DataToBeSigned:
    form: TbsForm
    data: bytes
    digest_algorithm: DigestAlgorithm
    mechanism: SignatureMechanism

    def __post_init__(self) -> None:
        if self.form is TbsForm.DIGEST and len(self.data) != self.digest_algorithm.digest_size:
            raise InputError(
                f"a {self.digest_algorithm.value} digest has "
                f"{self.digest_algorithm.digest_size} bytes, got {len(self.data)}"
            )
        if self.form is TbsForm.DIGEST_INFO:
            if self.mechanism is not SignatureMechanism.RSA_PKCS1V15:
                raise UnsupportedAlgorithmError("a DigestInfo is signed only with RSA PKCS#1 v1.5")
            alg, _ = parse_digest_info(self.data)
            if alg is not self.digest_algorithm:
                raise InputError("the DigestInfo names another digest algorithm")

    def digest(self) -> bytes:
        """The hash the signature value commits to, whatever the form."""
        if self.form is TbsForm.DIGEST:
            return self.data
        if self.form is TbsForm.DIGEST_INFO:
            return parse_digest_info(self.data)[1]
        return self.digest_algorithm.digest(self.data)

    def as_form(self, form: TbsForm) -> DataToBeSigned:
        """The same request in another form (``MESSAGE`` can only be kept, not produced)."""
        if form is self.form:
            return self
        if form is TbsForm.MESSAGE:
            raise InputError("the full message cannot be recovered from a digest")
        d = self.digest()
        data = digest_info(self.digest_algorithm, d) if form is TbsForm.DIGEST_INFO else d
        return DataToBeSigned(
            form=form, data=data, digest_algorithm=self.digest_algorithm, mechanism=self.mechanism
        )

    def to_json(self) -> dict[str, str]:
        return {
            "form": self.form.value,
            "data": base64.b64encode(self.data).decode("ascii"),
            "digest_algorithm": self.digest_algorithm.value,
            "mechanism": self.mechanism.value,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> DataToBeSigned:
        try:
            return cls(
                form=TbsForm(obj["form"]),
                data=base64.b64decode(obj["data"], validate=True),
                digest_algorithm=DigestAlgorithm.from_name(obj["digest_algorithm"]),
                mechanism=SignatureMechanism.from_name(obj["mechanism"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"not a data-to-be-signed object: {exc}") from exc


class Signer(Protocol):
    """Anything that holds a key and turns :class:`DataToBeSigned` into a signature value.

    RSA values are the raw big-endian integer; ECDSA values are DER ``Ecdsa-Sig-Value``.
    """

    def sign(self, tbs: DataToBeSigned) -> bytes: ...
