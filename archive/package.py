"""Evidence packages (AIPs): content-addressed blobs plus a versioned manifest written last.

Layout of a tenant (a key prefix, default ``default``)::

    TENANT/blobs/sha256/<hex>          every object of every package, once (content address)
    TENANT/packages/<id>.json          the manifest ("schema": "ltv.aip/1"), written LAST
    TENANT/batches/<batch>/ats/CCC-AAAA.json
                                       the batch's archive timestamps (archive.renew)
    TENANT/batches/<batch>/next/CCC-AAAA.json
                                       the claim of the entry after CCC-AAAA (linear renewal)
    _archive/tenants/<tenant>          the tenants that have archived anything (renew all)

A package is visible only once its manifest exists, and the manifest is written after every
blob it names, so a crash never leaves a visible half-package. The package id is the SHA-256
(hex) of the manifest bytes: stable (the same bytes, the same id), unguessable (the manifest
names a random batch id), and self-checking (:func:`read_package` recomputes it).

The RFC 4998 data objects a package's evidence record protects, as one data group
(RFC 4998 §4.2 step 3), are :func:`data_objects`: the manifest bytes first, then each distinct
blob in manifest order. The manifest alone would carry the blobs by their SHA-256, but after a
hash-tree renewal to SHA-512 that reference would rest on the retired algorithm; the group
makes the renewal rehash every blob with the new algorithm (§5.2).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from archive.errors import ArchiveInputError, ObjectExistsError, ObjectNotFoundError
from archive.store import ObjectStore
from ltv.clock import format_time

__all__ = [
    "DEFAULT_TENANT",
    "MANIFEST_SCHEMA",
    "STORE_PREFIXES",
    "Manifest",
    "Package",
    "PackageObject",
    "archive_tenants",
    "blob_key",
    "data_objects",
    "manifest_key",
    "package_ids",
    "put_blob",
    "read_package",
    "register_tenant",
    "tenant_prefix",
]

MANIFEST_SCHEMA = "ltv.aip/1"
DEFAULT_TENANT = "default"
#: The store's own top-level prefixes a tenant name could spell (``audit/`` trail, ``tenants/``
#: names); the others (``_archive/``, ``_mutable/``) start with ``_``, which no tenant name can.
STORE_PREFIXES = frozenset({"audit", "tenants"})
_ID = re.compile(r"^[0-9a-f]{64}$")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")

#: Roles of the objects in a package.
ROLES = ("signed", "detached", "certificate", "crl", "ocsp", "timestamp", "validation-report",
         "trust-anchor")


def tenant_prefix(tenant: str) -> str:
    if not isinstance(tenant, str) or not _TENANT.match(tenant):
        raise ArchiveInputError(f"bad tenant name {tenant!r} (letters, digits, '-', '_')")
    if tenant.lower() in STORE_PREFIXES:
        reserved = ", ".join(sorted(STORE_PREFIXES))
        raise ArchiveInputError(f"tenant name {tenant!r} is the store's own prefix "
                                f"{tenant.lower()}/ (reserved: {reserved})")
    return f"{tenant}/"


def check_id(package_id: str) -> str:
    if not isinstance(package_id, str) or not _ID.match(package_id):
        raise ArchiveInputError(f"not a package id: {package_id!r} (64 lowercase hex digits)")
    return package_id


def blob_key(tenant: str, sha256_hex: str) -> str:
    return f"{tenant_prefix(tenant)}blobs/sha256/{sha256_hex}"


def manifest_key(tenant: str, package_id: str) -> str:
    return f"{tenant_prefix(tenant)}packages/{check_id(package_id)}.json"


def pending_manifest_key(tenant: str, package_id: str) -> str:
    """Where ingest parks a manifest until its batch is sealed (never listed as a package)."""
    return f"{tenant_prefix(tenant)}pending/{check_id(package_id)}.json"


def publish_pending(store: ObjectStore, package_id: str, *, tenant: str = DEFAULT_TENANT
                    ) -> bool:
    """Finish a publication a crash interrupted: copy the parked manifest of a sealed package
    to its visible key. True when the package is visible afterwards."""
    if store.exists(manifest_key(tenant, package_id)):
        return True
    try:
        data = store.get(pending_manifest_key(tenant, package_id))
    except ObjectNotFoundError:
        return False
    if hashlib.sha256(data).hexdigest() != package_id:
        raise ArchiveInputError(
            f"package {package_id}: the parked manifest does not hash to its id")
    retain = Manifest.from_bytes(data).retain_until
    with contextlib.suppress(ObjectExistsError):
        store.put(manifest_key(tenant, package_id), data, retain_until=retain,
                  content_type="application/json")
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageObject:
    """One object of a package: its role, a file name, SHA-256 and size."""

    role: str
    name: str
    sha256: str
    size: int
    media_type: str = "application/octet-stream"

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "name": self.name, "sha256": self.sha256, "size": self.size,
                "media_type": self.media_type}


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """The manifest of an evidence package (schema ``ltv.aip/1``)."""

    tenant: str
    batch: str
    created: datetime
    objects: tuple[PackageObject, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    retain_until: datetime | None = None

    def to_bytes(self) -> bytes:
        body: dict[str, Any] = {
            "schema": MANIFEST_SCHEMA,
            "tenant": self.tenant,
            "batch": self.batch,
            "created": format_time(self.created),
            "metadata": dict(sorted(self.metadata.items())),
            "retain_until": format_time(self.retain_until) if self.retain_until else None,
            "objects": [o.to_json() for o in self.objects],
        }
        return json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        from ltv.clock import parse_time

        try:
            body = json.loads(data)
            if body.get("schema") != MANIFEST_SCHEMA:
                raise ArchiveInputError(f"unknown manifest schema {body.get('schema')!r}")
            objects = tuple(
                PackageObject(role=str(o["role"]), name=str(o["name"]), sha256=str(o["sha256"]),
                              size=int(o["size"]), media_type=str(o["media_type"]))
                for o in body["objects"]
            )
            retain = body.get("retain_until")
            return cls(tenant=str(body["tenant"]), batch=str(body["batch"]),
                       created=parse_time(str(body["created"])), objects=objects,
                       metadata={str(k): str(v) for k, v in body["metadata"].items()},
                       retain_until=parse_time(str(retain)) if retain else None)
        except ArchiveInputError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ArchiveInputError(f"not an ltv.aip/1 manifest: {exc}") from exc

    def first(self, role: str) -> PackageObject | None:
        return next((o for o in self.objects if o.role == role), None)

    def blob_hashes(self) -> list[str]:
        """Distinct blob hashes in manifest order."""
        return list(dict.fromkeys(o.sha256 for o in self.objects))


def put_blob(store: ObjectStore, tenant: str, data: bytes, *,
             retain_until: datetime | None = None) -> str:
    """Store ``data`` under its SHA-256 (once); returns the hex digest.

    A blob that is already there (shared by several packages) keeps the longest retention any
    of them asked for: its retention is extended to ``retain_until`` when that is later.
    """
    digest = hashlib.sha256(data).hexdigest()
    key = blob_key(tenant, digest)
    if not store.exists(key):
        try:
            store.put(key, data, retain_until=retain_until)
            return digest
        except ObjectExistsError:  # written meanwhile: same content, maybe shorter retention
            pass
    if retain_until is not None:
        store.extend_retention(key, retain_until)
    return digest


_TENANTS = "_archive/tenants/"
_TENANTS_SCANNED = "_mutable/archive/tenants-scanned"  # bookkeeping, not evidence


def register_tenant(store: ObjectStore, tenant: str) -> None:
    """Note that ``tenant`` archives in this store (what ``renew`` without ``--tenant`` covers).

    The key starts with ``_``, which no tenant name can, so it never collides with a tenant.
    """
    key = _TENANTS + tenant_prefix(tenant)[:-1]
    if not store.exists(key):
        with contextlib.suppress(ObjectExistsError):
            store.put(key, b"", content_type="text/plain")


def archive_tenants(store: ObjectStore, *, record: bool = True) -> list[str]:
    """Every tenant with archived batches, sorted.

    Read from the registry :func:`register_tenant` keeps; a store written before the registry
    existed is scanned (a full listing) and, with ``record``, the tenants found are registered
    so that the scan happens once (``record=False``: a dry run writes nothing).
    """
    found: set[str] = set()
    if not store.exists(_TENANTS_SCANNED):
        for info in store.list():
            tenant, _, rest = info.key.partition("/")
            if _TENANT.match(tenant) and rest.startswith("batches/") and rest.endswith(
                    "/ats/000-0000.json"):
                found.add(tenant)
        if record:
            for tenant in sorted(found):
                register_tenant(store, tenant)
            store.create_exclusive(_TENANTS_SCANNED, b"scanned")
    names = (info.key[len(_TENANTS):] for info in store.list(_TENANTS))
    return sorted(found | {name for name in names if _TENANT.match(name)})


@dataclass(frozen=True, slots=True, kw_only=True)
class Package:
    """A package read back and checked: its manifest bytes, manifest and blobs by hash."""

    id: str
    manifest_bytes: bytes
    manifest: Manifest
    blobs: dict[str, bytes]

    def content(self, obj: PackageObject) -> bytes:
        return self.blobs[obj.sha256]


def read_package(store: ObjectStore, package_id: str, *, tenant: str = DEFAULT_TENANT) -> Package:
    """Read a package and check every hash; :class:`ObjectNotFoundError` if there is none."""
    data = store.get(manifest_key(tenant, package_id))
    if hashlib.sha256(data).hexdigest() != package_id:
        raise ArchiveInputError(f"package {package_id}: the manifest does not hash to its id")
    manifest = Manifest.from_bytes(data)
    blobs: dict[str, bytes] = {}
    for digest in manifest.blob_hashes():
        blob = store.get(blob_key(tenant, digest))
        if hashlib.sha256(blob).hexdigest() != digest:
            raise ArchiveInputError(f"package {package_id}: blob {digest} is corrupted")
        blobs[digest] = blob
    return Package(id=package_id, manifest_bytes=data, manifest=manifest, blobs=blobs)


def data_objects(package: Package) -> list[bytes]:
    """The data group the evidence record protects: the manifest, then each distinct blob."""
    return [package.manifest_bytes, *(package.blobs[h] for h in package.manifest.blob_hashes())]


def package_ids(store: ObjectStore, *, tenant: str = DEFAULT_TENANT) -> list[str]:
    prefix = f"{tenant_prefix(tenant)}packages/"
    out = []
    for info in store.list(prefix):
        name = info.key[len(prefix):]
        if name.endswith(".json") and _ID.match(name[:-5]):
            out.append(name[:-5])
    return out

