"""The smaller doors of ``ltv serve`` (security review findings 12, 13, 14, 16, 18 and 20),
each reproducer run against a real server on 127.0.0.1: ``ltv serve`` as a subprocess, or
uvicorn in a thread where the test must hold the clock.

* 12: ``/tsa`` needs a key (or ``--public-tsa``), has a rate limit (429), signs off the loop.
* 13: the same TSA key under ``ltv pki serve`` and ``ltv serve`` never repeats a serial.
* 14: expired signing sessions are purged on a timer; session files are 0600 in a 0700 tree.
* 16: ``/metrics`` needs a key, ``/docs`` loads nothing from elsewhere, HTML answers carry CSP,
  nosniff and frame-ancestors, and 5xx details name no URL, path or OS error.
* 18: a finish that outlived its marker, taken over by a second finish, answers 409.
* 20: ``ltv serve`` loads an encrypted TSA key from ``--tsa-key-password-file``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asn1crypto import tsp
from conftest import LTV, SERVER_AT, free_port
from server_helpers import MutableClock, assert_problem, b64, served, session_body

from archive.store import open_store
from bench.harness import ltv_serving
from ltv.algorithms import DigestAlgorithm
from ltv.cli._services import build_services
from ltv.clock import format_time
from ltv.online.timestamps import HttpTimestampClient
from ltv.server.app import create_app
from ltv.server.hardening import RateLimiter
from ltv.server.sessions import SessionStore
from ltv.server.settings import ServerSettings
from ltv.server.tenants import add_tenant
from ltv.signing import SigningServices
from ltv.tbs import DataToBeSigned
from ltv.timestamps import build_request
from tsa.serials import RANDOM_BITS

SIGN_AT = SERVER_AT + timedelta(hours=1)
QUERY = {"Content-Type": "application/timestamp-query"}
_PATHY = re.compile(r"(/tmp/|/work/|file://|Errno|127\.0\.0\.1|localhost|\.pem|\.ltv)")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("LTV_PKI", "LTV_TSA_URL")}


@contextlib.contextmanager
def ltv_serve(tmp_path: Path, *args: str, store: Path | None = None,
              name: str = "serve") -> Iterator[str]:
    """``ltv serve`` as a subprocess on a free port; yields its base URL."""
    with ltv_serving("--store", str(store or tmp_path / "store"), *args,
                     log=tmp_path / f"{name}.log", env=_env()) as server:
        yield server.base


def tsa_args(pki: Any, state: Path) -> list[str]:
    return ["--tsa-key", str(pki.directory / "private" / "tsa-1.pem"),
            "--tsa-cert", str(pki.directory / "tsa-history" / "tsa-1.pem"),
            "--tsa-chain", str(pki.directory / "root.pem"), "--tsa-state-dir", str(state)]


def tsq(text: str) -> bytes:
    return build_request(hashlib.sha256(text.encode()).digest(), DigestAlgorithm.SHA256,
                         cert_req=True)


def token_of(reply: httpx.Response) -> tuple[int, str]:
    """(serial, TSA certificate subject) of a granted reply."""
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/timestamp-reply"
    response = tsp.TimeStampResp.load(reply.content)
    assert response["status"]["status"].native == "granted", response["status"].native
    signed = response["time_stamp_token"]["content"]
    info = signed["encap_content_info"]["content"].parsed
    certificate = signed["certificates"][0].chosen
    return int(info["serial_number"].native), certificate.subject.human_friendly


def problem_body(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    body = assert_problem(response, status, slug)
    assert set(body) >= {"type", "title", "status", "detail", "instance"}
    return body


# --- finding 12: /tsa needs a key, is rate limited, signs off the event loop ----------------


def test_tsa_needs_a_key_and_is_rate_limited(pki: Any, tmp_path: Path) -> None:
    store = tmp_path / "store"
    _, key = add_tenant(open_store(str(store)), "acme")
    _, other = add_tenant(open_store(str(store)), "beta")
    with ltv_serve(tmp_path, *tsa_args(pki, tmp_path / "state"), "--tsa-rate-limit", "3",
                   store=store) as base:
        anonymous = httpx.post(f"{base}/tsa", content=tsq("a"), headers=QUERY)
        body = problem_body(anonymous, 401, "unauthorized")
        assert body == {"type": "urn:ltv:problem:unauthorized", "status": 401,
                        "title": "Missing or unknown API key", "instance": "/tsa",
                        "detail": body["detail"]}
        assert "Bearer" in body["detail"]
        assert anonymous.headers["www-authenticate"] == 'Bearer realm="ltv"'
        wrong = httpx.post(f"{base}/tsa", content=tsq("a"),
                           headers=QUERY | {"Authorization": "Bearer ltv_" + "A" * 43})
        assert problem_body(wrong, 401, "unauthorized")["detail"] == "unknown API key"

        # the TSA's own transport refusals still answer behind the key (and count)
        wrong_type = httpx.post(f"{base}/tsa", content=b"x", headers={
            "Authorization": f"Bearer {key}", "Content-Type": "text/plain"})
        assert wrong_type.status_code == 415
        authorized = QUERY | {"Authorization": f"Bearer {key}"}
        serials = [token_of(httpx.post(f"{base}/tsa", content=tsq(f"d{i}"),
                                       headers=authorized))[0] for i in range(2)]
        assert len(set(serials)) == 2
        limited = httpx.post(f"{base}/tsa", content=tsq("d4"), headers=authorized)
        body = problem_body(limited, 429, "too-many-requests")
        assert body["title"] == "Too Many Requests"
        assert body["detail"] == ("more than 3 time-stamp requests per minute; retry later")
        assert body["instance"] == "/tsa"
        assert 1 <= int(limited.headers["retry-after"]) <= 20
        # another tenant has its own budget
        token_of(httpx.post(f"{base}/tsa", content=tsq("b"),
                            headers=QUERY | {"Authorization": f"Bearer {other}"}))


def test_public_tsa_answers_anonymous_callers(pki: Any, tmp_path: Path) -> None:
    with ltv_serve(tmp_path, *tsa_args(pki, tmp_path / "state"), "--public-tsa") as base:
        serial, subject = token_of(httpx.post(f"{base}/tsa", content=tsq("p"), headers=QUERY))
        assert serial >= 2**RANDOM_BITS
        assert "LTV Sample TSA 1" in subject


def test_rate_limiter_refills_by_its_clock() -> None:
    now = [100.0]
    limiter = RateLimiter(2, monotonic=lambda: now[0], max_callers=2)
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(30.0)  # 2 per minute: one back after 30 s
    assert limiter.take("b") == 0.0  # callers are counted apart
    now[0] += 30.0
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0.0
    for caller in ("c", "d", "e"):  # a bounded table: new callers evict the oldest
        limiter.take(caller)
    assert len(limiter._buckets) == 2
    with pytest.raises(ValueError, match="at least one"):
        RateLimiter(0)


def test_tsa_signs_off_the_event_loop(pki: Any) -> None:
    """While one request's signing is stuck, the same worker answers another connection."""
    from tsa.authority import TimeStampAuthority
    from tsa.serials import MemorySerialSource
    from tsa.server import create_app as create_tsa_app

    entered, release = threading.Event(), threading.Event()

    class StuckAuthority(TimeStampAuthority):
        def respond(self, request_der: bytes) -> bytes:
            entered.set()
            release.wait(30)
            return super().respond(request_der)

    authority = StuckAuthority(pki.tsa_identity(), serials=MemorySerialSource(),
                               clock=MutableClock(SIGN_AT))
    with served(create_tsa_app(authority), free_port()) as base:
        answers: list[httpx.Response] = []
        stuck = threading.Thread(target=lambda: answers.append(
            httpx.post(f"{base}/", content=tsq("x"), headers=QUERY, timeout=60)))
        stuck.start()
        try:
            assert entered.wait(20)
            started = time.monotonic()
            other = httpx.get(f"{base}/", timeout=10)  # answered by the event loop
            assert other.status_code == 405
            assert time.monotonic() - started < 5
        finally:
            release.set()
            stuck.join(30)
        assert token_of(answers[0])[0] == 1


# --- finding 13: serials bound to the key ---------------------------------------------------


def test_same_key_under_pki_serve_and_ltv_serve_never_repeats_a_serial(
        pki: Any, pki_server: Any, tmp_path: Path) -> None:
    state = tmp_path / "api-tsa-state"
    with ltv_serve(tmp_path, *tsa_args(pki, state), "--public-tsa") as base:
        api = [token_of(httpx.post(f"{base}/tsa", content=tsq(f"a{i}"), headers=QUERY))
               for i in range(5)]
    sample = [token_of(httpx.post(pki_server.tsa_url, content=tsq(f"s{i}"), headers=QUERY))
              for i in range(5)]
    # the same key and certificate answered both (tsa-1 is the sample PKI's only TSA)
    assert {subject for _, subject in api} == {subject for _, subject in sample}
    api_serials = {serial for serial, _ in api}
    sample_serials = {serial for serial, _ in sample}
    assert len(api_serials) == len(sample_serials) == 5
    assert not api_serials & sample_serials  # before: both started at 0x01
    assert min(api_serials | sample_serials) >= 2**RANDOM_BITS
    # a fresh state directory counts from 1 again, as the sample PKI's did: the random low
    # bits are what keeps the two apart
    assert sorted(s >> RANDOM_BITS for s in api_serials) == [1, 2, 3, 4, 5]
    fingerprint = pki.tsa_identity().key_fingerprint
    assert (state / "serial.keys").read_text().split() == [fingerprint]
    assert fingerprint in (pki.directory / "tsa-state" / "serial.keys").read_text().split()


def test_a_state_dir_used_with_another_key_never_reissues_a_serial(tmp_path: Path) -> None:
    """Two real ``ltv tsa serve`` runs, two keys, one state directory."""
    from tsa_helpers import KEY_PASSWORD, make_pki, start_tsa

    from tsa.authority import TsaIdentity

    keys = make_pki(tmp_path / "pki", kinds=("p256", "rsa2048"))
    state = tmp_path / "state"
    issued: dict[str, list[int]] = {}
    for kind in ("p256", "rsa2048"):
        server = start_tsa(keys, kind, state_dir=state, log=tmp_path / f"{kind}.log")
        try:
            issued[kind] = [token_of(httpx.post(server.url, content=tsq(f"{kind}{i}"),
                                                headers=QUERY))[0] for i in range(4)]
        finally:
            server.stop()
    first = {s >> RANDOM_BITS for s in issued["p256"]}
    second = {s >> RANDOM_BITS for s in issued["rsa2048"]}
    assert len(first) == len(second) == 4
    assert not first & second  # one counter for every key of the directory: no reuse at all
    assert not set(issued["p256"]) & set(issued["rsa2048"])
    fingerprints = [TsaIdentity.from_files(keys.key_pem(kind), keys.cert_pem(kind),
                                           password=KEY_PASSWORD).key_fingerprint
                    for kind in ("p256", "rsa2048")]
    assert (state / "serial.keys").read_text().split() == fingerprints


# --- finding 14: sessions purged on a timer, private files ----------------------------------


def _tree_modes(root: Path) -> list[tuple[str, int]]:
    found = [(str(root), stat.S_IMODE(root.stat().st_mode))]
    for path in sorted(root.rglob("*")):
        found.append((str(path.relative_to(root)), stat.S_IMODE(path.stat().st_mode)))
    return found


def test_session_files_are_0600_in_a_0700_tree(pki: Any, phone_ec: Any, tmp_path: Path
                                               ) -> None:
    store = tmp_path / "store"
    with ltv_serve(tmp_path, "--pki", str(pki.directory), store=store) as base:
        _, key = add_tenant(open_store(str(store)), "acme")
        created = httpx.post(f"{base}/v1/signing-sessions",
                             headers={"Authorization": f"Bearer {key}"},
                             json=session_body(b"the whole contract", phone_ec, format="cades",
                                               level="B-B"))
        assert created.status_code == 201, created.text
        session = store / "_mutable" / "sessions" / "acme" / created.json()["id"]
        assert (session / "document").read_bytes() == b"the whole contract"
    assert stat.S_IMODE((session / "document").stat().st_mode) == 0o600
    assert stat.S_IMODE((session / "pending.json").stat().st_mode) == 0o600
    modes = _tree_modes(store)
    directories = [(p, m) for p, m in modes if Path(store / p).is_dir()]
    assert directories
    assert all(m == 0o700 for _, m in directories), directories
    # write-once objects (tenant records, audit events) are 0444, safe inside the 0700 tree
    readable = [(p, m) for p, m in modes if m & 0o077 and not Path(store / p).is_dir()
                and m != 0o444]
    assert not readable, readable


def test_expired_sessions_are_purged_on_a_timer(pki: Any, phone_ec: Any, tmp_path: Path
                                                ) -> None:
    """The injected clock moves past expiry; the server's timer (every 0.05 s) does the rest."""
    store = open_store(str(tmp_path / "store"))
    _, key = add_tenant(store, "acme")
    clock = MutableClock(SIGN_AT)
    settings = ServerSettings(session_purge_interval=0.05)
    app = create_app(settings, store=store, services=SigningServices(clock=clock))
    headers = {"Authorization": f"Bearer {key}"}
    base_key = "_mutable/sessions/acme/"

    def wait_until(condition: Any) -> None:
        deadline = time.monotonic() + 20
        while not condition():
            assert time.monotonic() < deadline, "the purge timer did not run"
            time.sleep(0.02)

    with served(app, free_port()) as base:
        created = httpx.post(f"{base}/v1/signing-sessions", headers=headers, json=session_body(
            b"contract", phone_ec, format="cades", level="B-B",
            options={"session_lifetime_seconds": 60})).json()
        sid = created["id"]
        value = b64(phone_ec.sign(DataToBeSigned.from_json(created["data_to_be_signed"])))
        time.sleep(0.3)  # several timer runs: nothing expired, nothing purged
        assert store.exists(f"{base_key}{sid}/document")
        clock.advance(seconds=61)
        wait_until(lambda: not store.exists(f"{base_key}{sid}/document"))
        assert store.exists(f"{base_key}{sid}/pending.json")  # a late finish still gets 410
        late = httpx.post(f"{base}{created['signature_url']}", headers=headers,
                          json={"signature_value": value})
        problem_body(late, 410, "session-expired")
        clock.advance(days=1, seconds=1)
        wait_until(lambda: not list(store.list(f"{base_key}{sid}/")))
        gone = httpx.post(f"{base}{created['signature_url']}", headers=headers,
                          json={"signature_value": value})
        problem_body(gone, 404, "session-not-found")


def test_ltv_serve_purges_expired_sessions_at_startup_and_on_its_timer(
        pki: Any, phone_ec: Any, tmp_path: Path) -> None:
    from ltv.signing import SignatureFormat, SignatureLevel, prepare

    store_dir = tmp_path / "store"
    store = open_store(str(store_dir))
    tenant, _ = add_tenant(store, "acme")
    old = MutableClock(SERVER_AT)  # sessions made (and expired) long before today
    sessions = SessionStore(store, clock=old)
    made = []
    for document in (b"first", b"second"):
        pending = prepare(document, [phone_ec.certificate, *phone_ec.chain],
                          SignatureFormat.CADES, SignatureLevel.B_B, clock=old)
        sessions.create(tenant, pending, document)
        made.append(pending.id)
    assert len([i for i in store.list("_mutable/sessions/") if i.key.endswith("document")]) == 2
    with ltv_serve(tmp_path, "--session-purge-interval", "1", store=store_dir):
        deadline = time.monotonic() + 20
        while list(store.list("_mutable/sessions/")):
            assert time.monotonic() < deadline, [i.key for i in store.list("_mutable/")]
            time.sleep(0.1)


# --- finding 16: /metrics, /docs, headers, 5xx details --------------------------------------


def test_metrics_need_a_key_unless_public(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _, key = add_tenant(open_store(str(store)), "acme")
    with ltv_serve(tmp_path, store=store) as base:
        body = problem_body(httpx.get(f"{base}/metrics"), 401, "unauthorized")
        assert body["instance"] == "/metrics"
        scraped = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {key}"})
        assert scraped.status_code == 200
        assert "ltv_http_requests_total" in scraped.text
        assert 'route="/metrics",status="401"' in scraped.text
    with ltv_serve(tmp_path, "--public-metrics", store=store, name="public") as base:
        assert httpx.get(f"{base}/metrics").status_code == 200


def test_docs_are_served_locally(tmp_path: Path) -> None:
    with ltv_serve(tmp_path) as base:
        page = httpx.get(f"{base}/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources
        assert all(s.startswith("/docs/assets/") for s in sources), sources
        assert "//" not in page.text.replace("<!DOCTYPE", "")  # no scheme-relative host either
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp
        assert "frame-ancestors 'none'" in csp
        assert "cdn" not in csp
        for source in sources:
            asset = httpx.get(f"{base}{source}")
            assert asset.status_code == 200, source
            assert asset.headers["x-content-type-options"] == "nosniff"
        assert "SwaggerUIBundle" in httpx.get(f"{base}/docs/assets/swagger-ui-bundle.js").text
        problem_body(httpx.get(f"{base}/docs/assets/..%2f..%2fsettings.py"), 404, "not-found")
        problem_body(httpx.get(f"{base}/docs/assets/index.html"), 404, "not-found")
        assert httpx.get(f"{base}/redoc").status_code == 404
        spec = httpx.get(f"{base}/openapi.json").json()
        assert "/docs" not in spec["paths"]


def test_html_answers_carry_csp_nosniff_and_frame_ancestors(
        pki: Any, pki_server: Any, phone_ec: Any, tmp_path: Path) -> None:
    from ltv.signing import SignatureFormat, SignatureLevel, sign

    signed = sign(b"abc", phone_ec, [phone_ec.certificate, *phone_ec.chain],
                  SignatureFormat.CADES, SignatureLevel.B_B,
                  services=build_services(pki=pki.directory, clock=MutableClock(SIGN_AT)))
    with ltv_serve(tmp_path, "--pki", str(pki.directory), "--public-validation") as base:
        report = httpx.post(f"{base}/v1/validations", headers={"Accept": "text/html"},
                            files={"file": ("s.p7m", signed)},
                            data={"at": format_time(SIGN_AT)})
        assert report.status_code == 200, report.text
        assert report.headers["content-type"].startswith("text/html")
        assert report.headers["x-content-type-options"] == "nosniff"
        csp = report.headers["content-security-policy"]
        assert csp.startswith("default-src 'none';")
        assert "frame-ancestors 'none'" in csp
        assert "script-src" not in csp  # the report runs nothing
        page = httpx.get(f"{base}/")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        json_answer = httpx.get(f"{base}/healthz")
        assert json_answer.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" not in json_answer.headers


def test_502_names_no_internal_url_or_os_error(phone_ec: Any, tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there: connection refused
    store = tmp_path / "store"
    _, key = add_tenant(open_store(str(store)), "acme")
    headers = {"Authorization": f"Bearer {key}"}
    with ltv_serve(tmp_path, "--tsa", f"http://127.0.0.1:{closed}/tsa", store=store) as base:
        created = httpx.post(f"{base}/v1/signing-sessions", headers=headers, json=session_body(
            b"contract", phone_ec, format="cades", level="B-T")).json()
        value = b64(phone_ec.sign(DataToBeSigned.from_json(created["data_to_be_signed"])))
        failed = httpx.post(f"{base}{created['signature_url']}", headers=headers,
                            json={"signature_value": value})
        body = problem_body(failed, 502, "timestamp-authority")
        assert not _PATHY.search(failed.text), body
        assert str(closed) not in failed.text
        assert re.fullmatch(r"[0-9a-f]{16}", body["reference"])
        assert body["detail"].startswith("a remote service (time-stamp authority")
    log = (tmp_path / "serve.log").read_text()
    assert body["reference"] in log  # the operator finds the real message by reference
    assert f"127.0.0.1:{closed}" in log


def test_store_failure_names_no_path(phone_ec: Any, tmp_path: Path) -> None:
    store = tmp_path / "store"
    _, key = add_tenant(open_store(str(store)), "acme")
    headers = {"Authorization": f"Bearer {key}"}
    with ltv_serve(tmp_path, store=store) as base:
        shutil.rmtree(store / ".ltv")  # the store's own directory vanishes mid-run
        failed = httpx.post(f"{base}/v1/signing-sessions", headers=headers, json=session_body(
            b"contract", phone_ec, format="cades", level="B-B"))
        body = problem_body(failed, 503, "store-unavailable")
        assert not _PATHY.search(failed.text), body
        assert str(tmp_path) not in failed.text
        assert "reference" in body


# --- finding 18: a taken-over finish does not finish a second time --------------------------


def test_a_finish_that_lost_its_marker_answers_409(pki: Any, pki_server: Any, phone_ec: Any,
                                                   tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    _, key = add_tenant(store, "acme")
    headers = {"Authorization": f"Bearer {key}"}
    clock = MutableClock(SIGN_AT)
    entered, release = threading.Event(), threading.Event()
    real = HttpTimestampClient(pki_server.tsa_url)
    calls: list[int] = []

    class FirstCallStuck:
        """The first finish's TSA call hangs (a slow TSA, or the tenant's own slow AIA URLs)."""

        def timestamp(self, digest: bytes, algorithm: DigestAlgorithm) -> bytes:
            calls.append(1)
            if len(calls) == 1:
                entered.set()
                release.wait(60)
            return real.timestamp(digest, algorithm)

    base_services = build_services(pki=pki.directory, clock=clock)
    services = SigningServices(timestamp_client=FirstCallStuck(),
                               ocsp_fetcher=base_services.ocsp_fetcher,
                               crl_fetcher=base_services.crl_fetcher,
                               certificate_fetcher=base_services.certificate_fetcher,
                               clock=clock, known_certificates=base_services.known_certificates)
    app = create_app(ServerSettings(), store=store, services=services)
    with served(app, free_port()) as base:
        created = httpx.post(f"{base}/v1/signing-sessions", headers=headers, json=session_body(
            b"contract", phone_ec, format="cades", level="B-T",
            options={"session_lifetime_seconds": 3600})).json()
        url = f"{base}{created['signature_url']}"
        value = b64(phone_ec.sign(DataToBeSigned.from_json(created["data_to_be_signed"])))
        first: list[httpx.Response] = []
        worker = threading.Thread(target=lambda: first.append(httpx.post(
            url, headers=headers, json={"signature_value": value}, timeout=90)))
        worker.start()
        try:
            assert entered.wait(30)
            clock.advance(minutes=6)  # past FINISH_TIMEOUT: the marker looks stale
            second = httpx.post(url, headers=headers, json={"signature_value": value},
                                timeout=60)
            assert second.status_code == 200, second.text
        finally:
            release.set()
            worker.join(90)
        problem_body(first[0], 409, "session-used")  # before: a second 200, a second file
        third = httpx.post(url, headers=headers, json={"signature_value": value})
        problem_body(third, 409, "session-used")
    marker = json.loads(store.read_mutable(
        f"_mutable/sessions/acme/{created['id']}/used").data)
    assert marker["state"] == "finished"


# --- finding 20: an encrypted TSA key on the API --------------------------------------------


def test_api_tsa_with_an_encrypted_key_from_a_password_file(tmp_path: Path) -> None:
    from tsa_helpers import KEY_PASSWORD, make_pki

    keys = make_pki(tmp_path / "pki", kinds=("rsa2048",))
    password = tmp_path / "tsa-password"
    password.write_bytes(KEY_PASSWORD + b"\n")
    password.chmod(0o600)
    with ltv_serve(tmp_path, "--tsa-key", str(keys.key_pem("rsa2048")),
                   "--tsa-cert", str(keys.cert_pem("rsa2048")), "--tsa-chain", str(keys.chain_pem),
                   "--tsa-state-dir", str(tmp_path / "state"),
                   "--tsa-key-password-file", str(password), "--public-tsa") as base:
        serial, _ = token_of(httpx.post(f"{base}/tsa", content=tsq("enc"), headers=QUERY))
        assert serial >= 2**RANDOM_BITS
    assert KEY_PASSWORD.decode() not in json.dumps(dict(os.environ))
    no_password = subprocess.run(
        [str(LTV), "serve", "--port", str(free_port()), "--store", str(tmp_path / "s2"),
         "--tsa-key", str(keys.key_pem("rsa2048")), "--tsa-cert", str(keys.cert_pem("rsa2048"))],
        capture_output=True, text=True, timeout=60, env=_env(), check=False)
    assert no_password.returncode != 0
    assert "Traceback" not in no_password.stderr
    assert len(no_password.stderr.strip().splitlines()) == 1, no_password.stderr


