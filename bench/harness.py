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


class LtvServe:
    """``ltv serve --port P [--store STORE] ARGS`` as a child process on a free loopback port,
    ready when ``/healthz`` answers (the bench and the tests share this one launcher).

    ``base`` (also ``base_url``) is its URL; with ``store`` given, :meth:`key` adds a tenant to
    that store and returns its ``Authorization`` header; :meth:`status` reads a field of the
    process's ``/proc/PID/status`` (``VmRSS``, ``VmHWM``, ``Threads``)."""

    def __init__(self, *args: str, log: Path, store: str | None = None,
                 env: dict[str, str] | None = None, timeout: float = 60) -> None:
        self.store = store
        self.port = free_port()
        self.base = self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        argv = [str(LTV), "serve", "--port", str(self.port),
                *(("--store", store) if store is not None else ()), *args]
        with log.open("ab") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"ltv serve exited: {log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ltv serve did not come up: {log.read_text()[-3000:]}")
            time.sleep(0.05)

    def key(self, tenant: str) -> dict[str, str]:
        if self.store is None:
            raise RuntimeError("key() needs the server's store")
        done = subprocess.run([str(LTV), "tenant", "add", tenant, "--store", self.store],
                              capture_output=True, text=True, check=True)
        return {"Authorization": f"Bearer {done.stdout.strip()}"}

    def status(self, field: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def ltv_serving(*args: str, log: Path, store: str | None = None,
                env: dict[str, str] | None = None) -> Iterator[LtvServe]:
    """:class:`LtvServe` for the length of a ``with`` block."""
    server = LtvServe(*args, log=log, store=store, env=env)
    try:
        yield server
    finally:
        server.stop()


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
