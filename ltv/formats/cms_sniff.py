"""Recognise a CMS signature by its structure, before looking at what it signs (issue #19).

A CAdES file whose encapsulated content is a PDF holds ``%PDF-`` in its first bytes, and one
whose content is XML may too: the outer structure decides. A CMS ``ContentInfo`` (RFC 5652 §3)
is a SEQUENCE whose first element is the ``id-signedData`` OID; files come as DER or BER
(``.p7m``, ``.p7s``, ``.csig``, ``.pkcs7``, ``.sig``), PEM (``-----BEGIN PKCS7-----``,
``-----BEGIN CMS-----``) or bare base64 of the DER (as some mail and web tools save them).
Pure functions, no imports from the rest of ltv.
"""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["is_base64_cms", "is_cms", "unwrap_base64"]

# OBJECT IDENTIFIER 1.2.840.113549.1.7.2 (id-signedData), tag and length included
_SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")
_BASE64_TEXT = re.compile(rb"\A[A-Za-z0-9+/=\s]+\Z")


def is_cms(data: bytes) -> bool:
    """Whether ``data`` starts as a DER/BER ``ContentInfo`` of type signedData: a SEQUENCE
    (definite or indefinite length) whose content begins with the id-signedData OID."""
    if len(data) < 2 + len(_SIGNED_DATA_OID) or data[0] != 0x30:
        return False
    first = data[1]
    if first <= 0x80:  # short definite length, or BER indefinite length (0x80)
        offset = 2
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            return False
        offset = 2 + count
    return data[offset:offset + len(_SIGNED_DATA_OID)] == _SIGNED_DATA_OID


def unwrap_base64(data: bytes) -> bytes:
    """The DER inside bare base64 text when it decodes to CMS; else ``data`` unchanged."""
    decoded = _decode_base64(data)
    return decoded if decoded is not None else data


def is_base64_cms(data: bytes) -> bool:
    """Whether ``data`` is bare base64 (whitespace allowed) of a CMS ContentInfo."""
    return _decode_base64(data) is not None


def _decode_base64(data: bytes) -> bytes | None:
    stripped = data.strip()
    if not stripped.startswith(b"MI") or not _BASE64_TEXT.match(stripped):
        return None
    try:
        decoded = base64.b64decode(b"".join(stripped.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded if is_cms(decoded) else None
