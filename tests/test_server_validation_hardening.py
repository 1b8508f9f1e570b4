"""Security review findings 10 and 15 through ``POST /v1/validations``, where they were found
(issue 11): the library-level tests live in test_validation_caps.py; these show the API answers
the same inputs with a report or a 422 problem, never a 500 or a long computation."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from server_helpers import assert_problem
from test_validation_caps import AT, _repeat_signer, bb, odd_signed  # noqa: F401 (fixtures)

from archive.memory import MemoryStore
from ltv.cli._services import build_services
from ltv.clock import OffsetClock, format_time
from ltv.server.app import create_app
from ltv.server.settings import ServerSettings
from ltv.server.tenants import add_tenant
from samples.pki import SamplePki


@pytest.fixture(scope="module")
def api(pki: SamplePki) -> tuple[TestClient, dict[str, str]]:
    store = MemoryStore()
    key = add_tenant(store, "acme")[1]
    settings = ServerSettings(trust=(pki.directory / "root.pem",), max_concurrent=16,
                              tenant_concurrency=16, tenant_rate=100_000)
    app = create_app(settings, store=store,
                     services=build_services(pki=pki.directory, clock=OffsetClock(AT)))
    return TestClient(app), {"Authorization": f"Bearer {key}"}


def _post(api: tuple[TestClient, dict[str, str]], data: bytes, *, at: str,
          accept: str | None = None):  # type: ignore[no-untyped-def]
    client, headers = api
    return client.post("/v1/validations", files={"file": ("signed", data)},
                       data={"at": at, "offline": "true"},
                       headers=headers | ({"Accept": accept} if accept else {}))


def test_4000_signer_infos_answer_one_capped_entry(api: tuple[TestClient, dict[str, str]],
                                                   bb: bytes) -> None:  # noqa: F811
    """Finding 10: 2.7 MB, 4,000 SignerInfos took 18 s and answered 4,000 reports."""
    flood = _repeat_signer(bb, 4000)
    started = time.monotonic()
    response = _post(api, flood, at=format_time(AT))
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text[:300]
    doc = response.json()
    assert [(s["id"], s["indication"], s["subindication"]) for s in doc["signatures"]] == [
        ("file", "INDETERMINATE", "SIG_CONSTRAINTS_FAILURE")]
    assert "cap max_signatures" in doc["signatures"][0]["message"]
    assert response.headers["X-Ltv-Indication"] == "INDETERMINATE"
    assert elapsed < 10, elapsed  # generous for a shared CPU; the library test bounds it tightly


@pytest.mark.parametrize("accept", ["application/json", "application/xml", "text/html"])
def test_odd_certificate_renders_in_every_report(api: tuple[TestClient, dict[str, str]],
                                                 odd_signed: bytes, accept: str) -> None:  # noqa: F811
    """Finding 15: notAfter 9999-12-31 broke the HTML timeline, a control character in the
    subject the XML report (both 500)."""
    response = _post(api, odd_signed, at=format_time(AT), accept=accept)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith(accept)
    if accept == "application/json":
        assert "evil\\x01signer" in response.json()["signatures"][0]["signer"]["subject"]
    else:
        assert "evil\\x01signer" in response.text
    assert "\x01" not in response.text


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_extreme_validation_times_answer_a_report(api: tuple[TestClient, dict[str, str]],
                                                  bb: bytes, at: str) -> None:  # noqa: F811
    response = _post(api, bb, at=at)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["signatures"][0]["indication"] == "INDETERMINATE"


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_times_beyond_utc_years_are_a_422(api: tuple[TestClient, dict[str, str]],
                                          bb: bytes, at: str) -> None:  # noqa: F811
    """Finding 15: these overflowed in parse_time (500)."""
    assert_problem(_post(api, bb, at=at), 422)
