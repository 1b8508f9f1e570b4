"""The speed-ups of the PAdES fact extraction (issue #15) change no fact and no verdict.

* :mod:`ltv.validation._speedups` replaces pyHanko's byte-at-a-time token readers (hex
  strings, names, tokens up to a delimiter); on every input, valid or not, the object read,
  the stream position after it and the error raised are pyHanko's own;
* the /Contents walk is remembered (a pure function of the bytes);
* the POE index reuses the current revision's DSS for a document time-stamp in the last
  revision only when pyHanko's read of that revision would be the same
  (:mod:`ltv.validation._pdf_reuse`), and its index is the one read without reuse;
* the facts :func:`ltv.validation.pades.extract` reads over the census's reader (whose
  signature objects it reuses) are the facts it reads alone;
* a warm process gives every file its own report, whatever was validated before it: a good
  file, its forged variants, in any order.
"""

from __future__ import annotations

import json
from datetime import timedelta
from io import BytesIO
from typing import Any

import pytest
from conftest import PkiServer
from pyhanko.pdf_utils import generic, misc
from test_validation_cades import SIGNED_AT
from test_validation_speed import lease_contract

from ltv.validation import ValidationPolicy, _speedups, pades, validate
from ltv.validation.report_json import to_json
from samples.phone import Phone
from samples.pki import SamplePki

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
    b"2 0 R", b"2 0 R ", b"0 0 R ", b"2 0R ", b"2  0 \x0bR ", b"2 0 %c\nR ", b"2\x0b0 R ",
    b"2 0\x00R ", b"2\x000 R ", b"12 65535 R]", b"2 0 ", b"2 0", b"2 x R ", b"02 00 R ",
    b"[2 0 R 3 0 R]", b"<< /P 4 0 R /Q 5 1 R >>", b"1" * 70 + b" 0 R ", b"2 0\nR ",
    b"2 0 \x0c\rR ", b"2 0 \n", b"2 0 Rx",
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
        patch.setattr(generic.IndirectObject, "read_from_stream",
                      staticmethod(_speedups.ORIGINALS["IndirectObject.read_from_stream"]))
        slow = _outcome(data)
    assert fast == slow


def test_content_reading_modes_as_pyhanko() -> None:
    for mode in generic.ContentOpReading:
        assert bool(mode) is _speedups.ORIGINALS["ContentOpReading.__bool__"](mode)
        assert mode.nest() is _speedups.ORIGINALS["ContentOpReading.nest"](mode)
    assert [bool(mode) for mode in generic.ContentOpReading] == [False, True, True]


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


def _copy(obj: Any, resolver: Any) -> object:
    """An object a historical revision gives, as comparable values: :func:`_describe` with
    each container reference (object number, generation, whether it names ``resolver``)."""
    ref = getattr(obj, "container_ref", None)
    where = None if ref is None else (getattr(ref, "idnum", None), getattr(ref, "generation", None),
                                      getattr(ref, "pdf", None) is resolver)
    if isinstance(obj, dict):
        inner: object = [(k, _copy(v, resolver)) for k, v in obj.items()]
    elif isinstance(obj, list):
        inner = [_copy(v, resolver) for v in obj]
    else:
        inner = _describe(obj)
    data = obj.encoded_data if isinstance(obj, generic.StreamObject) else None
    return type(obj).__name__, where, inner, data


def test_historical_copies_are_pyhankos(signed: dict[str, bytes],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every object of every revision, as a historical resolver copies it, is pyHanko's copy:
    same types, values, container references, stream data."""
    from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader

    def every_copy(data: bytes) -> list[object]:
        reader = PdfFileReader(BytesIO(data), strict=False)
        out: list[object] = []
        for revision in range(reader.xrefs.total_revisions):
            resolver = HistoricalResolver(reader, revision)
            for number in range(1, int(reader.trailer["/Size"])):
                try:
                    obj = resolver.get_object(generic.Reference(number, 0, resolver))
                except Exception as exc:
                    out.append((revision, number, type(exc).__name__, str(exc)))
                    continue
                out.append((revision, number, _copy(obj, resolver)))
        return out

    for name in ("b-lta", "two-signatures"):
        fast = every_copy(signed[name])
        with monkeypatch.context() as patch:
            patch.setattr(HistoricalResolver, "_subsume_object",
                          _speedups.ORIGINALS["_subsume_object"])
            assert every_copy(signed[name]) == fast, name
        assert len(fast) > 50


def test_xref_history_is_pyhankos(signed: dict[str, bytes]) -> None:
    """The remembered last-change and introducing revisions of every object number (and of
    numbers no revision has) are pyHanko's answers, asked once or twice."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    def answer(method: Any, xrefs: Any, ref: Any) -> object:
        try:
            return method(xrefs, ref)
        except KeyError as exc:
            return "KeyError", str(exc)

    for name in ("b-lta", "two-signatures", "appended-object"):
        xrefs = PdfFileReader(BytesIO(signed[name]), strict=False).xrefs
        size = int(xrefs.reader.trailer["/Size"])
        for method in ("get_last_change", "get_introducing_revision"):
            original = _speedups.ORIGINALS[f"XRefCache.{method}"]
            for _ in range(2):
                for number in range(size + 3):
                    for generation in (0, 1, 65535):
                        ref = generic.Reference(number, generation)
                        assert answer(getattr(type(xrefs), method), xrefs, ref) == answer(
                            original, xrefs, ref), (name, method, number, generation)


_FILE = bytes(range(256)) * 40  # 10 KiB
_RANGES: list[list[Any]] = [
    [0, 100, 200, 300], [0, 10240], [0, 0], [0, 5000, 6000, 9000], [9000, 5000],
    [20000, 10], [0, -5], [0, 100, 200], [-1, 10], [], [generic.NumberObject(3),
                                                      generic.NumberObject(4000)],
    [0, generic.FloatObject("10.0")], [True, 7], [0, 4096, 4096, 4096, 8192, 4096],
]


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "sha512", "md2"])
def test_byte_range_digest_is_pyhankos(algorithm: str) -> None:
    """Digest, length, the stream's position after it and every error are pyHanko's, for
    ranges inside, across and beyond the file, empty, negative, odd and non-integer."""
    from pyhanko.sign.validation import pdf_embedded

    def outcome(digest: Any, ranges: list[Any]) -> object:
        stream = BytesIO(_FILE)
        stream.seek(17)
        try:
            result = digest(stream, ranges, algorithm)
        except Exception as exc:
            return type(exc).__name__, str(exc), stream.tell()
        return result, stream.tell()

    assert pdf_embedded.byte_range_digest is not _speedups.ORIGINALS["byte_range_digest"]
    for ranges in _RANGES:
        assert outcome(pdf_embedded.byte_range_digest, ranges) == outcome(
            _speedups.ORIGINALS["byte_range_digest"], ranges), ranges


# -- the /Contents walk ---------------------------------------------------------------------------


def _tlv(rng: Any, depth: int) -> bytes:
    """A random BER value: high tags, long, non-minimal and indefinite lengths, nesting."""
    tag = rng.choice([0x02, 0x04, 0x06, 0x30, 0x31, 0xA0, 0xA3, 0x1F, 0x3F])
    head = bytes([tag]) + (bytes([0x81, 0x05]) if tag & 0x1F == 0x1F else b"")
    constructed = bool(tag & 0x20) and depth < 70
    body = (b"".join(_tlv(rng, depth + 1) for _ in range(rng.randrange(0, 4)))
            if constructed else bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))))
    form = rng.randrange(6)
    if constructed and form == 0:
        return head + b"\x80" + body + b"\x00\x00"
    if form == 1:
        return head + b"\x82" + len(body).to_bytes(2, "big") + body  # maybe non-minimal
    if form == 2:
        return head + b"\x84" + len(body).to_bytes(4, "big") + body
    if len(body) < 0x80:
        return head + bytes([len(body)]) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return head + bytes([0x80 | len(size)]) + size + body


def _walk_outcome(walk: Any, data: bytes, depth: int, ber: bool) -> object:
    breaches: list[str] | None = [] if ber else None
    try:
        return "end", walk(data, 0, len(data), depth, breaches), breaches
    except Exception as exc:
        return "bad", str(exc), breaches


def test_contents_walk_memo_answers_as_the_walk() -> None:
    """The memo of the /Contents walk gives the walk's end, breaches and error, on random BER
    values, deep nests and every kind of damage (seeded: the same cases each run), asked once
    or twice, and so do the two checks built on it."""
    import random

    from ltv.formats import pdf_revisions

    rng = random.Random(15)
    cases = [b"", b"\x30", b"\x30\x80", b"\x30\x80\x00", b"\x04\x80\x00\x00",
             b"\x30\x85" + b"\x01" * 8, b"\x30\x80" * 80 + b"\x00\x00" * 80,
             b"\x30\x02\x30\x00", b"\x1f\x81"]
    for _ in range(400):
        value = _tlv(rng, 0)
        cases.append(value)
        damaged = bytearray(value)
        for _ in range(rng.randrange(1, 4)):
            if damaged:
                damaged[rng.randrange(len(damaged))] = rng.choice([0x00, 0x80, 0x30, 0xFF, 0x1F])
        cases.append(bytes(damaged))
        cases.append(value[:rng.randrange(len(value) + 1)])
        cases.append(value + bytes(rng.randrange(3)) + value[:rng.randrange(len(value) + 1)])
    outcomes = set()
    for data in cases:
        fresh = _walk_outcome(pdf_revisions._der_walk, data, 0, True)
        outcomes.add(fresh[0])
        for _ in range(2):
            walked = pdf_revisions._walk(data)
            assert (("bad", walked, None) if isinstance(walked, str) else
                    ("end", walked[0], list(walked[1]))) == (
                fresh if fresh[0] == "end" else ("bad", fresh[1], None))
            problems = (pdf_revisions.contents_problem(data),
                        pdf_revisions.contents_encoding_problem(data))
        pdf_revisions._walk_remembered.cache_clear()
        assert problems == (pdf_revisions.contents_problem(data),
                            pdf_revisions.contents_encoding_problem(data))
    assert outcomes == {"end", "bad"}


# -- facts and verdicts in a warm process ---------------------------------------------------------

AT = SIGNED_AT + timedelta(minutes=5)


@pytest.fixture(scope="module")
def signed(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone) -> dict[str, bytes]:
    lta, twice = lease_contract(pki, phone_rsa)
    from asn1crypto import cms

    gap = lta.index(b"/Contents <") + len(b"/Contents <")
    der = bytes.fromhex(lta[gap:lta.index(b">", gap)].decode())
    value = cms.ContentInfo.load(der)["content"]["signer_infos"][0][
        "signature"].contents
    value_at = gap + 2 * (der.index(value) + len(value) // 2)  # the signer's signature value
    return {
        "b-lta": lta,
        "two-signatures": twice,
        "content-changed": lta.replace(b"Lease contract", b"Lease cantract", 1),
        "signature-value-changed": lta[:value_at] + (
            b"00" if lta[value_at:value_at + 2] != b"00" else b"11") + lta[value_at + 2:],
        "appended-object": lta + b"99 0 obj\n(PAID)\nendobj\n",
        "damaged-tail": lta + b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R\n",
        "later-signature-removed": twice[:len(lta)],
        "field-listed-twice": _field_listed_twice(lta),
    }


def _field_listed_twice(data: bytes) -> bytes:
    """``data`` with an update listing its first signature field twice in /AcroForm."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(BytesIO(data))
    fields = writer.root["/AcroForm"]["/Fields"]
    fields.append(fields.raw_get(0))
    writer.update_container(fields)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def test_facts_over_the_census_reader_are_the_facts_alone(signed: dict[str, bytes]) -> None:
    """The census's pyHanko signature objects are reused by the field listing (no second CMS
    parse); the facts are those of an extraction that reads the file on its own."""
    for name, data in signed.items():
        reader = pades.open_reader(BytesIO(data))
        if reader is None:  # the damaged tail: extract reads the complete revisions itself
            assert name == "damaged-tail"
            continue
        assert pades.census(reader) != (None, None)
        counted = list(reader._embedded_signatures)
        with_census = pades.extract(data, reader=reader)
        assert [sig for sig in reader._embedded_signatures if sig in counted] == counted, name
        assert with_census == pades.extract(data), name


def test_warm_process_gives_each_file_its_own_report(signed: dict[str, bytes],
                                                     pki: SamplePki) -> None:
    """Every file's report is the same whether it is validated first, after the good file or
    after its forged variants (parse caches, memos and reused objects included)."""
    from ltv.formats import pdf_revisions

    policy = ValidationPolicy.default(trust_anchors=[pki.root])

    def report(name: str) -> tuple[str, str]:
        done = validate(signed[name], policy=policy, at=AT, offline=True)
        return done.indication.token, json.dumps(to_json(done), sort_keys=True)

    names = list(signed)
    forward = {name: report(name) for name in names}
    pdf_revisions._walk_remembered.cache_clear()
    backward = {name: report(name) for name in reversed(names)}
    interleaved = {}
    for name in names:
        report("b-lta")
        interleaved[name] = report(name)
    assert forward == backward == interleaved
    assert {name: token for name, (token, _) in forward.items()} == {
        "b-lta": "TOTAL-PASSED", "two-signatures": "TOTAL-PASSED",
        "content-changed": "TOTAL-FAILED", "signature-value-changed": "TOTAL-FAILED",
        "appended-object": "INDETERMINATE", "damaged-tail": "INDETERMINATE",
        "later-signature-removed": "TOTAL-PASSED", "field-listed-twice": "INDETERMINATE"}


def _compressed_dss_update(data: bytes) -> bytes:
    """``data`` with an incremental update storing its first DSS certificate Flate-encoded."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(BytesIO(data))
    certs = writer.root["/DSS"]["/Certs"]
    stream = generic.StreamObject(stream_data=certs[0].data)
    stream.compress()
    certs[0] = writer.add_object(stream)
    writer.update_container(certs)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def test_dss_is_reused_only_when_the_same(signed: dict[str, bytes],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The POE index with the current DSS is the index without it; the DSS is read once for
    a document time-stamp in the last revision, again for any other revision, and again
    when a DSS stream is compressed (its decoding limits would apply)."""
    from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    from ltv.validation._pdf_reuse import same_dss

    compressed = _compressed_dss_update(signed["b-lta"])
    reads: list[object] = []
    real = DocumentSecurityStore.read_dss.__func__  # type: ignore[attr-defined]

    def spy(cls: Any, handler: Any) -> Any:
        reads.append(type(handler).__name__)
        return real(cls, handler)

    monkeypatch.setattr(DocumentSecurityStore, "read_dss", classmethod(spy))
    expected_reads = {"b-lta": ["PdfFileReader"],
                      "two-signatures": ["PdfFileReader", "HistoricalResolver"],
                      "compressed": ["PdfFileReader", "HistoricalResolver"]}
    for name, data in [("b-lta", signed["b-lta"]), ("two-signatures", signed["two-signatures"]),
                       ("compressed", compressed)]:
        reader = PdfFileReader(BytesIO(data), strict=False)
        pades._signature_fields(reader)
        reads.clear()
        _, _, current = pades._dss(reader)
        with_current = pades._poe_index(reader, current)
        assert reads == expected_reads[name], name
        assert with_current == pades._poe_index(PdfFileReader(BytesIO(data), strict=False))
        assert with_current, name
        last = reader.xrefs.total_revisions - 1
        assert [same_dss(reader, HistoricalResolver(reader, revision))
                for revision in range(last + 1)] == [False] * last + [name != "compressed"]
