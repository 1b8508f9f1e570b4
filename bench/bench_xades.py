"""XAdES B-LTA signatures per second on a 1 MB XML document, and where the time goes.

Setup: a fresh sample PKI served by an ``ltv pki serve`` subprocess on loopback (TSA, OCSP,
CRLs), an in-process RSA-2048 key (``ltv pki issue``), a ~1 MB Japanese XML contract, HTTP
fetchers behind the revocation caches (warmed by one signature first). Each B-LTA signature =
prepare (parse, C14N + hash of the document, SignedInfo), RSA signature, finish (value check,
assembly with a full core re-check, signature time-stamp, validation data, archive time-stamp).
Peers measured in the same run: our B-B, our core verification, and signxml's own B-B
(``XAdESSigner``, in-process key, inline) on the same document.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from cryptography import x509

from bench.harness import LTV, rate, record, served_pki
from ltv.cli._services import build_services
from ltv.formats.xades import verify_xades_core
from ltv.keys import KeySigner, load_private_key
from ltv.signing import Packaging, SignatureFormat, SignatureLevel, SigningOptions, sign


def contract_xml(size: int = 1_000_000) -> bytes:
    """A ~``size``-byte XML contract with Japanese text in many small elements."""
    row = ("  <条項 番号=\"{n}\"><見出し>第{n}条（業務内容）</見出し>"
           "<本文>甲は乙に対し、別紙記載の業務を委託し、乙はこれを受託する。"
           "報酬は金１２３，４５６円（税込）とする。</本文></条項>\n")
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<契約書 xmlns="urn:example:contract">\n']
    total = len(parts[0].encode())
    n = 0
    while total < size:
        n += 1
        text = row.format(n=n)
        parts.append(text)
        total += len(text.encode())
    parts.append("</契約書>\n")
    return "".join(parts).encode()


def main() -> None:
    document = contract_xml()
    with tempfile.TemporaryDirectory(prefix="bench-xades-") as tmp:
        root = Path(tmp)
        with served_pki(root / "pki"):
            subprocess.run([str(LTV), "pki", "issue", str(root / "pki"), "bench", "--out",
                            str(root / "signer")], check=True, capture_output=True)
            key = load_private_key(root / "signer" / "key.pem")
            signer = KeySigner(key)
            chain = x509.load_pem_x509_certificates(
                (root / "signer" / "cert.pem").read_bytes()
                + (root / "signer" / "chain.pem").read_bytes()
            )
            services = build_services(pki=root / "pki")
            options = SigningOptions(packaging=Packaging.ENVELOPED)

            def lta() -> bytes:
                return sign(document, signer, chain, SignatureFormat.XADES, SignatureLevel.B_LTA,
                            options, services=services)

            def bb() -> bytes:
                return sign(document, signer, chain, SignatureFormat.XADES, SignatureLevel.B_B,
                            options, services=services)

            signed = lta()  # warm the caches (OCSP, CRL, chain building)
            t0 = time.perf_counter()
            lta_rate = rate(lta, seconds=10)
            bb_rate = rate(bb, seconds=5)
            verify_rate = rate(lambda: verify_xades_core(signed), seconds=5)
            elapsed = time.perf_counter() - t0

            from lxml import etree  # type: ignore[import-untyped]
            from signxml import SignatureMethod  # type: ignore[attr-defined]
            from signxml.xades import XAdESSigner  # type: ignore[attr-defined]

            pem_key = key  # the same loaded RSA key
            sx_doc = document.replace("契約書".encode(), b"contract").replace(
                "条項".encode(), b"clause").replace("見出し".encode(), b"title").replace(
                "本文".encode(), b"body").replace("番号".encode(), b"n")

            def signxml_bb() -> object:
                return XAdESSigner(signature_algorithm=SignatureMethod.RSA_SHA256).sign(
                    etree.fromstring(sx_doc), key=pem_key, cert=chain)

            signxml_rate = rate(signxml_bb, seconds=5)
        record("xades", {
            "document_bytes": len(document),
            "signature_bytes_b_lta": len(signed) - len(document),
            "ltv_b_lta_enveloped_per_s": lta_rate,
            "ltv_b_lta_ms_each": 1000 / lta_rate,
            "ltv_b_b_enveloped_per_s": bb_rate,
            "ltv_verify_core_b_lta_per_s": verify_rate,
            "signxml_b_b_enveloped_per_s": signxml_rate,
            "measure_seconds": elapsed,
        }, notes="1 MB XML (Japanese text; ASCII element names for signxml, which cannot "
                 "handle non-ASCII names), RSA-2048 in-process key, loopback TSA/OCSP from "
                 "`ltv pki serve`, revocation caches warm. B-LTA = 2 TSA round trips.")


if __name__ == "__main__":
    main()
