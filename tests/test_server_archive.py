"""``/v1/archive`` in process (FastAPI TestClient) over a ``file:`` store in tmp and the sample
PKI's live TSA/OCSP/CRL servers: ingest, list, get, offline verification, the RFC 4998 record,
tenant isolation and hostile uploads."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import SERVER_AT
from fastapi.testclient import TestClient
from server_helpers import assert_problem

from archive.package import data_objects, read_package
from archive.store import ObjectStore, open_store
from ltv.cli._services import build_services
from ltv.clock import OffsetClock, format_time
from ltv.ers import EvidenceRecord, verify_evidence_record
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.server.app import create_app
from ltv.server.settings import ServerSettings
from ltv.server.tenants import add_tenant
from ltv.signing import SignatureFormat, SignatureLevel, sign
from ltv.timestamps import parse_token
from ltv.validation import RevocationFetchers

SIGN_AT = SERVER_AT + timedelta(hours=1)
CHECK_AT = format_time(SERVER_AT + timedelta(hours=2))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ObjectStore:
    return open_store((tmp_path_factory.mktemp("archive-api") / "store").as_uri())


@pytest.fixture(scope="module")
def keys(store: ObjectStore) -> dict[str, str]:
    return {name: add_tenant(store, name)[1] for name in ("acme", "other")}


@pytest.fixture(scope="module")
def client(pki: Any, pki_server: Any, store: ObjectStore, keys: dict[str, str]) -> TestClient:
    services = build_services(pki=pki.directory, clock=OffsetClock(SIGN_AT))
    fetchers = RevocationFetchers(ocsp=HttpOCSPFetcher(), crl=HttpCRLFetcher(),
                                  certificates=HttpCertificateFetcher())
    settings = ServerSettings(trust=(pki.directory / "root.pem",))
    return TestClient(create_app(settings, store=store, services=services, fetchers=fetchers))


def auth(keys: dict[str, str], name: str = "acme") -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[name]}"}


@pytest.fixture(scope="module")
def signed_pdf(pki: Any, pki_server: Any, phone_rsa: Any) -> bytes:
    from test_pades import sample_pdf

    return sign(sample_pdf(), phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                SignatureFormat.PADES, SignatureLevel.B_LTA,
                services=build_services(pki=pki.directory, clock=OffsetClock(SIGN_AT)))


@pytest.fixture(scope="module")
def package_id(client: TestClient, keys: dict[str, str], signed_pdf: bytes) -> str:
    response = client.post("/v1/archive", headers=auth(keys),
                           files={"file": ("deal.pdf", signed_pdf, "application/pdf")},
                           data={"meta": ["contract-id=C-42", "parties=A,B"]})
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/archive/{body['id']}"
    assert len(body["id"]) == 64
    assert body["ingest_indication"] == "TOTAL-PASSED", body
    return str(body["id"])


def test_ingest_list_get(client: TestClient, keys: dict[str, str], signed_pdf: bytes,
                         package_id: str) -> None:
    listing = client.get("/v1/archive", headers=auth(keys)).json()
    assert [i["id"] for i in listing["items"]] == [package_id]
    assert listing["items"][0]["created"].startswith("2026-01-02T")
    assert listing["items"][0]["signed_name"] == "deal.pdf"
    assert listing["items"][0]["metadata"] == {"contract-id": "C-42", "parties": "A,B"}
    assert listing["next"] is None

    got = client.get(f"/v1/archive/{package_id}", headers=auth(keys))
    assert got.status_code == 200, got.text
    assert got.content == signed_pdf
    assert got.headers["content-type"].startswith("application/pdf")
    assert 'filename="deal.pdf"' in got.headers["content-disposition"]

    manifest = client.get(f"/v1/archive/{package_id}", headers=auth(keys),
                          params={"part": "package"}).json()
    assert manifest["id"] == package_id
    roles = {o["role"] for o in manifest["objects"]}
    assert {"signed", "certificate", "timestamp", "validation-report", "trust-anchor"} <= roles
    signed = next(o for o in manifest["objects"] if o["role"] == "signed")
    assert signed["sha256"] == hashlib.sha256(signed_pdf).hexdigest()
    assert_problem(client.get(f"/v1/archive/{package_id}", headers=auth(keys),
                              params={"part": "nope"}), 422)


def test_paging(client: TestClient, keys: dict[str, str], signed_pdf: bytes,
                package_id: str) -> None:
    # a second package of the same file (its own batch, so its own id)
    second = client.post("/v1/archive", headers=auth(keys),
                         files={"file": ("again.pdf", signed_pdf)})
    assert second.status_code == 201, second.text
    ids = sorted([package_id, second.json()["id"]])
    first = client.get("/v1/archive", headers=auth(keys), params={"limit": 1}).json()
    assert [i["id"] for i in first["items"]] == ids[:1]
    assert first["next"] == ids[0]
    rest = client.get("/v1/archive", headers=auth(keys),
                      params={"limit": 1, "after": first["next"]}).json()
    assert [i["id"] for i in rest["items"]] == ids[1:]
    assert rest["next"] is None
    assert_problem(client.get("/v1/archive", headers=auth(keys), params={"limit": 0}), 422)


def test_verification_total_passed(client: TestClient, keys: dict[str, str],
                                   package_id: str) -> None:
    response = client.get(f"/v1/archive/{package_id}/verification", headers=auth(keys),
                          params={"at": CHECK_AT})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["indication"] == "TOTAL-PASSED", body["report"]
    assert body["subindication"] is None
    assert response.headers["x-ltv-indication"] == "TOTAL-PASSED"
    assert body["at"] == CHECK_AT
    assert len(body["evidence_record"]["timestamps"]) == 1
    assert body["report"]["offline"] is True
    assert body["report"]["signatures"][0]["level"] == "B-LTA"
    # ten years on: still proven by the record (the server's TSA has no renewal here, but the
    # answer is a verdict, never an error)
    later = client.get(f"/v1/archive/{package_id}/verification", headers=auth(keys),
                       params={"at": "2036-01-01T00:00:00Z"})
    assert later.status_code == 200, later.text
    assert later.json()["indication"] in ("TOTAL-PASSED", "INDETERMINATE", "TOTAL-FAILED")
    assert_problem(client.get(f"/v1/archive/{package_id}/verification", headers=auth(keys),
                              params={"at": "yesterday"}), 422)


def test_evidence_record_der(client: TestClient, keys: dict[str, str], store: ObjectStore,
                             package_id: str) -> None:
    response = client.get(f"/v1/archive/{package_id}/evidence-record", headers=auth(keys))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    assert 'filename="evidence-record.ers"' in response.headers["content-disposition"]
    record = EvidenceRecord.from_der(response.content)
    assert record.to_der() == response.content
    package = read_package(store, package_id, tenant="acme")

    def check(token: bytes, digest: bytes, algorithm: Any) -> Any:
        parsed = parse_token(token)
        assert parsed.message_digest == digest
        return parsed.gen_time

    times = verify_evidence_record(record, data_objects(package), verify_timestamp=check)
    assert len(times) == 1
    from ltv.errors import InputError

    with pytest.raises(InputError):
        verify_evidence_record(record, [b"other bytes", *data_objects(package)[1:]],
                               verify_timestamp=check)


def test_cli_sees_the_same_package(store: ObjectStore, package_id: str, tmp_path: Path) -> None:
    from conftest import ltv_cli

    out = tmp_path / "doc.pdf"
    done = ltv_cli("archive", "get", package_id, "-o", out, "--store", store.url,
                   "--tenant", "acme")
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize("suffix", ["", "/verification", "/evidence-record"])
def test_other_tenant_and_unknown_ids_are_404(client: TestClient, keys: dict[str, str],
                                              package_id: str, suffix: str) -> None:
    assert_problem(client.get(f"/v1/archive/{package_id}{suffix}", headers=auth(keys, "other")),
                   404, "not-found")
    for bad in ("0" * 64, "ABC", "x" * 64, "..%2F..%2Ftenants", package_id[:-1]):
        assert_problem(client.get(f"/v1/archive/{bad}{suffix}", headers=auth(keys)), 404)
    assert_problem(client.get(f"/v1/archive/{package_id}{suffix}"), 401, "unauthorized")
    listing = client.get("/v1/archive", headers=auth(keys, "other")).json()
    assert listing["items"] == []


def test_bad_uploads_are_4xx(client: TestClient, keys: dict[str, str]) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    heads = st.sampled_from([b"", b"%PDF-1.7\n", b"<?xml version='1.0'?>", b"<a>", b"\x30\x82",
                             b"\x30\x80\x06\x09*\x86H\x86\xf7\r\x01\x07\x02"])

    @settings(max_examples=30, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(head=heads, tail=st.binary(max_size=300))
    def check(head: bytes, tail: bytes) -> None:
        response = client.post("/v1/archive", headers=auth(keys),
                               files={"file": ("f", head + tail)})
        assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
        assert response.headers["content-type"].startswith("application/problem+json")

    check()
    assert_problem(client.post("/v1/archive", headers=auth(keys)), 422)
    assert_problem(client.post("/v1/archive", headers=auth(keys),
                               files={"file": ("f", b"x")}, data={"meta": "no-equals"}), 422)
    assert_problem(client.post("/v1/archive", files={"file": ("f", b"x")}), 401)
    # nothing half-written for the tenant
    assert client.get("/v1/archive", headers=auth(keys, "other")).json()["items"] == []


def test_no_tsa_answers_503(store: ObjectStore, keys: dict[str, str], signed_pdf: bytes) -> None:
    from ltv.signing import SigningServices

    app = create_app(ServerSettings(), store=store, services=SigningServices())
    with TestClient(app) as local:
        assert_problem(local.post("/v1/archive", headers=auth(keys),
                                  files={"file": ("deal.pdf", signed_pdf)}),
                       503, "archive-unavailable")
        # a route's own refusal speaks the request's language too (issue #14)
        japanese = local.post("/v1/archive", headers={**auth(keys), "Accept-Language": "ja"},
                              files={"file": ("deal.pdf", signed_pdf)})
        body = assert_problem(japanese, 503, "archive-unavailable")
        assert (body["title"], body["detail"]) == (
            "アーカイブを利用できません",
            "このサーバーには時刻認証局がありません（ltv serve --pki または --tsa）: "
            "アーカイブできません")
        assert japanese.headers["content-language"] == "ja"
        assert_problem(local.post("/v1/archive", headers=auth(keys),
                                  files={"file": ("junk", b"%PDF-1.7 junk")}), 422)
