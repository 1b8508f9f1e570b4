"""tsa.server and `ltv tsa serve`: real servers on 127.0.0.1, checked by `openssl ts` and httpx."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asn1crypto import cms, core, tsp
from tsa_helpers import (
    KEY_PASSWORD,
    Pki,
    TsaServer,
    free_port,
    ltv_command,
    make_pki,
    start_tsa,
    wait_ready,
)

from ltv.algorithms import DigestAlgorithm
from ltv.online.timestamps import HttpTimestampClient
from ltv.timestamps import build_request, parse_response
from tsa.authority import DEFAULT_POLICY_OID, TimeStampAuthority
from tsa.serials import RANDOM_BITS
from tsa.server import ServeSettings, create_app

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
QUERY = {"Content-Type": "application/timestamp-query"}
SHA256 = DigestAlgorithm.SHA256


class Resp(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def status_of(reply: bytes) -> tuple[str, set[str]]:
    status = Resp.load(reply)["status"]
    fail = status["fail_info"]
    return status["status"].native, set() if isinstance(fail, core.Void) else set(fail.native)


def serial_of(reply: bytes) -> int:
    token = Resp.load(reply)["time_stamp_token"]
    serial: int = token["content"]["encap_content_info"]["content"].parsed["serial_number"].native
    return serial


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), kinds=("rsa2048", "p256"))


@pytest.fixture(scope="module")
def servers(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TsaServer]]:
    """One `ltv tsa serve` per key kind (the RSA key is encrypted PKCS#8)."""
    base = tmp_path_factory.mktemp("servers")
    started: dict[str, TsaServer] = {}
    try:
        for kind in ("rsa2048", "p256"):
            started[kind] = start_tsa(pki, kind, state_dir=base / f"state-{kind}",
                                      log=base / f"{kind}.log")
        yield started
    finally:
        for server in started.values():
            server.stop()


# --- interoperability: openssl ts -------------------------------------------------------------

def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPENSSL, "ts", *args], cwd=cwd, capture_output=True, text=True,
                          check=False, timeout=30)


@pytest.mark.parametrize("kind", ["rsa2048", "p256"])
@pytest.mark.parametrize("algorithm", ["sha256", "sha384", "sha512"])
def test_openssl_verifies_our_replies(
    pki: Pki, servers: dict[str, TsaServer], tmp_path: Path, kind: str, algorithm: str
) -> None:
    data = tmp_path / "contract.txt"
    data.write_bytes(b"an agreement between two phones\n" * 10)
    made = openssl("-query", f"-{algorithm}", "-cert", "-data", str(data), "-out", "q.tsq",
                   cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    query = (tmp_path / "q.tsq").read_bytes()
    reply = httpx.post(servers[kind].url + "tsa", content=query, headers=QUERY, timeout=10)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/timestamp-reply"
    (tmp_path / "r.tsr").write_bytes(reply.content)

    tsa_pem = str(pki.cert_pem(kind))
    for source in (["-queryfile", "q.tsq"], ["-data", str(data)]):
        verified = openssl("-verify", *source, "-in", "r.tsr", "-CAfile", str(pki.root_pem),
                           "-untrusted", tsa_pem, cwd=tmp_path)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "Verification: OK" in verified.stdout

    text = openssl("-reply", "-in", "r.tsr", "-text", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "Status: Granted." in text.stdout
    assert f"Policy OID: {DEFAULT_POLICY_OID}" in text.stdout
    assert f"Hash Algorithm: {algorithm}" in text.stdout
    assert "Accuracy: 0x01 seconds" in text.stdout
    assert "Nonce: 0x" in text.stdout

    token = Resp.load(reply.content)["time_stamp_token"]
    signer_info = token["content"]["signer_infos"][0]
    attr_types = {a["type"].native for a in signer_info["signed_attrs"]}
    assert "signing_certificate_v2" in attr_types
    assert "signing_certificate" not in attr_types
    expected = "sha256_rsa" if kind == "rsa2048" else "sha256_ecdsa"
    assert signer_info["signature_algorithm"]["algorithm"].native == expected


def test_openssl_without_cert_req(pki: Pki, servers: dict[str, TsaServer], tmp_path: Path
                                  ) -> None:
    data = tmp_path / "d"
    data.write_bytes(b"x")
    assert openssl("-query", "-sha256", "-data", "d", "-out", "q.tsq", cwd=tmp_path
                   ).returncode == 0
    reply = httpx.post(servers["p256"].url, content=(tmp_path / "q.tsq").read_bytes(),
                       headers=QUERY, timeout=10)
    token = Resp.load(reply.content)["time_stamp_token"]
    assert isinstance(token["content"]["certificates"], core.Void)
    (tmp_path / "r.tsr").write_bytes(reply.content)
    untrusted = tmp_path / "untrusted.pem"
    untrusted.write_bytes(pki.cert_pem("p256").read_bytes() + pki.chain_pem.read_bytes())
    verified = openssl("-verify", "-queryfile", "q.tsq", "-in", "r.tsr", "-CAfile",
                       str(pki.root_pem), "-untrusted", str(untrusted), cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_http_client_against_the_server(pki: Pki, servers: dict[str, TsaServer]) -> None:
    digest = DigestAlgorithm.SHA512.digest(b"doc")
    with HttpTimestampClient(servers["rsa2048"].url + "tsa") as client:
        token = client.timestamp(digest, DigestAlgorithm.SHA512)
    assert token.signer_certificate == pki.tsa_certs["rsa2048"]
    assert token.certificates == (pki.tsa_certs["rsa2048"], pki.ca)
    now = datetime.now(UTC)
    assert abs(token.gen_time - now) < timedelta(minutes=1)


# --- transport errors: 4xx, never 500 ---------------------------------------------------------

def test_http_refusals(servers: dict[str, TsaServer]) -> None:
    url = servers["p256"].url + "any/path"
    assert httpx.get(url).status_code == 405
    assert httpx.get(url).headers["allow"] == "POST"
    assert httpx.put(url, content=b"x", headers=QUERY).status_code == 405
    assert httpx.post(url, content=b"x").status_code == 415
    assert httpx.post(url, content=b"x", headers={"Content-Type": "application/json"}
                      ).status_code == 415
    assert httpx.post(url, content=b"", headers=QUERY).status_code == 400
    assert httpx.post(url, content=b"\x30" * 20_000, headers=QUERY).status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"\x30" * 1000

    assert httpx.post(url, content=chunks(), headers=QUERY).status_code == 413
    with_params = {"Content-Type": "Application/Timestamp-Query; charset=binary"}
    ok = httpx.post(url, content=build_request(bytes(32), SHA256), headers=with_params)
    assert ok.status_code == 200
    assert status_of(ok.content)[0] == "granted"


@pytest.mark.parametrize(
    "body",
    [b"garbage", b"\x30", b"\x30\x82\xff\xff", b"\x00" * 100, b"\x30\x80" * 500,
     b"\x30\x03\x02\x01\x01"],
)
def test_garbage_over_http_is_a_rejection(servers: dict[str, TsaServer], body: bytes) -> None:
    reply = httpx.post(servers["rsa2048"].url, content=body, headers=QUERY)
    assert reply.status_code == 200
    status, failures = status_of(reply.content)
    assert status == "rejection"
    assert failures == {"bad_data_format"}


# --- the ASGI app in process ----------------------------------------------------------------

def _asgi_post(app: Any, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tsa") as client:
            return await client.post("/tsa", content=body, headers=headers or QUERY)

    return asyncio.run(go())


def test_callable_authority_swaps_identity(pki: Pki) -> None:
    authorities = {"current": pki.authority("rsa2048")}
    app = create_app(lambda: authorities["current"])
    digest = bytes(32)
    first = _asgi_post(app, build_request(digest, SHA256, cert_req=True))
    token = parse_response(first.content, digest=digest, algorithm=SHA256, nonce=None)
    assert token.signer_certificate == pki.tsa_certs["rsa2048"]
    authorities["current"] = pki.authority("p256")  # key rollover, no restart
    second = _asgi_post(app, build_request(digest, SHA256, cert_req=True))
    token = parse_response(second.content, digest=digest, algorithm=SHA256, nonce=None)
    assert token.signer_certificate == pki.tsa_certs["p256"]


def test_failing_authority_is_a_rejection_not_a_500(pki: Pki) -> None:
    def broken() -> TimeStampAuthority:
        raise RuntimeError("identity store down")

    reply = _asgi_post(create_app(broken), build_request(bytes(32), SHA256))
    assert reply.status_code == 200
    assert status_of(reply.content) == ("rejection", {"system_failure"})


def test_asgi_limits_and_lifespan(pki: Pki) -> None:
    app = create_app(pki.authority(), max_body_bytes=100)
    assert _asgi_post(app, b"\x30" * 101).status_code == 413
    assert _asgi_post(app, b"x", {"Content-Type": "text/plain"}).status_code == 415
    assert _asgi_post(app, b"\x30" * 99).status_code == 200

    async def lifespan() -> list[str]:
        incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        sent: list[str] = []

        async def receive() -> Any:
            return next(incoming)

        async def send(message: Any) -> None:
            sent.append(message["type"])

        await app({"type": "lifespan"}, receive, send)
        return sent

    assert asyncio.run(lifespan()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


# --- command line ---------------------------------------------------------------------------

def test_python_m_tsa_with_at_and_policy(pki: Pki, tmp_path: Path) -> None:
    policy = "2.25.279238076902243542650764225004258860999.2.7"
    server = start_tsa(pki, "p256", state_dir=tmp_path / "state", log=tmp_path / "log",
                       command=[sys.executable, "-m", "tsa"],
                       extra=["--at", "2030-06-01T00:00:00Z", "--policy", policy])
    try:
        with HttpTimestampClient(server.url) as client:
            token = client.timestamp(bytes(32), SHA256)
    finally:
        server.stop()
    start = datetime(2030, 6, 1, tzinfo=UTC)
    assert start <= token.gen_time < start + timedelta(minutes=2)
    assert token.policy_oid == policy
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal for the exit status
    assert server.process.returncode in (0, -15)
    assert "Traceback" not in server.log.read_text()


def test_cli_reports_a_bad_key_password(pki: Pki, tmp_path: Path) -> None:
    done = subprocess.run(
        [*ltv_command(), "tsa", "serve", "--key", str(pki.key_pem("rsa2048")), "--cert",
         str(pki.cert_pem("rsa2048")), "--state-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "LTV_TSA_KEY_PASSWORD": "wrong"},
    )
    assert done.returncode == 4
    assert "ltv: error: the TSA key" in done.stderr
    assert "password is wrong" in done.stderr
    assert "Traceback" not in done.stderr


def test_settings_round_trip_through_the_environment(tmp_path: Path) -> None:
    settings = ServeSettings(
        key=tmp_path / "k.pem", cert=tmp_path / "c.pem", chain=tmp_path / "ch.pem", port=9999,
        state_dir=tmp_path / "s", policy="1.2.3", workers=3,
        at=datetime(2031, 1, 1, tzinfo=UTC), at_origin=datetime(2026, 1, 1, tzinfo=UTC),
        key_password=KEY_PASSWORD,
    )
    assert ServeSettings.from_environment(settings.to_environment()) == settings
    by_file = replace(settings, key_password=None, key_password_file=tmp_path / "pw")
    environment = by_file.to_environment()
    assert "LTV_TSA_KEY_PASSWORD" not in environment
    assert ServeSettings.from_environment(environment) == by_file


def test_workers_read_the_key_password_from_a_file_not_their_environment(
        pki: Pki, tmp_path: Path) -> None:
    """Review finding 20: ``--workers N`` handed LTV_TSA_KEY_PASSWORD to every worker's
    environment (``/proc/PID/environ``); with LTV_TSA_KEY_PASSWORD_FILE only the path travels."""
    secret = tmp_path / "password"
    secret.write_bytes(KEY_PASSWORD + b"\n")
    port = free_port()
    log = tmp_path / "log"
    env = {k: v for k, v in os.environ.items() if k != "LTV_TSA_KEY_PASSWORD"}
    env["LTV_TSA_KEY_PASSWORD_FILE"] = str(secret)
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*ltv_command(), "tsa", "serve", "--key", str(pki.key_pem("rsa2048")), "--cert",
             str(pki.cert_pem("rsa2048")), "--chain", str(pki.chain_pem), "--port", str(port),
             "--state-dir", str(tmp_path / "state"), "--workers", "2"],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    server = TsaServer(process=process, port=port, log=log)
    try:
        wait_ready(server)
        reply = httpx.post(server.url, content=build_request(bytes(32), SHA256), headers=QUERY)
        assert serial_of(reply.content) >= 2**RANDOM_BITS
        children = _descendants(process.pid)
        assert len(children) >= 2, children  # uvicorn's supervisor and workers
        for pid in [process.pid, *children]:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            assert b"LTV_TSA_KEY_PASSWORD=" not in environ, pid
            assert KEY_PASSWORD not in environ, pid
    finally:
        server.stop()


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.append(int(entry.name))
    return found + [g for child in found for g in _descendants(child)]


def test_several_workers(pki: Pki, tmp_path: Path) -> None:
    server = start_tsa(pki, "p256", state_dir=tmp_path / "state", log=tmp_path / "log",
                       extra=["--workers", "2"])
    try:
        with httpx.Client(timeout=10) as client:
            replies = [client.post(server.url, content=build_request(bytes(32), SHA256),
                                   headers=QUERY).content for _ in range(50)]
    finally:
        server.stop()
    serials = [serial_of(r) for r in replies]
    assert len(set(serials)) == 50


# --- serial numbers: two servers, one state directory, a SIGKILL ------------------------------

def test_serials_unique_across_servers_and_sigkill(pki: Pki, tmp_path: Path) -> None:
    total, kill_at, clients = 10_000, 3_000, 8
    state = tmp_path / "state"
    logs = tmp_path / "logs"
    logs.mkdir()
    a = start_tsa(pki, "p256", state_dir=state, log=logs / "a.log")
    b = start_tsa(pki, "p256", state_dir=state, log=logs / "b.log")
    urls = [a.url, b.url]
    serials: list[int] = []
    per_phase: Counter[tuple[str, int]] = Counter()
    lock = threading.Lock()
    reached = threading.Event()
    phase = [0]
    request = build_request(hashlib.sha256(b"serials").digest(), SHA256, cert_req=False)
    failures: list[BaseException] = []

    def work(index: int) -> None:
        turn = index
        with httpx.Client(timeout=10) as client:
            while True:
                with lock:
                    if len(serials) >= total:
                        return
                url = urls[turn % 2]
                turn += 1
                try:
                    reply = client.post(url, content=request, headers=QUERY)
                except httpx.TransportError:
                    continue  # that server is down (killed); the next turn asks the other
                if reply.status_code != 200:
                    failures.append(AssertionError(f"HTTP {reply.status_code}"))
                    return
                serial = serial_of(reply.content)
                with lock:
                    serials.append(serial)
                    per_phase[url, phase[0]] += 1
                    if len(serials) >= kill_at:
                        reached.set()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    restarted: TsaServer | None = None
    try:
        for t in threads:
            t.start()
        assert reached.wait(60)
        a.kill()  # SIGKILL mid-run: its reserved block is lost, never reused
        with lock:
            phase[0] = 1
        restarted = start_tsa(pki, "p256", state_dir=state, log=logs / "a2.log", port=a.port)
        with lock:
            phase[0] = 2
        for t in threads:
            t.join(120)
    finally:
        for server in (a, b, restarted):
            if server is not None:
                server.stop()
    assert not failures
    assert len(serials) >= total
    assert len(set(serials)) == len(serials), "a serial number was issued twice"
    assert min(serials) >= 1
    assert per_phase[a.url, 0] > 0
    assert per_phase[b.url, 0] > 0
    assert per_phase[a.url, 2] > 0, "the restarted server answered nothing"
    # the durable counter is the serial's high part (tsa.serials.KeyBoundSerials): unique on its
    # own across both servers and the SIGKILL, and never behind what was issued
    counters = [s >> RANDOM_BITS for s in serials]
    assert len(set(counters)) == len(counters)
    on_disk = int((state / "serial.next").read_text())
    assert on_disk > max(counters)
