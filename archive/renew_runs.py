"""The last outcome of the renewal job, per tenant: one small mutable object each run rewrites.

The audit trail records a renewal only when it changed something; a run that found nothing due,
or that failed, leaves no trace there. :func:`archive.renew.renew` therefore writes, after every
real run (never a dry run), ``_mutable/<tenant>/renew.last-run.json``::

    {"schema": "ltv.renew-run/1", "tenant": "acme", "started": "...Z", "finished": "...Z",
     "outcome": "ok" | "failed", "batches": 12, "timestamp_renewed": 3, "hash_tree_renewed": 0,
     "skipped": 0, "published": 0, "tsa_calls": 1, "error": null | "LeaseLostError",
     "nonce": "..."}

``error`` is the failure's class name only (its message may name internal URLs). The object is
status, not evidence: it lives in the mutable namespace, is overwritten unconditionally, and
failing to write it never fails the run. The archive console shows it (:func:`read_run`).
"""

from __future__ import annotations

import contextlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archive.errors import ArchiveError, ObjectNotFoundError
from archive.package import tenant_prefix
from archive.store import ObjectStore
from ltv.clock import format_time, parse_time

__all__ = ["RUN_SCHEMA", "RenewRun", "read_run", "run_key", "write_run"]

RUN_SCHEMA = "ltv.renew-run/1"
_COUNTS = ("batches", "timestamp_renewed", "hash_tree_renewed", "skipped", "published",
           "tsa_calls")


def run_key(tenant: str) -> str:
    """Where the last run of ``tenant`` is kept (next to its renewal lease)."""
    return f"_mutable/{tenant_prefix(tenant)}renew.last-run.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class RenewRun:
    """One renewal run of one tenant: when, how it ended, what it did."""

    tenant: str
    started: datetime
    finished: datetime
    outcome: str  # ok | failed
    batches: int = 0
    timestamp_renewed: int = 0
    hash_tree_renewed: int = 0
    skipped: int = 0
    published: int = 0
    tsa_calls: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"schema": RUN_SCHEMA, "tenant": self.tenant,
                "started": format_time(self.started), "finished": format_time(self.finished),
                "outcome": self.outcome, "error": self.error,
                **{name: getattr(self, name) for name in _COUNTS}}

    @classmethod
    def from_json(cls, body: Any) -> RenewRun:
        if not isinstance(body, dict) or body.get("schema") != RUN_SCHEMA:
            raise ValueError("not an ltv.renew-run/1 record")
        counts = {name: int(body.get(name) or 0) for name in _COUNTS}
        error = body.get("error")
        return cls(tenant=str(body["tenant"]), started=parse_time(str(body["started"])),
                   finished=parse_time(str(body["finished"])), outcome=str(body["outcome"]),
                   error=str(error) if error else None, **counts)


def write_run(store: ObjectStore, run: RenewRun) -> None:
    """Keep ``run`` as the tenant's last one; a store error is swallowed (status only)."""
    body = {**run.to_json(), "nonce": secrets.token_hex(8)}
    with contextlib.suppress(ArchiveError):
        store.put_mutable(run_key(run.tenant), json.dumps(body, sort_keys=True).encode())


def read_run(store: ObjectStore, tenant: str) -> RenewRun | None:
    """The tenant's last renewal run, or None when none was recorded (or it is unreadable)."""
    try:
        data = store.read_mutable(run_key(tenant)).data
    except ObjectNotFoundError:
        return None
    try:
        return RenewRun.from_json(json.loads(data))
    except (ValueError, KeyError, TypeError):
        return None
