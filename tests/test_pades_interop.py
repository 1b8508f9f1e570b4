"""Independent verdicts on our PAdES files: pdfsig (poppler + NSS), qpdf --check, and pyHanko's
EN 319 102-1 engine (``ades_lta_validation``, root.pem the only trust anchor, revocation
required, nothing fetched). TESTING.md lists the gotchas: pdfsig always exits 0 (its output is
parsed), cannot validate document time-stamps, and says "Trusted" only while OCSP answers.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from test_pades import make_pdf, sample_pdf, sign_pdf

from ltv.clock import OffsetClock, SystemClock
from ltv.formats import pades
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.online.timestamps import HttpTimestampClient
from ltv.signing import SignatureLevel, SigningServices

pytestmark = pytest.mark.skipif(
    not (shutil.which("pdfsig") and shutil.which("certutil") and shutil.which("qpdf")),
    reason="pdfsig (poppler-utils), certutil (libnss3-tools) and qpdf are needed",
)


@pytest.fixture(scope="module")
def live_at(pki_server) -> Iterator[datetime]:
    """pdfsig (NSS) checks certificates and OCSP at the real time: run the servers there."""
    now = SystemClock().now()
    pki_server.restart(at=now)
    try:
        yield now
    finally:
        pki_server.restart()


@pytest.fixture(scope="module")
def services(pki, pki_server, live_at) -> Iterator[SigningServices]:
    tsa = HttpTimestampClient(pki_server.tsa_url)
    yield SigningServices(
        timestamp_client=tsa,
        ocsp_fetcher=HttpOCSPFetcher(),
        crl_fetcher=HttpCRLFetcher(),
        certificate_fetcher=HttpCertificateFetcher(),
        clock=OffsetClock(start=live_at),
        known_certificates=(pki.root,),
    )
    tsa.close()


@pytest.fixture(scope="module")
def nssdb(pki, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("nss")
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True,
                   capture_output=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{db}", "-n", "root", "-t", "CT,C,C",
                    "-i", str(pki.directory / "root.pem")], check=True, capture_output=True)
    return db


def pdfsig(pdf: bytes, nssdb: Path, tmp_path: Path) -> list[dict[str, str]]:
    """pdfsig's verdict per signature: {'kind', 'signature', 'certificate'}."""
    path = tmp_path / "check.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdfsig", "-nssdir", f"sql:{nssdb}", str(path)],
                          capture_output=True, text=True, timeout=120, check=False)
    out = done.stdout + done.stderr
    blocks = re.split(r"^Signature #\d+:\s*$", out, flags=re.M)[1:]
    verdicts = []
    for block in blocks:
        sig = re.search(r"Signature Validation: (.+)", block)
        cert = re.search(r"Certificate Validation: (.+)", block)
        sub = re.search(r"Signature Type: (.+)", block)
        verdicts.append({
            "kind": sub.group(1).strip() if sub else "",
            "signature": sig.group(1).strip() if sig else "",
            "certificate": cert.group(1).strip() if cert else "",
        })
    assert verdicts, out
    return verdicts


def assert_pdfsig_all_valid(pdf: bytes, nssdb: Path, tmp_path: Path, *,
                            expected_signatures: int) -> None:
    verdicts = pdfsig(pdf, nssdb, tmp_path)
    # pdfsig 22.12 lists a document time-stamp as type "unknown", never verified
    regular = [v for v in verdicts if v["kind"] in ("ETSI.CAdES.detached", "adbe.pkcs7.detached")]
    stamps = [v for v in verdicts if v not in regular]
    assert len(regular) == expected_signatures, verdicts
    assert len(stamps) == len(PdfFileReader(BytesIO(pdf)).embedded_timestamp_signatures), verdicts
    for v in regular:
        assert v["signature"] == "Signature is Valid.", verdicts
        assert v["certificate"] == "Certificate is Trusted.", verdicts
    for v in stamps:
        assert v["signature"] in (
            "Signature has not yet been verified.",
            "Unable to validate this type of signature.",
            "Signature is Valid.",
        ), verdicts


def qpdf_check(pdf: bytes, tmp_path: Path) -> None:
    path = tmp_path / "qpdf.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No syntax or stream encoding errors found" in done.stdout


def ades_lta(pdf: bytes, pki, at: datetime) -> list[str]:
    """pyHanko's EN 319 102-1 LTA indication for every regular signature."""
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.policy_decl import (
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.authority import CertTrustAnchor
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
    from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
    from pyhanko_certvalidator.registry import SimpleTrustManager

    root = asn1_x509.Certificate.load(_der(pki.root))
    spec = PdfSignatureValidationSpec(SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=[CertTrustAnchor(root)]),
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
        ),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY),
    ))
    when = at + timedelta(minutes=10)
    timing = ValidationTimingInfo(validation_time=when, best_signature_time=when,
                                  point_in_time_validation=True)
    reader = PdfFileReader(BytesIO(pdf))
    results = []
    for sig in reader.embedded_regular_signatures:
        result = asyncio.run(ades_lta_validation(sig, spec, timing_info=timing))
        print("ades:", result.failure_msg)
        results.append(f"{result.ades_subindic.status.name}:{result.ades_subindic.name}"
                       if result.ades_subindic else "NONE")
    return results


def _der(cert) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.DER)


@pytest.mark.parametrize("level", list(SignatureLevel), ids=lambda lv: lv.value)
@pytest.mark.parametrize("phone_name", ["phone_rsa", "phone_ec"])
def test_pdfsig_and_qpdf_every_level(request, phone_name, level, services, nssdb,
                                     tmp_path) -> None:
    phone = request.getfixturevalue(phone_name)
    signed = sign_pdf(sample_pdf(), phone, level, services)
    assert_pdfsig_all_valid(signed, nssdb, tmp_path, expected_signatures=1)
    qpdf_check(signed, tmp_path)


def test_two_signers_and_two_renewals(phone_rsa, phone_ec, services, nssdb, pki, live_at,
                                      tmp_path) -> None:
    first = sign_pdf(sample_pdf(), phone_rsa, SignatureLevel.B_LTA, services, visible=True)
    both = sign_pdf(first, phone_ec, SignatureLevel.B_LTA, services, visible=True,
                    reason="承認")
    assert_pdfsig_all_valid(both, nssdb, tmp_path, expected_signatures=2)
    qpdf_check(both, tmp_path)
    assert ades_lta(both, pki, live_at) == ["PASSED:OK", "PASSED:OK"]

    single = sign_pdf(sample_pdf(), phone_ec, SignatureLevel.B_LTA, services)
    renewed = single
    for _ in range(2):
        renewed = pades.BACKEND.augment(renewed, SignatureLevel.B_LTA, detached_content=None,
                                        services=services)
    assert len(PdfFileReader(BytesIO(renewed)).embedded_timestamp_signatures) == 3
    assert_pdfsig_all_valid(renewed, nssdb, tmp_path, expected_signatures=1)
    qpdf_check(renewed, tmp_path)
    assert ades_lta(renewed, pki, live_at) == ["PASSED:OK"]


@pytest.mark.parametrize("phone_name", ["phone_rsa", "phone_ec"])
def test_pyhanko_ades_accepts_b_lta(request, phone_name, services, pki, live_at) -> None:
    phone = request.getfixturevalue(phone_name)
    signed = sign_pdf(sample_pdf(), phone, SignatureLevel.B_LTA, services)
    assert ades_lta(signed, pki, live_at) == ["PASSED:OK"]


def test_pyhanko_made_signature_extended_to_lta(pki, services, nssdb, live_at, tmp_path) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    directory = tmp_path / "signer"
    pki.issue_software_signer("Other Tool", directory, at=live_at)
    signer = signers.SimpleSigner.load(
        str(directory / "key.pem"), str(directory / "cert.pem"),
        ca_chain_files=(str(directory / "chain.pem"),),
    )
    foreign = signers.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(make_pdf("Foreign"))),
        signers.PdfSignatureMetadata(field_name="Other", subfilter=SigSeedSubFilter.PADES),
        signer=signer,
    ).getvalue()
    lta = pades.BACKEND.augment(foreign, SignatureLevel.B_LTA, detached_content=None,
                                services=services)
    assert_pdfsig_all_valid(lta, nssdb, tmp_path, expected_signatures=1)
    qpdf_check(lta, tmp_path)
    assert ades_lta(lta, pki, live_at) == ["PASSED:OK"]
