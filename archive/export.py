"""Export of a package's evidence record and of the data objects it protects.

``OUT/evidence-record.ers`` is the RFC 4998 DER record; ``OUT/objects/`` holds exactly the data
objects of the record's data group, one file each: ``00-manifest.json`` then
``NN-<sha256>`` for each blob in manifest order (what :func:`archive.package.data_objects`
returns), so any RFC 4998 verifier (BouncyCastle, DSS) can check them.
"""

from __future__ import annotations

import os
from pathlib import Path

from archive.ingest import assemble_record, read_entries
from archive.package import DEFAULT_TENANT, data_objects, read_package
from archive.store import ObjectStore

__all__ = ["export_evidence_record", "export_package"]


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def export_evidence_record(store: ObjectStore, package_id: str, directory: Path, *,
                           tenant: str = DEFAULT_TENANT) -> list[Path]:
    """Write the record and its data objects under ``directory``; returns the object files."""
    package = read_package(store, package_id, tenant=tenant)
    entries = read_entries(store, package.manifest.batch, tenant=tenant)
    record = assemble_record(entries, package)
    objects_dir = directory / "objects"
    objects_dir.mkdir(parents=True, exist_ok=True)
    written = []
    blobs = package.manifest.blob_hashes()
    for n, data in enumerate(data_objects(package)):
        name = "00-manifest.json" if n == 0 else f"{n:02d}-{blobs[n - 1]}"
        target = objects_dir / name
        _write(target, data)
        written.append(target)
    _write(directory / "evidence-record.ers", record.to_der())
    return written


def export_package(store: ObjectStore, package_id: str, directory: Path, *,
                   tenant: str = DEFAULT_TENANT) -> list[Path]:
    """Every object of the package under its manifest name, plus ``manifest.json``."""
    package = read_package(store, package_id, tenant=tenant)
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for obj in package.manifest.objects:
        name = Path(obj.name).name if obj.role in ("signed", "detached") else obj.name
        target = (directory / name).resolve()
        if directory.resolve() not in target.parents:
            continue  # a hostile name: never write outside DIR
        target.parent.mkdir(parents=True, exist_ok=True)
        _write(target, package.content(obj))
        out.append(target)
    _write(directory / "manifest.json", package.manifest_bytes)
    return out
