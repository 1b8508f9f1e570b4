"""``POST /v1/validations`` with the signed file as the body (``Content-Type: application/pdf``
and the like): the same report and errors as the multipart form; and the per-process lane of
offline validations (one at a time, first come first served, ``Connection: close`` to the
client of a crowded worker)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import assert_problem
from test_pades import make_pdf
from test_validation_cades import SIGNED_AT, _services
from test_validation_caps import AT, bb  # noqa: F401 (fixture)

import ltv.server.routes_files as routes_files
from archive.memory import MemoryStore
from ltv.cli._services import build_services
from ltv.clock import OffsetClock, format_time
from ltv.server.app import create_app
from ltv.server.cpu_gate import CpuLane
from ltv.server.settings import ServerSettings
from ltv.server.tenants import add_tenant
from ltv.signing import SignatureFormat, SignatureLevel, sign
from samples.phone import Phone
from samples.pki import SamplePki

Api = tuple[TestClient, dict[str, str]]


def _api(pki: SamplePki, **settings: Any) -> Api:
    store = MemoryStore()
    key = add_tenant(store, "acme")[1]
    app = create_app(ServerSettings(trust=(pki.directory / "root.pem",), max_concurrent=16,
                                    tenant_concurrency=16, tenant_rate=100_000, **settings),
                     store=store, services=build_services(pki=pki.directory,
                                                          clock=OffsetClock(AT)))
    return TestClient(app), {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def api(pki: SamplePki) -> Api:
    return _api(pki)


@pytest.fixture(scope="module")
def pades(pki: SamplePki, pki_server: Any, phone_rsa: Phone) -> bytes:
    return sign(make_pdf("Lease contract"), phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                SignatureFormat.PADES, SignatureLevel.B_LTA, services=_services(pki, SIGNED_AT))


def _form(api: Api, data: bytes, **fields: str) -> Any:
    client, headers = api
    return client.post("/v1/validations", files={"file": ("signed", data)}, data=fields,
                       headers=headers)


def _raw(api: Api, data: bytes, media_type: str = "application/pdf", *,
         headers: dict[str, str] | None = None, **params: str) -> Any:
    client, auth = api
    return client.post("/v1/validations", content=data, params=params,
                       headers={**auth, "Content-Type": media_type, **(headers or {})})


@pytest.mark.parametrize("accept", ["application/json", "application/xml", "text/html"])
def test_raw_pdf_answers_what_the_form_answers(api: Api, pades: bytes, accept: str) -> None:
    at = format_time(AT)
    client, headers = api
    form = client.post("/v1/validations", files={"file": ("signed", pades)},
                       data={"at": at, "offline": "true"}, headers={**headers, "Accept": accept})
    raw = _raw(api, pades, at=at, offline="true", headers={"Accept": accept})
    assert (raw.status_code, raw.headers["content-type"], raw.headers["x-ltv-indication"]) == (
        form.status_code, form.headers["content-type"], form.headers["x-ltv-indication"])
    assert raw.status_code == 200
    assert raw.headers["x-ltv-indication"] == "TOTAL-PASSED"
    if accept == "text/html":  # the page's title is the form's file name, else a default
        assert raw.text.replace("validation report", "signed") == form.text
    else:
        assert raw.content == form.content


def test_raw_cms_online_and_offline_as_the_form(api: Api, bb: bytes) -> None:  # noqa: F811
    at = format_time(AT)
    for media_type in ("application/pkcs7-mime", "application/octet-stream"):
        for offline in ("true", "false"):
            raw = _raw(api, bb, media_type, at=at, offline=offline)
            form = _form(api, bb, at=at, offline=offline)
            assert raw.status_code == form.status_code == 200
            assert raw.json() == form.json()


def test_raw_errors_are_problems(api: Api, pki: SamplePki, pades: bytes) -> None:
    assert_problem(_raw(api, b""), 422, "invalid-input")
    assert_problem(_raw(api, b"%PDF-1.7 no signature"), 422)
    assert_problem(_raw(api, pades, offline="maybe"), 422, "invalid-input")
    assert_problem(_raw(api, pades, at="2030-01-01T00:00:00"), 422, "invalid-input")  # no zone
    assert_problem(_raw(api, pades, at="2" * 65), 422, "invalid-input")
    client, _auth = api
    anonymous = client.post("/v1/validations", content=pades,
                            headers={"Content-Type": "application/pdf"})
    assert_problem(anonymous, 401)
    small_api = _api(pki, max_upload=64 * 1024)
    assert_problem(_raw(small_api, pades + b"\n%" * (40 * 1024)), 413, "payload-too-large")
    # any other body is the form's business, as before
    assert_problem(_raw(api, b"{}", "application/json"), 422, "invalid-request")


def test_raw_route_in_the_openapi_document(api: Api) -> None:
    client, _headers = api
    operation = client.get("/openapi.json").json()["paths"]["/v1/validations"]["post"]
    content = operation["requestBody"]["content"]
    assert "multipart/form-data" in content
    assert content["application/pdf"] == {"schema": {"type": "string", "format": "binary"}}
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {"at",
                                                                                 "offline"}


def test_lane_one_at_a_time_first_come_first_served() -> None:
    lane = CpuLane()
    order: list[str] = []
    release = {name: threading.Event() for name in "abcd"}

    def job(name: str) -> str:
        order.append(f"{name}+")
        assert release[name].wait(60)
        order.append(f"{name}-")
        return name

    async def main() -> list[Any]:
        tasks = [asyncio.create_task(lane.run(lambda n=name: job(n)))  # type: ignore[misc]
                 for name in "abcd"]
        await asyncio.sleep(0)  # each is queued, in this order
        tasks[2].cancel()  # c's client went away while it waited: it never runs
        await asyncio.sleep(0)
        for name in "dba":  # released in another order: the lane still goes a, b, d
            release[name].set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(main())
    assert order == ["a+", "a-", "b+", "b-", "d+", "d-"]
    assert results[0] == ("a", 2)  # b and d were still queued when a ended
    assert results[1] == ("b", 1)
    assert isinstance(results[2], asyncio.CancelledError)
    assert results[3] == ("d", 0)
    assert lane.queued == 0


def test_crowded_worker_asks_the_client_to_reconnect(pki: SamplePki, pades: bytes,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    lane = CpuLane()
    monkeypatch.setattr(routes_files, "OFFLINE", lane)
    real = routes_files.validate
    running = threading.Event()

    def validate(data: bytes, **kwargs: Any) -> Any:
        if not running.is_set():  # the first one holds the lane until the second waits
            running.set()
            deadline = time.monotonic() + 60
            while lane.queued < 2:
                assert time.monotonic() < deadline, "the second request never came"
                time.sleep(0.005)
        return real(data, **kwargs)

    monkeypatch.setattr(routes_files, "validate", validate)
    client, headers = _api(pki)
    answers: dict[str, Any] = {}

    def post(name: str) -> None:
        answers[name] = client.post("/v1/validations?offline=true", content=pades,
                                    headers={**headers, "Content-Type": "application/pdf"})

    with client:  # one event loop for both requests
        first = threading.Thread(target=post, args=("first",))
        first.start()
        assert running.wait(60)
        post("second")
        first.join(60)
    assert answers["first"].status_code == answers["second"].status_code == 200
    assert answers["first"].headers.get("connection") == "close"
    assert answers["second"].headers.get("connection") != "close"
    # an online validation alone: not queued in the lane, and nothing to balance
    online = _raw((client, headers), pades)
    assert online.status_code == 200
    assert online.headers.get("connection") != "close"
