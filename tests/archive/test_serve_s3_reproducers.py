"""Issue #12 Done-when: the storage reproducers of the review (findings 5, 6 and 20) against
the real ``ltv serve`` binary on a real SeaweedFS bucket (the other storage tests drive the
app under uvicorn in-process):

* finding 5: a tenant's ``retain-until`` two minutes ahead answers 422 ``retention-refused``
  and writes nothing under the tenant's prefix;
* finding 6: a key revoked with ``ltv tenant revoke-key`` on the object-locked bucket answers
  401 from the running server at once, and a rotated key in its grace period still works;
* finding 20: ``ltv serve`` refuses to start on a bucket without object lock (exit 4, one line
  naming ``--allow-unlocked``) and starts with it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import free_port, ltv_cli
from server_helpers import assert_problem

from bench.harness import ltv_serving
from ltv.clock import format_time

from .conftest import SeaweedFS


@pytest.fixture
def s3_env(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {"LTV_S3_ENDPOINT": seaweedfs.endpoint, "LTV_S3_ACCESS_KEY": seaweedfs.access_key,
           "LTV_S3_SECRET_KEY": seaweedfs.secret_key}
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the ltv serve subprocess inherits them
    return env


@contextlib.contextmanager
def _ltv_serve(tmp_path: Path, store_url: str, *args: str) -> Iterator[str]:
    """``ltv serve --store STORE_URL`` as a subprocess on a free port; yields its base URL."""
    with ltv_serving(*args, store=store_url, log=tmp_path / "serve.log") as server:
        yield server.base


def _raw(seaweedfs: SeaweedFS):  # type: ignore[no-untyped-def]
    from minio import Minio

    return Minio(seaweedfs.endpoint.removeprefix("http://"), access_key=seaweedfs.access_key,
                 secret_key=seaweedfs.secret_key, secure=False)


def test_retention_and_keys_through_ltv_serve_on_seaweedfs(tmp_path, pki, s3_env,
                                                            seaweedfs: SeaweedFS) -> None:
    bucket = f"ltv-serve-{os.getpid()}"
    url = f"s3://{bucket}"
    added = ltv_cli("tenant", "add", "acme", "--store", url)
    assert added.returncode == 0, added.stderr
    first = added.stdout.strip()
    auth = {"Authorization": f"Bearer {first}"}
    with _ltv_serve(tmp_path, url, "--trust", str(pki.directory / "root.pem")) as base:
        soon = format_time(datetime.now(UTC) + timedelta(minutes=2))
        short = httpx.post(f"{base}/v1/archive", headers=auth, timeout=60,
                           files={"file": ("c.p7s", b"0" * 64)},
                           data={"meta": [f"retain-until={soon}"]})
        body = assert_problem(short, 422, "retention-refused")
        assert "never shortened" in body["detail"]
        assert [o.object_name for o in _raw(seaweedfs).list_objects(
            bucket, prefix="acme/", recursive=True)] == []
        assert httpx.get(f"{base}/v1/archive", headers=auth, timeout=10).status_code == 200
        rotated = ltv_cli("tenant", "rotate-key", "acme", "--grace", "1h", "--store", url)
        assert rotated.returncode == 0, rotated.stderr
        second = rotated.stdout.strip()
        assert httpx.get(f"{base}/v1/archive", headers=auth, timeout=10).status_code == 200
        listed = ltv_cli("tenant", "ls", "--store", url, "--format", "json")
        keys = [json.loads(line) for line in listed.stdout.splitlines()]
        first_id = next(k["key_id"] for k in keys if k["state"] == "expiring")
        revoked = ltv_cli("tenant", "revoke-key", "acme", first_id, "--store", url)
        assert revoked.returncode == 0, revoked.stderr
        gone = httpx.get(f"{base}/v1/archive", headers=auth, timeout=10)
        assert "revoked" in assert_problem(gone, 401, "unauthorized")["detail"]
        assert httpx.get(f"{base}/v1/archive", headers={"Authorization": f"Bearer {second}"},
                         timeout=10).status_code == 200


def test_ltv_serve_refuses_an_unlocked_bucket_unless_allowed(tmp_path, s3_env,
                                                             seaweedfs: SeaweedFS) -> None:
    bucket = f"ltv-serve-unlocked-{os.getpid()}"
    _raw(seaweedfs).make_bucket(bucket)
    refused = ltv_cli("serve", "--store", f"s3://{bucket}", "--port", str(free_port()),
                      timeout=60)
    assert refused.returncode == 4, refused.stdout + refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("ltv: error:")]
    assert len(errors) == 1, refused.stderr
    assert "has no object lock" in errors[0]
    assert "--allow-unlocked" in errors[0]
    assert "Traceback" not in refused.stderr
    with _ltv_serve(tmp_path, f"s3://{bucket}", "--allow-unlocked") as base:
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
