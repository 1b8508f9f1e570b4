"""The outbound fetch policy (ltv.online.policy / egress / budget), the bounded revocation caches
and the bounded AIA walk, in process, against real listeners on 127.0.0.1 started here.

The listener (bench/hostile.py) logs every request: "refused" means it saw nothing at all.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from conftest import ltv_cli
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from bench.hostile import Attacker, Listener, attacker_signature
from ltv._lru import ByteBudgetLru as _Lru
from ltv.clock import SystemClock
from ltv.errors import ConfigurationError, RevocationError, TimestampError
from ltv.evidence import MAX_CA_ISSUER_FETCHES, collect
from ltv.online.budget import fetch_budget
from ltv.online.egress import Egress
from ltv.online.policy import FetchPolicy, Verdict, is_public, parse_rule
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.online.timestamps import HttpTimestampClient
from ltv.revocation import CachingCRLFetcher
from ltv.signing import SigningServices


@pytest.fixture(scope="module")
def attacker() -> Attacker:
    return Attacker()


@pytest.fixture
def listener(attacker: Attacker) -> Iterator[Listener]:
    with Listener(attacker, crl_bytes=200_000, drip=0.2) as running:
        yield running


def _server_policy(*allow: str, **limits: float) -> Egress:
    return Egress(FetchPolicy.build(public_only=True, allow=allow, **limits))


# --- the policy itself (pure) ----------------------------------------------------------------

@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "fe80::1", "fc00::1",
    "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "192.0.2.1", "::",
])
def test_non_public_addresses_are_refused_by_the_server_policy(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert not is_public(ip)
    verdict = FetchPolicy(public_only=True).check_address(host="h", port=80, address=ip)
    assert verdict is Verdict.NOT_PUBLIC
    assert FetchPolicy().check_address(host="h", port=80, address=ip) is Verdict.ALLOWED


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "1.1.1.1"])
def test_public_addresses_pass(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert FetchPolicy(public_only=True).check_address(host="h", port=80, address=ip).allowed


def test_allow_and_deny_rules() -> None:
    policy = FetchPolicy.build(public_only=True,
                               allow=["127.0.0.1:8380", "10.0.0.0/8", "ocsp.internal"],
                               deny=["10.9.0.0/16", "8.8.8.8"])
    loop = ipaddress.ip_address("127.0.0.1")
    assert policy.check_address(host="127.0.0.1", port=8380, address=loop).allowed
    assert policy.check_address(host="127.0.0.1", port=8381, address=loop) \
        is Verdict.NOT_PUBLIC
    assert policy.check_address(host="x", port=1, address=ipaddress.ip_address("10.1.1.1")) \
        is Verdict.ALLOWED_BY_RULE
    assert policy.check_address(host="x", port=1, address=ipaddress.ip_address("10.9.1.1")) \
        is Verdict.DENIED_BY_RULE  # deny wins
    assert policy.check_address(host="OCSP.internal.", port=80,
                                address=ipaddress.ip_address("192.168.3.3")).allowed
    assert policy.check_address(host="dns.google", port=53,
                                address=ipaddress.ip_address("8.8.8.8")) \
        is Verdict.DENIED_BY_RULE


@pytest.mark.parametrize("text", ["", "host:0", "host:99999", "a:b", "10.0.0.0/33", "[::1",
                                  "http://x/", "user@host"])
def test_bad_rules_are_refused(text: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_rule(text)


def test_rule_forms() -> None:
    assert parse_rule("[::1]:8443").port == 8443
    assert parse_rule("::1").host == "::1"
    assert parse_rule("127.0.0.1:8380").port == 8380
    assert parse_rule("fd00::/8").network is not None


# --- the egress against real sockets ---------------------------------------------------------

def test_server_policy_connects_to_nothing_private(listener: Listener,
                                                   attacker: Attacker) -> None:
    egress = _server_policy()
    for url in (f"{listener.base}/crl/1", f"http://localhost:{listener.port}/crl/1",
                f"http://[::ffff:127.0.0.1]:{listener.port}/crl/1"):
        with pytest.raises(RevocationError) as caught:
            HttpCRLFetcher(egress=egress).fetch_crl(url, issuer=attacker.ca)
        assert str(caught.value).endswith(": refused by the fetch policy"), caught.value
        assert "/crl/" not in str(caught.value)
        assert str(listener.port) not in str(caught.value)
    assert listener.hits == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x",
                                 "gopher://127.0.0.1:70/", "http://user@127.0.0.1/"])
def test_only_http_and_https(url: str, attacker: Attacker) -> None:
    with pytest.raises(RevocationError, match=r"only http and https|no usable host"):
        HttpCRLFetcher(egress=Egress()).fetch_crl(url, issuer=attacker.ca)


def test_allow_rule_opens_exactly_that_port(listener: Listener, attacker: Attacker) -> None:
    egress = _server_policy(f"127.0.0.1:{listener.port}")
    crl = HttpCRLFetcher(egress=egress).fetch_crl(f"{listener.base}/crl/1", issuer=attacker.ca)
    assert crl.issuer == attacker.ca.subject
    with pytest.raises(RevocationError, match="refused by the fetch policy"):
        HttpCRLFetcher(egress=_server_policy(f"127.0.0.1:{listener.port + 1}")).fetch_crl(
            f"{listener.base}/crl/2", issuer=attacker.ca)
    assert listener.paths() == ["/crl/1"]


def test_redirects_are_not_followed(listener: Listener, attacker: Attacker) -> None:
    with pytest.raises(RevocationError, match=r"HTTP 302 \(redirects are not followed\)$"):
        HttpCRLFetcher(egress=Egress()).fetch_crl(f"{listener.base}/redirect-to-metadata",
                                                  issuer=attacker.ca)
    assert listener.paths() == ["/redirect-to-metadata"]


def test_size_caps(listener: Listener, attacker: Attacker, phone_rsa, pki) -> None:
    with pytest.raises(RevocationError, match=r"answer larger than 100000 bytes$"):
        HttpCRLFetcher(egress=Egress(), max_bytes=100_000).fetch_crl(
            f"{listener.base}/crl/1", issuer=attacker.ca)
    small = Egress(FetchPolicy(crl_max_bytes=150_000))
    with pytest.raises(RevocationError, match=r"answer larger than 150000 bytes$"):
        HttpCRLFetcher(egress=small).fetch_crl(f"{listener.base}/crl/1", issuer=attacker.ca)
    # the defaults: OCSP and certificates 64 KiB, CRLs 64 MiB
    assert HttpOCSPFetcher()._max_bytes == 64 << 10
    assert HttpCertificateFetcher()._max_bytes == 64 << 10
    assert HttpCRLFetcher()._max_bytes == 64 << 20
    with pytest.raises(RevocationError, match=r"answer larger than 65536 bytes$"):
        HttpCertificateFetcher(egress=Egress()).fetch_certificates(f"{listener.base}/crl/1")


def test_slow_drip_is_cut_by_a_total_deadline(listener: Listener, attacker: Attacker) -> None:
    start = time.monotonic()
    with pytest.raises(RevocationError, match=r"at 127\.0\.0\.1: timed out$"):
        HttpCRLFetcher(1.0, egress=Egress()).fetch_crl(f"{listener.base}/slow-crl",
                                                       issuer=attacker.ca)
    took = time.monotonic() - start
    assert 0.9 < took < 1.6, took  # one byte every 0.2 s would keep a per-read timeout alive


def test_request_budget_bounds_time_and_count(listener: Listener, attacker: Attacker) -> None:
    fetcher = HttpCRLFetcher(10.0, egress=Egress())
    start = time.monotonic()
    with fetch_budget(seconds=1.0, max_fetches=3):
        with pytest.raises(RevocationError, match=r"timed out$"):
            fetcher.fetch_crl(f"{listener.base}/slow-1", issuer=attacker.ca)
        assert time.monotonic() - start < 1.6
        with pytest.raises(RevocationError, match="not fetched"):
            fetcher.fetch_crl(f"{listener.base}/crl/after", issuer=attacker.ca)
    with fetch_budget(seconds=10.0, max_fetches=2):
        for i in range(2):
            fetcher.fetch_crl(f"{listener.base}/crl/{i}", issuer=attacker.ca)
        with pytest.raises(RevocationError, match="more than 2 fetches in one request"):
            fetcher.fetch_crl(f"{listener.base}/crl/3", issuer=attacker.ca)
    with fetch_budget(seconds=10.0, max_fetches=5) as budget:
        budget.cancel()  # what the server does when the request times out
        with pytest.raises(RevocationError, match="the request is over"):
            fetcher.fetch_crl(f"{listener.base}/crl/4", issuer=attacker.ca)
    assert "/crl/after" not in listener.paths()
    assert "/crl/3" not in listener.paths()
    assert "/crl/4" not in listener.paths()


def test_operator_tsa_is_trusted_but_limited(listener: Listener) -> None:
    from ltv.algorithms import DigestAlgorithm

    egress = _server_policy()  # the TSA on loopback is not on any allow list ...
    client = HttpTimestampClient(f"{listener.base}/redirect-tsa", egress=egress)
    with pytest.raises(TimestampError, match="redirects are not followed"):
        client.timestamp(b"\0" * 32, DigestAlgorithm.SHA256)
    assert listener.paths() == ["/redirect-tsa"]  # ... yet reached: operator-trusted
    slow = HttpTimestampClient(f"{listener.base}/slow-tsa", egress=egress, timeout=1.0)
    start = time.monotonic()
    with pytest.raises(TimestampError, match=f"at {listener.base}/slow-tsa: timed out"):
        slow.timestamp(b"\0" * 32, DigestAlgorithm.SHA256)
    assert time.monotonic() - start < 1.6


# --- bounded caches ---------------------------------------------------------------------------

def test_lru_evicts_by_bytes_and_count() -> None:
    lru: _Lru[str, int] = _Lru(max_bytes=1000, max_entries=3)
    for key, cost in (("a", 300), ("b", 300), ("c", 300)):
        lru.put(key, 1, cost=cost)
    assert lru.get("a") == 1  # a is now the most recent
    lru.put("d", 300, cost=300)
    assert lru.get("b") is None
    assert lru.get("a") == 1
    assert len(lru) == 3
    assert lru.size_bytes == 900
    lru.put("huge", 1, cost=501)  # more than half the budget: never kept
    assert lru.get("huge") is None
    assert lru.size_bytes == 900
    lru.put("e", 1, cost=10)
    assert len(lru) == 3


def test_crl_cache_stays_under_budget_with_uploader_chosen_urls(
        listener: Listener, attacker: Attacker) -> None:
    inner = HttpCRLFetcher(egress=Egress())
    cache = CachingCRLFetcher(inner, clock=SystemClock(), max_bytes=1 << 20)
    for i in range(30):  # 30 distinct URLs of 200 kB CRLs: 6 MB if kept
        cache.fetch_crl(f"{listener.base}/crl/{i}", issuer=attacker.ca)
        assert cache.cache.size_bytes <= 1 << 20
    assert 0 < len(cache.cache) <= 2
    before = len(listener.hits)
    cache.fetch_crl(f"{listener.base}/crl/29", issuer=attacker.ca)  # still fresh: a hit
    assert len(listener.hits) == before
    # keyed by issuer too: another issuer's CRL at the same URL is not served from the cache
    other = Attacker()
    with pytest.raises(RevocationError):
        cache.fetch_crl(f"{listener.base}/crl/29", issuer=other.ca)
    assert len(listener.hits) == before + 1


# --- the AIA walk of evidence collection (finding 4) ------------------------------------------

def chain_leaf(listener: Listener) -> x509.Certificate:
    """A leaf issued by "Chain CA 1" (ocsp-nocheck), caIssuers -> the endless /chain/1."""
    now = SystemClock().now()
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chain leaf")]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Chain CA 1")]))
            .public_key(listener.chain.key(0).public_key()).serial_number(7)
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.OCSPNoCheck(), False)
            .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(f"{listener.base}/chain/1"))]), False)
            .sign(listener.chain.key(1), hashes.SHA256()))


def test_evidence_collection_stops_an_endless_caissuers_chain(listener: Listener) -> None:
    services = SigningServices(certificate_fetcher=HttpCertificateFetcher(egress=Egress()))
    start = time.monotonic()
    with pytest.raises(RevocationError, match=f"more than {MAX_CA_ISSUER_FETCHES} issuer "
                                              "certificates to fetch"):
        collect([chain_leaf(listener)], services=services)
    assert time.monotonic() - start < 10
    assert listener.paths() == [f"/chain/{k}" for k in range(1, MAX_CA_ISSUER_FETCHES + 1)]


# --- the CLI's flags ----------------------------------------------------------------------------

def test_cli_allows_everything_by_default_and_takes_the_same_flags(
        listener: Listener, attacker: Attacker, tmp_path, pki) -> None:
    signed = tmp_path / "doc.p7s"
    signed.write_bytes(attacker_signature(attacker, crls=[f"{listener.base}/crl/cli"]))
    (tmp_path / "doc").write_bytes(b"doc")
    common = [signed, "--detached", tmp_path / "doc", "--trust", pki.directory / "root.pem"]
    done = ltv_cli("validate", *common, "--fetch-public-only")
    assert done.returncode == 3, done.stderr
    assert listener.hits == []
    done = ltv_cli("validate", *common, "--fetch-deny", "127.0.0.0/8")
    assert done.returncode == 3
    assert listener.hits == []
    done = ltv_cli("validate", *common, "--fetch-public-only", "--fetch-allow",
                   f"127.0.0.1:{listener.port}")
    assert done.returncode == 3
    assert listener.paths() == ["/crl/cli"]
    done = ltv_cli("validate", *common)  # the user's own machine: loopback is fine
    assert done.returncode == 3
    assert listener.paths() == ["/crl/cli", "/crl/cli"]
    bad = ltv_cli("validate", *common, "--fetch-allow", "host:99999")
    assert bad.returncode in (2, 4)
    assert "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "host:99999" in bad.stderr


def test_parsed_certificate_and_crl_cache_has_a_byte_budget() -> None:
    from ltv.validation.certpath import PARSED, _ParseCache

    cache = _ParseCache(limit=1000, max_bytes=8 << 20)
    for i in range(40):  # 40 uploaded "CRLs" of 100 kB: 96 MB of parsed form if kept
        cache.get("crl", bytes([i]) * 100_000, len)
        assert cache._items.size_bytes <= 8 << 20
    assert 0 < len(cache._items) <= 3
    cache.set_budget(4 << 20)
    cache.get("cert", b"ca", len)
    assert cache._items.size_bytes <= 4 << 20
    assert PARSED._items.max_bytes >= 1 << 20


def test_server_settings_carry_the_fetch_policy_and_limits_to_workers() -> None:
    from ltv.server.app import fetch_policy
    from ltv.server.settings import ServerSettings

    settings = ServerSettings(fetch_allow=("127.0.0.1:8380",), fetch_deny=("10.0.0.0/8",),
                              fetch_budget=5.5, max_concurrent=3, queue_seconds=0.0,
                              tenant_rate=7, cache_size=1 << 20, max_crl_size=2 << 20)
    again = ServerSettings.from_environment(settings.to_environment())
    for name in ("fetch_allow", "fetch_deny", "fetch_budget", "max_concurrent",
                 "queue_seconds", "tenant_rate", "cache_size", "max_crl_size", "fetch_timeout",
                 "max_fetches", "tenant_concurrency", "anonymous_concurrency",
                 "anonymous_rate"):
        assert getattr(again, name) == getattr(settings, name), name
    policy = fetch_policy(again)
    assert policy.public_only
    assert policy.crl_max_bytes == 2 << 20
    assert policy.describe() == ("public addresses only; allow 127.0.0.1:8380; "
                                 "deny 10.0.0.0/8; 10 s per fetch")
    with pytest.raises(ConfigurationError):
        ServerSettings(tenant_rate=0)


def test_serve_refuses_a_bad_fetch_rule_in_one_line(tmp_path) -> None:
    from conftest import free_port

    done = ltv_cli("serve", "--port", str(free_port()), "--store", tmp_path / "store",
                   "--fetch-allow", "10.0.0.0/33", timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "ltv: error: not a CIDR range: '10.0.0.0/33'"], done.stderr
