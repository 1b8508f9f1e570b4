"""Faster, behaviour-identical parts of pyHanko's PDF reading (installed once).

pyHanko 0.38 reads a hex string ``<...>`` one byte at a time through ``read_non_whitespace``;
a signature's ``/Contents`` (tens of kilobytes of hex) then costs ~10 ms per signature, more
than the whole certificate validation. :func:`install` replaces
``pyhanko.pdf_utils.generic.read_hex_string_from_stream`` with a version that finds the closing
``>`` with ``bytes.find`` and decodes in one call when the string holds only hex digits and
PDF whitespace; anything else (comments, stray bytes, a truncated stream) goes to the original
function from the same position, so errors and results are exactly pyHanko's. Names and
other tokens are read the same way (:func:`_install_token_readers`): a chunk searched at once
instead of a Python call per byte. Also installed, each the same results and errors as
pyHanko's (tests/test_pades_speedups.py compares them): historical revisions copy plain
objects without a chain of isinstance checks; a /ByteRange over a file in memory is hashed in
one call per range; each cross-reference cache remembers every object's last-change and
introducing revision; the content-reading mode is tested by identity; large stream payloads
read from a file stay there until used. pyHanko's own functions stay in :data:`ORIGINALS`.

:func:`defer_sign_package` (for ``ltv validate``'s start-up) lets ``pyhanko.sign``'s
submodules load without the package's ``__init__``, which imports every signer and with them
aiohttp (~0.1-0.2 s): validation needs none of it. The ``__init__`` still runs, in full, the
first time anyone reads a name it defines (``from pyhanko.sign import signers``).
"""

from __future__ import annotations

import binascii
import importlib.util
import os
import re
import sys
import threading
from typing import Any

__all__ = ["defer_sign_package", "install"]

#: Bytes a name holds unescaped (ISO 32000-2 §7.3.5: printable ASCII, no delimiter, no #).
_PLAIN_NAME = re.compile(rb"[^\x00-\x20\x7f-\xff#()<>\[\]{}/%]*")
_TOKEN_CHUNK = 64
#: An indirect reference as IndirectObject.read_from_stream reads it: numbers between bytes
#: that bytes.isspace() calls white space, then PDF white space (no comment) before R.
_REFERENCE = re.compile(rb"[ \t\n\r\x0b\x0c]*([0-9]+)[ \t\n\r\x0b\x0c]+([0-9]+)"
                        rb"[ \t\n\r\x0b\x0c][ \t\n\r\x0c\x00]*R")
_WHITESPACE = b"\x00\t\n\x0c\r "
_CHUNK = 1 << 16
_lock = threading.Lock()
_installed = False
#: A stream at least this long, read from a file, keeps its payload in the file until used.
DEFERRED_STREAM_BYTES = 8 << 20
#: Name pairs whose equality is remembered (the memo starts again when full).
NAME_MEMO_ENTRIES = 4096
_NAME_EQUAL: dict[tuple[bytes, bytes], bool] = {}
#: pyHanko's own functions each speed-up replaces (the tests compare them on the same input).
ORIGINALS: dict[str, Any] = {}


def install() -> None:
    """Install the fast token readers into pyHanko's PDF parser (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        from pyhanko.pdf_utils import generic

        original = ORIGINALS["read_hex_string_from_stream"] = generic.read_hex_string_from_stream

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
                if len(body) % 2:
                    body += b"0"
                try:  # unhexlify refuses any byte that is no hex digit
                    value = binascii.unhexlify(body)
                except binascii.Error:
                    pass
                else:
                    stream.seek(start + end + 1, os.SEEK_SET)
                    return generic.pdf_string(value)
            stream.seek(start, os.SEEK_SET)
            return original(stream)

        generic.read_hex_string_from_stream = read_hex_string_from_stream
        _install_token_readers(generic)
        _install_deferred_streams(generic)
        _install_byte_range_digest()
        _install_xref_memo()
        _install_name_memo()
        _installed = True


def _install_token_readers(generic: Any) -> None:
    """Token reading without a Python call per byte, same results and stream positions.

    ``misc._read_until_class`` (names, operators, object headers) reads one byte at a time
    through a generator; here a chunk is searched with a regular expression and the stream
    put back just after the first byte of the class, or at the end. ``generic._decode_name``
    walks the name byte by byte; a name of plain printable ASCII without ``#`` (nearly all)
    decodes in one call, anything else is pyHanko's."""
    from pyhanko.pdf_utils import misc

    original_until = ORIGINALS["_read_until_class"] = misc._read_until_class
    patterns: dict[bytes, re.Pattern[bytes]] = {}

    def _read_until_class(class_chars: bytes, stream: Any, maxchars: Any = None
                          ) -> tuple[bytes, bool]:
        if maxchars is not None:
            return original_until(class_chars, stream, maxchars=maxchars)  # type: ignore[no-any-return]
        pattern = patterns.get(class_chars)
        if pattern is None:
            pattern = re.compile(b"[" + b"".join(re.escape(bytes((c,))) for c in class_chars)
                                 + b"]")
            patterns[class_chars] = pattern
        start = stream.tell()
        read = b""
        while True:
            chunk = stream.read(_TOKEN_CHUNK)
            if not chunk:
                return read, True
            found = pattern.search(chunk)
            if found is not None:
                stream.seek(start + len(read) + found.start() + 1, os.SEEK_SET)
                return read + chunk[:found.start()], False
            read += chunk

    original_name = ORIGINALS["_decode_name"] = generic._decode_name

    def _decode_name(name_bytes: bytes) -> Any:
        if _PLAIN_NAME.fullmatch(name_bytes) is not None:
            return generic.NameObject("/" + name_bytes.decode("ascii"))
        return original_name(name_bytes)

    misc._read_until_class = _read_until_class
    generic._decode_name = _decode_name

    indirect = generic.IndirectObject
    original_reference = ORIGINALS["IndirectObject.read_from_stream"] = indirect.read_from_stream

    def read_reference(stream: Any, container_ref: Any) -> Any:
        """``N G R`` as pyHanko's byte loop reads it (ASCII white space around the numbers,
        PDF white space before R); comments, other bytes, object number 0 or a truncated
        stream: pyHanko's, from the same position."""
        start = stream.tell()
        found = _REFERENCE.match(stream.read(_TOKEN_CHUNK))
        if found is not None and int(found.group(1)) > 0:
            stream.seek(start + found.end(), os.SEEK_SET)
            return indirect(int(found.group(1)), int(found.group(2)),
                            container_ref.get_pdf_handler())
        stream.seek(start, os.SEEK_SET)
        return original_reference(stream, container_ref)

    indirect.read_from_stream = staticmethod(read_reference)

    # read_object asks ``if in_content_stream`` of an enum whose __bool__ compares with !=
    # through the enum machinery, for every object read; enum members are singletons, so
    # identity is the same test
    reading = generic.ContentOpReading
    no, in_object = reading.NO, reading.IN_OBJECT
    ORIGINALS["ContentOpReading.__bool__"] = reading.__bool__
    ORIGINALS["ContentOpReading.nest"] = reading.nest

    def __bool__(self: Any) -> bool:
        return self is not no

    def nest(self: Any) -> Any:
        return no if self is no else in_object

    reading.__bool__ = __bool__
    reading.nest = nest


def _install_byte_range_digest() -> None:
    """A signature's /ByteRange digest over a file in memory: each range hashed in one call
    over the buffer, not 4 KiB at a time through a Python generator (~1 ms per MiB). The
    same ranges, digest, total and stream position, and the same errors (the ranges are read
    by pyHanko's ``pair_iter``, the stream is sought as pyHanko seeks it); a file stream, or a
    /ByteRange with anything but integers, is pyHanko's."""
    import io

    from cryptography.hazmat.primitives import hashes
    from pyhanko.pdf_utils import misc
    from pyhanko.pdf_utils.generic import NumberObject
    from pyhanko.sign.validation import pdf_embedded
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    original = ORIGINALS["byte_range_digest"] = pdf_embedded.byte_range_digest  # type: ignore[attr-defined]

    def byte_range_digest(stream: Any, byte_range: Any, md_algorithm: str,
                          chunk_size: int = misc.DEFAULT_CHUNK_SIZE) -> tuple[int, bytes]:
        if type(stream) is not io.BytesIO:
            result: tuple[int, bytes] = original(stream, byte_range, md_algorithm,
                                                 chunk_size=chunk_size)
            return result
        md_spec = get_pyca_cryptography_hash(md_algorithm)  # pyHanko's first step
        if not all(type(value) is int or type(value) is NumberObject for value in byte_range):
            result = original(stream, byte_range, md_algorithm, chunk_size=chunk_size)
            return result
        md = hashes.Hash(md_spec)
        total = 0
        # getvalue(), not getbuffer(): a BytesIO made over bytes shares them until written,
        # and getvalue() hands them back as they are; getbuffer() unshares (copies) the file
        with memoryview(stream.getvalue()) as view:
            for start, length in misc.pair_iter(byte_range):  # type: ignore[no-untyped-call]
                stream.seek(start)
                read = max(0, min(length, len(view) - start))
                if read:
                    md.update(view[start:start + read])
                stream.seek(start + read)
                total += length
        return total, md.finalize()

    pdf_embedded.byte_range_digest = byte_range_digest  # type: ignore[attr-defined]


def _install_xref_memo() -> None:
    """Remember, per cross-reference cache, the revision that last changed and the one that
    introduced each object (``XRefCache.get_last_change`` / ``get_introducing_revision``).

    Both are pure functions of the object number and generation over cross-reference
    sections that never change once the reader has read them; pyHanko recomputes them (a
    loop over every revision raising KeyError) on every historical lookup and dependency scan
    of the difference analysis. A number with no such revision raises pyHanko's KeyError
    every time."""
    from pyhanko.pdf_utils.xref import XRefCache

    for name in ("get_last_change", "get_introducing_revision"):
        original = ORIGINALS[f"XRefCache.{name}"] = getattr(XRefCache, name)
        setattr(XRefCache, name, _remembered(original, f"_ltv_memo_{name}"))


_MISSING = object()


def _remembered(original: Any, attribute: str) -> Any:
    def lookup(self: Any, ref: Any) -> Any:
        memo = self.__dict__.get(attribute)
        if memo is None:
            memo = self.__dict__[attribute] = {}
        key = (ref.idnum, ref.generation)
        known = memo.get(key, _MISSING)
        if known is _MISSING:
            try:
                known = original(self, ref)
            except KeyError:
                known = _ABSENT
            memo[key] = known
        if known is _ABSENT:
            raise KeyError(ref)
        return known

    return lookup


_ABSENT = object()


def _install_name_memo() -> None:
    from asn1crypto import x509 as asn1_x509

    original = asn1_x509.Name.__eq__

    def __eq__(self: Any, other: Any) -> bool:
        if not isinstance(other, asn1_x509.Name):
            return bool(original(self, other))
        key = (self.dump(), other.dump())
        known = _NAME_EQUAL.get(key)
        if known is None:
            known = bool(original(self, other))
            if len(_NAME_EQUAL) >= NAME_MEMO_ENTRIES:
                _NAME_EQUAL.clear()
            _NAME_EQUAL[key] = known
        return known

    asn1_x509.Name.__eq__ = __eq__


class _Deferred:
    """Where a stream's payload lies in the file pyHanko reads."""

    __slots__ = ("length", "offset", "stream")

    def __init__(self, stream: Any, offset: int, length: int) -> None:
        self.stream, self.offset, self.length = stream, offset, length

    def read(self) -> bytes:
        back = self.stream.tell()
        try:
            self.stream.seek(self.offset, os.SEEK_SET)
            data: bytes = self.stream.read(self.length)
        finally:
            self.stream.seek(back, os.SEEK_SET)
        return data


def _from_file(stream: Any) -> bool:
    """Whether ``stream`` reads a file (the deferral never applies to bytes in memory)."""
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _install_deferred_streams(generic: Any) -> None:
    from pyhanko.pdf_utils.misc import read_non_whitespace, skip_over_whitespace

    original_payload = generic._maybe_read_stream_payload
    original_read = generic.DictionaryObject.read_from_stream

    class DeferredStreamObject(generic.StreamObject):  # type: ignore[misc]
        """A stream object whose encoded payload stays in the file until asked for."""

        @property
        def _encoded_data(self) -> Any:
            value = self.__dict__.get("_encoded_data")
            return value.read() if isinstance(value, _Deferred) else value

        @_encoded_data.setter
        def _encoded_data(self, value: Any) -> None:
            self.__dict__["_encoded_data"] = value

    def maybe_read_stream_payload(stream: Any, data: Any, handler: Any) -> Any:
        length = data.get(generic.pdf_name("/Length"))
        if (type(length) is not generic.NumberObject or length < DEFERRED_STREAM_BYTES
                or not _from_file(stream)):
            return original_payload(stream, data, handler)
        pos = stream.tell()
        first = read_non_whitespace(stream, allow_eof=True)  # type: ignore[no-untyped-call]
        if first == b"s" and stream.read(5) == b"tream":
            skip_over_whitespace(stream, stop_after_eol=True)
            start = stream.tell()
            stream.seek(start + int(length), os.SEEK_SET)
            end = read_non_whitespace(stream)  # type: ignore[no-untyped-call]
            if end + stream.read(8) == b"endstream":
                return _Deferred(stream, start, int(length))
        stream.seek(pos, os.SEEK_SET)
        return original_payload(stream, data, handler)

    def read_from_stream(stream: Any, container_ref: Any, *args: Any, **kwargs: Any) -> Any:
        result = original_read(stream, container_ref, *args, **kwargs)
        if isinstance(result, generic.StreamObject) and isinstance(
                result.__dict__.get("_encoded_data"), _Deferred):
            if type(result) is generic.StreamObject:
                result.__class__ = DeferredStreamObject
            else:  # another stream class (XMP metadata): the payload, now
                result._encoded_data = result.__dict__["_encoded_data"].read()
        return result

    from pyhanko.pdf_utils.reader import HistoricalResolver

    original_subsume = ORIGINALS["_subsume_object"] = HistoricalResolver._subsume_object
    leaves = frozenset({generic.NumberObject, generic.FloatObject, generic.BooleanObject,
                        generic.NameObject, generic.NullObject, generic.TextStringObject,
                        generic.ByteStringObject})
    reference = generic.Reference
    dictionary, array = generic.DictionaryObject, generic.ArrayObject

    def subsume_object(self: Any, obj: Any) -> Any:
        """pyHanko's copy of ``obj`` for a historical revision, step for step (the container
        reference first, then the children), without its chain of isinstance checks for the
        plain types: numbers, names, strings (shared, as pyHanko shares them), dictionaries
        and arrays. A deferred stream's copy stays deferred (pyHanko's own copy would read
        the payload); anything else (streams, indirect objects, encrypted objects) is
        pyHanko's."""
        kind = type(obj)
        if kind in leaves:
            ref = obj.get_container_ref()  # pyHanko's error when there is none
            ref.idnum, ref.generation  # noqa: B018  (what pyHanko reads of it)
            return obj
        if kind is dictionary:
            ref = obj.get_container_ref()
            container_ref = reference(idnum=ref.idnum, generation=ref.generation, pdf=self)
            result = dictionary({k: subsume_object(self, v) for k, v in obj.items()})
            result.container_ref = container_ref
            return result
        if kind is array:
            ref = obj.get_container_ref()
            container_ref = reference(idnum=ref.idnum, generation=ref.generation, pdf=self)
            result = array(subsume_object(self, v) for v in obj)
            result.container_ref = container_ref
            return result
        marker = obj.__dict__.get("_encoded_data") if kind is DeferredStreamObject else None
        if not isinstance(marker, _Deferred):
            return original_subsume(self, obj)  # type: ignore[no-untyped-call]
        ref = obj.get_container_ref()
        result = DeferredStreamObject({k: self._subsume_object(v) for k, v in obj.items()})
        result.__dict__["_encoded_data"] = marker
        result.container_ref = generic.Reference(idnum=ref.idnum, generation=ref.generation,
                                                 pdf=self)
        return result

    generic._maybe_read_stream_payload = maybe_read_stream_payload
    generic.DictionaryObject.read_from_stream = staticmethod(read_from_stream)
    HistoricalResolver._subsume_object = subsume_object  # type: ignore[method-assign]


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
