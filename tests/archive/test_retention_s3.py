"""Retention only grows, against a real SeaweedFS and a real API server (uvicorn on 127.0.0.1):
the reviewer's retention_repro.py (finding 5) and the all-tenants renewal (finding 17).

* a tenant's ``retain-until`` two minutes ahead answers 422 ``retention-refused`` and writes
  nothing (before: 201, every blob and the manifest locked for two minutes);
* without it every object of the package and its batch (blobs, parked and published manifest,
  the batch entry, the material blob, the published marker) is read back from SeaweedFS under
  COMPLIANCE retention until the operator's floor;
* archiving the same contract again for 30 years extends the shared blobs' retention (before:
  they kept their first, shortest lock);
* ``ltv archive renew`` without ``--tenant`` renews the API tenant's batches (before: only
  ``default``), and the new entries and claims are under COMPLIANCE retention too;
* a bucket without object lock is refused unless ``--allow-unlocked`` (finding 20).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import SERVER_AT, free_port, ltv_cli
from server_helpers import assert_problem, served

from archive.errors import StoreError
from archive.package import blob_key, read_package
from archive.retention import RetentionPeriod
from archive.s3 import S3Store
from ltv.cli._services import build_services
from ltv.clock import OffsetClock, format_time, parse_time
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.server.app import create_app
from ltv.server.settings import ServerSettings
from ltv.server.tenants import add_tenant
from ltv.signing import SignatureFormat, SignatureLevel, sign
from ltv.validation import RevocationFetchers
from samples.phone import Phone
from samples.pki import SamplePki

from .conftest import SeaweedFS

SIGN_AT = SERVER_AT + timedelta(hours=1)
FLOOR = RetentionPeriod(years=10)
CHECK_AT = format_time(SERVER_AT + timedelta(hours=6))


@dataclass
class Api:
    base: str
    key: str
    store: S3Store
    bucket: str
    raw: Any  # minio.Minio on the same server, to read retention back
    signed: bytes
    env: dict[str, str]
    pki: SamplePki


@pytest.fixture(scope="module")
def api(seaweedfs: SeaweedFS, pki: SamplePki, pki_server: Any, phone_rsa: Phone) -> Iterator[Api]:
    from minio import Minio

    bucket = f"ltv-api-{os.getpid()}"
    clock = OffsetClock(SIGN_AT)
    store = S3Store(endpoint=seaweedfs.endpoint, access_key=seaweedfs.access_key,
                    secret_key=seaweedfs.secret_key, bucket=bucket, min_retention=FLOOR,
                    clock=clock)
    services = build_services(pki=pki.directory, clock=clock)
    fetchers = RevocationFetchers(ocsp=HttpOCSPFetcher(), crl=HttpCRLFetcher(),
                                  certificates=HttpCertificateFetcher())
    settings = ServerSettings(trust=(pki.directory / "root.pem",))  # --min-retention 10y
    app = create_app(settings, store=store, services=services, fetchers=fetchers)
    _, key = add_tenant(store, "acme")
    signed = sign(b"A contract kept for decades\n", phone_rsa,
                  [phone_rsa.certificate, *phone_rsa.chain], SignatureFormat.CADES,
                  SignatureLevel.B_T, services=services)
    raw = Minio(seaweedfs.endpoint.removeprefix("http://"), access_key=seaweedfs.access_key,
                secret_key=seaweedfs.secret_key, secure=False)
    env = {"LTV_S3_ENDPOINT": seaweedfs.endpoint, "LTV_S3_ACCESS_KEY": seaweedfs.access_key,
           "LTV_S3_SECRET_KEY": seaweedfs.secret_key}
    with served(app, free_port()) as base:
        yield Api(base=base, key=key, store=store, bucket=bucket, raw=raw, signed=signed,
                  env=env, pki=pki)


def _post(api: Api, *meta: str) -> httpx.Response:
    return httpx.post(f"{api.base}/v1/archive", headers={"Authorization": f"Bearer {api.key}"},
                      files={"file": ("contract.p7s", api.signed)},
                      data={"meta": ["contract-id=C-1", *meta]}, timeout=120)


def _locked_until(api: Api, key: str) -> datetime:
    """The COMPLIANCE retain-until SeaweedFS holds for ``key`` (asserting the mode)."""
    name = api.store.url.split("/", 3)[3] + key
    stat = api.raw.stat_object(api.bucket, name)
    retention = api.raw.get_object_retention(api.bucket, name, stat.version_id)
    assert retention is not None, key
    assert retention.mode == "COMPLIANCE", (key, retention.mode)
    until: datetime = retention.retain_until_date
    return until


def _acme_keys(api: Api) -> list[str]:
    return [i.key for i in api.store.list("acme/")]


def test_1_short_retention_is_refused_and_writes_nothing(api: Api) -> None:
    two_minutes = format_time(SIGN_AT + timedelta(minutes=2))
    response = _post(api, f"retain-until={two_minutes}")
    body = assert_problem(response, 422, "retention-refused")
    assert "never shortened" in body["detail"]
    assert two_minutes in body["detail"]
    assert _acme_keys(api) == []
    nonsense = _post(api, "retain-until=9999-12-31T00:00:00Z")
    assert "maximum" in assert_problem(nonsense, 422, "retention-refused")["detail"]
    assert _acme_keys(api) == []


def test_2_every_object_is_under_compliance_until_the_floor(api: Api) -> None:
    response = _post(api)
    assert response.status_code == 201, response.text
    body = response.json()
    floor = parse_time(body["retain_until"])
    assert floor >= FLOOR.after(SIGN_AT)
    assert floor < FLOOR.after(SIGN_AT) + timedelta(minutes=30)
    package = read_package(api.store, body["id"], tenant="acme")
    assert package.manifest.retain_until == floor
    batch = package.manifest.batch
    keys = set(_acme_keys(api))
    expected = {f"acme/packages/{body['id']}.json", f"acme/pending/{body['id']}.json",
                f"acme/batches/{batch}/ats/000-0000.json", f"acme/batches/{batch}/published",
                *(blob_key("acme", h) for h in package.manifest.blob_hashes())}
    assert expected <= keys
    material = keys - expected
    assert material, "the TSA material of the batch's timestamp is a blob too"
    for key in sorted(keys):
        assert _locked_until(api, key) >= floor, key


def test_3_reuse_extends_the_shared_blobs(api: Api) -> None:
    first = _post(api)
    assert first.status_code == 201, first.text
    thirty = SIGN_AT + timedelta(days=365 * 30)
    second = _post(api, f"retain-until={format_time(thirty)}")
    assert second.status_code == 201, second.text
    assert parse_time(second.json()["retain_until"]) == thirty
    one = read_package(api.store, first.json()["id"], tenant="acme")
    two = read_package(api.store, second.json()["id"], tenant="acme")
    signed = two.manifest.first("signed")
    assert signed is not None
    assert signed.sha256 in one.manifest.blob_hashes()  # the same contract: the same blob
    for digest in set(one.manifest.blob_hashes()) & set(two.manifest.blob_hashes()):
        assert _locked_until(api, blob_key("acme", digest)) >= thirty
    assert _locked_until(api, f"acme/packages/{two.id}.json") >= thirty
    batch = two.manifest.batch
    assert _locked_until(api, f"acme/batches/{batch}/ats/000-0000.json") >= thirty
    # archiving it once more with the floor never shortens the shared lock
    assert _post(api).status_code == 201
    assert _locked_until(api, blob_key("acme", signed.sha256)) >= thirty


def test_4_renew_without_tenant_renews_the_api_tenant(api: Api, tmp_path: Path) -> None:
    if not any(k.startswith("acme/packages/") for k in _acme_keys(api)):
        assert _post(api).status_code == 201
    store_url = f"s3://{api.bucket}"
    batches = {read_package(api.store, k.rsplit("/", 1)[1][:-5], tenant="acme").manifest.batch
               for k in _acme_keys(api) if k.startswith("acme/packages/")}
    renewed = ltv_cli("archive", "renew", "--store", store_url, "--pki", api.pki.directory,
                      "--margin", "100000", "--at", format_time(SIGN_AT + timedelta(hours=1)),
                      env=api.env)
    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    assert f"tenant acme: {len(batches)} batches checked; renewed {len(batches)} by timestamp" \
        in renewed.stdout, renewed.stdout
    for batch in batches:
        entry = f"acme/batches/{batch}/ats/000-0001.json"
        claim = f"acme/batches/{batch}/next/000-0000.json"
        ingest_lock = _locked_until(api, f"acme/batches/{batch}/ats/000-0000.json")
        assert _locked_until(api, entry) >= ingest_lock
        assert _locked_until(api, claim) >= ingest_lock
    some = next(k for k in _acme_keys(api) if k.startswith("acme/packages/"))
    verify = ltv_cli("archive", "verify", some.rsplit("/", 1)[1][:-5], "--tenant", "acme",
                     "--store", store_url, "--at", CHECK_AT, "--trust",
                     api.pki.directory / "root.pem", env=api.env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("PASSED: "), verify.stdout
    assert "2 archive timestamps" in verify.stderr
    # narrowed to another tenant: says which tenants it leaves out
    narrowed = ltv_cli("archive", "renew", "--store", store_url, "--tenant", "default",
                       "--pki", api.pki.directory, "--at", format_time(SIGN_AT), env=api.env)
    assert narrowed.returncode == 0, narrowed.stderr
    assert "not renewed by this run: acme" in narrowed.stderr
    assert "tenant acme" not in narrowed.stdout


def test_5_bucket_without_object_lock_is_refused(api: Api) -> None:
    unlocked = f"ltv-unlocked-{os.getpid()}"
    api.raw.make_bucket(unlocked)  # no object lock
    url = f"s3://{unlocked}"
    ls = ltv_cli("archive", "ls", "--store", url, env=api.env)
    assert ls.returncode == 4, ls.stdout + ls.stderr
    [line] = ls.stderr.strip().splitlines()
    assert line.startswith("ltv: error: ")
    assert "has no object lock" in line
    assert "--allow-unlocked" in line
    ok = ltv_cli("archive", "ls", "--store", url, "--allow-unlocked", env=api.env)
    assert ok.returncode == 0, ok.stderr
    assert "write-once: exclusive-create" in ok.stderr
    serve = ltv_cli("serve", "--store", url, "--port", str(free_port()), env=api.env,
                    timeout=60)
    assert serve.returncode == 4, serve.stdout + serve.stderr
    assert "has no object lock" in serve.stderr
    assert "Traceback" not in serve.stderr
    store = S3Store(endpoint=api.env["LTV_S3_ENDPOINT"], access_key=api.env["LTV_S3_ACCESS_KEY"],
                    secret_key=api.env["LTV_S3_SECRET_KEY"], bucket=unlocked)
    with pytest.raises(StoreError, match="allow_unlocked=True"):
        store.put("x", b"y")
    accepted = S3Store(endpoint=api.env["LTV_S3_ENDPOINT"],
                       access_key=api.env["LTV_S3_ACCESS_KEY"],
                       secret_key=api.env["LTV_S3_SECRET_KEY"], bucket=unlocked,
                       allow_unlocked=True, min_retention=FLOOR)
    accepted.put("x", b"y")
    assert accepted.retention("x") is None  # nothing can be locked there, and it says so
