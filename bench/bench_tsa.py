"""TSA throughput: tokens/s over HTTP from `python -m tsa --workers 2` (RSA-2048 and P-256),
against an `openssl ts -reply` loop (one process per request) measured in the same run.

The load generator is a separate pool of processes, each with one keep-alive httpx client,
posting for a fixed time (bounded, 127.0.0.1 only). It shares the machine's cores with the
server, as a co-located client would; `respond()` in process is given for reference.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bench.harness import rate, record
from ltv.algorithms import DigestAlgorithm
from ltv.clock import SystemClock
from ltv.timestamps import build_request
from tsa.authority import TimeStampAuthority, TsaIdentity
from tsa.serials import MemorySerialSource

SECONDS = 6.0
MAX_REQUESTS_PER_CLIENT = 40_000
CLIENT_PROCESSES = 3
QUERY = {"Content-Type": "application/timestamp-query"}
GRANTED = b"\x30\x03\x02\x01\x00"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key(kind: str) -> Any:
    if kind == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    from cryptography.hazmat.primitives.asymmetric import mldsa

    if kind == "ml-dsa-65":
        return mldsa.MLDSA65PrivateKey.generate()
    if kind == "ml-dsa-87":
        return mldsa.MLDSA87PrivateKey.generate()
    raise ValueError(f"unknown TSA key kind {kind!r}")


def _pki(directory: Path, kinds: tuple[str, ...] = ("rsa2048", "p256")
         ) -> dict[str, tuple[Path, Path]]:
    """A bench root (P-256) and one TSA key + certificate per kind, as PEM files."""
    now = SystemClock().now()
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder().subject_name(_name("bench root")).issuer_name(_name("bench root"))
        .public_key(root_key.public_key()).serial_number(1)
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    (directory / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    out = {}
    keys = {kind: _key(kind) for kind in kinds}
    for serial, (kind, key) in enumerate(keys.items(), start=2):
        cert = (
            x509.CertificateBuilder().subject_name(_name(f"bench TSA {kind}"))
            .issuer_name(root.subject).public_key(key.public_key()).serial_number(serial)
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                           critical=True)
            .sign(root_key, hashes.SHA256())
        )
        key_path, cert_path = directory / f"{kind}-key.pem", directory / f"{kind}.pem"
        key_path.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        out[kind] = (key_path, cert_path)
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(key: Path, cert: Path, state: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tsa", "--key", str(key), "--cert", str(cert), "--port", str(port),
         "--state-dir", str(state), "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 405:
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the TSA did not start")


def _descendants(pid: int) -> list[int]:
    found = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found += _descendants(int(child))
    return found


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its live descendants (Linux /proc)."""
    ticks = 0
    for each in _descendants(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def _client(url: str, start_at: float, seconds: float) -> tuple[int, float]:
    """One load-generator process: post until ``seconds`` after ``start_at``.

    Returns the tokens received and the CPU seconds this client spent in the window.
    """
    request = build_request(DigestAlgorithm.SHA256.digest(os.urandom(16)), DigestAlgorithm.SHA256,
                            nonce=os.getpid(), cert_req=True)
    granted = 0
    with httpx.Client(timeout=10) as client:
        for _ in range(20):  # warm-up: connection and both workers
            client.post(url, content=request, headers=QUERY)
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + seconds
        cpu = time.process_time()
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if time.time() >= end:
                break
            reply = client.post(url, content=request, headers=QUERY)
            if reply.status_code == 200 and GRANTED in reply.content[:12]:
                granted += 1
        cpu = time.process_time() - cpu
    return granted, cpu


def _http_rate(url: str, server_pid: int, processes: int) -> dict[str, float]:
    """Tokens/s, and server and client CPU milliseconds per token, over the window."""
    start_at = time.time() + 2.0
    ctx = multiprocessing.get_context("spawn")
    server_cpu = [0.0, 0.0]

    def sample() -> None:
        time.sleep(max(0.0, start_at - time.time()))
        server_cpu[0] = _cpu_seconds(server_pid)
        time.sleep(SECONDS)
        server_cpu[1] = _cpu_seconds(server_pid)

    sampler = threading.Thread(target=sample)
    sampler.start()
    with ctx.Pool(processes) as pool:
        results = pool.starmap(_client, [(url, start_at, SECONDS)] * processes)
    sampler.join()
    tokens = sum(count for count, _ in results)
    client_cpu = sum(cpu for _, cpu in results)
    server_ms = 1000 * (server_cpu[1] - server_cpu[0]) / max(tokens, 1)
    return {
        "tokens_per_s": tokens / SECONDS,
        "server_cpu_ms_per_token": server_ms,
        "client_cpu_ms_per_token": 1000 * client_cpu / max(tokens, 1),
        "server_only_capacity_2_cores_per_s": 2000 / server_ms if server_ms else 0.0,
    }


def _openssl_config(directory: Path) -> Path:
    (directory / "serial").write_text("01\n")
    config = directory / "openssl-tsa.cnf"
    config.write_text(
        "[ tsa ]\ndefault_tsa = tsa_config1\n"
        "[ tsa_config1 ]\n"
        f"serial = {directory / 'serial'}\n"
        "crypto_device = builtin\nsigner_digest = sha256\n"
        "default_policy = 2.25.279238076902243542650764225004258860999.2.1\n"
        "digests = sha256, sha384, sha512\naccuracy = secs:1\nordering = no\ntsa_name = no\n"
        "ess_cert_id_chain = no\ness_cert_id_alg = sha256\n"
    )
    return config


def _openssl_rate(directory: Path, key: Path, cert: Path, parallel: int) -> float:
    config = _openssl_config(directory)
    query = directory / "q.tsq"
    query.write_bytes(build_request(bytes(32), DigestAlgorithm.SHA256, nonce=1, cert_req=True))
    counts = [0] * parallel
    end = time.monotonic() + SECONDS / 2

    def loop(i: int) -> None:
        out = directory / f"r{i}.tsr"
        while time.monotonic() < end:
            subprocess.run(
                ["openssl", "ts", "-reply", "-config", str(config), "-queryfile", str(query),
                 "-inkey", str(key), "-signer", str(cert), "-out", str(out)],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            counts[i] += 1

    start = time.monotonic()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - start)


def main() -> None:
    figures: dict[str, Any] = {"load_average_1min_at_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-tsa-") as tmp:
        directory = Path(tmp)
        files = _pki(directory)
        request = build_request(bytes(32), DigestAlgorithm.SHA256, nonce=7, cert_req=True)
        for kind, (key, cert) in files.items():
            identity = TsaIdentity.from_files(key, cert)
            authority = TimeStampAuthority(identity, serials=MemorySerialSource(),
                                           clock=SystemClock())
            figures[f"respond_in_process_{kind}_per_s_1_thread"] = rate(
                partial(authority.respond, request), seconds=2.0)
        for kind, (key, cert) in files.items():
            port = _free_port()
            server = _start(key, cert, directory / f"state-{kind}", port)
            try:
                measured = _http_rate(f"http://127.0.0.1:{port}/tsa", server.pid,
                                      CLIENT_PROCESSES)
                figures[f"http_{kind}_2_workers_tokens_per_s"] = measured.pop("tokens_per_s")
                for name, value in measured.items():
                    figures[f"http_{kind}_{name}"] = value
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(30)
        rsa_key, rsa_cert = files["rsa2048"]
        figures["openssl_ts_reply_loop_rsa2048_per_s_1_process"] = _openssl_rate(
            directory, rsa_key, rsa_cert, 1)
        figures["openssl_ts_reply_loop_rsa2048_per_s_2_parallel"] = _openssl_rate(
            directory, rsa_key, rsa_cert, 2)
    figures["ratio_http_rsa2048_vs_openssl_loop_2_parallel"] = (
        figures["http_rsa2048_2_workers_tokens_per_s"]
        / figures["openssl_ts_reply_loop_rsa2048_per_s_2_parallel"]
    )
    figures["ratio_http_p256_vs_http_rsa2048"] = (
        figures["http_p256_2_workers_tokens_per_s"] / figures["http_rsa2048_2_workers_tokens_per_s"]
    )
    figures["goal_http_rsa2048_tokens_per_s"] = 1000
    figures["load_average_1min_at_end"] = os.getloadavg()[0]
    figures["load_generator"] = (
        f"{CLIENT_PROCESSES} processes x 1 keep-alive httpx client, {SECONDS:.0f} s, same host"
    )
    record("tsa", figures, notes=(
        "Server: python -m tsa --workers 2 (uvicorn, httptools, uvloop), file serial allocator. "
        "Load generator shares the 2 cores; server_only_capacity = 2 cores / server CPU per "
        "token (what 2 dedicated cores would sustain). "
        "openssl: `openssl ts -reply`, one process per token. "
        f"Measured {datetime.now(UTC):%Y-%m-%d}."
    ))


if __name__ == "__main__":
    main()
