"""The PDF parsing speed-ups of the PAdES adapter (issue #15) read exactly what pyHanko reads.

:mod:`ltv.validation._speedups` replaces pyHanko's byte-at-a-time token readers (hex strings,
names, tokens up to a delimiter); on every input, valid or not, the object read, the stream
position after it and the error raised are pyHanko's own.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from pyhanko.pdf_utils import generic, misc

from ltv.validation import _speedups

_speedups.install()


class _Handler:
    strict = False

    def get_pdf_handler(self) -> _Handler:
        return self


_LONG = b"A" * 300
_TOKENS = [
    b"/Name ", b"/Name", b"/Na#20me ", b"/Na#2", b"/Na#zz ", b"/\xc3\xa9t\xc3\xa9 ", b"/\xe9 ",
    b"/A/B", b"/", b"/ ", b"/#41#42", b"/a\x7fb ", b"/" + _LONG + b" ", b"/" + _LONG,
    b"/" + b"A" * 63, b"/" + b"A" * 63 + b" ", b"/" + b"A" * 64 + b"/B", b"/" + b"A" * 127,
    b"<< /Type /Sig /Contents <3082 0a\n0f> /M (D:2024) >>", b"<< /A % note\n 1 /B [2 0 R] >>",
    b"<3082zz>", b"<abc>", b"<>", b"< 30 82 >", b"<30%0a>", b"<3082", b"<" + b"0f" * 40000 + b">",
    b"[1 2 0 R /X (s) <ff> true null]", b"[/A#20B/C]", b"true ", b"false", b"null",
    b"12 0 obj", b"-3.5 ", b"<< /Key1 /V1 /Key1 /V2 >>", b"<< /A >>", b"<< 1 2 >>",
]


def _describe(obj: Any) -> object:
    """An object read, as comparable values: its type and content, all the way down."""
    if isinstance(obj, dict):
        value: object = [(_describe(k), _describe(v)) for k, v in obj.items()]
    elif isinstance(obj, list):
        value = [_describe(v) for v in obj]
    elif isinstance(obj, generic.IndirectObject):
        value = (obj.idnum, obj.generation)
    elif isinstance(obj, generic.NullObject):
        value = None
    elif isinstance(obj, (generic.TextStringObject, generic.ByteStringObject)):
        value = obj.original_bytes
    else:
        value = repr(obj)
    return type(obj).__name__, value


def _outcome(data: bytes) -> tuple[str, object, int]:
    stream = BytesIO(data)
    try:
        obj: Any = generic.read_object(stream, _Handler())  # type: ignore[arg-type]
    except Exception as exc:
        return type(exc).__name__, str(exc), stream.tell()
    return "read", _describe(obj), stream.tell()


@pytest.mark.parametrize("data", _TOKENS, ids=range(len(_TOKENS)))
def test_objects_read_as_pyhanko_reads_them(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _outcome(data)
    with monkeypatch.context() as patch:
        patch.setattr(misc, "_read_until_class", _speedups.ORIGINALS["_read_until_class"])
        patch.setattr(generic, "_decode_name", _speedups.ORIGINALS["_decode_name"])
        patch.setattr(generic, "read_hex_string_from_stream",
                      _speedups.ORIGINALS["read_hex_string_from_stream"])
        slow = _outcome(data)
    assert fast == slow


@pytest.mark.parametrize("data", [b"abc def", b"abc", b"", b" x", b"a" * 100 + b"\n",
                                  b"ab(cd", b"%PDF-1.7\n"])
def test_tokens_and_positions_as_pyhanko(data: bytes) -> None:
    original = _speedups.ORIGINALS["_read_until_class"]
    for chars in (misc.PDF_WHITESPACE, misc.PDF_WHITESPACE + misc.PDF_DELIMITERS):
        for maxchars in (None, 2, 20):
            ours, theirs = BytesIO(data), BytesIO(data)
            ours.seek(0)
            assert (misc._read_until_class(chars, ours, maxchars=maxchars), ours.tell()) == (
                original(chars, theirs, maxchars=maxchars), theirs.tell())
