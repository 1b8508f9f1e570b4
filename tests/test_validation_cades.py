"""EN 319 102-1 validation of CAdES signatures: the scenario matrix of issue 6.

Signatures are made with the real phone (``samples.phone``), the real TSA and OCSP/CRL servers
of the sample PKI; time travels through ``pki_server.restart(at=...)`` (what the servers say)
and the validation ``at=`` (when we validate). The PKI starts at 2026-01-01; smartphone
certificates live 3 years, card ones 5, the TSA 6, CAs 20.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import SERVER_AT, PkiServer

from ltv.cli._services import build_services
from ltv.clock import FixedClock, OffsetClock
from ltv.errors import MalformedError
from ltv.jpki import KeyKind
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.revocation import RevocationReason
from ltv.signing import SignatureFormat, SignatureLevel, SigningServices, sign
from ltv.validation import (
    Indication,
    RevocationFetchers,
    SignatureValidationError,
    SubIndication,
    TimestampKind,
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


@pytest.fixture
def server_at(pki_server: PkiServer) -> Iterator[object]:
    """Restart the servers at a chosen time; back to the default afterwards."""

    def restart(at: datetime) -> None:
        pki_server.restart(at=at)

    yield restart
    pki_server.restart()


# -- (1) B-LTA validated now -----------------------------------------------------------------


def test_lta_validated_now_passes(lta: bytes, pki: SamplePki) -> None:
    report = _validate(lta, pki, SIGNED_AT + timedelta(minutes=5))
    sig = report.signatures[0]
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig
    assert sig.level is SignatureLevel.B_LTA
    assert sig.format is SignatureFormat.CADES
    assert sig.signer is not None
    assert sig.signer.key_kind is KeyKind.SMARTPHONE
    kinds = [t.kind for t in sig.timestamps]
    assert TimestampKind.SIGNATURE in kinds
    assert TimestampKind.ARCHIVE in kinds
    assert all(t.indication is Indication.PASSED for t in sig.timestamps), sig.timestamps
    assert sig.best_signature_time <= SIGNED_AT + timedelta(minutes=1)
    report.raise_for_indication()


def test_lta_offline_now_passes(lta: bytes, pki: SamplePki) -> None:
    assert _one(_validate(lta, pki, SIGNED_AT + timedelta(days=30), offline=True)) == (
        Indication.TOTAL_PASSED, None)


# -- (2) after the signer certificate expired --------------------------------------------------


def test_lta_after_expiry_passes_with_poe(lta: bytes, pki: SamplePki, phone_rsa: Phone,
                                          server_at: object) -> None:
    later = phone_rsa.certificate.not_valid_after_utc + 30 * timedelta(days=1)
    server_at(later)  # type: ignore[operator]
    report = _validate(lta, pki, later)
    sig = report.signatures[0]
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig
    assert sig.poe is not None
    assert sig.poe.source in ("signature", "archive"), sig.poe
    assert sig.poe.time < phone_rsa.certificate.not_valid_after_utc


def test_bb_after_expiry_is_out_of_bounds(bb: bytes, pki: SamplePki, phone_ec: Phone,
                                          server_at: object) -> None:
    later = phone_ec.certificate.not_valid_after_utc + timedelta(days=30)
    server_at(later)  # type: ignore[operator]
    assert _one(_validate(bb, pki, later)) == (Indication.INDETERMINATE,
                                                 SubIndication.OUT_OF_BOUNDS_NO_POE)


# -- (6) offline, signer expired, archive TSA still valid ---------------------------------------


def test_lta_offline_after_expiry_passes_from_embedded_material(
        lta: bytes, pki: SamplePki, phone_rsa: Phone, pki_server: PkiServer) -> None:
    later = phone_rsa.certificate.not_valid_after_utc + timedelta(days=60)
    assert later < pki.tsa_certificate.not_valid_after_utc
    pki_server.stop()
    try:
        report = _validate(lta, pki, later, offline=True)
    finally:
        pki_server.restart()
    sig = report.signatures[0]
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig
    assert report.offline


# -- (4) integrity -------------------------------------------------------------------------------


def test_changed_content_is_hash_failure(pki: SamplePki, pki_server: PkiServer,
                                         phone_rsa: Phone) -> None:
    signed = _sign(phone_rsa, pki, SignatureLevel.B_T)
    at = SIGNED_AT + timedelta(minutes=5)
    pos = signed.index(CONTRACT[:20])
    tampered = signed[:pos] + bytes([signed[pos] ^ 1]) + signed[pos + 1:]
    assert _one(_validate(tampered, pki, at)) == (Indication.TOTAL_FAILED,
                                                  SubIndication.HASH_FAILURE)


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


def test_changed_signature_value_is_sig_crypto_failure(bb: bytes, pki: SamplePki,
                                                       pki_server: PkiServer) -> None:
    from ltv.formats import cms

    parts = cms.parse_signed_data(bb)
    value = parts.signer_infos[0].signature_value
    pos = bb.index(value)
    tampered = bb[:pos + 10] + bytes([bb[pos + 10] ^ 0xFF]) + bb[pos + 11:]
    assert _one(_validate(tampered, pki, SIGNED_AT + timedelta(minutes=5))) == (
        Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)


# -- (5) unknown root ------------------------------------------------------------------------------


def test_unknown_root_is_no_chain(bb: bytes, pki: SamplePki, pki_server: PkiServer) -> None:
    report = _validate(bb, pki, SIGNED_AT + timedelta(minutes=5), policy=ValidationPolicy.default())
    assert _one(report) == (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    with pytest.raises(SignatureValidationError, match="NO_CERTIFICATE_CHAIN_FOUND"):
        report.raise_for_indication()


# -- (7) key kinds ---------------------------------------------------------------------


def test_key_kind_reported_and_refusable(bb: bytes, pki: SamplePki,
                                         pki_server: PkiServer) -> None:
    at = SIGNED_AT + timedelta(minutes=5)
    report = _validate(bb, pki, at)
    assert _one(report) == (Indication.TOTAL_PASSED, None)
    assert report.signatures[0].signer is not None
    assert report.signatures[0].signer.key_kind is KeyKind.SMARTPHONE
    refusing = ValidationPolicy.default(trust_anchors=[pki.root]).refusing(KeyKind.SMARTPHONE)
    assert _one(_validate(bb, pki, at, policy=refusing)) == (
        Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE)


def test_card_key_kind(pki: SamplePki, pki_server: PkiServer, tmp_path: Path) -> None:
    card = Phone.enroll(tmp_path / "card", pki, key="rsa2048", card=True, at=SERVER_AT)
    signed = _sign(card, pki, SignatureLevel.B_B)
    report = _validate(signed, pki, SIGNED_AT + timedelta(minutes=5))
    assert _one(report) == (Indication.TOTAL_PASSED, None)
    assert report.signatures[0].signer is not None
    assert report.signatures[0].signer.key_kind is KeyKind.CARD


# -- (3) revocation --------------------------------------------------------------------


@pytest.fixture(scope="module")
def revoked_phone(pki: SamplePki, tmp_path_factory: pytest.TempPathFactory) -> Phone:
    return Phone.enroll(tmp_path_factory.mktemp("revoked") / "phone", pki, key="p256",
                        at=SERVER_AT)


def test_revocation_scenarios(pki: SamplePki, pki_server: PkiServer, revoked_phone: Phone,
                              server_at: object) -> None:
    before = _sign(revoked_phone, pki, SignatureLevel.B_LTA)
    plain = _sign(revoked_phone, pki, SignatureLevel.B_B)
    revoked_at = SIGNED_AT + timedelta(days=10)
    pki.revoke(revoked_phone.certificate, reason=RevocationReason.SUPERSEDED, at=revoked_at)
    after_at = revoked_at + timedelta(days=1)
    server_at(after_at)  # type: ignore[operator]
    after = _sign(revoked_phone, pki, SignatureLevel.B_T, at=after_at)
    check_at = revoked_at + timedelta(days=2)
    server_at(check_at)  # type: ignore[operator]
    # revoked after the signature time-stamp: still passes, POE named
    report = _validate(before, pki, check_at)
    sig = report.signatures[0]
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig
    assert sig.poe is not None
    assert sig.poe.time < revoked_at
    signer_row = next(c for c in sig.certificates if c.role == "signer")
    assert signer_row.revocation_time is not None
    assert signer_row.revocation_reason == "superseded"
    # signed after the revocation
    after_report = _validate(after, pki, check_at)
    assert _one(after_report) == (Indication.TOTAL_FAILED, SubIndication.REVOKED), (
        after_report.signatures[0].message, after_report.warnings)
    # B-B made before, revoked since, no POE
    assert _one(_validate(plain, pki, check_at)) == (Indication.INDETERMINATE,
                                                     SubIndication.REVOKED_NO_POE)


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
