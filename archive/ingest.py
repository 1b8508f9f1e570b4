"""Ingest: evidence packages in batches, one RFC 3161 timestamp per batch (RFC 4998 §4.2).

Storage design (renewal at scale): a record is never stored per package. Per batch the store
keeps write-once *archive-timestamp entries* ``TENANT/batches/<batch>/ats/CCC-AAAA.json``
(chain ``CCC``, position ``AAAA`` in the chain, RFC 4998 §3 ArchiveTimeStampSequence order);
the batch's current state is what is listed. An entry holds the timestamp token and what is
needed to rebuild each package's reduced hash tree:

* ``ingest`` (000-0000): the package ids and their leaves (the data group of each package,
  :func:`archive.package.data_objects`), the token over the tree root;
* ``timestamp`` (timestamp renewal, §5.2): the path of ``H(previous timeStamp)`` in the renewal
  tree that spans many batches (``upper``), same for every package of the batch;
* ``hash-tree`` (hash-tree renewal, §5.2): the per-package leaves ``H'(H'(d) || ha)`` of the
  batch's subtree and the subtree root's path in the renewal tree (``upper``).

Entries may also name *material* blobs: the validation data (TSA chain, OCSP, CRLs) of the
previous timestamp, fetched while that TSA certificate was valid and covered by the new
timestamp (an extra leaf of the renewal tree), and of the entry's own timestamp.
:func:`assemble_record` turns a batch's entries into a package's RFC 4998 DER record on demand.

Retention (:mod:`archive.retention`): each package gets the operator's floor counted from its
ingest, or the tenant's later ``retain-until``; its blobs, parked and published manifest get
it, and the batch's entries (``retain_until`` in each entry), its material blobs and its
``published`` marker get the longest retention of the batch's packages.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509

from archive.errors import ArchiveInputError, ObjectExistsError
from archive.package import (
    DEFAULT_TENANT,
    Manifest,
    Package,
    PackageObject,
    data_objects,
    manifest_key,
    pending_manifest_key,
    publish_pending,
    put_blob,
    register_tenant,
    tenant_prefix,
)
from archive.retention import DEFAULT_MIN_RETENTION, RetentionPeriod, effective_retention, longest
from archive.store import ObjectStore
from ltv.algorithms import DigestAlgorithm
from ltv.clock import Clock, SystemClock, format_time, parse_time
from ltv.ers import ArchiveTimestamp, EvidenceRecord, HashTree, build_hash_tree, group_hash
from ltv.evidence import EvidenceSet
from ltv.signing import SigningServices
from ltv.timestamps import TimestampClient

__all__ = [
    "ENTRY_SCHEMA",
    "BatchEntry",
    "IngestItem",
    "MaterialSource",
    "assemble_record",
    "assemble_records",
    "batch_ids",
    "compose_reduced",
    "entry_key",
    "ingest",
    "last_entry",
    "material_bytes",
    "parse_material",
    "prepare_item",
    "read_entries",
]

ENTRY_SCHEMA = "ltv.batch-ats/1"
MATERIAL_SCHEMA = "ltv.material/1"

#: ``material(token_der) -> EvidenceSet``: validation data of a timestamp's TSA (chain,
#: revocation), fetched now. None: the archive keeps only what the tokens carry.
MaterialSource = Callable[[bytes], EvidenceSet]

Reduced = tuple[tuple[bytes, ...], ...]


def _hex(values: Sequence[bytes]) -> list[str]:
    return [v.hex() for v in values]


def _path_json(path: Reduced) -> list[list[str]]:
    return [_hex(p) for p in path]


def _path_from(obj: Any) -> Reduced:
    return tuple(tuple(bytes.fromhex(v) for v in p) for p in obj)


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchEntry:
    """One archive timestamp of a batch (see the module docstring)."""

    batch: str
    chain: int
    index: int
    kind: str  # ingest | timestamp | hash-tree
    algorithm: DigestAlgorithm
    token: bytes
    created: datetime
    packages: tuple[str, ...] = ()
    leaves: tuple[bytes, ...] = ()
    upper: Reduced = ()
    material: str | None = None  # blob hash: validation data of the previous timestamp
    material_upper: Reduced = ()
    token_material: str | None = None  # blob hash: validation data of this timestamp
    retain_until: datetime | None = None  # the longest retention of the batch's packages
    fencing_token: int | None = None  # the renewal lease's token of the renewer that wrote it
    extra: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        body = {
            "schema": ENTRY_SCHEMA, "batch": self.batch, "chain": self.chain,
            "index": self.index, "kind": self.kind, "algorithm": self.algorithm.value,
            "created": format_time(self.created), "packages": list(self.packages),
            "leaves": _hex(self.leaves), "upper": _path_json(self.upper),
            "material": self.material, "material_upper": _path_json(self.material_upper),
            "token_material": self.token_material,
            "token": base64.b64encode(self.token).decode(),
            "retain_until": format_time(self.retain_until) if self.retain_until else None,
            "fencing_token": self.fencing_token,
        }
        return json.dumps(body, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> BatchEntry:
        try:
            body = json.loads(data)
            if body.get("schema") != ENTRY_SCHEMA:
                raise ArchiveInputError(f"unknown batch entry schema {body.get('schema')!r}")
            return cls(
                batch=str(body["batch"]), chain=int(body["chain"]), index=int(body["index"]),
                kind=str(body["kind"]), algorithm=DigestAlgorithm.from_name(body["algorithm"]),
                token=base64.b64decode(body["token"]), created=parse_time(body["created"]),
                packages=tuple(body["packages"]),
                leaves=tuple(bytes.fromhex(v) for v in body["leaves"]),
                upper=_path_from(body["upper"]), material=body.get("material"),
                material_upper=_path_from(body.get("material_upper") or []),
                token_material=body.get("token_material"),
                retain_until=(parse_time(body["retain_until"]) if body.get("retain_until")
                              else None),
                fencing_token=(int(body["fencing_token"])
                               if body.get("fencing_token") is not None else None),
            )
        except ArchiveInputError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise ArchiveInputError(f"not a batch entry: {exc}") from exc


def entry_key(tenant: str, batch: str, chain: int, index: int) -> str:
    return f"{tenant_prefix(tenant)}batches/{batch}/ats/{chain:03d}-{index:04d}.json"


def successor_key(tenant: str, batch: str, chain: int, index: int) -> str:
    """The write-once claim of the one entry that follows entry ``(chain, index)``.

    A renewal creates it (``If-None-Match`` / exclusive create) with the new entry's bytes
    before it writes the entry itself, so a batch's sequence stays linear: of two renewers that
    planned from the same last entry (a timestamp renewal writing ``(c, i+1)`` and a hash-tree
    renewal writing ``(c+1, 0)``), only the first to claim writes anything.
    """
    return f"{tenant_prefix(tenant)}batches/{batch}/next/{chain:03d}-{index:04d}.json"


def batch_ids(store: ObjectStore, *, tenant: str = DEFAULT_TENANT) -> list[str]:
    """Batches that have at least their ingest entry, in key (= time) order."""
    prefix = f"{tenant_prefix(tenant)}batches/"
    out: list[str] = []
    for info in store.list(prefix):
        rest = info.key[len(prefix):]
        if rest.endswith("/ats/000-0000.json"):
            out.append(rest.split("/", 1)[0])
    return out


def published_marker_key(tenant: str, batch: str) -> str:
    """Written once every package of the batch is visible (the last step of ingest)."""
    return f"{tenant_prefix(tenant)}batches/{batch}/published"


def finish_publication(store: ObjectStore, *, tenant: str = DEFAULT_TENANT) -> int:
    """Finish what a crash interrupted: publish the packages of sealed batches whose ingest
    stopped before publishing them, and write the entry of every renewal that was claimed
    (:func:`successor_key`) but not yet written.

    Cheap when nothing was interrupted: one listing of ``batches/``. Returns how many packages
    became visible.
    """
    prefix = f"{tenant_prefix(tenant)}batches/"
    sealed: set[str] = set()
    done: set[str] = set()
    entries: dict[str, set[tuple[int, int]]] = {}
    claims: dict[str, set[tuple[int, int]]] = {}
    for info in store.list(prefix):
        batch, _, rest = info.key[len(prefix):].partition("/")
        if rest == "ats/000-0000.json":
            sealed.add(batch)
        elif rest == "published":
            done.add(batch)
        folder, _, name = rest.partition("/")
        position = _position(name)
        if position is not None and folder == "ats":
            entries.setdefault(batch, set()).add(position)
        elif position is not None and folder == "next":
            claims.setdefault(batch, set()).add(position)
    for batch, claimed in sorted(claims.items()):
        have = entries.get(batch, set())
        for c, i in sorted(claimed):
            if (c, i + 1) not in have and (c + 1, 0) not in have:
                data = store.get(successor_key(tenant, batch, c, i))
                entry = BatchEntry.from_bytes(data)
                with contextlib.suppress(ObjectExistsError):
                    store.put(entry_key(tenant, batch, entry.chain, entry.index), data,
                              retain_until=entry.retain_until, content_type="application/json")
    published = 0
    for batch in sorted(sealed - done):
        entry = read_entries(store, batch, tenant=tenant)[0]
        for package_id in entry.packages:
            if not store.exists(manifest_key(tenant, package_id)) and publish_pending(
                    store, package_id, tenant=tenant):
                published += 1
        with contextlib.suppress(ObjectExistsError):
            store.put(published_marker_key(tenant, batch), b"",
                      retain_until=entry.retain_until, content_type="text/plain")
    return published


def _position(name: str) -> tuple[int, int] | None:
    """``CCC-AAAA.json`` -> (chain, index)."""
    stem, dot, ext = name.partition(".")
    chain, dash, index = stem.partition("-")
    if dot and ext == "json" and dash and chain.isdigit() and index.isdigit():
        return int(chain), int(index)
    return None


def read_entries(store: ObjectStore, batch: str, *, tenant: str = DEFAULT_TENANT
                 ) -> list[BatchEntry]:
    """A batch's entries in chain order (what is listed is the current state)."""
    prefix = f"{tenant_prefix(tenant)}batches/{batch}/ats/"
    keys = sorted(info.key for info in store.list(prefix) if info.key.endswith(".json"))
    entries = [BatchEntry.from_bytes(store.get(k)) for k in keys]
    # a chain must be contiguous: stop at the first gap (never happens with write-once puts)
    good: list[BatchEntry] = []
    for e in entries:
        if not good:
            if (e.chain, e.index) != (0, 0):
                break
        else:
            p = good[-1]
            if not ((e.chain == p.chain and e.index == p.index + 1)
                    or (e.chain == p.chain + 1 and e.index == 0)):
                break
        good.append(e)
    return good


def last_entry(store: ObjectStore, batch: str, *, tenant: str = DEFAULT_TENANT
               ) -> BatchEntry | None:
    """Only the newest entry of a batch (what the renewal job needs to decide)."""
    prefix = f"{tenant_prefix(tenant)}batches/{batch}/ats/"
    keys = sorted(info.key for info in store.list(prefix) if info.key.endswith(".json"))
    return BatchEntry.from_bytes(store.get(keys[-1])) if keys else None


# --- validation material ---------------------------------------------------------------------


def material_bytes(evidence: EvidenceSet) -> bytes:
    """A deterministic serialisation of validation data (JSON of base64 DER, sorted)."""
    body = {
        "schema": MATERIAL_SCHEMA,
        "certificates": sorted(base64.b64encode(d).decode() for d in evidence.certificate_ders),
        "crls": sorted(base64.b64encode(d).decode() for d in evidence.crls),
        "ocsp_responses": sorted(base64.b64encode(d).decode() for d in evidence.ocsp_responses),
    }
    return json.dumps(body, sort_keys=True).encode()


def parse_material(data: bytes) -> EvidenceSet:
    from cryptography import x509

    try:
        body = json.loads(data)
        return EvidenceSet.of(
            certificates=[x509.load_der_x509_certificate(base64.b64decode(c))
                          for c in body["certificates"]],
            crls=[base64.b64decode(c) for c in body["crls"]],
            ocsp_responses=[base64.b64decode(c) for c in body["ocsp_responses"]],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ArchiveInputError(f"not validation material: {exc}") from exc


# --- reduced hash trees ----------------------------------------------------------------------


def compose_reduced(members: Sequence[bytes], segments: Sequence[tuple[bytes, Reduced]]
                    ) -> Reduced:
    """A reduced hash tree (RFC 4998 §4.2) through stacked trees.

    ``members`` are the data group's hashes (one: a plain leaf); each segment is ``(node,
    path)`` where ``path`` is ``HashTree.reduced_for`` of ``node`` in the next tree up (its
    first list holds ``node`` and its sibling). The lists are joined so that
    :func:`ltv.ers.compute_root` walks from the data to the top root.
    """
    lists: list[tuple[bytes, ...]] = []
    if len(members) > 1:
        lists.append(tuple(sorted(members)))
    for node, path in segments:
        for j, partial in enumerate(path):
            if j == 0:
                if not lists:
                    lists.append(tuple(partial))
                    continue
                rest = list(partial)
                rest.remove(node)
                if rest:
                    lists.append(tuple(rest))
            else:
                lists.append(tuple(partial))
    return tuple(lists)


def assemble_record(entries: Sequence[BatchEntry], package: Package) -> EvidenceRecord:
    """The package's RFC 4998 record from its batch's entries (see the module docstring)."""
    return assemble_records(entries, [package])[0]


def assemble_records(entries: Sequence[BatchEntry], packages: Sequence[Package]
                     ) -> list[EvidenceRecord]:
    """:func:`assemble_record` for several packages of one batch (each tree built once)."""
    if not entries or entries[0].kind != "ingest":
        raise ArchiveInputError("the batch has no ingest entry: no evidence record yet")
    positions = {pid: i for i, pid in enumerate(entries[0].packages)}
    trees = {}
    for e in entries:
        if e.kind != "timestamp":
            trees[(e.chain, e.index)] = build_hash_tree(list(e.leaves), e.algorithm)
    out = []
    for package in packages:
        position = positions.get(package.id)
        if position is None:
            raise ArchiveInputError(
                f"package {package.id} is not in batch {entries[0].batch}")
        out.append(_assemble(entries, trees, package, position))
    return out


def _assemble(entries: Sequence[BatchEntry], trees: dict[tuple[int, int], HashTree],
              package: Package, position: int) -> EvidenceRecord:
    data = data_objects(package)
    chains: list[list[ArchiveTimestamp]] = []
    algorithms: list[DigestAlgorithm] = []
    for entry in entries:
        alg = entry.algorithm
        if entry.kind == "timestamp":
            prev = alg.digest(chains[-1][-1].timestamp_der)
            reduced = compose_reduced([prev], [(prev, entry.upper)])
        else:
            if entry.kind == "ingest":
                members = [alg.digest(d) for d in data]
            else:  # hash-tree renewal: h' = H'(H'(d) || H'(sequence so far)), unsorted concat
                record = EvidenceRecord(digest_algorithms=tuple(algorithms),
                                        chains=tuple(tuple(c) for c in chains))
                ha = alg.digest(record.sequence_der())
                members = [alg.digest(alg.digest(d) + ha) for d in data]
            tree = trees[(entry.chain, entry.index)]
            leaf = group_hash(members, alg)
            if tree.leaves[position] != leaf:
                raise ArchiveInputError(
                    f"package {package.id}: its data do not match leaf {position} of batch "
                    f"{entry.batch} chain {entry.chain}")
            reduced = compose_reduced(
                members, [(leaf, tree.reduced_for(position)), (tree.root, entry.upper)])
        ats = ArchiveTimestamp(digest_algorithm=alg, reduced_hash_tree=reduced,
                               timestamp_der=entry.token)
        if entry.index == 0:
            chains.append([ats])
        else:
            chains[-1].append(ats)
        if alg not in algorithms:
            algorithms.append(alg)
    return EvidenceRecord(digest_algorithms=tuple(algorithms),
                          chains=tuple(tuple(c) for c in chains))


# --- ingest ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestItem:
    """What goes into one package (the CLI and server gather it)."""

    signed: bytes
    signed_name: str = "signed"
    signed_media_type: str = "application/octet-stream"
    detached: bytes | None = None
    detached_name: str = "detached"
    evidence: EvidenceSet = field(default_factory=EvidenceSet)
    timestamps: tuple[bytes, ...] = ()  # RFC 3161 tokens found in the signature
    trust_anchors: tuple[bytes, ...] = ()  # DER of the anchors the ingest report used
    validation_report: bytes | None = None  # JSON report at ingest
    metadata: dict[str, str] = field(default_factory=dict)
    retain_until: datetime | None = None
    ingest_indication: str | None = None  # the ingest report's verdict (not stored twice)


def prepare_item(
    signed: bytes,
    *,
    services: SigningServices,
    at: datetime,
    detached: bytes | None = None,
    signed_name: str = "signed",
    detached_name: str = "detached",
    trust_anchors: Sequence[x509.Certificate] = (),
    metadata: dict[str, str] | None = None,
    retain_until: datetime | None = None,
    warn: Callable[[str], None] | None = None,
) -> IngestItem:
    """Gather a package's content: the signature's own material plus a fresh
    :func:`ltv.evidence.collect` for its signer and TSA certificates (where it succeeds), and
    the validation report at ``at`` (JSON). Malformed input raises
    :class:`~ltv.errors.MalformedError` (nothing is written)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from ltv.errors import LtvError, MalformedError
    from ltv.evidence import collect
    from ltv.validation import RevocationFetchers, ValidationPolicy, detect_format, validate
    from ltv.validation.report_json import dumps

    fmt = detect_format(signed)
    if fmt.value == "cades":
        from ltv.validation.cades import extract
    elif fmt.value == "pades":
        from ltv.validation.pades import extract
    else:
        from ltv.validation.xades import extract
    facts = extract(signed, detached_content=detached)
    if not facts:
        raise MalformedError(f"no signature found in {signed_name}")
    evidence = EvidenceSet()
    tokens: list[bytes] = []
    targets: list[x509.Certificate] = []
    for f in facts:
        evidence = evidence.merge(f.evidence).merge(EvidenceSet.of(certificates=f.certificates))
        if f.signer_certificate is not None:
            targets.append(f.signer_certificate)
        for ts in f.timestamps:
            tokens.append(ts.token)
            evidence = evidence.merge(EvidenceSet.of(certificates=ts.certificates))
            if ts.tsa_certificate is not None:
                targets.append(ts.tsa_certificate)
    try:
        evidence = evidence.merge(collect(targets, services=services, at=at,
                                          available=evidence.certificates))
    except LtvError as exc:
        if warn is not None:
            warn(f"fresh validation data incomplete: {exc}")
    fetchers = RevocationFetchers(ocsp=services.ocsp_fetcher, crl=services.crl_fetcher,
                                  certificates=services.certificate_fetcher)
    report = validate(signed, policy=ValidationPolicy.default(trust_anchors=trust_anchors),
                      at=at, detached_content=detached, fetchers=fetchers,
                      extra_evidence=evidence)
    return IngestItem(
        signed=signed, signed_name=signed_name, detached=detached, detached_name=detached_name,
        evidence=evidence, timestamps=tuple(dict.fromkeys(tokens)),
        trust_anchors=tuple(a.public_bytes(Encoding.DER) for a in trust_anchors),
        validation_report=(dumps(report) + "\n").encode(), metadata=dict(metadata or {}),
        retain_until=retain_until, ingest_indication=report.indication.token)


def new_batch_id(at: datetime) -> str:
    """Time-ordered and unguessable: ``YYYYMMDDTHHMMSSZ-<32 hex>``."""
    return f"{at.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(16)}"


def _write_package(store: ObjectStore, item: IngestItem, *, tenant: str, batch: str,
                   created: datetime, retain: datetime) -> Package:
    objects: list[PackageObject] = []
    blobs: dict[str, bytes] = {}

    def add(role: str, name: str, data: bytes, media: str = "application/octet-stream") -> None:
        digest = put_blob(store, tenant, data, retain_until=retain)
        blobs[digest] = data
        objects.append(PackageObject(role=role, name=name, sha256=digest, size=len(data),
                                     media_type=media))

    add("signed", item.signed_name, item.signed, item.signed_media_type)
    if item.detached is not None:
        add("detached", item.detached_name, item.detached)
    for n, der in enumerate(item.evidence.certificate_ders):
        add("certificate", f"certificates/{n:03d}.der", der, "application/pkix-cert")
    for n, der in enumerate(item.evidence.crls):
        add("crl", f"crls/{n:03d}.crl", der, "application/pkix-crl")
    for n, der in enumerate(item.evidence.ocsp_responses):
        add("ocsp", f"ocsp/{n:03d}.der", der, "application/ocsp-response")
    for n, der in enumerate(item.timestamps):
        add("timestamp", f"timestamps/{n:03d}.tst", der, "application/timestamp-reply")
    for n, der in enumerate(item.trust_anchors):
        add("trust-anchor", f"trust/{n:03d}.der", der, "application/pkix-cert")
    if item.validation_report is not None:
        add("validation-report", "validation-report.json", item.validation_report,
            "application/json")
    manifest = Manifest(tenant=tenant, batch=batch, created=created, objects=tuple(objects),
                        metadata=dict(item.metadata), retain_until=retain)
    raw = manifest.to_bytes()
    package_id = hashlib.sha256(raw).hexdigest()
    return Package(id=package_id, manifest_bytes=raw, manifest=manifest, blobs=blobs)


def _publish(store: ObjectStore, package: Package, *, tenant: str) -> None:
    """Write the manifest: from here on the package is visible (listed, readable)."""
    with contextlib.suppress(ObjectExistsError):  # the same bytes: the same package
        store.put(manifest_key(tenant, package.id), package.manifest_bytes,
                  retain_until=package.manifest.retain_until, content_type="application/json")


def ingest(
    store: ObjectStore,
    items: Sequence[IngestItem],
    *,
    timestamps: TimestampClient,
    tenant: str = DEFAULT_TENANT,
    clock: Clock | None = None,
    algorithm: DigestAlgorithm = DigestAlgorithm.SHA256,
    material: MaterialSource | None = None,
    min_retention: RetentionPeriod = DEFAULT_MIN_RETENTION,
) -> list[str]:
    """Write one package per item, seal them as one batch under one timestamp, publish them.

    Each package is retained until the item's ``retain_until``, which may only extend the
    operator's floor ``min_retention`` counted from now (:class:`RetentionError` before
    anything is written otherwise), or until the floor.

    Order: blobs (content-addressed, invisible on their own) and parked manifests, then the
    timestamp and the batch's ingest entry, and only then the manifests at their visible keys.
    A TSA that fails, a fetch that fails or a crash before the end leaves no visible package,
    never an unsealed one; a crash after sealing is finished by the next ``renew``
    (:func:`archive.package.publish_pending`). Returns the package ids in item order.
    """
    if not items:
        raise ArchiveInputError("nothing to ingest")
    now = (clock or SystemClock()).now()
    retentions = [effective_retention(item.retain_until, now=now, floor=min_retention)
                  for item in items]
    register_tenant(store, tenant)
    batch = new_batch_id(now)
    packages = [_write_package(store, item, tenant=tenant, batch=batch, created=now,
                               retain=retain)
                for item, retain in zip(items, retentions, strict=True)]
    batch_retain = max(retentions)
    for package in packages:  # parked, not listed: renew publishes them if we crash below
        with contextlib.suppress(ObjectExistsError):
            store.put(pending_manifest_key(tenant, package.id), package.manifest_bytes,
                      retain_until=package.manifest.retain_until,
                      content_type="application/json")
    ids = seal_batch(store, packages, batch=batch, timestamps=timestamps, tenant=tenant,
                     algorithm=algorithm, material=material, created=now)
    for package in packages:
        _publish(store, package, tenant=tenant)
    with contextlib.suppress(ObjectExistsError):
        store.put(published_marker_key(tenant, batch), b"", retain_until=batch_retain,
                  content_type="text/plain")
    return ids


def seal_batch(store: ObjectStore, packages: Sequence[Package], *, batch: str,
               timestamps: TimestampClient, tenant: str, algorithm: DigestAlgorithm,
               material: MaterialSource | None, created: datetime) -> list[str]:
    """Timestamp the batch's tree root and write its ingest entry (RFC 4998 §4.2)."""
    ids = list(dict.fromkeys(p.id for p in packages))
    by_id = {p.id: p for p in packages}
    retain = longest(*(p.manifest.retain_until for p in packages))
    leaves = [group_hash([algorithm.digest(d) for d in data_objects(by_id[i])], algorithm)
              for i in ids]
    tree = build_hash_tree(leaves, algorithm)
    token = timestamps.timestamp(tree.root, algorithm).der
    token_material = None
    if material is not None:
        token_material = put_blob(store, tenant, material_bytes(material(token)),
                                  retain_until=retain)
    entry = BatchEntry(batch=batch, chain=0, index=0, kind="ingest", algorithm=algorithm,
                       token=token, created=created, packages=tuple(ids), leaves=tuple(leaves),
                       token_material=token_material, retain_until=retain)
    store.put(entry_key(tenant, batch, 0, 0), entry.to_bytes(), retain_until=retain,
              content_type="application/json")
    return [p.id for p in packages]
