"""A faster, behaviour-identical reader for PDF hex strings in pyHanko (installed once).

pyHanko 0.38 reads a hex string ``<...>`` one byte at a time through ``read_non_whitespace``;
a signature's ``/Contents`` (tens of kilobytes of hex) then costs ~10 ms per signature, more
than the whole certificate validation. :func:`install` replaces
``pyhanko.pdf_utils.generic.read_hex_string_from_stream`` with a version that finds the closing
``>`` with ``bytes.find`` and decodes in one call when the string holds only hex digits and
PDF whitespace; anything else (comments, stray bytes, a truncated stream) goes to the original
function from the same position, so errors and results are exactly pyHanko's.
"""

from __future__ import annotations

import binascii
import os
import threading
from typing import Any

__all__ = ["install"]

_HEX = frozenset(b"0123456789abcdefABCDEF")
_WHITESPACE = b"\x00\t\n\x0c\r "
_CHUNK = 1 << 16
_lock = threading.Lock()
_installed = False


def install() -> None:
    """Install the fast hex-string reader into pyHanko's PDF parser (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        from pyhanko.pdf_utils import generic

        original = generic.read_hex_string_from_stream

        def read_hex_string_from_stream(stream: Any) -> Any:
            start = stream.tell()
            buf = bytearray()
            end = -1
            while end < 0:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                offset = len(buf)
                buf += chunk
                end = buf.find(b">", max(offset, 1))
            if end > 0 and buf[:1] == b"<":
                body = bytes(buf[1:end]).translate(None, _WHITESPACE)
                if _HEX.issuperset(body):
                    stream.seek(start + end + 1, os.SEEK_SET)
                    if len(body) % 2:
                        body += b"0"
                    return generic.pdf_string(binascii.unhexlify(body))
            stream.seek(start, os.SEEK_SET)
            return original(stream)

        generic.read_hex_string_from_stream = read_hex_string_from_stream
        _installed = True
