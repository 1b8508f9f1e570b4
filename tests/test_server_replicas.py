"""Real ``ltv serve`` processes: two API replicas sharing only a ``file:`` store. A session
prepared on one is finished on the other; the B-LTA PDF passes pdfsig (poppler + NSS), qpdf and
our own validator. Also ``ltv tenant add`` and ``ltv phone sign-document`` end to end.

pdfsig checks certificates and OCSP at the real time, so the sample PKI's servers run at the
real time for this module (as in test_pades_interop) and the API replicas use the system clock.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import ltv_cli
from server_helpers import b64, session_body
from test_pades import sample_pdf

from bench.harness import LtvServe
from ltv.clock import SystemClock
from ltv.tbs import DataToBeSigned

needs_pdfsig = pytest.mark.skipif(
    not (shutil.which("pdfsig") and shutil.which("certutil") and shutil.which("qpdf")),
    reason="pdfsig (poppler-utils), certutil (libnss3-tools) and qpdf are needed",
)


class ApiProcess(LtvServe):
    """``ltv serve ARGS`` as a replica (the shared launcher of bench.harness)."""

    def __init__(self, *args: str, log: Path) -> None:
        super().__init__(*args, log=log)


@pytest.fixture(scope="module")
def live(pki_server) -> Iterator[None]:
    pki_server.restart(at=SystemClock().now())
    try:
        yield
    finally:
        pki_server.restart()


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory) -> str:
    return (tmp_path_factory.mktemp("api-store") / "store").as_uri()


@pytest.fixture(scope="module")
def api_key(shared_store) -> str:
    done = ltv_cli("tenant", "add", "acme", "--store", shared_store)
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert key.startswith("ltv_")
    assert "\n" not in key
    again = ltv_cli("tenant", "add", "acme", "--store", shared_store)
    assert again.returncode == 4
    assert "already exists" in again.stderr
    return key


@pytest.fixture(scope="module")
def replicas(pki, live, shared_store, api_key, tmp_path_factory) -> Iterator[list[ApiProcess]]:
    logs = tmp_path_factory.mktemp("api-logs")
    common = ["--store", shared_store, "--pki", str(pki.directory)]
    first = ApiProcess(*common, "--workers", "2", log=logs / "a.log")
    try:
        second = ApiProcess(*common, log=logs / "b.log")
    except BaseException:
        first.stop()
        raise
    try:
        yield [first, second]
    finally:
        first.stop()
        second.stop()


@pytest.fixture(scope="module")
def nssdb(pki, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("nss")
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True,
                   capture_output=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{db}", "-n", "root", "-t", "CT,C,C",
                    "-i", str(pki.directory / "root.pem")], check=True, capture_output=True)
    return db


@needs_pdfsig
def test_prepare_on_one_replica_finish_on_the_other(replicas, api_key, phone_rsa, nssdb,
                                                     tmp_path) -> None:
    from test_pades_interop import assert_pdfsig_all_valid, qpdf_check

    a, b = replicas
    headers = {"Authorization": f"Bearer {api_key}"}
    created = httpx.post(f"{a.base_url}/v1/signing-sessions", headers=headers, timeout=120,
                         json=session_body(sample_pdf(), phone_rsa, format="pades",
                                           level="B-LTA"))
    assert created.status_code == 201, created.text
    session = created.json()
    value = phone_rsa.sign(DataToBeSigned.from_json(session["data_to_be_signed"]))
    finished = httpx.post(b.base_url + session["signature_url"], headers=headers, timeout=300,
                          json={"signature_value": b64(value)})
    assert finished.status_code == 200, finished.text
    pdf = finished.content
    assert finished.headers["content-type"] == "application/pdf"
    # single use across replicas: the first replica refuses it now
    again = httpx.post(a.base_url + session["signature_url"], headers=headers, timeout=60,
                       json={"signature_value": b64(value)})
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")

    assert_pdfsig_all_valid(pdf, nssdb, tmp_path, expected_signatures=1)
    qpdf_check(pdf, tmp_path)
    report = httpx.post(f"{a.base_url}/v1/validations", headers=headers, timeout=300,
                        files={"file": ("signed.pdf", pdf)}).json()
    assert report["indication"] == "TOTAL-PASSED", report
    assert report["signatures"][0]["level"] == "B-LTA"
    metrics = httpx.get(f"{b.base_url}/metrics", headers=headers).text  # needs a key
    assert 'route="/v1/signing-sessions/{session_id}/signature",status="200"' in metrics


def test_phone_sign_document_command(replicas, api_key, phone_ec, tmp_path) -> None:
    from ltv.cli.phone_document import sign_document

    a, _ = replicas
    source = tmp_path / "contract.txt"
    source.write_bytes(b"a contract\n")
    out = tmp_path / "contract.p7m"
    result = CliRunner().invoke(sign_document, [
        str(source), "--phone", str(phone_ec.directory), "--server", a.base_url,
        "--api-key", api_key, "--format", "cades", "--level", "B-LTA", "-o", str(out)])
    assert result.exit_code == 0, result.output
    done = ltv_cli("validate", out, "--trust", phone_ec.directory / "chain.pem")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("PASSED:"), done.stdout

    bad = CliRunner().invoke(sign_document, [
        str(source), "--phone", str(phone_ec.directory), "--server", a.base_url,
        "--api-key", "ltv_" + "x" * 43, "--format", "cades", "-o", str(tmp_path / "no")])
    assert bad.exit_code != 0
    assert "401" in str(bad.exception) or "401" in bad.output
    assert not (tmp_path / "no").exists()
