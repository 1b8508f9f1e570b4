"""One conformance suite for every ObjectStore: local directory, memory, and SeaweedFS over S3."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.errors import (
    ArchiveInputError,
    ObjectExistsError,
    ObjectNotFoundError,
    StoreError,
)
from archive.local import LocalStore
from archive.memory import MemoryStore
from archive.store import (
    ObjectStore,
    WriteOnce,
    acquire_lease,
    open_store,
    release_lease,
)
from ltv.clock import FixedClock, SystemClock

from .conftest import SeaweedFS

_buckets = itertools.count(1)


def _s3(seaweedfs: SeaweedFS, **kwargs: object) -> ObjectStore:
    from archive.s3 import S3Store

    bucket = f"ltv-test-{os.getpid()}-{next(_buckets)}"
    return S3Store(
        endpoint=seaweedfs.endpoint,
        access_key=seaweedfs.access_key,
        secret_key=seaweedfs.secret_key,
        bucket=bucket,
        prefix="archive",
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture(params=["local", "memory", "s3", "s3-cluster"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalStore(tmp_path / "store")
    elif request.param == "memory":
        yield MemoryStore()
    elif request.param == "s3":
        yield _s3(request.getfixturevalue("seaweedfs"))
    else:  # the same suite on the multi-process cluster (samples.cluster, replication 001)
        yield _s3(request.getfixturevalue("seaweed_cluster"))


@pytest.fixture(params=["mini", "cluster"])
def s3_server(request: pytest.FixtureRequest) -> SeaweedFS:
    """``weed mini`` and the multi-process cluster: object lock and If-None-Match must behave
    the same on both."""
    if request.param == "mini":
        server: SeaweedFS = request.getfixturevalue("seaweedfs")
        return server
    cluster = request.getfixturevalue("seaweed_cluster")
    return SeaweedFS(cluster.endpoint, cluster.access_key, cluster.secret_key)


def test_put_get_exists(store: ObjectStore) -> None:
    assert not store.exists("aip/1/manifest.json")
    store.put("aip/1/manifest.json", b'{"a": 1}', content_type="application/json")
    assert store.exists("aip/1/manifest.json")
    assert store.get("aip/1/manifest.json") == b'{"a": 1}'
    store.put("aip/1/empty", b"")
    assert store.get("aip/1/empty") == b""
    with pytest.raises(ObjectNotFoundError) as info:
        store.get("aip/2/manifest.json")
    assert isinstance(info.value, LookupError)


def test_write_once_refused(store: ObjectStore) -> None:
    store.put("sha256/ab/cd", b"first")
    with pytest.raises(ObjectExistsError):
        store.put("sha256/ab/cd", b"second")
    assert store.get("sha256/ab/cd") == b"first"
    with pytest.raises(ArchiveInputError):
        store.delete("sha256/ab/cd")
    assert store.get("sha256/ab/cd") == b"first"


def test_list_order_and_paging(store: ObjectStore) -> None:
    keys = ["a-c", "a/b", "a/b/c/d", "a/x", "b", "ab", "a0"]
    # "a/b" and "a/b/c/d" cannot both exist on a file system: keep the set file-system-safe
    keys.remove("a/b")
    for key in keys:
        store.put(key, key.encode())
    listed = [info.key for info in store.list()]
    assert listed == sorted(keys)
    assert [i.key for i in store.list("a/")] == ["a/b/c/d", "a/x"]
    assert [i.key for i in store.list("a")] == sorted(k for k in keys if k.startswith("a"))
    pages: list[str] = []
    after = ""
    while True:
        page = [i.key for i in store.list(start_after=after, limit=2)]
        if not page:
            break
        pages += page
        after = page[-1]
    assert pages == sorted(keys)
    assert [i.key for i in store.list("a/", start_after="a/b/c/d")] == ["a/x"]
    info = next(store.list("a/x"))
    assert info.size == 3
    assert info.created is not None
    assert list(store.list("zzz")) == []


@pytest.mark.parametrize(
    "key",
    ["", "/abs", "a/../b", "..", "a//b", "a\\b", "a\x00b", "a/./b", ".hidden", "a/.tmp/x", "x/"],
)
def test_bad_keys(store: ObjectStore, key: str) -> None:
    with pytest.raises(ArchiveInputError) as info:
        store.put(key, b"x")
    assert isinstance(info.value, ValueError)
    with pytest.raises(ArchiveInputError):
        store.get(key)


def test_mutable_namespace(store: ObjectStore) -> None:
    key = "_mutable/sessions/abc"
    with pytest.raises(ArchiveInputError):
        store.put(key, b"x")  # write-once put refuses the mutable namespace
    with pytest.raises(ArchiveInputError):
        store.put_mutable("sessions/abc", b"x")  # and put_mutable refuses write-once keys
    etag1 = store.put_mutable(key, b"one")
    assert store.read_mutable(key).data == b"one"
    assert store.read_mutable(key).etag == etag1
    assert store.create_exclusive(key, b"two") is None
    etag2 = store.replace_if(key, b"two", etag=etag1)
    assert etag2 is not None
    assert etag2 != etag1
    assert store.replace_if(key, b"three", etag=etag1) is None
    assert store.delete_if(key, etag=etag1) is False
    assert store.get(key) == b"two"
    assert store.delete_if(key, etag=etag2) is True
    assert not store.exists(key)
    with pytest.raises(ObjectNotFoundError):
        store.read_mutable(key)
    assert store.replace_if(key, b"x", etag=etag2) is None
    assert store.create_exclusive(key, b"again") is not None
    store.delete(key)
    store.delete(key)  # idempotent
    assert not store.exists(key)


def test_lease_race_exactly_one_wins(store: ObjectStore) -> None:
    key = "_mutable/leases/renewal"
    barrier = threading.Barrier(8)
    winners: list[str] = []
    errors: list[BaseException] = []

    def contend(i: int) -> None:
        try:
            barrier.wait()
            lease = acquire_lease(store, key, holder=f"worker-{i}", ttl=timedelta(minutes=5))
            if lease is not None:
                winners.append(lease.holder)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(winners) == 1


def test_lease_expiry_takeover_and_release(store: ObjectStore) -> None:
    key = "_mutable/leases/renewal"
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    first = acquire_lease(store, key, holder="a", ttl=timedelta(minutes=5), clock=FixedClock(t0))
    assert first is not None
    assert (
        acquire_lease(store, key, holder="b", ttl=timedelta(minutes=5), clock=FixedClock(t0))
        is None
    )
    # the same holder renews its lease
    renewed = acquire_lease(store, key, holder="a", ttl=timedelta(minutes=5), clock=FixedClock(t0))
    assert renewed is not None
    later = FixedClock(t0 + timedelta(minutes=6))
    # two contenders race for the expired lease: exactly one takes it over
    b = acquire_lease(store, key, holder="b", ttl=timedelta(minutes=5), clock=later)
    c = acquire_lease(store, key, holder="c", ttl=timedelta(minutes=5), clock=later)
    assert b is not None
    assert c is None
    assert release_lease(store, renewed) is False  # "a" lost it: its release changes nothing
    assert first.token == renewed.token == 1
    assert b.token == 2  # a new holder: the fencing token grows
    assert release_lease(store, b) is True
    # released, not deleted: the token survives, so the next holder's is larger still
    d = acquire_lease(store, key, holder="d", ttl=timedelta(minutes=5), clock=FixedClock(t0))
    assert d is not None
    assert d.token == 3


def test_local_crash_leaves_nothing_visible(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    # a crash after the temporary file was written but before link(2): only the temp remains
    tmp = store.root / ".ltv" / "tmp" / "w-crashed"
    tmp.write_bytes(b"half")
    store.put("aip/1", b"whole")
    assert [i.key for i in store.list()] == ["aip/1"]
    with pytest.raises(ArchiveInputError):
        store.exists(".ltv/tmp/w-crashed")  # the store's own files are not keys
    mode = (store.root / "aip" / "1").stat().st_mode & 0o777
    assert mode == 0o444
    assert list((store.root / ".ltv" / "tmp").iterdir()) == [tmp]  # ours were cleaned


def test_local_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path / "store")

    def broken_link(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "link", broken_link)
    with pytest.raises(StoreError, match="while writing aip/1"):
        store.put("aip/1", b"data")
    monkeypatch.undo()
    assert list(store.list()) == []
    assert list((store.root / ".ltv" / "tmp").iterdir()) == []
    store.put("aip/1", b"data")


def test_local_key_clash(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("a/b", b"x")
    with pytest.raises(ArchiveInputError):
        store.put("a/b/c", b"y")


def test_write_once_modes(tmp_path: Path) -> None:
    assert LocalStore(tmp_path).write_once_mode() is WriteOnce.EXCLUSIVE_CREATE
    assert MemoryStore().write_once_mode() is WriteOnce.EXCLUSIVE_CREATE


def test_open_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(open_store(f"file://{tmp_path}/a"), LocalStore)
    assert isinstance(open_store(str(tmp_path / "b")), LocalStore)
    assert isinstance(open_store("memory:"), MemoryStore)
    for bad in ["http://x/y", "s3://", "ftp:foo", "", "file://host/x"]:
        with pytest.raises(ArchiveInputError):
            open_store(bad)
    for name in ("LTV_S3_ENDPOINT", "LTV_S3_ACCESS_KEY", "LTV_S3_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ArchiveInputError, match="LTV_S3_ENDPOINT"):
        open_store("s3://bucket/prefix")
    monkeypatch.setenv("LTV_S3_ENDPOINT", "http://127.0.0.1:1")
    monkeypatch.setenv("LTV_S3_ACCESS_KEY", "k")
    with pytest.raises(ArchiveInputError, match="LTV_S3_SECRET_KEY"):
        open_store("s3://bucket")
    monkeypatch.setenv("LTV_S3_SECRET_KEY", "s")
    with pytest.raises(ArchiveInputError, match="retention_days"):
        open_store("s3://bucket?retention_days=x")
    s3 = open_store("s3://bucket/pre?retention_days=30")
    assert s3.url == "s3://bucket/pre/"


def test_s3_unreachable_is_a_store_error() -> None:
    from archive.s3 import S3Store

    store = S3Store(
        endpoint="http://127.0.0.1:1", access_key="k", secret_key="s", bucket="nope", timeout=2,
        retry_time=0.5,
    )
    with pytest.raises(StoreError, match=r"s3://nope/") as info:
        store.put("a", b"x")
    assert "no answer from the server" in str(info.value)
    assert "gave up after" in str(info.value)  # retried with backoff, within the budget


# --- SeaweedFS only: object lock and COMPLIANCE retention ----------------------------------------


def test_s3_object_lock_and_compliance(s3_server: SeaweedFS) -> None:
    seaweedfs = s3_server
    from minio import Minio
    from minio.error import S3Error

    store = _s3(seaweedfs, default_retention=timedelta(days=1))
    assert store.write_once_mode() is WriteOnce.OBJECT_LOCK
    store.put("aip/1/manifest.json", b"kept")
    store.put("aip/2/x", b"y", retain_until=SystemClock().now() + timedelta(days=2))
    bucket = store.url.split("/")[2]
    raw = Minio(
        seaweedfs.endpoint.removeprefix("http://"),
        access_key=seaweedfs.access_key,
        secret_key=seaweedfs.secret_key,
        secure=False,
    )
    stat = raw.stat_object(bucket, "archive/aip/1/manifest.json")
    retention = raw.get_object_retention(bucket, "archive/aip/1/manifest.json", stat.version_id)
    assert retention is not None
    assert retention.mode == "COMPLIANCE"
    # the server itself refuses to delete the locked version, whoever asks
    with pytest.raises(S3Error) as info:
        raw.remove_object(bucket, "archive/aip/1/manifest.json", version_id=stat.version_id)
    assert info.value.code == "AccessDenied"
    assert store.get("aip/1/manifest.json") == b"kept"


def test_s3_racing_writers_one_wins(s3_server: SeaweedFS) -> None:
    store = _s3(s3_server)
    barrier = threading.Barrier(8)
    won: list[int] = []
    lost: list[int] = []

    def write(i: int) -> None:
        barrier.wait()
        try:
            store.put("aip/race", f"writer {i}".encode())
            won.append(i)
        except ObjectExistsError:
            lost.append(i)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert len(lost) == 7
    assert store.get("aip/race") == f"writer {won[0]}".encode()
