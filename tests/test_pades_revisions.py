"""Bytes outside the signed revision of a PAdES signature (issue 11, parts 2 and 5).

Each attack is built from a real PDF signed by ltv with the sample PKI, then extended or altered
as an attacker would: the incremental saving attack (objects appended with no cross-reference
section, text after %%EOF, a second %%EOF with no trailer, objects the cross-reference section
does not list), /ByteRange games (re-signed with the phone's key so that the signature itself
verifies over the ranges it claims), an unknown /SubFilter, and /Contents that is not one DER
SignedData plus zero padding. Each is checked through the library and through ``ltv
validate``; legitimate later revisions (DSS and document time-stamps, a second signer, form
filling by pyHanko, cross-reference streams) still pass.
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from conftest import PkiServer
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from test_pades import make_pdf
from test_validation_cades import SIGNED_AT, _services, _validate

from ltv.formats import pdf_revisions
from ltv.signing import SignatureFormat, SignatureLevel, SigningOptions, sign
from ltv.validation import Indication, SignatureReport, SubIndication
from samples.phone import Phone
from samples.pki import SamplePki

AT = SIGNED_AT + timedelta(minutes=5)
CHANGED = (Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE)
FORMAT = (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
DISALLOWED_PREFIX = ("the document was changed after signing in a way the signature does not "
                     "allow: ")
PAGE = b"BT 50 50 Td (PAID IN FULL) Tj ET"


def _sign(pdf: bytes, phone: Phone, pki: SamplePki, level: SignatureLevel) -> bytes:
    return sign(pdf, phone, [phone.certificate, *phone.chain], SignatureFormat.PADES, level,
                services=_services(pki, SIGNED_AT))


@pytest.fixture(scope="module")
def signed(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone) -> dict[str, bytes]:
    pdf = make_pdf("Lease contract")
    return {level.value: _sign(pdf, phone_rsa, pki, level)
            for level in (SignatureLevel.B_B, SignatureLevel.B_T, SignatureLevel.B_LTA)}


def _one(data: bytes, pki: SamplePki, *, offline: bool = True) -> SignatureReport:
    report = _validate(data, pki, AT, offline=offline)
    assert len(report.signatures) == 1, report.signatures
    return report.signatures[0]


def _cli(ltv_cli, pki: SamplePki, tmp_path: Path, data: bytes, name: str = "contract.pdf"):
    path = tmp_path / name
    path.write_bytes(data)
    done = ltv_cli("validate", path, "--at", AT.isoformat(), "--trust",
                   pki.directory / "root.pem", "--offline")
    assert "Traceback" not in done.stderr, done.stderr
    assert "Error" not in done.stderr, done.stderr
    return path, done


def _object(number: int, body: bytes) -> bytes:
    return b"%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (
        number, len(body), body)


def _startxref(data: bytes) -> int:
    return int(re.findall(rb"startxref\s+(\d+)\s+%%EOF", data)[-1])


# ---------------------------------------------------------------------------------------------
# Incremental saving attack: bytes after the last signed revision that are no update

# (attack name, level, what is appended, the reason named after "N bytes after revision K ...")
def _isa_cases(data: bytes) -> dict[str, tuple[bytes, str]]:
    end = len(data)
    shadow = _object(4, PAGE)
    xref_at = end + len(shadow)
    size = int(re.findall(rb"/Size (\d+)", data)[-1])
    unlisted = shadow + (b"xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size %d /Root 1 0 R "
                         b"/Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
                         % (size, _startxref(data), xref_at))
    no_eof = shadow + (b"xref\n0 1\n0000000000 65535 f \n4 1\n%010d 00000 n \ntrailer\n"
                       b"<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n"
                       % (end, size, _startxref(data), xref_at))
    return {
        "objects without xref and trailer": (
            shadow, "an object with no cross-reference section, trailer, startxref and %%EOF"),
        "text after %%EOF": (b"Paid in full.\n", f"text that is no PDF object at byte {end}"),
        "second %%EOF without trailer": (
            b"%%EOF\n", f"a %%EOF with no cross-reference section and trailer (byte {end})"),
        "objects and a second %%EOF": (
            shadow + b"%%EOF\n",
            f"a %%EOF with no cross-reference section and trailer (byte {end + len(shadow)})"),
        "object not in the xref": (
            unlisted,
            f"object 4 0 at byte {end} is not in the update's cross-reference section"),
        "xref and trailer without %%EOF": (
            no_eof, "startxref without an offset and %%EOF "
                    f"(byte {end + no_eof.index(b'startxref')})"),
        "too much white space": (
            b" " * 2000, "more than 1024 bytes of white space"),
    }


ISA = ["objects without xref and trailer", "text after %%EOF", "second %%EOF without trailer",
       "objects and a second %%EOF", "object not in the xref", "xref and trailer without %%EOF",
       "too much white space"]
# revision of the signature (counted from 1) plus the well-formed updates after it
REVISION_AFTER = {"B-B": 2, "B-T": 2, "B-LTA": 4}


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LTA"])
@pytest.mark.parametrize("attack", ISA)
def test_isa_is_disallowed(signed, pki, level, attack) -> None:
    data = signed[level]
    appended, why = _isa_cases(data)[attack]
    sig = _one(data + appended, pki, offline=level == "B-LTA")
    named = (f"{len(appended)} bytes after revision {REVISION_AFTER[level]} that are no "
             f"incremental update: {why}")
    assert sig.pdf_changes_after_signing == "disallowed"
    assert (sig.indication, sig.subindication) == CHANGED, sig
    assert sig.message == DISALLOWED_PREFIX + named


@pytest.mark.parametrize("attack", ["objects without xref and trailer", "text after %%EOF",
                                    "second %%EOF without trailer", "object not in the xref"])
def test_isa_cli(signed, pki, ltv_cli, tmp_path, attack) -> None:
    data = signed["B-LTA"]
    appended, why = _isa_cases(data)[attack]
    path, done = _cli(ltv_cli, pki, tmp_path, data + appended)
    assert done.returncode == 3, done
    assert done.stdout == (
        f"INDETERMINATE: {path} SIG_CONSTRAINTS_FAILURE {DISALLOWED_PREFIX}{len(appended)} "
        f"bytes after revision 4 that are no incremental update: {why}\n")
    assert done.stderr == ""


def test_isa_in_the_json_report(signed, pki, ltv_cli, tmp_path) -> None:
    import json

    path = tmp_path / "isa.pdf"
    path.write_bytes(signed["B-LTA"] + b"Paid in full.\n")
    out = tmp_path / "report.json"
    done = ltv_cli("validate", path, "--at", AT.isoformat(), "--trust",
                   pki.directory / "root.pem", "--offline", "--json", out)
    assert done.returncode == 3, done
    (sig,) = json.loads(out.read_text())["signatures"]
    assert sig["pdf_changes_after_signing"] == "disallowed"
    assert any("14 bytes after revision 4 that are no incremental update" in e
               for e in sig["errors"]), sig["errors"]


@pytest.mark.parametrize("tail", [b"\n", b"\r\n", b"\r\n\r\n  \t\n", b"\x00" * 16,
                                  b" " * pdf_revisions.TRAILING_WHITESPACE_LIMIT])
def test_white_space_after_eof_is_tolerated(signed, pki, tail) -> None:
    sig = _one(signed["B-LTA"] + tail, pki)
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig
    assert sig.pdf_changes_after_signing == "allowed"


def test_isa_between_two_updates(signed, pki) -> None:
    """Text slipped between the DSS revision and the archive time-stamp's revision."""
    data = signed["B-LTA"]
    cut = pdf_revisions.revision_ends(data)[1]  # end of the DSS revision
    forged = data[:cut] + b"% Paid in full\n" + data[cut:]
    report = _validate(forged, pki, AT, offline=True)
    (sig,) = report.signatures
    assert (sig.indication, sig.subindication) == CHANGED
    assert sig.message == DISALLOWED_PREFIX + (
        f"{len(forged) - cut} bytes after revision 3 that are no incremental update: text "
        f"that is no PDF object at byte {cut}")


# ---------------------------------------------------------------------------------------------
# /ByteRange games, re-signed so that the CMS verifies over the ranges it claims


def _resign(data: bytes, ranges: list[int], phone: Phone, pki: SamplePki) -> bytes:
    """Write ``ranges`` as the last signature's /ByteRange and a new CMS over those bytes."""
    match = list(re.finditer(rb"/ByteRange (\[[0-9 ]+\] *)", data))[-1]
    old = [int(v) for v in match.group(1).strip(b"[] ").split()]
    text = b"[" + b" ".join(b"%d" % v for v in ranges) + b"]"
    width = len(match.group(1))
    assert len(text) <= width
    data = data[:match.start(1)] + text.ljust(width) + data[match.end(1):]
    pairs = list(zip(ranges[0::2], ranges[1::2], strict=True))
    content = b"".join(data[start:start + length] for start, length in pairs)
    cms = sign(content, phone, [phone.certificate, *phone.chain], SignatureFormat.CADES,
               SignatureLevel.B_B, SigningOptions(detached=True),
               services=_services(pki, SIGNED_AT))
    hole = old[2] - old[1] - 2
    value = cms.hex().encode().ljust(hole, b"0")
    assert len(value) == hole
    return data[:old[1] + 1] + value + data[old[2] - 1:]


def _ranges(data: bytes) -> list[int]:
    match = list(re.finditer(rb"/ByteRange \[([0-9 ]+)\]", data))[-1]
    return [int(v) for v in match.group(1).split()]


def test_resigning_helper_makes_a_valid_signature(signed, pki, phone_rsa) -> None:
    """Control: the helper's signature over the original ranges passes, so the failures
    below come from the ranges, not from the helper."""
    data = signed["B-B"]
    again = _resign(data, _ranges(data), phone_rsa, pki)
    sig = _one(again, pki, offline=False)
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig
    assert sig.pdf_changes_after_signing == "none"


def _games(data: bytes) -> dict[str, tuple[list[int], str]]:
    _, first, second, length = _ranges(data)
    end = second + length
    page = data.index(b"(Lease contract page 1)")
    return {
        "extra hole": (
            [0, page, page + 6, first - page - 6, second, length],
            "the /ByteRange has 6 numbers, not 4: a signature covers the whole revision "
            "except its /Contents"),
        "overlap": (
            [0, first, first - 200, 100],
            f"the /ByteRange's ranges overlap (the second starts at byte {first - 200}, inside "
            f"the first, which ends at byte {first})"),
        "out of bounds": (
            [0, first, second, length + 4096],
            f"the /ByteRange ends at byte {end + 4096}, beyond the end of the {end}-byte file"),
        "not from byte 0": (
            [9, first - 9, second, length],
            "the /ByteRange starts at byte 9, not 0: the bytes before are not signed"),
        "gap wider than /Contents": (
            [0, first, second + 12, length - 12],
            f"the gap in the /ByteRange (bytes {first} to {second + 12}) is not exactly the "
            "signature's /Contents: unsigned bytes besides the signature value"),
        "gap before /Contents": (
            [0, first - 12, second, length],
            f"the gap in the /ByteRange (bytes {first - 12} to {second}) is not exactly the "
            "signature's /Contents: unsigned bytes besides the signature value"),
    }


GAMES = ["extra hole", "overlap", "out of bounds", "not from byte 0", "gap wider than /Contents",
         "gap before /Contents"]


@pytest.mark.parametrize("game", GAMES)
def test_byte_range_games_are_format_failures(signed, pki, phone_rsa, game) -> None:
    data = signed["B-B"]
    ranges, why = _games(data)[game]
    forged = _resign(data, ranges, phone_rsa, pki)
    if game == "extra hole":  # what the hole lets an attacker change
        page = forged.index(b"(Lease contract page 1)")
        forged = forged[:page] + b"(Sale! contract page 1)" + forged[page + 23:]
    sig = _one(forged, pki)
    assert (sig.indication, sig.subindication) == FORMAT, sig
    assert sig.message == why
    assert sig.pdf_changes_after_signing == "disallowed"


@pytest.mark.parametrize("game", ["extra hole", "out of bounds"])
def test_byte_range_games_cli(signed, pki, phone_rsa, ltv_cli, tmp_path, game) -> None:
    ranges, why = _games(signed["B-B"])[game]
    path, done = _cli(ltv_cli, pki, tmp_path, _resign(signed["B-B"], ranges, phone_rsa, pki))
    assert done.returncode == 1, done
    assert done.stdout == f"FAILED: {path} FORMAT_FAILURE {why}\n"
    assert done.stderr == ""


# ---------------------------------------------------------------------------------------------
# Unknown /SubFilter and /Contents that is not one DER SignedData


def test_unknown_subfilter_is_one_format_failure(signed, pki, ltv_cli, tmp_path) -> None:
    forged = signed["B-LTA"].replace(b"/SubFilter /ETSI.CAdES.detached",
                                     b"/SubFilter /adbe.x509.rsa_sha1 ", 1)
    why = ("the signature's /SubFilter /adbe.x509.rsa_sha1 is not one this validator reads "
           "(/ETSI.CAdES.detached, /adbe.pkcs7.detached, /adbe.pkcs7.sha1)")
    report = _validate(forged, pki, AT, offline=True)
    (sig,) = report.signatures
    assert (sig.indication, sig.subindication) == FORMAT
    assert sig.message == why
    path, done = _cli(ltv_cli, pki, tmp_path, forged)
    assert done.returncode == 1, done
    assert done.stdout == f"FAILED: {path} FORMAT_FAILURE {why}\n"
    assert done.stderr == ""


def test_unknown_subfilter_among_two_signers(signed, pki, phone_ec, ltv_cli, tmp_path) -> None:
    """The unreadable first signature is reported in its place; the second one, which signed
    the changed field, fails its hash; pyHanko logs nothing on stderr."""
    two = _sign(signed["B-LTA"], phone_ec, pki, SignatureLevel.B_LTA)
    forged = two.replace(b"/SubFilter /ETSI.CAdES.detached", b"/SubFilter /adbe.x509.rsa_sha1 ",
                         1)
    path, done = _cli(ltv_cli, pki, tmp_path, forged)
    assert done.returncode == 1, done
    assert done.stdout.splitlines() == [
        f"FAILED: {path}#Signature1 FORMAT_FAILURE the signature's /SubFilter "
        "/adbe.x509.rsa_sha1 is not one this validator reads (/ETSI.CAdES.detached, "
        "/adbe.pkcs7.detached, /adbe.pkcs7.sha1)",
        f"FAILED: {path}#Signature3 HASH_FAILURE the signed byte range does not match the "
        "signed message-digest",
    ]
    assert done.stderr == ""


def _with_contents(data: bytes, change) -> bytes:
    """``data`` with the last signature's /Contents (decoded, padding included) changed."""
    _, first, second, _ = _ranges(data)
    raw = bytes.fromhex(data[first + 1:second - 1].decode())
    new = change(raw)
    assert len(new) == len(raw)
    return data[:first + 1] + new.hex().encode() + data[second - 1:]


def _der_length(raw: bytes) -> int:
    assert raw[:2] == b"\x30\x82"
    return 4 + int.from_bytes(raw[2:4], "big")


def _trailing(raw: bytes) -> bytes:
    n = _der_length(raw)
    return raw[:n] + b"\x00" * 8 + b"EVIL" + raw[n + 12:]


def _two(raw: bytes) -> bytes:
    n = _der_length(raw)
    second = bytes.fromhex("3003020101")
    return raw[:n] + second + raw[n + len(second):]


def _ber(raw: bytes) -> bytes:
    n = _der_length(raw)
    return b"\x30\x80" + raw[4:n] + b"\x00\x00" + raw[n:]


def _not_signed_data(raw: bytes) -> bytes:
    oid = bytes.fromhex("2a864886f70d010702")
    assert raw[6:15] == oid
    return raw[:6] + oid[:-1] + b"\x01" + raw[15:]


CONTENTS = {
    "trailing bytes": (_trailing, "the signature's /Contents has 12 bytes after the SignedData "
                                  "that are not zero padding"),
    "two structures": (_two, "the signature's /Contents holds two concatenated structures, "
                             "not one SignedData"),
    "not a SignedData": (_not_signed_data, "the signature's /Contents is a CMS structure but "
                                           "not a SignedData"),
}


@pytest.mark.parametrize("case", list(CONTENTS))
@pytest.mark.parametrize("level", ["B-B", "B-LTA"])
def test_contents_not_one_der_signed_data(signed, pki, level, case) -> None:
    data = signed[level]
    if level == "B-LTA":  # the approval signature's /Contents, not the archive time-stamp's
        _, first, second, _ = [int(v) for v in re.search(
            rb"/ByteRange \[([0-9 ]+)\]", data).group(1).split()]  # type: ignore[union-attr]
        raw = bytes.fromhex(data[first + 1:second - 1].decode())
        new = CONTENTS[case][0](raw)
        forged = data[:first + 1] + new.hex().encode() + data[second - 1:]
    else:
        forged = _with_contents(data, CONTENTS[case][0])
    sig = _one(forged, pki)
    assert (sig.indication, sig.subindication) == FORMAT, sig
    assert sig.message == CONTENTS[case][1]


BER = ("the signature's /Contents is encoded in BER, not DER as ISO 32000-1 §12.8.3.3 requires "
       "(indefinite lengths)")


def test_contents_in_ber_is_a_constraint_failure(signed, pki) -> None:
    """Real signers write BER /Contents (issue #19): one complete SignedData all the same, so
    not a FORMAT_FAILURE; ISO 32000-1 asks DER, so not a pass either: INDETERMINATE /
    SIG_CONSTRAINTS_FAILURE naming the breach, the rest validated normally."""
    sig = _one(_with_contents(signed["B-B"], _ber), pki)
    assert (sig.indication, sig.subindication) == (Indication.INDETERMINATE,
                                                   SubIndication.SIG_CONSTRAINTS_FAILURE), sig
    assert sig.message == BER
    # BER followed by non-zero bytes stays a format failure
    sig = _one(_with_contents(signed["B-B"], lambda raw: _ber(_trailing(raw))), pki)
    assert (sig.indication, sig.subindication) == FORMAT, sig


@pytest.mark.parametrize("case", ["trailing bytes"])
def test_contents_cli(signed, pki, ltv_cli, tmp_path, case) -> None:
    path, done = _cli(ltv_cli, pki, tmp_path, _with_contents(signed["B-B"], CONTENTS[case][0]))
    assert done.returncode == 1, done
    assert done.stdout == f"FAILED: {path} FORMAT_FAILURE {CONTENTS[case][1]}\n"
    assert done.stderr == ""


def test_broken_archive_timestamp_contents_is_no_poe(signed, pki) -> None:
    """A document time-stamp whose /Contents is not DER is ignored (with a warning): it is no
    POE, and the signature falls back on its signature time-stamp."""
    data = signed["B-LTA"]
    forged = _with_contents(data, _trailing)
    sig = _one(forged, pki)
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig
    assert sig.level is SignatureLevel.B_LT
    assert any("document time-stamp" in w and "not zero padding" in w for w in sig.warnings)


# ---------------------------------------------------------------------------------------------
# Legitimate revisions after a signature still pass


def test_b_lta_with_dss_and_document_timestamps_passes(signed, pki) -> None:
    sig = _one(signed["B-LTA"], pki)
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig
    assert sig.pdf_changes_after_signing == "allowed"


def test_two_signers_and_a_renewal_pass(signed, pki, phone_ec) -> None:
    second = _sign(signed["B-LTA"], phone_ec, pki, SignatureLevel.B_LTA)
    renewed = _sign(second, phone_ec, pki, SignatureLevel.B_LTA)  # a third signature, too
    report = _validate(renewed, pki, AT, offline=True)
    assert len(report.signatures) == 3
    for sig in report.signatures:
        assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig
    assert [s.pdf_changes_after_signing for s in report.signatures] == ["allowed"] * 3


def _form_pdf() -> bytes:
    """A one-page PDF with a text field (AcroForm), written by hand like make_pdf."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Annots [5 0 R] >>",
        b"<< /Length 35 >>\nstream\nBT 72 720 Td (Tenant name:) Tj ET\nendstream",
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (tenant) /V () /Rect [72 680 300 700] "
        b"/P 3 0 R /F 4 >>",
    ]
    out = BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))
    return out.getvalue()


def test_form_filled_by_pyhanko_after_signing_passes(pki, pki_server, phone_rsa) -> None:
    signed_form = _sign(_form_pdf(), phone_rsa, pki, SignatureLevel.B_LTA)
    writer = IncrementalPdfFileWriter(BytesIO(signed_form))
    field = writer.root["/AcroForm"]["/Fields"][0].get_object()
    field["/V"] = generic.TextStringObject("Taro Yamada")
    writer.update_container(field)
    out = BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    filled = out.getvalue()
    assert len(pdf_revisions.revision_ends(filled)) == 5
    sig = _one(filled, pki)
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig
    assert sig.pdf_changes_after_signing == "allowed"


def test_cross_reference_streams_pass(pki, pki_server, phone_rsa) -> None:
    """A PDF written with cross-reference streams (pyHanko's writer): every later update of
    ltv's signature is one too, and the analysis reads them."""
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter(stream_xrefs=True)
    writer.insert_page(generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Page"),
        generic.pdf_name("/MediaBox"): generic.ArrayObject(
            [generic.NumberObject(v) for v in (0, 0, 595, 842)]),
    }))
    out = BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    assert b"/XRef" in out.getvalue()
    assert b"\nxref" not in out.getvalue()
    lta = _sign(out.getvalue(), phone_rsa, pki, SignatureLevel.B_LTA)
    assert b"\nxref" not in lta
    sig = _one(lta, pki)
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig
    assert sig.pdf_changes_after_signing == "allowed"
    # ... and an object appended after them is still caught
    sig = _one(lta + _object(4, PAGE), pki)
    assert (sig.indication, sig.subindication) == CHANGED


# ---------------------------------------------------------------------------------------------
# The byte-level analysis on its own


def _xref_stream_update(data: bytes, *, predictor: bool, shift: int = 0) -> bytes:
    """An update of one new object and a cross-reference stream (PNG Up predictor or none),
    written by hand as qpdf and Acrobat write them; ``shift`` misplaces the object's entry."""
    import zlib

    body = b"11 0 obj\n<< /Producer (another tool) >>\nendobj\n"
    obj_at, xref_at = len(data), len(data) + len(body)
    rows = [bytes([1]) + (obj_at + shift).to_bytes(4, "big") + b"\x00",
            bytes([1]) + xref_at.to_bytes(4, "big") + b"\x00"]
    if predictor:
        previous = bytes(6)
        encoded = b""
        for row in rows:
            encoded += b"\x02" + bytes((a - b) & 0xFF for a, b in zip(row, previous, strict=True))
            previous = row
        parms = b" /DecodeParms << /Predictor 12 /Columns 6 >>"
    else:
        encoded, parms = b"".join(rows), b""
    stream = zlib.compress(encoded)
    head = (b"<< /Type /XRef /Size 13 /Index [11 2] /W [1 4 1] /Root 1 0 R /Prev %d "
            b"/Filter /FlateDecode%s /Length %d >>" % (_startxref(data), parms, len(stream)))
    return (data + body + b"12 0 obj\n" + head + b"\nstream\n" + stream
            + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at)


def _analyse(data: bytes, signed: bytes) -> pdf_revisions.UpdateAnalysis:
    return pdf_revisions.trailing_update_problem(
        data, signed_end=len(signed), prev_startxref=_startxref(signed), revision=2)


@pytest.mark.parametrize("predictor", [False, True])
def test_cross_reference_stream_updates_are_read(signed, predictor) -> None:
    data = signed["B-B"]
    good = _xref_stream_update(data, predictor=predictor)
    assert _analyse(good, data) == pdf_revisions.UpdateAnalysis(updates=1)
    bad = _xref_stream_update(data, predictor=predictor, shift=3)
    assert _analyse(bad, data).problem == (
        f"{len(bad) - len(data)} bytes after revision 2 that are no incremental update: "
        f"object 11 0 at byte {len(data)} is not in the update's cross-reference section")


def test_mutated_tails_never_crash(signed) -> None:
    """Seeded mutations of everything after the first signature (the fuzzing of issue 11
    lives in bench/): the analysis answers, it never raises."""
    import random

    data = signed["B-LTA"]
    _, first, second, length = (int(v) for v in re.search(  # the approval signature's
        rb"/ByteRange \[([0-9 ]+)\]", data).group(1).split())  # type: ignore[union-attr]
    end = second + length
    assert data[:end].endswith(b"%%EOF\n")
    contents = bytes.fromhex(data[first + 1:second - 1].decode())
    rng = random.Random(11)
    found = 0
    for _ in range(300):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(end, len(mutated))
            mutated[at:at + rng.randint(0, 8)] = rng.choice(
                [b"(", b"<<", b"]", b"9" * 5000, b"%%EOF", b"endobj", b"stream\n", b"\x00"])
        analysis = pdf_revisions.trailing_update_problem(
            bytes(mutated), signed_end=end, prev_startxref=_startxref(data[:end]), revision=2)
        found += analysis.problem is not None
        noisy = bytearray(contents)
        noisy[rng.randrange(len(noisy))] = rng.randrange(256)
        problem = pdf_revisions.contents_problem(bytes(noisy))
        assert problem is None or problem.startswith("the signature's /Contents "), problem
    assert found > 250


def test_signature_made_by_pyhanko_passes_the_byte_checks(pki, pki_server, tmp_path) -> None:
    """Another writer's signature (pyHanko's, reserving its own /Contents) and a pyHanko
    incremental update after it read as well-formed."""
    from pyhanko.sign import signers

    from ltv.validation import pades

    directory = tmp_path / "signer"
    pki.issue_software_signer("Other Tool", directory, at=SIGNED_AT)
    signer = signers.SimpleSigner.load(
        str(directory / "key.pem"), str(directory / "cert.pem"),
        ca_chain_files=(str(directory / "chain.pem"),))
    out = signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(_form_pdf())),
                           signers.PdfSignatureMetadata(field_name="Other"), signer=signer)
    writer = IncrementalPdfFileWriter(out)
    field = writer.root["/AcroForm"]["/Fields"][0].get_object()
    field["/V"] = generic.TextStringObject("Hanako")
    writer.update_container(field)
    filled = BytesIO()
    writer.write(filled)  # type: ignore[no-untyped-call]
    (facts,) = pades.extract(filled.getvalue())
    assert facts.integrity.ok, facts.integrity
    assert facts.pdf_changes_after_signing == "allowed"
    (facts,) = pades.extract(filled.getvalue() + b"trailing")
    assert facts.pdf_changes_after_signing == "disallowed"


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_updates_with_any_end_of_line_are_read(signed, eol) -> None:
    """An update as other writers lay it out (CRLF or CR, an indirect /Length defined after
    its stream, a comment inside a dictionary) reads as well-formed."""
    data = signed["B-B"]
    n = eol
    start = len(data) + len(n)
    stream = b"11 0 obj" + n + b"<< /Length 12 0 R % indirect" + n + b">>" + n + b"stream" \
        + (b"\r\n" if eol == b"\r" else n) + b"q Q" + n + b"endstream" + n + b"endobj" + n
    length = b"12 0 obj" + n + b"3" + n + b"endobj" + n
    xref_at = start + len(stream) + len(length)
    update = (n + stream + length + b"xref" + n + b"11 2" + n
              + b"%010d 00000 n" % start + n + b"%010d 00000 n" % (start + len(stream)) + n
              + b"trailer" + n + b"<< /Size 13 /Root 1 0 R /Prev %d >>" % _startxref(data) + n
              + b"startxref" + n + b"%d" % xref_at + n + b"%%EOF" + n)
    assert _analyse(data + update, data) == pdf_revisions.UpdateAnalysis(updates=1)
    wrong_prev = update.replace(b"/Prev %d" % _startxref(data), b"/Prev 17")
    assert _analyse(data + wrong_prev, data).problem == (
        f"{len(wrong_prev)} bytes after revision 2 that are no incremental update: its trailer's "
        f"/Prev is 17, not {_startxref(data)} (the cross-reference of the revision before)")


def test_unsigned_pdf_with_a_damaged_update_is_malformed(ltv_cli, pki, tmp_path) -> None:
    """Reading up to the last complete revision never turns a damaged file into "no
    signature": with no signature in the readable part, the damage is the answer."""
    from ltv.errors import MalformedError
    from ltv.validation import pades

    pdf = make_pdf("x")
    damaged = pdf + (b"xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 9 /Root 1 0 R "
                     b"/Prev 99999999 >>\nstartxref\n12\n%%EOF\n")
    with pytest.raises(MalformedError, match=f"^cannot read the PDF: it is damaged after byte "
                                             f"{len(pdf)}$"):
        pades.extract(damaged)
    path = tmp_path / "damaged.pdf"
    path.write_bytes(damaged)
    done = ltv_cli("validate", path, "--at", AT.isoformat(), "--trust",
                   pki.directory / "root.pem", "--offline")
    assert done.returncode == 4, done
    assert done.stdout == ""
    assert done.stderr == (f"ltv: error: {path}: cannot read the PDF: it is damaged after byte "
                           f"{len(pdf)}\n")
