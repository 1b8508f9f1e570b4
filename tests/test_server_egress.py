"""Security review findings 1-4 as tests against real ``ltv serve`` processes.

1. SSRF: an uploaded signature whose certificate names internal URLs makes the server fetch
   nothing (the listener started here sees no request), unless ``--fetch-allow`` names it; even
   then no redirect is followed and the report names hosts only.
2. Slow-drip: 100 hostile uploads whose OCSP/CRL answers drip one byte at a time; ``/healthz``
   and another tenant keep answering, each fetch is cut at the request's fetch budget, the
   worker threads come back; excess requests get 429/503 with Retry-After.
3. Memory: uploads naming distinct 3 MB CRLs keep the server's RSS bounded (LRU byte budget).
4. An endless caIssuers chain ends after a few fetches.

Every server and listener runs on 127.0.0.1 and is stopped by its fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_helpers import assert_problem

from bench.harness import LtvServe, ltv_serving
from bench.hostile import Attacker, Listener, attacker_signature
from ltv.evidence import MAX_CA_ISSUER_FETCHES

DOC = b"doc"


def serving(tmp: Path, *args: str) -> contextlib.AbstractContextManager[LtvServe]:
    """``ltv serve`` in a subprocess on a free port, with its own file store."""
    return ltv_serving(*args, log=tmp / "serve.log", store=(tmp / "store").as_uri())


@pytest.fixture(scope="module")
def attacker() -> Attacker:
    return Attacker()


@pytest.fixture(scope="module")
def listener(attacker: Attacker) -> Iterator[Listener]:
    with Listener(attacker, crl_bytes=3 << 20, drip=0.25) as running:
        yield running


@pytest.fixture(scope="module")
def open_server(tmp_path_factory, pki, listener: Listener) -> Iterator[LtvServe]:
    """A server that may fetch from the listener (--fetch-allow), with a 2 s fetch budget."""
    with serving(tmp_path_factory.mktemp("open"), "--trust", str(pki.directory / "root.pem"),
                 "--public-validation", "--fetch-allow", f"127.0.0.1:{listener.port}",
                 "--fetch-budget", "2", "--cache-size", "16M", "--max-concurrent", "24",
                 "--tenant-concurrency", "16", "--tenant-rate", "100000",
                 "--anonymous-rate", "100000") as server:
        yield server


def _files(signature: bytes) -> dict[str, tuple[str, bytes]]:
    return {"file": ("doc.p7s", signature), "detached": ("doc", DOC)}


def _ssrf_signature(attacker: Attacker, base: str, *, include_ca: bool) -> bytes:
    """Without its CA in the file the server would look for it (caIssuers); with it, it would
    ask for revocation data (OCSP, then each CRL distribution point)."""
    return attacker_signature(
        attacker, ocsp=[f"{base}/ocsp-internal"],
        crls=[f"{base}/admin/delete-all?confirm=yes", f"{base}/redirect-to-metadata",
              "http://127.0.0.1:1/closed-port", f"{base}/crl/1"],
        ca_issuers=[f"{base}/ca-issuers"], include_ca=include_ca)


# --- finding 1: SSRF ------------------------------------------------------------------------

def test_ssrf_the_server_fetches_nothing_a_certificate_names(
        tmp_path, pki, attacker: Attacker) -> None:
    with Listener(attacker) as internal, \
            serving(tmp_path, "--trust", str(pki.directory / "root.pem"),
                    "--public-validation") as server:
        signature = _ssrf_signature(attacker, internal.base, include_ca=True)
        answer = httpx.post(f"{server.base}/v1/validations", files=_files(signature),
                            timeout=60)  # anonymous: the web page's mode
        assert answer.status_code == 200, answer.text
        assert answer.json()["indication"] == "INDETERMINATE"
        orphan = httpx.post(f"{server.base}/v1/validations",
                            files=_files(_ssrf_signature(attacker, internal.base,
                                                         include_ca=False)), timeout=60)
        assert orphan.status_code == 200, orphan.text
        acme = server.key("acme")
        archived = httpx.post(f"{server.base}/v1/archive", headers=acme,
                              files=_files(signature), timeout=60)
        assert_problem(archived, 503)  # no TSA here; the fetches would have come first
        extended = httpx.post(f"{server.base}/v1/extensions", headers=acme,
                              files=_files(signature), data={"level": "B-LT"}, timeout=60)
        assert extended.status_code >= 400
        assert internal.hits == []  # the "internal service" never saw a request
        text = answer.text + orphan.text + archived.text + extended.text
        assert "refused by the fetch policy" in answer.text
        for secret in ("delete-all", "ocsp-internal", "redirect-to-metadata", "closed-port",
                       "Errno", "ca-issuers", str(internal.port)):
            assert secret not in text, secret


def test_ssrf_fetch_allow_opens_the_door_but_no_redirect(
        open_server: LtvServe, listener: Listener, attacker: Attacker) -> None:
    signature = _ssrf_signature(attacker, listener.base, include_ca=True)
    before = len(listener.hits)
    answer = httpx.post(f"{open_server.base}/v1/validations", files=_files(signature),
                        timeout=60)
    assert answer.status_code == 200, answer.text
    paths = listener.paths()[before:]
    assert "/ocsp-internal" in paths
    assert "/redirect-to-metadata" in paths
    assert "/latest/meta-data/iam" not in listener.paths()
    assert "redirects are not followed" in answer.text
    assert "delete-all" not in answer.text  # hosts only, even when fetched


# --- finding 2: slow drip -------------------------------------------------------------------

def _flood(base: str, headers: dict[str, str], signature: bytes, n: int,
           results: list[tuple[int, float]]) -> None:
    async def run() -> None:
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                     timeout=90) as http:
            async def one() -> None:
                start = time.monotonic()
                try:
                    response = await http.post("/v1/validations", files=_files(signature))
                except httpx.HTTPError:  # counted as status 0: the test wants none
                    results.append((0, time.monotonic() - start))
                else:
                    results.append((response.status_code, time.monotonic() - start))

            await asyncio.gather(*(one() for _ in range(n)))

    asyncio.run(run())


def test_slow_drip_uploads_do_not_freeze_the_api(
        open_server: LtvServe, listener: Listener, attacker: Attacker) -> None:
    acme, beta = open_server.key("flooder"), open_server.key("bystander")
    slow = attacker_signature(attacker, ocsp=[f"{listener.base}/slow-ocsp"],
                              crls=[f"{listener.base}/slow-crl"])
    quiet = attacker_signature(attacker)  # names nothing: validates offline
    threads_before = open_server.status("Threads")
    first_slow = len(listener.hits)
    results: list[tuple[int, float]] = []
    flood = threading.Thread(target=_flood, args=(open_server.base, acme, slow, 100, results))
    flood.start()
    try:
        time.sleep(0.7)
        start = time.monotonic()
        assert httpx.get(f"{open_server.base}/healthz", timeout=5).status_code == 200
        assert time.monotonic() - start < 1.0
        listed = httpx.get(f"{open_server.base}/v1/archive", headers=beta, timeout=10)
        assert listed.status_code == 200, listed.text
        start = time.monotonic()
        checked = httpx.post(f"{open_server.base}/v1/validations", headers=beta,
                             files=_files(quiet), timeout=10)
        assert checked.status_code == 200, checked.text
        assert time.monotonic() - start < 5.0
        peak = open_server.status("Threads")
        while flood.is_alive():
            peak = max(peak, open_server.status("Threads"))
            flood.join(timeout=0.1)
    finally:
        flood.join(timeout=120)
    assert not flood.is_alive()
    # a bounded pool: 16 in flight for the flooder (+ the bystander), never anyio's 40
    assert peak <= threads_before + 16 + 6, (threads_before, peak)
    statuses = sorted({s for s, _ in results})
    assert len(results) == 100
    assert set(statuses) <= {200, 429}, statuses
    worked = [t for s, t in results if s == 200]
    assert len(worked) >= 16
    assert max(worked) < 2 + 3.0  # the 2 s fetch budget, not the peer, decides
    refused = [t for s, t in results if s == 429]
    assert refused
    # every slow fetch was cut near the budget (closing noticed within two drips)
    slow_hits = [h for h in listener.hits[first_slow:] if h.path.startswith("/slow")]
    assert slow_hits
    for _ in range(40):
        if all(h.closed is not None for h in listener.hits[first_slow:]
               if h.path.startswith("/slow")):
            break
        time.sleep(0.1)
    for hit in listener.hits[first_slow:]:
        if hit.path.startswith("/slow"):
            assert hit.closed is not None
            assert hit.closed - hit.opened < 2 + 1.5, hit


def test_busy_server_answers_503_and_limits_answer_429(
        tmp_path, pki, listener: Listener, attacker: Attacker) -> None:
    with serving(tmp_path, "--trust", str(pki.directory / "root.pem"), "--fetch-allow",
                 f"127.0.0.1:{listener.port}", "--fetch-budget", "2", "--max-concurrent", "2",
                 "--queue-seconds", "0", "--tenant-concurrency", "2",
                 "--tenant-rate", "10") as server:
        acme, beta = server.key("acme"), server.key("beta")
        slow = attacker_signature(attacker, ocsp=[f"{listener.base}/slow-ocsp"])
        results: list[tuple[int, float]] = []
        flood = threading.Thread(target=_flood, args=(server.base, acme, slow, 2, results))
        flood.start()
        time.sleep(0.8)  # acme's two now hold both slots of the pool, for about 2 s
        try:
            third = httpx.post(f"{server.base}/v1/validations", headers=acme,
                               files=_files(slow), timeout=10)
            body = assert_problem(third, 429, "too-many-requests")
            assert "in flight" in body["detail"]
            assert third.headers["retry-after"] == "1"
            busy = httpx.get(f"{server.base}/v1/archive", headers=beta, timeout=10)
            assert_problem(busy, 503, "unavailable")
            assert int(busy.headers["retry-after"]) >= 1
            assert httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200
        finally:
            flood.join(timeout=60)
        assert sorted(s for s, _ in results) == [200, 200]
        # beta has spent 1 of its 10 requests per minute: 9 more, then 429
        statuses = [httpx.get(f"{server.base}/v1/archive", headers=beta,
                              timeout=10).status_code for _ in range(9)]
        assert statuses == [200] * 9
        limited = httpx.get(f"{server.base}/v1/archive", headers=beta, timeout=10)
        body = assert_problem(limited, 429, "too-many-requests")
        assert "per minute" in body["detail"]
        assert int(limited.headers["retry-after"]) >= 1
        # another key is not affected
        assert httpx.get(f"{server.base}/v1/archive", headers=acme,
                         timeout=10).status_code == 200


# --- finding 3: memory ----------------------------------------------------------------------

def test_distinct_crl_urls_do_not_pin_memory(open_server: LtvServe, listener: Listener,
                                             attacker: Attacker) -> None:
    key = open_server.key("hoarder")

    def upload(i: int) -> None:
        signature = attacker_signature(attacker, crls=[f"{listener.base}/crl/mem-{i}"])
        answer = httpx.post(f"{open_server.base}/v1/validations", headers=key,
                            files=_files(signature), timeout=60)
        assert answer.status_code == 200, answer.text

    for i in range(4):  # warm up: the cache fills to its budget (16 MiB)
        upload(i)
    before = open_server.status("VmRSS")
    for i in range(4, 24):  # 20 more 3 MB CRLs: 60 MB of DER if kept
        upload(i)
    grown_kib = open_server.status("VmRSS") - before
    assert grown_kib < 30 * 1024, grown_kib
    assert sum(1 for p in listener.paths() if p.startswith("/crl/mem-")) == 24


# --- finding 4: endless caIssuers chain -----------------------------------------------------

def test_endless_caissuers_chain_ends_quickly(open_server: LtvServe, listener: Listener,
                                              attacker: Attacker) -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    key = open_server.key("chainer")
    chain_ca_1 = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Chain CA 1")])
    signature = attacker_signature(attacker, ca_issuers=[f"{listener.base}/chain/1"],
                                   include_ca=False, issuer=chain_ca_1,
                                   issuer_key=listener.chain.key(1), nocheck=True)
    before = len(listener.hits)
    start = time.monotonic()
    answer = httpx.post(f"{open_server.base}/v1/archive", headers=key,
                        files=_files(signature), timeout=60)
    took = time.monotonic() - start
    assert_problem(answer, 503)  # no TSA on this server: answered after the (bounded) walk
    chain = [p for p in listener.paths()[before:] if p.startswith("/chain/")]
    # evidence collection stops after MAX_CA_ISSUER_FETCHES, validation's own walk after 8
    assert 0 < len(chain) <= MAX_CA_ISSUER_FETCHES + 8, chain
    assert f"/chain/{MAX_CA_ISSUER_FETCHES + 10}" not in chain
    assert took < 15, took
