"""Signing sessions kept in the object store, so that any API replica can finish them.

A session is three mutable objects (``_mutable/`` namespace of :mod:`archive.store`) under the
tenant's prefix::

    _mutable/sessions/TENANT/ID/document       the document handed to prepare
    _mutable/sessions/TENANT/ID/pending.json   the PendingSignature (ltv.pending-signature/1)
    _mutable/sessions/TENANT/ID/used           the single-use marker
    _mutable/sessions/TENANT/ID/remote.json    a remote-key session only: credential, user,
                                               approval id, and the HSM's value once signed

Finishing is single use across replicas: the replica that creates ``used`` with the store's
exclusive-create primitive (S3 ``If-None-Match: *``, ``link(2)`` locally) finishes; every other
attempt answers 409. A wrong signature value is refused (422) *before* the marker is taken, so
the session stays usable until it expires: a phone that sent the wrong value (wrong key, wrong
form) may try again. If finishing fails after the marker was taken (TSA down: 502), the marker is
given back so the client can retry. A replica that died while finishing leaves a marker whose
``until`` has passed; the next attempt takes it over with compare-and-swap.

Expiry is read from the injected :class:`~ltv.clock.Clock`: past ``expires`` a session answers
410. :meth:`SessionStore.purge_expired` drops the document of an expired session and deletes
the whole session a while later; ``ltv serve`` runs it on a timer (:mod:`.hardening`).
A finish that outlived its marker (``FINISH_TIMEOUT``) while another attempt took the marker
over discards its result: the compare-and-swap that records "finished" fails, and it answers 409.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from archive.audit import AuditEvent, Outcome, Who, record
from archive.errors import ObjectNotFoundError
from archive.store import ObjectStore
from ltv import signing
from ltv.clock import Clock, format_time, parse_time
from ltv.errors import SessionError
from ltv.server.errors import SessionExpiredError, SessionNotFoundError, SessionUsedError
from ltv.server.tenants import Tenant
from ltv.signing import PendingSignature, SigningServices

__all__ = ["FINISH_TIMEOUT", "SessionStore", "StoredSession", "valid_session_id"]

#: How long a replica may hold the ``used`` marker while finishing before another takes over.
FINISH_TIMEOUT = timedelta(minutes=5)
_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_ROOT = "_mutable/sessions/"


def valid_session_id(session_id: str) -> bool:
    return bool(_ID.match(session_id))


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredSession:
    pending: PendingSignature
    document: bytes


class SessionStore:
    """Signing sessions of all tenants in one :class:`~archive.store.ObjectStore`."""

    def __init__(self, store: ObjectStore, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def _base(self, tenant: Tenant, session_id: str) -> str:
        if not valid_session_id(session_id):
            raise SessionNotFoundError(f"no signing session {session_id[:80]!r}")
        return f"{_ROOT}{tenant.prefix}/{session_id}/"

    def create(self, tenant: Tenant, pending: PendingSignature, document: bytes, *,
               remote: dict[str, str] | None = None) -> None:
        """Store a new session (document first, so a visible pending always has its document).
        ``remote``: the session names a remote credential (the server's key signs once the
        passkey approved), see :meth:`remote`."""
        base = self._base(tenant, pending.id)
        self._store.put_mutable(base + "document", document)
        if remote is not None:
            self._store.put_mutable(base + "remote.json", json.dumps(remote).encode())
        if self._store.create_exclusive(base + "pending.json", pending.to_bytes()) is None:
            raise SessionError(f"signing session id {pending.id} collides; try again")
        self.audit(AuditEvent.SESSION_CREATE, tenant.name, pending.id)

    def load(self, tenant: Tenant, session_id: str) -> PendingSignature:
        """The pending signature; 404 for an unknown id or another tenant's."""
        base = self._base(tenant, session_id)
        try:
            data = self._store.read_mutable(base + "pending.json").data
        except ObjectNotFoundError as exc:
            raise SessionNotFoundError(f"no signing session {session_id!r}") from exc
        pending = PendingSignature.from_bytes(data)
        if pending.id != session_id:
            raise SessionError(f"signing session {session_id} is damaged")
        return pending

    def remote(self, tenant: Tenant, session_id: str) -> dict[str, str] | None:
        """The remote-credential record of a session, or None for a phone session."""
        try:
            data = self._store.read_mutable(self._base(tenant, session_id) + "remote.json").data
        except ObjectNotFoundError:
            return None
        record_: dict[str, str] = json.loads(data)
        return record_

    def set_remote(self, tenant: Tenant, session_id: str, record_: dict[str, str]) -> None:
        """Replace the remote record (to keep the HSM's value for a retried finish)."""
        self._store.put_mutable(self._base(tenant, session_id) + "remote.json",
                                json.dumps(record_).encode())

    def check_open(self, tenant: Tenant, session_id: str) -> PendingSignature:
        """The pending signature of a session that may still be finished (409 used, 410
        expired, 404 unknown)."""
        pending = self.load(tenant, session_id)
        now = self._clock.now()
        state = self._marker_state(self._base(tenant, session_id) + "used")
        if state is not None and (state[0] == "finished" or state[1] > now):
            self.audit(AuditEvent.SESSION_FINISH, tenant.name, session_id, Outcome.REFUSED, "used")
            raise SessionUsedError(f"signing session {session_id} was already finished")
        if now > pending.expires:
            self.audit(AuditEvent.SESSION_EXPIRE, tenant.name, session_id, Outcome.REFUSED)
            raise SessionExpiredError(
                f"signing session {session_id} expired at {format_time(pending.expires)}")
        return pending

    def finish(self, tenant: Tenant, session_id: str, signature_value: bytes, *,
               services: SigningServices) -> bytes:
        """Check the value, take the single-use marker, assemble and raise the signature."""
        pending = self.check_open(tenant, session_id)
        base = self._base(tenant, session_id)
        now = self._clock.now()
        marker = base + "used"
        # a wrong value is refused here, before the marker: the session stays usable
        signing.check_signature_value(pending, signature_value)
        etag = self._take(marker, now)
        if etag is None:
            self.audit(AuditEvent.SESSION_FINISH, tenant.name, session_id, Outcome.REFUSED, "used")
            raise SessionUsedError(f"signing session {session_id} was already finished")
        try:
            document = self._store.read_mutable(base + "document").data
            signed = signing.finish(pending, signature_value, document=document,
                                    services=services)
        except BaseException:
            self._store.delete_if(marker, etag=etag)
            self.audit(AuditEvent.SESSION_FINISH, tenant.name, session_id, Outcome.FAILED)
            raise
        done = json.dumps({"state": "finished", "at": format_time(self._clock.now()),
                           "nonce": secrets.token_hex(8)}).encode()
        if self._store.replace_if(marker, done, etag=etag) is None:
            # our marker went stale and another attempt took it over: that one finishes the
            # session, this result is discarded (exactly once, even past FINISH_TIMEOUT)
            self.audit(AuditEvent.SESSION_FINISH, tenant.name, session_id, Outcome.REFUSED,
                       "taken over")
            raise SessionUsedError(f"signing session {session_id} was already finished")
        self.audit(AuditEvent.SESSION_FINISH, tenant.name, session_id)
        # the document is no longer needed; the pending record and marker answer 409 later
        self._store.delete(base + "document")
        return signed

    def _marker_state(self, marker: str) -> tuple[str, datetime] | None:
        try:
            body = json.loads(self._store.read_mutable(marker).data)
            return str(body["state"]), parse_time(str(body.get("until") or body["at"]))
        except ObjectNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return "finished", self._clock.now()

    def _take(self, marker: str, now: datetime) -> str | None:
        body = json.dumps({"state": "finishing", "at": format_time(now),
                           "until": format_time(now + FINISH_TIMEOUT),
                           "nonce": secrets.token_hex(8)}).encode()
        etag = self._store.create_exclusive(marker, body)
        if etag is not None:
            return etag
        # a replica died while finishing: take its stale marker over, compare-and-swap
        try:
            current = self._store.read_mutable(marker)
            state = json.loads(current.data)
            if state.get("state") != "finishing" or parse_time(str(state["until"])) > now:
                return None
        except (ObjectNotFoundError, ValueError, KeyError, TypeError):
            return None
        return self._store.replace_if(marker, body, etag=current.etag)

    def purge_expired(self, *, grace: timedelta = timedelta(days=1)) -> int:
        """Delete sessions that expired more than ``grace`` ago; returns how many.

        The document (the whole contract) goes as soon as the session expires, unless a finish
        holds a live marker; the pending record and the marker stay for ``grace`` so that a late
        finish answers 410 or 409 rather than 404. ``ltv serve`` calls this on a timer.
        """
        now = self._clock.now()
        removed = 0
        for info in list(self._store.list(_ROOT)):
            if not info.key.endswith("/pending.json"):
                continue
            base = info.key[: -len("pending.json")]
            try:
                pending = PendingSignature.from_bytes(self._store.read_mutable(info.key).data)
                expired = pending.expires + grace < now
                lapsed = pending.expires < now
            except (ObjectNotFoundError, SessionError):
                expired = lapsed = True
            if lapsed and not expired:
                state = self._marker_state(base + "used")
                if state is None or state[0] != "finishing" or state[1] <= now:
                    self._store.delete(base + "document")
            if expired:
                for name in ("document", "used", "remote.json", "pending.json"):
                    self._store.delete(base + name)
                self.audit(AuditEvent.SESSION_EXPIRE, base.split("/")[-3], base.split("/")[-2],
                           who=Who.OPERATOR)
                removed += 1
        return removed

    def audit(self, event: AuditEvent, tenant: str, session_id: str,
              outcome: Outcome = Outcome.OK, detail: str | None = None, *,
              who: Who = Who.TENANT) -> None:
        """One audit line (:mod:`archive.audit`) about a session of ``tenant``."""
        record(self._store, event, who=who, tenant=tenant, object_id=session_id,
               outcome=outcome, detail=detail, clock=self._clock)
