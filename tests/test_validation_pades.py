"""EN 319 102-1 validation of PAdES signatures: the shared engine over the pyHanko-read facts,
with ``pdf_changes_after_signing`` from pyHanko's difference analysis folded into the verdict."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from conftest import PkiServer
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from test_pades import make_pdf
from test_validation_cades import SIGNED_AT, _services, _validate

from ltv.errors import MalformedError
from ltv.signing import SignatureFormat, SignatureLevel, sign
from ltv.validation import Indication, SubIndication, TimestampKind, ValidationPolicy, validate
from samples.phone import Phone
from samples.pki import SamplePki


@pytest.fixture(scope="module")
def pades_lta(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone) -> bytes:
    return sign(make_pdf("Lease contract"), phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                SignatureFormat.PADES, SignatureLevel.B_LTA, services=_services(pki, SIGNED_AT))


def test_pades_lta_now_passes(pades_lta: bytes, pki: SamplePki) -> None:
    report = _validate(pades_lta, pki, SIGNED_AT + timedelta(minutes=5))
    sig = report.signatures[0]
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig
    assert sig.format is SignatureFormat.PADES
    assert sig.level is SignatureLevel.B_LTA
    assert sig.pdf_changes_after_signing == "allowed"
    assert TimestampKind.DOCUMENT in {t.kind for t in sig.timestamps}


def test_page_changed_after_signing_does_not_pass(pades_lta: bytes, pki: SamplePki) -> None:
    writer = IncrementalPdfFileWriter(BytesIO(pades_lta))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    forged = writer.add_object(generic.StreamObject(stream_data=b"BT 50 50 Td (PAID) Tj ET"))
    page["/Contents"] = forged
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    report = _validate(out.getvalue(), pki, SIGNED_AT + timedelta(minutes=5), offline=True)
    sig = report.signatures[0]
    assert sig.pdf_changes_after_signing == "disallowed"
    assert (sig.indication, sig.subindication) == (Indication.INDETERMINATE,
                                                   SubIndication.SIG_CONSTRAINTS_FAILURE)


@pytest.mark.parametrize("data", [b"%PDF-1.7\n%%EOF", b"%PDF-1.4\n1 0 obj\n[[[[[[[[\n"])
def test_broken_pdf_is_malformed(data: bytes, pki: SamplePki) -> None:
    with pytest.raises(MalformedError):
        validate(data, policy=ValidationPolicy.default(trust_anchors=[pki.root]),
                 at=SIGNED_AT, offline=True)
