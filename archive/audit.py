"""The audit trail: one structured JSON line per state change, on stderr and in the store.

Every state change of the service (tenants and API keys, ingest, renewal, signing sessions) and
every refusal by policy (a revoked or expired API key, a signature value that does not verify,
an expired session) is an :class:`AuditRecord`::

    {"schema": "ltv.audit/1", "time": "2026-12-03T08:30:00.123456Z", "who": "operator",
     "tenant": "acme", "event": "key.revoke", "object": "3f2a9c1b7d4e5f60", "outcome": "ok",
     "detail": null}

``who`` is ``operator`` (the CLI, the renewal job, the server's own housekeeping), ``tenant``
(a request authenticated with that tenant's API key) or ``anonymous`` (a request without a key);
``object`` is the id of what changed (a
package id, a session id, a key id = the first 16 hex digits of the key's SHA-256, a tenant
name); ``outcome`` is ``ok``, ``refused`` (by policy) or ``failed``. Records carry neither API
keys nor personal data: ``detail`` is a short token chosen by the code (never the caller's
input, a file name or a certificate subject).

:func:`record` writes the line to the ``ltv.audit`` logger (stderr, the line alone, valid JSON)
and then as a **write-once** object ``audit/<UTC time>-<random>.json``: one object per event,
so concurrent replicas never overwrite each other and nothing is ever read, modified and
written back. Keys sort by time, so :func:`read_audit` lists them in time order, from
``since`` on, without reading older ones.
"""

from __future__ import annotations

import enum
import itertools
import json
import logging
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from archive.errors import ArchiveError, ArchiveInputError
from archive.store import ObjectStore
from ltv.clock import Clock, SystemClock, parse_time

__all__ = [
    "AUDIT_PREFIX",
    "AUDIT_SCHEMA",
    "AuditEvent",
    "AuditRecord",
    "Outcome",
    "Who",
    "audit_key",
    "read_audit",
    "record",
]

AUDIT_PREFIX = "audit/"
AUDIT_SCHEMA = "ltv.audit/1"
_DETAIL_MAX = 200

_log = logging.getLogger("ltv.audit")
_sequence = itertools.count()


class AuditEvent(enum.Enum):
    """What happened (or was attempted and refused)."""

    TENANT_ADD = "tenant.add"
    KEY_ROTATE = "key.rotate"
    KEY_REVOKE = "key.revoke"
    AUTHENTICATE = "auth"  # only refusals are recorded: a revoked or expired key was used
    ARCHIVE_INGEST = "archive.ingest"
    ARCHIVE_RENEW = "archive.renew"
    SESSION_CREATE = "session.create"
    SESSION_FINISH = "session.finish"
    SESSION_EXPIRE = "session.expire"
    REQUEST = "request"  # only refusals: 429 (rate or concurrency limit), 503 (work pool full)
    FETCH = "fetch"  # only refusals: the outbound fetch policy refused an address or scheme
    REMOTE_ENROL = "remote.enrol"  # a passkey enrolled, a key made in the HSM (issue #18)
    REMOTE_AUTHORIZE = "remote.authorize"  # a SAD granted (or refused) for some hashes
    REMOTE_SIGN = "remote.sign"  # the HSM signed hashes under a SAD (or the SAD was refused)


class Outcome(enum.Enum):
    OK = "ok"
    REFUSED = "refused"  # refused by policy
    FAILED = "failed"


class Who(enum.Enum):
    OPERATOR = "operator"
    TENANT = "tenant"
    ANONYMOUS = "anonymous"  # a request without an API key (``--public-validation``)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """One audit line."""

    time: datetime
    who: Who
    event: AuditEvent
    outcome: Outcome = Outcome.OK
    tenant: str | None = None
    object_id: str | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"schema": AUDIT_SCHEMA, "time": _stamp_iso(self.time), "who": self.who.value,
                "tenant": self.tenant, "event": self.event.value, "object": self.object_id,
                "outcome": self.outcome.value, "detail": self.detail}

    def line(self) -> str:
        """The record as one line of JSON (no newline)."""
        return json.dumps(self.to_json(), ensure_ascii=True, separators=(", ", ": "))

    @classmethod
    def from_json(cls, body: Any) -> AuditRecord:
        try:
            if body["schema"] != AUDIT_SCHEMA:
                raise ArchiveInputError(f"unknown audit schema {body.get('schema')!r}")
            return cls(time=parse_time(str(body["time"])), who=Who(body["who"]),
                       event=AuditEvent(body["event"]), outcome=Outcome(body["outcome"]),
                       tenant=_opt(body.get("tenant")), object_id=_opt(body.get("object")),
                       detail=_opt(body.get("detail")))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ArchiveInputError):
                raise
            raise ArchiveInputError(f"not an audit record: {exc}") from exc


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _stamp_iso(at: datetime) -> str:
    # fixed width (microseconds always present): text order is time order
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _stamp_key(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def audit_key(at: datetime, nonce: str) -> str:
    """``audit/<YYYYMMDDTHHMMSS.ffffff>Z-<sequence>-<nonce>.json``: key order is time order;
    events of one process at the same instant (a fixed ``--at`` clock) keep their order by the
    process's sequence number, and the random nonce keeps replicas apart."""
    return f"{AUDIT_PREFIX}{_stamp_key(at)}-{next(_sequence) % 10**8:08d}-{nonce}.json"


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    safe = "".join(ch if ch.isprintable() else "?" for ch in text)
    return safe[:_DETAIL_MAX]


class _StderrHandler(logging.Handler):
    """Writes the message alone to the *current* ``sys.stderr`` (one JSON line)."""

    def emit(self, entry: logging.LogRecord) -> None:
        try:
            sys.stderr.write(entry.getMessage() + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            self.handleError(entry)


if not any(isinstance(h, _StderrHandler) for h in _log.handlers):
    _log.addHandler(_StderrHandler())
    _log.setLevel(logging.INFO)
    _log.propagate = False


def record(
    store: ObjectStore | None,
    event: AuditEvent,
    *,
    who: Who,
    tenant: str | None = None,
    object_id: str | None = None,
    outcome: Outcome = Outcome.OK,
    detail: str | None = None,
    clock: Clock | None = None,
) -> AuditRecord:
    """Log one audit line on stderr and keep it as a write-once object in ``store``.

    The line goes to stderr first, so a store that fails still leaves the operator a trace; a
    failed store write is then logged as a second line (``outcome: failed``) and not raised:
    the state change it records has already happened.
    """
    entry = AuditRecord(time=(clock or SystemClock()).now(), who=who, event=event,
                        outcome=outcome, tenant=_clean(tenant), object_id=_clean(object_id),
                        detail=_clean(detail))
    line = entry.line()
    _log.info(line)
    if store is not None:
        try:
            store.put(audit_key(entry.time, secrets.token_hex(8)), (line + "\n").encode(),
                      content_type="application/json")
        except (ArchiveError, OSError) as exc:
            _log.error(json.dumps({"schema": AUDIT_SCHEMA, "event": "audit.write",
                                   "outcome": Outcome.FAILED.value,
                                   "detail": type(exc).__name__, "time": _stamp_iso(entry.time)}))
    return entry


def read_audit(store: ObjectStore, *, since: datetime | None = None,
               tenant: str | None = None) -> Iterator[AuditRecord]:
    """The store's audit records in time order, from ``since`` on, of ``tenant`` if given.

    An unreadable object raises :class:`ArchiveInputError` naming its key: the trail is
    evidence, a damaged entry is not skipped silently.
    """
    start_after = f"{AUDIT_PREFIX}{_stamp_key(since)}" if since is not None else ""
    for info in store.list(AUDIT_PREFIX, start_after=start_after):
        data = store.get(info.key)
        try:
            entry = AuditRecord.from_json(json.loads(data))
        except (ValueError, ArchiveInputError) as exc:
            raise ArchiveInputError(f"audit object {info.key} is damaged: {exc}") from exc
        if since is not None and entry.time < since:
            continue
        if tenant is not None and entry.tenant != tenant:
            continue
        yield entry
