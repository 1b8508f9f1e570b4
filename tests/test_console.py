"""The archive console: ``/v1/console`` over a real archive (tenant isolation, search, paging,
packages weakening within N days at the app's injected clock, the next renewal due from the
renewal job's own rule, the last renewal run), and every ``/console`` page driven in headless
Chromium in Japanese and English (sign in, list, search, timeline, verify now, downloads, sign
out; key texts, no console errors, no serious axe violations, screenshots at desktop and phone
widths; ``LTV_UPDATE_SCREENSHOTS=1`` writes README's docs/img/console-*.png).

One archive and one uvicorn server for the module; one browser per language. The archive:
``acme`` holds a real B-LTA PDF archived through the API (the sample PKI's TSA) and four
packages ingested under test TSAs whose certificates expire at chosen dates around ``NOW``;
``other`` holds one package.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import SERVER_AT, free_port
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from server_helpers import assert_problem, served

from archive.ingest import IngestItem, ingest
from archive.memory import MemoryStore
from archive.renew import DEFAULT_MARGIN, deadlines, plan, renew
from archive.renew_runs import read_run, run_key
from archive.store import ObjectStore, open_store
from ltv.algorithms import DigestAlgorithm
from ltv.cli._services import build_services
from ltv.clock import FixedClock, OffsetClock, format_time
from ltv.errors import TimestampError
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.server.app import create_app
from ltv.server.settings import ServerSettings
from ltv.server.tenants import add_tenant
from ltv.signing import SignatureFormat, SignatureLevel, sign
from ltv.timestamps import LocalTimestampClient, TimestampToken
from ltv.validation import RevocationFetchers
from tsa.authority import TimeStampAuthority, TsaIdentity
from tsa.serials import MemorySerialSource

NOW = SERVER_AT + timedelta(hours=2)  # the console's clock: 2026-01-02T02:00Z (11:00 JST)
SIGN_AT = SERVER_AT  # the sample TSA (ltv pki serve --at SERVER_AT) stamps just after
DAY = timedelta(days=1)
DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"


# --- test TSAs whose certificates expire when the test says --------------------------------


@dataclass
class ClockTsa:
    name: str
    certificate: x509.Certificate
    _key: ec.EllipticCurvePrivateKey
    _root: x509.Certificate

    def client(self, at: datetime) -> LocalTimestampClient:
        identity = TsaIdentity(private_key=self._key, certificate=self.certificate,
                               chain=(self._root,))
        authority = TimeStampAuthority(identity, serials=MemorySerialSource(),
                                       clock=FixedClock(at))
        return LocalTimestampClient(authority.respond)


def make_tsa(name: str, not_before: datetime, not_after: datetime) -> ClockTsa:
    root_key = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} Root")])
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(1)
            .not_valid_before(not_before - DAY).not_valid_after(not_after + 3650 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(root_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(root_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                           critical=True)
            .sign(root_key, hashes.SHA256()))
    return ClockTsa(name=name, certificate=cert, _key=key, _root=root)


class FailingTsa:
    def timestamp(self, digest: bytes, algorithm: DigestAlgorithm) -> TimestampToken:
        raise TimestampError("the TSA is down")


# --- the archive and the server ------------------------------------------------------------


@dataclass
class Archive:
    base: str
    store: ObjectStore
    keys: dict[str, str]
    ids: dict[str, str]  # P (real PDF), A, B, C, D (renewed) of acme; O of other
    expiry: dict[str, datetime]  # TSA certificate expiry of each package's newest timestamp
    signed_pdf: bytes


def _ingest(store: ObjectStore, tsa: ClockTsa, at: datetime, name: str, tenant: str,
            **metadata: str) -> str:
    item = IngestItem(signed=f"contract {name}".encode(), signed_name=f"{name}.pdf",
                      metadata=metadata)
    return ingest(store, [item], timestamps=tsa.client(at), tenant=tenant,
                  clock=FixedClock(at))[0]


@pytest.fixture(scope="module")
def archive(pki: Any, pki_server: Any, phone_rsa: Any,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    from test_pades import sample_pdf

    store = open_store((tmp_path_factory.mktemp("console") / "store").as_uri())
    keys = {name: add_tenant(store, name)[1] for name in ("acme", "other")}
    services = build_services(pki=pki.directory, clock=OffsetClock(SIGN_AT))
    signed_pdf = sign(sample_pdf(), phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                      SignatureFormat.PADES, SignatureLevel.B_LTA, services=services)
    fetchers = RevocationFetchers(ocsp=HttpOCSPFetcher(), crl=HttpCRLFetcher(),
                                  certificates=HttpCertificateFetcher())
    app = create_app(ServerSettings(trust=(pki.directory / "root.pem",)), store=store,
                     services=services, fetchers=fetchers, clock=OffsetClock(NOW))
    with served(app, free_port()) as base:
        ids: dict[str, str] = {}
        expiry: dict[str, datetime] = {}
        answer = httpx.post(f"{base}/v1/archive", headers=auth(keys["acme"]),
                            files={"file": ("deal.pdf", signed_pdf, "application/pdf")},
                            data={"meta": ["contract-id=C-2026-001", "title=業務委託契約書",
                                           "counterparty=株式会社アクメ商事"]}, timeout=120)
        assert answer.status_code == 201, answer.text
        ids["P"] = answer.json()["id"]
        # D: archived two years ago under a TSA that expires in 90 days, renewed yesterday
        old = make_tsa("Old TSA", NOW - 1500 * DAY, NOW + 90 * DAY)
        renewal = make_tsa("Renewal TSA", NOW - 365 * DAY, NOW + 3650 * DAY)
        ids["D"] = _ingest(store, old, NOW - 730 * DAY, "lease-2024", "acme",
                           **{"contract-id": "C-2024-009", "title": "賃貸借契約書"})
        summary = renew(store, timestamps=renewal.client(NOW - DAY), tenant="acme",
                        clock=FixedClock(NOW - DAY), margin=DEFAULT_MARGIN)
        assert (summary.batches, summary.timestamp_renewed) == (2, 1)
        expiry["D"] = renewal.certificate.not_valid_after_utc
        for label, days_left, age, meta in (
                ("A", 100, 30, {"contract-id": "C-2025-117", "title": "売買契約書",
                                "counterparty": "Beta Trading"}),
                ("B", 1095, 10, {"contract-id": "C-2025-201", "title": "秘密保持契約書"}),
                ("C", -5, 400, {"contract-id": "C-2024-044", "title": "Supply agreement"})):
            tsa = make_tsa(f"TSA {label}", NOW - 1200 * DAY, NOW + days_left * DAY)
            ids[label] = _ingest(store, tsa, NOW - age * DAY, f"contract-{label.lower()}",
                                 "acme", **meta)
            expiry[label] = tsa.certificate.not_valid_after_utc
        other = make_tsa("Other TSA", NOW - 365 * DAY, NOW + 30 * DAY)
        ids["O"] = _ingest(store, other, NOW - 5 * DAY, "theirs", "other",
                           **{"contract-id": "C-OTHER-1", "title": "売買契約書"})
        yield Archive(base=base, store=store, keys=keys, ids=ids, expiry=expiry,
                      signed_pdf=signed_pdf)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def get(archive: Archive, path: str, tenant: str = "acme", **params: Any) -> httpx.Response:
    return httpx.get(f"{archive.base}{path}", params=params, headers=auth(archive.keys[tenant]),
                     timeout=60)


def names(answer: httpx.Response, archive: Archive) -> list[str]:
    assert answer.status_code == 200, answer.text
    by_id = {v: k for k, v in archive.ids.items()}
    return [by_id[i["id"]] for i in answer.json()["items"]]


# --- the data endpoints --------------------------------------------------------------------


def test_tenant_isolation(archive: Archive) -> None:
    assert names(get(archive, "/v1/console/packages"), archive) == ["P", "B", "A", "C", "D"]
    assert names(get(archive, "/v1/console/packages", "other"), archive) == ["O"]
    theirs = archive.ids["O"]
    for path in (f"/v1/console/packages/{theirs}", f"/v1/console/packages/{theirs}/package.zip"):
        body = assert_problem(get(archive, path), 404, "not-found")
        assert body["detail"] == f"no archive package {theirs}"
    assert_problem(get(archive, "/v1/console/packages/not-an-id"), 404, "not-found")
    assert get(archive, f"/v1/console/packages/{theirs}", "other").status_code == 200
    assert get(archive, "/v1/console/summary", "other").json()["counts"]["packages"] == 1
    assert "O" not in names(get(archive, "/v1/console/weakening", days=3650), archive)
    for path in ("/v1/console/summary", "/v1/console/packages", "/v1/console/weakening"):
        body = assert_problem(httpx.get(f"{archive.base}{path}"), 401, "unauthorized")
        assert "Authorization: Bearer KEY" in body["detail"]
        assert_problem(httpx.get(f"{archive.base}{path}",
                                 headers=auth("ltv_" + "x" * 43)), 401, "unauthorized")


def test_search_and_paging(archive: Archive) -> None:
    def found(**params: Any) -> list[str]:
        return names(get(archive, "/v1/console/packages", **params), archive)

    assert found(q="売買") == ["A"]
    assert found(q="c-2025") == ["B", "A"]  # any case
    assert found(q="Ｃ－２０２５－１１７") == ["A"]  # full width = half width
    assert found(q="c-2025 beta") == ["A"]  # every word
    assert found(q="deal.pdf") == ["P"]  # the file name
    assert found(q="C-2025", field="title") == []
    assert found(q="C-2025-1", field="contract-id") == ["A"]
    assert found(q="", field="counterparty") == ["P", "A"]  # the packages that have the field
    assert found(q="nothing like it") == []
    page = get(archive, "/v1/console/packages", limit=2, offset=2).json()
    assert [i["id"] for i in page["items"]] == [archive.ids["A"], archive.ids["C"]]
    assert (page["total"], page["offset"], page["limit"]) == (5, 2, 2)
    assert page["fields"] == ["contract-id", "counterparty", "title"]
    last = get(archive, "/v1/console/packages", limit=2, offset=4).json()
    assert [i["id"] for i in last["items"]] == [archive.ids["D"]]
    item = next(i for i in page["items"] if i["id"] == archive.ids["A"])
    assert item["signed_name"] == "contract-a.pdf"
    assert item["metadata"] == {"contract-id": "C-2025-117", "counterparty": "Beta Trading",
                                "title": "売買契約書"}
    assert item["created"]["iso"] == format_time(NOW - 30 * DAY)
    assert item["last_archive_timestamp"]["tsa"] == "TSA A"
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"q": "x" * 201}):
        body = assert_problem(get(archive, "/v1/console/packages", **bad), 422,
                              "invalid-request")
        assert body["errors"][0]["loc"] == ["query", next(iter(bad))]
    body = assert_problem(get(archive, "/v1/console/packages", lang="fr"), 422, "invalid-input")
    assert body["detail"] == "lang: unsupported language 'fr' (choose en, ja)"


def test_weakening_within_n_days(archive: Archive) -> None:
    # A's TSA certificate expires in 100 days, C's expired 5 days ago, B's in three years
    assert names(get(archive, "/v1/console/weakening"), archive) == ["C", "A"]
    assert names(get(archive, "/v1/console/weakening", days=90), archive) == ["C"]
    assert names(get(archive, "/v1/console/weakening", days=0), archive) == ["C"]
    assert names(get(archive, "/v1/console/weakening", days=1100), archive) == ["C", "A", "B"]
    body = get(archive, "/v1/console/weakening").json()
    assert (body["days"], body["margin_days"]) == (180, 180)
    a = body["items"][1]["next_renewal"]
    assert a["weakens"]["iso"] == format_time(archive.expiry["A"])
    assert a["due"]["iso"] == format_time(archive.expiry["A"] - DEFAULT_MARGIN)
    assert (a["kind"], a["overdue"], a["days_left"]) == ("timestamp", True, 99)
    assert a["reason"] == "the TSA certificate of the newest archive time-stamp expires"
    assert body["items"][0]["next_renewal"]["days_left"] == -6
    # within the margin = what the renewal job would renew now (its own rule, not a copy)
    _, plans = plan(archive.store, tenant="acme", at=NOW, margin=DEFAULT_MARGIN)
    batches = {json.loads(archive.store.get(f"acme/packages/{archive.ids[n]}.json"))["batch"]
               for n in ("A", "C")}
    assert {p.batch for p in plans} == batches
    for bad in (-1, 36501, "soon"):
        body = assert_problem(get(archive, "/v1/console/weakening", days=bad), 422,
                              "invalid-request")
        assert body["errors"][0]["loc"] == ["query", "days"]


def test_summary_counts_next_renewal_and_last_run(archive: Archive) -> None:
    en = get(archive, "/v1/console/summary").json()
    assert en["counts"] == {"packages": 5, "evidence_records": 5, "batches": 5,
                            "archive_timestamps": 6, "due_soon": 2, "unreadable": 0}
    assert en["next_renewal"]["overdue"] is True
    assert en["next_renewal"]["packages"] == 2
    assert en["last_run"]["outcome"] == "ok"
    assert en["last_run"]["outcome_text"] == "succeeded"
    assert (en["last_run"]["batches"], en["last_run"]["renewed"],
            en["last_run"]["tsa_calls"]) == (2, 1, 1)
    assert en["last_run"]["started"] == {"iso": "2026-01-01T02:00:00Z",
                                         "text": "2026-01-01 02:00:00 UTC"}
    assert [w["id"] for w in en["weakening"]] == [archive.ids["C"], archive.ids["A"]]
    ja = httpx.get(f"{archive.base}/v1/console/summary", timeout=60,
                   headers={**auth(archive.keys["acme"]), "Accept-Language": "ja,en;q=0.5"})
    body = ja.json()
    assert body["last_run"]["outcome_text"] == "成功"
    assert body["last_run"]["started"]["text"] == "2026年1月1日 11:00:00 JST"
    assert body["next_renewal"]["reason"] == ("最新のアーカイブタイムスタンプの時刻認証局証明書が"
                                              "有効期限を迎える")
    assert get(archive, "/v1/console/summary", lang="en").json()["last_run"] == en["last_run"]
    other = get(archive, "/v1/console/summary", "other").json()
    assert other["last_run"] is None  # never renewed
    assert other["counts"]["due_soon"] == 1


def test_package_timeline(archive: Archive) -> None:
    p = get(archive, f"/v1/console/packages/{archive.ids['P']}", lang="ja").json()
    kinds = [e["kind"] for e in p["timeline"]]
    for kind in ("signed", "signature-timestamp", "archive-ingest", "now", "weakens",
                 "renewal-due", "signer-expires", "retain-until"):
        assert kind in kinds, kinds
    assert kinds.index("archive-ingest") < kinds.index("now") < kinds.index("renewal-due")
    times = [e["at"]["iso"] for e in p["timeline"]]
    assert times == sorted(times)
    assert all(e["future"] == (e["at"]["iso"] > format_time(NOW)) for e in p["timeline"]
               if e["kind"] != "now")
    assert {s["label"] for s in p["signature_timestamps"]} <= {"署名タイムスタンプ",
                                                               "ドキュメントタイムスタンプ"}
    assert "署名タイムスタンプ" in {s["label"] for s in p["signature_timestamps"]}
    record = p["evidence_record"]
    assert [(e["kind"], e["algorithm"]) for e in record] == [("ingest", "sha256")]
    assert record[0]["label"] == "登録時のアーカイブタイムスタンプ（証拠記録の開始）"
    assert record[0]["tsa_expires"]["text"].endswith("JST")
    assert p["signature"]["level"] == "B-LTA"
    assert p["signature"]["indication_at_ingest"] == "TOTAL-PASSED"
    due = p["next_renewal"]
    assert due["weakens"]["iso"] == record[0]["tsa_expires"]["iso"]
    assert due["overdue"] is False

    d = get(archive, f"/v1/console/packages/{archive.ids['D']}").json()
    assert [(e["kind"], e["tsa"]) for e in d["evidence_record"]] == [
        ("ingest", "Old TSA"), ("timestamp", "Renewal TSA")]
    assert d["evidence_record"][1]["label"] == "Archive time-stamp renewed"
    assert d["next_renewal"]["weakens"]["iso"] == format_time(archive.expiry["D"])
    assert d["next_renewal"]["due"]["text"] == (archive.expiry["D"] - DEFAULT_MARGIN
                                                ).date().isoformat()
    assert d["signature"] is None  # not a signed file: no signature facts, no error
    [event] = [e for e in d["timeline"] if e["kind"] == "renewal-due"]
    assert event["label"] == "Next renewal due"
    assert event["detail"] == "180 days before the evidence weakens (renewal margin)"


def test_package_zip_is_the_export(archive: Archive) -> None:
    pid = archive.ids["P"]
    answer = get(archive, f"/v1/console/packages/{pid}/package.zip")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"] == \
        f'attachment; filename="package-{pid[:16]}.zip"'
    with zipfile.ZipFile(io.BytesIO(answer.content)) as zipped:
        files = set(zipped.namelist())
        root = pid[:16]
        assert zipped.read(f"{root}/package/deal.pdf") == archive.signed_pdf
        record = get(archive, f"/v1/archive/{pid}/evidence-record").content
        assert zipped.read(f"{root}/evidence/evidence-record.ers") == record
        assert zipped.read(f"{root}/package/manifest.json") == archive.store.get(
            f"acme/packages/{pid}.json")
    assert f"{root}/evidence/objects/00-manifest.json" in files


def test_pages_are_served_with_a_strict_policy(archive: Archive) -> None:
    page = httpx.get(f"{archive.base}/console/packages", headers={"Accept-Language": "ja"})
    assert page.status_code == 200
    assert page.headers["content-language"] == "ja"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "form-action 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert '<html lang="ja">' in page.text
    assert "<h1 id=\"title\">パッケージ</h1>" in page.text
    assert "<script>" not in page.text  # no inline script: only the data block and the file
    en = httpx.get(f"{archive.base}/console?lang=en", headers={"Accept-Language": "ja"})
    assert '<html lang="en">' in en.text
    assert ">Dashboard</h1>" in en.text
    assert_problem(httpx.get(f"{archive.base}/console?lang=xx"), 422, "invalid-input")
    assert_problem(httpx.get(f"{archive.base}/console/packages/zz"), 404, "not-found")
    js = httpx.get(f"{archive.base}/console/static/console.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert "sessionStorage" in js.text
    assert httpx.get(f"{archive.base}/console/static/console.css").status_code == 200
    assert_problem(httpx.get(f"{archive.base}/console/static/app.py"), 404, "not-found")


def test_renewal_runs_are_recorded_and_deadlines_follow_the_rule() -> None:
    start = datetime(2026, 11, 1, tzinfo=SERVER_AT.tzinfo)
    tsa = make_tsa("Short TSA", start - 30 * DAY, start + 100 * DAY)
    store = MemoryStore()
    _ingest(store, tsa, start, "x", "default")
    renew(store, timestamps=tsa.client(start), clock=FixedClock(start), dry_run=True)
    assert read_run(store, "default") is None  # a dry run writes nothing
    with pytest.raises(TimestampError, match="the TSA is down"):
        renew(store, timestamps=FailingTsa(), clock=FixedClock(start + DAY))
    run = read_run(store, "default")
    assert run is not None
    assert (run.outcome, run.error, run.started) == ("failed", "TimestampError", start + DAY)
    store.put_mutable(run_key("default"), b"{not json")
    assert read_run(store, "default") is None  # unreadable: as if none
    # the rule: the TSA certificate's expiry minus the margin, unless a sunset comes first
    from archive.ingest import batch_ids, last_entry

    last = last_entry(store, batch_ids(store)[0])
    assert last is not None
    [only] = deadlines(last, margin=DEFAULT_MARGIN)
    assert (only.kind, only.due, only.weakens) == (
        "timestamp", start + 100 * DAY - DEFAULT_MARGIN, start + 100 * DAY)
    sunset = start + 50 * DAY
    first, second = deadlines(last, margin=DEFAULT_MARGIN, sunsets={"sha256": sunset})
    assert (first.kind, first.due, first.algorithm) == (
        "hash-tree", sunset - DEFAULT_MARGIN, DigestAlgorithm.SHA512)
    assert second.kind == "timestamp"
    _, plans = plan(store, at=sunset - DEFAULT_MARGIN, sunsets={"sha256": sunset})
    assert [p.kind for p in plans] == ["hash-tree"]
    assert plan(store, at=sunset - DEFAULT_MARGIN - DAY, sunsets={"sha256": sunset})[1] == []


# --- the pages in headless Chromium --------------------------------------------------------

TEXTS = {
    "ja": {
        "signin": ["サインイン", "APIキー", "URLに現れることはありません"],
        "refused": "このAPIキーは受け付けられませんでした。確認してもう一度お試しください。",
        "dashboard": ["ダッシュボード", "アーカイブタイムスタンプ", "次回更新期限",
                      "前回の更新処理",
                      "2026年1月1日 11:00:00 JST：成功。2 バッチを確認、1 件を更新",
                      "現在：次回の ltv archive renew で 2 件のパッケージを更新します。",
                      "180日以内に証拠が弱まるパッケージ", "売買契約書"],
        "packages": ["契約書 / ファイル", "メタデータ", "次回更新期限", "5 件中 1–5 件"],
        "found": "1 件中 1–1 件",
        "package": ["タイムライン", "登録時のアーカイブタイムスタンプ（証拠記録の開始）",
                    "署名タイムスタンプ", "時刻認証局証明書の有効期限", "証拠の連鎖",
                    "証拠記録をダウンロード（RFC 4998）", "業務委託契約書", "現在", "予定",
                    "までに更新：", "JST"],
        "verified": "オフラインで検証しました：有効（TOTAL-PASSED）。証拠記録には 1 個の"
                    "アーカイブタイムスタンプがあります。",
        "downloaded": "evidence-record.ers（",
        "weakening": ["180日以内に証拠が弱まるパッケージ", "残り99日", "期限到来"],
        "weakening90": "90日以内に証拠が弱まるパッケージ",
    },
    "en": {
        "signin": ["Sign in", "API key", "it never appears in an address"],
        "refused": "This API key was refused. Check it and try again.",
        "dashboard": ["Dashboard", "Archive time-stamps", "Next renewal due", "Last renewal run",
                      "2026-01-01 02:00:00 UTC: succeeded. 2 batch(es) checked, 1 renewed",
                      "Now: the next run of ltv archive renew renews 2 package(s).",
                      "Evidence weakening within 180 days", "売買契約書"],
        "packages": ["Contract / file", "Metadata", "Next renewal due", "1–5 of 5"],
        "found": "1–1 of 1",
        "package": ["Timeline", "Archive time-stamp at ingest: the evidence record begins",
                    "signature time-stamp", "TSA certificate expiry", "Evidence chain",
                    "Download the evidence record (RFC 4998)", "業務委託契約書", "Now", "to come",
                    "Renew by ", "UTC"],
        "verified": "Verified offline now: Valid (TOTAL-PASSED). The evidence record holds 1 "
                    "archive time-stamp(s).",
        "downloaded": "Downloaded evidence-record.ers (",
        "weakening": ["Evidence weakening within 180 days", "99 days left", "due now"],
        "weakening90": "Evidence weakening within 90 days",
    },
}
UNAUTHORIZED = ("Failed to load resource: the server responded with a status of 401 "
                "(Unauthorized)")


def _text(page: Any) -> str:
    return str(page.evaluate("document.body.innerText"))


def _check(page: Any, shots: Path, name: str, phone: bool = True) -> None:
    """No console error, no serious axe violation; screenshots at desktop and phone width."""
    assert page.console_errors() == []
    assert page.axe_violations() == [], name
    page.screenshot(shots / f"{name}.png", full_page=True)
    if phone:
        page.send("Emulation.setDeviceMetricsOverride", width=390, height=844,
                  deviceScaleFactor=1, mobile=True)
        try:
            page.wait_for("document.documentElement.clientWidth <= 390")
            # nothing wider than the phone: long names and tables wrap or scroll in a box
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
            page.screenshot(shots / f"{name}-phone.png", full_page=True)
        finally:
            page.send("Emulation.setDeviceMetricsOverride", width=1200, height=900,
                      deviceScaleFactor=1, mobile=False)


def _downloaded(folder: Path, name: str, timeout: float = 30) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        target = folder / name
        if target.is_file() and not list(folder.glob("*.crdownload")):
            return target.read_bytes()
        time.sleep(0.1)
    raise AssertionError(f"{name} was not downloaded: {sorted(os.listdir(folder))}")


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_console_pages_in_chromium(archive: Archive, lang: str, tmp_path: Path) -> None:
    from browser_helpers import browser
    from test_server_web import CHROMIUM

    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    texts = TEXTS[lang]
    shots = tmp_path / "shots"
    shots.mkdir()
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    base, key = archive.base, archive.keys["acme"]
    pid = archive.ids["P"]
    with browser(tmp_path, lang=lang) as page:
        page.send("Browser.setDownloadBehavior", behavior="allow",
                  downloadPath=str(downloads))
        # sign in: the form first; a wrong key is refused and not kept
        page.goto(f"{base}/console", ready="!document.getElementById('signin').hidden")
        assert page.evaluate("document.documentElement.lang") == lang
        assert page.evaluate("document.getElementById('content').hidden") is True
        for text in texts["signin"]:
            assert text in _text(page), text
        _check(page, shots, f"signin-{lang}", phone=False)
        page.evaluate("document.getElementById('api-key').value = 'ltv_" + "x" * 43 + "';"
                      "document.getElementById('signin-form').requestSubmit(); true")
        page.wait_for("document.getElementById('signin-error').textContent !== ''")
        assert page.evaluate("document.getElementById('signin-error').textContent") == \
            texts["refused"]
        assert page.evaluate("sessionStorage.length") == 0
        assert page.console_errors() == [UNAUTHORIZED]  # the refused key's answer, only
        page.events.clear()
        page.evaluate(f"document.getElementById('api-key').value = '{key}';"
                      "document.getElementById('signin-form').requestSubmit(); true")
        page.wait_for("document.querySelector('[data-count=packages]').textContent === '5'")
        page.wait_for("document.querySelectorAll('#weakening-table tbody tr').length === 2")
        assert page.evaluate("location.href") == f"{base}/console"  # the key is not in it
        counts = page.evaluate("[...document.querySelectorAll('[data-count]')]"
                               ".map(n => n.dataset.count + '=' + n.textContent)")
        assert counts == ["packages=5", "archive_timestamps=6", "batches=5", "due_soon=2"]
        for text in texts["dashboard"]:
            assert text in _text(page), text
        _check(page, shots, f"console-dashboard-{lang}")

        # the list, a search, paging state in the address (never the key)
        page.goto(f"{base}/console/packages?lang={lang}",
                  ready="document.querySelectorAll('#packages tbody tr').length === 5")
        for text in texts["packages"]:
            assert text in _text(page), text
        _check(page, shots, f"packages-{lang}")
        page.evaluate("document.getElementById('q').value = '売買';"
                      "document.getElementById('search-form').requestSubmit(); true")
        page.wait_for("document.querySelectorAll('#packages tbody tr').length === 1")
        assert page.evaluate("document.getElementById('page-info').textContent") == \
            texts["found"]
        assert "contract-a.pdf" in page.evaluate("document.querySelector('#packages tbody')"
                                                 ".innerText")
        assert page.evaluate("location.search") == \
            f"?lang={lang}&q=%E5%A3%B2%E8%B2%B7"

        # one package: its timeline, verify now, both downloads
        page.goto(f"{base}/console/packages/{pid}?lang={lang}",
                  ready="document.querySelectorAll('#timeline li').length > 6")
        for text in texts["package"]:
            assert text in _text(page), text
        assert page.evaluate("document.getElementById('package-id').textContent") == pid
        kinds = page.evaluate("[...document.querySelectorAll('#timeline li')]"
                              ".map(li => li.classList[0])")
        assert kinds.index("archive-ingest") < kinds.index("now") < kinds.index("renewal-due")
        assert page.evaluate("document.querySelectorAll('#chain tbody tr').length") >= 2
        page.evaluate("document.getElementById('verify').click(); true")
        page.wait_for("document.getElementById('verify-result').className.includes('verdict')",
                      timeout=90)
        assert page.evaluate("document.getElementById('verify-result').textContent") == \
            texts["verified"]
        page.evaluate("document.getElementById('download-record').click(); true")
        page.wait_for("document.getElementById('download-result').textContent"
                      f".includes({json.dumps(texts['downloaded'])})")
        record = httpx.get(f"{base}/v1/archive/{pid}/evidence-record", headers=auth(key))
        assert _downloaded(downloads, "evidence-record.ers") == record.content
        page.evaluate("document.getElementById('download-package').click(); true")
        zipped = _downloaded(downloads, f"package-{pid[:16]}.zip")
        with zipfile.ZipFile(io.BytesIO(zipped)) as z:
            assert z.read(f"{pid[:16]}/package/deal.pdf") == archive.signed_pdf
        _check(page, shots, f"console-{lang}")

        # packages weakening within N days
        page.goto(f"{base}/console/weakening?lang={lang}",
                  ready="document.querySelectorAll('#weakening-table tbody tr').length === 2")
        for text in texts["weakening"]:
            assert text in _text(page), text
        _check(page, shots, f"weakening-{lang}")
        page.evaluate("document.getElementById('days').value = '90';"
                      "document.getElementById('days-form').requestSubmit(); true")
        page.wait_for("document.querySelectorAll('#weakening-table tbody tr').length === 1")
        assert page.evaluate("document.getElementById('weakening-title').textContent") == \
            texts["weakening90"]
        assert page.evaluate("location.search") == f"?lang={lang}&days=90"

        # the language switch keeps the page; sign out forgets the key
        other = "en" if lang == "ja" else "ja"
        page.evaluate(f"document.querySelector('.tools a[lang={other}]').click(); true")
        page.wait_for(f"document.documentElement?.lang === '{other}' && "
                      "document.readyState === 'complete'")
        assert page.evaluate("location.pathname") == "/console/weakening"
        page.wait_for("document.querySelectorAll('#weakening-table tbody tr').length === 2")
        page.evaluate("document.getElementById('signout').click(); true")
        page.wait_for("document.readyState === 'complete' && "
                      "!document.getElementById('signin').hidden")
        assert page.evaluate("sessionStorage.length") == 0
        assert page.console_errors() == []
    if lang == "ja" and os.environ.get("LTV_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        for name in ("console-ja", "console-dashboard-ja"):
            shutil.copyfile(shots / f"{name}.png", DOCS_IMG / f"{name}.png")
