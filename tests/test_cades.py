"""CAdES B-B .. B-LTA (EN 319 122-1) checked by OpenSSL, with imprints recomputed independently.

The archive-time-stamp-v3 imprint is recomputed here from the standard's rules (§5.5.2, §5.5.3)
with asn1crypto and hashlib only, never with ltv.formats.cades, and each token is handed to
``openssl ts -verify -digest``. One parametrized matrix covers level x packaging x key type.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms as acms
from asn1crypto import core, tsp
from conftest import SERVER_AT, PkiServer
from cryptography import x509

from ltv.algorithms import DigestAlgorithm, SignatureMechanism
from ltv.cli._services import build_services
from ltv.clock import OffsetClock
from ltv.errors import InputError, MalformedError, UnsupportedAlgorithmError
from ltv.formats import cades, cms
from ltv.signing import (
    SignatureFormat,
    SignatureLevel,
    SigningOptions,
    SigningServices,
    extend,
    sign,
)
from samples.phone import Phone
from samples.pki import SamplePki

ATS_V3 = "0.4.0.1733.2.4"
ATS_HASH_INDEX_V3 = "0.4.0.19122.1.5"
SIG_TS = "1.2.840.113549.1.9.16.2.14"
DOCUMENT = bytes(range(256)) * 400  # 100 KiB, binary


# ---------------------------------------------------------------------------------------------
# Independent checks (asn1crypto + hashlib + openssl; no ltv.formats code)


@dataclass
class Token:
    oid: str
    der: bytes
    imprint: bytes  # recomputed independently
    hash_name: str


def _attr_values(attrs: acms.CMSAttributes | None) -> Iterator[tuple[str, bytes, list[bytes]]]:
    for attr in attrs or []:
        yield attr["type"].dotted, attr["type"].dump(), [v.dump() for v in attr["values"]]


def _tst_hash_name(token_der: bytes) -> str:
    econtent = acms.ContentInfo.load(token_der)["content"]["encap_content_info"]["content"]
    info = tsp.TSTInfo.load(econtent.contents if not isinstance(econtent.native, bytes)
                            else econtent.native)
    return str(info["message_imprint"]["hash_algorithm"]["algorithm"].native)


def _token_hash_index(token_der: bytes) -> bytes:
    signer = acms.ContentInfo.load(token_der)["content"]["signer_infos"][0]
    found = [vals for oid, _, vals in _attr_values(signer["unsigned_attrs"])
             if oid == ATS_HASH_INDEX_V3]
    assert len(found) == 1, "exactly one ats-hash-index-v3 in the TST"
    assert len(found[0]) == 1, "with exactly one value"
    return found[0][0]


def expected_tokens(signed: bytes, content: bytes) -> list[Token]:
    """Every time-stamp token of the first SignerInfo with its independently computed imprint."""
    info = acms.ContentInfo.load(signed)
    sd = info["content"]
    si = sd["signer_infos"][0]
    certs = [c.dump() for c in sd["certificates"]] if sd["certificates"].native else []
    crls = [c.dump() for c in sd["crls"]] if sd["crls"].native else []
    unsigned = list(_attr_values(si["unsigned_attrs"]))
    out: list[Token] = []
    for position, (oid, _, values) in enumerate(unsigned):
        for token_der in values:
            name = _tst_hash_name(token_der)
            if oid == SIG_TS:
                imprint = hashlib.new(name, si["signature"].native).digest()
            elif oid == ATS_V3:
                index_der = _token_hash_index(token_der)
                index = core.Sequence.load(index_der)
                assert len(index) == 4, "hashIndAlgorithm, certs, crls, unsigned attrs"
                alg = core.Sequence.load(index[0].dump())[0]
                assert core.ObjectIdentifier.load(alg.dump()).native in (name, _oid_of(name))

                def h(b: bytes, n: str = name) -> bytes:
                    return hashlib.new(n, b).digest()

                cert_hashes = _octet_strings(index[1])
                crl_hashes = _octet_strings(index[2])
                attr_hashes = _octet_strings(index[3])
                assert len(cert_hashes) == len(set(cert_hashes)) > 0
                # Every indexed element is present in the signature (§5.5.2 / validation).
                present_certs = {h(c) for c in certs}
                present_crls = {h(c) for c in crls}
                assert set(cert_hashes) <= present_certs
                assert set(crl_hashes) <= present_crls
                # The unsigned attributes before this archive time-stamp, value by value.
                before = [h(t + v) for _, t, vals in unsigned[:position] for v in vals]
                assert attr_hashes == before
                data = sd["encap_content_info"]["content"]
                signed_content = content if data.native is None else data.native
                parts = [
                    sd["encap_content_info"]["content_type"].dump(),
                    h(signed_content),
                    si["version"].dump(), si["sid"].dump(), si["digest_algorithm"].dump(),
                    si["signed_attrs"].dump(), si["signature_algorithm"].dump(),
                    si["signature"].dump(), index_der,
                ]
                imprint = h(b"".join(parts))
            else:
                continue
            out.append(Token(oid, token_der, imprint, name))
    return out


class _OctetStrings(core.SequenceOf):  # type: ignore[misc]
    _child_spec = core.OctetString


def _octet_strings(value: core.Asn1Value) -> list[bytes]:
    return [x.native for x in _OctetStrings.load(value.dump())]


def _oid_of(name: str) -> str:
    return {"sha256": "2.16.840.1.101.3.4.2.1", "sha384": "2.16.840.1.101.3.4.2.2",
            "sha512": "2.16.840.1.101.3.4.2.3"}[name]


def openssl_cms_verify(signed: bytes, tmp: Path, root: Path, content: bytes | None) -> None:
    sig = tmp / "sig.p7s"
    sig.write_bytes(signed)
    args = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(sig),
            "-CAfile", str(root), "-purpose", "any", "-out", str(tmp / "verified.bin")]
    if content is not None:
        (tmp / "content.bin").write_bytes(content)
        args += ["-content", str(tmp / "content.bin")]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def openssl_ts_verify(token: Token, tmp: Path, root: Path, tsa_chain: Path) -> None:
    path = tmp / "token.der"
    path.write_bytes(token.der)
    result = subprocess.run(
        ["openssl", "ts", "-verify", "-digest", token.imprint.hex(), "-in", str(path),
         "-token_in", "-CAfile", str(root), "-untrusted", str(tsa_chain)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, f"{token.oid}: {result.stdout}{result.stderr}"


def check_all(signed: bytes, tmp: Path, pki: SamplePki, *, content: bytes,
              detached: bool) -> list[Token]:
    root = pki.directory / "root.pem"
    openssl_cms_verify(signed, tmp, root, content if detached else None)
    tokens = expected_tokens(signed, content)
    for token in tokens:
        openssl_ts_verify(token, tmp, root, pki.directory / "tsa-chain.pem")
    return tokens


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def services(pki: SamplePki, pki_server: PkiServer) -> SigningServices:
    return build_services(pki=pki.directory, clock=OffsetClock(SERVER_AT + timedelta(hours=1)))


@pytest.fixture(scope="module")
def phones(phone_rsa: Phone, phone_ec: Phone) -> dict[str, Phone]:
    return {"rsa": phone_rsa, "ec": phone_ec}


# ---------------------------------------------------------------------------------------------
# The matrix


@pytest.mark.parametrize("key", ["rsa", "ec"])
@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
@pytest.mark.parametrize("level", list(SignatureLevel), ids=lambda lv: lv.value)
def test_levels_verify_with_openssl(level: SignatureLevel, detached: bool, key: str,
                                    phones: dict[str, Phone], services: SigningServices,
                                    pki: SamplePki, tmp_path: Path) -> None:
    phone = phones[key]
    signed = sign(DOCUMENT, phone, [phone.certificate, *phone.chain], SignatureFormat.CADES,
                  level, SigningOptions(detached=detached), services=services)
    assert cades.detect_level(signed) is level
    tokens = check_all(signed, tmp_path, pki, content=DOCUMENT, detached=detached)
    kinds = [t.oid for t in tokens]
    expected = {SignatureLevel.B_B: [], SignatureLevel.B_T: [SIG_TS],
                SignatureLevel.B_LT: [SIG_TS], SignatureLevel.B_LTA: [SIG_TS, ATS_V3]}
    assert kinds == expected[level]
    attrs = acms.ContentInfo.load(signed)["content"]["signer_infos"][0]["signed_attrs"]
    names = [a["type"].native for a in attrs]
    assert sorted(names) == sorted(["content_type", "message_digest", "signing_time",
                                    "signing_certificate_v2"])
    unsigned = {oid for oid, _, _ in _attr_values(
        acms.ContentInfo.load(signed)["content"]["signer_infos"][0]["unsigned_attrs"])}
    # B-LT must not carry certificate-values / revocation-values (EN 319 122-1 §6.4).
    assert not unsigned & {"1.2.840.113549.1.9.16.2.23", "1.2.840.113549.1.9.16.2.24"}


def test_pss_and_sha512(phone_rsa: Phone, services: SigningServices, pki: SamplePki,
                        tmp_path: Path) -> None:
    options = SigningOptions(mechanism=SignatureMechanism.RSA_PSS,
                             digest_algorithm=DigestAlgorithm.SHA512)
    signed = sign(DOCUMENT, phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                  SignatureFormat.CADES, SignatureLevel.B_LTA, options, services=services)
    check_all(signed, tmp_path, pki, content=DOCUMENT, detached=False)
    si = acms.ContentInfo.load(signed)["content"]["signer_infos"][0]
    assert si["signature_algorithm"]["algorithm"].native == "rsassa_pss"
    params = si["signature_algorithm"]["parameters"]
    assert params["hash_algorithm"]["algorithm"].native == "sha512"
    assert params["salt_length"].native == 64


def test_signing_certificate_v2_omits_default_hash(phone_ec: Phone) -> None:
    signed = sign(DOCUMENT, phone_ec, [phone_ec.certificate, *phone_ec.chain],
                  SignatureFormat.CADES, SignatureLevel.B_B)
    attrs = acms.ContentInfo.load(signed)["content"]["signer_infos"][0]["signed_attrs"]
    (scv2,) = [a for a in attrs if a["type"].native == "signing_certificate_v2"]
    cert_id = scv2["values"][0]["certs"][0]
    raw = core.Sequence.load(cert_id.dump())
    assert raw[0].tag == 4  # first field is certHash: hashAlgorithm (SHA-256) omitted
    assert cert_id["issuer_serial"]["serial_number"].native == phone_ec.certificate.serial_number


# ---------------------------------------------------------------------------------------------
# Augmentation keeps bytes; renewal


def _signer_fields(signed: bytes) -> tuple[bytes, bytes, bytes]:
    sd = acms.ContentInfo.load(signed)["content"]
    si = sd["signer_infos"][0]
    return (si["signed_attrs"].dump(), si["signature"].dump(),
            sd["encap_content_info"].dump())


def test_renewal_lta_on_lta(phone_rsa: Phone, services: SigningServices, pki: SamplePki,
                            tmp_path: Path) -> None:
    first = sign(DOCUMENT, phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                 SignatureFormat.CADES, SignatureLevel.B_LTA, SigningOptions(detached=True),
                 services=services)
    renewed = extend(first, SignatureFormat.CADES, SignatureLevel.B_LTA,
                     detached_content=DOCUMENT, services=services)
    assert _signer_fields(renewed) == _signer_fields(first)
    # Every earlier certificate, CRL and unsigned attribute keeps its bytes.
    old, new = cms.parse_signed_data(first), cms.parse_signed_data(renewed)
    assert (new.certificates or ())[: len(old.certificates or ())] == old.certificates
    assert (new.crls or ())[: len(old.crls or ())] == (old.crls or ())
    old_attrs = old.signer_infos[0].unsigned_attrs or ()
    assert (new.signer_infos[0].unsigned_attrs or ())[: len(old_attrs)] == old_attrs
    tokens = check_all(renewed, tmp_path, pki, content=DOCUMENT, detached=True)
    assert [t.oid for t in tokens] == [SIG_TS, ATS_V3, ATS_V3]


def test_extend_is_idempotent_below_current_level(phone_ec: Phone,
                                                 services: SigningServices) -> None:
    signed = sign(DOCUMENT, phone_ec, [phone_ec.certificate, *phone_ec.chain],
                  SignatureFormat.CADES, SignatureLevel.B_T, services=services)
    assert extend(signed, SignatureFormat.CADES, SignatureLevel.B_T, services=services) == signed


def test_detached_lta_needs_the_right_content(phone_ec: Phone,
                                             services: SigningServices) -> None:
    signed = sign(DOCUMENT, phone_ec, [phone_ec.certificate, *phone_ec.chain],
                  SignatureFormat.CADES, SignatureLevel.B_LT, SigningOptions(detached=True),
                  services=services)
    with pytest.raises(InputError, match="detached"):
        extend(signed, SignatureFormat.CADES, SignatureLevel.B_LTA, services=services)
    with pytest.raises(InputError, match="not the data this signature signed"):
        extend(signed, SignatureFormat.CADES, SignatureLevel.B_LTA,
               detached_content=b"other data", services=services)


def test_big_file_prepare_streams(phone_ec: Phone, tmp_path: Path) -> None:
    from ltv.signing import prepare

    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        for _ in range(64):
            out.write(b"\x5a" * (1 << 20))
    pending = prepare(big, [phone_ec.certificate, *phone_ec.chain], SignatureFormat.CADES,
                      SignatureLevel.B_B, SigningOptions(detached=True))
    assert len(pending.data_to_be_signed.data) == 32
    assert pending.format_state["signed_attrs"]


# ---------------------------------------------------------------------------------------------
# Pure parts: hash index, broken input


def test_ats_hash_index_matches_independent_rules(phone_rsa: Phone) -> None:
    signed = sign(DOCUMENT, phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                  SignatureFormat.CADES, SignatureLevel.B_B)
    parts = cms.parse_signed_data(signed)
    extra_attr = cms.attribute("1.2.3.4", [core.Integer(1).dump(), core.Integer(2).dump()])
    info = parts.signer_infos[0].add_unsigned_attr(extra_attr)
    index = core.Sequence.load(cades.ats_hash_index_v3(parts, info, DigestAlgorithm.SHA384))
    def h(b: bytes) -> bytes:
        return hashlib.sha384(b).digest()

    assert _octet_strings(index[1]) == [h(c) for c in parts.certificates or ()]
    assert _octet_strings(index[3]) == [
        h(core.ObjectIdentifier("1.2.3.4").dump() + core.Integer(1).dump()),
        h(core.ObjectIdentifier("1.2.3.4").dump() + core.Integer(2).dump()),
    ]


@pytest.mark.parametrize(("data", "error"), [
    (b"", MalformedError),
    (b"garbage that is not DER", MalformedError),
    (b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n<<>>\nendobj\n", MalformedError),
    (b"\x30\x82\x10\x00\x06\x09", MalformedError),
])
def test_broken_input_is_refused(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        extend(data, SignatureFormat.CADES, SignatureLevel.B_T, services=SigningServices())


def test_truncated_and_unknown_algorithm(phone_rsa: Phone) -> None:
    signed = sign(DOCUMENT, phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                  SignatureFormat.CADES, SignatureLevel.B_B)
    for cut in (10, len(signed) // 2, len(signed) - 1):
        with pytest.raises(MalformedError):
            extend(signed[:cut], SignatureFormat.CADES, SignatureLevel.B_T,
                   services=SigningServices())
    parts = cms.parse_signed_data(signed)
    info = dataclasses.replace(parts.signer_infos[0], signature_algorithm=cms.tlv(
        0x30, core.ObjectIdentifier("1.2.840.113549.1.1.99").dump()))
    weird = parts.with_signer_info(0, info).dump()
    with pytest.raises(UnsupportedAlgorithmError, match=r"1\.2\.840\.113549\.1\.1\.99"):
        extend(weird, SignatureFormat.CADES, SignatureLevel.B_T, services=SigningServices())


def test_signer_certificate_found_by_sid(phone_rsa: Phone) -> None:
    signed = sign(DOCUMENT, phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                  SignatureFormat.CADES, SignatureLevel.B_B)
    parts = cms.parse_signed_data(signed)
    assert parts.dump() == signed
    found = cades._signer_certificate(parts, parts.signer_infos[0])
    assert found == phone_rsa.certificate
    assert isinstance(found, x509.Certificate)
