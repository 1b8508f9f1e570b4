"""HTTP API: validation requests per second for a 1 MB PAdES B-LTA, ``ltv serve --workers 2``.

Setup: a fresh sample PKI served on loopback (``bench.harness.served_pki``), a software
signer from the card CA, a 1 MiB PDF signed at B-LTA with ``ltv sign``, a tenant from
``ltv tenant add``, and ``ltv serve --workers 2`` over a ``file:`` store. Clients: httpx
AsyncClient, 8 requests in flight, multipart upload of the whole file each time.

* offline: ``offline=true`` (validation from the file's own material: pure server CPU + upload);
* online: the server may fetch missing revocation data (a B-LTA needs none, so the difference is
  the cost of the fetcher plumbing).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.bench_pades import write_pdf
from bench.harness import ltv_serving, record
from bench.harness import served_pki as _served_pki

LTV = Path(sys.executable).with_name("ltv")
REQUESTS = 200
IN_FLIGHT = 8


@contextlib.contextmanager
def _api(pki_dir: Path, store: Path, log: Path) -> Iterator[str]:
    # one tenant sends all of it: lift the per-key caps (defaults 4 in flight, 120 a minute)
    # above the load
    with ltv_serving("--workers", "2", "--store", store.as_uri(), "--pki", str(pki_dir),
                     "--tenant-concurrency", str(2 * IN_FLIGHT), "--tenant-rate", "100000",
                     log=log) as server:
        yield server.base


async def _load(base: str, key: str, pdf: bytes, *, offline: bool
                ) -> tuple[float, float, float, float]:
    """(requests/s, mean, median and 99th percentile latency s) of REQUESTS validations,
    IN_FLIGHT at a time."""
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=300,
                                 headers={"Authorization": f"Bearer {key}"}) as http:
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def one() -> None:
            async with gate:
                t0 = time.perf_counter()
                response = await http.post(
                    "/v1/validations", files={"file": ("signed.pdf", pdf)},
                    data={"offline": "true"} if offline else {})
                latencies.append(time.perf_counter() - t0)
                if response.status_code != 200 or \
                        response.json()["indication"] != "TOTAL-PASSED":
                    raise RuntimeError(f"validation failed: {response.text[:500]}")

        for _ in range(2 * IN_FLIGHT):  # warm-up: imports and caches in both workers
            await one()
        latencies.clear()
        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(REQUESTS)))
        elapsed = time.perf_counter() - start
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (REQUESTS / elapsed, sum(latencies) / len(latencies), ordered[len(ordered) // 2],
            p99)


def _in_process_cpu_ms(pdf: bytes, root_pem: bytes) -> float:
    """CPU milliseconds of one offline validation of ``pdf`` in this process (warm): what
    each request costs a worker before HTTP, multipart and JSON."""
    from cryptography import x509

    from ltv.clock import SystemClock
    from ltv.validation import ValidationPolicy, validate

    policy = ValidationPolicy.default(trust_anchors=[x509.load_pem_x509_certificate(root_pem)])
    at = SystemClock().now()
    validate(pdf, policy=policy, at=at, offline=True)
    started = time.process_time()
    for _ in range(20):
        validate(pdf, policy=policy, at=at, offline=True)
    return (time.process_time() - started) / 20 * 1000


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        work = Path(tmp)
        pki_dir = work / "pki"
        with _served_pki(pki_dir):
            signer = work / "signer"
            subprocess.run([str(LTV), "pki", "issue", str(pki_dir), "Bench Signer", "--out",
                            str(signer)], check=True, capture_output=True)
            source = work / "contract.pdf"
            write_pdf(source, payload_mb=1)
            signed = work / "signed.pdf"
            subprocess.run([str(LTV), "sign", str(source), "--format", "pades", "--level",
                            "B-LTA", "--key", str(signer / "key.pem"), "--cert",
                            str(signer / "cert.pem"), "--chain", str(signer / "chain.pem"),
                            "--pki", str(pki_dir), "-o", str(signed)],
                           check=True, capture_output=True)
            store = work / "store"
            key = subprocess.run([str(LTV), "tenant", "add", "bench", "--store", store.as_uri()],
                                 check=True, capture_output=True, text=True).stdout.strip()
            pdf = signed.read_bytes()
            pki_root = (pki_dir / "root.pem").read_bytes()
            load_before = os.getloadavg()
            with _api(pki_dir, store, work / "api.log") as base:
                try:
                    offline_rate, offline_mean, offline_p50, offline_p99 = asyncio.run(
                        _load(base, key, pdf, offline=True))
                    online_rate, online_mean, online_p50, online_p99 = asyncio.run(
                        _load(base, key, pdf, offline=False))
                except httpx.HTTPError:
                    print((work / "api.log").read_text()[-4000:], file=sys.stderr)
                    raise
    cpu_ms = _in_process_cpu_ms(pdf, pki_root)
    record("server", {
        "file_mb": len(pdf) / (1 << 20),
        "workers": 2,
        "in_flight": IN_FLIGHT,
        "requests": REQUESTS,
        "offline_validations_per_s": offline_rate,
        "offline_mean_latency_ms": offline_mean * 1000,
        "online_validations_per_s": online_rate,
        "online_mean_latency_ms": online_mean * 1000,
        "offline_p50_latency_ms": offline_p50 * 1000,
        "offline_p99_latency_ms": offline_p99 * 1000,
        "online_p50_latency_ms": online_p50 * 1000,
        "online_p99_latency_ms": online_p99 * 1000,
        "in_process_cpu_ms_per_validation": cpu_ms,
        "ceiling_validations_per_s_two_free_cores": 2000 / cpu_ms,
        "goal_offline_validations_per_s": 100,
        "goal_offline_p99_latency_ms": 200,
        "loadavg_before": list(load_before),
        "loadavg_after": list(os.getloadavg()),
    }, notes=(
        "POST /v1/validations (multipart, whole 1 MiB PAdES B-LTA each time) against ltv serve "
        "--workers 2 (per-key caps lifted: one tenant sends all) on loopback, file: store, 8 "
        "requests in flight, httpx AsyncClient (in "
        "this process, on the same 2 cores as the server). The machine is shared: see "
        "loadavg. in_process_cpu_ms_per_validation: the same file validated offline in the "
        "bench process (warm), so 2000 / it is what two free cores could serve at best."
    ))


if __name__ == "__main__":
    main()
