"""Two-step signing with CAdES: prepare in one process, the phone signs, finish in another."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import SERVER_AT, PkiServer, ltv_cli
from test_cades import check_all

from ltv.algorithms import SignatureMechanism
from ltv.clock import FixedClock
from ltv.errors import SessionError, SignatureValueError
from ltv.signing import (
    PendingSignature,
    SignatureFormat,
    SignatureLevel,
    SigningOptions,
    SigningServices,
    finish,
    prepare,
)
from ltv.tbs import DataToBeSigned, TbsForm
from samples.phone import Phone
from samples.pki import SamplePki

PREPARE = textwrap.dedent("""
    import sys
    from pathlib import Path
    from ltv.signing import SignatureFormat, SignatureLevel, SigningOptions, prepare
    from samples.phone import Phone
    phone = Phone(Path(sys.argv[1]))
    pending = prepare(Path(sys.argv[2]), [phone.certificate, *phone.chain],
                      SignatureFormat.CADES, SignatureLevel.B_LTA,
                      SigningOptions(detached=sys.argv[4] == "detached"))
    Path(sys.argv[3]).write_bytes(pending.to_bytes())
""")

FINISH = textwrap.dedent("""
    import os, sys, tempfile
    from pathlib import Path
    from ltv.cli._services import build_services
    from ltv.errors import LtvError
    from ltv.signing import PendingSignature, finish
    pending = PendingSignature.from_bytes(Path(sys.argv[1]).read_bytes())
    value = Path(sys.argv[2]).read_bytes()
    try:
        signed = finish(pending, value, document=Path(sys.argv[3]),
                        services=build_services(pki=Path(sys.argv[5])))
    except LtvError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(4)
    Path(sys.argv[4]).write_bytes(signed)
""")


def _python(script: str, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script, *map(str, args)],
                          capture_output=True, text=True, check=False, timeout=120)


def _phone_sign(phone: Phone, pending_path: Path, out: Path) -> None:
    pending = PendingSignature.from_bytes(pending_path.read_bytes())
    tbs = pending_path.with_name("tbs.json")
    tbs.write_text(json.dumps(pending.data_to_be_signed.to_json()))
    result = ltv_cli("phone", "sign", phone.directory, "--tbs-json", tbs, "-o", out)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("packaging", ["attached", "detached"])
def test_prepare_phone_finish_in_separate_processes(packaging: str, phone_rsa: Phone,
                                                    pki: SamplePki, pki_server: PkiServer,
                                                    tmp_path: Path) -> None:
    document = tmp_path / "contract.bin"
    document.write_bytes(b"\x00\x01contract\xff" * 5000)
    pending_path = tmp_path / "pending.json"
    result = _python(PREPARE, phone_rsa.directory, document, pending_path, packaging)
    assert result.returncode == 0, result.stderr
    value = tmp_path / "value.bin"
    _phone_sign(phone_rsa, pending_path, value)
    out = tmp_path / "signed.p7s"
    result = _python(FINISH, pending_path, value, document, out, pki.directory)
    assert result.returncode == 0, result.stderr
    tokens = check_all(out.read_bytes(), tmp_path, pki, content=document.read_bytes(),
                       detached=packaging == "detached")
    assert len(tokens) == 2


def test_wrong_key_value_is_refused_without_output(phone_rsa: Phone, phone_ec: Phone,
                                                   pki: SamplePki, pki_server: PkiServer,
                                                   tmp_path: Path) -> None:
    document = tmp_path / "contract.bin"
    document.write_bytes(b"contract")
    pending_path = tmp_path / "pending.json"
    assert _python(PREPARE, phone_rsa.directory, document, pending_path,
                   "attached").returncode == 0
    pending = PendingSignature.from_bytes(pending_path.read_bytes())
    # Another phone's key, and a truncated value of the right one.
    other = tmp_path / "other.bin"
    tbs = pending.data_to_be_signed
    other.write_bytes(phone_ec.sign(DataToBeSigned(
        form=TbsForm.DIGEST, data=tbs.digest(), digest_algorithm=tbs.digest_algorithm,
        mechanism=SignatureMechanism.ECDSA)))
    good = tmp_path / "good.bin"
    _phone_sign(phone_rsa, pending_path, good)
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(good.read_bytes()[:-7])
    for value in (other, truncated):
        out = tmp_path / f"out-{value.stem}.p7s"
        result = _python(FINISH, pending_path, value, document, out, pki.directory)
        assert result.returncode == 4
        assert len(result.stderr.strip().splitlines()) == 1
        assert "signature value" in result.stderr
        assert not out.exists()


def test_wrong_value_in_process(phone_rsa: Phone) -> None:
    pending = prepare(b"doc", [phone_rsa.certificate, *phone_rsa.chain], SignatureFormat.CADES,
                      SignatureLevel.B_B)
    value = phone_rsa.sign(pending.data_to_be_signed)
    with pytest.raises(SignatureValueError):
        finish(pending, value[:-1], document=b"doc")
    with pytest.raises(SignatureValueError):
        finish(pending, bytes(len(value)), document=b"doc")
    assert finish(pending, value, document=b"doc")


def test_expired_session_is_refused(phone_ec: Phone) -> None:
    start = SERVER_AT
    pending = prepare(b"doc", [phone_ec.certificate, *phone_ec.chain], SignatureFormat.CADES,
                      SignatureLevel.B_B, SigningOptions(session_lifetime=timedelta(minutes=5)),
                      clock=FixedClock(start))
    value = phone_ec.sign(pending.data_to_be_signed)
    late = SigningServices(clock=FixedClock(start + timedelta(minutes=6)))
    with pytest.raises(SessionError, match="expired"):
        finish(pending, value, document=b"doc", services=late)
    in_time = SigningServices(clock=FixedClock(start + timedelta(minutes=4)))
    assert finish(pending, value, document=b"doc", services=in_time)


@pytest.mark.parametrize("form", [TbsForm.DIGEST_INFO, TbsForm.MESSAGE])
def test_other_tbs_forms(form: TbsForm, phone_rsa: Phone) -> None:
    pending = prepare(b"doc", [phone_rsa.certificate, *phone_rsa.chain], SignatureFormat.CADES,
                      SignatureLevel.B_B, SigningOptions(tbs_form=form))
    value = phone_rsa.sign(pending.data_to_be_signed)
    assert finish(pending, value, document=b"doc")
