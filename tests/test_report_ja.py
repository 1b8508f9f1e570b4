"""Reports for people in Japan: who signed (the JPKI holder name), plain words for every
indication, the summary at the top, holder details only when asked and never logged, and the
PDF export (pdftotext reads the Japanese back)."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import SERVER_AT, PkiServer
from lxml import etree  # type: ignore[import-untyped,unused-ignore]
from test_validation_cades import CONTRACT, SIGNED_AT, _services
from test_validation_reports import schema_errors

from ltv.errors import LtvError
from ltv.signing import SignatureFormat, SignatureLevel, sign
from ltv.validation import (
    Indication,
    SubIndication,
    ValidationPolicy,
    ValidationReport,
    validate,
)
from ltv.validation.explain import explain, indication_label
from ltv.validation.report_html import to_html
from ltv.validation.report_json import dumps, to_json
from ltv.validation.report_options import ReportOptions
from ltv.validation.report_xml import NS, to_xml
from ltv.validation.summary import summary
from samples.phone import Phone
from samples.pki import Holder, SamplePki

HOLDER = Holder(name="電子 花子", address="大阪府大阪市北区中之島一丁目3番20号",
                date_of_birth="419850315", gender="2")
AT = SIGNED_AT + timedelta(minutes=10)
JA = ReportOptions(lang="ja")
EN = ReportOptions(lang="en")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def hanako(pki: SamplePki, tmp_path_factory: pytest.TempPathFactory) -> Phone:
    return Phone.enroll(tmp_path_factory.mktemp("phone-hanako") / "phone", pki,
                        key="rsa2048", holder=HOLDER, at=SERVER_AT)


@pytest.fixture(scope="module")
def signed(pki: SamplePki, pki_server: PkiServer, hanako: Phone) -> bytes:
    return sign(CONTRACT, hanako, [hanako.certificate, *hanako.chain], SignatureFormat.CADES,
                SignatureLevel.B_LTA, services=_services(pki, SIGNED_AT))


def _validate(data: bytes, pki: SamplePki, at: datetime) -> ValidationReport:
    return validate(data, policy=ValidationPolicy.default(trust_anchors=[pki.root]), at=at,
                    offline=True)


@pytest.fixture(scope="module")
def report(signed: bytes, pki: SamplePki) -> ValidationReport:
    return _validate(signed, pki, AT)


@pytest.fixture(scope="module")
def expired_report(signed: bytes, pki: SamplePki, hanako: Phone) -> ValidationReport:
    """Validated a month after the signer's certificate expired: the archive time-stamp's POE
    still carries it."""
    return _validate(signed, pki, hanako.certificate.not_valid_after_utc + timedelta(days=30))


# -- plain words for every indication -------------------------------------------------------------


def test_every_indication_and_sub_indication_in_plain_words() -> None:
    seen: dict[str, set[str]] = {"en": set(), "ja": set()}
    for main in Indication:
        for lang in ("en", "ja"):
            text = explain(main.token, None, lang)
            assert text
            assert text != main.token
            assert indication_label(main.token, lang) != main.token
            seen[lang].add(text)
        assert _JAPANESE.search(explain(main.token, None, "ja")), main
        assert not _JAPANESE.search(explain(main.token, None, "en")), main
    for sub in SubIndication:
        en = explain("INDETERMINATE", sub.token, "en")
        ja = explain("INDETERMINATE", sub.value, "ja")  # the URN works as well as the token
        assert sub.token not in en
        assert sub.token not in ja
        assert _JAPANESE.search(ja), sub
        assert not _JAPANESE.search(en), sub
        seen["en"].add(en)
        seen["ja"].add(ja)
    # every text is its own: no two indications explained alike
    assert len(seen["en"]) == len(seen["ja"]) == len(Indication) + len(SubIndication)
    assert explain("TOTAL_FAILED", "REVOKED_NO_POE", "ja") == (
        "署名は無効です。署名者の証明書は失効しており、失効より前に署名が存在したことの証明"
        "（失効前のタイムスタンプ）がありません。")
    assert explain("INDETERMINATE", "NO_POE", "ja").endswith("（タイムスタンプがありません）。")
    assert explain("SOMETHING-ELSE", "NEW_SUB", "en") == "SOMETHING-ELSE NEW_SUB"


# -- who signed -------------------------------------------------------------------------------


def test_json_names_the_holder_and_hides_the_details(report: ValidationReport) -> None:
    doc = to_json(report)
    assert schema_errors(doc) == []
    signer = doc["signatures"][0]["signer"]
    assert signer["holder_name"] == "電子 花子"
    assert signer["key_kind"] == "smartphone"
    assert signer["issuer_name"] == "LTV Sample Smartphone Signing CA"
    assert "holder_details" not in signer
    text = dumps(report)
    for personal in (HOLDER.address, HOLDER.date_of_birth):
        assert personal not in text
    assert '"holder_name": "電子 花子"' in text  # ensure_ascii=False: readable Japanese

    asked = to_json(report, ReportOptions(show_holder_details=True))
    assert schema_errors(asked) == []
    assert asked["signatures"][0]["signer"]["holder_details"] == {
        "address": HOLDER.address, "date_of_birth": "419850315", "gender": "2"}
    assert HOLDER.address in dumps(report, options=ReportOptions(show_holder_details=True))


def test_xml_names_the_holder_and_hides_the_details(report: ValidationReport) -> None:
    def report_data(xml: str) -> dict[str, str]:
        root = etree.fromstring(xml.encode())
        return {rd.findtext(f"{{{NS}}}Type"): rd.findtext(f"{{{NS}}}Value")
                for rd in root.iter(f"{{{NS}}}ReportData")}

    plain = report_data(to_xml(report))
    assert plain["urn:ltv:validation:holder-name"] == "電子 花子"
    assert plain["urn:ltv:validation:key-kind"] == "smartphone"
    assert "urn:ltv:validation:holder-address" not in plain
    assert HOLDER.address not in to_xml(report)
    asked = report_data(to_xml(report, ReportOptions(show_holder_details=True)))
    assert asked["urn:ltv:validation:holder-address"] == HOLDER.address
    assert asked["urn:ltv:validation:holder-gender"] == "2"


def test_html_shows_the_holder_in_japanese(report: ValidationReport) -> None:
    page = to_html(report, title="契約書.p7s", options=JA)
    assert page.startswith('<!DOCTYPE html>\n<html lang="ja">')
    assert '<strong class="holder-name">電子 花子</strong>' in page
    assert "<th>署名者</th>" in page
    assert "<th>鍵</th>" in page
    assert "スマートフォン (rsa-2048)" in page
    assert "<th>発行元の認証局</th><td>LTV Sample Smartphone Signing CA</td>" in page
    assert "有効 (TOTAL-PASSED)" in page  # plain words and the standard token side by side
    assert "アーカイブタイムスタンプ" in page
    assert "署名タイムスタンプ" in page
    assert " JST" in page
    assert "UTC" not in page.split("<main>", 1)[1].split("schema")[0]
    for personal in (HOLDER.address, "419850315", "女性", "<th>住所</th>"):
        assert personal not in page
    asked = to_html(report, options=ReportOptions(lang="ja", show_holder_details=True))
    assert f"<th>住所</th><td>{HOLDER.address}</td>" in asked
    assert "<th>性別</th><td>女性</td>" in asked
    english = to_html(report, options=EN)
    assert '<html lang="en">' in english
    assert "<th>Issuing CA</th>" in english
    assert '<strong class="holder-name">電子 花子</strong>' in english
    assert "smartphone (rsa-2048)" in english


def test_holder_details_are_never_logged(signed: bytes, pki: SamplePki,
                                         caplog: pytest.LogCaptureFixture, tmp_path: Path
                                         ) -> None:
    with caplog.at_level(logging.DEBUG):
        report = _validate(signed, pki, AT)
        options = ReportOptions(lang="ja", show_holder_details=True)
        to_html(report, options=options)
        dumps(report, options=options)
        to_xml(report, options)
        logging.getLogger("ltv.test").info("report: %r", report)
    assert caplog.records, "nothing was logged: the check would prove nothing"
    for personal in (HOLDER.address, HOLDER.date_of_birth):
        assert personal not in caplog.text
        assert personal not in repr(report)
    assert "電子 花子" in repr(report.signatures[0].signer)


# -- the summary at the top ---------------------------------------------------------------------


def test_summary_of_a_valid_signature(report: ValidationReport, hanako: Phone) -> None:
    expiry = hanako.certificate.not_valid_after_utc.astimezone(ZoneInfo("Asia/Tokyo"))
    ja = summary(report, JA)
    assert ja.startswith("この契約書の署名は有効です。署名者は電子 花子です（スマートフォンの鍵、"
                         "証明書の発行元: LTV Sample Smartphone Signing CA）。")
    assert (f"署名者の証明書の有効期限は{expiry.year}年{expiry.month}月{expiry.day}日です。"
            in ja), ja
    en = summary(report, EN)
    assert en.startswith("The signature on this contract is valid. The signer is 電子 花子 "
                         "(smartphone key, certificate issued by LTV Sample Smartphone Signing "
                         "CA).")


def test_summary_after_the_certificate_expired(expired_report: ValidationReport,
                                               hanako: Phone) -> None:
    assert expired_report.indication is Indication.TOTAL_PASSED
    ja = summary(expired_report, JA)
    year = hanako.certificate.not_valid_after_utc.year
    assert re.search(rf"署名者の証明書は{year}年\d+月\d+日に有効期限が切れましたが、"
                     r"署名時点の存在がタイムスタンプで証明されています（\d{4}年\d+月\d+日 "
                     r"\d\d:\d\d:\d\d JST）。", ja), ja
    era = summary(expired_report, ReportOptions(lang="ja", era=True))
    assert "令和" in era
    assert f"{year}年" not in era
    en = summary(expired_report, EN)
    assert "The signer's certificate expired on " in en
    assert "but a time-stamp proves the signature existed at the time of signing" in en
    utc = summary(expired_report, ReportOptions(lang="ja", tz="UTC"))
    assert " UTC）" in utc


def test_summary_of_a_failed_signature(signed: bytes, pki: SamplePki) -> None:
    pos = signed.index(CONTRACT[:16])
    tampered = signed[:pos] + b"X" + signed[pos + 1:]
    report = _validate(tampered, pki, AT)
    assert report.signatures[0].subindication is SubIndication.HASH_FAILURE
    assert summary(report, JA).startswith(
        "この契約書の署名は無効です。署名者は電子 花子です")
    assert summary(report, JA).endswith(
        "署名後に文書が変更されています。文書の指紋（ハッシュ値）が署名に記録されたものと"
        "一致しません。")
    assert "HASH_FAILURE" in to_html(report, options=JA)  # the token stays next to the words


def test_summary_without_signatures() -> None:
    empty = ValidationReport(validation_time=datetime(2026, 12, 3, tzinfo=UTC), policy="p",
                             offline=True, document_sha256="00", signatures=())
    assert summary(empty, JA) == "この文書に署名は見つかりませんでした。"
    assert summary(empty, EN) == "No signature was found in this document."


def test_unknown_time_zone_is_refused(report: ValidationReport) -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        to_html(report, options=ReportOptions(lang="ja", tz="Mars/Base"))


# -- PDF for filing ---------------------------------------------------------------------------


def test_pdf_export_in_japanese(report: ValidationReport, tmp_path: Path) -> None:
    from ltv.report_pdf import write_report_pdf

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    out = tmp_path / "report.pdf"
    write_report_pdf(report, out, JA)
    assert out.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(out), "-"],
                          capture_output=True, text=True, check=True).stdout
    flat = re.sub(r"\s+", "", text)
    assert "この契約書の署名は有効です。" in flat
    assert "電子花子" in flat  # pdftotext may split the space between family and given name
    assert "TOTAL-PASSED" in flat
    assert HOLDER.address.replace(" ", "") not in flat
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True,
                          check=True).stdout
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info), info


def test_pdf_export_refusals(report: ValidationReport, tmp_path: Path) -> None:
    from ltv.report_pdf import write_report_pdf

    missing = tmp_path / "nowhere" / "report.pdf"
    with pytest.raises(LtvError, match=re.escape(
            f"cannot write the report PDF to {missing}: no directory {missing.parent}")):
        write_report_pdf(report, missing, JA)
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        write_report_pdf(report, tmp_path / "r.pdf", ReportOptions(tz="Mars/Base"))
    assert not (tmp_path / "r.pdf").exists()


def test_json_schema_documents_holder_fields() -> None:
    from ltv.validation.report_json import json_schema

    signer = json_schema()["$defs"]["signer"]["properties"]
    assert {"holder_name", "issuer_name", "holder_details"} <= set(signer)
    assert json.dumps(signer["holder_details"]["properties"], sort_keys=True) == json.dumps(
        {"address": {"type": ["string", "null"]}, "date_of_birth": {"type": ["string", "null"]},
         "gender": {"type": ["string", "null"]}}, sort_keys=True)


def test_text_report(report: ValidationReport) -> None:
    from ltv.validation.report_text import to_text

    ja = to_text(report, JA)
    lines = ja.splitlines()
    assert lines[0].startswith("この契約書の署名は有効です。署名者は電子 花子です")
    assert lines[2] == "[1] signature: 有効 (TOTAL-PASSED)"
    assert "    署名者: 電子 花子" in lines
    assert "    鍵: スマートフォン (rsa-2048)" in lines
    assert "    発行元の認証局: LTV Sample Smartphone Signing CA" in lines
    assert HOLDER.address not in ja
    asked = to_text(report, ReportOptions(lang="ja", show_holder_details=True))
    assert f"    住所: {HOLDER.address}" in asked.splitlines()
    en = to_text(report, EN)
    assert "[1] signature: Valid (TOTAL-PASSED)" in en.splitlines()
    assert "    Signer: 電子 花子" in en.splitlines()


def test_holder_data_from_odd_certificates(pki: SamplePki) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from ltv.jpki import HOLDER_OIDS
    from ltv.validation.holder import holder_data, issuer_name

    key = ec.generate_private_key(ec.SECP256R1())

    def cert(san: list[x509.GeneralName] | None) -> x509.Certificate:
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
                   .issuer_name(pki.root.subject).public_key(key.public_key())
                   .serial_number(1).not_valid_before(SIGNED_AT)
                   .not_valid_after(SIGNED_AT + timedelta(days=1)))
        if san is not None:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(key, hashes.SHA256())

    name = x509.ObjectIdentifier(HOLDER_OIDS["name"])
    assert holder_data(cert(None)).name is None
    assert holder_data(cert([x509.OtherName(name, b"\x02\x01\x05")])).name is None  # INTEGER
    assert holder_data(cert([x509.OtherName(name, b"\x30\x00")])).name is None  # SEQUENCE
    bmp = "山田 太郎".encode("utf-16-be")
    assert holder_data(cert([x509.OtherName(name, bytes([0x1E, len(bmp)]) + bmp)])).name \
        == "山田 太郎"  # BMPString, as older profiles write it
    assert issuer_name(cert(None)) == "LTV Sample Root CA"


def test_language_tags_are_normalised(report: ValidationReport) -> None:
    page = to_html(report, options=ReportOptions(lang="ja-JP"))
    assert '<html lang="ja">' in page
    assert "この契約書の署名は有効です。" in page
    assert '<html lang="en">' in to_html(report, options=ReportOptions(lang="fr"))


def test_summary_after_a_revocation(report: ValidationReport) -> None:
    """Revoked after signing, with a time-stamp from before: the summary says both."""
    from dataclasses import replace

    sig = report.signatures[0]
    revoked_at = datetime(2027, 4, 1, 3, 0, tzinfo=UTC)
    rows = tuple(replace(c, revocation_time=revoked_at, revocation_reason="keyCompromise")
                 if c.role == "signer" else c for c in sig.certificates)
    revoked = replace(report, signatures=(replace(sig, certificates=rows),))
    assert ("署名者の証明書は2027年4月1日に失効しましたが、失効より前に署名が存在したことが"
            "タイムスタンプで証明されています（") in summary(revoked, JA)
    assert "The signer's certificate was revoked on 2027-04-01, but a time-stamp proves" \
        in summary(revoked, EN)
    page = to_html(revoked, options=JA)
    assert '<strong style="color:#b42318">失効 2027年4月1日 12:00:00 JST</strong>' in page
    assert '<g class="revocation">' in page
