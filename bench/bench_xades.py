"""XAdES B-LTA signing of distinct 100 KB XML documents, ours vs signxml's B-B, and where the
time goes.

Setup: a fresh sample PKI served by an ``ltv pki serve`` subprocess on loopback (our TSA, the
sample OCSP responders, CRLs), an in-process RSA-2048 key (``ltv pki issue``), distinct ~100 KB
Japanese XML contracts, the services a program builds once (``build_services``: pooled
keep-alive connections, revocation caches; warmed by one signature first). Each B-LTA
signature = prepare (parse, C14N + hash of the document, SignedInfo), RSA signature, finish
(value check, assembly with a full core re-check, signature time-stamp, validation data,
archive time-stamp).

Peers in the same run, on the same documents (element names in ASCII for signxml, which cannot
handle non-ASCII names) and key: signxml's own B-B (``XAdESSigner``, enveloped), and our B-B
for a like-for-like ratio. Our core verification is measured too. A few more of our B-LTA
signatures run under cProfile; the top entries go to ``bench/results/signing_profile.json``
(section ``xades``).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509

from bench.harness import LTV, rate, record, served_pki
from ltv.cli._services import build_services
from ltv.formats.xades import verify_xades_core
from ltv.keys import KeySigner, load_private_key
from ltv.signing import Packaging, SignatureFormat, SignatureLevel, SigningOptions, sign

DOCUMENT_BYTES = 100_000
DOCUMENTS = 24


def contract_xml(size: int = 1_000_000, *, serial: int = 0) -> bytes:
    """A ~``size``-byte XML contract with Japanese text in many small elements; ``serial``
    makes documents distinct."""
    row = ("  <条項 番号=\"{n}\"><見出し>第{n}条（業務内容）</見出し>"
           "<本文>甲は乙に対し、別紙記載の業務を委託し、乙はこれを受託する。"
           "報酬は金{fee}円（税込）とする。</本文></条項>\n")
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<契約書 xmlns="urn:example:contract">\n']
    total = len(parts[0].encode())
    n = 0
    while total < size:
        n += 1
        text = row.format(n=n, fee=f"{123_456 + serial:,}")
        parts.append(text)
        total += len(text.encode())
    parts.append("</契約書>\n")
    return "".join(parts).encode()


def _ascii(document: bytes) -> bytes:
    return document.replace("契約書".encode(), b"contract").replace(
        "条項".encode(), b"clause").replace("見出し".encode(), b"title").replace(
        "本文".encode(), b"body").replace("番号".encode(), b"n")


def _cycling(fn: Callable[[bytes], object], documents: list[bytes]) -> Callable[[], object]:
    pool = itertools.cycle(documents)
    return lambda: fn(next(pool))


def main() -> None:
    from bench.profiling import profile, record_profile

    load_before = os.getloadavg()
    documents = [contract_xml(DOCUMENT_BYTES, serial=i) for i in range(DOCUMENTS)]
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

            def lta(document: bytes) -> bytes:
                return sign(document, signer, chain, SignatureFormat.XADES, SignatureLevel.B_LTA,
                            options, services=services)

            def bb(document: bytes) -> bytes:
                return sign(document, signer, chain, SignatureFormat.XADES, SignatureLevel.B_B,
                            options, services=services)

            signed = lta(documents[0])  # warm the caches (OCSP, CRL, chain building)
            from lxml import etree  # type: ignore[import-untyped]
            from signxml import SignatureMethod  # type: ignore[attr-defined]
            from signxml.xades import XAdESSigner  # type: ignore[attr-defined]

            ascii_documents = [_ascii(d) for d in documents]

            def signxml_bb(document: bytes) -> object:
                return XAdESSigner(signature_algorithm=SignatureMethod.RSA_SHA256).sign(
                    etree.fromstring(document), key=key, cert=chain)

            t0 = time.perf_counter()
            lta_rate = signxml_rate = bb_rate = 0.0
            for _ in range(2):  # alternating rounds against the machine's noise
                lta_rate += rate(_cycling(lta, documents), seconds=4) / 2
                signxml_rate += rate(_cycling(signxml_bb, ascii_documents), seconds=3) / 2
                bb_rate += rate(_cycling(bb, documents), seconds=2) / 2
            verify_rate = rate(lambda: verify_xades_core(signed), seconds=3)
            elapsed = time.perf_counter() - t0
            profiled = profile(_cycling(lta, documents), runs=10)
    record_profile("xades", {"ours_b_lta_mean_ms_unprofiled": 1000 / lta_rate, **profiled})
    record("xades", {
        "document_bytes": len(documents[0]),
        "signature_bytes_b_lta": len(signed) - len(documents[0]),
        "ltv_b_lta_enveloped_per_s": lta_rate,
        "ltv_b_lta_ms_each": 1000 / lta_rate,
        "ltv_b_b_enveloped_per_s": bb_rate,
        "signxml_b_b_enveloped_per_s": signxml_rate,
        "ratio_ltv_b_lta_over_signxml_b_b": lta_rate / signxml_rate,
        "ratio_ltv_b_b_over_signxml_b_b": bb_rate / signxml_rate,
        "ltv_verify_core_b_lta_per_s": verify_rate,
        "measure_seconds": elapsed,
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
    }, notes="Distinct ~100 KB XML (Japanese text; ASCII element names for signxml, which "
             "cannot handle non-ASCII names), RSA-2048 in-process key, loopback TSA/OCSP from "
             "`ltv pki serve`, revocation caches warm. B-LTA = 2 TSA round trips. Alternating "
             "rounds; shared 2-core machine, see load_average. Profile: "
             "bench/results/signing_profile.json.")


if __name__ == "__main__":
    main()
