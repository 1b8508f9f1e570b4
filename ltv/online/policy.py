"""The outbound fetch policy: which URLs a certificate (or an operator) may make us fetch.

Pure logic, no I/O: :class:`FetchPolicy` decides on a URL's scheme and on each *resolved*
address (:meth:`FetchPolicy.check_address`); :mod:`ltv.online.egress` resolves once and
connects only to an address this module accepted, so a name that re-resolves elsewhere later
(DNS rebinding) gains nothing.

Rules, in order (first match wins):

1. ``deny`` rules (``--fetch-deny HOST[:PORT]|CIDR``) refuse;
2. ``allow`` rules (``--fetch-allow HOST[:PORT]|CIDR``) accept;
3. with ``public_only`` (the default of ``ltv serve``) every address that is not globally
   routable is refused: loopback, RFC 1918 / RFC 4193 private, link-local (169.254/16 with the
   cloud metadata address, fe80::/10), multicast, reserved, unspecified, shared (100.64/10)
   and documentation ranges; IPv4-mapped IPv6 addresses are judged as the IPv4 address;
4. otherwise accept (the CLI's default: the user's own machine and network).

Certificate-named URLs (OCSP, CRL distribution points, caIssuers) always go through the policy;
the TSA URL an operator configures (``--tsa URL``, ``--pki DIR``) is operator-trusted and only
gets the scheme, size, redirect and time limits.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ltv.errors import ConfigurationError

__all__ = [
    "ALLOWED_SCHEMES",
    "DEFAULT_CERTIFICATE_MAX_BYTES",
    "DEFAULT_CRL_MAX_BYTES",
    "DEFAULT_FETCH_TIMEOUT",
    "DEFAULT_OCSP_MAX_BYTES",
    "DEFAULT_TSA_MAX_BYTES",
    "FetchPolicy",
    "FetchRule",
    "Target",
    "Verdict",
    "parse_rule",
    "split_url",
]

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_OCSP_MAX_BYTES = 64 << 10
DEFAULT_CERTIFICATE_MAX_BYTES = 64 << 10
DEFAULT_CRL_MAX_BYTES = 64 << 20
DEFAULT_TSA_MAX_BYTES = 1 << 20
DEFAULT_FETCH_TIMEOUT = 10.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Verdict(enum.Enum):
    """Why an address was accepted or refused (for logs; reports only say "refused")."""

    ALLOWED_BY_RULE = "allowed by --fetch-allow"
    DENIED_BY_RULE = "denied by --fetch-deny"
    NOT_PUBLIC = "not a public address"
    ALLOWED = "allowed"

    @property
    def allowed(self) -> bool:
        return self in (Verdict.ALLOWED_BY_RULE, Verdict.ALLOWED)


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchRule:
    """One ``HOST[:PORT]`` or ``CIDR`` rule. ``host`` is a lower-case name or IP literal."""

    text: str
    host: str | None = None
    port: int | None = None
    network: IPNetwork | None = None

    def matches(self, *, host: str, port: int, address: IPAddress) -> bool:
        if self.network is not None:
            return _unmapped(address) in self.network
        if self.port is not None and self.port != port:
            return False
        assert self.host is not None
        if self.host == host.lower().rstrip("."):
            return True
        try:
            return _unmapped(ipaddress.ip_address(self.host)) == _unmapped(address)
        except ValueError:
            return False


def parse_rule(text: str) -> FetchRule:
    """``HOST``, ``HOST:PORT``, ``[V6]:PORT`` or ``CIDR`` (e.g. ``127.0.0.1:8380``,
    ``ocsp.example.com``, ``10.0.0.0/8``). Raises :class:`ConfigurationError` otherwise."""
    raw = text.strip()
    if not raw:
        raise ConfigurationError("empty fetch rule")
    if "/" in raw:
        try:
            return FetchRule(text=raw, network=ipaddress.ip_network(raw, strict=False))
        except ValueError as exc:
            raise ConfigurationError(f"not a CIDR range: {text!r}") from exc
    host, port = raw, None
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise ConfigurationError(f"not HOST[:PORT]: {text!r}")
        host, rest = raw[1:end], raw[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise ConfigurationError(f"not HOST[:PORT]: {text!r}")
            port = _port(rest[1:], text)
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
        port = _port(port_text, text)
    if not host or any(ch in host for ch in " /@?#"):
        raise ConfigurationError(f"not HOST[:PORT]: {text!r}")
    return FetchRule(text=raw, host=host.lower().rstrip("."), port=port)


def _port(text: str, rule: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise ConfigurationError(f"bad port in fetch rule {rule!r}")
    return port


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local, multicast, reserved…"""
    addr = _unmapped(address)
    return addr.is_global and not addr.is_multicast and not addr.is_reserved


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """A URL split for fetching: scheme, host (as written), port (default by scheme)."""

    url: str
    scheme: str
    host: str
    port: int


def split_url(url: str) -> Target:
    """Scheme, host and port of ``url``; :class:`ValueError` for anything but http(s) URLs
    with a host (no user info)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise ValueError("only http and https URLs are fetched")
    if not parts.hostname or "@" in parts.netloc:
        raise ValueError("the URL has no usable host")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("the URL has a bad port") from exc
    return Target(url=url, scheme=scheme, host=parts.hostname,
                  port=port if port is not None else (443 if scheme == "https" else 80))


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchPolicy:
    """Where fetches may go, and how much they may cost.

    ``public_only`` refuses non-public addresses unless an ``allow`` rule names them
    (``ltv serve``'s default); without it everything not denied is allowed (the CLI's).
    ``timeout`` bounds one fetch from connect to last byte (a total deadline, not a per-read
    one); the byte caps bound each answer.
    """

    public_only: bool = False
    allow: tuple[FetchRule, ...] = ()
    deny: tuple[FetchRule, ...] = ()
    timeout: float = DEFAULT_FETCH_TIMEOUT
    ocsp_max_bytes: int = DEFAULT_OCSP_MAX_BYTES
    certificate_max_bytes: int = DEFAULT_CERTIFICATE_MAX_BYTES
    crl_max_bytes: int = DEFAULT_CRL_MAX_BYTES
    tsa_max_bytes: int = DEFAULT_TSA_MAX_BYTES

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ConfigurationError("the fetch timeout must be positive")
        for cap in (self.ocsp_max_bytes, self.certificate_max_bytes, self.crl_max_bytes,
                    self.tsa_max_bytes):
            if cap < 1024:
                raise ConfigurationError("fetch size caps must be at least 1024 bytes")

    @classmethod
    def build(cls, *, public_only: bool, allow: Iterable[str] = (), deny: Iterable[str] = (),
              **limits: float) -> FetchPolicy:
        """A policy from command-line texts (``HOST[:PORT]|CIDR``)."""
        return cls(public_only=public_only, allow=tuple(parse_rule(r) for r in allow),
                   deny=tuple(parse_rule(r) for r in deny), **limits)  # type: ignore[arg-type]

    def check_address(self, *, host: str, port: int, address: IPAddress) -> Verdict:
        """The decision for connecting to ``address`` for a URL naming ``host:port``."""
        for rule in self.deny:
            if rule.matches(host=host, port=port, address=address):
                return Verdict.DENIED_BY_RULE
        for rule in self.allow:
            if rule.matches(host=host, port=port, address=address):
                return Verdict.ALLOWED_BY_RULE
        if self.public_only and not is_public(address):
            return Verdict.NOT_PUBLIC
        return Verdict.ALLOWED

    def describe(self) -> str:
        """One line for the server log at startup."""
        parts = ["public addresses only" if self.public_only else "any address"]
        if self.allow:
            parts.append("allow " + ", ".join(r.text for r in self.allow))
        if self.deny:
            parts.append("deny " + ", ".join(r.text for r in self.deny))
        parts.append(f"{self.timeout:g} s per fetch")
        return "; ".join(parts)
