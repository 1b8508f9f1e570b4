"""Signatures made by other tools (issue #19): every row of tests/vectors/foreign/MANIFEST.tsv.

Each row is validated offline in-process (the library behind ``ltv validate --offline``), once
with no trust anchor and, where the manifest names a root, once more with that root at a time
inside the signer certificate's validity. What must hold (tests/vectors/foreign/README.md):

* ``intact``: never TOTAL-FAILED with HASH_FAILURE, SIG_CRYPTO_FAILURE or FORMAT_FAILURE;
* ``broken``: never TOTAL-PASSED;
* ``unknown``: any verdict;
* always: no crash, no traceback logged, no "bad input" (exit 4) for a well-formed signature.

Rows that cannot hold yet are ``xfail(strict=True)`` with their reason in :data:`KNOWN_GAPS`,
so progress shows (a fixed row turns XPASS and fails until its entry is removed). A subset runs
through the ``ltv`` console script too (exit code, one line per signature, no traceback).
``test_summary_table`` prints the verdicts of every row (shown with ``-rA`` or ``-s``).
"""

from __future__ import annotations

import csv
import functools
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ltv_cli

from ltv.errors import LtvError
from ltv.validation import (
    Indication,
    SubIndication,
    ValidationPolicy,
    ValidationReport,
    load_trust_anchors,
    validate,
)

VECTORS = Path(__file__).parent / "vectors" / "foreign"
NO_TRUST_AT = datetime(2020, 1, 1, tzinfo=UTC)
INTEGRITY_FAILURES = frozenset({SubIndication.HASH_FAILURE, SubIndication.SIG_CRYPTO_FAILURE,
                                SubIndication.FORMAT_FAILURE})

# file -> why it cannot hold yet (one line each); removing an entry is progress.
# pades-5-signatures-and-1-document-timestamp.pdf (last trailer /Prev 0) reads since the lenient
# cross-reference reading was merged: it holds now, so no gap is left.
KNOWN_GAPS: dict[str, str] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    file: str
    format: str
    detached: str | None
    claimed_level: str
    root: str | None
    expect: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """One validation run: the verdicts, or what went wrong instead."""

    verdicts: tuple[tuple[Indication, SubIndication | None, str], ...] = ()
    bad_input: str | None = None  # LtvError: what the CLI reports with exit 4
    crash: str | None = None  # any other exception
    tracebacks: tuple[str, ...] = ()  # log records carrying exc_info (a traceback on stderr)
    at: datetime | None = None

    def text(self) -> str:
        if self.crash:
            return f"CRASH {self.crash}"
        if self.bad_input:
            return f"EXIT4 {self.bad_input}"
        return ", ".join(f"{i.token}/{s.token if s else '-'}" for i, s, _ in self.verdicts)


def _rows() -> list[Row]:
    with (VECTORS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        return [Row(file=r["file"], format=r["format"],
                    detached=None if r["detached_data"] == "-" else r["detached_data"],
                    claimed_level=r["claimed_level"],
                    root=None if r["root_pem"] == "-" else r["root_pem"], expect=r["expect"])
                for r in csv.DictReader(handle, delimiter="\t")]


ROWS = _rows()


class _Tracebacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.levelno >= logging.WARNING:
            self.seen.append(f"{record.name}: {record.getMessage()}")


def _run(row: Row, *, root: str | None, at: datetime) -> Outcome:
    data = (VECTORS / row.file).read_bytes()
    detached = (VECTORS / row.detached).read_bytes() if row.detached else None
    anchors = load_trust_anchors([VECTORS / root]) if root else []
    policy = ValidationPolicy.default(trust_anchors=anchors)
    handler = _Tracebacks()
    logging.getLogger().addHandler(handler)
    try:
        report = validate(data, policy=policy, at=at, offline=True, detached_content=detached)
    except LtvError as exc:
        return Outcome(bad_input=f"{type(exc).__name__}: {exc}", tracebacks=tuple(handler.seen),
                       at=at)
    except Exception as exc:  # a crash is what this test looks for
        return Outcome(crash=f"{type(exc).__name__}: {exc}", tracebacks=tuple(handler.seen),
                       at=at)
    finally:
        logging.getLogger().removeHandler(handler)
    return Outcome(verdicts=_verdicts(report), tracebacks=tuple(handler.seen), at=at)


def _verdicts(report: ValidationReport
              ) -> tuple[tuple[Indication, SubIndication | None, str], ...]:
    return tuple((s.indication, s.subindication, s.message or "") for s in report.signatures)


def _time_inside_validity(row: Row) -> datetime:
    """A validation time inside the signer certificate's validity: just after the claimed
    signing time when there is one, else the middle of the validity period."""
    data = (VECTORS / row.file).read_bytes()
    detached = (VECTORS / row.detached).read_bytes() if row.detached else None
    try:
        report = validate(data, policy=ValidationPolicy.default(trust_anchors=[]),
                          at=NO_TRUST_AT, offline=True, detached_content=detached)
    except Exception:  # the no-trust run reports it
        return NO_TRUST_AT
    for sig in report.signatures:
        if sig.signer is None:
            continue
        start, end = sig.signer.not_before, sig.signer.not_after
        if sig.signing_time is not None and start <= sig.signing_time < end:
            return min(sig.signing_time + timedelta(hours=1), end - timedelta(seconds=1))
        return start + (end - start) / 2
    return NO_TRUST_AT


@functools.cache
def outcome(file: str) -> tuple[Outcome, Outcome | None]:
    """(no trust anchor at a fixed time, with the manifest's root inside the validity)."""
    row = next(r for r in ROWS if r.file == file)
    plain = _run(row, root=None, at=NO_TRUST_AT)
    trusted = _run(row, root=row.root, at=_time_inside_validity(row)) if row.root else None
    return plain, trusted


def _problems(row: Row, result: Outcome) -> list[str]:
    problems: list[str] = []
    if result.crash:
        problems.append(f"crash: {result.crash}")
    if result.tracebacks:
        problems.append(f"traceback logged: {result.tracebacks[0]}")
    if result.bad_input and row.expect != "broken":
        problems.append(f"well-formed signature reported as bad input: {result.bad_input}")
    for indication, sub, message in result.verdicts:
        if (row.expect == "intact" and indication is Indication.TOTAL_FAILED
                and sub in INTEGRITY_FAILURES):
            problems.append(f"intact signature TOTAL-FAILED/{sub.token}: {message}")
        if row.expect == "broken" and indication is Indication.TOTAL_PASSED:
            problems.append("broken signature TOTAL-PASSED")
    return problems


def _param(row: Row) -> object:
    marks = []
    if row.file in KNOWN_GAPS:
        marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[row.file]))
    return pytest.param(row, id=row.file, marks=marks)


def test_manifest_is_complete() -> None:
    assert len(ROWS) == 112
    assert {r.expect for r in ROWS} == {"intact", "broken", "unknown"}
    for row in ROWS:
        assert (VECTORS / row.file).is_file(), row.file
        if row.detached:
            assert (VECTORS / row.detached).is_file(), row.detached
        if row.root:
            assert (VECTORS / row.root).is_file(), row.root
    assert set(KNOWN_GAPS) <= {r.file for r in ROWS}


@pytest.mark.parametrize("row", [_param(r) for r in ROWS])
def test_foreign_signature(row: Row) -> None:
    plain, trusted = outcome(row.file)
    problems = [f"no trust anchor: {p}" for p in _problems(row, plain)]
    if trusted is not None:
        problems += [f"with {row.root} at {trusted.at}: {p}" for p in _problems(row, trusted)]
    assert not problems, "\n".join(problems)


# One row per class through the console script: exit code, output lines, clean stderr.
CLI_ROWS = [
    "dss-validation/cades/counterSig.p7m",
    "dss-validation/pades/pades-bes.pdf",
    "dss-validation/cades/dss-2011/cades-detached.pkcs7",
    "dss-validation/xades/xades-extended-t.xml",
    "xades4j/document.signed.bes.cs.xml",
    "dss-validation/pades/PAdES-LT.pdf",
    "dss-validation/pades/pades-spoofing-replaced-reason.pdf",
]


@pytest.mark.parametrize("file", CLI_ROWS)
def test_cli_on_foreign_signature(file: str) -> None:
    row = next(r for r in ROWS if r.file == file)
    args: list[str | Path] = ["validate", "--offline", "--at", "2020-01-01T00:00:00Z",
                              VECTORS / row.file]
    if row.detached:
        args += ["--detached", VECTORS / row.detached]
    result = ltv_cli(*args, timeout=60)
    plain, _ = outcome(row.file)
    assert "Traceback" not in result.stderr, result.stderr
    expected = {Indication.TOTAL_PASSED: 0, Indication.TOTAL_FAILED: 1}
    worst = max((expected.get(i, 3) for i, _, _ in plain.verdicts),
                key=lambda code: {0: 0, 3: 1, 1: 2}[code])
    assert result.returncode == worst, (result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    assert len(lines) == len(plain.verdicts)
    for line, (indication, sub, _) in zip(lines, plain.verdicts, strict=True):
        word = {Indication.TOTAL_PASSED: "PASSED", Indication.TOTAL_FAILED: "FAILED"}.get(
            indication, "INDETERMINATE")
        assert line.startswith(f"{word}: {VECTORS / row.file}"), line
        if sub is not None:
            assert f" {sub.token}" in line, line


def test_summary_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Every row's verdicts, and counts per expect class (printed, for the issue's record)."""
    counts: Counter[tuple[str, str]] = Counter()
    lines = [f"{'expect':8} {'no trust anchor':45} {'with its root':45} file"]
    for row in ROWS:
        plain, trusted = outcome(row.file)
        counts[(row.expect, "holds" if not _problems(row, plain) and not (
            trusted and _problems(row, trusted)) else "gap")] += 1
        lines.append(f"{row.expect:8} {plain.text()[:45]:45} "
                     f"{(trusted.text() if trusted else '-')[:45]:45} {row.file}")
        if trusted is not None and any(i is Indication.TOTAL_PASSED
                                       for i, _, _ in trusted.verdicts):
            counts[(row.expect, "PASSED with its root")] += 1
    lines.append("")
    lines.extend(f"{expect:8} {what}: {n}" for (expect, what), n in sorted(counts.items()))
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert sum(n for (_, what), n in counts.items() if what in ("holds", "gap")) == len(ROWS)
    assert counts[("intact", "gap")] + counts[("broken", "gap")] + counts[
        ("unknown", "gap")] == len(KNOWN_GAPS)
