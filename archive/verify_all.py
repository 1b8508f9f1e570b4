"""Full verification (``ltv archive verify --all [--shard I/N] [--summary FILE]``).

Batch by batch, so that each batch's entries, renewal material and hash trees are read and built
once for all its packages: for every tenant, every batch of the shard (:mod:`archive.shard`, by
the batch id's random part), every package its ingest entry names is read, its evidence record
assembled and proven, and its signature validated offline at ``at``
(:func:`archive.verify.verify_evidence`). A package named by a sealed batch but not yet published
(an ingest interrupted after sealing; the next ``renew`` publishes it) is counted as
``unpublished``, not failed.

The summary (:meth:`VerifySummary.to_json`, schema ``ltv.verify-all/1``) counts packages, passed
and failed (up to 100 failures listed with their reason) and names the **weakest evidence**: the
package whose newest archive timestamp uses the weakest hash algorithm and, among those, whose
TSA certificate expires first: the one the next renewal must not miss.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509

from archive.errors import ArchiveError, ObjectNotFoundError
from archive.ingest import assemble_records, batch_ids, read_entries
from archive.package import Package, read_package
from archive.shard import Shard
from archive.store import ObjectStore
from archive.verify import _evidence, batch_material, verify_evidence
from ltv.clock import format_time
from ltv.errors import LtvError
from ltv.timestamps import parse_token
from ltv.validation import Indication

__all__ = ["SUMMARY_SCHEMA", "VerifySummary", "verify_all"]

SUMMARY_SCHEMA = "ltv.verify-all/1"
_MAX_LISTED = 100
_CHUNK = 256  # packages assembled and held in memory at once
#: Called after each package: (tenant, package id, passed, indication or error).
Progress = Callable[[str, str, bool, str], None]


@dataclass(kw_only=True)
class VerifySummary:
    at: datetime
    shard: Shard | None
    tenants: list[str]
    batches: int = 0
    packages: int = 0
    passed: int = 0
    failed: int = 0
    unpublished: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    weakest: dict[str, Any] | None = None
    seconds: float = 0.0
    _weakest_key: tuple[int, datetime] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SUMMARY_SCHEMA, "at": format_time(self.at),
            "shard": str(self.shard) if self.shard is not None else None,
            "tenants": self.tenants, "batches": self.batches, "packages": self.packages,
            "passed": self.passed, "failed": self.failed, "unpublished": self.unpublished,
            "failures": self.failures, "weakest_evidence": self.weakest,
            "seconds": round(self.seconds, 3),
            "packages_per_second": round(self.packages / self.seconds, 2) if self.seconds else None,
        }

    def line(self) -> str:
        shard = f" (shard {self.shard})" if self.shard is not None else ""
        weakest = ""
        if self.weakest is not None:
            weakest = (f"; weakest evidence: {self.weakest['package']} "
                       f"({self.weakest['digest_algorithm']}, TSA certificate expires "
                       f"{self.weakest['tsa_certificate_expires']})")
        return (f"{self.packages} packages in {self.batches} batches{shard}: {self.passed} "
                f"passed, {self.failed} failed, {self.unpublished} unpublished{weakest}")

    def _fail(self, tenant: str, package_id: str, reason: str) -> None:
        self.failed += 1
        if len(self.failures) < _MAX_LISTED:
            self.failures.append({"tenant": tenant, "package": package_id, "reason": reason})

    def _consider(self, tenant: str, package_id: str, entries: Sequence[Any]) -> None:
        last = entries[-1]
        expires = parse_token(last.token).signer_certificate.not_valid_after_utc
        key = (last.algorithm.digest_size, expires)
        if self._weakest_key is None or key < self._weakest_key:
            self._weakest_key = key
            self.weakest = {
                "tenant": tenant, "package": package_id, "batch": last.batch,
                "digest_algorithm": last.algorithm.value, "archive_timestamps": len(entries),
                "newest_timestamp": format_time(last.created),
                "tsa_certificate_expires": format_time(expires),
            }


def verify_all(store: ObjectStore, *, at: datetime, tenants: Sequence[str],
               shard: Shard | None = None, trust_anchors: Sequence[x509.Certificate] = (),
               progress: Progress | None = None) -> VerifySummary:
    """Verify every package of ``tenants`` (of ``shard`` only, if given); see the module
    docstring. Never raises for one package: its failure is counted and listed."""
    summary = VerifySummary(at=at, shard=shard, tenants=list(tenants))
    start = time.perf_counter()
    for tenant in tenants:
        for batch in batch_ids(store, tenant=tenant):
            if shard is not None and not shard.owns_batch(batch):
                continue
            summary.batches += 1
            _verify_batch(store, tenant, batch, summary, at=at, trust_anchors=trust_anchors,
                          progress=progress)
    summary.seconds = time.perf_counter() - start
    return summary


def _verify_batch(store: ObjectStore, tenant: str, batch: str, summary: VerifySummary, *,
                  at: datetime, trust_anchors: Sequence[x509.Certificate],
                  progress: Progress | None) -> None:
    entries = read_entries(store, batch, tenant=tenant)
    ids = list(entries[0].packages) if entries else []
    try:
        material, proven = batch_material(store, entries, tenant=tenant)
    except (ArchiveError, LtvError) as exc:
        for package_id in ids:
            summary.packages += 1
            summary._fail(tenant, package_id, f"batch {batch}: {exc}")
        return
    for start in range(0, len(ids), _CHUNK):
        packages: list[Package] = []
        for package_id in ids[start:start + _CHUNK]:
            try:
                packages.append(read_package(store, package_id, tenant=tenant))
            except ObjectNotFoundError:
                summary.unpublished += 1
            except (ArchiveError, LtvError) as exc:
                summary.packages += 1
                summary._fail(tenant, package_id, str(exc))
                _tell(progress, tenant, package_id, False, str(exc))
        try:
            records = assemble_records(entries, packages)
        except (ArchiveError, LtvError) as exc:
            for package in packages:
                summary.packages += 1
                summary._fail(tenant, package.id, str(exc))
            continue
        for package, record in zip(packages, records, strict=True):
            summary.packages += 1
            try:
                result = verify_evidence(_evidence(package, entries, record, material, proven),
                                         at=at, trust_anchors=trust_anchors)
            except (ArchiveError, LtvError) as exc:
                summary._fail(tenant, package.id, str(exc))
                _tell(progress, tenant, package.id, False, str(exc))
                continue
            indication = result.report.indication
            if indication is Indication.TOTAL_PASSED:
                summary.passed += 1
            else:
                summary._fail(tenant, package.id, indication.token)
            summary._consider(tenant, package.id, entries)
            _tell(progress, tenant, package.id, indication is Indication.TOTAL_PASSED,
                  indication.token)


def _tell(progress: Progress | None, tenant: str, package_id: str, passed: bool,
          text: str) -> None:
    if progress is not None:
        progress(tenant, package_id, passed, text)
