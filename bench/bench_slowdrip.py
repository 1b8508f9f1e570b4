"""Slow-drip and memory load on a real ``ltv serve`` (security review findings 2 and 3).

Phase 1, "normal": two tenants' normal traffic alone (validations of a small signature, archive
listings), 8 clients, for ``LTV_BENCH_SECONDS`` (default 8): its p50/p99 latency is the peer.
Phase 2, "flood": the same normal traffic while 100 hostile clients keep uploading signatures
whose OCSP and CRL answers drip one byte every 0.5 s (bench/hostile.py's listener), resending
as soon as they are answered (after Retry-After when refused). Figures: p50/p99 of the normal
traffic, its failures, the hostile
answers by status, the server's peak RSS (VmHWM) and peak thread count.
Phase 3, "memory": ``LTV_BENCH_HOSTILE`` (default 1000) uploads naming distinct 256 kB CRLs;
RSS after each quarter: flat once the caches (``--cache-size``, 8M here) are full.

The server runs with its default limits except ``--fetch-allow`` for the listener, a 5 s fetch
budget and roomy rate limits (the bench measures the pool and the deadlines, not the 429s).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization

from bench.harness import LtvServe, ltv_serving, record
from bench.hostile import Attacker, Listener, attacker_signature

DOC = b"doc"


def _files(signature: bytes) -> dict[str, tuple[str, bytes]]:
    return {"file": ("doc.p7s", signature), "detached": ("doc", DOC)}


def _serving(root: Path, *args: str) -> contextlib.AbstractContextManager[LtvServe]:
    return ltv_serving(*args, log=root / "serve.log", store=(root / "store").as_uri())


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _normal(http: httpx.AsyncClient, headers: dict[str, str], quiet: bytes,
                  until: float, latencies: list[float], failures: Counter[int]) -> None:
    turn = 0
    while time.monotonic() < until:
        start = time.monotonic()
        try:
            if turn % 2:
                response = await http.get("/v1/archive", headers=headers)
            else:
                response = await http.post("/v1/validations", headers=headers,
                                           files=_files(quiet), data={"offline": "true"})
            status = response.status_code
        except httpx.HTTPError:
            status = 0
        latencies.append(time.monotonic() - start)
        if status != 200:
            failures[status] += 1
        turn += 1


async def _hostile(http: httpx.AsyncClient, headers: dict[str, str], slow: bytes,
                   until: float, answers: Counter[int]) -> None:
    while time.monotonic() < until:
        try:
            response = await http.post("/v1/validations", headers=headers, files=_files(slow))
            answers[response.status_code] += 1
            if response.status_code != 200:  # told to wait: a 2-core box runs both sides
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
        except httpx.HTTPError:
            answers[0] += 1


async def _traffic(server: LtvServe, tenants: list[dict[str, str]], quiet: bytes,
                   seconds: float, *, flood: tuple[dict[str, str], bytes] | None
                   ) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    latencies: list[float] = []
    failures: Counter[int] = Counter()
    answers: Counter[int] = Counter()
    peak_threads = server.status("Threads")
    async with httpx.AsyncClient(base_url=server.base, limits=limits, timeout=120) as http:
        until = time.monotonic() + seconds
        tasks = [asyncio.create_task(_normal(http, t, quiet, until, latencies, failures))
                 for t in tenants for _ in range(4)]
        if flood is not None:
            tasks += [asyncio.create_task(_hostile(http, flood[0], flood[1], until, answers))
                      for _ in range(100)]
        while any(not t.done() for t in tasks):
            peak_threads = max(peak_threads, server.status("Threads"))
            await asyncio.sleep(0.2)
        await asyncio.gather(*tasks)
    return {"requests": len(latencies), "p50_ms": 1000 * _pct(latencies, 0.5),
            "p99_ms": 1000 * _pct(latencies, 0.99), "failures": dict(failures),
            "hostile_answers": {str(k): v for k, v in sorted(answers.items())},
            "peak_threads": peak_threads}


def main() -> None:
    seconds = float(os.environ.get("LTV_BENCH_SECONDS", "8"))
    hostile_n = int(os.environ.get("LTV_BENCH_HOSTILE", "1000"))
    attacker = Attacker()
    with tempfile.TemporaryDirectory(prefix="ltv-slowdrip-") as tmp, \
            Listener(attacker, crl_bytes=256 << 10, drip=0.5) as listener:
        root = Path(tmp)
        anchor = root / "attacker-ca.pem"
        anchor.write_bytes(attacker.ca.public_bytes(serialization.Encoding.PEM))
        with _serving(root, "--trust", str(anchor), "--fetch-allow",
                      f"127.0.0.1:{listener.port}", "--fetch-budget", "5",
                      "--cache-size", "8M", "--tenant-rate", "100000",
                      "--tenant-concurrency", "6") as server:
            tenants = [server.key("alpha"), server.key("beta")]
            flooder = server.key("flooder")
            quiet = attacker_signature(attacker)
            slow = attacker_signature(attacker, ocsp=[f"{listener.base}/slow-ocsp"],
                                      crls=[f"{listener.base}/slow-crl"])
            base_rss = server.status("VmRSS")
            normal = asyncio.run(_traffic(server, tenants, quiet, seconds, flood=None))
            flood = asyncio.run(_traffic(server, tenants, quiet, seconds,
                                         flood=(flooder, slow)))
            flood_hwm = server.status("VmHWM")
            quarters = _memory(server, flooder, attacker, listener, hostile_n)
            figures: dict[str, Any] = {
                "normal_alone_requests": normal["requests"],
                "normal_alone_p50_ms": normal["p50_ms"],
                "normal_alone_p99_ms": normal["p99_ms"],
                "normal_alone_failures": normal["failures"],
                "flood_normal_requests": flood["requests"],
                "flood_normal_p50_ms": flood["p50_ms"],
                "flood_normal_p99_ms": flood["p99_ms"],
                "flood_normal_failures": flood["failures"],
                "flood_hostile_answers": flood["hostile_answers"],
                "flood_peak_threads": flood["peak_threads"],
                "rss_at_start_kib": base_rss,
                "peak_rss_after_flood_kib": flood_hwm,
                "hostile_uploads": hostile_n,
                "rss_by_quarter_kib": quarters,
                "peak_rss_kib": server.status("VmHWM"),
            }
    record("slowdrip", figures, notes=(
        f"ltv serve defaults except --fetch-budget 5, --cache-size 8M, --tenant-concurrency 6 "
        f"and roomy rates; normal traffic = 2 tenants x 4 clients for {seconds:g} s each "
        "phase; flood = 100 clients resending slow-drip uploads (one byte / 0.5 s) from a third "
        f"tenant; memory = {hostile_n} uploads naming distinct 256 kB CRLs."))


def _memory(server: LtvServe, headers: dict[str, str], attacker: Attacker,
            listener: Listener, n: int) -> list[int]:
    signatures = [attacker_signature(attacker, crls=[f"{listener.base}/crl/m{i}"])
                  for i in range(n)]

    async def run() -> list[int]:
        quarters: list[int] = [server.status("VmRSS")]
        async with httpx.AsyncClient(base_url=server.base, headers=headers,
                                     timeout=60) as http:
            for part in range(4):
                chunk = signatures[part * n // 4:(part + 1) * n // 4]
                for start in range(0, len(chunk), 6):
                    await asyncio.gather(*(http.post("/v1/validations", files=_files(s))
                                           for s in chunk[start:start + 6]))
                quarters.append(server.status("VmRSS"))
        return quarters

    return asyncio.run(run())


if __name__ == "__main__":
    main()
