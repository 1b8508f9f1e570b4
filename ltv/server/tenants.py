"""Tenants and their API keys: revocable, rotatable, compared in constant time.

``ltv tenant add NAME`` makes a random key (``ltv_`` + 32 random bytes, URL-safe base64) and
prints it once. The store keeps only the key's SHA-256::

    tenants/names/NAME.json                  write-once {"schema", "name", "created"}
    _mutable/tenants/keys/<sha256 hex>.json  mutable    {"schema": "ltv.api-key/1", "tenant",
                                                         "key_id", "sha256", "created",
                                                         "expires", "revoked", "nonce"}

Key records live in the store's mutable namespace so that a leaked key can be revoked
(``ltv tenant revoke-key``) and a key rotated (``ltv tenant rotate-key``: a new key, the old
ones valid for a grace period, default 24 h). Records are changed by compare-and-swap on their
etag, never blindly. A key's **id** is the first 16 hex digits of its SHA-256: what ``ltv
tenant ls`` and the audit trail show; it does not let anyone authenticate.

Stores made before keys became revocable hold write-once records
``tenants/keys/<sha256 hex>.json`` (``{"schema", "name", "created"}``). They keep working:
the first authentication with such a key copies it to the mutable namespace (migrate on read);
a mutable record, when there is one, always wins, so revoking a legacy key works too.

A request authenticates with ``Authorization: Bearer KEY``: the server hashes the key, reads
the record under that hash and compares the stored hash with ``hmac.compare_digest``. Unknown,
malformed, revoked and expired keys answer 401; a revoked or expired key's use is also an
audit line (outcome ``refused``). Everything a tenant owns lives under a prefix derived from
its name, so another tenant's ids simply do not resolve (404, never 403).

Names: 1-63 characters of ``a-z 0-9 _ -`` starting with a letter or digit; names that are, or
could be confused with, the store's own prefixes or the CLI's default tenant are reserved
(:data:`RESERVED_NAMES`).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from archive.audit import AuditEvent, Outcome, Who, record
from archive.errors import ObjectExistsError, ObjectNotFoundError
from archive.store import ObjectStore
from ltv.clock import Clock, SystemClock, format_time, parse_time
from ltv.errors import InputError
from ltv.server.errors import AuthenticationError

__all__ = [
    "DEFAULT_GRACE",
    "KEY_PREFIX",
    "KEY_SCHEMA",
    "RESERVED_NAMES",
    "TENANT_SCHEMA",
    "ApiKey",
    "KeyState",
    "Tenant",
    "TenantKeys",
    "add_tenant",
    "authenticate",
    "check_tenant_name",
    "hash_key",
    "key_id",
    "list_tenants",
    "revoke_key",
    "rotate_key",
]

TENANT_SCHEMA = "ltv.tenant/1"
KEY_SCHEMA = "ltv.api-key/1"
KEY_PREFIX = "ltv_"
DEFAULT_GRACE = timedelta(hours=24)
#: Names a tenant may not take: the CLI's default archive tenant, the store's own top-level
#: prefixes (``tenants/``, ``audit/``, ``_mutable/`` sessions) and names that read as an
#: operator's.
RESERVED_NAMES = frozenset({
    "default", "admin", "administrator", "root", "operator", "system", "audit", "tenants",
    "sessions", "mutable", "api", "public", "metrics", "healthz",
})
_MAX_NAME = 63
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_KEY = re.compile(r"^ltv_[A-Za-z0-9_-]{20,100}$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")
_NAMES = "tenants/names/"
_KEYS = "_mutable/tenants/keys/"
_LEGACY_KEYS = "tenants/keys/"
_CAS_TRIES = 5


class KeyState(enum.Enum):
    """A key's state at a given time."""

    ACTIVE = "active"
    EXPIRING = "expiring"  # rotated: still valid until ``expires``
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True, kw_only=True)
class Tenant:
    """An authenticated tenant."""

    name: str
    created: datetime
    key_id: str | None = None  # the key the request authenticated with

    @property
    def prefix(self) -> str:
        """The key segment under which this tenant's objects live."""
        return self.name


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    """What the store knows of one API key (never the key itself)."""

    tenant: str
    sha256: str
    created: datetime
    expires: datetime | None = None
    revoked: datetime | None = None
    legacy: bool = False  # only the old write-once record exists so far

    @property
    def key_id(self) -> str:
        return self.sha256[:16]

    def state(self, at: datetime) -> KeyState:
        """The state at ``at``. A revocation counts whatever its time: the operator's clock
        running ahead of the server's must not delay it."""
        if self.revoked is not None:
            return KeyState.REVOKED
        if self.expires is not None:
            return KeyState.EXPIRED if self.expires <= at else KeyState.EXPIRING
        return KeyState.ACTIVE

    def usable(self, at: datetime) -> bool:
        return self.state(at) in (KeyState.ACTIVE, KeyState.EXPIRING)

    def to_bytes(self) -> bytes:
        return json.dumps({
            "schema": KEY_SCHEMA, "tenant": self.tenant, "key_id": self.key_id,
            "sha256": self.sha256, "created": format_time(self.created),
            "expires": format_time(self.expires) if self.expires else None,
            "revoked": format_time(self.revoked) if self.revoked else None,
            "nonce": secrets.token_hex(8),  # same content never comes back (no ABA on etags)
        }, sort_keys=True).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> ApiKey:
        body = json.loads(data)
        if body.get("schema") != KEY_SCHEMA:
            raise ValueError(f"unknown key record schema {body.get('schema')!r}")

        def opt(name: str) -> datetime | None:
            value = body.get(name)
            return parse_time(str(value)) if value else None

        return cls(tenant=str(body["tenant"]), sha256=str(body["sha256"]),
                   created=parse_time(str(body["created"])), expires=opt("expires"),
                   revoked=opt("revoked"))


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantKeys:
    """A tenant and its keys (oldest first): what ``ltv tenant ls`` shows."""

    tenant: Tenant
    keys: tuple[ApiKey, ...]


def hash_key(key: str) -> str:
    """SHA-256 (hex) of an API key: what the store keeps."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id(key: str) -> str:
    """The id of an API key as ``ltv tenant ls`` and the audit trail show it."""
    return hash_key(key)[:16]


def check_tenant_name(name: str) -> str:
    """``name`` if a new tenant may take it, else :class:`InputError` saying why."""
    if not name:
        raise InputError("a tenant name cannot be empty")
    if any(not ch.isprintable() for ch in name):
        raise InputError(f"bad tenant name {name[:80]!r}: it contains a control character")
    if len(name) > _MAX_NAME:
        raise InputError(f"bad tenant name {name[:20]!r}...: longer than {_MAX_NAME} characters")
    if "/" in name or "\\" in name or ".." in name:
        raise InputError(f"bad tenant name {name!r}: '/', '\\' and '..' are not allowed")
    if name.lower() in RESERVED_NAMES:
        raise InputError(f"tenant name {name!r} is reserved (reserved: "
                         f"{', '.join(sorted(RESERVED_NAMES))})")
    if not _NAME.match(name):
        raise InputError(
            f"bad tenant name {name!r}: use 1-63 of a-z, 0-9, '_' and '-', starting with a "
            "letter or digit"
        )
    return name


def _tenant_record(name: str, created: datetime) -> bytes:
    return json.dumps({"schema": TENANT_SCHEMA, "name": name, "created": format_time(created)},
                      sort_keys=True).encode("utf-8")


def _new_key(store: ObjectStore, name: str, now: datetime) -> tuple[ApiKey, str]:
    for _ in range(_CAS_TRIES):
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        api_key = ApiKey(tenant=name, sha256=hash_key(key), created=now)
        if store.create_exclusive(f"{_KEYS}{api_key.sha256}.json", api_key.to_bytes()):
            return api_key, key
    raise InputError("could not store a new API key; try again")  # pragma: no cover


def add_tenant(store: ObjectStore, name: str, *, clock: Clock | None = None
               ) -> tuple[Tenant, str]:
    """Create tenant ``name`` and its first API key; returns the tenant and the key (shown once).

    Names are checked by :func:`check_tenant_name`; an existing name is refused.
    """
    check_tenant_name(name)
    created = (clock or SystemClock()).now()
    try:
        store.put(f"{_NAMES}{name}.json", _tenant_record(name, created),
                  content_type="application/json")
    except ObjectExistsError as exc:
        raise InputError(f"tenant {name!r} already exists") from exc
    api_key, key = _new_key(store, name, created)
    record(store, AuditEvent.TENANT_ADD, who=Who.OPERATOR, tenant=name, object_id=name,
           detail=f"key {api_key.key_id}", clock=clock)
    return Tenant(name=name, created=created, key_id=api_key.key_id), key


def _read_tenant(store: ObjectStore, name: str) -> Tenant:
    try:
        body = json.loads(store.get(f"{_NAMES}{name}.json"))
        return Tenant(name=name, created=parse_time(str(body["created"])))
    except ObjectNotFoundError as exc:
        raise InputError(f"no tenant {name!r} (see ltv tenant ls)") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"the record of tenant {name!r} is damaged: {exc}") from exc


def _legacy(store: ObjectStore, digest: str) -> ApiKey | None:
    try:
        body = json.loads(store.get(f"{_LEGACY_KEYS}{digest}.json"))
        return ApiKey(tenant=str(body["name"]), sha256=digest,
                      created=parse_time(str(body["created"])), legacy=True)
    except ObjectNotFoundError:
        return None


def _all_keys(store: ObjectStore) -> dict[str, ApiKey]:
    """Every key record by hash: mutable records win over legacy ones."""
    keys: dict[str, ApiKey] = {}
    for root, mutable in ((_LEGACY_KEYS, False), (_KEYS, True)):
        for info in store.list(root):
            digest = info.key[len(root):].removesuffix(".json")
            if not _HASH.match(digest):
                continue
            try:
                if mutable:
                    keys[digest] = ApiKey.from_bytes(store.read_mutable(info.key).data)
                else:
                    found = _legacy(store, digest)
                    if found is not None:
                        keys[digest] = found
            except (ObjectNotFoundError, ValueError, KeyError, TypeError):
                continue
    return keys


def list_tenants(store: ObjectStore) -> list[TenantKeys]:
    """Every tenant with its keys (no secrets: ids, states, times), by name."""
    by_tenant: dict[str, list[ApiKey]] = {}
    for api_key in _all_keys(store).values():
        by_tenant.setdefault(api_key.tenant, []).append(api_key)
    out: list[TenantKeys] = []
    for info in store.list(_NAMES):
        name = info.key[len(_NAMES):].removesuffix(".json")
        try:
            tenant = _read_tenant(store, name)
        except InputError:
            continue
        keys = sorted(by_tenant.get(name, []), key=lambda k: (k.created, k.sha256))
        out.append(TenantKeys(tenant=tenant, keys=tuple(keys)))
    return out


def _update(store: ObjectStore, api_key: ApiKey, change: Callable[[ApiKey], ApiKey]) -> ApiKey:
    """Apply ``change`` to a key record by compare-and-swap (creating it for a legacy key)."""
    path = f"{_KEYS}{api_key.sha256}.json"
    for _ in range(_CAS_TRIES):
        try:
            current = store.read_mutable(path)
        except ObjectNotFoundError:
            new = change(replace(api_key, legacy=False))
            if store.create_exclusive(path, new.to_bytes()) is not None:
                return new
            continue
        new = change(ApiKey.from_bytes(current.data))
        if store.replace_if(path, new.to_bytes(), etag=current.etag) is not None:
            return new
    raise InputError(f"key {api_key.key_id} changed under us {_CAS_TRIES} times; try again")


def _keys_of(store: ObjectStore, name: str) -> list[ApiKey]:
    return sorted((k for k in _all_keys(store).values() if k.tenant == name),
                  key=lambda k: (k.created, k.sha256))


def rotate_key(store: ObjectStore, name: str, *, grace: timedelta = DEFAULT_GRACE,
               clock: Clock | None = None) -> tuple[ApiKey, str, list[ApiKey]]:
    """Give tenant ``name`` a new key; its usable keys stay valid for ``grace`` (0: at once).

    Returns the new key's record, the key (shown once) and the old keys as changed. A key that
    already expires sooner keeps its earlier end.
    """
    if grace < timedelta(0):
        raise InputError("the grace period cannot be negative")
    _read_tenant(store, name)
    now = (clock or SystemClock()).now()
    until = now + grace
    old = [k for k in _keys_of(store, name) if k.usable(now)]
    new_key, key = _new_key(store, name, now)

    def expire(k: ApiKey) -> ApiKey:
        end = until if k.expires is None else min(k.expires, until)
        return replace(k, expires=end)

    changed = [_update(store, k, expire) for k in old]
    record(store, AuditEvent.KEY_ROTATE, who=Who.OPERATOR, tenant=name,
           object_id=new_key.key_id, clock=clock,
           detail=f"old keys {','.join(k.key_id for k in changed) or 'none'} valid until "
                  f"{format_time(until)}")
    return new_key, key, changed


def revoke_key(store: ObjectStore, name: str, key_ids: Sequence[str] | None, *,
               clock: Clock | None = None) -> list[ApiKey]:
    """Revoke the keys ``key_ids`` of tenant ``name`` (``None``: all of them) at once.

    Returns the keys revoked now (a key already revoked is left as it is); an id that is not
    one of the tenant's keys is refused.
    """
    _read_tenant(store, name)
    now = (clock or SystemClock()).now()
    keys = _keys_of(store, name)
    if key_ids is None:
        chosen = keys
    else:
        by_id = {k.key_id: k for k in keys}
        chosen = []
        for kid in key_ids:
            if not _KEY_ID.match(kid) or kid not in by_id:
                raise InputError(f"tenant {name!r} has no key {kid[:40]!r} (key ids: "
                                 f"{', '.join(by_id) or 'none'}; see ltv tenant ls)")
            chosen.append(by_id[kid])
    revoked: list[ApiKey] = []
    for k in chosen:
        if k.state(now) is KeyState.REVOKED:
            continue
        revoked.append(_update(store, k, lambda r: replace(r, revoked=now)))
        record(store, AuditEvent.KEY_REVOKE, who=Who.OPERATOR, tenant=name,
               object_id=k.key_id, clock=clock)
    return revoked


# --- authentication -------------------------------------------------------------------------

_REFUSAL_EVERY = timedelta(minutes=1)
_refusals: dict[str, datetime] = {}
_refusals_lock = threading.Lock()


def _audit_refusal(store: ObjectStore, api_key: ApiKey, reason: str, now: datetime,
                   clock: Clock) -> None:
    """Audit a revoked or expired key's use: always on stderr, in the store at most once a
    minute per key and process (a leaked key cannot flood the store with audit objects)."""
    with _refusals_lock:
        last = _refusals.get(api_key.sha256)
        keep = last is None or not (last <= now < last + _REFUSAL_EVERY)
        if keep:
            if len(_refusals) >= 1024:
                _refusals.clear()
            _refusals[api_key.sha256] = now
    record(store if keep else None, AuditEvent.AUTHENTICATE, who=Who.TENANT,
           tenant=api_key.tenant, object_id=api_key.key_id, outcome=Outcome.REFUSED,
           detail=reason, clock=clock)


def _lookup(store: ObjectStore, digest: str) -> ApiKey | None:
    path = f"{_KEYS}{digest}.json"
    try:
        return ApiKey.from_bytes(store.read_mutable(path).data)
    except ObjectNotFoundError:
        pass
    legacy = _legacy(store, digest)
    if legacy is None:
        return None
    # migrate on read; a record written meanwhile (a revocation) wins over ours
    store.create_exclusive(path, replace(legacy, legacy=False).to_bytes())
    try:
        return ApiKey.from_bytes(store.read_mutable(path).data)
    except ObjectNotFoundError:
        return legacy


def authenticate(store: ObjectStore, authorization: str | None, *,
                 clock: Clock | None = None) -> Tenant:
    """The tenant of an ``Authorization: Bearer KEY`` header, or :class:`AuthenticationError`."""
    if not authorization:
        raise AuthenticationError("this endpoint needs 'Authorization: Bearer KEY' (an API key "
                                  "from 'ltv tenant add NAME')")
    scheme, _, key = authorization.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise AuthenticationError("use 'Authorization: Bearer KEY'")
    if not _KEY.match(key):
        raise AuthenticationError("unknown API key")
    digest = hash_key(key)
    try:
        api_key = _lookup(store, digest)
    except (ValueError, KeyError, TypeError) as exc:
        raise AuthenticationError("unknown API key") from exc
    if api_key is None or not hmac.compare_digest(api_key.sha256.encode(), digest.encode()):
        raise AuthenticationError("unknown API key")
    name = api_key.tenant
    if not _NAME.match(name) or name in RESERVED_NAMES:
        raise AuthenticationError("unknown API key")
    clock = clock or SystemClock()
    now = clock.now()
    state = api_key.state(now)
    if state is KeyState.REVOKED:
        _audit_refusal(store, api_key, "key-revoked", now, clock)
        raise AuthenticationError("this API key was revoked")
    if state is KeyState.EXPIRED:
        _audit_refusal(store, api_key, "key-expired", now, clock)
        raise AuthenticationError("this API key has expired (it was rotated)")
    return Tenant(name=name, created=api_key.created, key_id=api_key.key_id)

