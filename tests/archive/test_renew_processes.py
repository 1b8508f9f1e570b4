"""Two real ``ltv archive renew`` processes over one store (local directory and SeaweedFS):
renewer A takes the lease and is paused there (test hook ``LTV_ARCHIVE_PAUSE_AFTER_LEASE``);
renewer B, started with ``--at`` past A's lease TTL (the clock is injected, nobody sleeps for
30 minutes), takes the lease over and renews every tenant; A resumes, finds at its first fence
check that it lost the lease, writes nothing and exits 4 with one line. ``ltv archive verify``
then passes for every package, and a later hash-tree renewal builds on B's entries
(security review findings 7 and 17)."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import LTV, SERVER_AT, PkiServer, ltv_cli

from archive.local import LocalStore
from archive.store import ObjectStore
from ltv.clock import format_time
from samples.phone import Phone
from samples.pki import SamplePki

from .conftest import SeaweedFS

AT = SERVER_AT + timedelta(hours=2)
A_AT = format_time(AT + timedelta(minutes=1))
B_AT = format_time(AT + timedelta(hours=2))  # A's lease (30 min) has expired for B
CHECK_AT = format_time(SERVER_AT + timedelta(hours=6))
_buckets = itertools.count(1)


@dataclass
class Target:
    url: str
    env: dict[str, str]
    store: ObjectStore


@pytest.fixture(scope="module")
def signed(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone,
           tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("two-renewers")
    (work / "c.txt").write_bytes(b"A contract renewed by two overlapping jobs\n")
    result = ltv_cli("sign", work / "c.txt", "--format", "cades", "--level", "B-LTA",
                     "--phone", phone_rsa.directory, "--pki", pki.directory,
                     "-o", work / "c.p7s")
    assert result.returncode == 0, result.stderr
    return work / "c.p7s"


@pytest.fixture(params=["local", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "local":
        yield Target(url=str(tmp_path / "store"), env={}, store=LocalStore(tmp_path / "store"))
        return
    from archive.s3 import S3Store

    s3: SeaweedFS = request.getfixturevalue("seaweedfs")
    bucket = f"ltv-renewers-{os.getpid()}-{next(_buckets)}"
    yield Target(url=f"s3://{bucket}",
                 env={"LTV_S3_ENDPOINT": s3.endpoint, "LTV_S3_ACCESS_KEY": s3.access_key,
                      "LTV_S3_SECRET_KEY": s3.secret_key},
                 store=S3Store(endpoint=s3.endpoint, access_key=s3.access_key,
                               secret_key=s3.secret_key, bucket=bucket))


def _evidence(store: ObjectStore) -> dict[str, bytes]:
    return {i.key: store.get(i.key) for i in store.list() if not i.key.startswith("_mutable/")}


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "renewer A never took the lease"
        time.sleep(0.05)


def test_paused_renewer_loses_the_lease_and_writes_nothing(
        target: Target, signed: Path, pki: SamplePki, tmp_path: Path) -> None:
    common = ["--store", target.url, "--pki", str(pki.directory)]
    ids: list[tuple[str, str]] = []
    for tenant in ("default", "default", "acme"):
        put = ltv_cli("archive", "put", signed, "--tenant", tenant, *common, "--at",
                      format_time(AT), env=target.env)
        assert put.returncode == 0, put.stderr
        ids.append((tenant, put.stdout.strip()))

    marker = tmp_path / "pause"
    a = subprocess.Popen(
        [str(LTV), "archive", "renew", "--tenant", "default", *common, "--at", A_AT,
         "--hash-algorithm", "sha512"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **target.env, "LTV_ARCHIVE_PAUSE_AFTER_LEASE": str(marker)})
    try:
        _wait_for(Path(f"{marker}.paused"), a)
        b = ltv_cli("archive", "renew", *common, "--at", B_AT, "--margin", "100000",
                    env=target.env)
        assert b.returncode == 0, b.stdout + b.stderr
        assert "tenant default: 2 batches checked; renewed 2 by timestamp" in b.stdout, b.stdout
        assert "tenant acme: 1 batches checked; renewed 1 by timestamp" in b.stdout, b.stdout
        after_b = _evidence(target.store)
        Path(f"{marker}.resume").write_text("go")
        out, err = a.communicate(timeout=120)
    finally:
        if a.poll() is None:
            a.kill()
            a.wait()
    assert a.returncode == 4, out + err
    assert "Traceback" not in err
    [error] = [line for line in err.splitlines() if line.startswith("ltv: error:")]
    assert error.startswith("ltv: error: lost the lease _mutable/default/renew.lease: token 1 "
                            "was taken over by renew@"), err
    assert error.endswith("(token 2)"), err
    assert _evidence(target.store) == after_b  # A wrote nothing

    for tenant, pid in ids:
        verify = ltv_cli("archive", "verify", pid, "--tenant", tenant, "--store", target.url,
                         "--at", CHECK_AT, "--trust", pki.directory / "root.pem",
                         env=target.env)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert verify.stdout.startswith("PASSED: "), verify.stdout
        assert "2 archive timestamps" in verify.stderr, verify.stderr

    # A's job, run again, moves the chains to SHA-512 on top of B's entries
    again = ltv_cli("archive", "renew", "--tenant", "default", *common, "--at", A_AT,
                    "--hash-algorithm", "sha512", env=target.env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "renewed 0 by timestamp, 2 by hash tree" in again.stdout, again.stdout
    for tenant, pid in ids:
        verify = ltv_cli("archive", "verify", pid, "--tenant", tenant, "--store", target.url,
                         "--at", CHECK_AT, "--trust", pki.directory / "root.pem",
                         env=target.env)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        expected = "3 archive timestamps" if tenant == "default" else "2 archive timestamps"
        assert expected in verify.stderr, verify.stderr


def test_cli_refuses_a_shorter_retention_in_one_line(signed: Path, pki: SamplePki,
                                                      tmp_path: Path) -> None:
    store = tmp_path / "store"
    short = format_time(AT + timedelta(days=30))
    put = ltv_cli("archive", "put", signed, "--meta", f"retain-until={short}", "--store", store,
                  "--pki", pki.directory, "--at", format_time(AT))
    assert put.returncode == 4, put.stdout + put.stderr
    floor = format_time(AT.replace(year=AT.year + 10))[:-1]  # --at's clock ticks on: + µs
    assert re.fullmatch(
        rf"ltv: error: retain-until {re.escape(short)} is before the minimum retention "
        rf"\(10y: {re.escape(floor)}(\.\d+)?Z\); retention can be extended, never shortened",
        put.stderr.strip()), put.stderr
    assert not store.exists() or not list(LocalStore(store).list())
    # the operator's floor decides: with --min-retention 7d the same request is accepted
    ok = ltv_cli("archive", "put", signed, "--meta", f"retain-until={short}", "--store", store,
                 "--pki", pki.directory, "--at", format_time(AT), "--min-retention", "7d")
    assert ok.returncode == 0, ok.stderr
    assert LocalStore(store).retention(f"default/packages/{ok.stdout.strip()}.json") == AT + \
        timedelta(days=30)
    for args in (["archive", "put", signed, "--min-retention", "ten years"],
                 ["archive", "renew", "--tenant", "../etc"],
                 ["serve", "--min-retention", "0y"]):
        bad = ltv_cli(*args, "--store", store, timeout=60)
        assert bad.returncode in (2, 4), bad.stdout + bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
        assert "Traceback" not in bad.stderr
