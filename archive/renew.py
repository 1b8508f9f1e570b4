"""The renewal job (``ltv archive renew``): RFC 4998 §5.2 timestamp and hash-tree renewal.

A batch needs renewal when its newest archive timestamp weakens:

* **timestamp renewal** — the newest token's TSA certificate expires within ``margin``; one new
  timestamp covers a hash tree over the distinct last tokens of all such batches (their
  ``H(timeStamp DER)``) plus the validation material of those tokens (TSA chain and revocation
  data, fetched now while the certificates are valid) as extra leaves;
* **hash-tree renewal** — the chain's hash algorithm is not the one asked for
  (``hash_algorithm``) or reaches its sunset date within ``margin``: per batch a subtree over
  the packages' new leaves ``H'(H'(d) || H'(ArchiveTimeStampSequence))`` (unsorted
  concatenation, §5.2), the subtree roots and the material leaves under one new timestamp,
  starting a new chain.

Crash safety: every write is a write-once object and entry names are deterministic
(``batches/<b>/ats/CCC-AAAA.json``), so a rerun after SIGKILL at any point skips what was done
and completes the rest; a second writer of the same entry gets ``ObjectExistsError`` and the
chain is never duplicated. Material blobs are content-addressed. One renewer at a time: a lease
in ``_mutable/<tenant>/renew.lease``. Renewal partitions by tenant (key prefix).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509

from archive import audit
from archive.errors import ArchiveError, ObjectExistsError
from archive.ingest import (
    BatchEntry,
    MaterialSource,
    Reduced,
    assemble_records,
    batch_ids,
    entry_key,
    finish_publication,
    last_entry,
    material_bytes,
    read_entries,
)
from archive.package import DEFAULT_TENANT, data_objects, put_blob, read_package, tenant_prefix
from archive.store import ObjectStore, acquire_lease, release_lease
from ltv.algorithms import DigestAlgorithm
from ltv.clock import Clock, FixedClock, SystemClock
from ltv.ers import MAX_LEAVES_PER_TIMESTAMP, build_hash_tree, group_hash
from ltv.timestamps import TimestampClient, parse_token

__all__ = ["DEFAULT_MARGIN", "LeaseHeldError", "RenewSummary", "RenewalPlan", "plan", "renew"]

DEFAULT_MARGIN = timedelta(days=180)
Progress = Callable[[str, int, int], None]


class LeaseHeldError(ArchiveError):
    """Another renewer holds the lease."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RenewalPlan:
    """What one batch needs: ``kind`` is ``timestamp`` or ``hash-tree``; ``reason`` says why."""

    batch: str
    kind: str
    reason: str
    last: BatchEntry
    algorithm: DigestAlgorithm  # of the new timestamp


@dataclass(frozen=True, slots=True, kw_only=True)
class RenewSummary:
    batches: int
    timestamp_renewed: int = 0
    hash_tree_renewed: int = 0
    skipped: int = 0  # already renewed by an earlier (interrupted) run or another writer
    tsa_calls: int = 0
    dry_run: bool = False
    published: int = 0  # packages of a crashed ingest made visible by this run
    plans: tuple[RenewalPlan, ...] = field(default=(), repr=False)

    def line(self) -> str:
        verb = "would renew" if self.dry_run else "renewed"
        if self.dry_run:
            t = sum(1 for p in self.plans if p.kind == "timestamp")
            h = len(self.plans) - t
        else:
            t, h = self.timestamp_renewed, self.hash_tree_renewed
        recovered = (f"published {self.published} packages of an interrupted ingest; "
                     if self.published else "")
        return (f"{self.batches} batches checked; {verb} {t} by timestamp, {h} by hash tree; "
                f"{self.skipped} already done; {recovered}{self.tsa_calls} TSA calls")


def _tsa_not_after(token: bytes, cache: dict[bytes, x509.Certificate]) -> datetime:
    cert = cache.get(token)
    if cert is None:
        cert = parse_token(token).signer_certificate
        cache[token] = cert
    return cert.not_valid_after_utc


def plan(store: ObjectStore, *, tenant: str = DEFAULT_TENANT, at: datetime,
         margin: timedelta = DEFAULT_MARGIN, hash_algorithm: DigestAlgorithm | None = None,
         sunsets: dict[str, datetime] | None = None) -> tuple[int, list[RenewalPlan]]:
    """(number of batches, the renewals they need at ``at``)."""
    certs: dict[bytes, x509.Certificate] = {}
    plans: list[RenewalPlan] = []
    ids = batch_ids(store, tenant=tenant)
    for batch in ids:
        last = last_entry(store, batch, tenant=tenant)
        if last is None:
            continue
        sunset = (sunsets or {}).get(last.algorithm.value)
        if hash_algorithm is not None and last.algorithm is not hash_algorithm:
            plans.append(RenewalPlan(batch=batch, kind="hash-tree", last=last,
                                     algorithm=hash_algorithm,
                                     reason=f"{last.algorithm.value} -> {hash_algorithm.value}"))
        elif sunset is not None and sunset - margin <= at:
            target = hash_algorithm or DigestAlgorithm.SHA512
            plans.append(RenewalPlan(batch=batch, kind="hash-tree", last=last, algorithm=target,
                                     reason=f"{last.algorithm.value} sunset {sunset.date()}"))
        else:
            expires = _tsa_not_after(last.token, certs)
            if expires - margin <= at:
                plans.append(RenewalPlan(batch=batch, kind="timestamp", last=last,
                                         algorithm=last.algorithm,
                                         reason=f"TSA certificate expires {expires.date()}"))
    return len(ids), plans


class _CountingClient:
    def __init__(self, inner: TimestampClient) -> None:
        self.inner = inner
        self.calls = 0

    def stamp(self, digest: bytes, algorithm: DigestAlgorithm) -> bytes:
        self.calls += 1
        return self.inner.timestamp(digest, algorithm).der


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def renew(
    store: ObjectStore,
    *,
    timestamps: TimestampClient,
    tenant: str = DEFAULT_TENANT,
    clock: Clock | None = None,
    margin: timedelta = DEFAULT_MARGIN,
    hash_algorithm: DigestAlgorithm | None = None,
    material: MaterialSource | None = None,
    sunsets: dict[str, datetime] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    lease_ttl: timedelta = timedelta(minutes=30),
    max_leaves: int = MAX_LEAVES_PER_TIMESTAMP,
) -> RenewSummary:
    """Renew every batch that needs it (see the module docstring); idempotent and resumable."""
    clock = clock or SystemClock()
    now = clock.now()
    # An ingest that crashed after sealing its batch left its packages parked: publish them
    # (idempotent, write-once) before anything else, so renewal sees every sealed package.
    published = 0 if dry_run else finish_publication(store, tenant=tenant)
    total, plans = plan(store, tenant=tenant, at=now, margin=margin,
                        hash_algorithm=hash_algorithm, sunsets=sunsets)
    if dry_run or not plans:
        return RenewSummary(batches=total, dry_run=dry_run, plans=tuple(plans),
                            published=published)
    lease_key = f"_mutable/{tenant_prefix(tenant)}renew.lease"
    holder = f"renew@{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    lease_clock = FixedClock(now) if isinstance(clock, FixedClock) else None
    lease = acquire_lease(store, lease_key, holder=holder, ttl=lease_ttl, clock=lease_clock)
    if lease is None and _holder_is_dead(store, lease_key):
        lease = acquire_lease(store, lease_key, holder=holder, ttl=lease_ttl, clock=lease_clock)
    if lease is None:
        raise LeaseHeldError(f"another renewer holds the lease {lease_key}; try again later")
    client = _CountingClient(timestamps)
    counts = {"timestamp": 0, "hash-tree": 0, "skipped": 0}
    try:
        ts_plans = [p for p in plans if p.kind == "timestamp"]
        ht_plans = [p for p in plans if p.kind == "hash-tree"]
        by_alg: dict[DigestAlgorithm, list[RenewalPlan]] = {}
        for p in ts_plans:
            by_alg.setdefault(p.algorithm, []).append(p)
        for alg, group in by_alg.items():
            _renew_timestamps(store, group, alg, client=client, tenant=tenant, now=now,
                              material=material, counts=counts, progress=progress,
                              max_leaves=max_leaves)
        by_alg = {}
        for p in ht_plans:
            by_alg.setdefault(p.algorithm, []).append(p)
        for alg, group in by_alg.items():
            _renew_hash_trees(store, group, alg, client=client, tenant=tenant, now=now,
                              material=material, counts=counts, progress=progress)
    finally:
        release_lease(store, lease)
    audit.record(store, audit.AuditEvent.ARCHIVE_RENEW, who=audit.Who.OPERATOR, tenant=tenant,
                 object_id=tenant, detail=" ".join(f"{k}={v}" for k, v in counts.items()),
                 clock=clock)
    return RenewSummary(batches=total, timestamp_renewed=counts["timestamp"],
                        hash_tree_renewed=counts["hash-tree"], skipped=counts["skipped"],
                        tsa_calls=client.calls, plans=tuple(plans), published=published)


def _holder_is_dead(store: ObjectStore, key: str) -> bool:
    """A lease left by a renewer on this host whose process is gone (killed) is removed, so a
    rerun right after a crash need not wait for the TTL; other hosts' leases wait for it."""
    try:
        current = store.read_mutable(key)
        holder = str(json.loads(current.data)["holder"])
    except (ArchiveError, ValueError, KeyError, TypeError):
        return False
    name, _, rest = holder.partition("@")
    host, _, pid_text = rest.partition(":")
    pid_text = pid_text.split(":", 1)[0]
    if name != "renew" or host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
        return False  # alive
    except ProcessLookupError:
        pass
    except PermissionError:
        return False
    return store.delete_if(key, etag=current.etag)


def _material_leaf(store: ObjectStore, tenant: str, token: bytes, alg: DigestAlgorithm,
                   material: MaterialSource | None) -> tuple[str, bytes] | None:
    if material is None:
        return None
    raw = material_bytes(material(token))
    return put_blob(store, tenant, raw), alg.digest(raw)


def _write_entry(store: ObjectStore, tenant: str, entry: BatchEntry,
                 counts: dict[str, int], kind: str) -> None:
    try:
        store.put(entry_key(tenant, entry.batch, entry.chain, entry.index), entry.to_bytes(),
                  content_type="application/json")
        counts[kind] += 1
    except ObjectExistsError:
        counts["skipped"] += 1


def _renew_timestamps(store: ObjectStore, group: list[RenewalPlan], alg: DigestAlgorithm, *,
                      client: _CountingClient, tenant: str, now: datetime,
                      material: MaterialSource | None, counts: dict[str, int],
                      progress: Progress | None, max_leaves: int) -> None:
    """RFC 4998 §5.2 timestamp renewal of many batches under one timestamp per chunk."""
    by_token: dict[bytes, list[RenewalPlan]] = {}
    for p in group:
        by_token.setdefault(p.last.token, []).append(p)
    tokens = list(by_token)
    done = 0
    for start in range(0, len(tokens), max(1, max_leaves // 2)):
        part = tokens[start:start + max(1, max_leaves // 2)]
        leaves = [alg.digest(t) for t in part]
        mats: list[tuple[str, bytes] | None] = [
            _material_leaf(store, tenant, t, alg, material) for t in part]
        extra = sorted({m[1] for m in mats if m is not None} - set(leaves))
        tree = build_hash_tree([*leaves, *extra], alg)
        index_of = {leaf: i for i, leaf in enumerate(tree.leaves)}
        token = client.stamp(tree.root, alg)
        own = _material_leaf(store, tenant, token, alg, material)
        for t, leaf, mat in zip(part, leaves, mats, strict=True):
            upper: Reduced = tree.reduced_for(index_of[leaf])
            for p in by_token[t]:
                entry = BatchEntry(
                    batch=p.batch, chain=p.last.chain, index=p.last.index + 1, kind="timestamp",
                    algorithm=alg, token=token, created=now, upper=upper,
                    material=mat[0] if mat else None,
                    material_upper=tree.reduced_for(index_of[mat[1]]) if mat else (),
                    token_material=own[0] if own else None)
                _write_entry(store, tenant, entry, counts, "timestamp")
                done += 1
                if progress is not None:
                    progress("timestamp renewal", done, len(group))


def _renew_hash_trees(store: ObjectStore, group: list[RenewalPlan], alg: DigestAlgorithm, *,
                      client: _CountingClient, tenant: str, now: datetime,
                      material: MaterialSource | None, counts: dict[str, int],
                      progress: Progress | None) -> None:
    """RFC 4998 §5.2 hash-tree renewal: per batch a subtree of the packages' new leaves."""
    subtrees: list[tuple[RenewalPlan, tuple[bytes, ...]]] = []
    for n, p in enumerate(group):
        entries = read_entries(store, p.batch, tenant=tenant)
        packages = [read_package(store, pid, tenant=tenant) for pid in entries[0].packages]
        records = assemble_records(entries, packages)
        leaves = []
        for package, record in zip(packages, records, strict=True):
            ha = alg.digest(record.sequence_der())
            leaves.append(group_hash([alg.digest(alg.digest(d) + ha)
                                      for d in data_objects(package)], alg))
        subtrees.append((p, tuple(leaves)))
        if progress is not None:
            progress("rehashing", n + 1, len(group))
    roots = [build_hash_tree(list(leaves), alg).root for _, leaves in subtrees]
    mats = [_material_leaf(store, tenant, p.last.token, alg, material) for p, _ in subtrees]
    extra = sorted({m[1] for m in mats if m is not None} - set(roots))
    top = build_hash_tree([*roots, *extra], alg)
    index_of: dict[bytes, int] = {}
    for i, leaf in enumerate(top.leaves):
        index_of.setdefault(leaf, i)
    token = client.stamp(top.root, alg)
    own = _material_leaf(store, tenant, token, alg, material)
    for n, ((p, sub_leaves), mat) in enumerate(zip(subtrees, mats, strict=True)):
        entry = BatchEntry(
            batch=p.batch, chain=p.last.chain + 1, index=0, kind="hash-tree", algorithm=alg,
            token=token, created=now, leaves=sub_leaves, upper=top.reduced_for(n),
            material=mat[0] if mat else None,
            material_upper=top.reduced_for(index_of[mat[1]]) if mat else (),
            token_material=own[0] if own else None)
        _write_entry(store, tenant, entry, counts, "hash-tree")
        if progress is not None:
            progress("hash-tree renewal", n + 1, len(group))

