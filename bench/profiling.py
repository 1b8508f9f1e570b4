"""cProfile of a signing loop, its top entries written to bench/results/signing_profile.json.

Each signing bench (``bench_pades``, ``bench_cades``, ``bench_xades``) profiles a few of its
signatures *after* the timed runs (the profiler slows Python code down, so the timed figures are
taken without it) and records, under its own key, the functions with the most own time and the
most cumulative time, per signature. The other benches' sections are kept.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import RESULTS

PROFILE_FILE = "signing_profile.json"


def _where(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name  # a built-in
    parts = Path(filename).parts
    for anchor in ("site-packages", "ltv", "samples", "tsa"):
        if anchor in parts:
            index = len(parts) - 1 - parts[::-1].index(anchor)
            shown = "/".join(parts[index + (1 if anchor == "site-packages" else 0):])
            return f"{shown}:{line}({name})"
    return f"{Path(filename).name}:{line}({name})"


def profile(fn: Callable[[], object], *, runs: int, top: int = 25) -> dict[str, Any]:
    """Run ``fn`` ``runs`` times under cProfile; the top entries, in milliseconds per call."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        fn()
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())

    def rows(key: int) -> list[dict[str, Any]]:
        ordered = sorted(raw.items(), key=lambda item: item[1][key], reverse=True)[:top]
        return [{
            "function": _where(func),
            "calls_per_signature": entry[1] / runs,
            "own_ms_per_signature": entry[2] / runs * 1000,
            "cumulative_ms_per_signature": entry[3] / runs * 1000,
        } for func, entry in ordered]

    return {
        "profiled_signatures": runs,
        "profiled_ms_per_signature": total / runs * 1000,
        "top_own_time": rows(2),
        "top_cumulative_time": rows(3),
    }


def record_profile(section: str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` under ``section`` in bench/results/signing_profile.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / PROFILE_FILE
    try:
        existing: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        existing = {}
    existing.setdefault("benchmark", "signing_profile")
    existing.setdefault("sections", {})
    existing["sections"][section] = {
        "measured_at": datetime.now(UTC).isoformat(),
        "load_average": list(os.getloadavg()),
        **payload,
    }
    out.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out
