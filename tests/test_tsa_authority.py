"""tsa.authority, tsa.keys, tsa.serials: in process, no network (RFC 3161 §2.4, RFC 5816)."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, core, tsp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tsa_helpers import KEY_PASSWORD, NOT_AFTER, T0, Pki, issue_tsa_cert, make_pki, write_pem

from ltv.algorithms import DigestAlgorithm
from ltv.clock import FixedClock
from ltv.timestamps import build_request, parse_response
from tsa.authority import DEFAULT_POLICY_OID, TimeStampAuthority, TsaIdentity
from tsa.errors import SerialAllocationError, TsaConfigurationError
from tsa.keys import load_certificates, load_private_key
from tsa.serials import MAX_SERIAL, FileSerialAllocator, MemorySerialSource

DIGEST = hashlib.sha256(b"contract").digest()
OTHER_POLICY = "2.25.279238076902243542650764225004258860999.2.99"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def authority(pki: Pki) -> TimeStampAuthority:
    return pki.authority("rsa2048")


class Resp(core.Sequence):  # type: ignore[misc]
    """TimeStampResp with the token OPTIONAL (RFC 3161 §2.4.2; asn1crypto requires it)."""

    _fields = [  # noqa: RUF012
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def decode(response: bytes) -> tuple[str, set[str], Any]:
    """(status, failInfo names, SignedData or None) of a DER TimeStampResp."""
    resp = Resp.load(response, strict=True)
    status = resp["status"]["status"].native
    fail = resp["status"]["fail_info"]
    failures = set() if isinstance(fail, core.Void) else set(fail.native)
    if status != "granted":
        return status, failures, None
    return status, failures, resp["time_stamp_token"]["content"]


def tst_info(signed_data: Any) -> Any:
    return signed_data["encap_content_info"]["content"].parsed


def rejection_of(authority: TimeStampAuthority, request: bytes) -> set[str]:
    status, failures, _ = decode(authority.respond(request))
    assert status == "rejection"
    return failures


def raw_request(**fields: Any) -> bytes:
    base: dict[str, Any] = {
        "version": 1,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": DIGEST},
    }
    base.update(fields)
    return bytes(tsp.TimeStampReq(base).dump())


# --- keys -----------------------------------------------------------------------------------

def _pem(key: Any, fmt: serialization.PrivateFormat, password: bytes | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password) if password
        else serialization.NoEncryption()
    )
    return bytes(key.private_bytes(serialization.Encoding.PEM, fmt, encryption))


@pytest.mark.parametrize("fmt", ["pkcs1", "pkcs8", "pkcs8-encrypted"])
def test_load_rsa_key_in_each_format(pki: Pki, tmp_path: Path, fmt: str) -> None:
    key = pki.tsa_keys["rsa2048"]
    path = tmp_path / "key.pem"
    if fmt == "pkcs1":
        path.write_bytes(_pem(key, serialization.PrivateFormat.TraditionalOpenSSL))
        password = None
    elif fmt == "pkcs8":
        path.write_bytes(_pem(key, serialization.PrivateFormat.PKCS8))
        password = None
    else:
        path.write_bytes(_pem(key, serialization.PrivateFormat.PKCS8, KEY_PASSWORD))
        password = KEY_PASSWORD
    loaded = load_private_key(path, password=password)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert loaded.private_numbers() == key.private_numbers()


@pytest.mark.parametrize("kind", ["p256", "p384"])
def test_load_ec_keys_sec1_and_pkcs8(pki: Pki, tmp_path: Path, kind: str) -> None:
    assert isinstance(load_private_key(pki.key_pem(kind)), ec.EllipticCurvePrivateKey)  # SEC1
    path = tmp_path / "p8.pem"
    path.write_bytes(_pem(pki.tsa_keys[kind], serialization.PrivateFormat.PKCS8, b"pw"))
    assert isinstance(load_private_key(path, password=b"pw"), ec.EllipticCurvePrivateKey)


def test_key_errors_name_the_file(pki: Pki, tmp_path: Path) -> None:
    encrypted = pki.key_pem("rsa2048")
    with pytest.raises(TsaConfigurationError, match=f"{encrypted}.*encrypted"):
        load_private_key(encrypted)
    with pytest.raises(TsaConfigurationError, match=f"{encrypted}.*password is wrong"):
        load_private_key(encrypted, password=b"wrong")
    missing = tmp_path / "missing.pem"
    with pytest.raises(TsaConfigurationError, match=str(missing)):
        load_private_key(missing)
    not_pem = tmp_path / "garbage.pem"
    not_pem.write_bytes(b"\x00\x01garbage")
    with pytest.raises(TsaConfigurationError, match=f"{not_pem} is not a PEM"):
        load_private_key(not_pem)
    cert_as_key = pki.cert_pem("p256")
    with pytest.raises(TsaConfigurationError, match=str(cert_as_key)):
        load_private_key(cert_as_key)


def test_a_password_for_an_unencrypted_key_is_ignored(pki: Pki) -> None:
    assert load_private_key(pki.key_pem("p256"), password=b"unused")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505
         "RSA-1024"),
        (lambda: ec.generate_private_key(ec.SECP521R1()), "secp521r1"),
        (lambda: ec.generate_private_key(ec.SECP256K1()), "secp256k1"),
        (lambda: dsa.generate_private_key(key_size=2048), "DSA"),
    ],
)
def test_weak_or_foreign_keys_are_refused(tmp_path: Path, make: Any, message: str) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(_pem(make(), serialization.PrivateFormat.PKCS8))
    with pytest.raises(TsaConfigurationError, match=message):
        load_private_key(path)


def test_load_certificates(pki: Pki, tmp_path: Path) -> None:
    bundle = write_pem(tmp_path / "bundle.pem", pki.ca, pki.root)
    assert load_certificates(bundle) == [pki.ca, pki.root]
    empty = tmp_path / "empty.pem"
    empty.write_text("nothing here\n")
    with pytest.raises(TsaConfigurationError, match=str(empty)):
        load_certificates(empty)


# --- identity -------------------------------------------------------------------------------

def test_identity_from_files_with_encrypted_key(pki: Pki) -> None:
    identity = TsaIdentity.from_files(
        pki.key_pem("rsa2048"), pki.cert_pem("rsa2048"), chain=pki.chain_pem,
        password=KEY_PASSWORD,
    )
    assert identity.certificate == pki.tsa_certs["rsa2048"]
    assert identity.chain == (pki.ca,)


def test_identity_drops_the_tsa_cert_from_the_chain(pki: Pki, tmp_path: Path) -> None:
    full = write_pem(tmp_path / "full.pem", pki.tsa_certs["p256"], pki.ca, pki.root)
    identity = TsaIdentity.from_files(pki.key_pem("p256"), full, chain=full)
    assert identity.certificate == pki.tsa_certs["p256"]
    assert identity.chain == (pki.ca, pki.root)


def test_identity_refuses_a_foreign_key(pki: Pki) -> None:
    with pytest.raises(TsaConfigurationError, match="does not belong"):
        TsaIdentity(private_key=pki.tsa_keys["p256"], certificate=pki.tsa_certs["rsa2048"])


@pytest.mark.parametrize(
    ("eku", "critical"),
    [
        ((ExtendedKeyUsageOID.TIME_STAMPING,), False),
        ((ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.CODE_SIGNING), True),
        ((ExtendedKeyUsageOID.CODE_SIGNING,), True),
        ((), True),
    ],
)
def test_identity_requires_critical_sole_timestamping_eku(
    pki: Pki, eku: Any, critical: bool
) -> None:
    key = pki.tsa_keys["p256"]
    cert = issue_tsa_cert(key, pki.ca_key, pki.ca, eku=eku, eku_critical=critical)
    with pytest.raises(TsaConfigurationError, match=r"RFC 3161 §2\.3"):
        TsaIdentity(private_key=key, certificate=cert)


# --- granted tokens -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["rsa2048", "p256", "p384"])
@pytest.mark.parametrize("algorithm", ["sha256", "sha384", "sha512"])
def test_granted_token_structure(pki: Pki, kind: str, algorithm: str) -> None:
    authority = pki.authority(kind)
    digest = hashlib.new(algorithm, b"x").digest()
    request = raw_request(
        message_imprint={"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest},
        nonce=2**62 + 5,
        cert_req=True,
    )
    status, _, signed_data = decode(authority.respond(request))
    assert status == "granted"
    assert signed_data["version"].native == "v3"
    info = tst_info(signed_data)
    assert info["version"].native == "v1"
    assert info["policy"].dotted == DEFAULT_POLICY_OID
    assert info["message_imprint"].dump() == tsp.TimeStampReq.load(request)[
        "message_imprint"].dump()
    assert info["serial_number"].native == 1
    assert info["gen_time"].native == T0
    assert info["accuracy"].native == {"seconds": 1, "millis": None, "micros": None}
    assert info["nonce"].native == 2**62 + 5
    assert isinstance(info["tsa"], core.Void)

    (signer_info,) = signed_data["signer_infos"]
    attrs = {a["type"].dotted: a["values"] for a in signer_info["signed_attrs"]}
    assert set(attrs) == {
        "1.2.840.113549.1.9.3", "1.2.840.113549.1.9.4", "1.2.840.113549.1.9.16.2.47"
    }
    assert attrs["1.2.840.113549.1.9.3"][0].dotted == "1.2.840.113549.1.9.16.1.4"
    (ess,) = attrs["1.2.840.113549.1.9.16.2.47"][0]["certs"]
    cert = pki.tsa_certs[kind]
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    assert ess["cert_hash"].native == hashlib.sha256(cert_der).digest()
    assert ess["issuer_serial"]["serial_number"].native == cert.serial_number
    assert b"\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01" not in ess.dump()  # DEFAULT omitted
    certs = [c.chosen.dump() for c in signed_data["certificates"]]
    assert certs == [cert_der, pki.ca.public_bytes(serialization.Encoding.DER)]

    expected_sig = {
        "rsa2048": "sha256_rsa", "p256": "sha256_ecdsa", "p384": "sha384_ecdsa"
    }[kind]
    assert signer_info["signature_algorithm"]["algorithm"].native == expected_sig
    signed = b"\x31" + signer_info["signed_attrs"].dump()[1:]
    hash_ = hashes.SHA384() if kind == "p384" else hashes.SHA256()
    public_key: Any = cert.public_key()
    if kind == "rsa2048":
        from cryptography.hazmat.primitives.asymmetric import padding

        public_key.verify(signer_info["signature"].native, signed, padding.PKCS1v15(), hash_)
    else:
        public_key.verify(signer_info["signature"].native, signed, ec.ECDSA(hash_))


def test_cert_req_false_gives_no_certificates(authority: TimeStampAuthority) -> None:
    for request in (raw_request(), raw_request(cert_req=False)):
        status, _, signed_data = decode(authority.respond(request))
        assert status == "granted"
        assert isinstance(signed_data["certificates"], core.Void)


def test_no_nonce_no_echo(authority: TimeStampAuthority) -> None:
    _, _, signed_data = decode(authority.respond(raw_request()))
    assert isinstance(tst_info(signed_data)["nonce"], core.Void)


@pytest.mark.parametrize("nonce", [0, 1, 2**63 - 1, 2**160, -5])
def test_nonce_echoed_exactly(authority: TimeStampAuthority, nonce: int) -> None:
    _, _, signed_data = decode(authority.respond(raw_request(nonce=nonce)))
    assert tst_info(signed_data)["nonce"].native == nonce


def test_policy_handling(pki: Pki) -> None:
    authority = pki.authority(accepted_policies=frozenset({OTHER_POLICY}))
    _, _, sd = decode(authority.respond(raw_request()))
    assert tst_info(sd)["policy"].dotted == DEFAULT_POLICY_OID
    _, _, sd = decode(authority.respond(raw_request(req_policy=OTHER_POLICY)))
    assert tst_info(sd)["policy"].dotted == OTHER_POLICY
    _, _, sd = decode(authority.respond(raw_request(req_policy=DEFAULT_POLICY_OID)))
    assert tst_info(sd)["policy"].dotted == DEFAULT_POLICY_OID
    assert rejection_of(authority, raw_request(req_policy="1.2.3.4")) == {"unaccepted_policy"}
    custom = pki.authority(policy_oid=OTHER_POLICY)
    _, _, sd = decode(custom.respond(raw_request()))
    assert tst_info(sd)["policy"].dotted == OTHER_POLICY
    assert rejection_of(custom, raw_request(req_policy=DEFAULT_POLICY_OID)) == {
        "unaccepted_policy"
    }
    with pytest.raises(TsaConfigurationError, match="not a policy OID"):
        pki.authority(policy_oid="not an oid")


def test_accuracy_and_fractional_gen_time(pki: Pki) -> None:
    authority = pki.authority(accuracy=timedelta(seconds=2, milliseconds=5, microseconds=7))
    _, _, sd = decode(authority.respond(raw_request()))
    info = tst_info(sd)
    assert info["accuracy"].native == {"seconds": 2, "millis": 5, "micros": 7}
    assert b"20261125120000.123456Z" in info.dump()
    whole = pki.authority(clock=FixedClock(T0.replace(microsecond=500000)),
                          accuracy=timedelta(milliseconds=10))
    info = tst_info(decode(whole.respond(raw_request()))[2])
    assert b"20261125120000.5Z" in info.dump()  # trailing zeros dropped (RFC 3161 §2.4.2)
    assert info["accuracy"].native == {"seconds": None, "millis": 10, "micros": None}
    with pytest.raises(TsaConfigurationError, match="accuracy"):
        pki.authority(accuracy=timedelta(0))


def test_tsa_name_on_request(pki: Pki) -> None:
    authority = pki.authority(tsa_name=True)
    info = tst_info(decode(authority.respond(raw_request()))[2])
    assert info["tsa"].chosen.native["common_name"] == "ltv test TSA rsa2048"


def test_serials_increase_and_the_client_accepts(pki: Pki) -> None:
    authority = pki.authority("p256")
    serials = []
    for i in range(5):
        request = build_request(DIGEST, DigestAlgorithm.SHA256, nonce=i + 1)
        token = parse_response(authority.respond(request), digest=DIGEST,
                               algorithm=DigestAlgorithm.SHA256, nonce=i + 1)
        serials.append(token.serial_number)
    assert serials == [1, 2, 3, 4, 5]


# --- rejections -----------------------------------------------------------------------------

def test_rejection_carries_status_string(authority: TimeStampAuthority) -> None:
    resp = Resp.load(authority.respond(b"garbage"))
    assert resp["status"]["status"].native == "rejection"
    assert "not a DER TimeStampReq" in resp["status"]["status_string"].native[0]


@pytest.mark.parametrize(
    ("request_der", "failure"),
    [
        (b"", "bad_data_format"),
        (b"garbage", "bad_data_format"),
        (b"\x30\x80", "bad_data_format"),
        (raw_request()[:-3], "bad_data_format"),
        (raw_request() + b"\x00", "bad_data_format"),
        (raw_request(version=2), "bad_request"),
        (raw_request(version=0), "bad_request"),
        (raw_request(message_imprint={"hash_algorithm": {"algorithm": "sha1"},
                                      "hashed_message": b"1" * 20}), "bad_alg"),
        (raw_request(message_imprint={"hash_algorithm": {"algorithm": "md5"},
                                      "hashed_message": b"1" * 16}), "bad_alg"),
        (raw_request(message_imprint={"hash_algorithm": {"algorithm": "1.2.3.4"},
                                      "hashed_message": b"1" * 32}), "bad_alg"),
        (raw_request(message_imprint={"hash_algorithm": {"algorithm": "sha256"},
                                      "hashed_message": b"1" * 31}), "bad_data_format"),
        (raw_request(message_imprint={"hash_algorithm": {"algorithm": "sha512"},
                                      "hashed_message": b"1" * 32}), "bad_data_format"),
        (raw_request(extensions=[{"extn_id": "1.2.3", "extn_value": b"x"}]),
         "unaccepted_extensions"),
        (raw_request(req_policy="1.2.3.4.5"), "unaccepted_policy"),
        (bytes(cms.ContentInfo({"content_type": "data", "content": b"x"}).dump()),
         "bad_data_format"),
    ],
)
def test_bad_requests_are_rejected(
    authority: TimeStampAuthority, request_der: bytes, failure: str
) -> None:
    assert rejection_of(authority, request_der) == {failure}


def _tlv(tag: int, content: bytes) -> bytes:
    assert len(content) < 128
    return bytes((tag, len(content))) + content


def _request_with_hash_parameters(parameters: bytes) -> bytes:
    sha256 = bytes(core.ObjectIdentifier("2.16.840.1.101.3.4.2.1").dump())
    imprint = _tlv(0x30, _tlv(0x30, sha256 + parameters) + _tlv(0x04, DIGEST))
    return _tlv(0x30, b"\x02\x01\x01" + imprint)


def test_hash_parameters_absent_or_null_only(authority: TimeStampAuthority) -> None:
    assert decode(authority.respond(_request_with_hash_parameters(b"")))[0] == "granted"
    assert decode(authority.respond(_request_with_hash_parameters(b"\x05\x00")))[0] == "granted"
    # RFC 5754 §2: SHA-2 parameters are absent or NULL; anything else does not decode.
    assert rejection_of(authority, _request_with_hash_parameters(b"\x02\x01\x01")) == {
        "bad_data_format"
    }


def test_oversized_request_is_rejected(pki: Pki) -> None:
    authority = pki.authority(max_request_bytes=1024)
    assert rejection_of(authority, raw_request(nonce=1 << 9000)) == {"bad_data_format"}


def test_serial_failure_is_a_system_failure(pki: Pki) -> None:
    class Broken:
        def next_serial(self) -> int:
            raise SerialAllocationError("disk full")

    assert rejection_of(pki.authority(serials=Broken()), raw_request()) == {"system_failure"}
    exhausted = pki.authority(serials=MemorySerialSource(MAX_SERIAL))
    assert decode(exhausted.respond(raw_request()))[0] == "granted"
    assert rejection_of(exhausted, raw_request()) == {"system_failure"}


def test_clock_outside_certificate_validity(pki: Pki) -> None:
    late = pki.authority(clock=FixedClock(NOT_AFTER + timedelta(days=1)))
    assert rejection_of(late, raw_request()) == {"system_failure"}


def test_clock_failure_is_a_system_failure(pki: Pki) -> None:
    class BrokenClock:
        def now(self) -> Any:
            raise RuntimeError("no time")

    assert rejection_of(pki.authority(clock=BrokenClock()), raw_request()) == {"system_failure"}


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600))
def test_fuzz_arbitrary_bytes_never_raise(authority: TimeStampAuthority, data: bytes) -> None:
    status, failures, _ = decode(authority.respond(data))
    assert status in {"rejection", "granted"}
    if status == "rejection":
        assert len(failures) == 1


_VALID = raw_request(nonce=12345, cert_req=True, req_policy=DEFAULT_POLICY_OID)


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(min_value=0, max_value=len(_VALID)),
    flips=st.lists(
        st.tuples(st.integers(min_value=0, max_value=len(_VALID) - 1),
                  st.integers(min_value=0, max_value=255)),
        max_size=4,
    ),
    tail=st.binary(max_size=8),
)
def test_fuzz_mutated_requests_never_raise(
    authority: TimeStampAuthority, cut: int, flips: list[tuple[int, int]], tail: bytes
) -> None:
    data = bytearray(_VALID)
    for index, value in flips:
        data[index] = value
    mutated = bytes(data[:cut]) + tail
    status, failures, signed_data = decode(authority.respond(mutated))
    assert status in {"rejection", "granted"}
    if status == "granted":
        assert tst_info(signed_data)["serial_number"].native >= 1
    else:
        assert len(failures) == 1


# --- serials --------------------------------------------------------------------------------

def test_memory_serials() -> None:
    source = MemorySerialSource()
    assert [source.next_serial() for _ in range(3)] == [1, 2, 3]
    with pytest.raises(TsaConfigurationError):
        MemorySerialSource(0)


def test_file_serials_survive_restarts(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = FileSerialAllocator(state, block_size=10)
    assert [first.next_serial() for _ in range(3)] == [1, 2, 3]
    assert (state / "serial.next").read_text().strip() == "11"
    second = FileSerialAllocator(state, block_size=10)  # a restart: the rest of 1..10 is lost
    assert second.next_serial() == 11
    assert [first.next_serial() for _ in range(8)] == [4, 5, 6, 7, 8, 9, 10, 21]
    assert second.peek_state() == 31


def test_file_serials_threads(tmp_path: Path) -> None:
    allocator = FileSerialAllocator(tmp_path, block_size=7)
    got: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [allocator.next_serial() for _ in range(500)]
        with lock:
            got.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 4000


def _allocate(state: str, count: int) -> list[int]:
    allocator = FileSerialAllocator(Path(state), block_size=3)
    return [allocator.next_serial() for _ in range(count)]


def test_file_serials_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(_allocate, [(str(tmp_path), 300)] * 4)
    serials = [s for r in results for s in r]
    assert len(serials) == len(set(serials)) == 1200


def test_file_serials_after_fork_do_not_reuse_the_parents_block(tmp_path: Path) -> None:
    allocator = FileSerialAllocator(tmp_path, block_size=100)
    assert allocator.next_serial() == 1
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        os.write(write_fd, str(allocator.next_serial()).encode())
        os._exit(0)
    os.close(write_fd)
    child = int(os.read(read_fd, 100))
    os.close(read_fd)
    os.waitpid(pid, 0)
    assert child == 101
    assert allocator.next_serial() == 2


def test_corrupt_state_is_never_reset(tmp_path: Path) -> None:
    (tmp_path / "serial.next").write_text("12x\n")
    allocator = FileSerialAllocator(tmp_path)
    with pytest.raises(SerialAllocationError, match="corrupt"):
        allocator.next_serial()


def test_exhausted_file_serials(tmp_path: Path) -> None:
    (tmp_path / "serial.next").write_text(f"{MAX_SERIAL - 1}\n")
    allocator = FileSerialAllocator(tmp_path, block_size=2)
    assert allocator.next_serial() == MAX_SERIAL - 1
    assert allocator.next_serial() == MAX_SERIAL
    with pytest.raises(SerialAllocationError, match="exhausted"):
        allocator.next_serial()


def test_unusable_state_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TsaConfigurationError, match="state directory"):
        FileSerialAllocator(blocker / "sub")
    with pytest.raises(TsaConfigurationError):
        FileSerialAllocator(tmp_path, block_size=0)


def test_authority_over_file_serials(pki: Pki, tmp_path: Path) -> None:
    authority = pki.authority(serials=FileSerialAllocator(tmp_path))
    _, _, signed_data = decode(authority.respond(raw_request()))
    assert tst_info(signed_data)["serial_number"].native == 1
    assert (tmp_path / "serial.next").read_text().strip() == "257"
