"""Peak memory validating a 500 MB signed PDF (``ltv validate``, whole process).

Setup: a fresh sample PKI served on loopback, a software signer from the card CA, a PDF with a
``BIG_MB`` MiB incompressible stream (``bench.bench_pades.write_pdf``) signed at PAdES B-LTA
from a file to a file by a child process (prepare, sign, finish: the signer never holds it).

* streamed: ``ltv validate --offline --trust root.pem big.pdf``: pyHanko reads the file through
  a stream, the byte checks read an mmap (``ltv.validation.process.validate_file``);
* whole: the same validation with the file read into memory first (``validate_file`` with the
  streaming threshold out of reach, i.e. what ``ltv validate`` did before), for comparison.

Peak RSS is the child's ``ru_maxrss`` (file pages mapped and touched count too). Goal: the
streamed figure <= 300 MB.

Run: ``python -m bench.bench_bigpdf_validate [MB]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.bench_pades import write_pdf
from bench.bench_startup import run_timed
from bench.harness import LTV, record, served_pki

BIG_MB = 500

_SIGN = r"""
import sys
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
pending = prepare(doc, chain, SignatureFormat.PADES, SignatureLevel.B_LTA, clock=services.clock)
value = key.sign(pending.data_to_be_signed)
pades.finish_to_file(pending, value, document=doc, output=out, services=services)
"""

_WHOLE = r"""
import sys
from ltv.clock import SystemClock
from ltv.validation import ValidationPolicy, load_trust_anchors
from ltv.validation.process import validate_file
policy = ValidationPolicy.default(trust_anchors=load_trust_anchors([sys.argv[1]]))
report = validate_file(sys.argv[2], policy=policy, at=SystemClock().now(), offline=True,
                       stream_threshold=1 << 62)
print(report.indication.token)
"""


def main(mb: int = BIG_MB) -> None:
    figures: dict[str, Any] = {"loadavg_before": list(os.getloadavg())}
    with tempfile.TemporaryDirectory(prefix="bench-bigpdf-") as tmp:
        work = Path(tmp)
        pki_dir = work / "pki"
        with served_pki(pki_dir):
            signer = work / "signer"
            subprocess.run([str(LTV), "pki", "issue", str(pki_dir), "Bench Signer", "--out",
                            str(signer)], check=True, capture_output=True)
            doc = work / "big.pdf"
            write_pdf(doc, payload_mb=mb)
            signed = work / "big-signed.pdf"
            subprocess.run([sys.executable, "-c", _SIGN, str(pki_dir), str(signer), str(doc),
                            str(signed)], check=True, capture_output=True)
            doc.unlink()
        root = str(pki_dir / "root.pem")
        figures["file_mb"] = signed.stat().st_size / (1 << 20)
        out = work / "out.txt"
        wall, cpu, peak_kib, code = run_timed(
            [str(LTV), "validate", "--offline", "--trust", root, str(signed)], stdout=out)
        figures.update({
            "streamed_peak_rss_mb": peak_kib / 1024, "streamed_wall_s": wall,
            "streamed_cpu_s": cpu, "streamed_exit_code": code,
            "streamed_verdict": out.read_text().split(":", 1)[0],
        })
        wall, cpu, peak_kib, code = run_timed(
            [sys.executable, "-c", _WHOLE, root, str(signed)], stdout=out)
        figures.update({
            "whole_peak_rss_mb": peak_kib / 1024, "whole_wall_s": wall, "whole_cpu_s": cpu,
            "whole_verdict": out.read_text().strip(),
        })
    figures["goal_peak_rss_mb"] = 300
    figures["loadavg_after"] = list(os.getloadavg())
    record("bigpdf_validate", figures, notes=(
        f"A {mb} MiB PDF (one incompressible stream) signed at PAdES B-LTA by a child process; "
        "streamed: `ltv validate --offline` (pyHanko reads a file stream, the byte checks an "
        "mmap); whole: the same validation over the file read into memory first (the earlier "
        "behaviour). Peak RSS = the child's ru_maxrss."))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else BIG_MB)
