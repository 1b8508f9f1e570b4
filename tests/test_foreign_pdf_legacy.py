"""Legacy PDF signature forms (issue #19, item 4): ``/SubFilter /adbe.pkcs7.sha1`` and a last
trailer saying ``/Prev 0``.

The PDFs are written here byte by byte (one page, one signature field) and signed with
``cryptography``'s PKCS#7 builder over a fresh self-signed key, so each vector is exactly what
the test says: for adbe.pkcs7.sha1 the SignedData encapsulates the SHA-1 digest of the
/ByteRange (ISO 32000-1 §12.8.3.3.1). Checked independently with ``openssl cms -verify``
(the encapsulated content verifies and equals the SHA-1 of the byte range).
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ltv_cli
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from forge_helpers import signing_certificate

from ltv.evidence import EvidenceSet
from ltv.validation import (
    Indication,
    SubIndication,
    ValidationPolicy,
    load_trust_anchors,
    validate,
)

AT = datetime(2026, 6, 1, tzinfo=UTC)
HOLE = 8192


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> tuple[rsa.RSAPrivateKey,
                                                               x509.Certificate, Path]:
    """A signer under a root of its own (the root PEM is the returned path)."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x19 pdf root")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(AT - timedelta(days=60)).not_valid_after(AT + timedelta(days=60))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = signing_certificate(key, "x19 pdf signer", serial=7, at=AT, issuer=(ca_name, ca_key))
    directory = tmp_path_factory.mktemp("x19-pdf")
    path = directory / "root.pem"
    path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca_name)
           .last_update(AT - timedelta(hours=1)).next_update(AT + timedelta(days=7))
           .sign(ca_key, hashes.SHA256()))
    (directory / "root.crl").write_bytes(crl.public_bytes(serialization.Encoding.DER))
    return key, cert, path


def _pdf(key: rsa.RSAPrivateKey, cert: x509.Certificate, *, subfilter: bytes,
         prev_zero: bool = False, content: bytes | None = None,
         cms_signer: Callable[[bytes], bytes] | None = None) -> bytes:
    """A one-page PDF with one signature; ``content``: what the sha1 form encapsulates
    (default: the SHA-1 of the byte range, as the form requires); ``cms_signer``: makes the
    detached CMS over the byte range instead of ``cryptography``."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] /SigFlags 3 >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Annots [4 0 R] >>",
        b"<< /Type /Annot /Subtype /Widget /FT /Sig /Rect [0 0 0 0] /T (Sig1) /F 132 "
        b"/P 3 0 R /V 5 0 R >>",
        b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter " + subfilter
        + b" /ByteRange [0 0000000000 0000000000 0000000000] /Contents <" + b"0" * HOLE
        + b"> /M (D:20260601000000Z) >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    prev = b" /Prev 0" if prev_zero else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, prev, xref)
    data = bytes(out)
    start = data.index(b"/Contents <") + len(b"/Contents ")
    end = data.index(b">", start) + 1
    data = data.replace(b"[0 0000000000 0000000000 0000000000]",
                        b"[0 %010d %010d %010d]" % (start, end, len(data) - end))
    signed = data[:start] + data[end:]
    builder = pkcs7.PKCS7SignatureBuilder()
    if cms_signer is not None:
        hexed = cms_signer(signed).hex().encode()
        return data[:start + 1] + hexed + b"0" * (HOLE - len(hexed)) + data[end - 1:]
    if subfilter == b"/adbe.pkcs7.sha1":
        builder = builder.set_data(content if content is not None
                                   else hashlib.sha1(signed).digest())  # noqa: S324
        options = [pkcs7.PKCS7Options.Binary]
    else:
        builder = builder.set_data(signed)
        options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    der = builder.add_signer(cert, key, hashes.SHA256()).sign(serialization.Encoding.DER,
                                                              options)
    hexed = der.hex().encode()
    assert len(hexed) <= HOLE
    return data[:start + 1] + hexed + b"0" * (HOLE - len(hexed)) + data[end - 1:]


def _verdict(data: bytes, anchors: list[Path] | None = None) -> tuple[
        Indication, SubIndication | None, str]:
    """The one signature's verdict; with a root, its CRL (next to it) is given as well."""
    policy = ValidationPolicy.default(trust_anchors=load_trust_anchors(anchors or []))
    crls = [(a.parent / "root.crl").read_bytes() for a in anchors or []]
    (sig,) = validate(data, policy=policy, at=AT, offline=True,
                      extra_evidence=EvidenceSet.of(crls=crls)).signatures
    return sig.indication, sig.subindication, sig.message or ""


def test_adbe_pkcs7_sha1_is_validated(signer: tuple[rsa.RSAPrivateKey, x509.Certificate, Path],
                                      tmp_path: Path) -> None:
    key, cert, root = signer
    data = _pdf(key, cert, subfilter=b"/adbe.pkcs7.sha1")
    # independent check: openssl verifies the SignedData and its content is SHA-1(byte range)
    start = data.index(b"/Contents <") + len(b"/Contents <")
    der = bytes.fromhex(data[start:data.index(b">", start)].rstrip(b"0").decode()
                        + ("0" if len(data[start:data.index(b">", start)].rstrip(b"0")) % 2
                           else ""))
    (tmp_path / "sig.der").write_bytes(der)
    done = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-in",
                           str(tmp_path / "sig.der"), "-noverify", "-binary"],
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    hole_end = data.index(b">", start) + 1
    assert done.stdout == hashlib.sha1(  # noqa: S324
        data[:start - 1] + data[hole_end:]).digest()
    assert _verdict(data)[:2] == (Indication.INDETERMINATE,
                                  SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    # with its root: intact, and judged by the SHA-1 sunset (no POE before it): never FAILED
    indication, sub, message = _verdict(data, [root])
    assert (indication, sub) == (Indication.INDETERMINATE,
                                 SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE), message
    assert message.startswith("sha1 in the adbe.pkcs7.sha1 /ByteRange digest is not accepted "
                              "after 2016-01-01")


def test_forged_adbe_pkcs7_sha1_fails(signer: tuple[rsa.RSAPrivateKey, x509.Certificate,
                                                    Path]) -> None:
    key, cert, root = signer
    data = _pdf(key, cert, subfilter=b"/adbe.pkcs7.sha1")
    forged = data.replace(b"/MediaBox [0 0 200 200]", b"/MediaBox [0 0 200 300]")
    assert forged != data
    assert len(forged) == len(data)
    assert _verdict(forged, [root])[:2] == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    # a validly signed SignedData whose encapsulated digest is not the byte range's
    other = _pdf(key, cert, subfilter=b"/adbe.pkcs7.sha1", content=b"\x00" * 20)
    assert _verdict(other, [root])[:2] == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)


@pytest.mark.parametrize("subfilter", [b"/adbe.pkcs7.detached", b"/adbe.pkcs7.sha1"])
def test_last_trailer_prev_zero_is_read_leniently(
        subfilter: bytes, signer: tuple[rsa.RSAPrivateKey, x509.Certificate, Path],
        tmp_path: Path) -> None:
    key, cert, _ = signer
    data = _pdf(key, cert, subfilter=subfilter, prev_zero=True)
    assert b"/Prev 0 >>" in data
    assert _verdict(data)[:2] == (Indication.INDETERMINATE,
                                  SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    path = tmp_path / "prev0.pdf"
    path.write_bytes(data)
    result = ltv_cli("validate", "--offline", "--at", "2026-06-01T00:00:00Z", path)
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith(f"INDETERMINATE: {path} NO_CERTIFICATE_CHAIN_FOUND")
    assert "Traceback" not in result.stderr
