"""Retention only grows (security review finding 5), on the memory and local stores: the
operator's floor, a tenant's longer retain-until, refusal of a shorter one before anything is
written, extend-on-reuse of shared blobs, and the package's retention on every object of its
batch (manifests, entries, material, markers). The S3 side, read back from SeaweedFS, is in
test_retention_s3.py."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.errors import ArchiveInputError, ObjectNotFoundError, RetentionError
from archive.ingest import IngestItem, ingest, read_entries
from archive.local import LocalStore
from archive.memory import MemoryStore
from archive.package import Manifest, blob_key, manifest_key, read_package
from archive.retention import RetentionPeriod, effective_retention
from archive.store import ObjectStore
from ltv.algorithms import DigestAlgorithm
from ltv.clock import FixedClock
from ltv.evidence import EvidenceSet
from ltv.timestamps import TimestampToken, parse_token

from .conftest import ErsTsa

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TEN_YEARS = datetime(2036, 11, 1, 12, 0, tzinfo=UTC)


class Client:
    def __init__(self, tsa: ErsTsa) -> None:
        self.tsa = tsa

    def timestamp(self, digest: bytes, algorithm: DigestAlgorithm) -> TimestampToken:
        return parse_token(self.tsa.timestamp(digest, algorithm))


@pytest.fixture(params=["memory", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "memory":
        return MemoryStore(clock=FixedClock(START))
    return LocalStore(tmp_path / "store", clock=FixedClock(START))


# --- the rules (pure) --------------------------------------------------------------------------


def test_periods_are_calendar_periods() -> None:
    assert RetentionPeriod.parse("10y") == RetentionPeriod(years=10)
    assert RetentionPeriod.parse("3650d") == RetentionPeriod(days=3650)
    assert RetentionPeriod.parse(" 1Y180d ") == RetentionPeriod(years=1, days=180)
    assert RetentionPeriod.parse("10y").after(START) == TEN_YEARS
    leap = datetime(2028, 2, 29, tzinfo=UTC)
    # never earlier than asked: 29 February + 1 year is 1 March
    assert RetentionPeriod(years=1).after(leap) == datetime(2029, 3, 1, tzinfo=UTC)
    for bad in ("", "10", "ten years", "0y", "-1y", "10m", "y", "1d1y"):
        with pytest.raises(ArchiveInputError):
            RetentionPeriod.parse(bad)


def test_retain_until_extends_never_shortens() -> None:
    floor = RetentionPeriod(years=10)
    assert effective_retention(None, now=START, floor=floor) == TEN_YEARS
    later = datetime(2056, 1, 1, tzinfo=UTC)
    assert effective_retention(later, now=START, floor=floor) == later
    with pytest.raises(RetentionError, match="never shortened") as info:
        effective_retention(START + timedelta(minutes=2), now=START, floor=floor)
    assert "2036-11-01T12:00:00Z" in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(RetentionError, match="maximum"):
        effective_retention(datetime(9999, 12, 31, tzinfo=UTC), now=START, floor=floor)
    with pytest.raises(RetentionError, match="time zone"):
        effective_retention(datetime(2050, 1, 1), now=START, floor=floor)


# --- the stores record it and only ever extend it ------------------------------------------------


def test_store_records_floor_and_only_extends(store: ObjectStore) -> None:
    opened = (MemoryStore(clock=FixedClock(START), min_retention=RetentionPeriod(years=10))
              if isinstance(store, MemoryStore) else
              LocalStore(store.root, clock=FixedClock(START),  # type: ignore[attr-defined]
                         min_retention=RetentionPeriod(years=10)))
    opened.put("a/floor", b"x", retain_until=START + timedelta(days=1))  # below the floor
    assert opened.retention("a/floor") == TEN_YEARS
    opened.put("a/long", b"y", retain_until=datetime(2060, 1, 1, tzinfo=UTC))
    assert opened.retention("a/long") == datetime(2060, 1, 1, tzinfo=UTC)
    # extending to an earlier date keeps the later one
    assert opened.extend_retention("a/long", TEN_YEARS) == datetime(2060, 1, 1, tzinfo=UTC)
    assert opened.retention("a/long") == datetime(2060, 1, 1, tzinfo=UTC)
    assert opened.extend_retention("a/floor", datetime(2050, 1, 1, tzinfo=UTC)) == datetime(
        2050, 1, 1, tzinfo=UTC)
    assert opened.retention("a/floor") == datetime(2050, 1, 1, tzinfo=UTC)
    with pytest.raises(ObjectNotFoundError):
        opened.retention("a/none")
    with pytest.raises(ObjectNotFoundError):
        opened.extend_retention("a/none", TEN_YEARS)
    with pytest.raises(ArchiveInputError):
        opened.retention("_mutable/lease")  # mutable objects have no retention


def test_local_retention_record_is_read_only(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s", clock=FixedClock(START))
    store.put("k/1", b"data", retain_until=TEN_YEARS)
    record = tmp_path / "s" / ".ltv" / "retention" / "k" / "1"
    assert record.read_text().strip() == "2036-11-01T12:00:00Z"
    assert record.stat().st_mode & 0o777 == 0o400  # the owner's, read-only
    assert record.parent.stat().st_mode & 0o777 == 0o700
    assert [i.key for i in store.list()] == ["k/1"]  # records are not objects
    # a later put of the same key is refused and does not touch the record
    with pytest.raises(Exception, match="written once"):
        store.put("k/1", b"other", retain_until=datetime(2099, 1, 1, tzinfo=UTC))
    assert store.retention("k/1") == TEN_YEARS
    os.chmod(record, 0o644)  # what the store cannot stop: the owner of the files
    assert store.retention("k/1") == TEN_YEARS


# --- ingest: every object of a package and its batch ------------------------------------------


def _item(text: bytes, retain: datetime | None = None) -> IngestItem:
    return IngestItem(signed=b"signed contract", detached=text,
                      evidence=EvidenceSet(), retain_until=retain)


def test_package_objects_get_the_package_retention(store: ObjectStore, ers_tsa: ErsTsa) -> None:
    def material(token: bytes) -> EvidenceSet:
        return EvidenceSet.of(certificates=[ers_tsa.certificate, ers_tsa.root])

    [pid] = ingest(store, [_item(b"annex A")], timestamps=Client(ers_tsa),
                   clock=FixedClock(START), material=material)
    package = read_package(store, pid)
    assert package.manifest.retain_until == TEN_YEARS  # the floor, counted from ingest
    for digest in package.manifest.blob_hashes():
        assert store.retention(blob_key("default", digest)) == TEN_YEARS
    assert store.retention(manifest_key("default", pid)) == TEN_YEARS
    assert store.retention(f"default/pending/{pid}.json") == TEN_YEARS
    batch = package.manifest.batch
    [entry] = read_entries(store, batch)
    assert entry.retain_until == TEN_YEARS
    assert store.retention(f"default/batches/{batch}/ats/000-0000.json") == TEN_YEARS
    assert store.retention(f"default/batches/{batch}/published") == TEN_YEARS
    assert entry.token_material is not None
    assert store.retention(blob_key("default", entry.token_material)) == TEN_YEARS


def test_shorter_retain_until_refused_before_any_write(store: ObjectStore,
                                                         ers_tsa: ErsTsa) -> None:
    calls = ers_tsa.calls
    with pytest.raises(RetentionError, match="never shortened"):
        ingest(store, [_item(b"x", START + timedelta(minutes=2))], timestamps=Client(ers_tsa),
               clock=FixedClock(START))
    assert list(store.list()) == []
    assert ers_tsa.calls == calls
    # an operator with a shorter floor may accept it
    ingest(store, [_item(b"x", START + timedelta(days=40))], timestamps=Client(ers_tsa),
           clock=FixedClock(START), min_retention=RetentionPeriod(days=30))


def test_shared_blob_keeps_the_longest_retention(store: ObjectStore, ers_tsa: ErsTsa) -> None:
    thirty = datetime(2056, 11, 1, tzinfo=UTC)
    [first] = ingest(store, [_item(b"shared annex")], timestamps=Client(ers_tsa),
                     clock=FixedClock(START))
    [second] = ingest(store, [_item(b"shared annex", thirty)], timestamps=Client(ers_tsa),
                      clock=FixedClock(START))
    one, two = read_package(store, first), read_package(store, second)
    shared = set(one.manifest.blob_hashes()) & set(two.manifest.blob_hashes())
    assert len(shared) == 2  # the signed file and the annex
    for digest in shared:
        assert store.retention(blob_key("default", digest)) == thirty  # extended on reuse
    # the first package's own manifest keeps its own retention; the second's is 30 years
    assert store.retention(manifest_key("default", first)) == TEN_YEARS
    assert store.retention(manifest_key("default", second)) == thirty
    assert Manifest.from_bytes(two.manifest_bytes).retain_until == thirty
    # a third, shorter package never shortens it
    ingest(store, [_item(b"shared annex")], timestamps=Client(ers_tsa), clock=FixedClock(START))
    for digest in shared:
        assert store.retention(blob_key("default", digest)) == thirty


def test_batch_entries_get_the_longest_retention_of_the_batch(store: ObjectStore,
                                                              ers_tsa: ErsTsa) -> None:
    long = datetime(2046, 11, 1, tzinfo=UTC)
    ids = ingest(store, [_item(b"a"), _item(b"b", long)], timestamps=Client(ers_tsa),
                 clock=FixedClock(START))
    batch = read_package(store, ids[0]).manifest.batch
    assert read_entries(store, batch)[0].retain_until == long
    assert store.retention(f"default/batches/{batch}/ats/000-0000.json") == long
