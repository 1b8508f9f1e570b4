"""Benchmark harness: each bench module records figures; results land in bench/results/NAME.json.

Benchmarks are run on demand (`make bench`), never as timed tests: the machines are shared and
noisy. Every figure sits beside its peer measured in the same run, so ratios mean something.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
