"""Issue #12 (integration): the admission limits (429, 503) and the outbound fetch policy
refuse by policy, so each refusal is an audit line (``outcome: refused``) — throttled, so a
flood of refused requests cannot fill the store with audit objects.

Unit half: :class:`ltv.server.refusals.RefusalAudit` with an injected monotonic clock.
Server half: a real ``ltv serve`` with a file store; the trail is read back with
``ltv audit ls``.
"""

from __future__ import annotations

import json
import time

import httpx
from conftest import ltv_cli
from server_helpers import assert_problem
from test_server_egress import serving

from archive.audit import AuditEvent, Outcome, Who, read_audit
from archive.store import open_store
from bench.hostile import Attacker, attacker_signature
from ltv.clock import FixedClock, parse_time
from ltv.server.refusals import RefusalAudit, caller_of

AT = parse_time("2026-12-03T09:00:00Z")


class _Tick:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_line_per_caller_and_reason_per_minute() -> None:
    store = open_store("memory:")
    tick = _Tick()
    audit = RefusalAudit(store, clock=FixedClock(AT), monotonic=tick, background=False)
    who, key_id = caller_of(b"Bearer ltv_" + b"A" * 43)
    assert who is Who.TENANT
    assert key_id is not None
    assert len(key_id) == 16
    kept = [audit.refused(AuditEvent.REQUEST, who=who, object_id=key_id, reason="rate-limit")
            for _ in range(1000)]
    assert kept == [True] + [False] * 999
    assert audit.refused(AuditEvent.REQUEST, who=who, object_id=key_id, reason="busy")
    tick.now += 61
    assert audit.refused(AuditEvent.REQUEST, who=who, object_id=key_id, reason="rate-limit")
    lines = list(read_audit(store))
    assert [(e.event, e.who, e.object_id, e.outcome, e.detail) for e in lines] == [
        (AuditEvent.REQUEST, Who.TENANT, key_id, Outcome.REFUSED, "rate-limit"),
        (AuditEvent.REQUEST, Who.TENANT, key_id, Outcome.REFUSED, "busy"),
        (AuditEvent.REQUEST, Who.TENANT, key_id, Outcome.REFUSED, "rate-limit")]


def test_a_flood_from_many_callers_writes_at_most_the_global_budget() -> None:
    store = open_store("memory:")
    tick = _Tick()
    audit = RefusalAudit(store, clock=FixedClock(AT), per_minute=20, monotonic=tick,
                         background=False)
    for i in range(2000):
        who, key_id = caller_of(f"Bearer ltv_{i:043d}".encode())
        audit.refused(AuditEvent.REQUEST, who=who, object_id=key_id, reason="rate-limit")
    assert len(list(store.list("audit/"))) == 20
    assert caller_of(None) == (Who.ANONYMOUS, None)


def _trail(store_url: str, event: str, *, at_least: int = 1) -> list[dict[str, object]]:
    """The audit lines of ``event`` (the write is on a background thread: wait for it)."""
    deadline = time.monotonic() + 20
    while True:
        done = ltv_cli("audit", "ls", "--store", store_url)
        assert done.returncode == 0, done.stderr
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        found = [line for line in lines if line["event"] == event]
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_429_is_audited_once_per_minute_on_a_real_server(tmp_path, pki) -> None:
    with serving(tmp_path, "--trust", str(pki.directory / "root.pem"),
                 "--tenant-rate", "2") as server:
        acme = server.key("acme")
        key_id = caller_of(acme["Authorization"].encode())[1]
        statuses = [httpx.get(f"{server.base}/v1/archive", headers=acme, timeout=10)
                    for _ in range(30)]
        assert [s.status_code for s in statuses[:2]] == [200, 200]
        assert_problem(statuses[2], 429, "too-many-requests")
        found = _trail(server.store, "request")
        time.sleep(0.5)  # 27 more refusals already answered: none may have added a line
        found = _trail(server.store, "request")
        assert len(found) == 1, found
        assert (found[0]["outcome"], found[0]["who"]) == ("refused", "tenant")
        assert (found[0]["object"], found[0]["detail"]) == (key_id, "rate-limit")
        assert "ltv_" not in json.dumps(found)  # never the key itself


def test_a_fetch_the_policy_refuses_is_audited_against_its_caller(tmp_path, pki) -> None:
    attacker = Attacker()
    signature = attacker_signature(attacker, ocsp=["http://127.0.0.1:9/ocsp-internal"],
                                   crls=["http://10.0.0.1/crl"])
    with serving(tmp_path, "--trust", str(pki.directory / "root.pem")) as server:
        acme = server.key("acme")
        key_id = caller_of(acme["Authorization"].encode())[1]
        answer = httpx.post(f"{server.base}/v1/validations", headers=acme, timeout=60,
                            files={"file": ("doc.p7s", signature), "detached": ("doc", b"doc")})
        assert answer.status_code == 200, answer.text
        assert "refused by the fetch policy" in answer.text
        found = _trail(server.store, "fetch")
        assert found, "no audit line for the refused fetch"
        assert {(f["who"], f["object"], f["outcome"]) for f in found} == {
            ("tenant", key_id, "refused")}
        assert all("127.0.0.1" not in json.dumps(f) and "10.0.0.1" not in json.dumps(f)
                   for f in found)
