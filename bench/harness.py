"""Benchmark harness: each bench module records figures; results land in bench/results/NAME.json.

Benchmarks are run on demand (`make bench`), never as timed tests: the machines are shared and
noisy. Every figure sits beside its peer measured in the same run, so ratios mean something.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def record(name: str, figures: dict[str, Any], *, notes: str = "") -> Path:
    """Write ``figures`` to bench/results/NAME.json and print a short table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "figures": figures,
        "notes": notes,
    }
    out.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"\n== {name}")
    for key, value in figures.items():
        shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
        print(f"  {key:<48} {shown}")
    return out


def rate(fn: Callable[[], object], *, seconds: float = 3.0, min_runs: int = 3) -> float:
    """Calls per second of ``fn`` over at least ``seconds`` of wall time."""
    runs = 0
    start = time.perf_counter()
    while True:
        fn()
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and runs >= min_runs:
            return runs / elapsed


LTV = Path(sys.executable).with_name("ltv")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served_pki(directory: Path) -> Iterator[str]:
    """``ltv pki init`` + ``ltv pki serve`` on a free loopback port; yields the base URL."""
    port = free_port()
    subprocess.run([str(LTV), "pki", "init", str(directory), "--port", str(port)], check=True,
                   capture_output=True)
    log = (directory.parent / "serve.log").open("wb")
    server = subprocess.Popen([str(LTV), "pki", "serve", str(directory)], stdout=log,
                              stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("ltv pki serve did not come up")
            time.sleep(0.05)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
