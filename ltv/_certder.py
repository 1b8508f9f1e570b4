"""The DER encoding of a certificate object, remembered per object.

``cryptography`` re-encodes a certificate on every ``public_bytes`` call (about 10 µs); the
validator asks for the DER of the same few objects thousands of times per document (evidence
deduplication, parse-cache keys, trust-anchor checks, report digests). A certificate object
is immutable, so its DER is a pure function of the object: this memo keys on the object's
identity and keeps the object itself in the entry, so an ``id`` is never reused while its
entry exists and the identity is checked again on the way out. Nothing about the certificate's
content is assumed: two objects with equal DER simply have two entries.

Bounded (FIFO) by entry count and bytes; thread-safe (the API's request threads share it).
"""

from __future__ import annotations

import threading

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

__all__ = ["MAX_BYTES", "MAX_ENTRIES", "certificate_der", "clear"]

MAX_ENTRIES = 2048
MAX_BYTES = 8 << 20  # each entry costed at three times its DER (object + bytes)

_entries: dict[int, tuple[x509.Certificate, bytes]] = {}
_lock = threading.Lock()
_bytes = 0


def certificate_der(cert: x509.Certificate) -> bytes:
    """``cert.public_bytes(Encoding.DER)``, computed once per certificate object."""
    global _bytes
    entry = _entries.get(id(cert))
    if entry is not None and entry[0] is cert:
        return entry[1]
    data = cert.public_bytes(Encoding.DER)
    cost = 3 * len(data)
    if cost > MAX_BYTES // 2:
        return data
    with _lock:
        old = _entries.pop(id(cert), None)
        if old is not None:
            _bytes -= 3 * len(old[1])
        _entries[id(cert)] = (cert, data)
        _bytes += cost
        while _bytes > MAX_BYTES or len(_entries) > MAX_ENTRIES:
            _cert, dropped = _entries.pop(next(iter(_entries)))
            _bytes -= 3 * len(dropped)
    return data


def clear() -> None:
    """Forget every entry (tests)."""
    global _bytes
    with _lock:
        _entries.clear()
        _bytes = 0
