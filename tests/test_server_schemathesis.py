"""Schemathesis against /openapi.json (in process, ASGI): generated requests to every operation,
valid and invalid, never get a 5xx, and every error is RFC 9457 problem JSON."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from archive.memory import MemoryStore  # noqa: E402
from ltv.server.app import create_app  # noqa: E402
from ltv.server.settings import ServerSettings  # noqa: E402
from ltv.server.tenants import add_tenant  # noqa: E402
from ltv.signing import SigningServices  # noqa: E402

_store = MemoryStore()
_KEY = add_tenant(_store, "fuzz")[1]
# no TSA, no fetchers: every path stays in process (levels above B-B answer 422)
_app = create_app(ServerSettings(max_upload=256 * 1024), store=_store,
                  services=SigningServices())
_client = TestClient(_app)
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_5xx(case) -> None:
    for headers in ({"Authorization": f"Bearer {_KEY}"}, {}):
        kwargs = case.as_transport_kwargs(headers=headers)
        if not kwargs.get("cookies"):
            kwargs.pop("cookies", None)
        response = _client.request(**kwargs)
        assert response.status_code < 500, (case.method, case.path, response.text[:500])
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
            body = response.json()
            assert {"type", "title", "status", "detail"} <= set(body)
