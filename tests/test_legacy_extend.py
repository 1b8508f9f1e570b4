"""Extending a legacy ES-A (archive-time-stamp-v2) keeps its old archive time-stamps intact.

The ES-A is made here from the sample PKI: a B-LT signature plus an ATSv2 computed with the
TS 101 733 v2.2.1 rule and stamped by the sample TSA. ``extend --level B-LTA`` (twice) must leave
the root certificates/crls bytes unchanged (EN 319 122-1 §5.5.3), put the new validation
material into the latest archive token, and every old ATSv2 must still verify.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms
from conftest import SERVER_AT, PkiServer

from ltv.algorithms import DigestAlgorithm
from ltv.cli._services import build_services
from ltv.clock import OffsetClock
from ltv.errors import InputError
from ltv.formats import cades, cades_legacy, cms
from ltv.signing import SignatureFormat, SignatureLevel, SigningServices, extend, sign
from ltv.validation import Indication, ValidationPolicy, validate
from ltv.validation import cades as cades_facts
from samples.phone import Phone
from samples.pki import SamplePki

CONTRACT = b"Japanese e-contract, kept for ten years\n" * 50
SIGNED_AT = SERVER_AT + timedelta(hours=1)


def _services(pki: SamplePki, at: datetime) -> SigningServices:
    return build_services(pki=pki.directory, clock=OffsetClock(at))


def _add_atsv2(signed: bytes, services: SigningServices) -> bytes:
    raw = cades_legacy.raw_signed_data(signed)
    [(variant, data), _] = cades_legacy.atsv2_inputs(raw, 0, gen_time=datetime.max.replace(
        tzinfo=SERVER_AT.tzinfo), detached=None)
    assert variant is cades_legacy.AtsV2Variant.V2_2_1
    alg = DigestAlgorithm.SHA256
    token = cades._request_token(services, alg.digest(data), alg)
    parts = cms.parse_signed_data(signed)
    info = parts.signer_infos[0].add_unsigned_attr(
        cms.attribute(cades_legacy.OID_ARCHIVE_TIME_STAMP_V2, [token]))
    return parts.with_signer_info(0, info).dump()


@pytest.fixture(scope="module")
def es_a(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone) -> bytes:
    services = _services(pki, SIGNED_AT)
    b_lt = sign(CONTRACT, phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                SignatureFormat.CADES, SignatureLevel.B_LT, services=services)
    return _add_atsv2(b_lt, _services(pki, SIGNED_AT + timedelta(minutes=5)))


def _imprints(data: bytes) -> list[tuple[str, str]]:
    return [(ts.kind.value, ts.imprint) for ts in cades_facts.extract(data)[0].timestamps]


def test_the_made_es_a_is_an_atsv2_file(es_a: bytes) -> None:
    facts = cades_facts.extract(es_a)[0]
    assert facts.form == "ES-A (ATSv2) [B-LTA]"
    assert _imprints(es_a) == [("signature", "verified"), ("archive-v2", "verified")]


def test_extending_twice_keeps_root_material_and_old_stamps(es_a: bytes, pki: SamplePki) -> None:
    once = extend(es_a, SignatureFormat.CADES, SignatureLevel.B_LTA,
                  services=_services(pki, SIGNED_AT + timedelta(days=30)))
    twice = extend(once, SignatureFormat.CADES, SignatureLevel.B_LTA,
                   services=_services(pki, SIGNED_AT + timedelta(days=60)))
    before = cades_legacy.raw_signed_data(es_a)
    for data in (once, twice):
        after = cades_legacy.raw_signed_data(data)
        assert after.certificates == before.certificates
        assert after.crls == before.crls
        assert after.encap_content_info == before.encap_content_info
        assert after.signer_infos[0].fields == before.signer_infos[0].fields
    assert _imprints(once) == [("signature", "verified"), ("archive", "verified"),
                               ("archive-v2", "verified")]
    assert sorted(_imprints(twice)) == sorted([
        ("signature", "verified"), ("archive", "verified"), ("archive", "verified"),
        ("archive-v2", "verified")])
    # the new material sits in the latest archive token (the ATSv2 for the first renewal)
    parts = cms.parse_signed_data(once)
    [ats] = [v for oid, values in parts.signer_infos[0].unsigned_attributes()
             if oid == cades_legacy.OID_ARCHIVE_TIME_STAMP_V2 for v in values]
    token_oids = {oid for oid, _ in
                  cms.parse_signed_data(ats).signer_infos[0].unsigned_attributes()}
    assert cades_legacy.OID_REVOCATION_VALUES in token_oids
    # and the validator passes every archive time-stamp after the signer certificate expired
    report = validate(twice, policy=ValidationPolicy.default(trust_anchors=[pki.root]),
                      at=SIGNED_AT + timedelta(days=365 * 3 + 30), offline=True)
    sig = report.signatures[0]
    archives = [t for t in sig.timestamps if t.kind.value in ("archive", "archive-v2")]
    assert len(archives) == 3
    assert all(t.imprint == "verified" for t in archives)
    assert sig.indication is Indication.TOTAL_PASSED, [
        (t.kind.value, t.gen_time, t.indication.token, t.subindication, t.message)
        for t in sig.timestamps] + list(sig.warnings)


def test_ber_root_certificates_refuse_extension(pki: SamplePki, pki_server: PkiServer) -> None:
    """dss-1401 keeps its certificates in BER indefinite length: re-writing them would break
    its ATSv2, so extension is refused with one clear line."""
    data = (Path(__file__).parent / "vectors/legacy/cades/dss-1401-sig_with_atsv2.p7s"
            ).read_bytes()
    before = hashlib.sha256(data).hexdigest()
    with pytest.raises(InputError, match="BER indefinite length"):
        extend(data, SignatureFormat.CADES, SignatureLevel.B_LTA,
               services=_services(pki, SIGNED_AT))
    assert hashlib.sha256(data).hexdigest() == before
    assert asn1_cms.ContentInfo.load(data)["content_type"].native == "signed_data"


def test_archive_put_and_renew_a_legacy_es_a(es_a: bytes, pki: SamplePki, pki_server: PkiServer,
                                             ltv_cli: object, tmp_path: Path) -> None:
    """`ltv archive put` ingests a legacy ES-A (its ingest report names the form) and `renew`
    renews its evidence; the stored bytes are the ES-A's, ATSv2 intact."""
    at = (SIGNED_AT + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    signed = tmp_path / "es-a.p7s"
    signed.write_bytes(es_a)
    store = tmp_path / "store"
    put = ltv_cli("archive", "put", signed, "--store", store,  # type: ignore[operator]
                  "--pki", pki.directory, "--at", at)
    assert put.returncode == 0, put.stderr
    assert "Traceback" not in put.stderr
    assert "ingest report: TOTAL-PASSED" in put.stderr
    pid = put.stdout.strip()
    renew = ltv_cli("archive", "renew", "--store", store, "--margin", "100000",  # type: ignore[operator]
                    "--pki", pki.directory, "--at", at)
    assert renew.returncode == 0, renew.stderr
    got = tmp_path / "out.p7s"
    get = ltv_cli("archive", "get", pid, "-o", got, "--store", store)  # type: ignore[operator]
    assert get.returncode == 0, get.stderr
    assert got.read_bytes() == es_a
    assert ("archive-v2", "verified") in _imprints(got.read_bytes())
    verify = ltv_cli("archive", "verify", pid, "--store", store, "--at", at)  # type: ignore[operator]
    assert verify.returncode == 0, verify.stderr + verify.stdout


def test_cli_refuses_to_extend_a_ber_es_a(pki: SamplePki, pki_server: PkiServer,
                                          ltv_cli: object, tmp_path: Path) -> None:
    signed = Path(__file__).parent / "vectors/legacy/cades/dss-1401-sig_with_atsv2.p7s"
    out = tmp_path / "out.p7s"
    done = ltv_cli("extend", signed, "--level", "b-lta", "--pki", pki.directory,  # type: ignore[operator]
                   "-o", out)
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "BER indefinite length" in line
    assert not out.exists()
