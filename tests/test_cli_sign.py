"""``ltv sign`` / ``ltv extend`` for CAdES: OpenSSL's verdict, other tools' input, bad input."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms as acms
from conftest import PkiServer, ltv_cli
from test_cades import ATS_V3, SIG_TS, check_all

from samples.phone import Phone
from samples.pki import SamplePki

CONTRACT = b"%s\n" % ("契約書 " * 2000).encode()


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-doc") / "contract.txt"
    path.write_bytes(CONTRACT)
    return path


@pytest.fixture(scope="module")
def software_signer(pki: SamplePki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("signer") / "signer"
    result = ltv_cli("pki", "issue", pki.directory, "alice", "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def _signer_fields(signed: bytes) -> tuple[bytes, bytes]:
    si = acms.ContentInfo.load(signed)["content"]["signer_infos"][0]
    return si["signed_attrs"].dump(), si["signature"].dump()


@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
def test_sign_with_phone_b_lta(detached: bool, phone_ec: Phone, pki: SamplePki,
                               pki_server: PkiServer, document: Path, tmp_path: Path) -> None:
    out = tmp_path / "contract.p7s"
    args: list[str | Path] = ["sign", document, "--format", "cades", "--level", "B-LTA",
                              "--phone", phone_ec.directory, "--pki", pki.directory, "-o", out]
    result = ltv_cli(*args, *(["--detached"] if detached else []))
    assert result.returncode == 0, result.stderr
    tokens = check_all(out.read_bytes(), tmp_path, pki, content=CONTRACT, detached=detached)
    assert [t.oid for t in tokens] == [SIG_TS, ATS_V3]


def test_sign_with_key_and_env_tsa(software_signer: Path, pki: SamplePki,
                                   pki_server: PkiServer, document: Path,
                                   tmp_path: Path) -> None:
    out = tmp_path / "contract.p7s"
    result = ltv_cli("sign", document, "--format", "cades", "--level", "B-T",
                     "--key", software_signer / "key.pem", "--cert", software_signer / "cert.pem",
                     "--chain", software_signer / "chain.pem", "-o", out,
                     env={"LTV_TSA_URL": pki_server.tsa_url, "LTV_PKI": ""})
    assert result.returncode == 0, result.stderr
    assert [t.oid for t in check_all(out.read_bytes(), tmp_path, pki, content=CONTRACT,
                                     detached=False)] == [SIG_TS]


@pytest.mark.parametrize("detach", [False, True], ids=["opaque", "detached"])
def test_extend_openssl_cades_to_lta(detach: bool, software_signer: Path, pki: SamplePki,
                                     pki_server: PkiServer, document: Path,
                                     tmp_path: Path) -> None:
    theirs = tmp_path / "openssl.p7s"
    cmd = ["openssl", "cms", "-sign", "-cades", "-binary", "-outform", "DER",
           "-in", str(document), "-signer", str(software_signer / "cert.pem"),
           "-inkey", str(software_signer / "key.pem"),
           "-certfile", str(software_signer / "chain.pem"), "-out", str(theirs)]
    subprocess.run([*cmd, *([] if detach else ["-nodetach"])], check=True)
    original = theirs.read_bytes()
    out = tmp_path / "extended.p7s"
    args: list[str | Path] = ["extend", theirs, "--level", "B-LTA", "--pki", pki.directory,
                              "-o", out]
    result = ltv_cli(*args, *(["--detached", str(document)] if detach else []))
    assert result.returncode == 0, result.stderr
    extended = out.read_bytes()
    assert _signer_fields(extended) == _signer_fields(original)
    tokens = check_all(extended, tmp_path, pki, content=CONTRACT, detached=detach)
    assert [t.oid for t in tokens] == [SIG_TS, ATS_V3]
    # Renew: LTA on LTA.
    renewed = tmp_path / "renewed.p7s"
    args = ["extend", out, "--level", "B-LTA", "--pki", pki.directory, "-o", renewed]
    result = ltv_cli(*args, *(["--detached", str(document)] if detach else []))
    assert result.returncode == 0, result.stderr
    tokens = check_all(renewed.read_bytes(), tmp_path, pki, content=CONTRACT, detached=detach)
    assert [t.oid for t in tokens] == [SIG_TS, ATS_V3, ATS_V3]
    assert _signer_fields(renewed.read_bytes()) == _signer_fields(original)


def _truncated(tmp_path: Path, phone: Phone, document: Path) -> bytes:
    out = tmp_path / "b.p7s"
    assert ltv_cli("sign", document, "--format", "cades", "--level", "B-B", "--phone",
                   phone.directory, "-o", out).returncode == 0
    return out.read_bytes()[:-100]


@pytest.mark.parametrize("case", ["garbage", "truncated", "pdf-as-cades", "empty-cms"])
def test_extend_broken_input(case: str, phone_ec: Phone, pki: SamplePki, pki_server: PkiServer,
                             document: Path, tmp_path: Path) -> None:
    data = {
        "garbage": b"\x01\x02 this is not a signature \xff" * 10,
        "truncated": _truncated(tmp_path, phone_ec, document) if case == "truncated" else b"",
        "pdf-as-cades": b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n",
        "empty-cms": bytes.fromhex("3003020101"),
    }[case]
    signed = tmp_path / "in.p7s"
    signed.write_bytes(data)
    out = tmp_path / "out.p7s"
    args: list[str | Path] = ["extend", signed, "--level", "B-LTA", "--pki", pki.directory,
                              "-o", out]
    if case == "pdf-as-cades":
        args += ["--format", "cades"]
    result = ltv_cli(*args)
    assert result.returncode == 4, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ltv: error:"), result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert list(tmp_path.glob(".out.p7s.*")) == []


def test_sign_without_tsa_fails_cleanly(phone_ec: Phone, document: Path,
                                        tmp_path: Path) -> None:
    out = tmp_path / "x.p7s"
    result = ltv_cli("sign", document, "--format", "cades", "--level", "B-T", "--phone",
                     phone_ec.directory, "-o", out, env={"LTV_PKI": "", "LTV_TSA_URL": ""})
    assert result.returncode == 4
    assert "time-stamp authority" in result.stderr
    assert not out.exists()


def test_sign_when_tsa_is_down_names_the_url(phone_ec: Phone, document: Path,
                                             tmp_path: Path) -> None:
    out = tmp_path / "x.p7s"
    result = ltv_cli("sign", document, "--format", "cades", "--level", "B-T", "--phone",
                     phone_ec.directory, "--tsa", "http://127.0.0.1:9/tsa", "-o", out)
    assert result.returncode == 4
    assert "http://127.0.0.1:9/tsa" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
