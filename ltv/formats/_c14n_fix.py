"""Canonical XML of a subtree without libxml2's spurious ``xmlns=""`` (issue #19, item 5).

libxml2 (under lxml) canonicalising an element in place emits ``xmlns=""`` on descendants in
the default namespace when the subtree's apex re-declares the default namespace its ancestors
already declared (DigiDoc and other tools write SignedProperties so). C14N 1.0 §2.3 and
§4.7 say a namespace declaration is output only when it differs from the nearest output
ancestor's: these elements are in the default namespace, so no ``xmlns=""`` is needed, and
xmlsec1 and DSS compute the digest without it. The subtree is canonicalised again as the root
of a fresh document whose apex declares every in-scope namespace (the namespace axis of the
apex, C14N 1.0 §2.4), which libxml2 handles correctly; where a descendant really is in no
namespace the fresh copy keeps its ``xmlns=""``.
"""

from __future__ import annotations

import copy
from typing import Any

from lxml import etree

__all__ = ["canonical_copy", "needs_copy"]


def needs_copy(out: bytes) -> bool:
    """Whether in-place output may carry a spurious ``xmlns=""`` (then use the copy)."""
    return b' xmlns=""' in out


def canonical_copy(node: Any, *, exclusive: bool, with_comments: bool,
                   prefixes: list[str] | None) -> bytes:
    """C14N of ``node`` (its attributes, including inherited ``xml:*`` already set on it) as
    the root of a new document carrying every namespace in scope at ``node``."""
    apex = etree.Element(node.tag, nsmap=node.nsmap)
    for key, value in node.attrib.items():
        apex.set(key, value)
    apex.text = node.text
    for child in node:
        apex.append(copy.deepcopy(child))
    out: bytes = etree.tostring(etree.ElementTree(apex).getroot(), method="c14n",
                                exclusive=exclusive, with_comments=with_comments,
                                inclusive_ns_prefixes=prefixes or None)
    return out
