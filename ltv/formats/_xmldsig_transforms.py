"""The XMLDSIG transform chain (XMLDSIG §4.4.3.2, §6.6), issue #19 item 5.

A reference's data passes through its ``ds:Transform`` elements in order as one of three
states: an element subtree or the whole document (:class:`Subtree`, canonicalised by lxml as
before), an explicit node-set (:class:`~ltv.formats._xmldsig_nodeset.NodeSet`, after an XPath
or XPath Filter 2.0 transform) or octets. Supported:

* enveloped-signature (§6.6.4), C14N 1.0/1.1 and exclusive C14N with or without comments
  (§6.5), base64 (§6.6.2);
* XPath filtering (§6.6.3, ``here()`` included), XPath Filter 2.0 (intersect, subtract, union);
* XSLT (§6.6.5) in a separate process without file, network or extension access
  (:mod:`ltv.formats._xmldsig_xslt`).

Anything else is :class:`~ltv.errors.UnsupportedAlgorithmError` naming the transform (the
verdict is INDETERMINATE naming it, never a failure).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from lxml import etree

from ltv.errors import MalformedError, UnsupportedAlgorithmError
from ltv.formats._xmldsig_nodeset import (
    FILTER2_NS,
    NodeSet,
    canonicalize_nodeset,
    filter2,
    xpath_filter,
)
from ltv.xmlsafe import parse_xml

__all__ = ["TRANSFORM_XPATH", "TRANSFORM_XPATH_FILTER2", "TRANSFORM_XSLT", "Subtree",
           "TransformResult", "run_transforms"]

DS = "http://www.w3.org/2000/09/xmldsig#"
TRANSFORM_ENVELOPED = DS + "enveloped-signature"
TRANSFORM_BASE64 = DS + "base64"
TRANSFORM_XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
TRANSFORM_XPATH_FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
TRANSFORM_XSLT = "http://www.w3.org/TR/1999/REC-xslt-19991116"
#: More transforms than this in one reference are refused (nobody signs so; each costs work).
MAX_TRANSFORMS = 16


@dataclass(frozen=True, slots=True)
class Subtree:
    """``node`` (an element, or the document as an ``ElementTree``) and everything below,
    less ``exclude``'s subtree; ``comments``: whether comment nodes belong to it (only for
    XPointer references, XMLDSIG §4.4.3.3)."""

    node: Any
    exclude: Any | None
    comments: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TransformResult:
    """The digest input and, when the data ended as a subtree, which one (for reports and the
    archive time-stamp's re-canonicalisation)."""

    octets: bytes
    node_set: bool
    node: Any | None
    exclude: Any | None


def run_transforms(state: Any, steps: list[Any], *, uri: str | None,
                   signature: Any) -> TransformResult:
    """Apply ``steps`` (the ``ds:Transform`` elements) to ``state`` (a :class:`Subtree` or
    octets); a node-set left at the end becomes its C14N 1.0 octets (§4.4.3.2)."""
    from ltv.formats._xmldsig import C14nMethod, c14n_method_of

    if len(steps) > MAX_TRANSFORMS:
        raise UnsupportedAlgorithmError(
            f"reference {uri!r}: {len(steps)} transforms (more than {MAX_TRANSFORMS})")
    external_octets = isinstance(state, bytes)
    # What the reference is reported to cover: its URI's target, the enveloped signature
    # excluded; after a node-set filter, the subtree it left (None when it is no subtree).
    resolved = state.node if isinstance(state, Subtree) else None
    exclude: Any | None = None
    for transform in steps:
        algorithm = transform.get("Algorithm") or ""
        if algorithm == TRANSFORM_ENVELOPED:
            state = _enveloped(state, signature, uri)
            exclude = signature
        elif algorithm == TRANSFORM_BASE64:
            state = _base64(state, uri)
            external_octets = False
        elif algorithm in (TRANSFORM_XPATH, TRANSFORM_XPATH_FILTER2):
            nodes = _node_set(state, external_octets, uri)
            external_octets = False
            if algorithm == TRANSFORM_XPATH:
                xpath = transform.find(f"{{{DS}}}XPath")
                if xpath is None:
                    raise MalformedError(f"reference {uri!r}: the XPath transform has no "
                                         "ds:XPath element")
                state = xpath_filter(nodes, xpath)
            else:
                state = filter2(nodes, transform)
            shape = state.as_subtree(signature)
            resolved, exclude = (shape[0], shape[1]) if shape is not None else (None, None)
        elif algorithm == TRANSFORM_XSLT:
            from ltv.formats._xmldsig_xslt import apply_xslt

            state = apply_xslt(transform, _octets(state, C14nMethod.C14N_10, [], uri),
                               what=f"reference {uri!r}")
            external_octets = False
        else:
            try:
                method, prefixes = c14n_method_of(transform, C14nMethod.C14N_10)
            except UnsupportedAlgorithmError:
                raise UnsupportedAlgorithmError(
                    f"reference {uri!r}: unsupported transform {algorithm!r} (supported: "
                    "enveloped-signature, canonicalisation, base64, XPath, XPath Filter 2.0, "
                    "XSLT)"
                ) from None
            if isinstance(state, bytes) and external_octets:
                # XMLDSIG §4.4.3.2: detached octets become a node-set by parsing them (hardened
                # parser); an external node-set keeps its comments unless the method drops them.
                state = Subtree(parse_xml(state, what="the detached data"), None, True)
                external_octets = False
            if isinstance(state, bytes):
                state = Subtree(parse_xml(state, what=f"reference {uri!r}: transform output"),
                                None, True)
            state = _octets(state, method, prefixes, uri)
    if isinstance(state, bytes):
        return TransformResult(octets=state, node_set=False, node=resolved, exclude=exclude)
    return TransformResult(octets=_octets(state, C14nMethod.C14N_10, [], uri), node_set=True,
                           node=resolved, exclude=exclude)


def _octets(state: Any, method: Any, prefixes: list[str], uri: str | None) -> bytes:
    """Canonical octets of a state (octets pass through unchanged)."""
    from ltv.formats._xmldsig import canonicalize, without_comments

    if isinstance(state, bytes):
        return state
    if isinstance(state, Subtree):
        chosen = method if state.comments else without_comments(method)
        return canonicalize(state.node, chosen, prefixes=prefixes, exclude=state.exclude)
    shape = state.as_subtree(None)
    if shape is not None and not shape[2]:
        return canonicalize(shape[0], without_comments(method), prefixes=prefixes,
                            exclude=shape[1])
    return canonicalize_nodeset(state, exclusive=method.exclusive,
                                with_comments=method.with_comments, c14n11=method.is_11,
                                prefixes=prefixes)


def _enveloped(state: Any, signature: Any, uri: str | None) -> Any:
    if isinstance(state, Subtree):
        if not _contains(state.node, signature):
            raise MalformedError(
                f"reference {uri!r}: enveloped-signature transform on data that does not "
                "contain the signature")
        if state.exclude is not None and state.exclude is not signature:
            return _enveloped(NodeSet.subtree(state.node, comments=state.comments,
                                              minus=state.exclude), signature, uri)
        return Subtree(state.node, signature, state.comments)
    if isinstance(state, NodeSet):
        out = state.copy()
        out.subtract(NodeSet.subtree(signature, comments=True))
        return out
    raise MalformedError(f"reference {uri!r}: enveloped-signature transform on octets")


def _base64(state: Any, uri: str | None) -> bytes:
    """§6.6.2: the text nodes of a node-set (``self::text()``), or the octets, decoded."""
    if isinstance(state, bytes):
        text = state.decode("ascii", "replace")
    else:
        nodes = state if isinstance(state, NodeSet) else NodeSet.subtree(
            state.node, comments=state.comments, minus=state.exclude)
        text = _text_of(nodes)
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedError(f"reference {uri!r}: base64 transform input: {exc}") from exc


def _text_of(nodes: NodeSet) -> str:
    """The node-set's text nodes in document order."""
    parts: list[str] = []

    def walk(element: Any) -> None:
        if isinstance(element.tag, str):
            if element.text and (element, False) in nodes.texts:
                parts.append(element.text)
            for child in element:
                walk(child)
                if child.tail and (child, True) in nodes.texts:
                    parts.append(child.tail)

    walk(nodes.tree.getroot())
    return "".join(parts)


def _node_set(state: Any, external_octets: bool, uri: str | None) -> NodeSet:
    if isinstance(state, NodeSet):
        return state
    if isinstance(state, Subtree):
        return NodeSet.subtree(state.node, comments=state.comments, minus=state.exclude)
    del external_octets  # octets, detached or a transform's output: parsed (§4.4.3.2)
    return NodeSet.subtree(parse_xml(state, what=f"reference {uri!r}: octets for an XPath "
                                     "transform"), comments=True)


def _contains(node: Any, element: Any) -> bool:
    if isinstance(node, etree._ElementTree):
        return bool(element.getroottree().getroot() is node.getroot())
    current = element
    while current is not None:
        if current is node:
            return True
        current = current.getparent()
    return False


__all__ += ["FILTER2_NS"]
