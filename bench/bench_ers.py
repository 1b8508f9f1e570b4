"""RFC 4998 timestamp renewal at archive scale, against per-document re-timestamping.

1,000,000 evidence records from five ingest batches of 200,000 (one timestamp each) sit in a
LocalStore under a temporary directory. Renewal reads them, covers all of them with hash trees
over the distinct previous timestamps (``ltv.ers.renew_timestamps_der``: one TSA call here),
and writes the renewed records as new write-once objects. The peer figure, measured in the same
run on 1,000 records, is per-document re-timestamping (one TSA call per record).

Record layout: the archive package format is not settled yet, so records are kept as *bundles*
— one object per ingest batch holding its records' DER back to back (DER is self-delimiting).
Per-record objects are measured too, on 20,000 records, and extrapolated: with an fsync per
object they cost ~0.3 ms each on this disk, which alone exceeds a minute per million.
The TSA is the real in-process one (``tsa.authority.TimeStampAuthority`` through
``ltv.timestamps.LocalTimestampClient``); its calls are counted.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from archive.local import LocalStore
from bench.harness import record
from ltv import ers
from ltv.algorithms import DigestAlgorithm
from ltv.clock import SystemClock
from ltv.timestamps import LocalTimestampClient
from tsa.authority import TimeStampAuthority, TsaIdentity
from tsa.serials import MemorySerialSource

RECORDS = 1_000_000
BATCH = 200_000
PER_OBJECT_SAMPLE = 20_000
PER_DOCUMENT_SAMPLE = 1_000
ALG = DigestAlgorithm.SHA256


class CountingTimestamper:
    def __init__(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench ERS TSA")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            )
            .sign(key, hashes.SHA256())
        )
        authority = TimeStampAuthority(
            TsaIdentity(private_key=key, certificate=cert),
            serials=MemorySerialSource(),
            clock=SystemClock(),
        )
        self._client = LocalTimestampClient(authority.respond)
        self.calls = 0

    def __call__(self, digest: bytes, algorithm: DigestAlgorithm) -> bytes:
        self.calls += 1
        return self._client.timestamp(digest, algorithm).der


def _split(blob: bytes) -> list[bytes]:
    """Cut a bundle of back-to-back DER records apart (reads only the outer headers)."""
    out = []
    pos = 0
    while pos < len(blob):
        first = blob[pos + 1]
        if first < 0x80:
            end = pos + 2 + first
        else:
            n = first & 0x7F
            end = pos + 2 + n + int.from_bytes(blob[pos + 2 : pos + 2 + n], "big")
        out.append(blob[pos:end])
        pos = end
    return out


def main() -> None:
    figures: dict[str, object] = {}
    stamper = CountingTimestamper()
    with tempfile.TemporaryDirectory(prefix="bench-ers-") as tmp:
        store = LocalStore(Path(tmp) / "store")

        # -- setup: ingest 1M records in batches (not part of the renewal figure)
        start = time.perf_counter()
        for b in range(RECORDS // BATCH):
            groups = [[f"aip {b}-{i}".encode()] for i in range(BATCH)]
            batch = ers.new_evidence_records(groups, algorithm=ALG, timestamper=stamper)
            store.put(f"ers/v1/batch-{b:04d}.der", b"".join(r.to_der() for r in batch))
        figures["setup_ingest_seconds"] = round(time.perf_counter() - start, 2)
        figures["setup_tsa_calls"] = stamper.calls

        # -- timestamp renewal of all records: read, renew, write
        stamper.calls = 0
        start = time.perf_counter()
        bundles = [info.key for info in store.list("ers/v1/")]
        records: list[bytes] = []
        sizes = []
        for key in bundles:
            part = _split(store.get(key))
            sizes.append(len(part))
            records += part
        read_done = time.perf_counter()
        renewed = ers.renew_timestamps_der(records, timestamper=stamper)
        renew_done = time.perf_counter()
        offset = 0
        for key, size in zip(bundles, sizes, strict=True):
            store.put(key.replace("/v1/", "/v2/"), b"".join(renewed[offset : offset + size]))
            offset += size
        elapsed = time.perf_counter() - start
        assert len(renewed) == RECORDS
        figures["renewal_records"] = RECORDS
        figures["renewal_seconds"] = round(elapsed, 2)
        figures["renewal_read_seconds"] = round(read_done - start, 2)
        figures["renewal_compute_seconds"] = round(renew_done - read_done, 2)
        figures["renewal_write_seconds"] = round(time.perf_counter() - renew_done, 2)
        figures["renewal_tsa_calls"] = stamper.calls
        figures["renewal_records_per_second"] = round(RECORDS / elapsed)
        figures["record_bytes_before"] = len(records[0])
        figures["record_bytes_after"] = len(renewed[0])
        sample = ers.EvidenceRecord.from_der(renewed[12345])
        assert [len(c) for c in sample.chains] == [2]
        del records, renewed

        # -- the same, one object per record, on a sample (fsync per object)
        per_object = LocalStore(Path(tmp) / "per-object")
        groups = [[f"doc {i}".encode()] for i in range(PER_OBJECT_SAMPLE)]
        for i, r in enumerate(ers.new_evidence_records(groups, algorithm=ALG, timestamper=stamper)):
            per_object.put(f"ers/v1/{i:08d}.der", r.to_der())
        stamper.calls = 0
        start = time.perf_counter()
        keys = [info.key for info in per_object.list("ers/v1/")]
        ders = [per_object.get(k) for k in keys]
        out = ers.renew_timestamps_der(ders, timestamper=stamper)
        for k, der in zip(keys, out, strict=True):
            per_object.put(k.replace("/v1/", "/v2/"), der)
        per_object_s = time.perf_counter() - start
        figures["per_object_sample_records"] = PER_OBJECT_SAMPLE
        figures["per_object_sample_seconds"] = round(per_object_s, 2)
        figures["per_object_extrapolated_1m_seconds"] = round(
            per_object_s * RECORDS / PER_OBJECT_SAMPLE, 1
        )

        # -- peer: per-document re-timestamping of 1,000 records
        sample_records = [ers.EvidenceRecord.from_der(d) for d in out[:PER_DOCUMENT_SAMPLE]]
        stamper.calls = 0
        start = time.perf_counter()
        for r in sample_records:
            ers.renew_timestamp(r, timestamper=stamper)
        per_doc = time.perf_counter() - start
        figures["per_document_sample_records"] = PER_DOCUMENT_SAMPLE
        figures["per_document_seconds"] = round(per_doc, 3)
        figures["per_document_tsa_calls"] = stamper.calls
        per_doc_1m = per_doc * RECORDS / PER_DOCUMENT_SAMPLE
        figures["per_document_extrapolated_1m_seconds"] = round(per_doc_1m, 1)
        figures["ratio_per_document_vs_batch"] = round(per_doc_1m / elapsed, 1)
        figures["goal_met"] = elapsed <= 60 and figures["renewal_tsa_calls"] <= 10  # type: ignore[operator]
    record(
        "ers",
        figures,
        notes="bundle layout (one object per 200k-record ingest batch); per-record objects "
        "extrapolated from a 20k sample; per-document figure excludes storage I/O",
    )


if __name__ == "__main__":
    main()
