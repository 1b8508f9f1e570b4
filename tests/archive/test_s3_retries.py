"""S3 retries (issue #16): transient failures are retried with backoff and jitter within a
bounded time, and a conditional write whose answer was lost is decided by content, so a retried
write is idempotent. The server is the real SeaweedFS (``weed mini``); the faults are injected
between minio and urllib3: a request that never leaves ("before") or one that reached the
server and whose answer is lost ("lost")."""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import pytest
import urllib3

from archive.errors import ObjectExistsError, StoreError
from archive.s3 import S3Store

from .conftest import SeaweedFS

_buckets = itertools.count(1)


class Flaky:
    """Wraps the store's urllib3 pool: ``plan`` lists (METHOD, "before" | "lost") faults, each
    taken by the next request with that method."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.plan: list[tuple[str, str]] = []
        self.sent: list[str] = []

    def urlopen(self, method: str, url: str, **kwargs: Any) -> Any:
        self.sent.append(method)
        for n, (want, mode) in enumerate(self.plan):
            if want == method:
                del self.plan[n]
                if mode == "before":
                    raise urllib3.exceptions.ProtocolError("connection reset before sending")
                response = self.inner.urlopen(method, url, **kwargs)
                response.read()
                raise urllib3.exceptions.ProtocolError("connection lost before the answer")
        return self.inner.urlopen(method, url, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _store(seaweedfs: SeaweedFS, **kwargs: Any) -> tuple[S3Store, Flaky]:
    store = S3Store(endpoint=seaweedfs.endpoint, access_key=seaweedfs.access_key,
                    secret_key=seaweedfs.secret_key,
                    bucket=f"ltv-retry-{os.getpid()}-{next(_buckets)}", **kwargs)
    store.write_once_mode()  # the bucket exists before the faults start
    flaky = Flaky(store._client._http)
    store._client._http = flaky
    delays: list[float] = []
    store._sleep = delays.append  # type: ignore[method-assign]
    store.delays = delays  # type: ignore[attr-defined]
    return store, flaky


def test_a_write_once_put_whose_answer_was_lost_succeeds_once(seaweedfs: SeaweedFS) -> None:
    store, flaky = _store(seaweedfs)
    flaky.plan = [("PUT", "lost")]
    store.put("aip/1", b"the package")  # landed, answer lost; resent: 412 with our bytes
    assert store.get("aip/1") == b"the package"
    assert store.retries == 1
    assert flaky.sent.count("PUT") == 2
    # another writer's bytes under the key: the resent write is refused, as it must be
    store.put("aip/2", b"someone else")
    flaky.plan = [("PUT", "lost")]
    with pytest.raises(ObjectExistsError):
        store.put("aip/2", b"ours")
    assert store.get("aip/2") == b"someone else"
    # a refusal on the first attempt stays a refusal (no content check, no retry)
    with pytest.raises(ObjectExistsError):
        store.put("aip/1", b"the package")


def test_mutable_compare_and_swap_survives_a_lost_answer(seaweedfs: SeaweedFS) -> None:
    store, flaky = _store(seaweedfs)
    flaky.plan = [("PUT", "lost")]
    etag = store.create_exclusive("_mutable/lease", b"holder a nonce 1")
    assert etag is not None
    assert store.read_mutable("_mutable/lease").etag == etag
    flaky.plan = [("PUT", "lost")]
    etag2 = store.replace_if("_mutable/lease", b"holder a nonce 2", etag=etag)
    assert etag2 is not None
    assert store.read_mutable("_mutable/lease").etag == etag2
    assert store.replace_if("_mutable/lease", b"late", etag=etag) is None  # still a CAS
    flaky.plan = [("DELETE", "lost")]
    assert store.delete_if("_mutable/lease", etag=etag2) is True
    assert not store.exists("_mutable/lease")
    assert store.retries == 3


def test_reads_and_listings_are_retried_with_growing_jittered_backoff(
        seaweedfs: SeaweedFS) -> None:
    store, flaky = _store(seaweedfs)
    for i in range(3):
        store.put(f"k/{i}", b"x")
    flaky.plan = [("GET", "before")] * 4
    assert store.get("k/1") == b"x"
    delays: list[float] = store.delays  # type: ignore[attr-defined]
    assert len(delays) == 4
    for n, delay in enumerate(delays):  # full jitter under 0.1 s * 2^n
        assert 0 <= delay <= 0.1 * 2 ** n
    flaky.plan = [("GET", "before")]  # the listing request itself
    assert [i.key for i in store.list("k/")] == ["k/0", "k/1", "k/2"]
    assert store.exists("k/2")


def test_the_retry_budget_bounds_the_time_then_one_clear_error(seaweedfs: SeaweedFS) -> None:
    store, flaky = _store(seaweedfs, retry_time=0.3)
    store._sleep = time.sleep  # type: ignore[method-assign]
    flaky.plan = [("PUT", "before")] * 1000
    start = time.monotonic()
    with pytest.raises(StoreError) as info:
        store.put("aip/x", b"x")
    assert time.monotonic() - start < 2.5
    text = str(info.value)
    assert text.startswith("while writing aip/x to s3://ltv-retry-"), text
    assert "connection reset before sending" in text
    assert "gave up after" in text
    assert "attempts in 0.3 s" in text
    flaky.plan = []
    store.put("aip/x", b"x")  # and it succeeds when tried again
    assert store.get("aip/x") == b"x"


def test_a_refusal_is_not_retried(seaweedfs: SeaweedFS) -> None:
    store = S3Store(endpoint=seaweedfs.endpoint, access_key=seaweedfs.access_key,
                    secret_key="not-the-secret", bucket=f"ltv-retry-{os.getpid()}-denied")
    with pytest.raises(StoreError) as info:
        store.put("a", b"x")
    assert "gave up" not in str(info.value)
    assert store.retries == 0


def test_racing_retention_extensions_all_succeed(seaweedfs: SeaweedFS) -> None:
    """Eight API requests archiving the same blob extend its retention at once: one may read the
    retention, another extend it further, and the first's shorter date is then refused by the
    server (COMPLIANCE never shortens); that is success, not an error (found on the cluster:
    a 503 from ``POST /v1/archive`` under load)."""
    import threading
    from datetime import timedelta

    from ltv.clock import SystemClock

    store, _ = _store(seaweedfs)
    now = SystemClock().now().replace(microsecond=0)
    store.put("blob", b"shared", retain_until=now + timedelta(days=1))
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def extend(i: int) -> None:
        barrier.wait()
        try:
            got = store.extend_retention("blob", now + timedelta(days=2, seconds=i))
            assert got is not None
            assert got >= now + timedelta(days=2, seconds=i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=extend, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.retention("blob") == now + timedelta(days=2, seconds=7)
