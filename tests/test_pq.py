"""Post-quantum evidence (issue #17): ML-DSA time-stamps, their encodings against RFC 9881/9882,
an independent verification with @noble/post-quantum (node), key sunsets in the policy.

The RFC examples in ``tests/vectors/pq`` are RFC 9882's "signed-data with signed attributes"
for ML-DSA-65 and RFC 9881's ML-DSA-65 example certificate that verifies it (the drafts'
``examples/`` folders: lamps-wg/cms-ml-dsa, lamps-wg/dilithium-certificates).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from asn1crypto import cms, pem
from conftest import LTV, PKI_EPOCH, free_port, ltv_cli
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa

from ltv.algorithms import DigestAlgorithm
from ltv.clock import FixedClock, format_time
from ltv.errors import SignatureValueError
from ltv.pq import ML_DSA_OIDS, verify_mldsa
from ltv.timestamps import LocalTimestampClient, TimestampToken, build_request, parse_response
from ltv.validation.crypto_constraints import key_constraint, weakest_key_sunset
from ltv.validation.policy import ValidationPolicy, key_class
from samples.pki import SamplePki
from tsa.authority import TimeStampAuthority
from tsa.errors import TsaConfigurationError
from tsa.keys import load_private_key
from tsa.serials import MemorySerialSource

VECTORS = Path(__file__).parent / "vectors" / "pq"
NOBLE = Path(__file__).parent / "js" / "pq"
TOKEN_AT = PKI_EPOCH + timedelta(days=30)
# DER AlgorithmIdentifiers, parameters absent (RFC 9881 §2, RFC 9882 §3.3)
ALG_ID = {name: bytes.fromhex("300b0609608648016503040" + {"ml-dsa-44": "311",
                                                           "ml-dsa-65": "312",
                                                           "ml-dsa-87": "313"}[name])
          for name in ML_DSA_OIDS}
SHA512_ID = bytes.fromhex("300b0609608648016503040203")


def _rfc9882_example() -> cms.ContentInfo:
    _, _, der = pem.unarmor((VECTORS / "rfc9882-mldsa65-signed-attrs.pem").read_bytes())
    return cms.ContentInfo.load(der)


def _rfc9881_certificate() -> x509.Certificate:
    return x509.load_pem_x509_certificate((VECTORS / "rfc9881-mldsa65.crt").read_bytes())


@pytest.fixture(scope="module", params=["ml-dsa-65", "ml-dsa-87"])
def pq_pki(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SamplePki:
    directory = tmp_path_factory.mktemp(f"pq-{request.param}") / "pki"
    return SamplePki.init(directory, port=free_port(), at=PKI_EPOCH, tsa_key=request.param)


def _token(pki: SamplePki, data: bytes = b"contract") -> TimestampToken:
    tsa = TimeStampAuthority(pki.tsa_identity(), serials=MemorySerialSource(),
                             clock=FixedClock(TOKEN_AT))
    return LocalTimestampClient(tsa.respond).timestamp(hashlib.sha256(data).digest(),
                                                       DigestAlgorithm.SHA256)


def _signer_info(token_der: bytes) -> cms.SignerInfo:
    return cms.ContentInfo.load(token_der)["content"]["signer_infos"][0]


def _signed_attrs_der(info: cms.SignerInfo) -> bytes:
    return b"\x31" + bytes(info["signed_attrs"].dump())[1:]  # RFC 5652 §5.4: as a SET OF


def _raw_public_key(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.Raw,
                                          serialization.PublicFormat.Raw)


# -- encodings against the RFC examples --------------------------------------------------------

def test_token_follows_rfc9882_conventions(pq_pki: SamplePki) -> None:
    token = _token(pq_pki)
    name = pq_pki.tsa_certificate.signature_algorithm_oid  # issued by pq-root: ML-DSA-87
    assert name.dotted_string == ML_DSA_OIDS["ml-dsa-87"]
    key_name = "ml-dsa-65" if isinstance(pq_pki.tsa_certificate.public_key(),
                                         mldsa.MLDSA65PublicKey) else "ml-dsa-87"
    assert token.post_quantum_algorithm == key_name
    assert token.signature_mechanism is None
    assert token.signature_digest_algorithm is DigestAlgorithm.SHA512
    info = _signer_info(token.der)
    example = _rfc9882_example()["content"]["signer_infos"][0]
    # digestAlgorithm: id-sha512 without parameters, byte for byte as RFC 9882's example
    assert info["digest_algorithm"].dump() == example["digest_algorithm"].dump() == SHA512_ID
    assert info["signature_algorithm"].dump() == ALG_ID[key_name]
    if key_name == "ml-dsa-65":
        assert info["signature_algorithm"].dump() == example["signature_algorithm"].dump()
    signed_data = cms.ContentInfo.load(token.der)["content"]
    assert [a.dump() for a in signed_data["digest_algorithms"]] == [SHA512_ID]
    attrs = {a["type"].dotted: a["values"][0] for a in info["signed_attrs"]}
    # RFC 6211 CMSAlgorithmProtection (RFC 9882 §4 SHOULD) names both algorithms
    protection = attrs["1.2.840.113549.1.9.52"]
    assert protection["digest_algorithm"].dump() == SHA512_ID
    assert protection["signature_algorithm"]["algorithm"].dotted == ML_DSA_OIDS[key_name]
    # RFC 5816 ESSCertIDv2 (SHA-256, the DEFAULT, so no hashAlgorithm) of the TSA certificate
    ess = attrs["1.2.840.113549.1.9.16.2.47"]["certs"][0]
    tsa_der = pq_pki.tsa_certificate.public_bytes(serialization.Encoding.DER)
    assert ess["cert_hash"].native == hashlib.sha256(tsa_der).digest()
    assert b"\x30\x0b\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01" not in ess.dump()
    verify_mldsa(pq_pki.tsa_certificate.public_key(), info["signature"].native,
                 _signed_attrs_der(info))


def test_rfc9882_example_verifies_with_our_code() -> None:
    info = _rfc9882_example()["content"]["signer_infos"][0]
    cert = _rfc9881_certificate()
    cert.verify_directly_issued_by(cert)  # the RFC 9881 example is self-signed, pure ML-DSA
    data = _signed_attrs_der(info)
    verify_mldsa(cert.public_key(), info["signature"].native, data)
    with pytest.raises(SignatureValueError, match=r"^the ML-DSA signature does not verify$"):
        verify_mldsa(cert.public_key(), info["signature"].native, data[:-1] + b"\x00")


def test_certificates_follow_rfc9881(pq_pki: SamplePki) -> None:
    example = _rfc9881_certificate()
    root = pq_pki.pq_root
    root.verify_directly_issued_by(root)
    pq_pki.tsa_certificate.verify_directly_issued_by(root)
    root_der = root.public_bytes(serialization.Encoding.DER)
    tbs_alg = ALG_ID["ml-dsa-87"]
    # signatureAlgorithm (twice) and the SubjectPublicKeyInfo algorithm: parameters absent
    assert root_der.count(tbs_alg) == 3
    example_der = example.public_bytes(serialization.Encoding.DER)
    assert example_der.count(ALG_ID["ml-dsa-65"]) == 3  # the same shape in RFC 9881's example
    # the OCSP responder of pq-root is ML-DSA-65, its certificate signed by pq-root
    responder = x509.load_pem_x509_certificate(
        (pq_pki.directory / "ocsp-pq-root.pem").read_bytes())
    assert len(_raw_public_key(responder)) == len(_raw_public_key(example)) == 1952
    responder.verify_directly_issued_by(root)


# -- the independent implementation ------------------------------------------------------------

def _noble(items: list[dict[str, str]]) -> list[bool]:
    if not (NOBLE / "node_modules" / "@noble" / "post-quantum").is_dir():
        pytest.fail("run `make setup`: it installs @noble/post-quantum into tests/js/pq")
    node = shutil.which("node")
    assert node is not None, "node (apt nodejs) is part of make setup"
    proc = subprocess.run([node, str(NOBLE / "verify.mjs")], input=json.dumps(items),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    result: list[bool] = json.loads(proc.stdout)
    return result


def test_noble_post_quantum_verifies_our_tokens(pq_pki: SamplePki) -> None:
    token = _token(pq_pki)
    info = _signer_info(token.der)
    data = _signed_attrs_der(info)
    name = token.post_quantum_algorithm
    assert name is not None
    public = _raw_public_key(token.signer_certificate).hex()
    signature = bytes(info["signature"].native).hex()
    example = _rfc9882_example()["content"]["signer_infos"][0]
    root = pq_pki.pq_root
    tbs, root_sig = root.tbs_certificate_bytes, root.signature
    items = [
        {"alg": name, "public_key": public, "message": data.hex(), "signature": signature},
        # one flipped bit in the signed attributes
        {"alg": name, "public_key": public, "message": (data[:-1] + bytes([data[-1] ^ 1])).hex(),
         "signature": signature},
        # our ML-DSA-87 root certificate's self-signature (RFC 9881: over the TBSCertificate)
        {"alg": "ml-dsa-87", "public_key": _raw_public_key(root).hex(), "message": tbs.hex(),
         "signature": root_sig.hex()},
        # sanity of the checker itself: RFC 9882's example
        {"alg": "ml-dsa-65", "public_key": _raw_public_key(_rfc9881_certificate()).hex(),
         "message": _signed_attrs_der(example).hex(),
         "signature": bytes(example["signature"].native).hex()},
    ]
    assert _noble(items) == [True, False, True, True]


# -- keys, refusals, the HTTP TSA ---------------------------------------------------------------

def test_tsa_refuses_ml_dsa_44(tmp_path: Path) -> None:
    key = mldsa.MLDSA44PrivateKey.generate()
    path = tmp_path / "k.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    with pytest.raises(TsaConfigurationError) as info:
        load_private_key(path)
    assert str(info.value) == f"the TSA key {path} is ML-DSA-44; use ML-DSA-65 or ML-DSA-87"


def test_ltv_tsa_serve_with_an_ml_dsa_key(tmp_path: Path) -> None:
    pki = SamplePki.init(tmp_path / "pki", port=free_port(), at=PKI_EPOCH,
                         tsa_key="ml-dsa-65")
    port = free_port()
    log = (tmp_path / "tsa.log").open("wb")
    process = subprocess.Popen(
        [str(LTV), "tsa", "serve", "--key", str(pki.directory / "private" / "tsa-1.pem"),
         "--cert", str(pki.directory / "tsa.pem"), "--chain", str(pki.directory / "pq-root.pem"),
         "--port", str(port), "--state-dir", str(tmp_path / "state"),
         "--at", format_time(TOKEN_AT)], stdout=log, stderr=log)
    try:
        digest = hashlib.sha512(b"contract").digest()
        request = build_request(digest, DigestAlgorithm.SHA512, nonce=7)
        reply = None
        deadline = time.monotonic() + 30
        while reply is None:
            assert process.poll() is None, (tmp_path / "tsa.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "tsa.log").read_text()
            try:
                reply = httpx.post(f"http://127.0.0.1:{port}/", content=request, timeout=5,
                                   headers={"Content-Type": "application/timestamp-query"})
            except httpx.TransportError:
                time.sleep(0.05)  # readiness polling
        token = parse_response(reply.content, digest=digest, algorithm=DigestAlgorithm.SHA512,
                               nonce=7)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
    assert token.post_quantum_algorithm == "ml-dsa-65"
    assert abs(token.gen_time - TOKEN_AT) < timedelta(minutes=5)
    assert [c.subject for c in token.certificates] == [pki.tsa_certificate.subject,
                                                      pki.pq_root.subject]


def test_rollover_onto_ml_dsa_and_its_chain(tmp_path: Path) -> None:
    pki = SamplePki.init(tmp_path / "pki", port=free_port(), at=PKI_EPOCH)
    assert isinstance(pki.tsa_certificate.public_key(), type(pki.root.public_key()))
    result = ltv_cli("pki", "rollover-tsa", pki.directory, "--tsa-key", "ml-dsa-65", "--at",
                     format_time(PKI_EPOCH + timedelta(days=365)))
    assert result.returncode == 0, result.stderr
    fresh = SamplePki.load(pki.directory)
    assert isinstance(fresh.tsa_certificate.public_key(), mldsa.MLDSA65PublicKey)
    chain = x509.load_pem_x509_certificates((pki.directory / "tsa-chain.pem").read_bytes())
    assert chain == [fresh.tsa_certificate, fresh.pq_root]
    identity = fresh.tsa_identity(at=PKI_EPOCH + timedelta(days=400))
    assert identity.chain == (fresh.pq_root,)
    # the first (RSA) TSA keeps its validity and its RSA root
    old = fresh.tsa_identity(at=PKI_EPOCH + timedelta(days=10))
    assert old.certificate == fresh.tsa_certificates[0]
    assert old.chain == (fresh.root,)
    refused = ltv_cli("pki", "rollover-tsa", pki.directory, "--tsa-key", "ml-dsa-44")
    assert refused.returncode == 2
    assert "'ml-dsa-44' is not one of" in refused.stderr


# -- the sunset table --------------------------------------------------------------------------

def test_key_classes_and_default_sunsets() -> None:
    policy = ValidationPolicy.default()
    assert [key_class(*k) for k in (("rsa", 2048), ("rsa", 3072), ("rsa", 4096), ("ec", 256),
                                    ("ec", 384), ("mldsa65", 0))] == [
        "rsa-2048", "rsa-3072", "rsa-4096", "p-256", "p-384", "ml-dsa-65"]
    sunset = datetime(2036, 1, 1, tzinfo=UTC)
    assert policy.key_sunset == {"rsa-2048": sunset, "p-256": sunset}
    assert key_constraint(policy, "rsa", 2048, sunset - timedelta(seconds=1)).allowed
    refused = key_constraint(policy, "rsa", 2048, sunset)
    assert not refused.allowed
    assert refused.not_allowed_after == sunset
    assert refused.failure_reason == ("RSA-2048 is not accepted after 2035-12-31 (key sunset "
                                      "of the policy; NIST IR 8547 by default)")
    assert key_constraint(policy, "mldsa65", 0, datetime(2100, 1, 1, tzinfo=UTC)).allowed
    assert key_constraint(policy, "rsa", 4096, datetime(2100, 1, 1, tzinfo=UTC)).allowed


def test_weakest_key_sunset_of_a_token(pq_pki: SamplePki, pki: SamplePki) -> None:
    table = ValidationPolicy.default().key_sunset
    pq_token = _token(pq_pki)
    assert weakest_key_sunset([pq_token.signer_certificate, *pq_token.certificates],
                              table) is None
    assert weakest_key_sunset([pki.tsa_certificate, pki.root], table) == (
        "RSA-2048", datetime(2036, 1, 1, tzinfo=UTC))


def test_policy_file_key_sunset(tmp_path: Path) -> None:
    from ltv.cli.validate import _apply_policy_file
    from ltv.errors import ConfigurationError

    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"key_sunset": {"RSA-2048": "2031-01-01T00:00:00Z",
                                               "p-256": None}}))
    policy = _apply_policy_file(ValidationPolicy.default(), path)
    assert policy.key_sunset == {"rsa-2048": datetime(2031, 1, 1, tzinfo=UTC)}
    path.write_text(json.dumps({"key_sunset": {"rsa-1024": "2031-01-01T00:00:00Z"}}))
    with pytest.raises(ConfigurationError) as info:
        _apply_policy_file(ValidationPolicy.default(), path)
    assert str(info.value) == (
        "key_sunset: unknown key class 'rsa-1024' (use rsa-2048, rsa-3072, rsa-4096, p-256, "
        "p-384, p-521, ml-dsa-44, ml-dsa-65, ml-dsa-87)")


# -- signing with an ML-DSA TSA, validating its time-stamps -------------------------------------

@pytest.mark.parametrize("fmt", ["cades", "xades", "pades"])
def test_signature_with_ml_dsa_timestamps_validates(pq_pki: SamplePki, tmp_path: Path,
                                                    fmt: str) -> None:
    from conftest import SERVER_AT, PkiServer

    from ltv.cli._services import build_services
    from ltv.clock import OffsetClock
    from ltv.keys import KeySigner
    from ltv.keys import load_private_key as load_signer_key
    from ltv.signing import SignatureFormat, SignatureLevel, sign
    from ltv.validation import Indication, validate

    pq_pki.issue_software_signer("Taro", tmp_path / "signer", at=PKI_EPOCH)
    key = load_signer_key(tmp_path / "signer" / "key.pem")
    cert = x509.load_pem_x509_certificate((tmp_path / "signer" / "cert.pem").read_bytes())
    chain = x509.load_pem_x509_certificates((tmp_path / "signer" / "chain.pem").read_bytes())
    if fmt == "pades":
        from test_pades import sample_pdf

        content = sample_pdf()
    else:
        content = (b"<contract>pay 100 JPY</contract>" if fmt == "xades"
                   else b"Contract: the buyer pays 100 JPY.\n")
    signed_at = SERVER_AT + timedelta(hours=1)
    server = PkiServer(pq_pki.directory, pq_pki.port, at=signed_at).start()
    try:
        signed = sign(content, KeySigner(key), [cert, *chain], SignatureFormat(fmt),
                      SignatureLevel.B_LTA,
                      services=build_services(pki=pq_pki.directory, clock=OffsetClock(signed_at)))
    finally:
        server.stop()
    policy = ValidationPolicy.default(trust_anchors=[pq_pki.root, pq_pki.pq_root])
    report = validate(signed, policy=policy, at=signed_at + timedelta(minutes=10), offline=True)
    sig = report.signatures[0]
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_PASSED, None), sig.message
    assert sig.timestamps, "B-LTA has time-stamps"
    for ts in sig.timestamps:
        assert ts.indication is Indication.PASSED, ts.message
        assert ts.tsa is not None
        assert ts.tsa.startswith("CN=LTV Sample TSA 1")
    # the ML-DSA signature time-stamp (~10 KiB with its certificate) fits the room a fresh
    # PAdES signature reserves: a signature time-stamp, not a fallback document time-stamp
    kinds = [ts.kind.value for ts in sig.timestamps]
    assert kinds[0] == "signature", kinds
