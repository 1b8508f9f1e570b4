"""API keys and the audit trail on a real SeaweedFS S3 gateway (object lock on): key records
are mutable there although every other object is under COMPLIANCE retention (finding 6), and
audit objects written by concurrent "replicas" never overwrite one another."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ltv_cli

from archive.audit import AuditEvent, Outcome, Who, read_audit, record
from archive.s3 import S3Store
from archive.store import WriteOnce
from ltv.clock import FixedClock, format_time
from ltv.server.errors import AuthenticationError
from ltv.server.tenants import add_tenant, authenticate, key_id, revoke_key, rotate_key

from .conftest import SeaweedFS

AT = datetime(2030, 1, 1, tzinfo=UTC)


def _env(seaweedfs: SeaweedFS) -> dict[str, str]:
    return {"LTV_S3_ENDPOINT": seaweedfs.endpoint, "LTV_S3_ACCESS_KEY": seaweedfs.access_key,
            "LTV_S3_SECRET_KEY": seaweedfs.secret_key}


def test_keys_and_audit_on_s3(seaweedfs: SeaweedFS) -> None:
    bucket = f"ltv-audit-{os.getpid()}"
    store = S3Store(endpoint=seaweedfs.endpoint, access_key=seaweedfs.access_key,
                    secret_key=seaweedfs.secret_key, bucket=bucket, prefix="svc/",
                    default_retention=timedelta(days=1))
    assert store.write_once_mode() is WriteOnce.OBJECT_LOCK
    _, first = add_tenant(store, "acme", clock=FixedClock(AT))
    assert authenticate(store, f"Bearer {first}", clock=FixedClock(AT)).name == "acme"
    _, second, _ = rotate_key(store, "acme", grace=timedelta(hours=1),
                              clock=FixedClock(AT + timedelta(minutes=1)))
    within = FixedClock(AT + timedelta(minutes=30))
    assert authenticate(store, f"Bearer {first}", clock=within).key_id == key_id(first)
    revoke_key(store, "acme", [key_id(first)], clock=within)
    with pytest.raises(AuthenticationError, match="revoked"):
        authenticate(store, f"Bearer {first}", clock=within)
    assert authenticate(store, f"Bearer {second}", clock=within).key_id == key_id(second)

    # ten "replicas" write at the same instant: ten objects, none lost or overwritten
    barrier = threading.Barrier(10)

    def replica(n: int) -> None:
        barrier.wait()
        record(store, AuditEvent.SESSION_CREATE, who=Who.TENANT, tenant="acme",
               object_id=f"session-{n}", clock=FixedClock(AT + timedelta(hours=2)))

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    proc = ltv_cli("audit", "ls", "--store", f"s3://{bucket}/svc", env=_env(seaweedfs))
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(e["event"], e["outcome"]) for e in events[:5]] == [
        ("tenant.add", "ok"), ("key.rotate", "ok"), ("key.revoke", "ok"), ("auth", "refused"),
        ("session.create", "ok")]
    assert sorted(e["object"] for e in events[4:]) == sorted(f"session-{n}" for n in range(10))
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    for key in (first, second):
        assert key not in proc.stdout
    since = list(read_audit(store, since=AT + timedelta(minutes=30), tenant="acme"))
    assert [e.event for e in since[:2]] == [AuditEvent.KEY_REVOKE, AuditEvent.AUTHENTICATE]
    assert since[1].outcome is Outcome.REFUSED
    assert format_time(since[0].time) == format_time(AT + timedelta(minutes=30))
