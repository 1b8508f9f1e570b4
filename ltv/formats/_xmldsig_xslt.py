"""The XSLT transform (XMLDSIG §6.6.5), confined (issue #19, item 5).

A signed stylesheet is code chosen by whoever made the signature, so it runs with no reach:

* checked before it runs: no ``xsl:import``/``xsl:include``, no ``xsl:document`` (libxslt's
  XSLT 1.1 file output), no extension elements
  (``extension-element-prefixes``), no ``document()`` and no function outside XPath/XSLT 1.0
  (any ``prefix:name(`` call, e.g. EXSLT or ``php:function``): refused as
  :class:`~ltv.errors.UnsupportedAlgorithmError` naming what was found;
* run by libxslt (lxml) in a separate Python process with ``XSLTAccessControl.DENY_ALL`` (no
  file or network reading or writing), the input parsed by the hardened parser, CPU time and
  address space limited (``setrlimit``), a wall-clock timeout and a bound on the output size.
  Whatever goes wrong there (a loop, a memory bomb, an error) is the same refusal naming it.
"""

from __future__ import annotations

import re
import struct
import subprocess
import sys
from typing import Any

from lxml import etree

from ltv.errors import MalformedError, UnsupportedAlgorithmError

__all__ = ["MAX_OUTPUT", "TIMEOUT_SECONDS", "apply_xslt", "check_stylesheet"]

XSL = "http://www.w3.org/1999/XSL/Transform"
#: Bounds for one XSLT transform run.
TIMEOUT_SECONDS = 10.0
CPU_SECONDS = 5
MEMORY_BYTES = 768 * 1024 * 1024
MAX_OUTPUT = 32 * 1024 * 1024
_PREFIXED_CALL = re.compile(r"(?<![\w.\-:])([A-Za-z_][\w.\-]*):([A-Za-z_][\w.\-]*)\s*\(")
_DOCUMENT_CALL = re.compile(r"(?<![\w.\-:])document\s*\(")
_XPATH_ATTRIBUTES = ("select", "test", "match", "use", "value", "count", "from")


def check_stylesheet(stylesheet: Any, what: str) -> None:
    """Refuse what could reach outside the transform (see the module docstring)."""
    for element in stylesheet.iter():
        if not isinstance(element.tag, str):
            continue
        qname = etree.QName(element)
        if qname.namespace == XSL and qname.localname in ("import", "include", "document"):
            raise UnsupportedAlgorithmError(
                f"{what}: the XSLT stylesheet uses xsl:{qname.localname} (no external "
                "stylesheets are read, no files written)")
        for name, value in element.attrib.items():
            local = etree.QName(name).localname
            if local == "extension-element-prefixes":
                raise UnsupportedAlgorithmError(
                    f"{what}: the XSLT stylesheet declares extension elements ({value!r})")
            expression = value if (qname.namespace == XSL and local in _XPATH_ATTRIBUTES) \
                else " ".join(re.findall(r"\{([^{}]*)\}", value))
            _check_expression(expression, what)


def _check_expression(expression: str, what: str) -> None:
    if _DOCUMENT_CALL.search(expression):
        raise UnsupportedAlgorithmError(
            f"{what}: the XSLT stylesheet calls document() (no external documents are read)")
    match = _PREFIXED_CALL.search(expression)
    if match is not None:
        raise UnsupportedAlgorithmError(
            f"{what}: the XSLT stylesheet calls the extension function "
            f"{match.group(1)}:{match.group(2)}()")


def apply_xslt(transform: Any, octets: bytes, *, what: str) -> bytes:
    """The output octets of the stylesheet in ``transform`` applied to ``octets``."""
    children = [c for c in transform if isinstance(c.tag, str)]
    if len(children) != 1 or etree.QName(children[0]).namespace != XSL:
        raise MalformedError(f"{what}: the XSLT transform must hold one xsl:stylesheet")
    stylesheet = children[0]
    check_stylesheet(stylesheet, what)
    sheet = etree.tostring(stylesheet)
    payload = struct.pack(">II", len(sheet), len(octets)) + sheet + octets
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-m", "ltv.formats._xmldsig_xslt"], input=payload,
            capture_output=True, timeout=TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise UnsupportedAlgorithmError(
            f"{what}: the XSLT transform ran longer than {TIMEOUT_SECONDS:g} s: stopped"
        ) from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        text = reason[-1] if reason else f"exit status {done.returncode}"
        raise UnsupportedAlgorithmError(f"{what}: the XSLT transform failed: {text[:300]}")
    out: bytes = done.stdout
    return out


def _child() -> int:  # pragma: no cover - runs in the confined process
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    from ltv.xmlsafe import parse_xml

    data = sys.stdin.buffer.read()
    n_sheet, n_input = struct.unpack(">II", data[:8])
    sheet = data[8:8 + n_sheet]
    source = data[8 + n_sheet:8 + n_sheet + n_input]
    try:
        style = parse_xml(sheet, what="the XSLT stylesheet")
        document = parse_xml(source, what="the XSLT input")
        xslt = etree.XSLT(style, access_control=etree.XSLTAccessControl.DENY_ALL)
        result = xslt(document)
        out = bytes(result)
    except MemoryError:
        sys.stderr.write("the XSLT transform needs more than the memory limit\n")
        return 2
    except Exception as exc:
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n".replace("\n", " ") + "\n")
        return 2
    if len(out) > MAX_OUTPUT:
        sys.stderr.write(f"the XSLT output exceeds {MAX_OUTPUT:,} bytes\n")
        return 2
    sys.stdout.buffer.write(out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_child())
