"""Archive renewal at scale: ``archive.renew`` over 1,000,000 packages vs per-document renewal.

Setup (not timed): five ingest batches of 200,000 synthetic packages in a LocalStore under a
temporary directory. To reach a million cheaply, the packages of the big batches are
*synthetic*: small manifests (schema ``ltv.aip/1``, no blobs) hashed in memory, so each
package's leaf is the SHA-256 of its manifest, and only the batch's ingest entry (the tree's
leaves and its timestamp) is written, exactly as :func:`archive.ingest.seal_batch` writes it;
1,000 real packages (manifest stored) form a sixth batch so that records can be assembled and
verified after the renewal.

Timed: ``archive.renew.renew`` — timestamp renewal of every batch (1,000,000 + 1,000 records)
with one timestamp over the batches' last tokens, one new write-once entry per batch. Peer in
the same run: per-document re-timestamping of the 1,000 real records (assemble each record,
one TSA call per record, rewrite it as a new object), extrapolated to a million. The TSA is the
real in-process one (``tsa.authority``), its calls counted.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.ingest import (
    BatchEntry,
    IngestItem,
    entry_key,
    ingest,
    published_marker_key,
    read_entries,
)
from archive.local import LocalStore
from archive.package import data_objects, package_ids, read_package
from archive.renew import renew
from archive.verify import load_evidence
from bench.bench_ers import CountingTimestamper
from bench.harness import record
from ltv import ers
from ltv.algorithms import DigestAlgorithm
from ltv.clock import FixedClock, format_time
from ltv.ers import build_hash_tree
from ltv.timestamps import TimestampToken, parse_token

SYNTHETIC_BATCHES = 5
PER_BATCH = 200_000
REAL = 1_000
ALG = DigestAlgorithm.SHA256


class Client:
    def __init__(self, stamp: CountingTimestamper) -> None:
        self.stamp = stamp

    def timestamp(self, digest: bytes, algorithm: DigestAlgorithm) -> TimestampToken:
        return parse_token(self.stamp(digest, algorithm))


def _synthetic_batch(store: LocalStore, stamp: CountingTimestamper, n: int,
                     created: datetime) -> None:
    batch = f"{created.strftime('%Y%m%dT%H%M%SZ')}-synthetic{n:04d}"
    ids = []
    for i in range(PER_BATCH):
        manifest = json.dumps({"schema": "ltv.aip/1", "tenant": "default", "batch": batch,
                               "created": format_time(created), "metadata": {"n": str(i)},
                               "objects": [], "retain_until": None}, sort_keys=True).encode()
        ids.append(hashlib.sha256(manifest).digest())
    tree = build_hash_tree(ids, ALG)
    token = stamp(tree.root, ALG)
    entry = BatchEntry(batch=batch, chain=0, index=0, kind="ingest", algorithm=ALG, token=token,
                       created=created, packages=tuple(i.hex() for i in ids), leaves=tuple(ids))
    store.put(entry_key("default", batch, 0, 0), entry.to_bytes())
    store.put(published_marker_key("default", batch), b"")  # as ingest's last step does


def main() -> None:
    stamp = CountingTimestamper()
    start = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="ltv-bench-archive-") as tmp:
        store = LocalStore(Path(tmp) / "store")
        t0 = time.perf_counter()
        for n in range(SYNTHETIC_BATCHES):
            _synthetic_batch(store, stamp, n, start)
        items = [IngestItem(signed=f"real contract {i}".encode(), metadata={"i": str(i)})
                 for i in range(REAL)]
        real_ids = ingest(store, items, timestamps=Client(stamp), clock=FixedClock(start))
        setup_s = time.perf_counter() - t0
        total = SYNTHETIC_BATCHES * PER_BATCH + REAL

        calls_before = stamp.calls
        t0 = time.perf_counter()
        summary = renew(store, timestamps=Client(stamp), clock=FixedClock(start),
                        margin=timedelta(days=365 * 100))
        renew_s = time.perf_counter() - t0
        renew_calls = stamp.calls - calls_before
        assert summary.timestamp_renewed == SYNTHETIC_BATCHES + 1, summary

        # the renewed records verify (sample of the real packages)
        def check(token: bytes, digest: bytes, algorithm: DigestAlgorithm) -> datetime:
            parsed = parse_token(token)
            assert parsed.message_digest == digest
            return parsed.gen_time

        for pid in real_ids[:20]:
            ev = load_evidence(store, pid)
            ers.verify_evidence_record(ev.record, data_objects(ev.package),
                                       verify_timestamp=check)
            assert len(ev.record.chains[0]) == 2

        # peer: per-document re-timestamping of 1,000 records, one object per record
        batch = read_package(store, real_ids[0]).manifest.batch
        entries = read_entries(store, batch)
        from archive.ingest import assemble_records

        packages = [read_package(store, pid) for pid in real_ids]
        records = [r.to_der() for r in assemble_records(entries[:1], packages)]
        calls_before = stamp.calls
        t0 = time.perf_counter()
        for pid, der in zip(real_ids, records, strict=True):
            renewed = ers.renew_timestamps_der([der], timestamper=stamp)[0]
            store.put(f"per-document/{pid}.ers", renewed)
        per_doc_s = time.perf_counter() - t0
        per_doc_calls = stamp.calls - calls_before
        assert len(package_ids(store)) == REAL

    per_doc_million = per_doc_s / REAL * 1_000_000
    record(
        "archive",
        {
            "records": total,
            "batches": SYNTHETIC_BATCHES + 1,
            "setup_s": setup_s,
            "archive_renew_s": renew_s,
            "archive_renew_tsa_calls": renew_calls,
            "archive_renew_records_per_s": total / renew_s,
            "per_document_records": REAL,
            "per_document_s": per_doc_s,
            "per_document_tsa_calls": per_doc_calls,
            "per_document_extrapolated_1M_s": per_doc_million,
            "speedup_vs_per_document": per_doc_million / renew_s * (total / 1_000_000),
            "goal_met_60s_10_calls": renew_s <= 60 and renew_calls <= 10,
        },
        notes=(
            "archive.renew on a LocalStore: 5 synthetic ingest batches of 200,000 packages "
            "(manifests hashed in memory, only the batch entries stored) + 1 batch of 1,000 "
            "stored packages. Renewal writes one new entry per batch under one timestamp; "
            "per-document peer: one TSA call and one rewritten object per record (1,000, "
            "extrapolated)."
        ),
    )


if __name__ == "__main__":
    main()
