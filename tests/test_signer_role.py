"""Security review finding 11: a CA key (cA=TRUE, no keyUsage) and a bare RFC 3161 token (a
CMS signature by the TSA's key) each validated as a PASSED document signature. Now the signer
certificate is refused (INDETERMINATE / CHAIN_CONSTRAINTS_FAILURE, exit 3) — through
``ltv validate``, as the review reproduced it; an ordinary signer still passes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

from asn1crypto import tsp
from conftest import PKI_EPOCH, SERVER_AT, ltv_cli
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from ltv.algorithms import DigestAlgorithm
from ltv.clock import FixedClock
from ltv.keys import KeySigner
from ltv.signing import SignatureFormat, SignatureLevel, SigningOptions, SigningServices, sign
from ltv.timestamps import build_request
from samples.pki import SamplePki, generate_key
from tsa.authority import TimeStampAuthority
from tsa.serials import MemorySerialSource

AT = "2026-12-03T12:00:00Z"


def _validate(tmp_path: Path, name: str, data: bytes, trust: Path,  # type: ignore[no-untyped-def]
              *extra: str):
    target = tmp_path / name
    target.write_bytes(data)
    return ltv_cli("validate", str(target), "--trust", str(trust), "--offline", "--at", AT,
                   "--format", "json", *extra)


def _verdict(done) -> tuple[str, str | None, str]:  # type: ignore[no-untyped-def]
    [report] = json.loads(done.stdout)["signatures"]
    return report["indication"], report["subindication"], report["message"]


def test_a_ca_key_without_key_usage_is_not_a_document_signer(tmp_path: Path) -> None:
    key = generate_key("p256")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Legacy Root CA (no keyUsage)")])
    root = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(PKI_EPOCH).not_valid_after(PKI_EPOCH + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))  # type: ignore[arg-type]
    (tmp_path / "root.pem").write_bytes(root.public_bytes(Encoding.PEM))
    (tmp_path / "doc.txt").write_bytes(b"doc")
    signed = sign(b"doc", KeySigner(key), [root], SignatureFormat.CADES, SignatureLevel.B_B,
                  SigningOptions(detached=True),
                  services=SigningServices(clock=FixedClock(SERVER_AT)))
    done = _validate(tmp_path, "rootsigned.p7s", signed, tmp_path / "root.pem",
                     "--detached", str(tmp_path / "doc.txt"))
    assert done.returncode == 3, done.stdout + done.stderr
    indication, sub, text = _verdict(done)
    assert (indication, sub) == ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE"), text
    assert "cA=TRUE" in text


def test_a_bare_time_stamp_token_is_not_a_document_signature(tmp_path: Path,
                                                               pki: SamplePki) -> None:
    authority = TimeStampAuthority(pki.tsa_identity(), serials=MemorySerialSource(),
                                   clock=FixedClock(SERVER_AT))
    reply = authority.respond(build_request(hashlib.sha256(b"doc").digest(),
                                            DigestAlgorithm.SHA256, cert_req=True))
    token = tsp.TimeStampResp.load(reply)["time_stamp_token"].dump()
    done = _validate(tmp_path, "t.der", token, pki.directory / "root.pem")
    assert done.returncode == 3, done.stdout + done.stderr
    indication, sub, text = _verdict(done)
    assert (indication, sub) == ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE"), text
    assert "time-stamping or OCSP service" in text
