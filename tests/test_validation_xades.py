"""EN 319 102-1 validation of XAdES signatures (engine shared with CAdES; thin adapter)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import PkiServer
from test_validation_cades import SIGNED_AT, _one, _services, _validate

from ltv.signing import SignatureFormat, SignatureLevel, sign
from ltv.validation import Indication, SubIndication
from samples.phone import Phone
from samples.pki import SamplePki

XML = (b'<?xml version="1.0" encoding="UTF-8"?>\n<contract id="c-1"><party>Buyer</party>'
       b"<amount currency=\"JPY\">100</amount></contract>\n")


@pytest.fixture(scope="module")
def xades_lta(pki: SamplePki, pki_server: PkiServer, phone_ec: Phone) -> bytes:
    return sign(XML, phone_ec, [phone_ec.certificate, *phone_ec.chain], SignatureFormat.XADES,
                SignatureLevel.B_LTA, services=_services(pki, SIGNED_AT))


def test_xades_lta_now_passes(xades_lta: bytes, pki: SamplePki) -> None:
    report = _validate(xades_lta, pki, SIGNED_AT + timedelta(minutes=5))
    sig = report.signatures[0]
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig
    assert sig.format is SignatureFormat.XADES
    assert sig.level is SignatureLevel.B_LTA


def test_xades_lta_offline_after_expiry(xades_lta: bytes, pki: SamplePki,
                                        phone_ec: Phone) -> None:
    later = phone_ec.certificate.not_valid_after_utc + timedelta(days=60)
    report = _validate(xades_lta, pki, later, offline=True)
    sig = report.signatures[0]
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig
    assert sig.poe is not None


def test_xades_changed_content_is_hash_failure(xades_lta: bytes, pki: SamplePki) -> None:
    tampered = xades_lta.replace(b">100<", b">900<")
    assert tampered != xades_lta
    assert _one(_validate(tampered, pki, SIGNED_AT + timedelta(minutes=5), offline=True)) == (
        Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
