"""Evidence packages: ingest -> get -> verify on every store (local, memory, SeaweedFS S3),
plus the package invariants (id = manifest hash, manifest last, tampering caught).

The signature is a real CAdES B-LTA from the session phone and sample PKI servers; the archive
timestamp comes from the same TSA over HTTP.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import SERVER_AT, PkiServer

from archive.errors import ArchiveInputError, ObjectNotFoundError
from archive.export import export_evidence_record, export_package
from archive.ingest import IngestItem, ingest, prepare_item, read_entries
from archive.local import LocalStore
from archive.memory import MemoryStore
from archive.package import (
    MANIFEST_SCHEMA,
    Manifest,
    data_objects,
    manifest_key,
    package_ids,
    read_package,
)
from archive.renew import renew
from archive.store import ObjectStore
from archive.verify import verify_package
from ltv.cli._services import build_services
from ltv.clock import OffsetClock
from ltv.errors import TimestampError
from ltv.ers import EvidenceRecord, verify_evidence_record
from ltv.evidence import EvidenceSet
from ltv.signing import SignatureFormat, SignatureLevel, SigningServices, sign
from ltv.timestamps import parse_token
from ltv.validation import Indication
from samples.phone import Phone
from samples.pki import SamplePki

from .conftest import SeaweedFS

CONTRACT = b"Contract: the archive keeps this for thirty years.\n" * 20
SIGNED_AT = SERVER_AT + timedelta(hours=1)
_buckets = itertools.count(1)


def _s3(seaweedfs: SeaweedFS) -> ObjectStore:
    from archive.s3 import S3Store

    return S3Store(endpoint=seaweedfs.endpoint, access_key=seaweedfs.access_key,
                   secret_key=seaweedfs.secret_key,
                   bucket=f"ltv-pkg-{os.getpid()}-{next(_buckets)}", prefix="archive")


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalStore(tmp_path / "store")
    elif request.param == "memory":
        yield MemoryStore()
    else:
        yield _s3(request.getfixturevalue("seaweedfs"))


def _services(pki: SamplePki) -> SigningServices:
    return build_services(pki=pki.directory, clock=OffsetClock(SIGNED_AT))


@pytest.fixture(scope="module")
def signed(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone) -> bytes:
    return sign(CONTRACT, phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                SignatureFormat.CADES, SignatureLevel.B_LTA, services=_services(pki))


@pytest.fixture(scope="module")
def item(signed: bytes, pki: SamplePki, pki_server: PkiServer) -> IngestItem:
    return prepare_item(signed, services=_services(pki), at=SIGNED_AT, signed_name="c.p7s",
                        trust_anchors=[pki.root],
                        metadata={"contract-id": "C-42", "parties": "A; B"})


def _ingest(store: ObjectStore, items: list[IngestItem], pki: SamplePki) -> list[str]:
    services = _services(pki)
    assert services.timestamp_client is not None
    return ingest(store, items, timestamps=services.timestamp_client,
                  clock=OffsetClock(SIGNED_AT))


def test_round_trip_on_every_store(store: ObjectStore, item: IngestItem, signed: bytes,
                                   pki: SamplePki, tmp_path: Path) -> None:
    [pid] = _ingest(store, [item], pki)
    assert package_ids(store) == [pid]
    package = read_package(store, pid)
    assert hashlib.sha256(package.manifest_bytes).hexdigest() == pid
    manifest = package.manifest
    assert json.loads(package.manifest_bytes)["schema"] == MANIFEST_SCHEMA
    assert manifest.metadata == {"contract-id": "C-42", "parties": "A; B"}
    signed_obj = manifest.first("signed")
    assert signed_obj is not None
    assert package.content(signed_obj) == signed
    roles = {o.role for o in manifest.objects}
    assert {"certificate", "ocsp", "timestamp", "validation-report", "trust-anchor"} <= roles
    report = json.loads(package.content(manifest.first("validation-report")))  # type: ignore[arg-type]
    assert report["signatures"][0]["indication"] == "TOTAL-PASSED"
    result = verify_package(store, pid, at=SIGNED_AT + timedelta(days=1))
    assert result.report.indication is Indication.TOTAL_PASSED
    assert len(result.times) == 1
    files = export_evidence_record(store, pid, tmp_path / "er")
    record = EvidenceRecord.from_der((tmp_path / "er" / "evidence-record.ers").read_bytes())
    objects = [f.read_bytes() for f in files]
    assert objects == data_objects(package)
    verify_evidence_record(record, objects, verify_timestamp=_check)
    export_package(store, pid, tmp_path / "pkg")
    assert (tmp_path / "pkg" / "c.p7s").read_bytes() == signed


def _check(token: bytes, digest: bytes, algorithm: Any) -> datetime:
    parsed = parse_token(token)
    assert parsed.message_digest == digest
    return parsed.gen_time


def test_one_timestamp_per_batch(item: IngestItem, pki: SamplePki) -> None:
    store = MemoryStore()
    others = [IngestItem(signed=item.signed, metadata={"n": str(n)}, evidence=EvidenceSet())
              for n in range(5)]
    ids = _ingest(store, [item, *others], pki)
    assert len(set(ids)) == 6
    batch = read_package(store, ids[0]).manifest.batch
    entries = read_entries(store, batch)
    assert len(entries) == 1
    assert entries[0].packages == tuple(ids)
    for pid in ids:
        assert verify_package(store, pid, at=SIGNED_AT + timedelta(days=1)).times


def test_tampered_blob_is_caught(item: IngestItem, pki: SamplePki, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    [pid] = _ingest(store, [item], pki)
    manifest = read_package(store, pid).manifest
    obj = manifest.first("signed")
    assert obj is not None
    path = tmp_path / "s" / "default" / "blobs" / "sha256" / obj.sha256
    path.chmod(0o644)
    path.write_bytes(b"forged")
    with pytest.raises(ArchiveInputError, match="corrupted"):
        verify_package(store, pid, at=SIGNED_AT)


def test_manifest_is_written_last(item: IngestItem, pki: SamplePki) -> None:
    class Failing(MemoryStore):
        def put(self, key: str, data: bytes, **kwargs: Any) -> None:
            if "/packages/" in key:
                raise OSError("disk full")
            super().put(key, data, **kwargs)

    store = Failing()
    with pytest.raises(OSError, match="disk full"):
        _ingest(store, [item], pki)
    assert package_ids(store) == []  # blobs may exist, no visible package


def test_a_crash_after_sealing_is_finished_by_the_next_renew(item: IngestItem,
                                                             pki: SamplePki) -> None:
    class CrashBeforePublishing(MemoryStore):
        crashing = True

        def put(self, key: str, data: bytes, **kwargs: Any) -> None:
            if self.crashing and "/packages/" in key:
                raise OSError("killed")
            super().put(key, data, **kwargs)

    store = CrashBeforePublishing()
    with pytest.raises(OSError, match="killed"):
        _ingest(store, [item], pki)
    assert package_ids(store) == []  # sealed but not yet visible: never half-visible
    store.crashing = False
    services = _services(pki)
    assert services.timestamp_client is not None
    summary = renew(store, timestamps=services.timestamp_client,
                    clock=OffsetClock(SIGNED_AT + timedelta(days=1)))
    assert summary.published == 1
    assert "published 1 packages of an interrupted ingest" in summary.line()
    [pid] = package_ids(store)
    assert verify_package(store, pid, at=SIGNED_AT + timedelta(days=1)).times
    again = renew(store, timestamps=services.timestamp_client,
                  clock=OffsetClock(SIGNED_AT + timedelta(days=1)))
    assert again.published == 0


def test_a_failing_tsa_leaves_no_visible_package(item: IngestItem) -> None:
    class DownTsa:
        def timestamp(self, digest: bytes, algorithm: object) -> object:
            raise TimestampError("while asking the TSA at http://127.0.0.1:9/tsa: refused")

    store = MemoryStore()
    with pytest.raises(TimestampError, match="refused"):
        ingest(store, [item], timestamps=DownTsa(), clock=OffsetClock(SIGNED_AT))
    assert package_ids(store) == []  # nothing listed, nothing half-sealed to verify
    assert not [i for i in store.list("") if "/packages/" in i.key or "/batches/" in i.key]


def test_bad_ids_and_missing_packages() -> None:
    store = MemoryStore()
    with pytest.raises(ArchiveInputError):
        read_package(store, "../etc/passwd")
    with pytest.raises(ObjectNotFoundError):
        read_package(store, "0" * 64)
    with pytest.raises(ArchiveInputError):
        Manifest.from_bytes(b'{"schema": "other"}')
    with pytest.raises(ArchiveInputError):
        manifest_key("bad tenant", "0" * 64)
