"""DESIGN.md scenario 4, through the command line, for CAdES, PAdES and XAdES.

One timeline on its own PKI and server (it revokes and rolls the TSA over): the phone signs the
three contracts at B-LTA and they are archived; the phone's certificate is revoked
(superseded); at year 4 the TSA key rolls over and ``ltv archive renew`` renews the timestamps
(the first TSA certificate lives until year 6); at year 8 the TSA key rolls over again, to
ML-DSA-65 (issue #17: RSA-2048 sets on 2036-01-01 under NIST IR 8547, so evidence checked in
year 12 must not rest on an RSA timestamp), and the archive moves to SHA-512 (hash-tree
renewal); at year 12, when every original certificate (phone: 3 years, TSA 1 and 2: 6 years)
has expired and no server runs, ``ltv archive verify ID --at Y12`` proves each package offline
→ TOTAL-PASSED.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import PkiServer, free_port, ltv_cli

from ltv.clock import format_time
from samples.pki import SamplePki

EPOCH = datetime(2026, 3, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
SIGN_AT = EPOCH + timedelta(days=1)
Y4, Y8, Y12 = EPOCH + 4 * YEAR, EPOCH + 8 * YEAR, EPOCH + 12 * YEAR
CONTRACTS = Path(__file__).resolve().parents[2] / "samples" / "contracts"


@dataclass
class Timeline:
    work: Path
    ids: dict[str, str]


def _ok(*args: object) -> str:
    result = ltv_cli(*args)
    assert result.returncode == 0, f"ltv {args}: {result.stdout}{result.stderr}"
    return str(result.stdout)


@pytest.fixture(scope="module")
def timeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Timeline]:
    work = tmp_path_factory.mktemp("scenario4")
    pki = SamplePki.init(work / "pki", port=free_port(), at=EPOCH)
    server = PkiServer(pki.directory, pki.port, at=SIGN_AT).start()
    store = work / "store"
    ids: dict[str, str] = {}
    try:
        _ok("phone", "enroll", work / "phone", "--pki", pki.directory, "--at",
            format_time(EPOCH + timedelta(hours=12)))
        for name in ("contract.pdf", "contract.xml", "contract.txt"):
            shutil.copyfile(CONTRACTS / name, work / name)
        common = ["--phone", work / "phone", "--pki", pki.directory]
        _ok("sign", work / "contract.pdf", "--format", "pades", "--level", "B-LTA", *common,
            "-o", work / "signed.pdf")
        _ok("sign", work / "contract.xml", "--format", "xades", "--level", "B-LTA", *common,
            "-o", work / "signed.xml")
        _ok("sign", work / "contract.txt", "--format", "cades", "--level", "B-LTA", "--detached",
            *common, "-o", work / "signed.p7s")
        put = ["--store", store, "--pki", pki.directory, "--at", format_time(SIGN_AT)]
        ids["pades"] = _ok("archive", "put", work / "signed.pdf", "--meta", "contract-id=P-1",
                           *put).strip()
        ids["xades"] = _ok("archive", "put", work / "signed.xml", "--meta", "contract-id=X-1",
                           *put).strip()
        ids["cades"] = _ok("archive", "put", work / "signed.p7s", "--detached",
                           work / "contract.txt", "--meta", "contract-id=C-1", *put).strip()
        _ok("pki", "revoke", pki.directory, "--cert", work / "phone" / "cert.pem", "--reason",
            "superseded", "--at", format_time(SIGN_AT + timedelta(hours=1)))
        for year, extra, key in ((Y4, ["--margin", "1095"], []),
                                 (Y8, ["--hash-algorithm", "sha512"], ["--tsa-key", "ml-dsa-65"])):
            server.stop()
            _ok("pki", "rollover-tsa", pki.directory, "--at", format_time(year), *key)
            server.start(at=year)
            out = _ok("archive", "renew", "--store", store, "--pki", pki.directory, "--at",
                      format_time(year), *extra)
            assert "renewed 3 by timestamp" in out or "3 by hash tree" in out, out
            assert "1 TSA calls" in out, out  # one timestamp for all three batches
            # idempotent: a second run the same day does nothing
            again = _ok("archive", "renew", "--store", store, "--pki", pki.directory, "--at",
                        format_time(year), *extra)
            assert "0 TSA calls" in again, again
        yield Timeline(work=work, ids=ids)
    finally:
        server.stop()


@pytest.mark.parametrize("fmt", ["cades", "pades", "xades"])
def test_verify_at_year_12_offline(timeline: Timeline, fmt: str) -> None:
    store = timeline.work / "store"
    report = timeline.work / f"report-{fmt}.json"
    result = ltv_cli("archive", "verify", timeline.ids[fmt], "--store", store, "--at",
                     format_time(Y12), "--trust", timeline.work / "pki" / "root.pem",
                     "--trust", timeline.work / "pki" / "pq-root.pem", "--json", report)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("PASSED: "), result.stdout
    assert "3 archive timestamps" in result.stderr
    sig = json.loads(report.read_text())["signatures"][0]
    assert sig["indication"] == "TOTAL-PASSED"
    kinds = [t["kind"] for t in sig["timestamps"]]
    assert kinds.count("evidence-record") == 3


def test_without_renewals_year_12_fails(timeline: Timeline) -> None:
    """Control: the package's own timestamps alone do not carry it to year 12."""
    result = ltv_cli("validate", timeline.work / "signed.xml", "--offline", "--at",
                     format_time(Y12), "--trust", timeline.work / "pki" / "root.pem")
    assert result.returncode == 3, result.stdout + result.stderr


def test_export_er(timeline: Timeline) -> None:
    out = timeline.work / "er"
    summary = json.loads(_ok("archive", "export-er", timeline.ids["cades"], "--dir", out,
                             "--store", timeline.work / "store"))
    assert summary["digest_algorithms"] == ["sha256", "sha512"]
    assert summary["chains"] == [2, 1]
    assert (out / "evidence-record.ers").read_bytes()[:1] == b"\x30"
    assert len(list((out / "objects").iterdir())) == len(summary["objects"])
