"""Byte-level checks of a signed PDF: what a signature covers and what follows it.

Pure functions over the file's bytes (no PDF library, no I/O), for the validator:

* :func:`byte_range_problem`: a signature's ``/ByteRange`` must be ``[0 a b c]`` with the one
  gap ``a..b`` being exactly the ``/Contents`` hex string, inside the file (ISO 32000-2
  §12.8.1; ETSI EN 319 142-1 §5.1: the gap holds the signature value and nothing else).
* :func:`trailing_update_problem`: every byte after the signed revision must belong to
  well-formed incremental updates (ISO 32000-2 §7.5.6): indirect objects, a cross-reference
  table and trailer or a cross-reference stream, ``startxref`` and ``%%EOF``. Objects the
  cross-reference section does not list, text or a second ``%%EOF`` with no trailer, are the
  incremental saving attack: viewers that repair files show what no signer saw.
* :func:`contents_problem`: ``/Contents`` must be one CMS SignedData (RFC 5652 §5.1,
  EN 319 142-1 §5.2.1) followed by zero padding only; :func:`contents_encoding_problem`: in
  DER, as ISO 32000-1 §12.8.3.3 asks (BER is a constraint failure, not a format failure).
* :func:`revision_ends`: where complete revisions end, to read a file whose tail is damaged.
"""

from __future__ import annotations

import functools
import mmap
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "TRAILING_WHITESPACE_LIMIT",
    "Buffer",
    "UpdateAnalysis",
    "byte_range_problem",
    "contents_encoding_problem",
    "contents_problem",
    "revision_ends",
    "trailing_update_problem",
]

#: White space tolerated after the last ``%%EOF`` (viewers write CR, LF, CRLF; a few pad).
TRAILING_WHITESPACE_LIMIT = 1024

_WS = rb"\x00\t\n\x0c\r "
_WS_RE = re.compile(rb"[\x00\t\n\x0c\r ]*")
_WS_COMMENTS_RE = re.compile(rb"(?:[\x00\t\n\x0c\r ]+|%[^\r\n]*)*")
_DELIMS = rb"()<>\[\]{}/%"
_NAME_RE = re.compile(rb"/[^\x00\t\n\x0c\r ()<>\[\]{}/%]*")
_NUMBER_RE = re.compile(rb"[+-]?(?:\d{1,40}\.?\d*|\.\d+)")
_END = rb"(?![^" + _WS + _DELIMS + rb"])"  # the token ends here
_REF_RE = re.compile(rb"(\d{1,10})[\x00\t\n\x0c\r ]+(\d{1,5})[\x00\t\n\x0c\r ]+R" + _END)
_KEYWORD_RE = re.compile(rb"(true|false|null)" + _END)
_OBJ_RE = re.compile(rb"(\d{1,10})[\x00\t\n\x0c\r ]+(\d{1,5})[\x00\t\n\x0c\r ]+obj" + _END)
_STARTXREF_RE = re.compile(rb"startxref[\x00\t\n\x0c\r ]+(\d{1,20})[\x00\t\n\x0c\r ]*%%EOF"
                           rb"(?:\r\n|\r|\n)?")
_SUBSECTION_RE = re.compile(rb"(\d{1,10})[ \t]+(\d{1,10})[ \t]*(?:\r\n|\r|\n)")
_ENTRY_RE = re.compile(rb"(\d{10})[ ](\d{5})[ ]([nf])[ ]?(?:\r\n|\r|\n)")
_HEX_RE = re.compile(rb"<([0-9A-Fa-f]*)>")
_MAX_DEPTH = 64
_SIGNED_DATA_OID = bytes.fromhex("2a864886f70d010702")  # 1.2.840.113549.1.7.2
_WALK_MEMO = 8  # /Contents walks remembered (each signature's is asked for twice)...
_WALK_MEMO_BYTES = 256 << 10  # ...for a /Contents up to this size


#: A whole file: its bytes, or a read-only mmap of it (``ltv validate`` of a large PDF), read
#: here only by slices, ``find`` and regular expressions, so only the pages looked at load.
Buffer = bytes | mmap.mmap


def _at(data: Buffer, pos: int, token: bytes) -> bool:
    """``data.startswith(token, pos)``, for an mmap too."""
    return data[pos:pos + len(token)] == token


class _Name(str):
    """A PDF name (without its slash)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class _Ref:
    number: int
    generation: int


@dataclass(frozen=True, slots=True)
class _Object:
    number: int
    generation: int
    start: int
    end: int
    value: object
    stream: bytes | None


class _Bad(Exception):
    """A structural problem; the message names it for the report."""


# ---------------------------------------------------------------------------------------------
# /ByteRange (ISO 32000-2 §12.8.1)


def byte_range_problem(byte_range: Sequence[object], *, data: Buffer,
                       contents: bytes) -> str | None:
    """Why ``byte_range`` does not cover all of its revision but ``/Contents`` (None if it does).

    ``contents`` is the decoded ``/Contents`` string (the DER signature and its zero padding);
    the gap must be exactly its hex encoding between ``<`` and ``>``.
    """
    values = list(byte_range)
    if len(values) != 4:
        return (f"the /ByteRange has {len(values)} numbers, not 4: a signature covers the whole "
                "revision except its /Contents")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        return "the /ByteRange holds something other than non-negative integers"
    start, first, second, length = (int(v) for v in values)  # type: ignore[call-overload]
    if start != 0:
        return f"the /ByteRange starts at byte {start}, not 0: the bytes before are not signed"
    if second < first:
        return (f"the /ByteRange's ranges overlap (the second starts at byte {second}, inside "
                f"the first, which ends at byte {first})")
    if second == first:
        return "the /ByteRange leaves no gap for the signature's /Contents"
    if second + length > len(data):
        return (f"the /ByteRange ends at byte {second + length}, beyond the end of the "
                f"{len(data)}-byte file")
    gap = data[first:second]
    match = _HEX_RE.fullmatch(gap)
    if match is None or len(match.group(1)) % 2 or bytes.fromhex(
            match.group(1).decode()) != contents:
        return (f"the gap in the /ByteRange (bytes {first} to {second}) is not exactly the "
                "signature's /Contents: unsigned bytes besides the signature value")
    return None


# ---------------------------------------------------------------------------------------------
# /Contents: one DER SignedData and zero padding (RFC 5652 §5.1, X.690 §10)


def contents_problem(contents: bytes) -> str | None:
    """Why ``contents`` is not one ContentInfo of SignedData followed by zeros (or None).

    BER (indefinite or non-minimal lengths) is read here: ISO 32000-1 asks DER, but a BER
    SignedData is still one structure; :func:`contents_encoding_problem` names that breach,
    which the validator makes a constraint failure, not a format failure."""
    if not contents or contents[0] != 0x30:
        return "the signature's /Contents is not a DER CMS structure"
    walked = _walk(contents)
    if isinstance(walked, str):
        return f"the signature's /Contents {walked}"
    end = walked[0]
    rest = contents[end:]
    if rest.strip(b"\x00"):
        extra = len(rest.rstrip(b"\x00"))
        if rest[0] == 0x30:
            try:
                _der_walk(rest, 0, len(rest), 0, ber=[])
                return ("the signature's /Contents holds two concatenated structures, not one "
                        "SignedData")
            except _Bad:
                pass
        return (f"the signature's /Contents has {extra} bytes after the SignedData that are "
                "not zero padding")
    oid = _content_type(contents)
    if oid != _SIGNED_DATA_OID:
        return "the signature's /Contents is a CMS structure but not a SignedData"
    return None


def contents_encoding_problem(contents: bytes) -> str | None:
    """For a ``contents`` :func:`contents_problem` accepts: the reason it is not DER, or None
    (ISO 32000-1 §12.8.3.3: the /Contents of a PKCS#7 signature is DER-encoded)."""
    walked = _walk(contents)
    if isinstance(walked, str):
        return None  # contents_problem reports it
    ber = walked[1]
    if not ber:
        return None
    return ("the signature's /Contents is encoded in BER, not DER as ISO 32000-1 §12.8.3.3 "
            f"requires ({ber[0]})")


def _walk(contents: bytes) -> tuple[int, tuple[str, ...]] | str:
    """The BER walk of ``contents`` from its start: (end, BER breaches), or why it fails.

    :func:`contents_problem` (the field listing) and :func:`contents_encoding_problem` (the
    signature's facts) ask it for each /Contents: a memo of this pure function of the bytes
    answers the second time (only for /Contents of ordinary size, so that it never holds much
    memory)."""
    return _walk_remembered(contents) if len(contents) <= _WALK_MEMO_BYTES else (
        _walk_now(contents))


def _walk_now(contents: bytes) -> tuple[int, tuple[str, ...]] | str:
    ber: list[str] = []
    try:
        end = _der_walk(contents, 0, len(contents), 0, ber=ber)
    except _Bad as exc:
        return str(exc)
    return end, tuple(ber)


_walk_remembered = functools.lru_cache(maxsize=_WALK_MEMO)(_walk_now)


def _der_walk(data: bytes, pos: int, limit: int, depth: int,
              ber: list[str] | None = None) -> int:
    """End of the DER TLV at ``pos`` (within ``limit``); refuses indefinite and non-minimal
    lengths, unless ``ber`` is a list: then they are read as BER (X.690 §8.1.3) and named
    there."""
    if depth > _MAX_DEPTH:
        raise _Bad("nests too deeply")
    if pos + 2 > limit:
        raise _Bad("is truncated")
    tag = data[pos]
    pos += 1
    if tag & 0x1F == 0x1F:  # high tag number form
        while True:
            if pos >= limit:
                raise _Bad("is truncated")
            pos += 1
            if not data[pos - 1] & 0x80:
                break
    if pos >= limit:
        raise _Bad("is truncated")
    first = data[pos]
    pos += 1
    if first == 0x80:
        if ber is None:
            raise _Bad("uses a BER indefinite length, not DER")
        if not tag & 0x20:
            raise _Bad("has an indefinite length on a primitive value")
        ber.append("indefinite lengths")
        while True:  # children up to the end-of-contents octets 00 00
            if pos + 2 > limit:
                raise _Bad("is truncated")
            if data[pos] == 0 and data[pos + 1] == 0:
                return pos + 2
            pos = _der_walk(data, pos, limit, depth + 1, ber)
    if first & 0x80:
        count = first & 0x7F
        if count > 4 or pos + count > limit:
            raise _Bad("has an impossible length")
        raw = data[pos:pos + count]
        pos += count
        length = int.from_bytes(raw, "big")
        if raw[0] == 0 or length < 0x80:
            if ber is None:
                raise _Bad("uses a non-minimal length, not DER")
            ber.append("non-minimal lengths")
    else:
        length = first
    end = pos + length
    if end > limit:
        raise _Bad("is truncated")
    if tag & 0x20:  # constructed: walk the children
        while pos < end:
            pos = _der_walk(data, pos, end, depth + 1, ber)
    return end


def _content_type(data: bytes) -> bytes | None:
    """The OID bytes of a ContentInfo's contentType (data is already known to be DER)."""
    pos = 2 if data[1] < 0x80 else 2 + (data[1] & 0x7F)
    if pos + 2 > len(data) or data[pos] != 0x06:
        return None
    length = data[pos + 1]
    return data[pos + 2:pos + 2 + length]


# ---------------------------------------------------------------------------------------------
# Incremental updates after the signed revision (ISO 32000-2 §7.5.6)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateAnalysis:
    """What follows a signed revision: ``updates`` well-formed incremental updates, then
    ``problem`` (None when the rest of the file is such updates and tolerated white space)."""

    updates: int
    problem: str | None = None


def trailing_update_problem(data: Buffer, *, signed_end: int, prev_startxref: int,
                            revision: int) -> UpdateAnalysis:
    """Check every byte of ``data`` after ``signed_end`` (the end of signed ``revision``,
    counted from 1, whose ``startxref`` is ``prev_startxref``)."""
    pos = signed_end
    updates = 0
    while True:
        after_ws = _WS_RE.match(data, pos)
        assert after_ws is not None
        next_pos = after_ws.end()
        if next_pos == len(data):
            if next_pos - pos > TRAILING_WHITESPACE_LIMIT:
                return UpdateAnalysis(updates=updates, problem=_bytes_after(
                    len(data) - pos, revision + updates,
                    f"more than {TRAILING_WHITESPACE_LIMIT} bytes of white space"))
            return UpdateAnalysis(updates=updates)
        try:
            end, startxref = _update(data, next_pos, prev_startxref)
        except (ValueError, OverflowError, RecursionError, MemoryError) as exc:
            return UpdateAnalysis(updates=updates, problem=_bytes_after(
                len(data) - pos, revision + updates, f"unreadable ({type(exc).__name__})"))
        except _Bad as exc:
            return UpdateAnalysis(updates=updates, problem=_bytes_after(
                len(data) - pos, revision + updates, str(exc)))
        pos, prev_startxref, updates = end, startxref, updates + 1


def _bytes_after(count: int, revision: int, why: str) -> str:
    return f"{count} bytes after revision {revision} that are no incremental update: {why}"


def revision_ends(data: Buffer) -> list[int]:
    """Offsets just after each ``startxref N %%EOF`` (and its end of line), last first."""
    return sorted({m.end() for m in _STARTXREF_RE.finditer(data)}, reverse=True)


def _update(data: Buffer, start: int, prev_startxref: int) -> tuple[int, int]:
    """One incremental update at ``start``: its end and its ``startxref`` value."""
    objects: dict[int, _Object] = {}
    table_at: int | None = None
    entries: dict[int, tuple[int, int, int]] = {}  # number -> (type, field2, field3)
    trailer: dict[str, object] | None = None
    pos = start
    while True:
        pos = _skip(data, pos, comments=False)
        if pos >= len(data):
            what = f"{len(objects)} objects" if len(objects) != 1 else "an object"
            raise _Bad(f"{what} with no cross-reference section, trailer, startxref and %%EOF"
                       if objects else "no cross-reference section, trailer, startxref and "
                       "%%EOF")
        if _at(data, pos, b"startxref"):
            break
        if trailer is not None:
            raise _Bad(f"something other than startxref follows the trailer (byte {pos})")
        if _at(data, pos, b"xref"):
            table_at = pos
            pos, entries, trailer = _xref_table(data, pos + 4)
            continue
        header = _OBJ_RE.match(data, pos)
        if header is None:
            if _at(data, pos, b"%%EOF"):
                raise _Bad(f"a %%EOF with no cross-reference section and trailer (byte {pos})")
            raise _Bad(f"text that is no PDF object at byte {pos}")
        obj = _indirect(data, header)
        objects[obj.start] = obj
        pos = obj.end
    tail = _STARTXREF_RE.match(data, pos)
    if tail is None:
        raise _Bad(f"startxref without an offset and %%EOF (byte {pos})")
    startxref = int(tail.group(1))
    xref_stream: _Object | None = None
    if table_at is not None:
        if startxref != table_at:
            raise _Bad(f"startxref says {startxref}, but the cross-reference table is at byte "
                       f"{table_at}")
        assert trailer is not None
        hybrid = trailer.get("XRefStm")
        if hybrid is not None:
            xref_stream = objects.get(hybrid) if isinstance(hybrid, int) else None
            if xref_stream is None:
                raise _Bad("the trailer's /XRefStm points to no object of the update")
            entries = {**_xref_stream_entries(xref_stream), **entries}
    else:
        xref_stream = objects.get(startxref)
        if xref_stream is None:
            raise _Bad(f"startxref says {startxref}, where no cross-reference stream of the "
                       "update starts")
        entries = _xref_stream_entries(xref_stream)
        assert isinstance(xref_stream.value, dict)
        trailer = xref_stream.value
    prev = trailer.get("Prev")
    if prev != prev_startxref:
        raise _Bad(f"its trailer's /Prev is {prev}, not {prev_startxref} (the cross-reference "
                   "of the revision before)")
    at_offset = {field2: (number, field3) for number, (kind, field2, field3) in entries.items()
                 if kind == 1}
    for offset, obj in objects.items():
        if xref_stream is not None and obj is xref_stream:
            continue
        listed = at_offset.get(offset)
        if listed is None or listed != (obj.number, obj.generation):
            raise _Bad(f"object {obj.number} {obj.generation} at byte {offset} is not in the "
                       "update's cross-reference section")
    for number, (kind, offset, generation) in entries.items():
        if kind != 1:
            continue
        if (offset >= start and offset not in objects) or offset >= len(data):
            raise _Bad(f"the cross-reference entry of object {number} points to byte {offset}, "
                       "where no object starts")
        if offset in objects and (objects[offset].number, objects[offset].generation) != (
                number, generation):
            raise _Bad(f"the cross-reference entry of object {number} points to object "
                       f"{objects[offset].number} {objects[offset].generation}")
    return tail.end(), startxref


def _skip(data: Buffer, pos: int, *, comments: bool) -> int:
    match = (_WS_COMMENTS_RE if comments else _WS_RE).match(data, pos)
    assert match is not None
    return match.end()


def _xref_table(data: Buffer, pos: int) -> tuple[int, dict[int, tuple[int, int, int]],
                                                dict[str, object]]:
    entries: dict[int, tuple[int, int, int]] = {}
    eol = re.compile(rb"[ \t]*(?:\r\n|\r|\n)").match(data, pos)
    if eol is None:
        raise _Bad(f"a malformed cross-reference table (byte {pos})")
    pos = eol.end()
    while True:
        sub = _SUBSECTION_RE.match(data, pos)
        if sub is None:
            break
        first, count = int(sub.group(1)), int(sub.group(2))
        pos = sub.end()
        if count * 20 > len(data) - pos:
            raise _Bad(f"a cross-reference subsection longer than the file (byte {pos})")
        for number in range(first, first + count):
            entry = _ENTRY_RE.match(data, pos)
            if entry is None:
                raise _Bad(f"a malformed cross-reference entry at byte {pos}")
            if entry.group(3) == b"n":
                entries[number] = (1, int(entry.group(1)), int(entry.group(2)))
            pos = entry.end()
    pos = _skip(data, pos, comments=False)
    if not _at(data, pos, b"trailer"):
        raise _Bad(f"a cross-reference table without a trailer (byte {pos})")
    pos = _skip(data, pos + 7, comments=True)
    trailer, pos = _value(data, pos, 0)
    if not isinstance(trailer, dict):
        raise _Bad("a trailer that is no dictionary")
    return pos, entries, trailer


def _xref_stream_entries(obj: _Object) -> dict[int, tuple[int, int, int]]:
    head = obj.value
    if not isinstance(head, dict) or head.get("Type") != "XRef" or obj.stream is None:
        raise _Bad(f"object {obj.number} {obj.generation} is not a cross-reference stream")
    widths = head.get("W")
    size = head.get("Size")
    if (not isinstance(widths, list) or len(widths) != 3
            or not all(isinstance(w, int) and 0 <= w <= 8 for w in widths)
            or not isinstance(size, int)):
        raise _Bad("a cross-reference stream with a malformed /W or /Size")
    index = head.get("Index", [0, size])
    if (not isinstance(index, list) or len(index) % 2
            or not all(isinstance(i, int) and i >= 0 for i in index)):
        raise _Bad("a cross-reference stream with a malformed /Index")
    raw = _decode(obj.stream, head)
    row = sum(widths)
    if row == 0:
        raise _Bad("a cross-reference stream with a malformed /W")
    entries: dict[int, tuple[int, int, int]] = {}
    pos = 0
    for first, count in zip(index[0::2], index[1::2], strict=True):
        for number in range(first, first + count):
            if pos + row > len(raw):
                raise _Bad("a cross-reference stream shorter than its /Index")
            fields = []
            for width in widths:
                fields.append(int.from_bytes(raw[pos:pos + width], "big"))
                pos += width
            kind = fields[0] if widths[0] else 1
            if kind in (1, 2):
                entries[number] = (kind, fields[1], fields[2])
    return entries


def _decode(data: bytes, head: dict[str, object]) -> bytes:
    filters = head.get("Filter")
    params = head.get("DecodeParms")
    if isinstance(filters, list):
        if len(filters) > 1:
            raise _Bad("a cross-reference stream with chained filters")
        filters = filters[0] if filters else None
        params = params[0] if isinstance(params, list) and params else params
    if filters is None:
        out = data
    elif filters == "FlateDecode":
        try:
            out = zlib.decompressobj().decompress(data, 16 << 20)
        except zlib.error as exc:
            raise _Bad("a cross-reference stream that does not decompress") from exc
    else:
        raise _Bad(f"a cross-reference stream with filter /{filters}")
    predictor = params.get("Predictor") if isinstance(params, dict) else None
    if isinstance(predictor, int) and predictor >= 10:
        assert isinstance(params, dict)
        columns = params.get("Columns", 1)
        if not isinstance(columns, int) or not 0 < columns <= 1024:
            raise _Bad("a cross-reference stream with a malformed /Columns")
        out = _png_unpredict(out, columns)
    return out


def _png_unpredict(data: bytes, columns: int) -> bytes:
    """Undo PNG row predictors (ISO 32000-2 §7.4.4.4), one byte per pixel."""
    out = bytearray()
    previous = bytearray(columns)
    for pos in range(0, len(data) - columns, columns + 1):
        kind, row = data[pos], bytearray(data[pos + 1:pos + 1 + columns])
        for i in range(columns):
            left = row[i - 1] if i else 0
            up = previous[i]
            upleft = previous[i - 1] if i else 0
            if kind == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else upleft
                row[i] = (row[i] + pred) & 0xFF
            elif kind != 0:
                raise _Bad("a cross-reference stream with an unknown PNG predictor")
        out += row
        previous = row
    return bytes(out)


def _indirect(data: Buffer, header: re.Match[bytes]) -> _Object:
    number, generation = int(header.group(1)), int(header.group(2))
    pos = _skip(data, header.end(), comments=True)
    value, pos = _value(data, pos, 0)
    pos = _skip(data, pos, comments=True)
    stream: bytes | None = None
    if _at(data, pos, b"stream"):
        if not isinstance(value, dict):
            raise _Bad(f"object {number} {generation} has a stream without a dictionary")
        pos += 6
        if _at(data, pos, b"\r\n"):
            pos += 2
        elif _at(data, pos, b"\n"):
            pos += 1
        else:
            raise _Bad(f"object {number} {generation}: no end of line after 'stream'")
        length = _length(data, value.get("Length"), pos)
        if length < 0 or pos + length > len(data):
            raise _Bad(f"object {number} {generation}: its stream runs past the end of the file")
        stream = data[pos:pos + length]
        pos = _skip(data, pos + length, comments=False)
        if not _at(data, pos, b"endstream"):
            raise _Bad(f"object {number} {generation}: its stream is not {length} bytes long "
                       "followed by endstream")
        pos = _skip(data, pos + 9, comments=False)
    if not _at(data, pos, b"endobj"):
        raise _Bad(f"object {number} {generation} does not end with endobj (byte {pos})")
    return _Object(number=number, generation=generation, start=header.start(), end=pos + 6,
                   value=value, stream=stream)


def _length(data: Buffer, length: object, stream_start: int) -> int:
    """A stream's /Length: direct, or an indirect integer object of the file."""
    if isinstance(length, int) and not isinstance(length, bool):
        return length
    if isinstance(length, _Ref):
        pattern = re.compile(rb"(?<![0-9])%d[\x00\t\n\x0c\r ]+%d[\x00\t\n\x0c\r ]+obj"
                             rb"[\x00\t\n\x0c\r ]*(\d+)[\x00\t\n\x0c\r ]*endobj"
                             % (length.number, length.generation))
        found = pattern.search(data, stream_start)
        if found is None:
            before = list(pattern.finditer(data, 0, stream_start))
            found = before[-1] if before else None
        if found is not None:
            return int(found.group(1))
    raise _Bad("a stream whose /Length cannot be read")


def _value(data: Buffer, pos: int, depth: int) -> tuple[object, int]:
    """One PDF object (ISO 32000-2 §7.3) at ``pos``: its value and the position after it."""
    if depth > _MAX_DEPTH:
        raise _Bad("objects nested too deeply")
    if pos >= len(data):
        raise _Bad("an object cut short by the end of the file")
    char = data[pos:pos + 1]
    if _at(data, pos, b"<<"):
        out: dict[str, object] = {}
        pos = _skip(data, pos + 2, comments=True)
        while not _at(data, pos, b">>"):
            key = _NAME_RE.match(data, pos)
            if key is None:
                raise _Bad(f"a dictionary key that is no name (byte {pos})")
            pos = _skip(data, key.end(), comments=True)
            item, pos = _value(data, pos, depth + 1)
            out[key.group()[1:].decode("latin-1")] = item
            pos = _skip(data, pos, comments=True)
        return out, pos + 2
    if char == b"[":
        items: list[object] = []
        pos = _skip(data, pos + 1, comments=True)
        while not _at(data, pos, b"]"):
            item, pos = _value(data, pos, depth + 1)
            items.append(item)
            pos = _skip(data, pos, comments=True)
        return items, pos + 1
    if char == b"<":
        end = data.find(b">", pos)
        if end < 0 or re.fullmatch(rb"[0-9A-Fa-f\x00\t\n\x0c\r ]*", data[pos + 1:end]) is None:
            raise _Bad(f"a malformed hex string (byte {pos})")
        return data[pos + 1:end], end + 1
    if char == b"(":
        return _literal(data, pos)
    if char == b"/":
        name = _NAME_RE.match(data, pos)
        assert name is not None
        return _Name(name.group()[1:].decode("latin-1")), name.end()
    ref = _REF_RE.match(data, pos)
    if ref is not None:
        return _Ref(int(ref.group(1)), int(ref.group(2))), ref.end()
    number = _NUMBER_RE.match(data, pos)
    if number is not None:
        text = number.group()
        return (float(text) if b"." in text else int(text)), number.end()
    keyword = _KEYWORD_RE.match(data, pos)
    if keyword is not None:
        return {b"true": True, b"false": False, b"null": None}[keyword.group(1)], keyword.end()
    raise _Bad(f"text that is no PDF object at byte {pos}")


def _literal(data: Buffer, pos: int) -> tuple[bytes, int]:
    depth = 0
    start = pos
    while pos < len(data):
        char = data[pos]
        if char == 0x5C:  # backslash escapes the next byte
            pos += 2
            continue
        if char == 0x28:
            depth += 1
        elif char == 0x29:
            depth -= 1
            if depth == 0:
                return data[start + 1:pos], pos + 1
        pos += 1
    raise _Bad(f"a string that never ends (byte {start})")
