"""PAdES baseline B-B..B-LTA (EN 319 142-1) from the phone's key: structure, levels, refusals.

Independent verdicts (pdfsig, qpdf, pyHanko's AdES validation) live in test_pades_interop.py.
Servers are real (``pki_server``); the signing clock starts at the server's time.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import zlib
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import ocsp as asn1_ocsp
from conftest import SERVER_AT
from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader

from ltv.clock import OffsetClock
from ltv.errors import InputError, MalformedError, SessionError, SignatureValueError
from ltv.evidence import has_ocsp_nocheck, is_self_signed
from ltv.formats import pades
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.online.timestamps import HttpTimestampClient
from ltv.signing import (
    PendingSignature,
    SignatureFormat,
    SignatureLevel,
    SigningOptions,
    SigningServices,
    finish,
    prepare,
    sign,
)
from ltv.tbs import TbsForm

PADES = SignatureFormat.PADES
LEVELS = list(SignatureLevel)


# ---------------------------------------------------------------------------------------------
# A small sample PDF (hand-written, with a correct cross-reference table)


def make_pdf(text: str = "Contract", *, pages: int = 1, extra: bytes = b"") -> bytes:
    """A minimal valid PDF: ``pages`` pages showing ``text``, optionally an extra stream."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    font_ref = 3 + 2 * pages
    for i in range(pages):
        content = f"BT /F1 18 Tf 72 720 Td ({text} page {i + 1}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 {font_ref} 0 R >> >> /Contents {4 + 2 * i} 0 R >>"
            .encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    if extra:
        objects.append(b"<< /Length %d >>\nstream\n" % len(extra) + extra + b"\nendstream")
    out = BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))
    return out.getvalue()


def sample_pdf() -> bytes:
    contracts = Path(__file__).resolve().parents[1] / "samples" / "contracts"
    for path in sorted(contracts.glob("*.pdf")) if contracts.is_dir() else ():
        return path.read_bytes()
    return make_pdf()


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def services(pki, pki_server) -> Iterator[SigningServices]:
    tsa = HttpTimestampClient(pki_server.tsa_url)
    yield SigningServices(
        timestamp_client=tsa,
        ocsp_fetcher=HttpOCSPFetcher(),
        crl_fetcher=HttpCRLFetcher(),
        certificate_fetcher=HttpCertificateFetcher(),
        clock=OffsetClock(start=SERVER_AT),
        known_certificates=(pki.root,),
    )
    tsa.close()


def sign_pdf(pdf: bytes, phone, level: SignatureLevel, services: SigningServices,
             **options: object) -> bytes:
    opts = SigningOptions(**options)  # type: ignore[arg-type]
    return sign(pdf, phone, [phone.certificate, *phone.chain], PADES, level, opts,
                services=services)


def reader_of(pdf: bytes) -> PdfFileReader:
    return PdfFileReader(BytesIO(pdf))


# ---------------------------------------------------------------------------------------------
# B-B structure (EN 319 142-1 Table 1)


@pytest.mark.parametrize("phone_name", ["phone_rsa", "phone_ec"])
def test_b_b_structure(request, phone_name, services) -> None:
    phone = request.getfixturevalue(phone_name)
    signed = sign_pdf(sample_pdf(), phone, SignatureLevel.B_B, services)
    reader = reader_of(signed)
    (sig,) = reader.embedded_regular_signatures
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert "/M" in sig.sig_object
    assert "/Cert" not in sig.sig_object
    sd = sig.signed_data
    assert len(sd["signer_infos"]) == 1
    assert sd["encap_content_info"]["content"].native is None
    attrs = {a["type"].native for a in sd["signer_infos"][0]["signed_attrs"]}
    assert attrs == {"content_type", "message_digest", "signing_certificate_v2"}
    assert not sd["signer_infos"][0]["unsigned_attrs"]
    assert "/DSS" not in reader.root


def test_b_t_embeds_signature_timestamp_in_place(phone_rsa, services) -> None:
    signed = sign_pdf(sample_pdf(), phone_rsa, SignatureLevel.B_T, services)
    reader = reader_of(signed)
    (sig,) = reader.embedded_regular_signatures
    assert not reader.embedded_timestamp_signatures
    tokens = pades._signature_tokens(sig)
    assert len(tokens) == 1
    assert reader.xrefs.total_revisions == 2  # original + the signature, nothing appended


def test_b_lta_layout(phone_ec, services) -> None:
    signed = sign_pdf(sample_pdf(), phone_ec, SignatureLevel.B_LTA, services)
    reader = reader_of(signed)
    assert len(reader.embedded_regular_signatures) == 1
    (ts,) = reader.embedded_timestamp_signatures
    assert ts.sig_object["/SubFilter"] == "/ETSI.RFC3161"
    assert ts.sig_object["/Type"] == "/DocTimeStamp"
    dss = reader.root["/DSS"]
    assert "/VRI" not in dss
    assert dss["/Certs"]
    assert dss["/OCSPs"]
    assert pades._is_lta(BytesIO(signed))


def _dss_contents(pdf: bytes) -> tuple[list[x509.Certificate], list[bytes], list[bytes]]:
    dss = reader_of(pdf).root["/DSS"]
    certs = [x509.load_der_x509_certificate(s.get_object().data) for s in dss.get("/Certs", ())]
    ocsps = [s.get_object().data for s in dss.get("/OCSPs", ())]
    crls = [s.get_object().data for s in dss.get("/CRLs", ())]
    return certs, ocsps, crls


def _covered(cert: x509.Certificate, ocsps: list[bytes], crls: list[bytes]) -> bool:
    for der in ocsps:
        basic = asn1_ocsp.OCSPResponse.load(der).basic_ocsp_response
        for single in basic["tbs_response_data"]["responses"]:
            if single["cert_id"]["serial_number"].native == cert.serial_number:
                return True
    for der in crls:
        crl = x509.load_der_x509_crl(der)
        if crl.issuer == cert.issuer:
            return True
    return False


def _chains_in(pdf: bytes) -> list[x509.Certificate]:
    """Every certificate of every chain involved: signers, TSAs, OCSP responders."""
    certs, _ocsps, _ = _dss_contents(pdf)
    return certs


def test_dss_has_revocation_data_for_every_chain(phone_rsa, pki, services) -> None:
    signed = sign_pdf(sample_pdf(), phone_rsa, SignatureLevel.B_LTA, services)
    signed = pades.BACKEND.augment(signed, SignatureLevel.B_LTA, detached_content=None,
                                   services=services)
    certs, ocsps, crls = _dss_contents(signed)
    subjects = {c.subject for c in certs}
    # signer, its CA, root, TSA, OCSP responders of each CA are all in the DSS
    assert phone_rsa.certificate.subject in subjects
    assert pki.root.subject in subjects
    assert any(c.subject == t.subject for t in pki.tsa_certificates for c in certs)
    responders = {
        x509.load_der_x509_certificate(
            asn1_ocsp.OCSPResponse.load(d).basic_ocsp_response["certs"][0].dump()
        ).subject
        for d in ocsps if asn1_ocsp.OCSPResponse.load(d).basic_ocsp_response["certs"]
    }
    assert responders <= subjects
    # chains of every certificate used: signer, every TSA (signature + document time-stamps)
    reader = reader_of(signed)
    used: list[x509.Certificate] = []
    for sig in (*reader.embedded_regular_signatures, *reader.embedded_timestamp_signatures):
        used.extend(pades._cms_signer_certificates(sig.signed_data))
        for token in pades._signature_tokens(sig):
            used.extend(pades._cms_signer_certificates(token["content"]))
    for cert in used:
        assert cert.subject in subjects
    missing = [
        c.subject.rfc4514_string() for c in certs
        if not is_self_signed(c) and not has_ocsp_nocheck(c) and not _covered(c, ocsps, crls)
    ]
    # the last document time-stamp's TSA is only covered at the next renewal
    last_ts = pades._cms_signer_certificates(reader.embedded_timestamp_signatures[-1].signed_data)
    assert missing in ([], [last_ts[0].subject.rfc4514_string()])
    for cert in certs:
        if cert in last_ts:
            continue
        assert is_self_signed(cert) or has_ocsp_nocheck(cert) or _covered(cert, ocsps, crls), (
            cert.subject.rfc4514_string()
        )


# ---------------------------------------------------------------------------------------------
# Two steps, two processes


def test_prepare_and_finish_in_other_processes(phone_rsa, pki, pki_server, tmp_path) -> None:
    document = tmp_path / "contract.pdf"
    document.write_bytes(sample_pdf())
    clock = OffsetClock(start=SERVER_AT)
    pending = prepare(document, [phone_rsa.certificate, *phone_rsa.chain], PADES,
                      SignatureLevel.B_LTA, SigningOptions(tbs_form=TbsForm.DIGEST_INFO),
                      clock=clock)
    pending_file = tmp_path / "pending.json"
    pending_file.write_bytes(pending.to_bytes())
    state = pending.format_state
    assert len(json.dumps(dict(state))) < 20_000  # the kept update is small
    assert len(zlib.decompress(base64.b64decode(state["increment"]))) > 1000

    value = phone_rsa.sign(PendingSignature.from_bytes(pending_file.read_bytes())
                           .data_to_be_signed)
    (tmp_path / "value.bin").write_bytes(value)
    out = tmp_path / "signed.pdf"
    script = f"""
import sys
from pathlib import Path
from cryptography import x509
from ltv.clock import OffsetClock, parse_time
from ltv.formats import pades
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.online.timestamps import HttpTimestampClient
from ltv.signing import PendingSignature, SigningServices
root = x509.load_pem_x509_certificate(Path({str(pki.directory / 'root.pem')!r}).read_bytes())
services = SigningServices(
    timestamp_client=HttpTimestampClient({pki_server.tsa_url!r}),
    ocsp_fetcher=HttpOCSPFetcher(), crl_fetcher=HttpCRLFetcher(),
    certificate_fetcher=HttpCertificateFetcher(),
    clock=OffsetClock(start=parse_time({SERVER_AT.isoformat()!r})),
    known_certificates=(root,))
pending = PendingSignature.from_bytes(Path({str(pending_file)!r}).read_bytes())
pades.finish_to_file(pending, Path({str(tmp_path / 'value.bin')!r}).read_bytes(),
                     document=Path({str(document)!r}), output=Path({str(out)!r}),
                     services=services)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    reader = reader_of(out.read_bytes())
    assert len(reader.embedded_regular_signatures) == 1
    assert len(reader.embedded_timestamp_signatures) == 1


def test_finish_refuses_a_changed_state(phone_ec, services) -> None:
    pdf = sample_pdf()
    pending = prepare(pdf, [phone_ec.certificate, *phone_ec.chain], PADES, SignatureLevel.B_B,
                      clock=services.clock)
    value = phone_ec.sign(pending.data_to_be_signed)
    state = dict(pending.format_state)
    increment = bytearray(zlib.decompress(base64.b64decode(state["increment"])))
    increment[-40] ^= 1
    state["increment"] = base64.b64encode(zlib.compress(bytes(increment))).decode()
    tampered = PendingSignature.from_json({**pending.to_json(), "format_state": state})
    with pytest.raises(SessionError):
        finish(tampered, value, document=pdf, services=services)
    with pytest.raises(SignatureValueError):
        finish(pending, bytes(len(value)), document=pdf, services=services)


@pytest.mark.parametrize("form", [TbsForm.DIGEST, TbsForm.DIGEST_INFO, TbsForm.MESSAGE])
def test_every_tbs_form_and_pss(phone_rsa, services, form) -> None:
    from ltv.algorithms import DigestAlgorithm, SignatureMechanism

    for mech in (SignatureMechanism.RSA_PKCS1V15, SignatureMechanism.RSA_PSS):
        if form is TbsForm.DIGEST_INFO and mech is SignatureMechanism.RSA_PSS:
            continue
        signed = sign_pdf(sample_pdf(), phone_rsa, SignatureLevel.B_B, services, tbs_form=form,
                          mechanism=mech, digest_algorithm=DigestAlgorithm.SHA384)
        (sig,) = reader_of(signed).embedded_regular_signatures
        assert sig.md_algorithm == "sha384"


# ---------------------------------------------------------------------------------------------
# Several signers, renewal, other tools' signatures, the visible stamp


def test_two_signers_then_renewals(phone_rsa, phone_ec, services) -> None:
    first = sign_pdf(sample_pdf(), phone_rsa, SignatureLevel.B_LTA, services)
    second = sign_pdf(first, phone_ec, SignatureLevel.B_LTA, services)
    reader = reader_of(second)
    assert len(reader.embedded_regular_signatures) == 2
    assert len(reader.embedded_timestamp_signatures) == 2
    renewed = second
    for _ in range(2):
        renewed = pades.BACKEND.augment(renewed, SignatureLevel.B_LTA, detached_content=None,
                                        services=services)
    assert len(reader_of(renewed).embedded_timestamp_signatures) == 4


def test_extend_a_pyhanko_signature(pki, services, tmp_path) -> None:
    from pyhanko.sign import signers

    directory = tmp_path / "signer"
    pki.issue_software_signer("Other Tool", directory, at=SERVER_AT)
    signer = signers.SimpleSigner.load(
        str(directory / "key.pem"), str(directory / "cert.pem"),
        ca_chain_files=(str(directory / "chain.pem"),),
    )
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    out = signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(sample_pdf())),
                           signers.PdfSignatureMetadata(field_name="Other"), signer=signer)
    foreign = out.getvalue()
    # B-T on another tool's signature: in its CMS when /Contents has room (pyHanko reserves
    # little), else a document time-stamp gives it its time
    timed = pades.BACKEND.augment(foreign, SignatureLevel.B_T, detached_content=None,
                                  services=services)
    reader = reader_of(timed)
    (sig,) = reader.embedded_regular_signatures
    in_cms = bool(pades._signature_tokens(sig))
    assert in_cms or len(reader.embedded_timestamp_signatures) == 1
    lta = pades.BACKEND.augment(foreign, SignatureLevel.B_LTA, detached_content=None,
                                services=services)
    # time (in the CMS or a first document time-stamp), DSS, archive document time-stamp
    assert len(reader_of(lta).embedded_timestamp_signatures) == (1 if in_cms else 2)


def test_untimed_signature_followed_by_a_revision_gets_a_document_timestamp(
    phone_ec, services
) -> None:
    signed = sign_pdf(sample_pdf(), phone_ec, SignatureLevel.B_B, services)
    # Another party appends an unrelated incremental update (e.g. an empty DSS revision).
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(BytesIO(signed))
    writer.root["/Lang"] = __import__("pyhanko.pdf_utils.generic", fromlist=["x"]) \
        .TextStringObject("ja")
    writer.update_root()
    buffer = BytesIO()
    writer.write(buffer)
    timed = pades.BACKEND.augment(buffer.getvalue(), SignatureLevel.B_T,
                                  detached_content=None, services=services)
    reader = reader_of(timed)
    assert len(reader.embedded_timestamp_signatures) == 1
    assert not pades._signature_tokens(reader.embedded_regular_signatures[0])


def test_visible_stamp_in_japanese(phone_rsa, services) -> None:
    from ltv.formats._pdf_stamp import holder_name

    assert holder_name(phone_rsa.certificate) == "署名 太郎"
    signed = sign_pdf(sample_pdf(), phone_rsa, SignatureLevel.B_T, services, visible=True,
                      reason="売買契約の締結", location="東京")
    reader = reader_of(signed)
    (sig,) = reader.embedded_regular_signatures
    widget = sig.sig_field
    assert widget["/Rect"][2] > widget["/Rect"][0]
    assert sig.sig_object["/Reason"] == "売買契約の締結"
    ap = widget["/AP"]["/N"]
    fonts = ap["/Resources"].get("/Font", None)
    assert fonts is not None or "/XObject" in ap["/Resources"]
    assert b"NotoSansCJK" in signed


# ---------------------------------------------------------------------------------------------
# Refusals (one clear line each)


def _prepare(pdf: bytes, phone) -> PendingSignature:
    return prepare(pdf, [phone.certificate, *phone.chain], PADES, SignatureLevel.B_B)


def test_refuses_not_a_pdf(phone_ec) -> None:
    with pytest.raises(MalformedError, match="not a PDF"):
        _prepare(b"hello, world\n" * 10, phone_ec)


def test_refuses_broken_xref(phone_ec) -> None:
    pdf = make_pdf()
    xref = pdf.rindex(b"startxref\n")
    broken = pdf[: xref + 10] + b"999999\n%%EOF\n"
    with pytest.raises(MalformedError) as info:
        _prepare(broken, phone_ec)
    assert "\n" not in str(info.value)


def test_refuses_encrypted_pdf(phone_ec) -> None:
    from pyhanko.pdf_utils.crypt import StandardSecurityHandler
    from pyhanko.pdf_utils.writer import PdfFileWriter, copy_into_new_writer

    writer: PdfFileWriter = copy_into_new_writer(PdfFileReader(BytesIO(make_pdf())))
    writer.security_handler = None
    sh = StandardSecurityHandler.build_from_pw("secret", "secret")
    writer._assign_security_handler(sh)
    buffer = BytesIO()
    writer.write(buffer)
    with pytest.raises(InputError, match="encrypted"):
        _prepare(buffer.getvalue(), phone_ec)


def test_refuses_docmdp_no_changes(pki, phone_ec, tmp_path) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    directory = tmp_path / "certifier"
    pki.issue_software_signer("Certifier", directory, at=SERVER_AT)
    signer = signers.SimpleSigner.load(str(directory / "key.pem"), str(directory / "cert.pem"))
    certified = signers.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(make_pdf())),
        signers.PdfSignatureMetadata(field_name="Author", certify=True,
                                     docmdp_permissions=fields.MDPPerm.NO_CHANGES),
        signer=signer,
    ).getvalue()
    with pytest.raises(InputError, match="forbids any change"):
        _prepare(certified, phone_ec)


@pytest.mark.parametrize("garbage", [
    b"%PDF-1.7\n" + b"[" * 5000,
    b"%PDF-1.7\n1 0 obj\n<< /Length 99999999999 >>\nstream\nxx\nendstream\nendobj\n"
    b"xref\n0 2\n0000000000 65535 f \n0000000009 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\n"
    b"startxref\n60\n%%EOF\n",
    make_pdf()[:-60],
    make_pdf().replace(b"/Root 1 0 R", b"/Root 9 0 R"),
])
def test_garbage_is_malformed_not_a_crash(phone_ec, garbage) -> None:
    with pytest.raises(InputError) as info:
        _prepare(garbage, phone_ec)
    assert "\n" not in str(info.value)


def test_extend_refuses_unsigned_pdf(services) -> None:
    with pytest.raises(InputError, match="no signature"):
        pades.BACKEND.augment(make_pdf(), SignatureLevel.B_LT, detached_content=None,
                              services=services)


def test_cli_sign_garbage_exits_4(ltv_cli, pki, pki_server, phone_ec, tmp_path) -> None:
    from ltv.signing import backend_for

    assert backend_for(PADES) is pades.BACKEND
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"this is not a PDF\n")
    done = ltv_cli("sign", garbage, "--format", "pades", "--level", "B-B",
                   "--phone", phone_ec.directory, "-o", tmp_path / "out.pdf")
    if "No such command" in done.stderr:
        pytest.skip("ltv sign is not there yet")
    assert done.returncode == 4, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.pdf").exists()


def test_pending_state_round_trips_json(phone_ec) -> None:
    pending = _prepare(make_pdf(), phone_ec)
    again = PendingSignature.from_bytes(pending.to_bytes())
    assert again.format_state == pending.format_state
    assert isinstance(cms.CMSAttributes.load(
        base64.b64decode(pending.format_state["signed_attributes"])), cms.CMSAttributes)
