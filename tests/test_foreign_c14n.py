"""Canonical XML byte for byte against xmlsec1 (issue #19, item 5).

For every XML signature in tests/vectors/foreign and for ltv's own XAdES output, the octets
each ``ds:Reference`` digests (after its transforms) and the canonical ``ds:SignedInfo`` are
compared with what xmlsec1 prints (``--store-references --store-signatures``). The signature
method is rewritten to rsa-sha256 and a throw-away RSA key given, so xmlsec1 processes every
reference whatever key or algorithm the signer used (its value then fails, which does not
matter here); both sides read the same rewritten document. Ids are declared for xmlsec1 with
``--id-attr`` for every element carrying ``Id``/``ID``/``id``.
"""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path

import pytest
from conftest import PkiServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from ltv.errors import LtvError
from ltv.formats._xmldsig import (
    C14nMethod,
    c14n_method_of,
    canonicalize,
    process_reference,
    resolve_ids,
)
from ltv.xmlsafe import parse_xml
from samples.phone import Phone
from samples.pki import SamplePki

VECTORS = Path(__file__).parent / "vectors" / "foreign"
DS = "http://www.w3.org/2000/09/xmldsig#"
_METHOD = re.compile(rb'(<(?:\w+:)?SignatureMethod\s+Algorithm=")[^"]*(")')


def _xml_rows() -> list[tuple[str, str | None]]:
    """(file, its detached data or None) of every XML signature in the manifest."""
    with (VECTORS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        return [(r["file"], None if r["detached_data"] == "-" else r["detached_data"])
                for r in csv.DictReader(handle, delimiter="\t")
                if r["format"] == "xades" and not r["file"].endswith((".p7m", ".pdf"))]


@pytest.fixture(scope="module")
def dummy_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("x19-c14n") / "pub.pem"
    path.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def _buffers(output: str, marker: str) -> list[bytes]:
    start, end = f"== {marker} data - start buffer:\n", f"\n== {marker} data - end buffer"
    found = []
    position = 0
    while (i := output.find(start, position)) >= 0:
        j = output.find(end, i)
        found.append(output[i + len(start):j].encode("latin-1"))
        position = j
    return found


def _xmlsec(data: bytes, tmp: Path, key: Path, signature_id: str | None
            ) -> tuple[list[bytes], list[bytes]]:
    path = tmp / "doc.xml"
    path.write_bytes(data)
    tree = etree.fromstring(data).getroottree()
    args = ["xmlsec1", "--verify", "--store-references", "--store-signatures",
            "--enabled-key-data", "key-name", "--pubkey-pem", str(key)]
    seen = set()
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for name in ("Id", "ID", "id"):
            if element.get(name) is not None:
                qn = etree.QName(element)
                spec = f"{qn.namespace}:{qn.localname}" if qn.namespace else qn.localname
                if (name, spec) not in seen:
                    seen.add((name, spec))
                    args += [f"--id-attr:{name}", spec]
    if signature_id:
        args += ["--node-id", signature_id]
    done = subprocess.run([*args, path.name], cwd=tmp, capture_output=True, timeout=60,
                          check=False)
    output = done.stdout.decode("latin-1") + done.stderr.decode("latin-1")
    return _buffers(output, "PreDigest"), _buffers(output, "PreSigned")


CASES = _xml_rows()


@pytest.mark.parametrize(("file", "detached"), CASES)
def test_canonical_octets_match_xmlsec1(file: str, detached: str | None,
                                        dummy_key: Path, tmp_path: Path) -> None:
    content = (VECTORS / detached).read_bytes() if detached else None
    _compare((VECTORS / file).read_bytes(), None, dummy_key, tmp_path, detached=content)


@pytest.mark.parametrize("packaging", ["enveloped", "enveloping"])
def test_own_xades_matches_xmlsec1(packaging: str, phone_rsa: Phone, pki: SamplePki,
                                   pki_server: PkiServer, dummy_key: Path,
                                   tmp_path: Path) -> None:
    from test_validation_cades import SIGNED_AT, _services

    from ltv.signing import Packaging, SignatureFormat, SignatureLevel, SigningOptions, sign

    document = (b'<?xml version="1.0" encoding="UTF-8"?>\n<doc xmlns="urn:x19" '
                b'xmlns:b="urn:x19:b" xml:lang="ja"><b:item>\xe5\xa5\x91\xe7\xb4\x84</b:item>'
                b"<!-- c --></doc>\n")
    signed = sign(document, phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                  SignatureFormat.XADES, SignatureLevel.B_LTA,
                  SigningOptions(packaging=Packaging(packaging)),
                  services=_services(pki, SIGNED_AT))
    assert _compare(signed, None, dummy_key, tmp_path) >= 3


def _compare(original: bytes, signature_id: str | None, dummy_key: Path, tmp_path: Path,
             *, detached: bytes | None = None) -> int:
    """Compare every reference xmlsec1 processed (a detached file is written beside the
    signature under the name its reference gives, for xmlsec1 to read)."""
    data = _METHOD.sub(rb"\1http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\2", original)
    try:
        tree = parse_xml(data)
    except LtvError:
        pytest.skip("not parsed by the hardened parser (refused input)")
    signature = next(tree.getroot().iter(f"{{{DS}}}Signature"), None)
    if signature is None:
        pytest.skip("no ds:Signature")
    if detached is not None:
        for reference in tree.getroot().iter(f"{{{DS}}}Reference"):
            name = reference.get("URI") or ""
            if name and not name.startswith("#") and "/" not in name and ":" not in name:
                (tmp_path / name).write_bytes(detached)
    references, signed_infos = _xmlsec(data, tmp_path, dummy_key, signature_id)
    signed_info = signature.find(f"{{{DS}}}SignedInfo")
    compared = 0
    if signed_infos:
        method, prefixes = c14n_method_of(signed_info.find(f"{{{DS}}}CanonicalizationMethod"),
                                          C14nMethod.C14N_10)
        assert canonicalize(signed_info, method, prefixes=prefixes) == signed_infos[0]
        compared += 1
    ids = resolve_ids(tree)
    for reference, theirs in zip(signed_info.findall(f"{{{DS}}}Reference"), references,
                                 strict=False):
        uri = reference.get("URI")
        if uri is None or (not (uri == "" or uri.startswith("#")) and (
                detached is None or "/" in uri or ":" in uri)):
            break  # detached data we do not have, or a remote URI
        try:
            ours = process_reference(reference, tree=tree, ids=ids, signature=signature,
                                     external=(lambda _name: detached or b"")
                                     if detached is not None else None).octets
        except LtvError as exc:
            if "DigestValue" in str(exc):  # a deliberately broken DigestValue: no digest input
                continue
            pytest.fail(f"{uri!r}: ltv refuses what xmlsec1 digests: {exc}")
        assert ours == theirs, f"reference {uri!r} differs"
        compared += 1
    if not compared:
        pytest.skip("xmlsec1 printed nothing to compare")
    return compared
