"""ltv.timestamps (client side) and ltv.online.timestamps, against our in-process TSA."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asn1crypto import cms, core, tsp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tsa_helpers import T0, Pki, issue_tsa_cert, make_pki

from ltv.algorithms import DigestAlgorithm, SignatureMechanism
from ltv.errors import InputError, LtvError, MalformedError, TimestampError
from ltv.online.timestamps import HttpTimestampClient
from ltv.timestamps import (
    LocalTimestampClient,
    TimestampToken,
    build_request,
    parse_response,
    parse_token,
    verify_imprint,
)
from tsa.authority import DEFAULT_POLICY_OID, TimeStampAuthority

DATA = b"a contract signed on a phone"
SHA256 = DigestAlgorithm.SHA256
DIGEST = SHA256.digest(DATA)
NONCE = 0x1234_5678_9ABC


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def authority(pki: Pki) -> TimeStampAuthority:
    return pki.authority("rsa2048")


def grant(authority: TimeStampAuthority, *, nonce: int | None = NONCE, cert_req: bool = True,
          digest: bytes = DIGEST, algorithm: DigestAlgorithm = SHA256) -> bytes:
    return authority.respond(build_request(digest, algorithm, nonce=nonce, cert_req=cert_req))


def token_der(authority: TimeStampAuthority, **kwargs: Any) -> bytes:
    resp = tsp.TimeStampResp.load(grant(authority, **kwargs))
    return bytes(resp["time_stamp_token"].dump())


def response_with(token: bytes) -> bytes:
    status = bytes.fromhex("3003020100")
    body = status + token
    return bytes(core.Sequence.load(b"\x30" + _length(len(body)) + body).dump())


def _length(n: int) -> bytes:
    if n < 128:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def resign(
    token: bytes,
    key: Any,
    *,
    attrs: Callable[[list[Any]], list[Any]] | None = None,
    certificates: list[Any] | None = None,
    signature_algorithm: dict[str, Any] | None = None,
    pss: bool = False,
    sid_serial: int | None = None,
) -> bytes:
    """Rebuild a token with changed signed attributes / certificates, validly re-signed."""
    content_info = cms.ContentInfo.load(token)
    signed_data = content_info["content"]
    signer_info = signed_data["signer_infos"][0]
    current = [cms.CMSAttribute.load(a.dump()) for a in signer_info["signed_attrs"]]
    if attrs is not None:
        current = attrs(current)
    signer_info["signed_attrs"] = cms.CMSAttributes(current)
    if certificates is not None:
        signed_data["certificates"] = cms.CertificateSet(
            [cms.CertificateChoices(name="certificate", value=c) for c in certificates]
        )
    if sid_serial is not None:
        sid = signer_info["sid"].chosen
        signer_info["sid"] = cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={"issuer": sid["issuer"], "serial_number": sid_serial},
        )
    if signature_algorithm is not None:
        signer_info["signature_algorithm"] = signature_algorithm
    data = b"\x31" + signer_info["signed_attrs"].dump(force=True)[1:]
    if isinstance(key, rsa.RSAPrivateKey):
        pad: padding.AsymmetricPadding = (
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32) if pss
            else padding.PKCS1v15()
        )
        signature = key.sign(data, pad, hashes.SHA256())
    else:
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
    signer_info["signature"] = signature
    return bytes(content_info.dump(force=True))


def _asn1_cert(cert: Any) -> Any:
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


# --- requests -------------------------------------------------------------------------------

def test_build_request_fields() -> None:
    req = tsp.TimeStampReq.load(build_request(DIGEST, SHA256, nonce=7, policy_oid="1.2.3"))
    assert req["version"].native == "v1"
    assert req["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert req["message_imprint"]["hashed_message"].native == DIGEST
    assert req["nonce"].native == 7
    assert req["cert_req"].native is True
    assert req["req_policy"].dotted == "1.2.3"
    plain = tsp.TimeStampReq.load(build_request(DIGEST, SHA256, cert_req=False))
    assert plain["cert_req"].native is False
    assert isinstance(plain["nonce"], core.Void)


def test_build_request_refuses_bad_digests() -> None:
    with pytest.raises(InputError, match="32 bytes"):
        build_request(DIGEST[:20], SHA256)
    with pytest.raises(InputError, match="SHA-1"):
        build_request(hashlib.sha1(DATA).digest(), DigestAlgorithm.SHA1)  # noqa: S324


# --- the happy path -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["rsa2048", "p256", "p384"])
@pytest.mark.parametrize("algorithm", [SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512])
def test_local_client_round_trip(pki: Pki, kind: str, algorithm: DigestAlgorithm) -> None:
    client = LocalTimestampClient(pki.authority(kind).respond)
    token = client.timestamp(algorithm.digest(DATA), algorithm)
    assert token.gen_time == T0
    assert token.gen_time.tzinfo is UTC
    assert token.serial_number == 1
    assert token.policy_oid == DEFAULT_POLICY_OID
    assert token.digest_algorithm is algorithm
    assert token.message_digest == algorithm.digest(DATA)
    assert token.nonce is not None
    assert 0 < token.nonce < 2**63
    assert token.signer_certificate == pki.tsa_certs[kind]
    assert token.certificates == (pki.tsa_certs[kind], pki.ca)
    assert token.accuracy == timedelta(seconds=1)
    expected = SignatureMechanism.RSA_PKCS1V15 if kind == "rsa2048" else SignatureMechanism.ECDSA
    assert token.signature_mechanism is expected
    verify_imprint(token, data=DATA)
    verify_imprint(token, digest=algorithm.digest(DATA))
    again = parse_token(token.der)
    assert again == token


def test_token_der_is_exactly_what_was_received(authority: TimeStampAuthority) -> None:
    der = token_der(authority)
    assert parse_token(der).der == der


def test_nonces_differ_per_request(authority: TimeStampAuthority) -> None:
    client = LocalTimestampClient(authority.respond)
    nonces = {client.timestamp(DIGEST, SHA256).nonce for _ in range(5)}
    assert len(nonces) == 5


def test_verify_imprint_mismatch(authority: TimeStampAuthority) -> None:
    token = parse_response(grant(authority), digest=DIGEST, algorithm=SHA256, nonce=NONCE)
    with pytest.raises(TimestampError, match="does not cover"):
        verify_imprint(token, data=DATA + b"!")
    with pytest.raises(TimestampError, match="does not cover"):
        verify_imprint(token, digest=bytes(32))
    with pytest.raises(TypeError):
        verify_imprint(token)
    with pytest.raises(TypeError):
        verify_imprint(token, data=DATA, digest=DIGEST)


def test_cert_req_false_needs_extra_certificates(pki: Pki, authority: TimeStampAuthority) -> None:
    response = grant(authority, cert_req=False)
    with pytest.raises(TimestampError, match="carries none"):
        parse_response(response, digest=DIGEST, algorithm=SHA256, nonce=NONCE)
    token = parse_response(response, digest=DIGEST, algorithm=SHA256, nonce=NONCE,
                           extra_certificates=[pki.ca, pki.tsa_certs["rsa2048"]])
    assert token.certificates == ()
    assert token.signer_certificate == pki.tsa_certs["rsa2048"]


# --- response checks ------------------------------------------------------------------------

def test_imprint_mismatch_is_refused(authority: TimeStampAuthority) -> None:
    response = grant(authority)
    with pytest.raises(TimestampError, match="imprint differs"):
        parse_response(response, digest=bytes(32), algorithm=SHA256, nonce=NONCE)
    with pytest.raises(TimestampError, match="imprint differs"):
        parse_response(response, digest=bytes(48), algorithm=DigestAlgorithm.SHA384, nonce=NONCE)


def test_missing_or_wrong_nonce_is_refused(authority: TimeStampAuthority) -> None:
    without = grant(authority, nonce=None)
    with pytest.raises(TimestampError, match="did not echo"):
        parse_response(without, digest=DIGEST, algorithm=SHA256, nonce=NONCE)
    assert parse_response(without, digest=DIGEST, algorithm=SHA256, nonce=None).nonce is None
    with pytest.raises(TimestampError, match="answered nonce"):
        parse_response(grant(authority), digest=DIGEST, algorithm=SHA256, nonce=NONCE + 1)


def test_rejection_is_reported_with_reason(authority: TimeStampAuthority) -> None:
    rejection = authority.respond(build_request(DIGEST, SHA256, policy_oid="1.2.3.4"))
    with pytest.raises(TimestampError, match=r"rejection \(unacceptedPolicy\): policy 1\.2\.3\.4"):
        parse_response(rejection, digest=DIGEST, algorithm=SHA256, nonce=None)
    with pytest.raises(TimestampError, match="badDataFormat"):
        parse_response(authority.respond(b"junk"), digest=DIGEST, algorithm=SHA256, nonce=None)


def test_granted_without_token() -> None:
    with pytest.raises(TimestampError, match="no time-stamp token"):
        parse_response(bytes.fromhex("300530030201 00".replace(" ", "")), digest=DIGEST,
                       algorithm=SHA256, nonce=None)


@pytest.mark.parametrize("garbage", [b"", b"\x30\x03\x02\x01", b"hello", b"\x30\x80\x00\x00"])
def test_garbage_responses_are_malformed(garbage: bytes) -> None:
    with pytest.raises(MalformedError):
        parse_response(garbage, digest=DIGEST, algorithm=SHA256, nonce=None)


# --- token checks ---------------------------------------------------------------------------

def test_tampered_signature(authority: TimeStampAuthority) -> None:
    der = bytearray(token_der(authority))
    signature = cms.ContentInfo.load(bytes(der))["content"]["signer_infos"][0]["signature"].native
    at = bytes(der).index(signature)
    der[at + 10] ^= 0x01
    with pytest.raises(TimestampError, match="signature does not verify"):
        parse_token(bytes(der))


def test_altered_content_breaks_the_message_digest(authority: TimeStampAuthority) -> None:
    der = token_der(authority)
    content_info = cms.ContentInfo.load(der)
    tst = content_info["content"]["encap_content_info"]["content"].parsed
    serial = tst["serial_number"].dump()
    forged = der.replace(serial, serial[:-1] + bytes((serial[-1] ^ 0x40,)), 1)
    with pytest.raises(TimestampError, match="message-digest attribute does not match"):
        parse_token(forged)


def _ess_v2(attrs: list[Any]) -> Any:
    return next(a for a in attrs if a["type"].native == "signing_certificate_v2")


def test_ess_cert_id_must_match_the_certificate(pki: Pki, authority: TimeStampAuthority) -> None:
    other = pki.ca.public_bytes(serialization.Encoding.DER)

    def wrong_hash(attrs: list[Any]) -> list[Any]:
        ess = _ess_v2(attrs)["values"][0]["certs"][0]
        ess["cert_hash"] = hashlib.sha256(other + b"x").digest()
        return attrs

    forged = resign(token_der(authority), pki.tsa_keys["rsa2048"], attrs=wrong_hash)
    with pytest.raises(TimestampError, match="ESS signing-certificate id matches none"):
        parse_token(forged)


def test_ess_issuer_serial_must_match(pki: Pki, authority: TimeStampAuthority) -> None:
    def wrong_serial(attrs: list[Any]) -> list[Any]:
        ess = _ess_v2(attrs)["values"][0]["certs"][0]
        ess["issuer_serial"]["serial_number"] = 99
        return attrs

    forged = resign(token_der(authority), pki.tsa_keys["rsa2048"], attrs=wrong_serial)
    with pytest.raises(TimestampError, match="issuerSerial names another serial"):
        parse_token(forged)


def test_ess_is_required(pki: Pki, authority: TimeStampAuthority) -> None:
    def drop(attrs: list[Any]) -> list[Any]:
        return [a for a in attrs if a["type"].native != "signing_certificate_v2"]

    forged = resign(token_der(authority), pki.tsa_keys["rsa2048"], attrs=drop)
    with pytest.raises(TimestampError, match="no ESS signing-certificate"):
        parse_token(forged)


def test_ess_v1_sha1_is_accepted(pki: Pki, authority: TimeStampAuthority) -> None:
    cert = pki.tsa_certs["rsa2048"]

    def to_v1(attrs: list[Any]) -> list[Any]:
        v1 = cms.CMSAttribute({
            "type": "signing_certificate",
            "values": [{"certs": [{
                "cert_hash": hashlib.sha1(  # noqa: S324 (RFC 3161's ESSCertID is SHA-1)
                    cert.public_bytes(serialization.Encoding.DER)).digest(),
            }]}],
        })
        return [a for a in attrs if a["type"].native != "signing_certificate_v2"] + [v1]

    token = parse_token(resign(token_der(authority), pki.tsa_keys["rsa2048"], attrs=to_v1))
    assert token.signer_certificate == cert


def test_sid_must_name_the_ess_certificate(pki: Pki, authority: TimeStampAuthority) -> None:
    forged = resign(token_der(authority), pki.tsa_keys["rsa2048"], sid_serial=4242)
    with pytest.raises(TimestampError, match="SignerInfo identifies another certificate"):
        parse_token(forged)


def test_pss_and_plain_rsa_encryption_oids_are_accepted(
    pki: Pki, authority: TimeStampAuthority
) -> None:
    pss = resign(
        token_der(authority), pki.tsa_keys["rsa2048"], pss=True,
        signature_algorithm={"algorithm": "rsassa_pss", "parameters": {
            "hash_algorithm": {"algorithm": "sha256"},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
            "salt_length": 32,
        }},
    )
    assert parse_token(pss).signature_mechanism is SignatureMechanism.RSA_PSS
    plain = resign(token_der(authority), pki.tsa_keys["rsa2048"],
                   signature_algorithm={"algorithm": "rsassa_pkcs1v15"})
    assert parse_token(plain).signature_mechanism is SignatureMechanism.RSA_PKCS1V15


def test_signer_needs_critical_sole_timestamping_eku(pki: Pki, authority: TimeStampAuthority
                                                      ) -> None:
    key = pki.tsa_keys["rsa2048"]
    loose = issue_tsa_cert(key, pki.ca_key, pki.ca, eku_critical=False, serial=0x7E57)
    loose_der = loose.public_bytes(serialization.Encoding.DER)

    def point_at_loose(attrs: list[Any]) -> list[Any]:
        _ess_v2(attrs)["values"][0]["certs"][0]["cert_hash"] = hashlib.sha256(loose_der).digest()
        return attrs

    forged = resign(token_der(authority), key, attrs=point_at_loose,
                    certificates=[_asn1_cert(loose), _asn1_cert(pki.ca)])
    with pytest.raises(TimestampError, match="critical extended key usage"):
        parse_token(forged)

    two = issue_tsa_cert(key, pki.ca_key, pki.ca, serial=0x7E57, eku=(
        ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.CODE_SIGNING))
    two_der = two.public_bytes(serialization.Encoding.DER)

    def point_at_two(attrs: list[Any]) -> list[Any]:
        _ess_v2(attrs)["values"][0]["certs"][0]["cert_hash"] = hashlib.sha256(two_der).digest()
        return attrs

    forged = resign(token_der(authority), key, attrs=point_at_two,
                    certificates=[_asn1_cert(two)])
    with pytest.raises(TimestampError, match="only purpose"):
        parse_token(forged)


def test_signature_by_another_key(pki: Pki, authority: TimeStampAuthority) -> None:
    forged = resign(token_der(authority), rsa.generate_private_key(public_exponent=65537,
                                                                    key_size=2048))
    with pytest.raises(TimestampError, match="signature does not verify"):
        parse_token(forged)


def test_wrong_content_type(authority: TimeStampAuthority) -> None:
    der = token_der(authority)
    tst_oid = bytes(core.ObjectIdentifier("1.2.840.113549.1.9.16.1.4").dump())
    data_oid = bytes(core.ObjectIdentifier("1.2.840.113549.1.9.16.1.9").dump())
    forged = der.replace(tst_oid, data_oid, 1)  # the eContentType comes first
    with pytest.raises(TimestampError, match="not id-ct-TSTInfo"):
        parse_token(forged)


def test_two_signer_infos_are_refused(authority: TimeStampAuthority) -> None:
    content_info = cms.ContentInfo.load(token_der(authority))
    signer_info = content_info["content"]["signer_infos"][0]
    content_info["content"]["signer_infos"] = [signer_info.copy(), signer_info.copy()]
    with pytest.raises(TimestampError, match="exactly one signature"):
        parse_token(content_info.dump(force=True))


def test_not_signed_data() -> None:
    data = cms.ContentInfo({"content_type": "data", "content": b"x"}).dump()
    with pytest.raises(MalformedError, match="not SignedData"):
        parse_token(data)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_fuzz_parse_token_raises_only_ours(data: bytes) -> None:
    with pytest.raises(LtvError):
        parse_token(data)


_GOOD: dict[str, bytes] = {}


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255),
       cut=st.integers(min_value=0))
def test_fuzz_mutated_tokens_raise_only_ours(
    authority: TimeStampAuthority, index: int, value: int, cut: int
) -> None:
    good = _GOOD.setdefault("token", token_der(authority))
    data = bytearray(good)
    data[index % len(data)] = value
    mutated = bytes(data[: len(data) - cut % 64])
    try:
        token = parse_token(mutated)
    except LtvError:
        return
    assert isinstance(token, TimestampToken)


# --- clients --------------------------------------------------------------------------------

def test_local_client_wraps_failures() -> None:
    def broken(_: bytes) -> bytes:
        raise RuntimeError("disk on fire")

    with pytest.raises(TimestampError, match="in-process TSA failed: disk on fire"):
        LocalTimestampClient(broken).timestamp(DIGEST, SHA256)


def _transport(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_http_client_over_mock_transport(authority: TimeStampAuthority) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=authority.respond(request.content),
                              headers={"content-type": "application/timestamp-reply"})

    client = HttpTimestampClient("http://tsa.invalid/tsa", client=_transport(handler))
    token = client.timestamp(DIGEST, SHA256)
    assert token.message_digest == DIGEST
    request = tsp.TimeStampReq.load(seen[0].content)
    assert seen[0].headers["content-type"] == "application/timestamp-query"
    assert request["cert_req"].native is True
    assert token.nonce == request["nonce"].native
    assert token.nonce is not None
    assert 0 < token.nonce < 2**63


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (lambda r: httpx.Response(415, text="wrong type"), r"HTTP 415: wrong type"),
        (lambda r: httpx.Response(200, content=b"not DER"), "not an RFC 3161 TimeStampResp"),
        (lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused")), "refused"),
        (lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow")), "timed out"),
    ],
)
def test_http_client_errors_say_where(handler: Any, message: str) -> None:
    url = "http://tsa.invalid/tsa"
    with HttpTimestampClient(url, client=_transport(handler)) as client, \
            pytest.raises(TimestampError, match=message) as caught:
        client.timestamp(DIGEST, SHA256)
    assert str(caught.value).startswith(f"while asking the TSA at {url}: ")
    assert caught.value.url == url


def test_http_client_rejection(authority: TimeStampAuthority) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=authority.respond(b"\x30\x00"))

    client = HttpTimestampClient("http://tsa.invalid/", client=_transport(handler))
    with pytest.raises(TimestampError, match="refused the request: rejection"):
        client.timestamp(DIGEST, SHA256)


def test_http_client_against_a_real_port_that_is_closed(tmp_path: Path) -> None:
    from tsa_helpers import free_port

    url = f"http://127.0.0.1:{free_port()}/tsa"
    with HttpTimestampClient(url, timeout=2.0) as client, \
            pytest.raises(TimestampError, match=f"while asking the TSA at {url}"):
        client.timestamp(DIGEST, SHA256)


# --- tokens from another TSA: OpenSSL -------------------------------------------------------

@pytest.mark.parametrize("ess_alg", ["sha1", "sha256"])
@pytest.mark.parametrize("kind", ["rsa2048", "p256"])
def test_parse_openssl_tokens(pki: Pki, tmp_path: Path, ess_alg: str, kind: str) -> None:
    """`openssl ts -reply` tokens: signing-time present, ESS v1 (SHA-1) or v2 (SHA-256)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    (tmp_path / "serial").write_text("2A\n")
    config = tmp_path / "tsa.cnf"
    config.write_text(
        "[ tsa ]\ndefault_tsa = t\n[ t ]\n"
        f"serial = {tmp_path / 'serial'}\ncrypto_device = builtin\nsigner_digest = sha256\n"
        "default_policy = 1.2.3.4.1\ndigests = sha256, sha384, sha512\naccuracy = secs:1\n"
        f"ess_cert_id_chain = no\ness_cert_id_alg = {ess_alg}\n"
    )
    key = tmp_path / "key.pem"
    key_obj = pki.tsa_keys[kind]
    key.write_bytes(key_obj.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    query = tmp_path / "q.tsq"
    query.write_bytes(build_request(DIGEST, SHA256, nonce=NONCE, cert_req=True))
    done = subprocess.run(
        [openssl, "ts", "-reply", "-config", str(config), "-queryfile", str(query),
         "-inkey", str(key), "-signer", str(pki.cert_pem(kind)), "-chain", str(pki.chain_pem),
         "-out", str(tmp_path / "r.tsr")],
        capture_output=True, text=True, check=False, timeout=30,
    )
    assert done.returncode == 0, done.stderr
    token = parse_response((tmp_path / "r.tsr").read_bytes(), digest=DIGEST, algorithm=SHA256,
                           nonce=NONCE)
    assert token.serial_number == 0x2B  # openssl increments the serial file first
    assert token.policy_oid == "1.2.3.4.1"
    assert token.signer_certificate == pki.tsa_certs[kind]
    assert pki.ca in token.certificates
