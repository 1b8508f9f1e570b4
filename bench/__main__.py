"""Run every bench/bench_*.py module's ``main()`` (or those named on the command line).

The fuzzer (``bench_fuzz``, hours at its full 100,000 inputs per parser) runs only when named:
``make bench BENCH=fuzz``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

#: Benches run only when named on the command line.
ON_REQUEST = frozenset({"bench_fuzz"})


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(p.stem for p in here.glob("bench_*.py") if p.stem not in ON_REQUEST)
    for name in names:
        stem = name if name.startswith("bench_") else f"bench_{name}"
        module = importlib.import_module(f"bench.{stem}")
        module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
