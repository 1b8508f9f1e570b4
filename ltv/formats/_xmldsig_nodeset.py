"""XPath node-sets and their canonical form (issue #19, item 5: the XPath and XPath Filter 2.0
transforms).

XMLDSIG §6.6.3 (XPath filtering) and XML-Signature XPath Filter 2.0 produce node-sets that are
no longer one element subtree: an element may be left out while its children stay, attributes
and namespace nodes may be dropped one by one. lxml's canonicaliser only takes whole subtrees,
so a node-set is held here explicitly (:class:`NodeSet`) and serialised by
:func:`canonicalize_nodeset` following Canonical XML 1.0 §2.3/§4 (document subsets, namespace
nodes, inherited ``xml:*`` attributes, ``xmlns=""``), Canonical XML 1.1 §2.4 (only ``xml:lang``
and ``xml:space`` inherited) and Exclusive XML Canonicalization §3 (visibly utilised namespaces).
:meth:`NodeSet.as_subtree` recognises a node-set that is just an element (or the document)
minus at most one subtree, so those keep lxml's canonicaliser and the report names the element.
One known difference from libxml2 (so xmlsec1): an attribute whose element is left out of the
node-set is not output here (C14N 1.0 §2.3 renders attributes only in their element's start
tag); libxml2's exclusive C14N writes it loose after the previous tag. The transform tests sign
with xmlsec1 only node-sets where both agree.

Nodes are identified as lxml exposes them: elements, comments and processing instructions by
their proxy objects (stable while this set holds them), attributes as ``(element, name)``,
namespace nodes as ``(element, prefix)`` (``""`` for the default namespace) and text nodes as
``(element, is_tail)``.

XPath evaluation runs inside libxml2 with no access to anything outside the document: the
expression is limited in length, ``here()`` returns the ``ds:XPath`` element bearing the
expression (XMLDSIG §6.6.3.3) and the prefixes are the in-scope namespaces of that element.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from ltv.errors import MalformedError, UnsupportedAlgorithmError

__all__ = ["MAX_XPATH_CHARS", "NodeSet", "canonicalize_nodeset", "filter2", "xpath_filter"]

XML_NS = "http://www.w3.org/XML/1998/namespace"
#: A longer XPath expression is refused (INDETERMINATE naming it): nobody signs with one, and
#: a crafted expression can cost time polynomial in its nesting.
MAX_XPATH_CHARS = 2000
#: Node-set transforms evaluate the expression once per node: documents with more elements
#: than this are refused for them (the same INDETERMINATE), never processed for minutes.
MAX_XPATH_ELEMENTS = 100_000


@dataclass(slots=True)
class NodeSet:
    """An XPath node-set over one document (see the module docstring for node identities)."""

    tree: Any
    elements: set[Any] = field(default_factory=set)  # elements, comments, PIs
    attributes: set[tuple[Any, str]] = field(default_factory=set)
    namespaces: set[tuple[Any, str]] = field(default_factory=set)
    texts: set[tuple[Any, bool]] = field(default_factory=set)

    @classmethod
    def subtree(cls, node: Any, *, comments: bool, minus: Any | None = None) -> NodeSet:
        """``node`` (an element, or the document as an ``ElementTree``) and all below it,
        with or without comments, less the subtree of ``minus``."""
        out = cls(tree=node if isinstance(node, etree._ElementTree) else node.getroottree())
        if isinstance(node, etree._ElementTree):
            root = node.getroot()
            tops = [*reversed(list(root.itersiblings(preceding=True))), root,
                    *root.itersiblings()]
        else:
            tops = [node]
        for top in tops:
            out._add_subtree(top, comments=comments, skip=minus, with_tail=False)
        return out

    def _add_subtree(self, top: Any, *, comments: bool, skip: Any | None,
                     with_tail: bool) -> None:
        stack: list[tuple[Any, bool]] = [(top, with_tail)]
        while stack:
            node, tail = stack.pop()
            if tail and node.tail:
                self.texts.add((node, True))  # a skipped node's tail stays (§6.6.4)
            if skip is not None and node is skip:
                continue
            if not isinstance(node.tag, str):
                if comments or not isinstance(node, etree._Comment):
                    self.elements.add(node)
                continue
            self.elements.add(node)
            self.attributes.update((node, name) for name in node.attrib)
            self.namespaces.update((node, prefix or "") for prefix, uri in node.nsmap.items()
                                   if uri)
            if node.text:
                self.texts.add((node, False))
            stack.extend((child, True) for child in node)

    def copy(self) -> NodeSet:
        return NodeSet(tree=self.tree, elements=set(self.elements),
                       attributes=set(self.attributes), namespaces=set(self.namespaces),
                       texts=set(self.texts))

    def intersect(self, other: NodeSet) -> None:
        self.elements &= other.elements
        self.attributes &= other.attributes
        self.namespaces &= other.namespaces
        self.texts &= other.texts

    def subtract(self, other: NodeSet) -> None:
        self.elements -= other.elements
        self.attributes -= other.attributes
        self.namespaces -= other.namespaces
        self.texts -= other.texts

    def union(self, other: NodeSet) -> None:
        self.elements |= other.elements
        self.attributes |= other.attributes
        self.namespaces |= other.namespaces
        self.texts |= other.texts

    def _key(self) -> tuple[frozenset[Any], ...]:
        return (frozenset(self.elements), frozenset(self.attributes),
                frozenset(self.namespaces), frozenset(self.texts))

    def same_as(self, other: NodeSet) -> bool:
        return self._key() == other._key()

    def without_comments(self) -> NodeSet:
        out = self.copy()
        out.elements = {e for e in out.elements if not isinstance(e, etree._Comment)}
        return out

    def as_subtree(self, signature: Any | None) -> tuple[Any, Any | None, bool] | None:
        """``(node, minus, comments)`` when this set is exactly ``node``'s subtree (the
        document or an element), less ``signature``'s subtree or nothing, with or without
        comments; else None."""
        candidates: list[Any] = []
        tops = [e for e in self.elements if isinstance(e.tag, str)
                and (e.getparent() is None or e.getparent() not in self.elements)]
        if len(tops) == 1:
            top = tops[0]
            candidates = [self.tree] if top.getparent() is None else [top]
        elif not tops:
            return None
        for node in candidates:
            for minus in (None, signature):
                for comments in (False, True):
                    if self.same_as(NodeSet.subtree(node, comments=comments, minus=minus)):
                        return node, minus, comments
        return None


# -- XPath evaluation -------------------------------------------------------------------------


def _namespaces(xpath_element: Any) -> dict[str, str]:
    """The prefixes an expression may use: those in scope at the element bearing it
    (XMLDSIG §6.6.3; XPath 1.0 has no default namespace for names)."""
    return {p: u for p, u in xpath_element.nsmap.items() if p and p != "xml"}


def _expression(xpath_element: Any, what: str) -> str:
    text = "".join(xpath_element.itertext()).strip()
    if not text:
        raise MalformedError(f"{what}: the XPath expression is empty")
    if len(text) > MAX_XPATH_CHARS:
        raise UnsupportedAlgorithmError(
            f"{what}: an XPath expression of {len(text)} characters (more than "
            f"{MAX_XPATH_CHARS}) is not processed")
    return text


def _evaluator(tree: Any, xpath_element: Any | None,
               namespaces: dict[str, str]) -> Callable[[str], Any]:
    """Evaluate expressions over ``tree``; ``here()`` is ``xpath_element`` (empty when the
    expression applies to another document than the one bearing it, e.g. detached data)."""

    def here(_context: Any) -> list[Any]:
        return [xpath_element] if xpath_element is not None else []

    def run(expr: str) -> Any:
        try:
            compiled = etree.XPath(expr, namespaces=namespaces,
                                   extensions={(None, "here"): here}, smart_strings=True)
            return compiled(tree)
        except (etree.XPathError, ValueError, TypeError) as exc:
            raise MalformedError(f"the XPath expression {expr!r} cannot be evaluated: "
                                 f"{exc}") from exc

    return run


def _check_size(tree: Any, what: str) -> None:
    count = int(tree.xpath("count(//node())"))
    if count > MAX_XPATH_ELEMENTS:
        raise UnsupportedAlgorithmError(
            f"{what}: a document with {count:,} nodes is too large for XPath transforms "
            f"(limit {MAX_XPATH_ELEMENTS:,})")


def _all_nodes(tree: Any) -> list[Any]:
    """Every element, comment and PI of the document in document order (their index is how
    the confined evaluation names them)."""
    root = tree.getroot()
    return [*reversed(list(root.itersiblings(preceding=True))), *root.iter(),
            *root.itersiblings()]


# A node descriptor crossing the process boundary: ["n", i] an element/comment/PI, ["t", i, tail]
# a text node, ["a", i, name] an attribute, ["x", i, prefix] a namespace node.
Descriptor = list[Any]


def _describe(node: Any, index: dict[Any, int]) -> Descriptor | None:
    if isinstance(node, tuple):
        return None  # a namespace node alone: lxml gives no parent
    if isinstance(node, str):
        parent = index[node.getparent()]  # type: ignore[attr-defined]
        if getattr(node, "is_attribute", False):
            return ["a", parent, str(node.attrname)]  # type: ignore[attr-defined]
        return ["t", parent, bool(node.is_tail)]  # type: ignore[attr-defined]
    return ["n", index[node]]


def _evaluate(tree: Any, queries: list[dict[str, Any]]) -> list[Any]:
    """Run the XPath queries of one transform (in the confined process): ``filter`` (XPath
    transform: every node for which the expression is true) or ``select`` (Filter 2.0: what
    the expression selects, and whether that includes the root node)."""
    nodes = _all_nodes(tree)
    index = {node: i for i, node in enumerate(nodes)}
    results: list[Any] = []
    for query in queries:
        xpath_element = nodes[query["xpath"]] if query["xpath"] >= 0 else None
        namespaces = dict(query["namespaces"])
        run = _evaluator(tree, xpath_element, namespaces)
        expr = query["expr"]
        found: list[Descriptor] = []
        if query["mode"] == "select":
            whole = run(f"count(({expr}) | /)") == run(f"count({expr})")
            result = [] if whole else run(expr)
            if not isinstance(result, list):
                raise MalformedError(f"the XPath expression {expr!r} does not select nodes")
            found = [d for d in (_describe(n, index) for n in result) if d is not None]
            results.append({"root": whole, "nodes": found})
            continue
        pred = f"[boolean({expr})]"
        for query_text in (f"(//node()[not(self::text())]){pred}", f"(//text()){pred}",
                           f"(//@*){pred}"):
            found.extend(d for d in (_describe(n, index) for n in run(query_text))
                         if d is not None)
        partial = run(f"//*[count(namespace::*{pred}) != count(namespace::*)]")
        for element in partial:
            try:
                passing = etree.XPath(f"namespace::*{pred}", namespaces=namespaces,
                                      extensions={(None, "here"): lambda _c, x=xpath_element:
                                                  [x] if x is not None else []})(element)
            except (etree.XPathError, ValueError, TypeError) as exc:
                raise MalformedError(f"the XPath expression {expr!r} cannot be evaluated: "
                                     f"{exc}") from exc
            found.append(["p", index[element]])  # its namespace nodes are listed one by one
            found.extend(["x", index[element], prefix or ""] for prefix, _ in passing)
        results.append({"root": False, "nodes": found})
    return results


#: Bounds of one confined XPath evaluation (a crafted expression is polynomial in its nesting).
XPATH_TIMEOUT_SECONDS = 10.0
XPATH_CPU_SECONDS = 5
XPATH_MEMORY_BYTES = 768 * 1024 * 1024


def _confined(tree: Any, queries: list[dict[str, Any]], what: str) -> list[Any]:
    """:func:`_evaluate` in a separate process with CPU time, memory and wall-clock bounds:
    the document and the queries go in, node descriptors come out (JSON)."""
    import json
    import struct
    import subprocess
    import sys

    document = etree.tostring(tree)
    header = json.dumps(queries).encode("utf-8")
    payload = struct.pack(">II", len(header), len(document)) + header + document
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-m", "ltv.formats._xmldsig_nodeset"], input=payload,
            capture_output=True, timeout=XPATH_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise UnsupportedAlgorithmError(
            f"{what}: the XPath evaluation ran longer than {XPATH_TIMEOUT_SECONDS:g} s: "
            "stopped") from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        text = lines[-1] if lines else f"exit status {done.returncode}"
        if text.startswith("MalformedError: "):
            raise MalformedError(f"{what}: {text.removeprefix('MalformedError: ')[:300]}")
        raise UnsupportedAlgorithmError(f"{what}: the XPath evaluation failed: {text[:300]}")
    results: list[Any] = json.loads(done.stdout)
    return results


def _to_nodes(tree: Any, found: list[Descriptor]) -> tuple[NodeSet, set[Any]]:
    """The descriptors as a node-set, and the elements whose namespace nodes are listed one by
    one (for the others every namespace node passed)."""
    nodes = _all_nodes(tree)
    out = NodeSet(tree=tree)
    partial: set[Any] = set()
    for item in found:
        kind, position = item[0], int(item[1])
        node = nodes[position]
        if kind == "n":
            out.elements.add(node)
        elif kind == "t":
            out.texts.add((node, bool(item[2])))
        elif kind == "a":
            out.attributes.add((node, str(item[2])))
        elif kind == "x":
            out.namespaces.add((node, str(item[2])))
        elif kind == "p":
            partial.add(node)
    return out, partial


def _index_of(tree: Any, element: Any) -> int:
    """``element``'s index in ``tree``, or -1 when it belongs to another document."""
    return next((i for i, node in enumerate(_all_nodes(tree)) if node is element), -1)


def xpath_filter(nodes: NodeSet, xpath_element: Any) -> NodeSet:
    """XMLDSIG §6.6.3: the nodes of ``nodes`` for which the expression is true (evaluated with
    each node as context node), evaluated in a confined process."""
    what = "the XPath transform"
    expr = _expression(xpath_element, what)
    _check_size(nodes.tree, what)
    (result,) = _confined(nodes.tree, [{"mode": "filter", "expr": expr,
                                        "xpath": _index_of(nodes.tree, xpath_element),
                                        "namespaces": _namespaces(xpath_element)}], what)
    passed, partial = _to_nodes(nodes.tree, result["nodes"])
    out = NodeSet(tree=nodes.tree)
    out.elements = nodes.elements & passed.elements
    out.texts = nodes.texts & passed.texts
    out.attributes = nodes.attributes & passed.attributes
    out.namespaces = {k for k in nodes.namespaces
                      if k[0] not in partial or k in passed.namespaces}
    return out


FILTER2_NS = "http://www.w3.org/2002/06/xmldsig-filter2"


def filter2(nodes: NodeSet, transform: Any) -> NodeSet:
    """XML-Signature XPath Filter 2.0 §3: the filter node-set Z starts as the whole input
    document; each ``dsig-xpath:XPath`` (evaluated with the document root as context) expands
    to the subtrees of the nodes it selects and is intersected with, subtracted from or united
    with Z in order; the output is the input node-set intersected with Z. The expressions are
    evaluated in a confined process."""
    what = "the XPath Filter 2.0 transform"
    steps = [c for c in transform if isinstance(c.tag, str)]
    if not steps or any(c.tag != f"{{{FILTER2_NS}}}XPath" for c in steps):
        raise MalformedError(f"{what} holds no dsig-xpath:XPath element, or other elements")
    _check_size(nodes.tree, what)
    kinds = []
    queries = []
    for step in steps:
        kind = step.get("Filter")
        if kind not in ("intersect", "subtract", "union"):
            raise MalformedError(f"{what}: Filter {kind!r} is not intersect, subtract or union")
        kinds.append(kind)
        queries.append({"mode": "select", "expr": _expression(step, what),
                        "xpath": _index_of(nodes.tree, step),
                        "namespaces": _namespaces(step)})
    results = _confined(nodes.tree, queries, what)
    everything = NodeSet.subtree(nodes.tree, comments=True)
    z = everything.copy()
    for kind, result in zip(kinds, results, strict=True):
        if result["root"]:
            selected = everything.copy()
        else:
            picked, _ = _to_nodes(nodes.tree, result["nodes"])
            selected = NodeSet(tree=nodes.tree, attributes=picked.attributes,
                               texts=picked.texts)
            for node in picked.elements:
                selected._add_subtree(node, comments=True, skip=None, with_tail=False)
        getattr(z, kind)(selected)
    out = nodes.copy()
    out.intersect(z)
    return out


def _child() -> int:  # pragma: no cover - runs in the confined process
    import json
    import resource
    import struct
    import sys

    resource.setrlimit(resource.RLIMIT_CPU, (XPATH_CPU_SECONDS, XPATH_CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (XPATH_MEMORY_BYTES, XPATH_MEMORY_BYTES))
    from ltv.xmlsafe import parse_xml

    data = sys.stdin.buffer.read()
    n_header, n_document = struct.unpack(">II", data[:8])
    queries = json.loads(data[8:8 + n_header])
    try:
        tree = parse_xml(data[8 + n_header:8 + n_header + n_document],
                         what="the XPath input")
        results = _evaluate(tree, queries)
    except MalformedError as exc:
        sys.stderr.write("MalformedError: " + " ".join(str(exc).split()) + "\n")
        return 2
    except MemoryError:
        sys.stderr.write("the XPath evaluation needs more than the memory limit\n")
        return 2
    except Exception as exc:
        sys.stderr.write(" ".join(f"{type(exc).__name__}: {exc}".split()) + "\n")
        return 2
    sys.stdout.write(json.dumps(results))
    return 0


# -- canonical serialisation ------------------------------------------------------------------


def _escape_text(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#xD;"))


def _escape_attr(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
            .replace("\t", "&#x9;").replace("\n", "&#xA;").replace("\r", "&#xD;"))


def _qname(element: Any) -> str:
    local = etree.QName(element).localname
    return f"{element.prefix}:{local}" if element.prefix else str(local)


def _attr_qname(element: Any, name: str) -> tuple[str, str, str]:
    """(namespace URI, local name, qualified name as written) of an attribute."""
    qn = etree.QName(name)
    uri = qn.namespace or ""
    if not uri:
        return "", str(qn.localname), str(qn.localname)
    if uri == XML_NS:
        return uri, str(qn.localname), f"xml:{qn.localname}"
    prefix = next((p for p, u in element.nsmap.items() if u == uri and p), None)
    if prefix is None:
        raise MalformedError(f"attribute {name} has a namespace with no prefix in scope")
    return uri, str(qn.localname), f"{prefix}:{qn.localname}"


@dataclass(slots=True)
class _Writer:
    nodes: NodeSet
    exclusive: bool
    with_comments: bool
    c14n11: bool
    inclusive_prefixes: frozenset[str]
    out: list[str] = field(default_factory=list)

    def run(self) -> bytes:
        root = self.nodes.tree.getroot()
        before = list(reversed(list(root.itersiblings(preceding=True))))
        after = list(root.itersiblings())
        for node in before:
            self._top_level(node, before=True)
        self._element(root, {}, {})
        for node in after:
            self._top_level(node, before=False)
        return "".join(self.out).encode("utf-8")

    def _top_level(self, node: Any, *, before: bool) -> None:
        text = self._other(node)
        if text is not None:
            self.out.append(text + "\n" if before else "\n" + text)

    def _other(self, node: Any) -> str | None:
        if node not in self.nodes.elements:
            return None
        if isinstance(node, etree._Comment):
            return f"<!--{node.text or ''}-->" if self.with_comments else None
        if isinstance(node, etree._ProcessingInstruction):
            data = node.text or ""
            return f"<?{node.target}{' ' + data if data else ''}?>"
        return None

    def _element(self, element: Any, rendered: dict[str, str],
                 ancestor_ns: dict[str, str]) -> None:
        """``rendered``: prefix → URI declared by output ancestors (exclusive C14N);
        ``ancestor_ns``: the namespace nodes in the set of the nearest output ancestor
        (inclusive C14N 1.0 §2.3: a declaration repeats only what differs from it)."""
        if not isinstance(element.tag, str):
            text = self._other(element)
            if text is not None:
                self.out.append(text)
            return
        visible = element in self.nodes.elements
        child_rendered, child_ns = rendered, ancestor_ns
        if visible:
            decls, child_rendered, child_ns = self._namespace_axis(element, rendered,
                                                                   ancestor_ns)
            attrs = self._attributes(element)
            self.out.append("<" + _qname(element))
            for name, value in decls:
                self.out.append(f' {name}="{_escape_attr(value)}"')
            for _uri, _local, qname, value in attrs:
                self.out.append(f' {qname}="{_escape_attr(value)}"')
            self.out.append(">")
        if element.text and (element, False) in self.nodes.texts:
            self.out.append(_escape_text(element.text))
        for child in element:
            self._element(child, child_rendered, child_ns)
            if child.tail and (child, True) in self.nodes.texts:
                self.out.append(_escape_text(child.tail))
        if visible:
            self.out.append(f"</{_qname(element)}>")

    def _namespace_axis(self, element: Any, rendered: dict[str, str],
                        ancestor_ns: dict[str, str]
                        ) -> tuple[list[tuple[str, str]], dict[str, str], dict[str, str]]:
        in_set = {p: u for p, u in ((p or "", u) for p, u in element.nsmap.items())
                  if u and (element, p) in self.nodes.namespaces}
        decls: dict[str, str] = {}
        if self.exclusive:
            used = {element.prefix or ""}
            for name in element.attrib:
                uri, _, qname = _attr_qname(element, name)
                if uri and uri != XML_NS:
                    used.add(qname.split(":", 1)[0])
            scope = {p or "": u for p, u in element.nsmap.items()}
            for prefix in sorted(used | (self.inclusive_prefixes & set(in_set))):
                uri = scope.get(prefix, "") if prefix in used else in_set.get(prefix, "")
                if prefix in self.inclusive_prefixes and prefix not in used:
                    uri = in_set[prefix]
                if rendered.get(prefix, "") != uri:
                    decls[prefix] = uri
            new_rendered = {**rendered, **decls}
            return self._sorted(decls), new_rendered, in_set
        for prefix, uri in in_set.items():
            if ancestor_ns.get(prefix) != uri:
                decls[prefix] = uri
        if "" not in in_set and ancestor_ns.get(""):
            decls[""] = ""
        return self._sorted(decls), rendered, in_set

    @staticmethod
    def _sorted(decls: dict[str, str]) -> list[tuple[str, str]]:
        return [("xmlns" if p == "" else f"xmlns:{p}", decls[p]) for p in sorted(decls)]

    def _attributes(self, element: Any) -> list[tuple[str, str, str, str]]:
        attrs = {}
        for name, value in element.attrib.items():
            if (element, name) in self.nodes.attributes:
                uri, local, qname = _attr_qname(element, name)
                attrs[(uri, local)] = (uri, local, qname, value)
        if not self.exclusive:
            inherit = ("lang", "space") if self.c14n11 else ("lang", "space", "base", "id")
            for ancestor in self._hidden_ancestors(element):
                for local in inherit:
                    value = ancestor.get(f"{{{XML_NS}}}{local}")
                    if value is None or (XML_NS, local) in attrs:
                        continue
                    attrs[(XML_NS, local)] = (XML_NS, local, f"xml:{local}", value)
            if self.c14n11 and any(a.get(f"{{{XML_NS}}}base") is not None
                                   for a in self._hidden_ancestors(element)):
                raise UnsupportedAlgorithmError(
                    "C14N 1.1 of a node-set under an omitted xml:base (base URI fix-up) is "
                    "not supported")
        return [attrs[k] for k in sorted(attrs)]

    def _hidden_ancestors(self, element: Any) -> Iterator[Any]:
        """Ancestors of ``element`` up to (not including) its nearest one in the set."""
        current = element.getparent()
        while current is not None and current not in self.nodes.elements:
            yield current
            current = current.getparent()


def canonicalize_nodeset(nodes: NodeSet, *, exclusive: bool, with_comments: bool,
                         c14n11: bool = False, prefixes: Iterable[str] = ()) -> bytes:
    """Canonical octets of a node-set (C14N 1.0/1.1 or exclusive C14N, see the module)."""
    inclusive = frozenset("" if p == "#default" else p for p in prefixes)
    return _Writer(nodes=nodes, exclusive=exclusive, with_comments=with_comments,
                   c14n11=c14n11, inclusive_prefixes=inclusive).run()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_child())
