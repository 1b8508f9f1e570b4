"""Tenants and their API keys.

``ltv tenant add NAME`` makes a random key (``ltv_`` + 32 random bytes, URL-safe base64) and
prints it once. The store keeps only its SHA-256, as write-once objects under ``tenants/``::

    tenants/names/NAME.json           {"schema", "name", "created"}   (refuses a second NAME)
    tenants/keys/<sha256 hex>.json    {"schema", "name", "created"}   (key hash -> tenant)

A request authenticates with ``Authorization: Bearer KEY``: the server hashes the key and reads
``tenants/keys/<hash>.json``. Everything a tenant owns lives under a prefix derived from its
name, so another tenant's ids simply do not resolve (404, never 403: existence is not leaked).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from archive.errors import ObjectExistsError, ObjectNotFoundError
from archive.store import ObjectStore
from ltv.clock import Clock, SystemClock, format_time, parse_time
from ltv.errors import InputError
from ltv.server.errors import AuthenticationError

__all__ = ["KEY_PREFIX", "TENANT_SCHEMA", "Tenant", "add_tenant", "authenticate", "hash_key"]

TENANT_SCHEMA = "ltv.tenant/1"
KEY_PREFIX = "ltv_"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_KEY = re.compile(r"^ltv_[A-Za-z0-9_-]{20,100}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Tenant:
    """An authenticated tenant."""

    name: str
    created: datetime

    @property
    def prefix(self) -> str:
        """The key segment under which this tenant's objects live."""
        return self.name


def hash_key(key: str) -> str:
    """SHA-256 (hex) of an API key: what the store keeps."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _record(name: str, created: datetime) -> bytes:
    return json.dumps({"schema": TENANT_SCHEMA, "name": name, "created": format_time(created)},
                      sort_keys=True).encode("utf-8")


def add_tenant(store: ObjectStore, name: str, *, clock: Clock | None = None) -> tuple[Tenant, str]:
    """Create tenant ``name`` and its first API key; returns the tenant and the key (shown once).

    Names are 1-63 characters of ``a-z 0-9 _ -``, starting with a letter or digit.
    """
    if not _NAME.match(name):
        raise InputError(
            f"bad tenant name {name!r}: use 1-63 of a-z, 0-9, '_' and '-', starting with a "
            "letter or digit"
        )
    created = (clock or SystemClock()).now()
    try:
        store.put(f"tenants/names/{name}.json", _record(name, created),
                  content_type="application/json")
    except ObjectExistsError as exc:
        raise InputError(f"tenant {name!r} already exists") from exc
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    store.put(f"tenants/keys/{hash_key(key)}.json", _record(name, created),
              content_type="application/json")
    return Tenant(name=name, created=created), key


def authenticate(store: ObjectStore, authorization: str | None) -> Tenant:
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
    try:
        body = json.loads(store.get(f"tenants/keys/{hash_key(key)}.json"))
        name = str(body["name"])
        created = parse_time(str(body["created"]))
    except ObjectNotFoundError as exc:
        raise AuthenticationError("unknown API key") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise AuthenticationError("unknown API key") from exc
    if not _NAME.match(name):
        raise AuthenticationError("unknown API key")
    return Tenant(name=name, created=created)
