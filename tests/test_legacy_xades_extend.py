"""Extending a legacy XAdES-A (TS 101 903 v1.3.2 ``xades:ArchiveTimeStamp``) twice.

``extend --level B-LTA`` on DSS-3732's enveloped XAdES-A adds a 1.4.1
``xadesv141:ArchiveTimeStamp`` (EN 319 132-1 §5.5.2) after a ``TimeStampValidationData`` with
the validation material of the previous archive time-stamp; the old 1.3.2 stamp's covered bytes
are never touched, so after two extensions every archive time-stamp still verifies. The new
time-stamps come from the sample TSA; the file's own root (extracted from it) is trusted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import SERVER_AT, PkiServer
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from ltv.cli._services import build_services
from ltv.clock import OffsetClock
from ltv.formats import xades as xades_format
from ltv.formats._xmldsig import DS, XADES, XADES141, C14nMethod
from ltv.signing import SignatureFormat, SignatureLevel, SigningServices, extend
from ltv.validation import ValidationPolicy, validate, xades
from samples.pki import SamplePki

VECTOR = (Path(__file__).parent / "vectors/legacy/xades/dss3732-xades-enveloped-arcTst132.xml")
OLD_132 = f"{{{XADES}}}ArchiveTimeStamp"
NEW_141 = f"{{{XADES141}}}ArchiveTimeStamp"


def _services(pki: SamplePki, at: datetime) -> SigningServices:
    return build_services(pki=pki.directory, clock=OffsetClock(at))


def _own_root(data: bytes) -> x509.Certificate:
    [facts] = xades.extract(data)
    [root] = {c.public_bytes(Encoding.DER): c for c in facts.certificates
              if c.subject == c.issuer}.values()
    return root


def _old_stamp_input(data: bytes) -> bytes:
    """What the 1.3.2 ArchiveTimeStamp of ``data`` hashes (TS 101 903 v1.3.2 §7.7.1)."""
    tree = etree.fromstring(data)
    [signature] = tree.iter(f"{{{DS}}}Signature")
    core = xades_format._verify_core(tree.getroottree(), signature, detached_content=None)
    [old] = [p for p in signature.iter(OLD_132)]
    return xades_format.archive_timestamp_input(signature, core.processed, C14nMethod.C14N_10,
                                                before=old, v132=True)


@pytest.fixture(scope="module")
def extended(pki: SamplePki, pki_server: PkiServer) -> tuple[bytes, bytes]:
    data = VECTOR.read_bytes()
    once = extend(data, SignatureFormat.XADES, SignatureLevel.B_LTA,
                  services=_services(pki, SERVER_AT + timedelta(hours=1)))
    twice = extend(once, SignatureFormat.XADES, SignatureLevel.B_LTA,
                   services=_services(pki, SERVER_AT + timedelta(days=30)))
    return once, twice


def _archives(data: bytes) -> list[tuple[str, str]]:
    [facts] = xades.extract(data)
    return [(ts.kind.value, ts.imprint) for ts in facts.timestamps
            if ts.kind.value in ("archive", "archive-1.3.2")]


def test_each_extension_adds_a_141_archive_stamp(extended: tuple[bytes, bytes]) -> None:
    once, twice = extended
    assert _archives(VECTOR.read_bytes()) == [("archive-1.3.2", "verified")]
    assert _archives(once) == [("archive-1.3.2", "verified"), ("archive", "verified")]
    assert _archives(twice) == [("archive-1.3.2", "verified"), ("archive", "verified"),
                                ("archive", "verified")]
    for data, new in ((once, 1), (twice, 2)):
        tree = etree.fromstring(data)
        assert len(list(tree.iter(OLD_132))) == 1
        assert len(list(tree.iter(NEW_141))) == new
        [facts] = xades.extract(data)
        assert facts.form is not None
        assert facts.form.startswith("XAdES-A (1.3.2, 1.4.1)")


def test_the_old_stamp_covers_the_same_bytes(extended: tuple[bytes, bytes]) -> None:
    before = _old_stamp_input(VECTOR.read_bytes())
    for data in extended:
        assert _old_stamp_input(data) == before


def test_the_new_stamp_follows_the_previous_stamps_validation_data(
        extended: tuple[bytes, bytes]) -> None:
    """EN 319 132-1 §5.5.2: the validation material of the previous archive time-stamp goes in
    first (TimeStampValidationData), then the new archive time-stamp covers it."""
    once, twice = extended
    for data in (once, twice):
        tree = etree.fromstring(data)
        [usp] = tree.iter(f"{{{XADES}}}UnsignedSignatureProperties")
        tags = [el.tag for el in usp if isinstance(el.tag, str)]
        last = len(tags) - 1
        assert tags[last] == NEW_141
        assert tags[last - 1] == f"{{{XADES141}}}TimeStampValidationData"
        tsvd = usp[last - 1]
        assert list(tsvd.iter(f"{{{XADES}}}EncapsulatedX509Certificate")) or list(
            tsvd.iter(f"{{{XADES}}}EncapsulatedOCSPValue"))


def test_the_report_verifies_every_archive_stamp(extended: tuple[bytes, bytes],
                                                 pki: SamplePki) -> None:
    _, twice = extended
    root = _own_root(VECTOR.read_bytes())
    report = validate(twice, policy=ValidationPolicy.default(trust_anchors=[root, pki.root]),
                      at=SERVER_AT + timedelta(days=31), offline=True)
    [sig] = report.signatures
    archives = [t for t in sig.timestamps if t.kind.value in ("archive", "archive-1.3.2")]
    assert [t.kind.value for t in archives] == ["archive-1.3.2", "archive", "archive"]
    assert all(t.imprint == "verified" for t in archives), [
        (t.kind.value, t.imprint, t.message) for t in archives]
    assert sig.form is not None
    assert sig.form.startswith("XAdES-A (1.3.2, 1.4.1)")


def test_cli_extends_twice_and_validates(pki: SamplePki, pki_server: PkiServer,
                                         ltv_cli: object, tmp_path: Path) -> None:
    once, twice = tmp_path / "once.xml", tmp_path / "twice.xml"
    for src, out in ((VECTOR, once), (once, twice)):
        done = ltv_cli("extend", src, "--level", "b-lta", "--pki",  # type: ignore[operator]
                       pki.directory, "-o", out)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    root = tmp_path / "root.pem"
    root.write_bytes(_own_root(VECTOR.read_bytes()).public_bytes(Encoding.PEM))
    done = ltv_cli("validate", "--offline", "--format", "json", twice,  # type: ignore[operator]
                   "--trust", root, "--trust", pki.directory / "root.pem",
                   "--at", (SERVER_AT + timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert "Traceback" not in done.stderr
    assert done.returncode in {0, 1, 3}, done.stderr
    import json

    [sig] = json.loads(done.stdout)["signatures"]
    got = [(t["kind"], t["imprint"]) for t in sig["timestamps"]
           if t["kind"] in ("archive", "archive-1.3.2")]
    assert got == [("archive-1.3.2", "verified"), ("archive", "verified"),
                   ("archive", "verified")]


def test_only_the_issuers_embedded_crl_stands_in_for_a_pointerless_tsa(
        pki: SamplePki) -> None:
    """DSS-3732's TSA certificate names no OCSP responder and no CRL: its issuer's CRL already in
    the file is its revocation data; without it, or with another CA's CRL, collection refuses."""
    from ltv.errors import RevocationError
    from ltv.evidence import collect_for_tokens

    tree = etree.fromstring(VECTOR.read_bytes())
    [signature] = tree.iter(f"{{{DS}}}Signature")
    embedded = xades_format._embedded(signature)
    [old] = tree.iter(OLD_132)
    token = xades_format._unb64(old.findtext(f"{{{XADES}}}EncapsulatedTimeStamp"), "token")
    services = _services(pki, SERVER_AT)
    root_crl = [c for c in embedded.crls if x509.load_der_x509_crl(c).issuer
                == _own_root(VECTOR.read_bytes()).subject]
    other_crls = [c for c in embedded.crls if c not in root_crl]
    assert len(root_crl) == 1
    assert other_crls
    for crls in ((), other_crls):
        with pytest.raises(RevocationError, match="names no OCSP responder and no CRL"):
            collect_for_tokens([token], services=services, available=embedded.certificates,
                               embedded_crls=crls)
    found = collect_for_tokens([token], services=services, available=embedded.certificates,
                               embedded_crls=embedded.crls)
    assert list(found.crls) == root_crl
