"""CLI start-up: ``ltv`` against pyHanko's CLI, whole processes, in the same run.

Setup: a fresh sample PKI served on loopback, one phone (RSA-2048, smartphone CA), one small
PAdES B-LTA contract signed with it (the files ``bench_validation`` validates by the hundred).

* help: ``ltv --help`` against ``pyhanko --help``;
* one file: ``ltv validate --offline --trust root.pem FILE`` (EN 319 102-1 B-LTA validation
  from the file's own material) against ``pyhanko sign validate --no-revocation-check --trust
  root.pem --trust-replace FILE`` (pyHanko's CLI has no offline LTV mode: without
  ``--no-revocation-check`` it ignores the DSS and fails for want of revocation data, so its
  run checks less than ours).

The project's modules are byte-compiled first, as an installed package's are (pyHanko's
are). Each command runs ``RUNS`` times, the two tools alternating; the figures are medians of
the wall time and of the process's CPU time (user + system, from ``wait4``), the latter less
disturbed by a busy machine. ``os.getloadavg()`` is recorded with them.

Run: ``python -m bench.bench_startup``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import LTV, record, served_pki

RUNS = 15
PYHANKO = Path(sys.executable).with_name("pyhanko")


def compile_sources() -> None:
    """Byte-compile the project's packages, as ``pip install`` does for an installed package
    (pyHanko's are): in an editable checkout with PYTHONDONTWRITEBYTECODE set, every ``ltv``
    process would otherwise compile its modules from source (~0.1 s of CPU)."""
    import compileall

    root = Path(__file__).resolve().parents[1]
    for package in ("ltv", "tsa", "archive", "samples"):
        compileall.compile_dir(root / package, quiet=1)


def run_timed(argv: list[str], *, stdout: Path | None = None) -> tuple[float, float, int, int]:
    """(wall s, CPU s, peak RSS KiB, exit code) of one child process (its stdout to
    ``stdout`` when given)."""
    out = stdout.open("wb") if stdout is not None else None
    try:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out or subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    finally:
        if out is not None:
            out.close()
    child.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, child.returncode


def compare(commands: dict[str, list[str]], runs: int = RUNS) -> dict[str, Any]:
    """Median wall and CPU seconds of each command, run alternately ``runs`` times."""
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    codes: dict[str, set[int]] = {name: set() for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            wall, cpu, _, code = run_timed(argv)
            walls[name].append(wall)
            cpus[name].append(cpu)
            codes[name].add(code)
    out: dict[str, Any] = {}
    for name in commands:
        out[f"{name}_wall_ms_median"] = statistics.median(walls[name]) * 1000
        out[f"{name}_cpu_ms_median"] = statistics.median(cpus[name]) * 1000
        out[f"{name}_exit_codes"] = sorted(codes[name])
    return out


def signed_contracts(base: Path, count: int) -> tuple[Path, list[Path]]:
    """``count`` distinct PAdES B-LTA contracts from one smartphone CA: (root.pem, files)."""
    from bench.bench_validation import _sign_range
    from samples.phone import Phone
    from samples.pki import SamplePki

    docs = base / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    with served_pki(base / "pki"):
        Phone.enroll(base / "phone", SamplePki.load(base / "pki"), key="rsa2048")
        _sign_range((str(base / "pki"), str(base / "phone"), str(docs), 0, count))
    return base / "pki" / "root.pem", sorted(docs.iterdir())


def main() -> None:
    compile_sources()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        root, (contract, *_) = signed_contracts(Path(tmp), 1)
        load_before = os.getloadavg()
        figures = compare({
            "ltv_help": [str(LTV), "--help"],
            "pyhanko_help": [str(PYHANKO), "--help"],
        })
        figures.update(compare({
            "ltv_validate_one": [str(LTV), "validate", "--offline", "--trust", str(root),
                                 str(contract)],
            "pyhanko_validate_one": [str(PYHANKO), "sign", "validate", "--no-revocation-check",
                                     "--trust", str(root), "--trust-replace", str(contract)],
        }))
    for what in ("help", "validate_one"):
        figures[f"{what}_cpu_ratio_pyhanko_over_ltv"] = (
            figures[f"pyhanko_{what}_cpu_ms_median"] / figures[f"ltv_{what}_cpu_ms_median"])
        figures[f"{what}_wall_ratio_pyhanko_over_ltv"] = (
            figures[f"pyhanko_{what}_wall_ms_median"] / figures[f"ltv_{what}_wall_ms_median"])
    figures["loadavg_before"] = list(load_before)
    figures["loadavg_after"] = list(os.getloadavg())
    record("startup", figures, notes=(
        f"Medians of {RUNS} alternating runs per command, whole processes. One small PAdES "
        "B-LTA contract (smartphone CA, RSA-2048). pyhanko sign validate runs with "
        "--no-revocation-check (it has no offline LTV mode and ignores the DSS otherwise); "
        "ltv validate --offline checks revocation from the DSS. Goal: ltv <= pyHanko (a "
        "ratio pyhanko/ltv >= 1). The machine is shared: see loadavg; CPU medians are the "
        "steadier figure."))


if __name__ == "__main__":
    main()
