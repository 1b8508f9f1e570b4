"""Hardened XML parsing: the only way ltv reads XML.

Every XML reader in ltv (XAdES signing and extension, validation, reports read back) goes through
:func:`parse_xml`. Secure by default (see STYLE.md, "XML parsing forbids DTDs"):

* a document with a ``<!DOCTYPE`` is refused outright, whatever it declares: no internal subset,
  no external DTD, so no entity expansion (billion laughs) and no external entities (XXE);
* nothing is ever fetched from the network or the file system while parsing;
* size (bytes), element depth and element count are limited;
* XInclude is never processed; processing instructions and comments are kept as data only.

Failures raise :class:`~ltv.errors.MalformedError` whose message names what was refused, so the
CLI and the HTTP API can report it as bad input (exit 4 / 400), never a crash or a hang.
xmlsec1 accepts documents with external DTDs and crashes on entity bombs (TESTING.md): parse with
this module first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from ltv.errors import MalformedError

__all__ = ["XmlLimits", "parse_xml", "serialize"]


@dataclass(frozen=True, slots=True, kw_only=True)
class XmlLimits:
    """Bounds on what :func:`parse_xml` accepts (a hostile input fails fast, never hangs)."""

    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 200
    max_elements: int = 2_000_000


DEFAULT_LIMITS = XmlLimits()

# Refused before libxml2 sees the bytes (so no DTD is ever read), and checked again after parsing
# for encodings the byte scan cannot see.
_DOCTYPE_MARKERS = tuple(
    "<!DOCTYPE".encode(codec) for codec in ("ascii", "utf-16-le", "utf-16-be")
)
_DOCTYPE_REFUSED = (
    "{what} has a DOCTYPE declaration; DTDs are refused (they enable entity expansion "
    "and external entity attacks)"
)


def _parser() -> Any:
    return etree.XMLParser(
        resolve_entities=False,  # never substitute entities
        load_dtd=False,  # never read an external DTD subset
        dtd_validation=False,
        no_network=True,  # never fetch anything
        huge_tree=False,  # keep libxml2's own limits (text node size, depth) in force
        remove_blank_text=False,  # whitespace is signed data: keep it byte for byte
        remove_comments=False,
        remove_pis=False,
        collect_ids=False,  # ids are resolved by our own code, which refuses duplicates
        strip_cdata=True,
    )


def parse_xml(data: bytes, *, what: str = "the XML document", limits: XmlLimits = DEFAULT_LIMITS
              ) -> Any:
    """Parse ``data`` into an lxml ``ElementTree``, refusing anything unsafe.

    ``what`` names the input in error messages ("the XAdES signature", "the signed document").
    Returns the tree (``lxml.etree._ElementTree``; typed ``Any`` as lxml has no strict stubs).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse_xml takes bytes (let the parser read the encoding declaration)")
    data = bytes(data)
    if len(data) > limits.max_bytes:
        raise MalformedError(
            f"{what} is {len(data):,} bytes, more than the limit of {limits.max_bytes:,}"
        )
    if not data.strip():
        raise MalformedError(f"{what} is empty")
    if any(marker in data for marker in _DOCTYPE_MARKERS):
        raise MalformedError(_DOCTYPE_REFUSED.format(what=what))
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedError(f"{what} is not well-formed XML: {exc}") from exc
    except (ValueError, MemoryError, RecursionError) as exc:
        raise MalformedError(f"{what} cannot be parsed: {exc}") from exc
    tree = root.getroottree()
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise MalformedError(_DOCTYPE_REFUSED.format(what=what))
    _check_shape(root, what=what, limits=limits)
    return tree


def _check_shape(root: Any, *, what: str, limits: XmlLimits) -> None:
    """Refuse entity references left in the tree, too many elements, too deep nesting.

    Both counts run as XPath inside libxml2 (a 1 MB document costs about a millisecond).
    """
    count = int(root.xpath("count(//*)"))
    if count > limits.max_elements:
        raise MalformedError(f"{what} has more than {limits.max_elements:,} elements")
    if root.xpath("boolean(/" + "*/" * limits.max_depth + "*)"):
        raise MalformedError(f"{what} nests elements deeper than {limits.max_depth} levels")
    for node in root.iter(etree.Entity):
        raise MalformedError(f"{what} contains the entity reference {node.text}; refused")


def serialize(tree: Any) -> bytes:
    """UTF-8 bytes of a tree with an XML declaration (canonical form is computed elsewhere)."""
    out: bytes = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
    return out
