"""The renewal job (``ltv archive renew``): RFC 4998 §5.2 timestamp and hash-tree renewal.

A batch needs renewal when its newest archive timestamp weakens:

* **timestamp renewal** — the newest token's TSA certificate expires within ``margin``, or a
  public key the token relies on (its TSA key or an issuer's in the token: RSA-2048, P-256)
  reaches its sunset (``key_sunsets``, NIST IR 8547 by default) within ``margin`` — renewing
  with an ML-DSA TSA moves the evidence onto a key without a sunset; one new
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
chain is never duplicated. Material blobs are content-addressed. Renewal partitions by tenant
(key prefix); :func:`renew_all` covers every tenant of the store.

Fencing (one renewer at a time, per tenant): a lease in ``_mutable/<tenant>/renew.lease``
with a fencing token (:func:`archive.store.acquire_lease`). Before every write the job proves
that the lease is still the one it took (compare of the etag; a heartbeat extends it by the TTL
once a third of it has passed), and stops with :class:`~archive.errors.LeaseLostError`
otherwise: a renewer that lost its lease (paused past its TTL, taken over by another) writes
nothing more. Each new entry is first claimed write-once as *the* successor of the entry it
was planned from (:func:`archive.ingest.successor_key`), so even a write racing a takeover
keeps every batch's sequence linear: the loser of the claim writes nothing for that batch.

Shards (:mod:`archive.shard`): ``shard=Shard(I, N)`` renews only the batches of shard ``I`` of
``N`` (by the random hex part of the batch id), under its own lease
``_mutable/<tenant>/renew-I-of-N.lease`` (fenced exactly like the tenant's), so N workers run at
once; a worker killed mid-run leaves its lease to expire (or to be broken at once by a rerun on
the same host, its process being gone) and the next run of that shard finishes the work.

Retention: each new entry and material blob gets the batch's retention (the longest of its
packages', carried in its entries), so the evidence record lives as long as the packages.

The rule above is :func:`deadlines` (what :func:`plan` applies, and what the archive console
asks for the date by which a batch's next renewal is due); every real run keeps its outcome in
:mod:`archive.renew_runs`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

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
    successor_key,
)
from archive.package import (
    DEFAULT_TENANT,
    Manifest,
    archive_tenants,
    data_objects,
    manifest_key,
    put_blob,
    read_package,
    tenant_prefix,
)
from archive.renew_runs import RenewRun, write_run
from archive.retention import longest
from archive.shard import Shard
from archive.store import (
    Lease,
    ObjectStore,
    acquire_lease,
    break_lease,
    check_lease,
    heartbeat_lease,
    release_lease,
)
from ltv.algorithms import DigestAlgorithm
from ltv.clock import Clock, SystemClock
from ltv.ers import MAX_LEAVES_PER_TIMESTAMP, build_hash_tree, group_hash
from ltv.timestamps import TimestampClient, parse_token
from ltv.validation.crypto_constraints import weakest_key_sunset

__all__ = ["DEFAULT_MARGIN", "Deadline", "LeaseHeldError", "RenewSummary", "RenewalPlan",
           "deadlines", "plan", "renew", "renew_all"]

DEFAULT_MARGIN = timedelta(days=180)
Progress = Callable[[str, int, int], None]
#: Called with the lease right after it was taken (tests use it to pause a renewer there).
LeaseHook = Callable[[Lease], None]


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


def _key_sunset(token: bytes, key_sunsets: dict[str, datetime] | None
                ) -> tuple[str, datetime] | None:
    """The earliest key sunset the token's signature and chain rest on (None: none)."""
    if not key_sunsets:
        return None
    parsed = parse_token(token)
    return weakest_key_sunset([parsed.signer_certificate, *parsed.certificates], key_sunsets)


def plan(store: ObjectStore, *, tenant: str = DEFAULT_TENANT, at: datetime,
         margin: timedelta = DEFAULT_MARGIN, hash_algorithm: DigestAlgorithm | None = None,
         sunsets: dict[str, datetime] | None = None,
         key_sunsets: dict[str, datetime] | None = None,
         shard: Shard | None = None) -> tuple[int, list[RenewalPlan]]:
    """(number of batches, the renewals they need at ``at``), of ``shard`` only if given."""
    certs: dict[bytes, x509.Certificate] = {}
    plans: list[RenewalPlan] = []
    ids = batch_ids(store, tenant=tenant)
    if shard is not None:
        ids = [b for b in ids if shard.owns_batch(b)]
    for batch in ids:
        last = last_entry(store, batch, tenant=tenant)
        if last is None:
            continue
        found = deadlines(last, margin=margin, hash_algorithm=hash_algorithm, sunsets=sunsets,
                          certs=certs, key_sunsets=key_sunsets)
        due = [d for d in found if d.due <= at]
        if due:
            first = due[0]
            # a time-stamp renewal names every reason that has come (key sunset, TSA expiry)
            reason = "; ".join(d.reason for d in due if d.kind == first.kind) \
                if first.kind == "timestamp" else first.reason
            plans.append(RenewalPlan(batch=batch, kind=first.kind, last=last,
                                     algorithm=first.algorithm, reason=reason))
    return len(ids), plans


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadline:
    """A date by which a batch's newest archive timestamp must be renewed, and why."""

    kind: str  # timestamp | hash-tree
    reason: str
    due: datetime  # from then on :func:`plan` renews the batch
    #: what weakens then: the TSA certificate's expiry or the hash's sunset (None: a change of
    #: hash algorithm was asked for, due at once)
    weakens: datetime | None
    algorithm: DigestAlgorithm  # of the new timestamp


def deadlines(last: BatchEntry, *, margin: timedelta = DEFAULT_MARGIN,
              hash_algorithm: DigestAlgorithm | None = None,
              sunsets: dict[str, datetime] | None = None,
              certs: dict[bytes, x509.Certificate] | None = None,
              key_sunsets: dict[str, datetime] | None = None) -> list[Deadline]:
    """The renewal rule for a batch whose newest entry is ``last``, in the order :func:`plan`
    applies it: at a time ``at`` the first deadline whose ``due`` has come is the renewal to
    do; the earliest ``due`` is the date by which the next renewal is due."""
    if hash_algorithm is not None and last.algorithm is not hash_algorithm:
        return [Deadline(kind="hash-tree", due=datetime.min.replace(tzinfo=UTC), weakens=None,
                         algorithm=hash_algorithm,
                         reason=f"{last.algorithm.value} -> {hash_algorithm.value}")]
    found: list[Deadline] = []
    sunset = (sunsets or {}).get(last.algorithm.value)
    if sunset is not None:
        found.append(Deadline(kind="hash-tree", due=sunset - margin, weakens=sunset,
                              algorithm=hash_algorithm or DigestAlgorithm.SHA512,
                              reason=f"{last.algorithm.value} sunset {sunset.date()}"))
    weak = _key_sunset(last.token, key_sunsets)
    if weak is not None:
        found.append(Deadline(kind="timestamp", due=weak[1] - margin, weakens=weak[1],
                              algorithm=last.algorithm,
                              reason=f"{weak[0]} sunset {weak[1].date()}"))
    expires = _tsa_not_after(last.token, {} if certs is None else certs)
    found.append(Deadline(kind="timestamp", due=expires - margin, weakens=expires,
                          algorithm=last.algorithm,
                          reason=f"TSA certificate expires {expires.date()}"))
    return found


class _CountingClient:
    def __init__(self, inner: TimestampClient) -> None:
        self.inner = inner
        self.calls = 0

    def stamp(self, digest: bytes, algorithm: DigestAlgorithm) -> bytes:
        self.calls += 1
        return self.inner.timestamp(digest, algorithm).der


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class _Fence:
    """The renewal lease as a fence: :meth:`check` before every write (see the module
    docstring)."""

    def __init__(self, store: ObjectStore, lease: Lease, *, ttl: timedelta, clock: Clock) -> None:
        self.store = store
        self.lease = lease
        self._ttl = ttl
        self._clock = clock
        self._beat = clock.now()

    @property
    def token(self) -> int:
        return self.lease.token

    def check(self) -> None:
        now = self._clock.now()
        if now - self._beat >= self._ttl / 3:
            self.lease = heartbeat_lease(self.store, self.lease, ttl=self._ttl, clock=self._clock)
            self._beat = now
        else:
            check_lease(self.store, self.lease)


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
    key_sunsets: dict[str, datetime] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    lease_ttl: timedelta = timedelta(minutes=30),
    max_leaves: int = MAX_LEAVES_PER_TIMESTAMP,
    on_lease: LeaseHook | None = None,
    shard: Shard | None = None,
) -> RenewSummary:
    """Renew every batch of ``tenant`` that needs it (see the module docstring); idempotent and
    resumable. :class:`LeaseHeldError` if another renewer holds the tenant's lease,
    :class:`~archive.errors.LeaseLostError` if this one lost it while working (it then stops
    before its next write)."""
    clock = clock or SystemClock()
    now = clock.now()
    if dry_run:
        total, plans = plan(store, tenant=tenant, at=now, margin=margin,
                            hash_algorithm=hash_algorithm, sunsets=sunsets,
                            key_sunsets=key_sunsets, shard=shard)
        return RenewSummary(batches=total, dry_run=True, plans=tuple(plans))
    lease_key = (f"_mutable/{tenant_prefix(tenant)}renew.lease" if shard is None
                 else f"_mutable/{tenant_prefix(tenant)}renew-{shard.label}.lease")
    holder = f"renew@{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    lease = acquire_lease(store, lease_key, holder=holder, ttl=lease_ttl, clock=clock)
    if lease is None and _holder_is_dead(store, lease_key, clock):
        lease = acquire_lease(store, lease_key, holder=holder, ttl=lease_ttl, clock=clock)
    if lease is None:
        raise LeaseHeldError(f"another renewer holds the lease {lease_key}; try again later")
    if on_lease is not None:
        on_lease(lease)
    fence = _Fence(store, lease, ttl=lease_ttl, clock=clock)
    client = _CountingClient(timestamps)
    counts = {"timestamp": 0, "hash-tree": 0, "skipped": 0}
    try:
        fence.check()
        # An ingest that crashed after sealing its batch left its packages parked, a renewal
        # that crashed after claiming an entry left it unwritten: finish both (idempotent,
        # write-once) before anything else, so renewal sees every sealed package.
        published = finish_publication(store, tenant=tenant)
        total, plans = plan(store, tenant=tenant, at=now, margin=margin,
                            hash_algorithm=hash_algorithm, sunsets=sunsets,
                            key_sunsets=key_sunsets, shard=shard)
        ts_plans = [p for p in plans if p.kind == "timestamp"]
        ht_plans = [p for p in plans if p.kind == "hash-tree"]
        by_alg: dict[DigestAlgorithm, list[RenewalPlan]] = {}
        for p in ts_plans:
            by_alg.setdefault(p.algorithm, []).append(p)
        for alg, group in by_alg.items():
            _renew_timestamps(store, group, alg, client=client, tenant=tenant, now=now,
                              material=material, counts=counts, progress=progress,
                              max_leaves=max_leaves, fence=fence)
        by_alg = {}
        for p in ht_plans:
            by_alg.setdefault(p.algorithm, []).append(p)
        for alg, group in by_alg.items():
            _renew_hash_trees(store, group, alg, client=client, tenant=tenant, now=now,
                              material=material, counts=counts, progress=progress, fence=fence)
    except Exception as exc:  # the last outcome (archive.renew_runs), then the error as it was
        write_run(store, RenewRun(tenant=tenant, started=now, finished=clock.now(),
                                  outcome="failed", error=type(exc).__name__,
                                  tsa_calls=client.calls))
        raise
    finally:
        release_lease(store, fence.lease)
    if counts["timestamp"] or counts["hash-tree"] or published:  # a state change, not a no-op
        audit.record(store, audit.AuditEvent.ARCHIVE_RENEW, who=audit.Who.OPERATOR,
                     tenant=tenant, object_id=tenant,
                     detail=" ".join(f"{k}={v}" for k, v in counts.items()), clock=clock)
    summary = RenewSummary(batches=total, timestamp_renewed=counts["timestamp"],
                           hash_tree_renewed=counts["hash-tree"], skipped=counts["skipped"],
                           tsa_calls=client.calls, plans=tuple(plans), published=published)
    write_run(store, RenewRun(tenant=tenant, started=now, finished=clock.now(), outcome="ok",
                              batches=total, timestamp_renewed=summary.timestamp_renewed,
                              hash_tree_renewed=summary.hash_tree_renewed,
                              skipped=summary.skipped, published=published,
                              tsa_calls=client.calls))
    return summary


def renew_all(store: ObjectStore, *, tenants: Sequence[str] | None = None,
              **options: Any) -> dict[str, RenewSummary | ArchiveError]:
    """:func:`renew` for each tenant (default: every tenant of the store,
    :func:`archive.package.archive_tenants`, and ``default``); one tenant's failure (its lease
    held or lost, its TSA down) does not stop the others: it is returned in its place."""
    names = list(tenants) if tenants is not None else sorted(
        {*archive_tenants(store, record=not options.get("dry_run", False)), DEFAULT_TENANT})
    out: dict[str, RenewSummary | ArchiveError] = {}
    for name in names:
        try:
            out[name] = renew(store, tenant=name, **options)
        except ArchiveError as exc:
            out[name] = exc
    return out


def _holder_is_dead(store: ObjectStore, key: str, clock: Clock) -> bool:
    """A lease left by a renewer on this host whose process is gone (killed) is marked
    released (its token kept), so a rerun right after a crash need not wait for the TTL; other
    hosts' leases wait for it."""
    try:
        current = store.read_mutable(key)
        body = json.loads(current.data)
        holder = str(body["holder"])
    except (ArchiveError, ValueError, KeyError, TypeError):
        return False
    if body.get("released"):
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
    return break_lease(store, key, etag=current.etag, clock=clock)


def _batch_retention(store: ObjectStore, tenant: str, p: RenewalPlan) -> datetime | None:
    """The batch's retention: carried by its entries; for a batch written before entries
    carried it, the longest retention of its packages' manifests."""
    if p.last.retain_until is not None:
        return p.last.retain_until
    entries = read_entries(store, p.batch, tenant=tenant)
    found: list[datetime | None] = []
    for pid in entries[0].packages if entries else ():
        with contextlib.suppress(ArchiveError):
            found.append(Manifest.from_bytes(store.get(manifest_key(tenant, pid))).retain_until)
    return longest(*found)


def _material_leaf(store: ObjectStore, tenant: str, token: bytes, alg: DigestAlgorithm,
                   material: MaterialSource | None, *, fence: _Fence,
                   retain_until: datetime | None) -> tuple[str, bytes] | None:
    if material is None:
        return None
    raw = material_bytes(material(token))
    fence.check()
    return put_blob(store, tenant, raw, retain_until=retain_until), alg.digest(raw)


def _write_entry(store: ObjectStore, tenant: str, previous: BatchEntry, entry: BatchEntry,
                 counts: dict[str, int], kind: str, *, fence: _Fence) -> None:
    """Claim ``entry`` as the one successor of ``previous``, then write it (fenced)."""
    fence.check()
    data = entry.to_bytes()
    claim = successor_key(tenant, entry.batch, previous.chain, previous.index)
    try:
        store.put(claim, data, retain_until=entry.retain_until, content_type="application/json")
    except ObjectExistsError:
        # another renewer (or an interrupted run) already extended the batch from `previous`:
        # its entry stands, ours is dropped; make sure its entry is written
        data = store.get(claim)
        entry = BatchEntry.from_bytes(data)
        kind = "skipped"
    try:
        store.put(entry_key(tenant, entry.batch, entry.chain, entry.index), data,
                  retain_until=entry.retain_until, content_type="application/json")
    except ObjectExistsError:
        kind = "skipped"
    counts[kind] += 1


def _renew_timestamps(store: ObjectStore, group: list[RenewalPlan], alg: DigestAlgorithm, *,
                      client: _CountingClient, tenant: str, now: datetime,
                      material: MaterialSource | None, counts: dict[str, int],
                      progress: Progress | None, max_leaves: int, fence: _Fence) -> None:
    """RFC 4998 §5.2 timestamp renewal of many batches under one timestamp per chunk."""
    by_token: dict[bytes, list[RenewalPlan]] = {}
    for p in group:
        by_token.setdefault(p.last.token, []).append(p)
    retention = {p.batch: _batch_retention(store, tenant, p) for p in group}
    tokens = list(by_token)
    done = 0
    for start in range(0, len(tokens), max(1, max_leaves // 2)):
        part = tokens[start:start + max(1, max_leaves // 2)]
        leaves = [alg.digest(t) for t in part]
        mats: list[tuple[str, bytes] | None] = [
            _material_leaf(store, tenant, t, alg, material, fence=fence,
                           retain_until=longest(*(retention[p.batch] for p in by_token[t])))
            for t in part]
        extra = sorted({m[1] for m in mats if m is not None} - set(leaves))
        tree = build_hash_tree([*leaves, *extra], alg)
        index_of = {leaf: i for i, leaf in enumerate(tree.leaves)}
        token = client.stamp(tree.root, alg)
        own = _material_leaf(
            store, tenant, token, alg, material, fence=fence,
            retain_until=longest(*(retention[p.batch] for t in part for p in by_token[t])))
        for t, leaf, mat in zip(part, leaves, mats, strict=True):
            upper: Reduced = tree.reduced_for(index_of[leaf])
            for p in by_token[t]:
                entry = BatchEntry(
                    batch=p.batch, chain=p.last.chain, index=p.last.index + 1, kind="timestamp",
                    algorithm=alg, token=token, created=now, upper=upper,
                    material=mat[0] if mat else None,
                    material_upper=tree.reduced_for(index_of[mat[1]]) if mat else (),
                    token_material=own[0] if own else None,
                    retain_until=retention[p.batch], fencing_token=fence.token)
                _write_entry(store, tenant, p.last, entry, counts, "timestamp", fence=fence)
                done += 1
                if progress is not None:
                    progress("timestamp renewal", done, len(group))


def _renew_hash_trees(store: ObjectStore, group: list[RenewalPlan], alg: DigestAlgorithm, *,
                      client: _CountingClient, tenant: str, now: datetime,
                      material: MaterialSource | None, counts: dict[str, int],
                      progress: Progress | None, fence: _Fence) -> None:
    """RFC 4998 §5.2 hash-tree renewal: per batch a subtree of the packages' new leaves."""
    subtrees: list[tuple[RenewalPlan, tuple[bytes, ...]]] = []
    for n, p in enumerate(group):
        fence.check()  # rehashing a large archive takes long: the heartbeat keeps the lease
        entries = read_entries(store, p.batch, tenant=tenant)
        if not entries or (entries[-1].chain, entries[-1].index) != (p.last.chain, p.last.index):
            counts["skipped"] += 1  # the batch moved on since it was planned
            continue
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
    if not subtrees:
        return
    retention = {p.batch: _batch_retention(store, tenant, p) for p, _ in subtrees}
    roots = [build_hash_tree(list(leaves), alg).root for _, leaves in subtrees]
    mats = [_material_leaf(store, tenant, p.last.token, alg, material, fence=fence,
                           retain_until=retention[p.batch]) for p, _ in subtrees]
    extra = sorted({m[1] for m in mats if m is not None} - set(roots))
    top = build_hash_tree([*roots, *extra], alg)
    index_of: dict[bytes, int] = {}
    for i, leaf in enumerate(top.leaves):
        index_of.setdefault(leaf, i)
    token = client.stamp(top.root, alg)
    own = _material_leaf(store, tenant, token, alg, material, fence=fence,
                         retain_until=longest(*retention.values()))
    for n, ((p, sub_leaves), mat) in enumerate(zip(subtrees, mats, strict=True)):
        entry = BatchEntry(
            batch=p.batch, chain=p.last.chain + 1, index=0, kind="hash-tree", algorithm=alg,
            token=token, created=now, leaves=sub_leaves, upper=top.reduced_for(n),
            material=mat[0] if mat else None,
            material_upper=top.reduced_for(index_of[mat[1]]) if mat else (),
            token_material=own[0] if own else None,
            retain_until=retention[p.batch], fencing_token=fence.token)
        _write_entry(store, tenant, p.last, entry, counts, "hash-tree", fence=fence)
        if progress is not None:
            progress("hash-tree renewal", n + 1, len(subtrees))
