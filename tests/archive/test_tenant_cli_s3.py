"""Issue #12 (integration of keys, audit and retention) against a real SeaweedFS:

* ``ltv tenant add`` on a bucket with object lock: the tenant record and the audit object are
  under COMPLIANCE retention until at least the operator's floor (``--min-retention``, 10
  years by default, as for ``ltv serve``); the key record (``_mutable/``) stays mutable, so
  ``revoke-key`` works;
* on a bucket without object lock every ``ltv tenant``/``ltv audit`` command refuses in one line
  naming ``--allow-unlocked``, and works with it (before: ``tenant add`` failed with a line
  naming a Python argument, ``allow_unlocked=True``, and no flag could help).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

from conftest import ltv_cli

from .conftest import SeaweedFS


def _env(seaweedfs: SeaweedFS) -> dict[str, str]:
    return {"LTV_S3_ENDPOINT": seaweedfs.endpoint, "LTV_S3_ACCESS_KEY": seaweedfs.access_key,
            "LTV_S3_SECRET_KEY": seaweedfs.secret_key}


def _raw(seaweedfs: SeaweedFS):  # type: ignore[no-untyped-def]
    from minio import Minio

    return Minio(seaweedfs.endpoint.removeprefix("http://"), access_key=seaweedfs.access_key,
                 secret_key=seaweedfs.secret_key, secure=False)


def test_tenant_add_on_a_locked_bucket_keeps_records_and_audit_under_the_floor(
        seaweedfs: SeaweedFS) -> None:
    bucket = f"ltv-tenant-locked-{os.getpid()}"
    env = _env(seaweedfs)
    url = f"s3://{bucket}"
    before = datetime.now(UTC)
    added = ltv_cli("tenant", "add", "acme", "--store", url, env=env)
    assert added.returncode == 0, added.stderr
    raw = _raw(seaweedfs)
    floor = before + timedelta(days=3652)  # 10 calendar years, at least 3652 days
    names = {o.object_name: o for o in raw.list_objects(bucket, recursive=True)}
    audit = [n for n in names if n.startswith("audit/")]
    assert len(audit) == 1, sorted(names)
    for name in [*audit, "tenants/names/acme.json"]:
        stat = raw.stat_object(bucket, name)
        retention = raw.get_object_retention(bucket, name, stat.version_id)
        assert retention is not None, name
        assert retention.mode == "COMPLIANCE", name
        assert retention.retain_until_date >= floor - timedelta(days=1), (
            name, retention.retain_until_date)
    key_id = json.loads(ltv_cli("tenant", "ls", "--store", url, "--format", "json",
                                env=env).stdout)
    assert key_id, "tenant ls shows nothing"
    revoked = ltv_cli("tenant", "revoke-key", "acme", "--all", "--store", url, env=env)
    assert revoked.returncode == 0, revoked.stderr  # key records are mutable on a locked bucket
    listed = ltv_cli("audit", "ls", "--store", url, env=env)
    assert [json.loads(line)["event"] for line in listed.stdout.splitlines()] == [
        "tenant.add", "key.revoke"]


def test_tenant_and_audit_commands_on_an_unlocked_bucket_need_allow_unlocked(
        seaweedfs: SeaweedFS) -> None:
    bucket = f"ltv-tenant-unlocked-{os.getpid()}"
    _raw(seaweedfs).make_bucket(bucket)  # no object lock
    env = _env(seaweedfs)
    url = f"s3://{bucket}"
    refused = ltv_cli("tenant", "add", "acme", "--store", url, env=env)
    assert refused.returncode == 4, refused.stdout + refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("ltv: error: ")
    assert "has no object lock" in line
    assert "--allow-unlocked" in line
    assert refused.stdout == ""  # no key printed for a tenant that was not made
    added = ltv_cli("tenant", "add", "acme", "--store", url, "--allow-unlocked", env=env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("ltv_")
    for command in (("tenant", "ls"), ("tenant", "rotate-key", "acme"), ("audit", "ls")):
        done = ltv_cli(*command, "--store", url, "--allow-unlocked", env=env)
        assert done.returncode == 0, (command, done.stderr)
    listed = ltv_cli("audit", "ls", "--store", url, "--allow-unlocked", env=env)
    assert [json.loads(line)["event"] for line in listed.stdout.splitlines()] == [
        "tenant.add", "key.rotate"]
