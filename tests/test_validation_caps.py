"""Caps on the work of one validation and clean output (issue 11 §6, §7, §9).

Each test builds its input from the sample PKI (and, for the odd certificate, with
``cryptography`` from the smartphone CA's key) and asserts the exact indication,
sub-indication and the cap named in the message. The deadline's time source is injected
(:class:`StepClock`): nothing sleeps, nothing depends on the machine's speed.
"""

from __future__ import annotations

import ast
import html.parser
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import PkiServer, ltv_cli
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree  # type: ignore[import-untyped,unused-ignore]
from test_validation_cades import CONTRACT, SIGNED_AT, _fetchers, _services, _sign
from test_validation_reports import schema_errors

from ltv.formats import cms
from ltv.keys import KeySigner
from ltv.signing import SignatureFormat, SignatureLevel, sign
from ltv.validation import (
    Indication,
    SubIndication,
    ValidationPolicy,
    ValidationReport,
    validate,
)
from ltv.validation.report_html import to_html
from ltv.validation.report_json import dumps, to_json
from ltv.validation.report_xml import NS, to_xml
from samples.phone import Phone
from samples.pki import SamplePki

AT = SIGNED_AT + timedelta(minutes=10)


class StepClock:
    """A monotonic time source that advances ``step`` seconds at every read."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.reads = 0

    def __call__(self) -> float:
        value = self.reads * self.step
        self.reads += 1
        return value


def _policy(pki: SamplePki, **caps: object) -> ValidationPolicy:
    return replace(ValidationPolicy.default(trust_anchors=[pki.root]), **caps)  # type: ignore[arg-type]


def _verdicts(report: ValidationReport) -> list[tuple[str, Indication, SubIndication | None]]:
    return [(s.id, s.indication, s.subindication) for s in report.signatures]


def _repeat_signer(signed: bytes, times: int) -> bytes:
    parts = cms.parse_signed_data(signed)
    return replace(parts, signer_infos=parts.signer_infos * times).dump()


@pytest.fixture(scope="module")
def bb(pki: SamplePki, phone_rsa: Phone) -> bytes:
    return _sign(phone_rsa, pki, SignatureLevel.B_B)


@pytest.fixture(scope="module")
def lta(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone) -> bytes:
    return _sign(phone_rsa, pki, SignatureLevel.B_LTA)


# -- §6 caps ------------------------------------------------------------------------------


def test_4000_signer_infos_are_refused_before_any_work(bb: bytes, pki: SamplePki,
                                                       tmp_path: Path) -> None:
    flood = _repeat_signer(bb, 4000)
    assert len(flood) >= 2_700_000  # security review finding 10: 2.7 MB, 4,000 SignerInfos
    report = validate(flood, policy=_policy(pki), at=AT, offline=True)
    assert _verdicts(report) == [("file", Indication.INDETERMINATE,
                                  SubIndication.SIG_CONSTRAINTS_FAILURE)]
    message = report.signatures[0].message or ""
    assert "4000 signatures" in message
    assert "cap max_signatures" in message
    assert "at most 100" in message
    path = tmp_path / "flood.p7s"
    path.write_bytes(flood)
    done = ltv_cli("validate", path, "--trust", pki.directory / "root.pem", "--offline",
                   "--at", AT.isoformat())
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines() == [
        f"INDETERMINATE: {path} SIG_CONSTRAINTS_FAILURE {message}"]
    assert done.stderr == ""


def test_signature_cap_is_a_policy_field(bb: bytes, pki: SamplePki) -> None:
    two = _repeat_signer(bb, 2)
    report = validate(two, policy=_policy(pki, max_signatures=2), at=AT, offline=True)
    assert [s.id for s in report.signatures] == ["signature 1", "signature 2"]
    refused = validate(_repeat_signer(bb, 3), policy=_policy(pki, max_signatures=2), at=AT,
                       offline=True)
    assert _verdicts(refused) == [("file", Indication.INDETERMINATE,
                                   SubIndication.SIG_CONSTRAINTS_FAILURE)]
    assert "3 signatures; the policy allows at most 2" in (refused.signatures[0].message or "")


def test_caps_from_a_policy_file(bb: bytes, pki: SamplePki, tmp_path: Path) -> None:
    signed = tmp_path / "two.p7s"
    signed.write_bytes(_repeat_signer(bb, 2))
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"max_signatures": 1, "deadline_seconds": 30}), "utf-8")
    done = ltv_cli("validate", signed, "--trust", pki.directory / "root.pem", "--offline",
                   "--at", AT.isoformat(), "--policy", policy)
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines() == [
        f"INDETERMINATE: {signed} SIG_CONSTRAINTS_FAILURE the file holds 2 signatures; the "
        f"policy allows at most 1 (cap max_signatures); nothing was validated"]
    policy.write_text(json.dumps({"max_signatures": 0}), "utf-8")
    bad = ltv_cli("validate", signed, "--trust", pki.directory / "root.pem", "--offline",
                  "--at", AT.isoformat(), "--policy", policy)
    assert bad.returncode == 4
    assert bad.stderr.splitlines() == [f"ltv: error: {policy}: max_signatures is a positive "
                                       f"integer"]


def test_timestamp_cap_counts_before_extraction(lta: bytes, pki: SamplePki) -> None:
    passed = validate(lta, policy=_policy(pki), at=AT, offline=True)
    assert _verdicts(passed) == [("signature", Indication.TOTAL_PASSED, None)]
    stamps = len(passed.signatures[0].timestamps)
    assert stamps >= 2
    refused = validate(lta, policy=_policy(pki, max_timestamps=stamps - 1), at=AT,
                       offline=True)
    assert _verdicts(refused) == [("file", Indication.INDETERMINATE,
                                   SubIndication.SIG_CONSTRAINTS_FAILURE)]
    assert f"{stamps} time-stamps" in (refused.signatures[0].message or "")
    assert "cap max_timestamps" in (refused.signatures[0].message or "")


def test_pdf_timestamps_counted_over_the_extracted_facts(pki: SamplePki, pki_server: PkiServer,
                                                         phone_rsa: Phone) -> None:
    from test_pades import make_pdf

    pdf = sign(make_pdf("Capped lease"), phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
               SignatureFormat.PADES, SignatureLevel.B_LTA, services=_services(pki, SIGNED_AT))
    # one document time-stamp in the PDF, one signature time-stamp inside the CMS: only the
    # count over the extracted facts sees both
    refused = validate(pdf, policy=_policy(pki, max_timestamps=1), at=AT, offline=True)
    assert _verdicts(refused) == [("file", Indication.INDETERMINATE,
                                   SubIndication.SIG_CONSTRAINTS_FAILURE)]
    assert "2 time-stamps" in (refused.signatures[0].message or "")


def _two_xades(pki: SamplePki, phone_rsa: Phone, phone_ec: Phone) -> bytes:
    """Two enveloping XAdES signatures side by side in one XML document."""
    from ltv.signing import Packaging, SigningOptions

    parts = [re.sub(rb"^<\?xml[^>]*\?>\s*", b"", sign(
        CONTRACT, phone, [phone.certificate, *phone.chain], SignatureFormat.XADES,
        SignatureLevel.B_B, SigningOptions(packaging=Packaging.ENVELOPING),
        services=_services(pki, SIGNED_AT))) for phone in (phone_rsa, phone_ec)]
    return b"<Bundle>" + b"".join(parts) + b"</Bundle>"


def _two_pades(pki: SamplePki, phone_rsa: Phone, phone_ec: Phone) -> bytes:
    from test_pades import make_pdf

    pdf = make_pdf("Two signers")
    for phone in (phone_rsa, phone_ec):
        pdf = sign(pdf, phone, [phone.certificate, *phone.chain], SignatureFormat.PADES,
                   SignatureLevel.B_B, services=_services(pki, SIGNED_AT))
    return pdf


@pytest.mark.parametrize("kind", ["xades", "pades"])
def test_signature_cap_counts_xml_and_pdf_signatures(pki: SamplePki, pki_server: PkiServer,
                                                     phone_rsa: Phone, phone_ec: Phone,
                                                     tmp_path: Path, kind: str) -> None:
    """max_signatures counts a PDF's signature fields and an XML file's ds:Signature elements
    too (not only CMS SignerInfos): library and ``ltv validate --policy``, one verdict line,
    nothing on stderr."""
    data = (_two_xades if kind == "xades" else _two_pades)(pki, phone_rsa, phone_ec)
    allowed = validate(data, policy=_policy(pki, max_signatures=2), at=AT, offline=True)
    # both formats validate each of the two signatures: the cap did not decide
    assert len(allowed.signatures) == 2, _verdicts(allowed)
    assert not any("cap max_signatures" in (s.message or "") for s in allowed.signatures)
    refused = validate(data, policy=_policy(pki, max_signatures=1), at=AT, offline=True)
    assert _verdicts(refused) == [("file", Indication.INDETERMINATE,
                                   SubIndication.SIG_CONSTRAINTS_FAILURE)]
    message = refused.signatures[0].message or ""
    assert "the file holds 2 signatures; the policy allows at most 1 (cap max_signatures)" \
        in message
    path = tmp_path / ("two.xml" if kind == "xades" else "two.pdf")
    path.write_bytes(data)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"max_signatures": 1}), "utf-8")
    done = ltv_cli("validate", path, "--trust", pki.directory / "root.pem", "--offline",
                   "--at", AT.isoformat(), "--policy", policy)
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines() == [
        f"INDETERMINATE: {path} SIG_CONSTRAINTS_FAILURE {message}"]
    assert done.stderr == ""


def test_xades_timestamps_counted_before_extraction(pki: SamplePki, pki_server: PkiServer,
                                                    phone_rsa: Phone) -> None:
    """max_timestamps counts a XAdES file's xades:EncapsulatedTimeStamp elements too."""
    from ltv.signing import Packaging, SigningOptions

    lta_xml = sign(CONTRACT, phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                   SignatureFormat.XADES, SignatureLevel.B_LTA,
                   SigningOptions(packaging=Packaging.ENVELOPING),
                   services=_services(pki, SIGNED_AT))
    stamps = lta_xml.count(b"EncapsulatedTimeStamp") // 2  # start and end tags
    assert stamps >= 2
    refused = validate(lta_xml, policy=_policy(pki, max_timestamps=stamps - 1), at=AT,
                       offline=True)
    assert _verdicts(refused) == [("file", Indication.INDETERMINATE,
                                   SubIndication.SIG_CONSTRAINTS_FAILURE)]
    assert f"{stamps} time-stamps" in (refused.signatures[0].message or "")
    assert "cap max_timestamps" in (refused.signatures[0].message or "")
    allowed = validate(lta_xml, policy=_policy(pki, max_timestamps=stamps), at=AT,
                       offline=True)
    assert [v[1:] for v in _verdicts(allowed)] == [(Indication.TOTAL_PASSED, None)]


def test_path_length_cap_turns_a_pass(lta: bytes, pki: SamplePki) -> None:
    report = validate(lta, policy=_policy(pki, max_path_length=2), at=AT, offline=True)
    assert _verdicts(report) == [("signature", Indication.INDETERMINATE,
                                  SubIndication.CHAIN_CONSTRAINTS_FAILURE)]
    assert report.signatures[0].message == (
        "the signer's certificate path has 3 certificates; the policy allows at most 2 "
        "(cap max_path_length)")
    assert _verdicts(validate(lta, policy=_policy(pki, max_path_length=3), at=AT,
                              offline=True))[0][1] is Indication.TOTAL_PASSED


def test_fetch_cap_leaves_the_chain_unbuilt(pki: SamplePki, pki_server: PkiServer,
                                            phone_rsa: Phone) -> None:
    # the CMS carries the signer certificate only: its CA must be fetched (AIA caIssuers)
    lone = sign(CONTRACT, phone_rsa, [phone_rsa.certificate], SignatureFormat.CADES,
                SignatureLevel.B_B, services=_services(pki, SIGNED_AT))
    at = SIGNED_AT + timedelta(minutes=5)
    fetched = validate(lone, policy=_policy(pki), at=at, fetchers=_fetchers())
    assert _verdicts(fetched) == [("signature", Indication.TOTAL_PASSED, None)]
    capped = validate(lone, policy=_policy(pki, max_fetched_certificates=0), at=at,
                      fetchers=_fetchers())
    assert _verdicts(capped) == [("signature", Indication.INDETERMINATE,
                                  SubIndication.TRY_LATER)]
    assert "cap max_fetched_certificates" in (capped.signatures[0].message or "")
    assert any("max_fetched_certificates" in w for w in capped.warnings)


def test_deadline_expired_before_validation_is_try_later(bb: bytes, pki: SamplePki) -> None:
    report = validate(_repeat_signer(bb, 2), policy=_policy(pki), at=AT, offline=True,
                      monotonic=StepClock(1000.0))
    assert _verdicts(report) == [
        ("signature 1", Indication.INDETERMINATE, SubIndication.TRY_LATER),
        ("signature 2", Indication.INDETERMINATE, SubIndication.TRY_LATER),
    ]
    assert "deadline of 60 s" in (report.signatures[0].message or "")
    assert "cap deadline" in (report.signatures[0].message or "")


def test_deadline_between_signatures(lta: bytes, pki: SamplePki) -> None:
    # reads: start 0, before gathering 25, before signature 1 50, before signature 2 75 > 60
    clock = StepClock(25.0)
    report = validate(_repeat_signer(lta, 2), policy=_policy(pki), at=AT, offline=True,
                      monotonic=clock)
    assert clock.reads == 4
    first, second = report.signatures
    assert (first.indication, first.subindication) == (Indication.TOTAL_PASSED, None)
    assert (second.indication, second.subindication) == (Indication.INDETERMINATE,
                                                         SubIndication.TRY_LATER)
    assert "cap deadline" in (second.message or "")
    longer = validate(_repeat_signer(lta, 2), policy=_policy(pki, deadline=timedelta(
        seconds=100)), at=AT, offline=True, monotonic=StepClock(25.0))
    assert [(s.indication, s.subindication) for s in longer.signatures] == [
        (first.indication, first.subindication)] * 2


def test_deadline_stops_fetching(pki: SamplePki, pki_server: PkiServer,
                                 phone_rsa: Phone) -> None:
    lone = sign(CONTRACT, phone_rsa, [phone_rsa.certificate], SignatureFormat.CADES,
                SignatureLevel.B_B, services=_services(pki, SIGNED_AT))
    # start 0; the check before gathering reads 50 (not late), each fetch then reads > 60
    report = validate(lone, policy=_policy(pki), at=SIGNED_AT + timedelta(minutes=5),
                      fetchers=_fetchers(), monotonic=StepClock(50.0))
    assert _verdicts(report) == [("signature", Indication.INDETERMINATE,
                                  SubIndication.TRY_LATER)]
    assert any("not fetched, the validation deadline" in w for w in report.warnings)


# -- §7 reports never crash on odd but valid input ------------------------------------------


class _StrictHtml(html.parser.HTMLParser):
    """Fails on unbalanced sections and records every text node."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("section", "svg", "table", "ul", "g"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("section", "svg", "table", "ul", "g"):
            assert self.open.pop() == tag

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _check_reports(report: ValidationReport) -> tuple[str, str, str]:
    doc = to_json(report)
    assert schema_errors(doc) == []
    text = dumps(report)
    json.loads(text)
    text.encode("utf-8")
    xml = to_xml(report)
    root = etree.fromstring(xml.encode("utf-8"))
    assert root.tag == f"{{{NS}}}ValidationReport"
    page = to_html(report, title="odd input")
    parser = _StrictHtml()
    parser.feed(page)
    parser.close()
    assert parser.open == []
    page.encode("utf-8")
    for out in (text, xml, page):
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", out)
    return text, xml, page


@pytest.fixture(scope="module")
def odd_signed(pki: SamplePki) -> bytes:
    """Signed with a certificate valid until 9999-12-31 whose subject holds control
    characters, issued with cryptography by the sample smartphone CA's key."""
    key = ec.generate_private_key(ec.SECP256R1())
    ca = pki.smartphone_ca
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, "evil\x01signer\x1b[31m\u202e"),
        ]))
        .issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(SIGNED_AT - timedelta(hours=1))
        .not_valid_after(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(pki.ca_key("smartphone-ca"), hashes.SHA256())  # type: ignore[arg-type]
    )
    return sign(CONTRACT, KeySigner(key), [cert, ca, pki.root], SignatureFormat.CADES,
                SignatureLevel.B_B, services=_services(pki, SIGNED_AT))


def test_odd_certificate_renders_in_all_three_reports(odd_signed: bytes,
                                                      pki: SamplePki) -> None:
    report = validate(odd_signed, policy=_policy(pki), at=AT, offline=True)
    sig = report.signatures[0]
    assert sig.signer is not None
    assert "\x01" in sig.signer.subject
    assert any(c.not_after.year == 9999 for c in sig.certificates)
    text, xml, page = _check_reports(report)
    assert "evil\\x01signer\\x1b[31m" in json.loads(text)["signatures"][0]["signer"]["subject"]
    assert "evil\\x01signer" in xml
    assert "evil\\x01signer" in page
    ticks = re.findall(r'<text x="[\d.]+" y="\d+" fill="#667085">(\d+)</text>', page)
    assert 0 < len(ticks) <= 21
    assert int(ticks[-1]) <= 9999


def test_times_beyond_utc_years_are_bad_input(bb: bytes, pki: SamplePki,
                                              tmp_path: Path) -> None:
    signed = tmp_path / "bb.p7s"
    signed.write_bytes(bb)
    for at in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        done = ltv_cli("validate", signed, "--trust", pki.directory / "root.pem", "--offline",
                       "--at", at)
        assert done.returncode == 2, done.stderr
        assert "outside the years 1 to 9999 in UTC" in done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize("at", ["0001-01-01", "9999-12-31", "9999-12-31T23:59:59Z"])
def test_extreme_validation_times_give_a_verdict(bb: bytes, pki: SamplePki, at: str,
                                                 tmp_path: Path) -> None:
    signed = tmp_path / "bb.p7s"
    signed.write_bytes(bb)
    out = {suffix: tmp_path / f"report.{suffix}" for suffix in ("json", "xml", "html")}
    done = ltv_cli("validate", signed, "--trust", pki.directory / "root.pem", "--offline",
                   "--at", at, "--json", out["json"], "--xml", out["xml"], "--html",
                   out["html"])
    assert done.returncode == 3, done.stderr
    assert done.stderr == ""
    [line] = done.stdout.splitlines()
    assert line.startswith(f"INDETERMINATE: {signed} ")
    doc = json.loads(out["json"].read_text("utf-8"))
    assert schema_errors(doc) == []
    assert any("edge of the representable range" in w for w in doc["warnings"])
    etree.fromstring(out["xml"].read_bytes())
    parser = _StrictHtml()
    parser.feed(out["html"].read_text("utf-8"))
    assert parser.open == []


def test_odd_subject_stays_on_one_line_in_the_cli(odd_signed: bytes, pki: SamplePki) -> None:
    from ltv.cli.validate import _line

    report = validate(odd_signed, policy=_policy(pki), at=AT, offline=True)
    sig = report.signatures[0]
    assert sig.signer is not None
    passed = replace(sig, indication=Indication.TOTAL_PASSED, subindication=None,
                     signer=replace(sig.signer, subject=sig.signer.subject + "\nPASSED: x"))
    line = _line("odd.p7s", passed, False)
    assert line.startswith("PASSED: odd.p7s (")
    assert "\n" not in line
    assert "\x1b" not in line
    assert "\x01" not in line
    assert "evil\\x01signer\\x1b[31m" in line
    assert "\\nPASSED: x" in line
    failed = replace(sig, message="first line\nTraceback (most recent call last):")
    assert "\n" not in _line("odd.p7s", failed, False)


# -- §7 hostile PDFs: one line on stderr, no traceback ----------------------------------------


def _pdf(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % start
    return bytes(out)


_PAGES = b"<< /Type /Pages /Kids [] /Count 0 >>"


def _xref_stream_pdf(widths: bytes) -> bytes:
    out = bytearray(b"%PDF-1.7\n")
    out += b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    out += b"2 0 obj\n" + _PAGES + b"\nendobj\n"
    start = len(out)
    rows = b"\x00\x00\x00\x00" * 4
    out += (b"3 0 obj\n<< /Type /XRef /Size 4 /W " + widths + b" /Root 1 0 R /Length %d >>\n"
            b"stream\n" % len(rows) + rows + b"\nendstream\nendobj\n")
    out += b"startxref\n%d\n%%%%EOF\n" % start
    return bytes(out)


HOSTILE_PDFS = {
    # RecursionError in pyHanko's parser
    "deep-arrays": _pdf([b"<< /Type /Catalog /Pages 2 0 R /X " + b"[" * 50000 + b"]" * 50000
                         + b" >>", _PAGES]),
    # ValueError: an xref subsection claiming 10^11 entries
    "huge-xref-count": _pdf([b"<< /Type /Catalog /Pages 2 0 R >>", _PAGES]).replace(
        b"xref\n0 3\n", b"xref\n0 99999999999\n"),
    # AssertionError: xref-stream /W that does not match its rows
    "bad-xref-stream-w": _xref_stream_pdf(b"[1 2 1]"),
    "short-xref-stream-w": _xref_stream_pdf(b"[1 2]"),
    # PdfStreamError: a signature field whose stream claims 10^14 bytes
    "huge-length": _pdf([b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [3 0 R] >> >>",
                         _PAGES, b"<< /Length 99999999999999 /FT /Sig >>\nstream\nabc\n"
                                 b"endstream"]),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_PDFS))
def test_hostile_pdf_gives_one_stderr_line(name: str, pki: SamplePki, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(HOSTILE_PDFS[name])
    done = ltv_cli("validate", path, "--trust", pki.directory / "root.pem", "--offline",
                   "--at", AT.isoformat())
    assert done.returncode == 4
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"ltv: error: {path}: ")
    assert "Traceback" not in done.stderr
    verbose = ltv_cli("-v", "validate", path, "--trust", pki.directory / "root.pem",
                      "--offline", "--at", AT.isoformat())
    assert verbose.returncode == 4
    assert verbose.stderr.splitlines()[-1] == line


def _incremental(signed: bytes, body: bytes, *, freed: tuple[int, ...] = ()) -> bytes:
    """``signed`` plus an incremental update adding one object (and freeing ``freed``)."""
    size = int(re.findall(rb"/Size (\d+)", signed)[-1])
    root = re.findall(rb"/Root (\d+ \d+ R)", signed)[-1]
    prev = int(re.findall(rb"startxref\s+(\d+)", signed)[-1])
    out = bytearray(signed)
    offset = len(out)
    out += b"%d 0 obj\n" % size + body + b"\nendobj\n"
    start = len(out)
    out += b"xref\n" + b"".join(b"%d 1\n0000000000 00001 f \n" % n for n in freed)
    out += b"%d 1\n%010d 00000 n \n" % (size, offset)
    out += b"trailer\n<< /Size %d /Root %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        size + 1, root, prev, start)
    return bytes(out)


@pytest.fixture(scope="module")
def signed_pdf(pki: SamplePki, phone_rsa: Phone) -> bytes:
    from test_pades import make_pdf

    return sign(make_pdf("Hostile lease"), phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                SignatureFormat.PADES, SignatureLevel.B_B, services=_services(pki, SIGNED_AT))


def test_library_warning_goes_into_the_report(signed_pdf: bytes, pki: SamplePki,
                                              tmp_path: Path) -> None:
    # pyHanko logs "Error in diff operation" with the SuspiciousModification's traceback
    freed = _incremental(signed_pdf, b"<< /X 1 >>", freed=(3,))
    path = tmp_path / "freed.pdf"
    path.write_bytes(freed)
    out = tmp_path / "freed.json"
    done = ltv_cli("validate", path, "--trust", pki.directory / "root.pem", "--offline",
                   "--at", AT.isoformat(), "--json", out)
    assert done.stderr == ""
    assert len(done.stdout.splitlines()) == 1
    doc = json.loads(out.read_text("utf-8"))
    assert doc["signatures"][0]["pdf_changes_after_signing"] == "disallowed"
    [note] = [w for w in doc["warnings"] if w.startswith("pyhanko.")]
    assert "Error in diff operation" in note
    assert "SuspiciousModification" in note
    assert "\n" not in note
    verbose = ltv_cli("-v", "validate", path, "--trust", pki.directory / "root.pem",
                      "--offline", "--at", AT.isoformat())
    assert any(line.startswith("ltv: note: ") and "Error in diff operation" in line
               for line in verbose.stderr.splitlines())


@pytest.mark.parametrize("body", [b"[" * 50000 + b"]" * 50000,
                                  b"<< /Length 99999999999999 >>\nstream\nabc\nendstream"])
def test_hostile_object_in_an_update_is_no_crash(signed_pdf: bytes, pki: SamplePki,
                                                 body: bytes, tmp_path: Path) -> None:
    path = tmp_path / "update.pdf"
    path.write_bytes(_incremental(signed_pdf, body))
    done = ltv_cli("validate", path, "--trust", pki.directory / "root.pem", "--offline",
                   "--at", AT.isoformat())
    assert "Traceback" not in done.stderr
    assert len(done.stdout.splitlines()) + len(done.stderr.splitlines()) == 1
    assert not done.stdout.startswith("PASSED")


# -- §9 the errors module is a leaf -------------------------------------------------------


def test_errors_module_imports_nothing_from_ltv() -> None:
    import ltv.errors

    tree = ast.parse(Path(ltv.errors.__file__).read_text("utf-8"))
    imported = {node.module for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert not {name for name in imported if name.startswith("ltv")}
