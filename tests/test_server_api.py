"""The HTTP API in process (FastAPI TestClient) over real ports: a memory store, the sample
PKI's live TSA/OCSP/CRL servers, and phones that sign locally."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from io import BytesIO

import httpx
import pytest
from conftest import SERVER_AT, free_port
from fastapi.testclient import TestClient
from server_helpers import MutableClock, assert_problem, b64, served, session_body

from archive.memory import MemoryStore
from ltv.cli._services import build_services
from ltv.clock import OffsetClock, format_time
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.server.app import create_app
from ltv.server.settings import ServerSettings
from ltv.server.tenants import add_tenant, authenticate, hash_key
from ltv.signing import SigningServices
from ltv.tbs import DataToBeSigned
from ltv.validation import RevocationFetchers

SIGN_AT = SERVER_AT + timedelta(hours=1)
CHECK_AT = format_time(SERVER_AT + timedelta(hours=2))


@pytest.fixture(scope="module")
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture(scope="module")
def keys(store) -> dict[str, str]:
    return {name: add_tenant(store, name)[1] for name in ("acme", "other")}


@pytest.fixture(scope="module")
def app(pki, pki_server, store, keys):
    services = build_services(pki=pki.directory, clock=OffsetClock(SIGN_AT))
    fetchers = RevocationFetchers(ocsp=HttpOCSPFetcher(), crl=HttpCRLFetcher(),
                                  certificates=HttpCertificateFetcher())
    # limits out of the way: this module tests the API itself (test_server_limits the limits)
    settings = ServerSettings(trust=(pki.directory / "root.pem",), max_concurrent=256,
                              tenant_concurrency=256, tenant_rate=100_000)
    return create_app(settings, store=store, services=services, fetchers=fetchers)


@pytest.fixture(scope="module")
def client(app) -> TestClient:
    return TestClient(app)


def auth(keys, name: str = "acme") -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[name]}"}


def sign_via_api(client, keys, phone, document: bytes, *, format: str, level: str,
                 tenant: str = "acme", accept: str | None = None, **extra) -> httpx.Response:
    created = client.post("/v1/signing-sessions", headers=auth(keys, tenant),
                          json=session_body(document, phone, format=format, level=level, **extra))
    assert created.status_code == 201, created.text
    session = created.json()
    assert created.headers["location"] == session["signature_url"]
    value = phone.sign(DataToBeSigned.from_json(session["data_to_be_signed"]))
    headers = auth(keys, tenant) | ({"Accept": accept} if accept else {})
    return client.post(session["signature_url"], headers=headers,
                       json={"signature_value": b64(value)})


def validate_via_api(client, keys, data: bytes, *, accept: str | None = None,
                     detached: bytes | None = None) -> httpx.Response:
    files = {"file": ("signed", data)}
    if detached is not None:
        files["detached"] = ("data", detached)
    headers = auth(keys) | ({"Accept": accept} if accept else {})
    return client.post("/v1/validations", headers=headers, files=files, data={"at": CHECK_AT})


# --- signing sessions -----------------------------------------------------------------------


@pytest.mark.parametrize(("phone_name", "fmt", "document", "media_type"), [
    ("phone_ec", "cades", b"contract bytes\n", "application/pkcs7-mime"),
    ("phone_rsa", "xades", b"<contract><party>A</party></contract>", "application/xml"),
])
def test_session_b_lta_passes_validation(request, client, keys, phone_name, fmt, document,
                                         media_type) -> None:
    phone = request.getfixturevalue(phone_name)
    signed = sign_via_api(client, keys, phone, document, format=fmt, level="B-LTA")
    assert signed.status_code == 200, signed.text
    assert signed.headers["content-type"].startswith(media_type)
    assert "attachment" in signed.headers["content-disposition"]
    report = validate_via_api(client, keys, signed.content)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["schema"].startswith("ltv.validation-report/")
    assert body["indication"] == "TOTAL-PASSED", body
    assert body["signatures"][0]["level"] == "B-LTA"
    assert report.headers["x-ltv-indication"] == "TOTAL-PASSED"


def test_session_pades_json_answer_and_detached_cades(client, keys, phone_rsa, phone_ec) -> None:
    from test_pades import sample_pdf

    answer = sign_via_api(client, keys, phone_rsa, sample_pdf(), format="pades", level="B-T",
                          accept="application/json", options={"file_name": "deal.pdf"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["media_type"] == "application/pdf"
    assert body["file_name"] == "deal-signed.pdf"
    pdf = base64.b64decode(body["document"])
    assert pdf.startswith(b"%PDF-")
    assert validate_via_api(client, keys, pdf).json()["signatures"][0]["level"] == "B-T"

    data = b"detached payload"
    p7s = sign_via_api(client, keys, phone_ec, data, format="cades", level="B-B",
                       packaging="detached")
    assert p7s.headers["content-type"].startswith("application/pkcs7-signature")
    report = validate_via_api(client, keys, p7s.content, detached=data).json()
    assert report["signatures"][0]["subindication"] != "HASH_FAILURE", report


def test_wrong_value_keeps_session_then_single_use(client, keys, phone_ec, phone_rsa) -> None:
    created = client.post("/v1/signing-sessions", headers=auth(keys),
                          json=session_body(b"x", phone_ec, format="cades", level="B-B")).json()
    url = created["signature_url"]
    tbs = DataToBeSigned.from_json(created["data_to_be_signed"])
    # another phone's key (and then garbage): refused, the session is not consumed
    wrong = phone_ec.sign(DataToBeSigned.from_json(
        {**created["data_to_be_signed"], "data": b64(bytes(32))}))
    body = assert_problem(client.post(url, headers=auth(keys),
                                      json={"signature_value": b64(wrong)}),
                          422, "signature-value")
    assert body["field"] == "signature_value"
    assert_problem(client.post(url, headers=auth(keys), json={"signature_value": "%%%"}), 422)
    assert_problem(client.post(url, headers=auth(keys), json={"signature_value": ""}), 422)
    good = client.post(url, headers=auth(keys), json={"signature_value": b64(phone_ec.sign(tbs))})
    assert good.status_code == 200, good.text
    again = client.post(url, headers=auth(keys), json={"signature_value": b64(phone_ec.sign(tbs))})
    assert_problem(again, 409, "session-used")


def test_expired_session_answers_410(pki, keys, store, phone_ec) -> None:
    clock = MutableClock(SIGN_AT)
    app = create_app(ServerSettings(), store=store, services=SigningServices(clock=clock))
    with TestClient(app) as local:
        created = local.post("/v1/signing-sessions", headers=auth(keys), json=session_body(
            b"x", phone_ec, format="cades", level="B-B",
            options={"session_lifetime_seconds": 60})).json()
        assert created["expires"] == format_time(SIGN_AT + timedelta(seconds=60))
        value = b64(phone_ec.sign(DataToBeSigned.from_json(created["data_to_be_signed"])))
        clock.advance(seconds=61)
        response = local.post(created["signature_url"], headers=auth(keys),
                              json={"signature_value": value})
        assert_problem(response, 410, "session-expired")


def test_another_tenants_session_is_404(client, keys, phone_ec) -> None:
    created = client.post("/v1/signing-sessions", headers=auth(keys, "acme"),
                          json=session_body(b"x", phone_ec, format="cades", level="B-B")).json()
    value = b64(phone_ec.sign(DataToBeSigned.from_json(created["data_to_be_signed"])))
    url = created["signature_url"]
    # another tenant can neither finish (write) nor learn that the session exists
    assert_problem(client.post(url, headers=auth(keys, "other"),
                               json={"signature_value": value}), 404, "session-not-found")
    for bad in ("doesnotexist0", "../../../etc", "a" * 300, "%2e%2e"):
        response = client.post(f"/v1/signing-sessions/{bad}/signature",
                               headers=auth(keys), json={"signature_value": value})
        assert response.status_code == 404, (bad, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    # the owner still can: the other tenant's attempt did not consume it
    assert client.post(url, headers=auth(keys, "acme"),
                       json={"signature_value": value}).status_code == 200


def test_authentication(client, keys, store) -> None:
    body = {"document": "eA==", "signer_chain": ["x"], "format": "cades"}
    no_key = client.post("/v1/signing-sessions", json=body)
    assert_problem(no_key, 401, "unauthorized")
    assert no_key.headers["www-authenticate"].startswith("Bearer")
    for header in ("Bearer ltv_" + "A" * 43, "Basic abc", "Bearer", "ltv_x"):
        assert_problem(client.post("/v1/signing-sessions", json=body,
                                   headers={"Authorization": header}), 401)
    # only the hash of a key is stored
    key = keys["acme"]
    everything = b"".join(store.get(info.key) for info in store.list("tenants/"))
    everything += b"".join(store.read_mutable(info.key).data
                           for info in store.list("_mutable/tenants/"))
    assert key.encode() not in everything
    assert store.read_mutable(f"_mutable/tenants/keys/{hash_key(key)}.json").data
    assert authenticate(store, f"Bearer {key}").name == "acme"


def test_bad_session_requests(client, keys, phone_ec) -> None:
    good = session_body(b"x", phone_ec, format="cades", level="B-B")
    cases = [
        {**good, "document": "not base64!"},
        {**good, "document": ""},
        {**good, "signer_chain": ["bm90IGEgY2VydA=="]},
        {**good, "signer_chain": ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"]},
        {**good, "format": "pdf"},
        {**good, "level": "B-X"},
        {**good, "unknown": 1},
        {**good, "options": {"digest_algorithm": "md5"}},
        {**good, "options": {"session_lifetime_seconds": 10**9}},
        {**good, "format": "pades"},  # not a PDF
    ]
    for case in cases:
        response = client.post("/v1/signing-sessions", headers=auth(keys), json=case)
        assert_problem(response, 422)
    raw = client.post("/v1/signing-sessions", headers=auth(keys) | {
        "Content-Type": "application/json"}, content=b"{not json")
    assert_problem(raw, 422)


# --- validations and extensions -------------------------------------------------------------


def test_validation_report_formats(client, keys, phone_ec) -> None:
    signed = sign_via_api(client, keys, phone_ec, b"abc", format="cades", level="B-LT").content
    xml = validate_via_api(client, keys, signed, accept="application/xml")
    assert xml.headers["content-type"].startswith("application/xml")
    assert b"19102" in xml.content
    html = validate_via_api(client, keys, signed, accept="text/html")
    assert html.headers["content-type"].startswith("text/html")
    assert "TOTAL-PASSED" in html.text
    bad_at = client.post("/v1/validations", headers=auth(keys),
                         files={"file": ("s", signed)}, data={"at": "yesterday"})
    assert_problem(bad_at, 422)


def test_extension_to_b_lta(client, keys, phone_ec) -> None:
    signed = sign_via_api(client, keys, phone_ec, b"abc", format="cades", level="B-B").content
    extended = client.post("/v1/extensions", headers=auth(keys), files={"file": ("a.p7m", signed)},
                           data={"level": "B-LTA"})
    assert extended.status_code == 200, extended.text
    assert extended.headers["content-type"].startswith("application/pkcs7-mime")
    report = validate_via_api(client, keys, extended.content).json()
    assert report["indication"] == "TOTAL-PASSED", report
    assert report["signatures"][0]["level"] == "B-LTA"
    assert_problem(client.post("/v1/extensions", headers=auth(keys),
                               files={"file": ("a", b"\x30\x03\x02\x01\x01")},
                               data={"level": "B-T"}), 422)
    assert_problem(client.post("/v1/extensions", headers=auth(keys),
                               files={"file": ("a", signed)}, data={"level": "B-Q"}), 422)
    assert_problem(client.post("/v1/extensions", files={"file": ("a", signed)},
                               data={"level": "B-T"}), 401)


def test_upload_cap_answers_413(store, keys) -> None:
    app = create_app(ServerSettings(max_upload=4096), store=store, services=SigningServices())
    with TestClient(app) as local:
        big = local.post("/v1/validations", headers=auth(keys),
                         files={"file": ("big", b"0" * 10_000)})
        assert_problem(big, 413, "payload-too-large")

        def chunks():
            for _ in range(10):
                yield b"x" * 1000

        streamed = local.post("/v1/signing-sessions", headers=auth(keys) | {
            "Content-Type": "application/json"}, content=chunks())
        assert_problem(streamed, 413, "payload-too-large")


def test_operations_endpoints(client, keys) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    for path in ("/v1/signing-sessions", "/v1/signing-sessions/{session_id}/signature",
                 "/v1/validations", "/v1/extensions"):
        assert path in spec["paths"], sorted(spec["paths"])
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    for element in ('id="file"', 'id="submit"', 'id="verdict"'):
        assert element in page.text
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert_problem(client.get("/nowhere"), 404)
    assert_problem(client.get("/v1/validations"), 405)
    assert_problem(client.get("/metrics"), 401, "unauthorized")  # --public-metrics opens it
    metrics = client.get("/metrics", headers=auth(keys)).text
    assert 'ltv_http_requests_total{method="GET",route="/healthz",status="200"}' in metrics
    assert "ltv_http_request_duration_seconds_bucket" in metrics
    assert "/nowhere" not in metrics  # raw paths never become labels


def test_tenant_names(store) -> None:
    from ltv.errors import InputError

    for bad in ("", "Acme", "../x", "a" * 64, "-x", "a/b"):
        with pytest.raises(InputError):
            add_tenant(store, bad)
    add_tenant(store, "dup")
    with pytest.raises(InputError, match="already exists"):
        add_tenant(store, "dup")


# --- garbage in, never a 500 ------------------------------------------------------------------


def test_garbage_never_500(client, keys) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    heads = st.sampled_from([b"", b"%PDF-1.7\n", b"<?xml version='1.0'?>", b"<a>", b"\x30\x82",
                             b"-----BEGIN PKCS7-----\n", b"\x30\x80\x06\x09"])

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(head=heads, tail=st.binary(max_size=400), level=st.sampled_from(["B-T", "B-LTA"]),
           json_body=st.recursive(
               st.none() | st.booleans() | st.integers() | st.text(max_size=20),
               lambda inner: st.lists(inner, max_size=3)
               | st.dictionaries(st.sampled_from(
                   ["document", "signer_chain", "format", "level", "options", "x"]),
                   inner, max_size=5),
               max_leaves=10))
    def check(head: bytes, tail: bytes, level: str, json_body: object) -> None:
        data = head + tail
        for response in (
            client.post("/v1/validations", headers=auth(keys), files={"file": ("f", data)}),
            client.post("/v1/extensions", headers=auth(keys), files={"file": ("f", data)},
                        data={"level": level}),
            client.post("/v1/signing-sessions", headers=auth(keys), json=json_body),
            client.post("/v1/signing-sessions/abcdefgh123/signature", headers=auth(keys),
                        json=json_body),
        ):
            assert 400 <= response.status_code < 500 or response.status_code == 200, \
                (response.status_code, response.text[:300])
            if response.status_code >= 400:
                assert response.headers["content-type"].startswith("application/problem+json")

    check()


# --- a real server: 200 concurrent validations ---------------------------------------------


def test_200_concurrent_validations(app, client, keys, phone_ec) -> None:
    signed = sign_via_api(client, keys, phone_ec, b"load", format="cades", level="B-LTA").content

    async def run(base: str) -> list[int]:
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120,
                                     headers=auth(keys)) as http:
            async def one() -> int:
                response = await http.post(
                    "/v1/validations", files={"file": ("s", BytesIO(signed))},
                    data={"at": CHECK_AT, "offline": "true"})
                assert response.json()["indication"] == "TOTAL-PASSED", response.text[:300]
                return response.status_code

            return await asyncio.gather(*(one() for _ in range(200)))

    with served(app, free_port()) as base:
        statuses = asyncio.run(run(base))
    assert statuses == [200] * 200
