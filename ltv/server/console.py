"""What the archive console shows, read from the store: packages, their evidence chains, the
date each weakens and by which its renewal is due, and the renewal job's last run.

A package's evidence is its batch's RFC 4998 archive timestamps (:mod:`archive.ingest`) plus
the time-stamps its signed file carries (the package's ``timestamp`` objects). The date by which
the next renewal is due is :func:`archive.renew.deadlines` (the renewal job's own rule) over the
batch's newest archive timestamp: the earliest of its TSA certificate's expiry and its hash
algorithm's sunset, minus the renewal margin. The evidence *weakens* on that expiry or sunset;
with ``days`` equal to the margin, the packages weakening within ``days`` are exactly those the
next renewal run renews.

Everything is per tenant (its key prefix). Labels are translated with the current language
(:func:`ltv.i18n.use_language`); dates come as ``{"iso", "text"}`` where ``text`` is the
language's form (:mod:`ltv.i18n.dates`: JST for Japanese). No FastAPI here: the routes are in
:mod:`ltv.server.routes_console`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from archive.errors import ArchiveError
from archive.ingest import BatchEntry, last_entry, read_entries
from archive.package import Manifest, Package, manifest_key, package_ids, read_package
from archive.renew import DEFAULT_MARGIN, Deadline, deadlines
from archive.renew_runs import RenewRun, read_run
from archive.store import ObjectStore
from ltv.clock import format_time
from ltv.errors import LtvError
from ltv.i18n import N_, current_language, translate
from ltv.i18n.dates import format_date, format_datetime
from ltv.i18n.terms import term
from ltv.timestamps import parse_token

__all__ = [
    "Batch",
    "ConsoleView",
    "PackageRow",
    "matches",
    "when",
]

def _(message: str) -> str:
    """``message`` in the current language, from the console's own catalog."""
    return translate(message, domain="console")


_TOKEN_ERRORS = (LtvError, ValueError, TypeError, KeyError, IndexError, AttributeError)

#: The kinds of time-stamp a signed file carries (the validation report's tokens) by glossary
#: term; others get the generic term.
_SIGNATURE_TERMS = {"signature": "signature time-stamp", "document": "document time-stamp",
                    "archive": "archive time-stamp", "archive-v2": "archive time-stamp",
                    "archive-v1": "archive time-stamp", "archive-1.3.2": "archive time-stamp"}
_ENTRY_LABELS = {"ingest": N_("Archive time-stamp at ingest: the evidence record begins"),
                 "timestamp": N_("Archive time-stamp renewed"),
                 "hash-tree": N_("Hash-tree renewal")}
_DUE_REASONS = {"timestamp": N_("the TSA certificate of the newest archive time-stamp expires"),
                "hash-tree": N_("the hash algorithm of the evidence record reaches its sunset")}


def when(value: datetime | None, *, time: bool = True) -> dict[str, str] | None:
    """``{"iso", "text"}`` of ``value`` in the current language (None stays None)."""
    if value is None:
        return None
    lang = current_language()
    text = format_datetime(value, lang) if time else format_date(value, lang)
    return {"iso": format_time(value), "text": text}


def _normal(text: str) -> str:
    """Case- and width-insensitive form for search (ＡＢＣ = abc, ｶﾀｶﾅ = カタカナ)."""
    return unicodedata.normalize("NFKC", text).casefold()


def matches(query: str, *, metadata: Mapping[str, str], names: Iterable[str],
            field_name: str | None = None) -> bool:
    """Every word of ``query`` is in a metadata value (of ``field_name`` only, when given), a
    metadata key or one of ``names`` (file name, id)."""
    if field_name is not None:
        hay = [metadata.get(field_name, "")]
        if field_name not in metadata:
            return False
    else:
        hay = [*metadata.values(), *metadata.keys(), *names]
    text = "\n".join(_normal(h) for h in hay)
    return all(word in text for word in _normal(query).split())


def _tsa_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else cert.subject.rfc4514_string()
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True, kw_only=True)
class Stamp:
    """One time-stamp token as the console shows it."""

    at: datetime
    tsa: str
    tsa_expires: datetime
    algorithm: str

    @classmethod
    def of(cls, token: bytes) -> Stamp | None:
        try:
            parsed = parse_token(token)
        except _TOKEN_ERRORS:
            return None
        cert = parsed.signer_certificate
        return cls(at=parsed.gen_time, tsa=_tsa_name(cert), tsa_expires=cert.not_valid_after_utc,
                   algorithm=parsed.digest_algorithm.value)

    def to_json(self) -> dict[str, Any]:
        return {"at": when(self.at), "tsa": self.tsa, "tsa_expires": when(self.tsa_expires),
                "algorithm": self.algorithm}


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """A batch's newest archive timestamp and its renewal deadline (None: unreadable)."""

    batch: str
    last: BatchEntry | None
    stamp: Stamp | None
    deadline: Deadline | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageRow:
    """One package in a list."""

    id: str
    manifest: Manifest
    batch: Batch

    def weakens(self) -> datetime | None:
        d = self.batch.deadline
        return None if d is None else d.weakens

    def to_json(self, at: datetime) -> dict[str, Any]:
        signed = self.manifest.first("signed")
        d = self.batch.deadline
        return {
            "id": self.id,
            "created": when(self.manifest.created),
            "signed_name": signed.name if signed else None,
            "metadata": dict(sorted(self.manifest.metadata.items())),
            "retain_until": when(self.manifest.retain_until, time=False),
            "last_archive_timestamp": self.batch.stamp.to_json() if self.batch.stamp else None,
            "next_renewal": _deadline_json(d, at) if d is not None else None,
        }


def _deadline_json(d: Deadline, at: datetime) -> dict[str, Any]:
    weakens = d.weakens
    days = None if weakens is None else (weakens - at) // timedelta(days=1)
    return {"due": when(d.due, time=False), "weakens": when(weakens, time=False),
            "kind": d.kind, "reason": _(_DUE_REASONS[d.kind]) if d.kind in _DUE_REASONS
            else d.reason, "overdue": d.due <= at, "days_left": days}


@dataclass
class ConsoleView:
    """The console's reading of one tenant's archive at ``at`` (one per request)."""

    store: ObjectStore
    tenant: str
    at: datetime
    margin: timedelta = DEFAULT_MARGIN
    sunsets: dict[str, datetime] = field(default_factory=dict)
    key_sunsets: dict[str, datetime] = field(default_factory=dict)
    _batches: dict[str, Batch] = field(default_factory=dict)
    _certs: dict[bytes, x509.Certificate] = field(default_factory=dict)

    # --- reading ---------------------------------------------------------------------------

    def batch(self, batch: str) -> Batch:
        found = self._batches.get(batch)
        if found is None:
            found = self._read_batch(batch)
            self._batches[batch] = found
        return found

    def _read_batch(self, batch: str) -> Batch:
        try:
            last = last_entry(self.store, batch, tenant=self.tenant)
        except ArchiveError:
            last = None
        if last is None:
            return Batch(batch=batch, last=None, stamp=None, deadline=None)
        deadline: Deadline | None = None
        with contextlib.suppress(*_TOKEN_ERRORS):
            found = deadlines(last, margin=self.margin, sunsets=self.sunsets, certs=self._certs,
                              key_sunsets=self.key_sunsets)
            deadline = min(found, key=lambda d: d.due)  # ties: plan()'s order (hash-tree first)
        return Batch(batch=batch, last=last, stamp=Stamp.of(last.token), deadline=deadline)

    def rows(self) -> list[PackageRow]:
        """Every package, newest first."""
        out: list[PackageRow] = []
        for pid in package_ids(self.store, tenant=self.tenant):
            try:
                manifest = Manifest.from_bytes(self.store.get(manifest_key(self.tenant, pid)))
            except ArchiveError:
                continue
            out.append(PackageRow(id=pid, manifest=manifest, batch=self.batch(manifest.batch)))
        out.sort(key=lambda r: (r.manifest.created, r.id), reverse=True)
        return out

    def weakening(self, days: int) -> list[PackageRow]:
        """Packages whose evidence weakens by ``at + days``, soonest first."""
        limit = self.at + timedelta(days=days)
        found = [r for r in self.rows() if (w := r.weakens()) is not None and w <= limit]
        found.sort(key=lambda r: (r.weakens(), r.id))
        return found

    def run(self) -> RenewRun | None:
        return read_run(self.store, self.tenant)

    # --- answers ---------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        rows = self.rows()
        batches = {r.manifest.batch for r in rows}
        stamps = 0
        for b in sorted(batches):
            with contextlib.suppress(ArchiveError):
                stamps += len(read_entries(self.store, b, tenant=self.tenant))
        due = [r for r in rows if r.batch.deadline is not None]
        soon = [r for r in due if r.batch.deadline is not None and r.batch.deadline.due <= self.at]
        first = min(due, key=lambda r: (_due(r), r.id), default=None)
        next_renewal: dict[str, Any] | None = None
        if first is not None and first.batch.deadline is not None:
            deadline = first.batch.deadline
            on_that_day = [r for r in due if _due(r) <= max(deadline.due, self.at)]
            next_renewal = {**_deadline_json(deadline, self.at), "packages": len(on_that_day),
                            "package": first.id}
        run = self.run()
        return {
            "tenant": self.tenant,
            "at": when(self.at),
            "margin_days": self.margin.days,
            "counts": {"packages": len(rows), "evidence_records": len(rows),
                       "batches": len(batches), "archive_timestamps": stamps,
                       "due_soon": len(soon),
                       "unreadable": sum(1 for r in rows if r.batch.deadline is None)},
            "next_renewal": next_renewal,
            "last_run": _run_json(run) if run is not None else None,
            "weakening": [r.to_json(self.at) for r in self.weakening(self.margin.days)[:5]],
        }

    def detail(self, package_id: str) -> dict[str, Any]:
        """The package with its evidence chain and timeline; ObjectNotFoundError if absent."""
        package = read_package(self.store, package_id, tenant=self.tenant)
        manifest = package.manifest
        row = PackageRow(id=package_id, manifest=manifest, batch=self.batch(manifest.batch))
        report = _ingest_report(package)
        signature = _signature_summary(report)
        in_signature = _signature_stamps(package, report)
        entries: list[BatchEntry] = []
        with contextlib.suppress(ArchiveError):
            entries = read_entries(self.store, manifest.batch, tenant=self.tenant)
        chain: list[dict[str, Any]] = []
        for entry in entries:
            stamp = Stamp.of(entry.token)
            chain.append({"kind": entry.kind, "label": _(_ENTRY_LABELS.get(entry.kind,
                                                                             entry.kind)),
                          "chain": entry.chain, "index": entry.index,
                          "algorithm": entry.algorithm.value,
                          **({"at": when(entry.created), "tsa": None, "tsa_expires": None}
                             if stamp is None else stamp.to_json())})
        body = row.to_json(self.at)
        body.update({
            "batch": manifest.batch,
            "objects": [{"role": o.role, "name": o.name, "size": o.size}
                        for o in manifest.objects],
            "signature": None if signature is None else {
                k: v for k, v in signature.items() if not k.startswith("_")},
            "signature_timestamps": [{"kind": kind, "label": label, **s.to_json()}
                                     for kind, label, s in in_signature],
            "evidence_record": chain,
            "timeline": self._timeline(row, signature, in_signature, entries),
        })
        return body

    def _timeline(self, row: PackageRow, signature: dict[str, Any] | None,
                  in_signature: list[tuple[str, str, Stamp]],
                  entries: list[BatchEntry]) -> list[dict[str, Any]]:
        events: list[tuple[datetime, str, str, str | None]] = []
        tsa_detail = _("TSA: {tsa}; hash: {algorithm}; TSA certificate expiry: {expires}")
        if signature is not None and signature.get("_signing_time") is not None:
            events.append((signature["_signing_time"], "signed", _("Signed"),
                           signature.get("signer")))
        for _kind, label, s in in_signature:
            events.append((s.at, "signature-timestamp", label, tsa_detail.format(
                tsa=s.tsa, algorithm=s.algorithm, expires=format_date(s.tsa_expires,
                                                                      current_language()))))
        for entry in entries:
            stamp = Stamp.of(entry.token)
            label = _(_ENTRY_LABELS.get(entry.kind, entry.kind))
            if entry.kind == "hash-tree":
                label = f"{label} ({entry.algorithm.value})"
            detail = None if stamp is None else tsa_detail.format(
                tsa=stamp.tsa, algorithm=stamp.algorithm,
                expires=format_date(stamp.tsa_expires, current_language()))
            events.append((stamp.at if stamp else entry.created, f"archive-{entry.kind}", label,
                           detail))
        events.append((self.at, "now", _("Now"), None))
        d = row.batch.deadline
        if d is not None:
            if d.weakens is not None:
                what = (_("TSA certificate of the newest archive time-stamp expires")
                        if d.kind == "timestamp" else _("Hash algorithm reaches its sunset"))
                events.append((d.weakens, "weakens", what, row.batch.stamp.tsa
                               if row.batch.stamp and d.kind == "timestamp" else None))
            events.append((d.due, "renewal-due", _("Next renewal due"),
                           _("{days} days before the evidence weakens (renewal margin)").format(
                               days=self.margin.days)))
        if signature is not None and signature.get("_signer_expires") is not None:
            events.append((signature["_signer_expires"], "signer-expires",
                           _("Signer certificate expires"), None))
        if row.manifest.retain_until is not None:
            events.append((row.manifest.retain_until, "retain-until", _("Retention ends"), None))
        order = {"now": 1}
        events.sort(key=lambda e: (e[0], order.get(e[1], 0)))
        return [{"at": when(at), "kind": kind, "label": label, "detail": detail,
                 "future": at > self.at} for at, kind, label, detail in events]


def _due(row: PackageRow) -> datetime:
    d = row.batch.deadline
    assert d is not None
    return d.due


def _run_json(run: RenewRun) -> dict[str, Any]:
    return {"started": when(run.started), "finished": when(run.finished),
            "outcome": run.outcome,
            "outcome_text": _("succeeded") if run.outcome == "ok" else _("failed"),
            "error": run.error, "batches": run.batches,
            "renewed": run.timestamp_renewed + run.hash_tree_renewed,
            "timestamp_renewed": run.timestamp_renewed,
            "hash_tree_renewed": run.hash_tree_renewed, "tsa_calls": run.tsa_calls}


def _ingest_report(package: Package) -> dict[str, Any] | None:
    obj = package.manifest.first("validation-report")
    if obj is None:
        return None
    try:
        body = json.loads(package.content(obj))
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _signature_summary(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The first signature of the ingest report: format, level, signer, signing time."""
    from ltv.clock import parse_time

    if report is None:
        return None
    signatures = report.get("signatures") or []
    if not signatures or not isinstance(signatures[0], dict):
        return None
    sig = signatures[0]
    signer = sig.get("signer") or {}

    def t(value: Any) -> datetime | None:
        try:
            return parse_time(str(value)) if value else None
        except ValueError:
            return None

    signing = t(sig.get("signing_time")) or t(sig.get("best_signature_time"))
    expires = t(signer.get("not_after"))
    return {"format": sig.get("format"), "level": sig.get("level"),
            "indication_at_ingest": report.get("indication"),
            "signer": signer.get("subject"), "signing_time": when(signing),
            "signer_expires": when(expires, time=False),
            "_signing_time": signing, "_signer_expires": expires}


def _signature_stamps(package: Package, report: dict[str, Any] | None
                      ) -> list[tuple[str, str, Stamp]]:
    """The time-stamps the signed file carries: (kind, label, stamp), oldest first."""
    kinds: dict[str, str] = {}
    for sig in (report or {}).get("signatures") or []:
        for ts in (sig.get("timestamps") or []) if isinstance(sig, dict) else []:
            if isinstance(ts, dict) and ts.get("token_sha256"):
                kinds[str(ts["token_sha256"])] = str(ts.get("kind"))
    out: list[tuple[str, str, Stamp]] = []
    for obj in package.manifest.objects:
        if obj.role != "timestamp":
            continue
        data = package.content(obj)
        stamp = Stamp.of(data)
        if stamp is None:
            continue
        kind = kinds.get(hashlib.sha256(data).hexdigest(), "timestamp")
        label = term(_SIGNATURE_TERMS.get(kind, "signature time-stamp"))
        out.append((kind, label, stamp))
    out.sort(key=lambda k: k[2].at)
    return out
