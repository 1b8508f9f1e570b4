"""Renewal is fenced (security review finding 7), in process on the memory, local and SeaweedFS
stores: the reviewer's renew_race.py (renewer B pauses in its TSA call past its lease, renewer
A takes the lease over and renews), a takeover racing a write that already passed its fence
check (the successor claim), the heartbeat, and the renewal entries' retention. Two real
``ltv archive renew`` processes are in test_renew_processes.py."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.errors import LeaseLostError
from archive.ingest import IngestItem, ingest, read_entries
from archive.local import LocalStore
from archive.memory import MemoryStore
from archive.package import data_objects, package_ids, read_package
from archive.renew import renew
from archive.store import ObjectStore, acquire_lease, check_lease, heartbeat_lease
from archive.verify import load_evidence
from ltv.algorithms import DigestAlgorithm
from ltv.clock import FixedClock
from ltv.ers import verify_evidence_record
from ltv.timestamps import TimestampToken, parse_token

from .conftest import ErsTsa, SeaweedFS

START = datetime(2026, 11, 1, tzinfo=UTC)
FOREVER = timedelta(days=365 * 40)
_buckets = itertools.count(1)


class Client:
    def __init__(self, tsa: ErsTsa) -> None:
        self.tsa = tsa

    def timestamp(self, digest: bytes, algorithm: DigestAlgorithm) -> TimestampToken:
        return parse_token(self.tsa.timestamp(digest, algorithm))


@pytest.fixture(params=["memory", "local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "local":
        yield LocalStore(tmp_path / "store")
    else:
        from archive.s3 import S3Store

        s3: SeaweedFS = request.getfixturevalue("seaweedfs")
        yield S3Store(endpoint=s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key,
                      bucket=f"ltv-fence-{os.getpid()}-{next(_buckets)}")


def _fill(store: ObjectStore, tsa: ErsTsa, batches: int = 2) -> list[str]:
    ids: list[str] = []
    for b in range(batches):
        items = [IngestItem(signed=f"contract {b}-{n}".encode(), detached=b"annex")
                 for n in range(2)]
        ids += ingest(store, items, timestamps=Client(tsa), clock=FixedClock(START))
    return ids


def _evidence_keys(store: ObjectStore) -> set[str]:
    return {i.key for i in store.list() if not i.key.startswith("_mutable/")}


def _verify_all(store: ObjectStore, tsa: ErsTsa) -> list[list[int]]:
    shapes = []
    for pid in package_ids(store):
        evidence = load_evidence(store, pid)
        verify_evidence_record(evidence.record, data_objects(evidence.package),
                               verify_timestamp=tsa.verify)
        shapes.append([len(c) for c in evidence.record.chains])
    return shapes


def test_renew_race_of_the_review(store: ObjectStore, ers_tsa: ErsTsa) -> None:
    """renew_race.py: B (hash-tree renewal) waits for its TSA past its lease; A takes the lease
    over and renews by timestamp. Before the fix B then wrote chain 1 over a sequence missing
    A's entry and every package of the batch failed assembly for good."""
    ids = _fill(store, ers_tsa)
    assert _verify_all(store, ers_tsa) == [[1]] * 4
    seen: dict[str, Any] = {}

    class SlowTsaForB:
        def timestamp(self, digest: bytes, algorithm: DigestAlgorithm) -> TimestampToken:
            if "a" not in seen:
                seen["a"] = renew(store, timestamps=Client(ers_tsa), margin=FOREVER,
                                  clock=FixedClock(START + timedelta(hours=1)))
                seen["after_a"] = _evidence_keys(store)
            return Client(ers_tsa).timestamp(digest, algorithm)

    with pytest.raises(LeaseLostError, match=r"lost the lease _mutable/default/renew\.lease"):
        renew(store, timestamps=SlowTsaForB(), clock=FixedClock(START),
              hash_algorithm=DigestAlgorithm.SHA512)
    assert seen["a"].timestamp_renewed == 2
    assert _evidence_keys(store) == seen["after_a"]  # B, fenced off, wrote nothing
    assert _verify_all(store, ers_tsa) == [[2]] * 4
    batch = read_package(store, ids[0]).manifest.batch
    assert [(e.chain, e.index) for e in read_entries(store, batch)] == [(0, 0), (0, 1)]
    # the next run moves the chains to SHA-512 on top of A's entries, and everything verifies
    again = renew(store, timestamps=Client(ers_tsa), clock=FixedClock(START),
                  hash_algorithm=DigestAlgorithm.SHA512)
    assert again.hash_tree_renewed == 2
    assert _verify_all(store, ers_tsa) == [[2, 1]] * 4
    assert read_entries(store, batch)[-1].fencing_token == 3  # A had 2, B 1


class _TakeoverBeforeClaim:
    """The store as renewer B sees it: B's first successor claim is preceded by a whole run of
    renewer A (which takes B's expired lease over): a takeover racing a write that already
    passed its fence check."""

    def __init__(self, inner: ObjectStore, other: Callable[[], object]) -> None:
        self._inner = inner
        self._other = other
        self.fired = False

    def put(self, key: str, data: bytes, **kwargs: Any) -> None:
        if "/next/" in key and not self.fired:
            self.fired = True
            self._other()
        self._inner.put(key, data, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_claim_keeps_the_sequence_linear(store: ObjectStore, ers_tsa: ErsTsa) -> None:
    ids = _fill(store, ers_tsa, batches=1)
    a: dict[str, Any] = {}

    def renewer_a() -> None:
        a["summary"] = renew(store, timestamps=Client(ers_tsa), margin=FOREVER,
                             clock=FixedClock(START + timedelta(hours=1)))

    view = _TakeoverBeforeClaim(store, renewer_a)
    b = renew(view, timestamps=Client(ers_tsa), clock=FixedClock(START),  # type: ignore[arg-type]
              hash_algorithm=DigestAlgorithm.SHA512)
    assert view.fired
    assert a["summary"].timestamp_renewed == 1
    # B's claim lost: its hash-tree entry was never written, A's timestamp entry stands
    assert (b.hash_tree_renewed, b.skipped) == (0, 1)
    batch = read_package(store, ids[0]).manifest.batch
    assert [(e.chain, e.index, e.kind) for e in read_entries(store, batch)] == [
        (0, 0, "ingest"), (0, 1, "timestamp")]
    assert _verify_all(store, ers_tsa) == [[2]] * 2


def test_claimed_but_unwritten_entry_is_finished(store: ObjectStore, ers_tsa: ErsTsa) -> None:
    """A crash between the claim and the entry: the next run writes the claimed entry."""
    ids = _fill(store, ers_tsa, batches=1)
    batch = read_package(store, ids[0]).manifest.batch

    class CrashAfterClaim:
        def __init__(self, inner: ObjectStore) -> None:
            self._inner = inner

        def put(self, key: str, data: bytes, **kwargs: Any) -> None:
            if "/ats/" in key:
                raise KeyboardInterrupt  # stands for SIGKILL
            self._inner.put(key, data, **kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

    with pytest.raises(KeyboardInterrupt):
        renew(CrashAfterClaim(store), timestamps=Client(ers_tsa),  # type: ignore[arg-type]
              clock=FixedClock(START), margin=FOREVER)
    assert len(read_entries(store, batch)) == 1
    assert store.exists(f"default/batches/{batch}/next/000-0000.json")
    # the rerun plans a hash-tree renewal, but the claimed timestamp entry is finished first
    summary = renew(store, timestamps=Client(ers_tsa), clock=FixedClock(START))
    assert summary.tsa_calls == 0
    assert [(e.chain, e.index) for e in read_entries(store, batch)] == [(0, 0), (0, 1)]
    assert _verify_all(store, ers_tsa) == [[2]] * 2


def test_heartbeat_keeps_the_token_and_fences(store: ObjectStore) -> None:
    key = "_mutable/default/renew.lease"
    t0 = START
    lease = acquire_lease(store, key, holder="a", ttl=timedelta(minutes=30), clock=FixedClock(t0))
    assert lease is not None
    beat = heartbeat_lease(store, lease, ttl=timedelta(minutes=30),
                           clock=FixedClock(t0 + timedelta(minutes=20)))
    assert beat.token == lease.token
    assert beat.expires == t0 + timedelta(minutes=50)
    # the heartbeat kept it: at t0+40min nobody else may take it
    assert acquire_lease(store, key, holder="b", ttl=timedelta(minutes=30),
                         clock=FixedClock(t0 + timedelta(minutes=40))) is None
    with pytest.raises(LeaseLostError):
        check_lease(store, lease)  # the etag before the heartbeat is stale
    check_lease(store, beat)
    taken = acquire_lease(store, key, holder="b", ttl=timedelta(minutes=30),
                          clock=FixedClock(t0 + timedelta(minutes=51)))
    assert taken is not None
    assert taken.token == beat.token + 1
    with pytest.raises(LeaseLostError, match=r"taken over by b \(token 2\)"):
        check_lease(store, beat)
    with pytest.raises(LeaseLostError):
        heartbeat_lease(store, beat, ttl=timedelta(minutes=30))


def test_renewal_entries_keep_the_batch_retention(ers_tsa: ErsTsa) -> None:
    store = MemoryStore(clock=FixedClock(START))
    long = datetime(2056, 11, 1, tzinfo=UTC)
    [pid] = ingest(store, [IngestItem(signed=b"c", retain_until=long)],
                   timestamps=Client(ers_tsa), clock=FixedClock(START))
    batch = read_package(store, pid).manifest.batch
    renew(store, timestamps=Client(ers_tsa), clock=FixedClock(START + timedelta(days=3000)),
          margin=FOREVER)
    [_, entry] = read_entries(store, batch)
    assert entry.retain_until == long
    for key in (f"default/batches/{batch}/ats/000-0001.json",
                f"default/batches/{batch}/next/000-0000.json"):
        assert store.retention(key) == long


def test_renew_all_covers_every_tenant_of_a_legacy_store(ers_tsa: ErsTsa) -> None:
    """Finding 17: renewal covered one tenant per run. A store written before the tenant
    registry is scanned once; a dry run finds its tenants without writing anything."""
    from archive.package import archive_tenants
    from archive.renew import renew_all

    fresh = MemoryStore()
    for tenant in ("acme", "beta"):
        ingest(fresh, [IngestItem(signed=f"contract of {tenant}".encode())],
               timestamps=Client(ers_tsa), tenant=tenant, clock=FixedClock(START))
    assert archive_tenants(fresh) == ["acme", "beta"]
    legacy = MemoryStore()  # the same objects without the registry
    for info in fresh.list():
        if not info.key.startswith(("_archive/", "_mutable/")):
            legacy.put(info.key, fresh.get(info.key))
    keys = [i.key for i in legacy.list()]
    assert archive_tenants(legacy, record=False) == ["acme", "beta"]
    dry = renew_all(legacy, timestamps=Client(ers_tsa), clock=FixedClock(START),
                    margin=FOREVER, dry_run=True)
    assert sorted(dry) == ["acme", "beta", "default"]
    assert [i.key for i in legacy.list()] == keys  # the dry run wrote nothing
    results = renew_all(legacy, timestamps=Client(ers_tsa), clock=FixedClock(START),
                        margin=FOREVER)
    assert {name: getattr(r, "timestamp_renewed", r) for name, r in results.items()} == {
        "acme": 1, "beta": 1, "default": 0}
    assert legacy.exists("_archive/tenants/acme")
    assert legacy.exists("_archive/tenants/beta")
    # a held lease fails its tenant only
    acquire_lease(legacy, "_mutable/beta/renew.lease", holder="other", ttl=timedelta(hours=1),
                  clock=FixedClock(START))
    again = renew_all(legacy, timestamps=Client(ers_tsa), clock=FixedClock(START),
                      margin=FOREVER)
    assert getattr(again["acme"], "timestamp_renewed", None) == 1
    assert type(again["beta"]).__name__ == "LeaseHeldError"
