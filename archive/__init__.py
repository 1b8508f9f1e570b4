"""The archive: evidence packages (AIPs), RFC 4998 evidence records per batch, renewal.

    store = open_store("./var/archive")
    [package_id] = ingest(store, [IngestItem(signed=data)], timestamps=tsa_client)
    renew_all(store, timestamps=tsa_client)        # the cron job over every tenant, idempotent
    result = verify_package(store, package_id, at=when)   # offline proof

:mod:`archive.store` is the object-store port (local, memory, S3); :mod:`archive.package` the
package layout; :mod:`archive.retention` the retention rules (they only grow);
:mod:`archive.ingest` batches and record assembly; :mod:`archive.renew` the fenced renewal
job; :mod:`archive.verify` the offline proof; :mod:`archive.export` the exports.
"""

from __future__ import annotations

from archive.errors import (
    ArchiveError,
    ArchiveInputError,
    LeaseLostError,
    ObjectExistsError,
    ObjectNotFoundError,
    RetentionError,
    StoreError,
)
from archive.export import export_evidence_record, export_package
from archive.ingest import IngestItem, assemble_record, ingest, read_entries
from archive.package import DEFAULT_TENANT, MANIFEST_SCHEMA, Manifest, data_objects, read_package
from archive.renew import LeaseHeldError, RenewSummary, renew, renew_all
from archive.retention import DEFAULT_MIN_RETENTION, RetentionPeriod
from archive.store import ObjectStore, WriteOnce, open_store
from archive.verify import VerifyResult, load_evidence, verify_package

__all__ = [
    "DEFAULT_MIN_RETENTION",
    "DEFAULT_TENANT",
    "MANIFEST_SCHEMA",
    "ArchiveError",
    "ArchiveInputError",
    "IngestItem",
    "LeaseHeldError",
    "LeaseLostError",
    "Manifest",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "ObjectStore",
    "RenewSummary",
    "RetentionError",
    "RetentionPeriod",
    "StoreError",
    "VerifyResult",
    "WriteOnce",
    "assemble_record",
    "data_objects",
    "export_evidence_record",
    "export_package",
    "ingest",
    "load_evidence",
    "open_store",
    "read_entries",
    "read_package",
    "renew",
    "renew_all",
    "verify_package",
]
