"""EN 319 102-1 validation of CAdES signatures beyond the scenario matrix
(``test_validation_matrix.py`` holds issue 6's rows for all three formats): detached content,
bad input, determinism. The helpers here are shared by the PAdES and report tests.

Signatures are made with the real phone (``samples.phone``), the real TSA and OCSP/CRL servers
of the sample PKI; time travels through ``pki_server.restart(at=...)`` (what the servers say)
and the validation ``at=`` (when we validate). The PKI starts at 2026-01-01; smartphone
certificates live 3 years, card ones 5, the TSA 6, CAs 20.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from conftest import SERVER_AT, PkiServer

from ltv.cli._services import build_services
from ltv.clock import FixedClock, OffsetClock
from ltv.errors import MalformedError
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.signing import SignatureFormat, SignatureLevel, SigningServices, sign
from ltv.validation import (
    Indication,
    RevocationFetchers,
    SignatureValidationError,
    SubIndication,
    ValidationPolicy,
    ValidationReport,
    validate,
)
from samples.phone import Phone
from samples.pki import SamplePki

CONTRACT = b"Contract: the buyer pays 100 JPY per month.\n" * 50
SIGNED_AT = SERVER_AT + timedelta(hours=1)
YEAR = timedelta(days=365)


def _services(pki: SamplePki, at: datetime) -> SigningServices:
    return build_services(pki=pki.directory, clock=OffsetClock(at))


def _sign(phone: Phone, pki: SamplePki, level: SignatureLevel, *, at: datetime = SIGNED_AT,
          content: bytes = CONTRACT) -> bytes:
    return sign(content, phone, [phone.certificate, *phone.chain], SignatureFormat.CADES, level,
                services=_services(pki, at))


def _fetchers() -> RevocationFetchers:
    return RevocationFetchers(ocsp=HttpOCSPFetcher(timeout=5), crl=HttpCRLFetcher(timeout=5),
                              certificates=HttpCertificateFetcher(timeout=5))


def _validate(data: bytes, pki: SamplePki, at: datetime, *, offline: bool = False,
              policy: ValidationPolicy | None = None, **kwargs: object) -> ValidationReport:
    policy = policy or ValidationPolicy.default(trust_anchors=[pki.root])
    return validate(data, policy=policy, at=at, offline=offline,
                    fetchers=None if offline else _fetchers(), **kwargs)  # type: ignore[arg-type]


def _one(report: ValidationReport) -> tuple[Indication, SubIndication | None]:
    assert len(report.signatures) == 1
    sig = report.signatures[0]
    return sig.indication, sig.subindication


@pytest.fixture(scope="module")
def lta(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone) -> bytes:
    return _sign(phone_rsa, pki, SignatureLevel.B_LTA)


@pytest.fixture(scope="module")
def bb(pki: SamplePki, phone_ec: Phone) -> bytes:
    return _sign(phone_ec, pki, SignatureLevel.B_B)


# -- offline, now -----------------------------------------------------------------


def test_lta_offline_now_passes(lta: bytes, pki: SamplePki) -> None:
    assert _one(_validate(lta, pki, SIGNED_AT + timedelta(days=30), offline=True)) == (
        Indication.TOTAL_PASSED, None)


# -- detached content ----------------------------------------------------------------------


def test_changed_detached_content_is_hash_failure(pki: SamplePki, phone_ec: Phone) -> None:
    signed = sign(CONTRACT, phone_ec, [phone_ec.certificate, *phone_ec.chain],
                  SignatureFormat.CADES, SignatureLevel.B_B,
                  options=__import__("ltv.signing", fromlist=["SigningOptions"]).SigningOptions(
                      detached=True),
                  services=_services(pki, SIGNED_AT))
    at = SIGNED_AT + timedelta(minutes=5)
    changed = bytearray(CONTRACT)
    changed[7] ^= 0x20
    report = _validate(signed, pki, at, detached_content=bytes(changed), offline=True)
    assert _one(report) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    missing = _validate(signed, pki, at, offline=True)
    assert _one(missing) == (Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND)


# -- (5) unknown root ------------------------------------------------------------------------------


def test_unknown_root_is_no_chain(bb: bytes, pki: SamplePki, pki_server: PkiServer) -> None:
    report = _validate(bb, pki, SIGNED_AT + timedelta(minutes=5), policy=ValidationPolicy.default())
    assert _one(report) == (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    with pytest.raises(SignatureValidationError, match="NO_CERTIFICATE_CHAIN_FOUND"):
        report.raise_for_indication()


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    b"", b"hello", b"\x30\x03\x02\x01", b"\x30\x82\xff\xff" + b"\x00" * 10,
    b"<?xml version='1.0'?><a/>", b"<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>",
    b"-----BEGIN PKCS7-----\n!!!\n-----END PKCS7-----\n",
])
def test_garbage_is_malformed(data: bytes, pki: SamplePki) -> None:
    with pytest.raises(MalformedError):
        validate(data, policy=ValidationPolicy.default(trust_anchors=[pki.root]),
                 at=SIGNED_AT, offline=True)


def test_truncated_signature_is_malformed(bb: bytes, pki: SamplePki) -> None:
    for cut in (len(bb) // 3, len(bb) // 2, len(bb) - 1):
        with pytest.raises(MalformedError):
            validate(bb[:cut], policy=ValidationPolicy.default(trust_anchors=[pki.root]),
                     at=SIGNED_AT, offline=True)


def test_never_reads_the_wall_clock(bb: bytes, pki: SamplePki) -> None:
    clock = FixedClock(SIGNED_AT + timedelta(minutes=5))
    one = _validate(bb, pki, clock.now(), offline=True)
    two = _validate(bb, pki, clock.now(), offline=True)
    assert one == two
