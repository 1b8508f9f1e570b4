"""Independent checks for XAdES tests: xmlsec1, openssl ts, and the test's own imprint computation.

The message-imprint inputs here are written from EN 319 132-1 §5.3 and §5.5.2.2 directly on lxml,
without calling ltv.formats.xades, so a shared misreading of the standard cannot hide.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import subprocess
from pathlib import Path
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
XADES141 = "http://uri.etsi.org/01903/v1.4.1#"
NS = {"ds": DS, "xades": XADES, "xadesv141": XADES141}
EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"


def xmlsec_verify(path: Path, *, root: Path,
                  intermediate: Path) -> subprocess.CompletedProcess[str]:
    """xmlsec1 with x509 key data only (it trusts raw KeyValue otherwise), run in the file's
    directory so a detached reference (URI = file name) resolves."""
    return subprocess.run(
        ["xmlsec1", "--verify", "--enabled-key-data", "x509", "--trusted-pem", str(root),
         "--untrusted-pem", str(intermediate),
         "--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", path.name],
        cwd=path.parent, capture_output=True, text=True, timeout=60, check=False,
    )


def openssl_ts_verify(token: bytes, digest_hex: str, *, workdir: Path, root: Path,
                      tsa: Path) -> subprocess.CompletedProcess[str]:
    tok = workdir / f"tok-{hashlib.sha256(token).hexdigest()[:12]}.der"
    tok.write_bytes(token)
    return subprocess.run(
        ["openssl", "ts", "-verify", "-digest", digest_hex, "-in", str(tok), "-token_in",
         "-CAfile", str(root), "-untrusted", str(tsa)],
        capture_output=True, text=True, timeout=60, check=False,
    )


def _c14n(node: Any, algorithm: str | None) -> bytes:
    algorithm = algorithm or "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    exclusive = algorithm.startswith(EXC)
    if not exclusive and isinstance(node, etree._Element) and node.getparent() is not None:
        # Inclusive C14N of a document subset: the apex inherits xml:lang / xml:space from its
        # ancestors (C14N 1.0 and 1.1 §2.4); lxml's subtree serialisation alone does not.
        node = _with_inherited_xml_attributes(node)
    out: bytes = etree.tostring(node, method="c14n", exclusive=exclusive, with_comments=False)
    return out


def _with_inherited_xml_attributes(node: Any) -> Any:
    inherited = {}
    for ancestor in node.iterancestors():
        for key, value in ancestor.attrib.items():
            if key.startswith("{http://www.w3.org/XML/1998/namespace}") and key not in inherited:
                inherited[key] = value
    missing = {k: v for k, v in inherited.items() if k not in node.attrib}
    if not missing:
        return node
    # a copy placed under a parent carrying the same in-scope namespaces
    parent = node.getparent()
    clone_parent = etree.Element(parent.tag, nsmap=parent.nsmap)
    clone = copy.deepcopy(node)
    clone_parent.append(clone)
    for key, value in missing.items():
        clone.set(key, value)
    return clone


def _ts_c14n(prop: Any) -> str | None:
    method = prop.find("ds:CanonicalizationMethod", NS)
    return None if method is None else method.get("Algorithm")


def _by_id(tree: Any, value: str) -> Any:
    found = tree.xpath("//*[@Id=$v]", v=value)
    assert len(found) == 1, f"Id {value} found {len(found)} times"
    return found[0]


def reference_input(signature: Any, reference: Any, ts_c14n: str | None,
                    detached: bytes | None) -> bytes:
    """Step 2 of §5.5.2.2 for one reference: process it; canonicalise a node-set result."""
    uri = reference.get("URI")
    transforms = [t.get("Algorithm") for t in reference.findall("ds:Transforms/ds:Transform", NS)]
    if uri == "":
        root = copy.deepcopy(signature.getroottree().getroot())
        for sig in root.iter(f"{{{DS}}}Signature"):
            if sig.get("Id") == signature.get("Id"):
                assert not sig.tail
                sig.getparent().remove(sig)
                break
        algorithm = transforms[-1] if len(transforms) > 1 else ts_c14n
        return _c14n(root, algorithm)
    if uri.startswith("#"):
        element = _by_id(signature.getroottree(), uri[1:])
        if transforms and transforms[-1].endswith("#base64"):
            return base64.b64decode("".join(element.itertext()))
        return _c14n(element, transforms[-1] if transforms else ts_c14n)
    assert detached is not None
    return detached


def signature_timestamp_input(signature: Any, prop: Any) -> bytes:
    """§5.3: the canonicalised ds:SignatureValue element."""
    return _c14n(signature.find("ds:SignatureValue", NS), _ts_c14n(prop))


def archive_timestamp_input(signature: Any, prop: Any, detached: bytes | None) -> bytes:
    """§5.5.2.2: references, SignedInfo, SignatureValue, KeyInfo, earlier unsigned signature
    properties, every ds:Object but the QualifyingProperties one."""
    method = _ts_c14n(prop)
    out = b""
    for reference in signature.findall("ds:SignedInfo/ds:Reference", NS):
        out += reference_input(signature, reference, method, detached)
    for name in ("ds:SignedInfo", "ds:SignatureValue", "ds:KeyInfo"):
        element = signature.find(name, NS)
        if element is not None:
            out += _c14n(element, method)
    for sibling in prop.getparent():
        if sibling is prop:
            break
        out += _c14n(sibling, method)
    for obj in signature.findall("ds:Object", NS):
        if obj.find("xades:QualifyingProperties", NS) is None:
            out += _c14n(obj, method)
    return out


def check_timestamps_with_openssl(signed: bytes, *, workdir: Path, root: Path, tsa: Path,
                                  detached: bytes | None = None) -> list[str]:
    """Verify every SignatureTimeStamp and ArchiveTimeStamp with ``openssl ts -verify``
    against the imprint recomputed here; return the kinds checked, in order."""
    tree = etree.fromstring(signed).getroottree()
    signature = tree.find(".//ds:Signature", NS) if tree.getroot().tag != f"{{{DS}}}Signature" \
        else tree.getroot()
    usp = signature.find(".//xades:UnsignedSignatureProperties", NS)
    kinds: list[str] = []
    for prop in [] if usp is None else usp:
        if prop.tag == f"{{{XADES}}}SignatureTimeStamp":
            data = signature_timestamp_input(signature, prop)
        elif prop.tag == f"{{{XADES141}}}ArchiveTimeStamp":
            data = archive_timestamp_input(signature, prop, detached)
        else:
            continue
        token = base64.b64decode(prop.findtext("xades:EncapsulatedTimeStamp", namespaces=NS))
        result = openssl_ts_verify(token, hashlib.sha256(data).hexdigest(), workdir=workdir,
                                   root=root, tsa=tsa)
        where = (etree.QName(prop).localname, result.stdout, result.stderr)
        assert result.returncode == 0, where
        assert "Verification: OK" in result.stdout, where
        kinds.append(etree.QName(prop).localname)
    return kinds
