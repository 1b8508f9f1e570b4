"""Issue #12 (integration of API keys with the smaller doors): ``/metrics`` and ``/tsa`` take
the same keys as ``/v1/``, so a rotated key works there during its grace period only, a
revoked key is refused there at once, and the new key works — against a real ``ltv serve``
with a TSA, the keys changed by the library the ``ltv tenant`` commands use, on the store the
server is running on.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from test_server_hardening import QUERY, ltv_serve, problem_body, token_of, tsa_args, tsq

from archive.store import open_store
from ltv.server.tenants import add_tenant, key_id, revoke_key, rotate_key


def _doors(base: str, key: str) -> tuple[httpx.Response, httpx.Response]:
    auth = {"Authorization": f"Bearer {key}"}
    return (httpx.get(f"{base}/metrics", headers=auth, timeout=10),
            httpx.post(f"{base}/tsa", content=tsq(key[-6:]), headers=QUERY | auth, timeout=30))


def _open(base: str, key: str) -> None:
    metrics, tsa = _doors(base, key)
    assert metrics.status_code == 200, metrics.text
    assert "ltv_http_requests_total" in metrics.text
    token_of(tsa)


def _shut(base: str, key: str, reason: str) -> None:
    for answer in _doors(base, key):
        body = problem_body(answer, 401, "unauthorized")
        assert reason in body["detail"], body


def test_metrics_and_tsa_follow_rotation_and_revocation(pki: Any, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    store = open_store(str(store_dir))
    _, first = add_tenant(store, "acme")
    with ltv_serve(tmp_path, *tsa_args(pki, tmp_path / "state"), "--tsa-rate-limit", "100",
                   store=store_dir) as base:
        _open(base, first)
        _, second, _ = rotate_key(store, "acme", grace=timedelta(hours=1))
        _open(base, first)  # grace period
        _open(base, second)
        revoke_key(store, "acme", [key_id(first)])
        _shut(base, first, "revoked")
        _open(base, second)
        _, third, _ = rotate_key(store, "acme", grace=timedelta(0))
        _shut(base, second, "")  # no grace: refused at once (expired or revoked)
        _open(base, third)
        revoke_key(store, "acme", None)
        _shut(base, third, "revoked")
