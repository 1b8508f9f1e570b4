"""A faster, behaviour-identical reader for PDF hex strings in pyHanko (installed once).

pyHanko 0.38 reads a hex string ``<...>`` one byte at a time through ``read_non_whitespace``;
a signature's ``/Contents`` (tens of kilobytes of hex) then costs ~10 ms per signature, more
than the whole certificate validation. :func:`install` replaces
``pyhanko.pdf_utils.generic.read_hex_string_from_stream`` with a version that finds the closing
``>`` with ``bytes.find`` and decodes in one call when the string holds only hex digits and
PDF whitespace; anything else (comments, stray bytes, a truncated stream) goes to the original
function from the same position, so errors and results are exactly pyHanko's.

:func:`defer_sign_package` (for ``ltv validate``'s start-up) lets ``pyhanko.sign``'s
submodules load without the package's ``__init__``, which imports every signer and with them
aiohttp (~0.1-0.2 s): validation needs none of it. The ``__init__`` still runs, in full, the
first time anyone reads a name it defines (``from pyhanko.sign import signers``).
"""

from __future__ import annotations

import binascii
import importlib.util
import os
import sys
import threading
from typing import Any

__all__ = ["defer_sign_package", "install"]

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


def defer_sign_package() -> bool:
    """Register ``pyhanko.sign`` whose ``__init__`` runs on first use of a name it defines (a
    no-op once the package is imported; True when deferred here)."""
    with _lock:
        if "pyhanko.sign" in sys.modules:
            return False
        import pyhanko

        spec = importlib.util.find_spec("pyhanko.sign")
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            return False
        module = importlib.util.module_from_spec(spec)  # __path__ set: submodules import
        loader = spec.loader
        init_lock = threading.RLock()

        def __getattr__(name: str) -> Any:
            with init_lock:
                if module.__dict__.pop("__getattr__", None) is not None:
                    loader.exec_module(module)
            try:
                return module.__dict__[name]
            except KeyError:
                raise AttributeError(
                    f"module 'pyhanko.sign' has no attribute {name!r}") from None

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        sys.modules["pyhanko.sign"] = module
        pyhanko.sign = module  # type: ignore[attr-defined]
        return True
