"""The renewal job over the store (RFC 4998 §5.2): timestamp renewal across batches with one
timestamp, hash-tree renewal to SHA-512, idempotence, dry run, the lease, and BouncyCastle's
verdict on the exported records after each kind of renewal."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.errors import ArchiveInputError
from archive.export import export_evidence_record
from archive.ingest import IngestItem, ingest, read_entries
from archive.memory import MemoryStore
from archive.package import data_objects, package_ids, read_package
from archive.renew import LeaseHeldError, renew
from archive.store import ObjectStore, acquire_lease
from archive.verify import load_evidence
from ltv.algorithms import DigestAlgorithm
from ltv.clock import FixedClock
from ltv.ers import EvidenceRecord, verify_evidence_record
from ltv.timestamps import TimestampToken, parse_token

from .conftest import ErsTsa

START = datetime(2026, 11, 1, tzinfo=UTC)
FOREVER = timedelta(days=365 * 40)  # a margin that makes every batch due
_BC = [Path("/usr/share/java") / jar for jar in ("bcpkix.jar", "bcprov.jar", "bcutil.jar")]


class Client:
    """ErsTsa as a TimestampClient."""

    def __init__(self, tsa: ErsTsa) -> None:
        self.tsa = tsa

    def timestamp(self, digest: bytes, algorithm: DigestAlgorithm) -> TimestampToken:
        return parse_token(self.tsa.timestamp(digest, algorithm))


def _fill(store: ObjectStore, tsa: ErsTsa, batches: int = 3, per_batch: int = 4) -> list[str]:
    ids: list[str] = []
    for b in range(batches):
        items = [IngestItem(signed=f"document {b}-{n}".encode(), detached=b"shared annex",
                            metadata={"n": f"{b}-{n}"}) for n in range(per_batch)]
        ids += ingest(store, items, timestamps=Client(tsa), clock=FixedClock(START))
    return ids


def _verify_all(store: ObjectStore, tsa: ErsTsa) -> list[int]:
    chains = []
    for pid in package_ids(store):
        evidence = load_evidence(store, pid)
        verify_evidence_record(evidence.record, data_objects(evidence.package),
                               verify_timestamp=tsa.verify)
        chains.append(sum(len(c) for c in evidence.record.chains))
    return chains


def test_timestamp_renewal_one_call_for_all_batches(make_tsa: Callable[[datetime], ErsTsa]
                                                    ) -> None:
    tsa = make_tsa(START)
    store = MemoryStore()
    _fill(store, tsa)
    assert _verify_all(store, tsa) == [1] * 12
    tsa.advance(timedelta(days=365 * 4))
    clock = FixedClock(START + timedelta(days=365 * 4))
    dry = renew(store, timestamps=Client(tsa), clock=clock, margin=FOREVER, dry_run=True)
    assert dry.dry_run
    assert len(dry.plans) == 3
    assert dry.tsa_calls == 0
    assert _verify_all(store, tsa) == [1] * 12  # nothing written
    before = tsa.calls
    summary = renew(store, timestamps=Client(tsa), clock=clock, margin=FOREVER)
    assert summary.timestamp_renewed == 3
    assert summary.tsa_calls == 1
    assert tsa.calls == before + 1
    assert _verify_all(store, tsa) == [2] * 12
    # not due with the default margin: nothing happens; rerun is idempotent
    again = renew(store, timestamps=Client(tsa), clock=clock)
    assert again.timestamp_renewed == 0
    assert again.tsa_calls == 0
    # the second renewal covers the (shared) last token of all batches with one leaf
    summary = renew(store, timestamps=Client(tsa), clock=clock, margin=FOREVER)
    assert summary.timestamp_renewed == 3
    assert summary.tsa_calls == 1
    assert _verify_all(store, tsa) == [3] * 12


def test_hash_tree_renewal_to_sha512(make_tsa: Callable[[datetime], ErsTsa]) -> None:
    tsa = make_tsa(START)
    store = MemoryStore()
    ids = _fill(store, tsa)
    clock = FixedClock(START + timedelta(days=365 * 8))
    tsa.advance(timedelta(days=365 * 8))
    summary = renew(store, timestamps=Client(tsa), clock=clock,
                    hash_algorithm=DigestAlgorithm.SHA512)
    assert summary.hash_tree_renewed == 3
    assert summary.tsa_calls == 1
    record = load_evidence(store, ids[0]).record
    assert record.digest_algorithms == (DigestAlgorithm.SHA256, DigestAlgorithm.SHA512)
    assert [len(c) for c in record.chains] == [1, 1]
    _verify_all(store, tsa)
    # idempotent: the chains are SHA-512 now
    assert renew(store, timestamps=Client(tsa), clock=clock,
                 hash_algorithm=DigestAlgorithm.SHA512).hash_tree_renewed == 0
    # then a timestamp renewal continues the SHA-512 chain
    renew(store, timestamps=Client(tsa), clock=clock, margin=FOREVER)
    record = load_evidence(store, ids[-1]).record
    assert [len(c) for c in record.chains] == [1, 2]
    _verify_all(store, tsa)
    # tampering with a package's data breaks the assembled record
    package = read_package(store, ids[0])
    with pytest.raises(Exception):  # noqa: B017,PT011 - InputError from ltv.ers
        verify_evidence_record(record, [b"other", *data_objects(package)[1:]],
                               verify_timestamp=tsa.verify)


def test_lease_excludes_a_second_renewer(make_tsa: Callable[[datetime], ErsTsa]) -> None:
    tsa = make_tsa(START)
    store = MemoryStore()
    _fill(store, tsa, batches=1, per_batch=1)
    lease = acquire_lease(store, "_mutable/default/renew.lease", holder="other",
                          ttl=timedelta(hours=1))
    assert lease is not None
    with pytest.raises(LeaseHeldError):
        renew(store, timestamps=Client(tsa), clock=FixedClock(START), margin=FOREVER)


def test_unsealed_package_says_so(make_tsa: Callable[[datetime], ErsTsa]) -> None:
    store = MemoryStore()
    with pytest.raises(ArchiveInputError):
        ingest(store, [], timestamps=Client(make_tsa(START)))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None or not all(p.exists() for p in _BC),
                    reason="needs java and libbcpkix-java (make system)")
def test_bouncycastle_after_timestamp_and_hash_tree_renewal(
        make_tsa: Callable[[datetime], ErsTsa], tmp_path: Path) -> None:
    tsa = make_tsa(START)
    store = MemoryStore()
    ids = _fill(store, tsa, batches=2, per_batch=3)
    (tmp_path / "tsa.pem").write_bytes(tsa.pem())
    args = [str(tmp_path / "tsa.pem")]
    stages: list[tuple[str, dict[str, object]]] = [
        ("ts", {"margin": FOREVER}), ("ht", {"hash_algorithm": DigestAlgorithm.SHA512})]
    for stage, kwargs in stages:
        renew(store, timestamps=Client(tsa), clock=FixedClock(START),
              **kwargs)  # type: ignore[arg-type]
        for pid in ids:
            out = tmp_path / stage / pid[:12]
            files = export_evidence_record(store, pid, out)
            EvidenceRecord.from_der((out / "evidence-record.ers").read_bytes())
            args.append(f"{out / 'evidence-record.ers'}={','.join(str(f) for f in files)}")
    assert len(read_entries(store, read_package(store, ids[0]).manifest.batch)) == 3
    java = Path(__file__).with_name("ErsCheck.java")
    result = subprocess.run(["java", "-cp", ":".join(str(p) for p in _BC), str(java), *args],
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("OK ") == len(args) - 1
