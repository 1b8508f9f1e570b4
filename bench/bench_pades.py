"""PAdES B-LTA signatures per second, ours vs pyHanko used directly, and a 200 MB B-LTA.

Setup: a fresh sample PKI served by an ``ltv pki serve`` subprocess on loopback (TSA, OCSP,
CRLs, CA certificates), a software signer from the card CA (RSA-2048), a small contract PDF.

* ours: ``ltv.signing.sign`` (prepare, in-process key, finish) at B-LTA with the key loaded once,
  one TSA client and revocation caches (``ltv.cli._services.build_services``), per signature:
  signature time-stamp, DSS with every chain's revocation data, document time-stamp.
* pyHanko: ``signers.sign_pdf`` with its ``SimpleSigner`` (loaded once), ``HTTPTimeStamper``
  (reused), ``PdfSignatureMetadata(subfilter=PADES, embed_validation_info=True,
  use_pades_lta=True)`` and a ``ValidationContext`` that fetches OCSP/CRLs over HTTP (a new
  one per document, as pyHanko's docs use it).
* 200 MB: a child process signs a 200 MB PDF at B-LTA from a file to a file (prepare, sign,
  ``finish_to_file``); wall time and peak RSS (``resource.getrusage``) of that child.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

from bench.harness import LTV, record, served_pki

BIG_MB = 200





def write_pdf(path: Path, *, payload_mb: int = 0, text: str = "Contract") -> None:
    """A valid PDF with one page and, optionally, a ``payload_mb`` MiB stream (written in
    chunks, incompressible)."""
    with path.open("wb") as out:
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        content = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
        bodies: list[bytes | int] = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 5 0 R >> /XObject << /Blob 6 0 R >> >> "
            b"/Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            payload_mb << 20,
        ]
        offsets = []
        for number, body in enumerate(bodies, start=1):
            offsets.append(out.tell())
            out.write(b"%d 0 obj\n" % number)
            if isinstance(body, int):
                out.write(b"<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] /Length %d >>\n"
                          b"stream\n" % body)
                left = body
                while left:
                    chunk = os.urandom(min(left, 1 << 20))
                    out.write(chunk)
                    left -= len(chunk)
                out.write(b"\nendstream")
            else:
                out.write(body)
            out.write(b"\nendobj\n")
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1))
        for off in offsets:
            out.write(b"%010d 00000 n \n" % off)
        out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                  % (len(bodies) + 1, xref))


def _rate(fn: object, *, runs: int) -> tuple[float, float]:
    """(signatures/s, mean seconds) over ``runs`` calls after one warm-up."""
    fn()  # type: ignore[operator]
    start = time.perf_counter()
    for _ in range(runs):
        fn()  # type: ignore[operator]
    elapsed = time.perf_counter() - start
    return runs / elapsed, elapsed / runs


def _ours(pki_dir: Path, signer_dir: Path, pdf: bytes) -> object:
    from cryptography import x509

    from ltv.cli._services import build_services
    from ltv.keys import KeySigner, load_private_key
    from ltv.signing import SignatureFormat, SignatureLevel, sign

    services = build_services(pki=pki_dir)
    key = KeySigner(load_private_key(signer_dir / "key.pem"))
    chain = [x509.load_pem_x509_certificate((signer_dir / "cert.pem").read_bytes()),
             *x509.load_pem_x509_certificates((signer_dir / "chain.pem").read_bytes())]

    def one() -> bytes:
        return sign(pdf, key, chain, SignatureFormat.PADES, SignatureLevel.B_LTA,
                    services=services)

    return one


def _pyhanko(pki_dir: Path, signer_dir: Path, tsa_url: str, pdf: bytes) -> object:
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers, timestamps
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko_certvalidator import ValidationContext

    def load(path: Path) -> list[asn1_x509.Certificate]:
        return [asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(path.read_bytes(),
                                                                             multiple=True)]

    root = load(pki_dir / "root.pem")[0]
    extra = [*load(pki_dir / "tsa.pem"), *load(signer_dir / "chain.pem")]
    simple: Any = signers.SimpleSigner  # reloads the key per signature (its own way)
    signer = simple.load(
        str(signer_dir / "key.pem"), str(signer_dir / "cert.pem"),
        ca_chain_files=(str(signer_dir / "chain.pem"),),
    )
    tsa = timestamps.HTTPTimeStamper(tsa_url)

    def one() -> bytes:
        vc = ValidationContext(trust_roots=[root], other_certs=extra, allow_fetching=True)
        meta = signers.PdfSignatureMetadata(
            field_name="Signature1", subfilter=SigSeedSubFilter.PADES,
            embed_validation_info=True, use_pades_lta=True, validation_context=vc,
        )
        out = signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), meta, signer=signer,
                               timestamper=tsa)
        return bytes(out.getvalue())

    return one


_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from cryptography import x509
from ltv.cli._services import build_services
from ltv.formats import pades
from ltv.keys import KeySigner, load_private_key
from ltv.signing import SignatureFormat, SignatureLevel, prepare
pki_dir, signer_dir, doc, out = map(Path, sys.argv[1:5])
services = build_services(pki=pki_dir)
key = KeySigner(load_private_key(signer_dir / "key.pem"))
chain = [x509.load_pem_x509_certificate((signer_dir / "cert.pem").read_bytes()),
         *x509.load_pem_x509_certificates((signer_dir / "chain.pem").read_bytes())]
start = time.perf_counter()
pending = prepare(doc, chain, SignatureFormat.PADES, SignatureLevel.B_LTA, clock=services.clock)
prepared = time.perf_counter()
value = key.sign(pending.data_to_be_signed)
pades.finish_to_file(pending, value, document=doc, output=out, services=services)
done = time.perf_counter()
print(json.dumps({"prepare_s": prepared - start, "total_s": done - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "state_bytes": len(pending.to_bytes())}))
"""


def _big(pki_dir: Path, signer_dir: Path, work: Path) -> dict[str, float]:
    doc = work / "big.pdf"
    write_pdf(doc, payload_mb=BIG_MB)
    out = work / "big-signed.pdf"
    done = subprocess.run([sys.executable, "-c", _CHILD, str(pki_dir), str(signer_dir),
                           str(doc), str(out)], capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["input_mb"] = doc.stat().st_size / (1 << 20)
    figures["output_growth_kb"] = (out.stat().st_size - doc.stat().st_size) / 1024
    check = subprocess.run(["qpdf", "--check", str(out)], capture_output=True, text=True,
                           check=False)
    figures["qpdf_ok"] = float(check.returncode == 0)
    doc.unlink()
    out.unlink()
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pades-") as tmp:
        work = Path(tmp)
        pki_dir = work / "pki"
        with served_pki(pki_dir) as base:
            signer_dir = work / "signer"
            subprocess.run([str(LTV), "pki", "issue", str(pki_dir), "Bench Signer", "--out",
                            str(signer_dir)], check=True, capture_output=True)
            small = work / "contract.pdf"
            write_pdf(small)
            pdf = small.read_bytes()
            ours_rate, ours_mean = _rate(_ours(pki_dir, signer_dir, pdf), runs=20)
            theirs_rate, theirs_mean = _rate(_pyhanko(pki_dir, signer_dir, f"{base}/tsa", pdf),
                                             runs=10)
            big = _big(pki_dir, signer_dir, work)
    figures: dict[str, object] = {
        "ours_b_lta_per_s": ours_rate,
        "ours_b_lta_mean_ms": ours_mean * 1000,
        "pyhanko_b_lta_per_s": theirs_rate,
        "pyhanko_b_lta_mean_ms": theirs_mean * 1000,
        "ratio_ours_over_pyhanko": ours_rate / theirs_rate,
        "goal_ratio": 2.0,
        f"big_{BIG_MB}mb_b_lta_total_s": big["total_s"],
        f"big_{BIG_MB}mb_prepare_s": big["prepare_s"],
        f"big_{BIG_MB}mb_peak_rss_mb": big["peak_rss_mb"],
        "big_goal_peak_rss_mb": 300,
        f"big_{BIG_MB}mb_pending_json_bytes": big["state_bytes"],
        f"big_{BIG_MB}mb_output_growth_kb": big["output_growth_kb"],
        f"big_{BIG_MB}mb_qpdf_ok": bool(big["qpdf_ok"]),
    }
    record("pades", figures, notes=(
        "RSA-2048 software key, loopback ltv pki serve (TSA, OCSP, CRL). ours: prepare+sign+"
        "finish at B-LTA with held key, TSA client and revocation caches; pyHanko: sign_pdf "
        "with SimpleSigner + HTTPTimeStamper + fetching ValidationContext (new per document), "
        "PAdES LTA. Big file: child process, file to file."
    ))


if __name__ == "__main__":
    main()
