"""Issue #17's ten-year-plus story through the command line, with its control.

One PKI and phone sign three contracts at B-LTA in 2026 (RSA-2048 everywhere: signer, CAs,
TSA); the CAdES one is archived. Then two futures from the same start:

* **ML-DSA**: year 3 the TSA rolls over to ML-DSA-65 (under the ML-DSA-87 ``pq-root``) and
  ``ltv archive renew --margin 2555`` renews the chain because its newest timestamp rests on
  RSA-2048, whose sunset (2036-01-01, NIST IR 8547) falls within the margin; ``ltv extend``
  adds an ML-DSA archive timestamp to the CAdES, PAdES and XAdES files; year 8 a new ML-DSA key
  and the SHA-512 hash-tree renewal. In 2040 ``ltv archive verify`` passes offline.
* **RSA only** (the control): the same renewals with RSA TSA keys. In 2040 the newest
  timestamp rests on RSA-2048 past its sunset: INDETERMINATE /
  CRYPTO_CONSTRAINTS_FAILURE_NO_POE, and the message names RSA-2048.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import PkiServer, free_port, ltv_cli

from ltv.clock import format_time
from ltv.timestamps import parse_token
from samples.pki import SamplePki

EPOCH = datetime(2026, 3, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
SIGN_AT = EPOCH + timedelta(days=1)
Y3, Y8 = EPOCH + 3 * YEAR, EPOCH + 8 * YEAR
Y2040 = datetime(2040, 1, 1, tzinfo=UTC)
CONTRACTS = Path(__file__).resolve().parents[1] / "samples" / "contracts"


@dataclass
class Story:
    work: Path
    package: str


def _ok(*args: object) -> str:
    result = ltv_cli(*args)
    assert result.returncode == 0, f"ltv {args}: {result.stdout}{result.stderr}"
    return str(result.stdout)


def _future(work: Path, pki_dir: Path, store: Path, key: list[str], *,
            extend: bool) -> None:
    """Year 3 (rollover with ``key``, renewal by sunset, extend) and year 8 (hash tree)."""
    server = PkiServer(pki_dir, SamplePki.load(pki_dir).port, at=Y3)
    _ok("pki", "rollover-tsa", pki_dir, "--at", format_time(Y3), *key)
    server.start(at=Y3)
    try:
        plan = _ok("archive", "renew", "--dry-run", "--store", store, "--margin", "2555",
                   "--at", format_time(Y3))
        assert "(RSA-2048 sunset 2036-01-01; TSA certificate expires" in plan, plan
        out = _ok("archive", "renew", "--store", store, "--pki", pki_dir, "--margin", "2555",
                  "--at", format_time(Y3))
        assert "renewed 1 by timestamp" in out, out
        if extend:
            for name, extra in (("signed.p7s", ["--detached", work / "contract.txt"]),
                                ("signed.pdf", []), ("signed.xml", [])):
                _ok("extend", work / name, "--level", "B-LTA", "--pki", pki_dir, *extra,
                    "-o", work / f"pq-{name}")
        server.stop()
        _ok("pki", "rollover-tsa", pki_dir, "--at", format_time(Y8))
        server.start(at=Y8)
        out = _ok("archive", "renew", "--store", store, "--pki", pki_dir, "--hash-algorithm",
                  "sha512", "--at", format_time(Y8))
        assert "1 by hash tree" in out, out
    finally:
        server.stop()


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    work = tmp_path_factory.mktemp("pq-story")
    pki = SamplePki.init(work / "pki", port=free_port(), at=EPOCH)
    server = PkiServer(pki.directory, pki.port, at=SIGN_AT).start()
    try:
        _ok("phone", "enroll", work / "phone", "--pki", pki.directory, "--at",
            format_time(EPOCH + timedelta(hours=12)))
        for name in ("contract.pdf", "contract.xml", "contract.txt"):
            shutil.copyfile(CONTRACTS / name, work / name)
        common = ["--phone", work / "phone", "--pki", pki.directory]
        _ok("sign", work / "contract.txt", "--format", "cades", "--level", "B-LTA", "--detached",
            *common, "-o", work / "signed.p7s")
        _ok("sign", work / "contract.pdf", "--format", "pades", "--level", "B-LTA", *common,
            "-o", work / "signed.pdf")
        _ok("sign", work / "contract.xml", "--format", "xades", "--level", "B-LTA", *common,
            "-o", work / "signed.xml")
        package = _ok("archive", "put", work / "signed.p7s", "--detached", work / "contract.txt",
                      "--store", work / "store", "--pki", pki.directory, "--at",
                      format_time(SIGN_AT)).strip()
    finally:
        server.stop()
    shutil.copytree(work / "pki", work / "pki-rsa")
    shutil.copytree(work / "store", work / "store-rsa")
    _future(work, work / "pki", work / "store", ["--tsa-key", "ml-dsa-65"], extend=True)
    _future(work, work / "pki-rsa", work / "store-rsa", [], extend=False)
    return Story(work=work, package=package)


def _verify_2040(story: Story, store: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    report = story.work / f"report-{store}.json"
    pki = story.work / "pki"
    result = ltv_cli("archive", "verify", story.package, "--store", story.work / store,
                     "--at", format_time(Y2040), "--trust", pki / "root.pem", "--trust",
                     pki / "pq-root.pem", "--json", report)
    return result, json.loads(report.read_text("utf-8"))["signatures"][0]


def test_renewed_onto_ml_dsa_passes_in_2040(story: Story) -> None:
    result, sig = _verify_2040(story, "store")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("PASSED: ")
    assert sig["indication"] == "TOTAL-PASSED"
    records = [t for t in sig["timestamps"] if t["kind"] == "evidence-record"]
    assert [t["tsa"].split(",")[0] for t in records] == [
        "CN=LTV Sample TSA 1", "CN=LTV Sample TSA 2", "CN=LTV Sample TSA 3"]
    assert all(t["indication"] == "PASSED" for t in sig["timestamps"])


def test_without_ml_dsa_renewal_2040_names_rsa(story: Story) -> None:
    result, sig = _verify_2040(story, "store-rsa")
    assert result.returncode == 3, result.stdout + result.stderr
    assert sig["indication"] == "INDETERMINATE"
    assert sig["subindication"] == "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    assert "RSA-2048" in sig["message"]
    assert "not accepted after 2036-01-01" in sig["message"]
    assert result.stdout.startswith("INDETERMINATE: ")
    assert "CRYPTO_CONSTRAINTS_FAILURE_NO_POE" in result.stdout
    newest = [t for t in sig["timestamps"] if t["kind"] == "evidence-record"][-1]
    assert newest["subindication"] == "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    assert "RSA-2048" in newest["message"]


def test_validate_past_the_sunset_names_rsa(story: Story) -> None:
    """`ltv validate --at 2036-01-02` of the 2026 file (no renewal): the evidence rests on
    RSA-2048, the report says so."""
    result = ltv_cli("validate", story.work / "signed.p7s", "--detached",
                     story.work / "contract.txt", "--offline", "--at", "2036-01-02T00:00:00Z",
                     "--trust", story.work / "pki" / "root.pem")
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout.startswith("INDETERMINATE: ")
    assert "CRYPTO_CONSTRAINTS_FAILURE_NO_POE" in result.stdout
    assert "RSA-2048" in result.stdout


@pytest.mark.parametrize(("name", "detached"), [("signed.p7s", True), ("signed.pdf", False),
                                                 ("signed.xml", False)])
def test_extend_adds_an_ml_dsa_archive_timestamp(story: Story, name: str,
                                                 detached: bool) -> None:
    extended = story.work / f"pq-{name}"
    report = story.work / f"report-{name}.json"
    server = PkiServer(story.work / "pki", SamplePki.load(story.work / "pki").port,
                       at=Y3 + timedelta(hours=1)).start()
    try:
        extra = ["--detached", story.work / "contract.txt"] if detached else []
        result = ltv_cli("validate", extended, *extra, "--at",
                         format_time(Y3 + timedelta(hours=1)), "--trust",
                         story.work / "pki" / "root.pem", "--trust",
                         story.work / "pki" / "pq-root.pem", "--fetch-allow", "127.0.0.1",
                         "--json", report)
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    sig = json.loads(report.read_text("utf-8"))["signatures"][0]
    newest = max(sig["timestamps"], key=lambda t: t["gen_time"])
    assert newest["kind"] in ("archive", "document")
    assert newest["tsa"].startswith("CN=LTV Sample TSA 2")
    assert newest["indication"] == "PASSED"


def test_pdfsig_reads_the_ml_dsa_document_timestamp(story: Story) -> None:
    """poppler cannot verify any RFC 3161 document timestamp (ML-DSA or not): it must still read
    the file, report the RSA signature as valid as before, and list the ML-DSA document
    timestamp like the RSA one ("Signing Hash Algorithm: SHA-512", "Signature has not yet been
    verified", "Unable to validate this type of signature" on stderr)."""
    pdfsig = shutil.which("pdfsig")
    assert pdfsig is not None, "pdfsig (poppler-utils) is part of make setup"
    proc = subprocess.run([pdfsig, str(story.work / "pq-signed.pdf")], capture_output=True,
                          text=True, timeout=60, check=False)
    out = proc.stdout + proc.stderr
    assert "Signature #1" in out, out
    assert out.count("Signature #") == 3, out  # signature, RSA doc-TS, ML-DSA doc-TS
    assert "Signature Validation: Signature is Valid." in out, out
    assert "Signing Hash Algorithm: SHA-512" in out, out  # the ML-DSA token's SignerInfo
    token = parse_token(_last_token(story))
    assert token.post_quantum_algorithm == "ml-dsa-65"


def _last_token(story: Story) -> bytes:
    """The ML-DSA document timestamp token of pq-signed.pdf (the last /Contents, without the
    zero padding after the DER)."""
    from asn1crypto import cms
    from pyhanko.pdf_utils.reader import PdfFileReader

    with (story.work / "pq-signed.pdf").open("rb") as handle:
        fields = list(PdfFileReader(handle).embedded_signatures)
        return bytes(cms.ContentInfo.load(bytes(fields[-1].pkcs7_content)).dump())
