"""HTTP API: validation requests per second for a 1 MB PAdES B-LTA, ``ltv serve --workers 2``.

Setup: a fresh sample PKI served on loopback (``bench.harness.served_pki``), a software
signer from the card CA, a 1 MiB PDF signed at B-LTA with ``ltv sign``, a tenant from
``ltv tenant add``, and ``ltv serve --workers 2`` over a ``file:`` store. Clients: httpx
AsyncClient, 8 requests in flight, multipart upload of the whole file each time.

* offline: ``offline=true`` (validation from the file's own material: pure server CPU + upload);
* online: the server may fetch missing revocation data (a B-LTA needs none, so the difference is
  the cost of the fetcher plumbing);
* raw: offline again, the file as the whole body (``Content-Type: application/pdf``,
  ``?offline=true``) instead of a multipart form.

Server CPU per request: user + system time of ``ltv serve`` and its worker processes (from
``/proc``) over the measured requests, beside the in-process CPU of one validation of the same
file: the difference is what HTTP, the upload, the report and the hand-offs cost. The share of
each worker says whether the load was balanced (keep-alive connections pin a client to one).
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
def _api(pki_dir: Path, store: Path, log: Path) -> Iterator[tuple[str, int]]:
    # one tenant sends all of it: lift the per-key caps (defaults 4 in flight, 120 a minute)
    # above the load
    with ltv_serving("--workers", "2", "--store", store.as_uri(), "--pki", str(pki_dir),
                     "--tenant-concurrency", str(2 * IN_FLIGHT), "--tenant-rate", "100000",
                     log=log) as server:
        yield server.base, server.process.pid


def _cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU seconds of ``pid`` and its descendants, by process (Linux /proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree = {pid}
    grew = True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        grew = bool(more)
        tree |= more
    return {p: times[p] for p in tree if p in times}


class _Load:
    """One measured run: rate, latencies, server CPU per request and its split by process."""

    def __init__(self, rate: float, latencies: list[float], cpu: dict[int, float],
                 client_cpu_s: float) -> None:
        ordered = sorted(latencies)
        self.client_cpu_ms = client_cpu_s / REQUESTS * 1000
        self.rate = rate
        self.mean = sum(ordered) / len(ordered)
        self.p50 = ordered[len(ordered) // 2]
        self.p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        self.server_cpu_ms = sum(cpu.values()) / REQUESTS * 1000
        busy = sorted((v for v in cpu.values() if v > 0.05), reverse=True)
        self.worker_shares = [round(v / sum(busy), 2) for v in busy] if busy else []


async def _load(base: str, key: str, pdf: bytes, server_pid: int, *, offline: bool,
                raw: bool = False) -> _Load:
    """REQUESTS validations, IN_FLIGHT at a time (after a warm-up of as many at once, so that
    every worker has imported and warmed what a validation needs)."""
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    latencies: list[float] = []
    # The multipart form is encoded once, as httpx would encode it for each request: the
    # server receives the same bytes, and the load generator (sharing the two cores) does
    # not spend on re-encoding 1 MiB what the server should get.
    form = httpx.Request("POST", base, files={"file": ("signed.pdf", pdf)},
                         data={"offline": "true"} if offline else {})
    form_body, form_type = form.read(), form.headers["Content-Type"]
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=300,
                                 headers={"Authorization": f"Bearer {key}"}) as http:
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def one() -> None:
            async with gate:
                t0 = time.perf_counter()
                if raw:
                    response = await http.post(
                        "/v1/validations", content=pdf,
                        params={"offline": "true"} if offline else {},
                        headers={"Content-Type": "application/pdf"})
                else:
                    response = await http.post(
                        "/v1/validations", content=form_body,
                        headers={"Content-Type": form_type})
                latencies.append(time.perf_counter() - t0)
                if response.status_code != 200 or \
                        response.json()["indication"] != "TOTAL-PASSED":
                    raise RuntimeError(f"validation failed: {response.text[:500]}")

        for _ in range(3):  # warm-up: imports and caches in every worker
            await asyncio.gather(*(one() for _ in range(IN_FLIGHT)))
        latencies.clear()
        before = _cpu_seconds(server_pid)
        client_before = time.process_time()
        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(REQUESTS)))
        elapsed = time.perf_counter() - start
        client_cpu = time.process_time() - client_before
        after = _cpu_seconds(server_pid)
    return _Load(REQUESTS / elapsed, latencies,
                 {p: after[p] - before.get(p, 0.0) for p in after}, client_cpu)


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
            with _api(pki_dir, store, work / "api.log") as (base, pid):
                try:
                    offline = asyncio.run(_load(base, key, pdf, pid, offline=True))
                    online = asyncio.run(_load(base, key, pdf, pid, offline=False))
                    raw = asyncio.run(_load(base, key, pdf, pid, offline=True, raw=True))
                except httpx.HTTPError:
                    print((work / "api.log").read_text()[-4000:], file=sys.stderr)
                    raise
    cpu_ms = _in_process_cpu_ms(pdf, pki_root)
    record("server", {
        "file_mb": len(pdf) / (1 << 20),
        "workers": 2,
        "in_flight": IN_FLIGHT,
        "requests": REQUESTS,
        "offline_validations_per_s": offline.rate,
        "offline_mean_latency_ms": offline.mean * 1000,
        "online_validations_per_s": online.rate,
        "online_mean_latency_ms": online.mean * 1000,
        "offline_p50_latency_ms": offline.p50 * 1000,
        "offline_p99_latency_ms": offline.p99 * 1000,
        "online_p50_latency_ms": online.p50 * 1000,
        "online_p99_latency_ms": online.p99 * 1000,
        "offline_server_cpu_ms_per_request": offline.server_cpu_ms,
        "online_server_cpu_ms_per_request": online.server_cpu_ms,
        "offline_worker_cpu_shares": offline.worker_shares,
        "offline_client_cpu_ms_per_request": offline.client_cpu_ms,
        "raw_offline_client_cpu_ms_per_request": raw.client_cpu_ms,
        "raw_offline_validations_per_s": raw.rate,
        "raw_offline_p50_latency_ms": raw.p50 * 1000,
        "raw_offline_p99_latency_ms": raw.p99 * 1000,
        "raw_offline_server_cpu_ms_per_request": raw.server_cpu_ms,
        "in_process_cpu_ms_per_validation": cpu_ms,
        "offline_server_overhead_cpu_ms_per_request": offline.server_cpu_ms - cpu_ms,
        "ceiling_validations_per_s_two_free_cores": 2000 / cpu_ms,
        "goal_offline_validations_per_s": 100,
        "goal_offline_p99_latency_ms": 200,
        "loadavg_before": list(load_before),
        "loadavg_after": list(os.getloadavg()),
    }, notes=(
        "POST /v1/validations (multipart, whole 1 MiB PAdES B-LTA each time) against ltv serve "
        "--workers 2 (per-key caps lifted: one tenant sends all) on loopback, file: store, 8 "
        "requests in flight, httpx AsyncClient (in "
        "this process, on the same 2 cores as the server; the multipart body encoded once, "
        "byte for byte what httpx sends; client_cpu_ms_per_request: what the client itself "
        "spent). The machine is shared: see "
        "loadavg. in_process_cpu_ms_per_validation: the same file validated offline in the "
        "bench process (warm), so 2000 / it is what two free cores could serve at best. "
        "server_cpu_ms_per_request: ltv serve and its workers (/proc) over the measured "
        "requests; minus the in-process figure, the server's own cost per request. "
        "worker_cpu_shares: each worker's part of it (keep-alive pins connections to a "
        "worker; a crowded worker answers Connection: close). raw_*: the file as the body "
        "(application/pdf, ?offline=true) instead of a multipart form."
    ))


if __name__ == "__main__":
    main()
