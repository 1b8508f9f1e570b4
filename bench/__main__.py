"""Run every bench/bench_*.py module's ``main()`` (or those named on the command line)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(p.stem for p in here.glob("bench_*.py"))
    for name in names:
        stem = name if name.startswith("bench_") else f"bench_{name}"
        module = importlib.import_module(f"bench.{stem}")
        module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
