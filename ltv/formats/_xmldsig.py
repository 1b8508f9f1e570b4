"""XML-DSig building blocks for XAdES: algorithm URIs, canonicalisation, reference processing.

W3C XML Signature 1.1 core processing, as EN 319 132-1 uses it:

* algorithm identifiers (digest, signature incl. RFC 6931 RSASSA-PSS, canonicalisation);
* :func:`canonicalize` for C14N 1.0, C14N 1.1 and exclusive C14N, with or without comments,
  applied to a whole document or to an element subtree in its document context;
* :func:`resolve_ids` / :func:`process_reference`: the reference processing model
  (XMLDSIG §4.4.3.2–3) for the transforms a baseline signature uses (enveloped-signature,
  canonicalisation, base64, XPath, XPath Filter 2.0, XSLT: :mod:`ltv.formats._xmldsig_transforms`;
  same-document XPointers ``#xpointer(/)`` and ``#xpointer(id('X'))``; no remote URIs). ``#id``
  resolves only against ``Id`` attributes of the signature's own document and a duplicate ``Id``
  is refused, so a wrapped signature cannot make a reference point at a node other than the one
  reported (EN 319 102-1 §5.2.7, signature wrapping).

lxml has no strict stubs: nodes cross this module as ``Any``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import unquote

from lxml import etree

from ltv.algorithms import DigestAlgorithm, SignatureMechanism
from ltv.errors import HashFailureError, InputError, MalformedError, UnsupportedAlgorithmError
from ltv.formats._c14n_fix import canonical_copy, needs_copy

__all__ = [
    "DS",
    "XADES",
    "XADES141",
    "C14nMethod",
    "HashFailureError",
    "ProcessedReference",
    "canonicalize",
    "digest_from_uri",
    "digest_uri",
    "process_reference",
    "pss_parameters",
    "resolve_ids",
    "signature_method",
    "signature_uri",
    "signed_info_of",
    "verify_signature_value",
]

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
XADES141 = "http://uri.etsi.org/01903/v1.4.1#"
EXC_C14N_NS = "http://www.w3.org/2001/10/xml-exc-c14n#"
DSIG_MORE_2007 = "http://www.w3.org/2007/05/xmldsig-more#"

TRANSFORM_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
TRANSFORM_BASE64 = "http://www.w3.org/2000/09/xmldsig#base64"
ENCODING_BASE64 = "http://www.w3.org/2000/09/xmldsig#base64"
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"
RSA_PSS_URI = DSIG_MORE_2007 + "rsa-pss"  # RFC 6931 §2.3.10 (with RSAPSSParams)
MGF1_URI = DSIG_MORE_2007 + "MGF1"


class C14nMethod(enum.Enum):
    """Canonicalisation algorithms (XMLDSIG §6.5), valued by their URIs."""

    C14N_10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    C14N_10_COMMENTS = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
    C14N_11 = "http://www.w3.org/2006/12/xml-c14n11"
    C14N_11_COMMENTS = "http://www.w3.org/2006/12/xml-c14n11#WithComments"
    EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
    EXC_C14N_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"

    @property
    def exclusive(self) -> bool:
        return self in (C14nMethod.EXC_C14N, C14nMethod.EXC_C14N_COMMENTS)

    @property
    def with_comments(self) -> bool:
        return self.value.endswith("#WithComments")

    @property
    def is_11(self) -> bool:
        return self in (C14nMethod.C14N_11, C14nMethod.C14N_11_COMMENTS)

    @classmethod
    def parse(cls, text: str) -> C14nMethod:
        key = text.strip().lower()
        aliases = {
            "c14n": cls.C14N_10, "c14n10": cls.C14N_10, "inclusive": cls.C14N_10,
            "c14n11": cls.C14N_11, "exc-c14n": cls.EXC_C14N, "exclusive": cls.EXC_C14N,
        }
        if key in aliases:
            return aliases[key]
        for method in cls:
            if method.value == text.strip():
                return method
        raise UnsupportedAlgorithmError(
            f"unsupported canonicalisation {text!r} (use exc-c14n, c14n or c14n11)"
        )


# -- algorithm URIs ---------------------------------------------------------------------------

_DIGEST_URIS = {
    DigestAlgorithm.SHA1: "http://www.w3.org/2000/09/xmldsig#sha1",
    DigestAlgorithm.SHA256: "http://www.w3.org/2001/04/xmlenc#sha256",
    DigestAlgorithm.SHA384: "http://www.w3.org/2001/04/xmldsig-more#sha384",
    DigestAlgorithm.SHA512: "http://www.w3.org/2001/04/xmlenc#sha512",
}

_SIGNATURE_URIS = {
    (SignatureMechanism.RSA_PKCS1V15, DigestAlgorithm.SHA1): "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    (SignatureMechanism.RSA_PKCS1V15, DigestAlgorithm.SHA256):
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    (SignatureMechanism.RSA_PKCS1V15, DigestAlgorithm.SHA384):
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    (SignatureMechanism.RSA_PKCS1V15, DigestAlgorithm.SHA512):
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    (SignatureMechanism.ECDSA, DigestAlgorithm.SHA1): "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
    (SignatureMechanism.ECDSA, DigestAlgorithm.SHA256):
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    (SignatureMechanism.ECDSA, DigestAlgorithm.SHA384):
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    (SignatureMechanism.ECDSA, DigestAlgorithm.SHA512):
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
}

# RFC 6931 §2.3.11: RSASSA-PSS with MGF1 over the same hash and salt = hash length, no params.
_PSS_MGF1_URIS = {
    DigestAlgorithm.SHA1: DSIG_MORE_2007 + "sha1-rsa-MGF1",
    DigestAlgorithm.SHA256: DSIG_MORE_2007 + "sha256-rsa-MGF1",
    DigestAlgorithm.SHA384: DSIG_MORE_2007 + "sha384-rsa-MGF1",
    DigestAlgorithm.SHA512: DSIG_MORE_2007 + "sha512-rsa-MGF1",
}


def digest_uri(algorithm: DigestAlgorithm) -> str:
    return _DIGEST_URIS[algorithm]


def digest_from_uri(uri: str | None) -> DigestAlgorithm:
    for alg, known in _DIGEST_URIS.items():
        if known == uri:
            return alg
    raise UnsupportedAlgorithmError(f"unsupported digest method {uri!r}")


def signature_uri(mechanism: SignatureMechanism, digest: DigestAlgorithm) -> str:
    """The ``ds:SignatureMethod`` URI (RSASSA-PSS: RFC 6931 §2.3.10 ``rsa-pss``)."""
    if mechanism is SignatureMechanism.RSA_PSS:
        return RSA_PSS_URI
    try:
        return _SIGNATURE_URIS[(mechanism, digest)]
    except KeyError:
        raise UnsupportedAlgorithmError(
            f"no XML signature method for {mechanism.value} with {digest.value}"
        ) from None


def build_signature_method(parent: Any, mechanism: SignatureMechanism,
                           digest: DigestAlgorithm) -> Any:
    """Append ``ds:SignatureMethod`` (with ``pss:RSAPSSParams`` for PSS, RFC 6931 §2.3.10)."""
    method = etree.SubElement(parent, f"{{{DS}}}SignatureMethod",
                              Algorithm=signature_uri(mechanism, digest))
    if mechanism is SignatureMechanism.RSA_PSS:
        params = etree.SubElement(method, f"{{{DSIG_MORE_2007}}}RSAPSSParams",
                                  nsmap={"pss": DSIG_MORE_2007})
        etree.SubElement(params, f"{{{DS}}}DigestMethod", Algorithm=digest_uri(digest))
        mgf = etree.SubElement(params, f"{{{DSIG_MORE_2007}}}MaskGenerationFunction",
                               Algorithm=MGF1_URI)
        etree.SubElement(mgf, f"{{{DS}}}DigestMethod", Algorithm=digest_uri(digest))
        etree.SubElement(params, f"{{{DSIG_MORE_2007}}}SaltLength").text = str(
            digest.digest_size
        )
        etree.SubElement(params, f"{{{DSIG_MORE_2007}}}TrailerField").text = "1"
    return method


def signature_method(element: Any) -> tuple[SignatureMechanism, DigestAlgorithm]:
    """Read ``ds:SignatureMethod`` (for ``rsa-pss`` its hash; the other parameters:
    :func:`pss_parameters`)."""
    uri = element.get("Algorithm")
    for (mech, alg), known in _SIGNATURE_URIS.items():
        if known == uri:
            return mech, alg
    for alg, known in _PSS_MGF1_URIS.items():
        if known == uri:
            return SignatureMechanism.RSA_PSS, alg
    if uri == RSA_PSS_URI:
        params = pss_parameters(element)
        assert params is not None
        return SignatureMechanism.RSA_PSS, params.digest
    raise UnsupportedAlgorithmError(f"unsupported signature method {uri!r}")


@dataclass(frozen=True, slots=True)
class PssParameters:
    """RFC 6931 §2.3.10 ``pss:RSAPSSParams`` (defaults: SHA-256, MGF1 over the same hash, salt
    as long as the hash, trailer field 1)."""

    digest: DigestAlgorithm
    mgf_digest: DigestAlgorithm
    salt_length: int


def pss_parameters(element: Any) -> PssParameters | None:
    """The RSASSA-PSS parameters of an ``rsa-pss`` ``ds:SignatureMethod`` (None for other
    methods): any salt length and MGF1 hash the parameters state (issue #19, item 6)."""
    if element.get("Algorithm") != RSA_PSS_URI:
        return None
    params = element.find(f"{{{DSIG_MORE_2007}}}RSAPSSParams")
    if params is None:
        raise UnsupportedAlgorithmError("rsa-pss without RSAPSSParams is not supported")
    dm = params.find(f"{{{DS}}}DigestMethod")
    alg = digest_from_uri(dm.get("Algorithm")) if dm is not None else DigestAlgorithm.SHA256
    mgf_alg = alg
    mgf = params.find(f"{{{DSIG_MORE_2007}}}MaskGenerationFunction")
    if mgf is not None:
        if mgf.get("Algorithm") != MGF1_URI:
            raise UnsupportedAlgorithmError(
                f"rsa-pss: mask generation function {mgf.get('Algorithm')!r} (only MGF1)")
        mgf_dm = mgf.find(f"{{{DS}}}DigestMethod")
        if mgf_dm is not None:
            mgf_alg = digest_from_uri(mgf_dm.get("Algorithm"))
    salt_text = params.findtext(f"{{{DSIG_MORE_2007}}}SaltLength")
    salt = alg.digest_size
    if salt_text is not None:
        try:
            salt = int(salt_text.strip())
        except ValueError:
            raise MalformedError(f"rsa-pss: SaltLength {salt_text.strip()!r} is no integer"
                                 ) from None
        if not 0 <= salt <= 1024:
            raise MalformedError(f"rsa-pss: SaltLength {salt} is out of range")
    trailer = params.findtext(f"{{{DSIG_MORE_2007}}}TrailerField")
    if trailer is not None and trailer.strip() != "1":
        raise UnsupportedAlgorithmError("rsa-pss: trailer field must be 1")
    return PssParameters(digest=alg, mgf_digest=mgf_alg, salt_length=salt)


def verify_signature_value(element: Any, public_key: object, value: bytes, *,
                           data: bytes) -> None:
    """Verify ``value`` over ``data`` as the ``ds:SignatureMethod`` ``element`` says (RSA-PSS
    with the salt length and MGF1 hash of its parameters); SignatureValueError if not."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from ltv.algorithms import verify_signature
    from ltv.errors import SignatureValueError

    mechanism, digest = signature_method(element)
    params = pss_parameters(element)
    if params is None or (params.mgf_digest is digest
                          and params.salt_length == digest.digest_size):
        verify_signature(public_key, value, mechanism=mechanism, digest_algorithm=digest,
                         data=data)
        return
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise UnsupportedAlgorithmError("rsa-pss does not fit a key that is not RSA")
    try:
        public_key.verify(value, data, padding.PSS(
            mgf=padding.MGF1(params.mgf_digest.crypto_hash()), salt_length=params.salt_length),
            digest.crypto_hash())
    except (InvalidSignature, ValueError) as exc:
        raise SignatureValueError(
            "the signature value does not verify with the signer certificate's public key "
            f"(RSASSA-PSS, salt {params.salt_length}, MGF1 with {params.mgf_digest.value})"
        ) from exc


# -- canonicalisation -------------------------------------------------------------------------

_XML_NS = "http://www.w3.org/XML/1998/namespace"
_INHERITED_10 = ("lang", "space", "base", "id")
_INHERITED_11 = ("lang", "space")


def c14n_method_of(element: Any | None, default: C14nMethod) -> tuple[C14nMethod, list[str]]:
    """The method named by a ``ds:CanonicalizationMethod``/``ds:Transform`` and its PrefixList."""
    if element is None:
        return default, []
    method = C14nMethod.parse(element.get("Algorithm") or "")
    prefixes: list[str] = []
    inc = element.find(f"{{{EXC_C14N_NS}}}InclusiveNamespaces")
    if inc is not None and method.exclusive:
        prefixes = [p for p in (inc.get("PrefixList") or "").split() if p]
        prefixes = ["#default" if p == "#default" else p for p in prefixes]
    return method, prefixes


class SignedInfoOf(NamedTuple):
    """A ``ds:Signature``'s ``ds:SignedInfo`` and what it names for the signature value."""

    element: Any
    c14n: C14nMethod
    prefixes: list[str]
    method: Any  # the ds:SignatureMethod element (its parameters, e.g. RSA-PSS)
    mechanism: SignatureMechanism
    digest_algorithm: DigestAlgorithm


def signed_info_of(signature: Any, *, exactly_one: bool = False) -> SignedInfoOf:
    """``ds:SignedInfo`` (the first child, as XML-DSig requires; with ``exactly_one`` also the
    only one), its canonicalisation method and PrefixList, and its SignatureMethod."""
    children = [c for c in signature if isinstance(c.tag, str)]
    if not children or children[0].tag != f"{{{DS}}}SignedInfo":
        raise MalformedError("ds:SignedInfo must be the first child of ds:Signature")
    signed_info = children[0]
    if exactly_one and len(signature.findall(f"{{{DS}}}SignedInfo")) != 1:
        raise MalformedError("ds:Signature must hold exactly one ds:SignedInfo")
    c14n, prefixes = c14n_method_of(signed_info.find(f"{{{DS}}}CanonicalizationMethod"),
                                    C14nMethod.C14N_10)
    sm = signed_info.find(f"{{{DS}}}SignatureMethod")
    if sm is None:
        raise MalformedError("ds:SignedInfo has no SignatureMethod")
    mechanism, digest_alg = signature_method(sm)
    return SignedInfoOf(signed_info, c14n, prefixes, sm, mechanism, digest_alg)


def canonicalize(node: Any, method: C14nMethod, *, prefixes: list[str] | None = None,
                 exclude: Any | None = None) -> bytes:
    """Canonical octets of an element subtree, or of a whole document (an ``ElementTree``).

    ``exclude``: an element left out of the node-set (the enveloped-signature transform,
    XMLDSIG §6.6.4); its surrounding text stays. For inclusive C14N of an element subtree the
    ``xml:*`` attributes in scope are inherited as C14N 1.0 §2.4 / C14N 1.1 §2.4 require (lxml
    alone would drop them).
    """
    if exclude is not None:
        return _without(node, exclude,
                        lambda copied: canonicalize(copied, method, prefixes=prefixes))
    inherited: dict[str, str] = {}
    is_tree = isinstance(node, etree._ElementTree)
    if not is_tree and not method.exclusive:
        names = _INHERITED_11 if method.is_11 else _INHERITED_10
        for ancestor in node.iterancestors():
            for name in names:
                key = f"{{{_XML_NS}}}{name}"
                value = ancestor.get(key)
                if value is not None and key not in inherited and node.get(key) is None:
                    inherited[key] = value
            if method.is_11 and ancestor.get(f"{{{_XML_NS}}}base") is not None:
                raise UnsupportedAlgorithmError(
                    "C14N 1.1 of a subtree under xml:base (base URI fix-up) is not supported"
                )
    for key, value in inherited.items():
        node.set(key, value)
    try:
        out: bytes = etree.tostring(
            node,
            method="c14n",
            exclusive=method.exclusive,
            with_comments=method.with_comments,
            inclusive_ns_prefixes=prefixes or None,
        )
        if not is_tree and needs_copy(out):  # libxml2's spurious xmlns="" (issue #19)
            out = canonical_copy(node, exclusive=method.exclusive,
                                 with_comments=method.with_comments, prefixes=prefixes)
    finally:
        for key in inherited:
            del node.attrib[key]
    return out


def _without(node: Any, element: Any, action: Callable[[Any], bytes]) -> bytes:
    """``action`` on ``node`` in a copy of its document from which ``element`` is removed (its
    tail text kept in place).

    The copy matters: detaching an element in place and putting it back makes lxml reconcile
    its namespace declarations (a redundant ``xmlns:xd`` bound to the ds namespace became
    ``ds:``), which silently changed what later references digest (issue #19, item 5).
    """
    if element.getparent() is None:
        raise MalformedError("the enveloped signature is the document element itself")
    tree = node if isinstance(node, etree._ElementTree) else node.getroottree()
    copied = copy.deepcopy(tree)

    def locate(original: Any) -> Any:
        if isinstance(original, etree._ElementTree):
            return copied
        indices: list[int] = []
        current = original
        while current.getparent() is not None:
            indices.append(current.getparent().index(current))
            current = current.getparent()
        found = copied.getroot()
        for index in reversed(indices):
            found = found[index]
        return found

    target, excluded = locate(node), locate(element)
    parent = excluded.getparent()
    tail = excluded.tail
    if tail:
        previous = excluded.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    excluded.tail = None
    parent.remove(excluded)
    return action(target)


# -- ids and references -----------------------------------------------------------------------

ID_ATTRIBUTES = ("Id", "ID", "id")


class _Ids(dict[str, Any]):
    """Id → element; an Id that occurs more than once is refused when it is looked up."""

    def __init__(self, ids: dict[str, Any], duplicates: set[str]) -> None:
        super().__init__(ids)
        self.duplicates = frozenset(duplicates)

    def _refuse(self, key: str) -> None:
        if key in self.duplicates:
            raise MalformedError(
                f"the Id {key!r} occurs more than once in the document "
                "(a signature wrapping attempt, or a broken document): refused"
            )

    def get(self, key: str, default: Any = None) -> Any:
        self._refuse(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self._refuse(key)
        return super().__getitem__(key)


def resolve_ids(tree: Any) -> dict[str, Any]:
    """Map each ``Id``/``ID``/``id`` value of the document to its element.

    A duplicate is how signature wrapping hides a second, unsigned copy of a signed node
    (EN 319 102-1 §5.2.7): looking up an Id that occurs more than once is refused rather than
    guessing which one is meant. Ids nobody references may repeat (documents made by other
    tools do, e.g. ``id`` attributes of business data; issue #19).
    """
    ids: dict[str, Any] = {}
    duplicates: set[str] = set()
    for element in tree.getroot().xpath("//*[@Id or @ID or @id]"):
        for name in ID_ATTRIBUTES:
            value = element.get(name)
            if value is None:
                continue
            if value in ids and ids[value] is not element:
                duplicates.add(value)
            ids[value] = element
    referenced = duplicates & _referenced_ids(tree)
    if referenced:  # refused at once, before any digest is computed
        value = sorted(referenced)[0]
        raise MalformedError(
            f"the Id {value!r} occurs more than once in the document "
            "(a signature wrapping attempt, or a broken document): refused"
        )
    return _Ids(ids, duplicates)


def _referenced_ids(tree: Any) -> set[str]:
    """Every Id the document's signatures point at: ``#Id`` and ``#xpointer(id('Id'))`` URIs
    (ds:Reference, HashDataInfo), QualifyingProperties ``Target``."""
    out: set[str] = set()
    for value in tree.getroot().xpath("//@URI | //@uri | //@Target"):
        text = str(value)
        match = _XPOINTER_ID.match(text)
        if match is not None:
            out.add(match.group(1) if match.group(1) is not None else match.group(2))
        elif text.startswith("#"):
            out.add(text[1:])
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessedReference:
    """A ``ds:Reference`` processed per XMLDSIG §4.4.3.2.

    ``octets`` were digested. ``node``: the element (or document) the reference resolved to, for
    reports and for the archive time-stamp's reference input (EN 319 132-1 §5.5.2.2 step 2);
    ``node_set``: True when the transforms ended in a node-set (then ``octets`` are its default
    C14N 1.0, and an archive time-stamp re-canonicalises with its own method).
    """

    uri: str | None
    type: str | None
    id: str | None
    node: Any | None
    exclude: Any | None
    octets: bytes
    node_set: bool
    digest_algorithm: DigestAlgorithm
    digest_value: bytes


#: How a detached reference obtains its bytes: given the (unquoted) URI, return the octets.
ExternalResolver = Callable[[str], bytes]


def process_reference(
    reference: Any,
    *,
    tree: Any,
    ids: Mapping[str, Any],
    signature: Any,
    external: ExternalResolver | None,
) -> ProcessedReference:
    """Dereference, transform and digest one ``ds:Reference`` (XMLDSIG §4.4.3)."""
    from ltv.formats._xmldsig_transforms import Subtree, run_transforms

    uri = reference.get("URI")
    state: Any
    if uri is None:
        # XMLDSIG §4.4.3.1: URI may be omitted when the application knows the data; here it is
        # the detached content given with the signature (DSS-1688).
        if external is None:
            raise InputError("a ds:Reference without URI signs data not in the file: give it "
                             "as detached content")
        state = external("")
    elif uri == "":
        state = Subtree(tree, None, False)  # the whole document, no comments (§4.4.3.3)
    elif uri.startswith("#xpointer("):
        state = Subtree(_xpointer(uri, tree, ids), None, True)  # comments kept (§4.4.3.3)
    elif uri.startswith("#"):
        node = ids.get(uri[1:])
        if node is None:
            raise MalformedError(f"the reference {uri!r} points to no element of this document")
        state = Subtree(node, None, False)
    else:
        if external is None:
            raise InputError(
                f"the signature references the external data {uri!r}: give it as detached content"
            )
        state = external(unquote(uri))
    transforms = reference.find(f"{{{DS}}}Transforms")
    steps = [t for t in transforms if isinstance(t.tag, str)] if transforms is not None else []
    result = run_transforms(state, steps, uri=uri, signature=signature)
    return _finish(reference, uri, result.octets, result.node_set, result.node, result.exclude)


_XPOINTER_ID = re.compile(r"""^#xpointer\(id\((?:'([^']*)'|"([^"]*)")\)\)$""")


def _xpointer(uri: str, tree: Any, ids: Mapping[str, Any]) -> Any:
    """The same-document XPointers XMLDSIG §4.4.3.3 requires: ``#xpointer(/)`` (the
    document) and ``#xpointer(id('X'))`` (the element with Id X), both with comments."""
    if uri == "#xpointer(/)":
        return tree
    match = _XPOINTER_ID.match(uri)
    if match is None:
        raise UnsupportedAlgorithmError(
            f"XPointer reference {uri!r} is not supported (only #xpointer(/) and "
            "#xpointer(id('...')))")
    target = match.group(1) if match.group(1) is not None else match.group(2)
    node = ids.get(target)
    if node is None:
        raise MalformedError(f"the reference {uri!r} points to no element of this document")
    return node


def without_comments(method: C14nMethod) -> C14nMethod:
    """The same method without comments (same-document references carry none, §4.4.3.3)."""
    return {
        C14nMethod.C14N_10_COMMENTS: C14nMethod.C14N_10,
        C14nMethod.C14N_11_COMMENTS: C14nMethod.C14N_11,
        C14nMethod.EXC_C14N_COMMENTS: C14nMethod.EXC_C14N,
    }.get(method, method)


def _finish(reference: Any, uri: str | None, data: bytes, node_set: bool, node: Any | None,
            exclude: Any | None) -> ProcessedReference:
    dm = reference.find(f"{{{DS}}}DigestMethod")
    dv = reference.findtext(f"{{{DS}}}DigestValue")
    if dm is None or dv is None:
        raise MalformedError(f"reference {uri!r} lacks DigestMethod or DigestValue")
    algorithm = digest_from_uri(dm.get("Algorithm"))
    try:
        value = base64.b64decode("".join(dv.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedError(f"reference {uri!r}: DigestValue is not base64") from exc
    return ProcessedReference(
        uri=uri, type=reference.get("Type"), id=reference.get("Id"), node=node, exclude=exclude,
        octets=data, node_set=node_set, digest_algorithm=algorithm, digest_value=value,
    )
