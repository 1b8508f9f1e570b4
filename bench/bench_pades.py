"""PAdES B-LTA signing of distinct 1 MB PDFs, ours vs pyHanko's PdfSigner, and a 500 MB B-LTA.

Measured as a user would, one process, servers on loopback: a fresh sample PKI served by an
``ltv pki serve`` subprocess (our TSA, the sample OCSP responders, CRLs, CA certificates), a
phone enrolled with it (``samples.phone.Phone``, RSA-2048, key held by the phone object), and
distinct 1 MiB contracts (incompressible random payload), each read from its file, signed and
written to a file.

* ours: the public library, ``ltv.signing.prepare`` → ``Phone.sign`` → ``ltv.signing.finish``
  at B-LTA with the services a program builds once (``ltv.cli._services.build_services``: one
  TSA client and HTTP fetchers on one pooled egress, revocation caches); per signature: the
  signature with its signature time-stamp, a DSS with every chain's validation data, a
  document time-stamp.
* pyHanko: ``PdfSigner`` with its ``SimpleSigner`` (the same key and chain, loaded once), one
  ``HTTPTimeStamper`` on our TSA, ``PdfSignatureMetadata(subfilter=PADES,
  embed_validation_info=True, use_pades_lta=True)`` and a ``ValidationContext`` that fetches
  OCSP/CRLs over HTTP from the same servers (a new one per document, as pyHanko's docs use it).
* The two are timed in alternating rounds (noise on the shared machine hits both alike); the
  load average is recorded with the figures.
* 500 MB: a child process signs a 500 MB PDF at B-LTA from a file to a file (prepare, phone,
  ``finish_to_file``); wall time and peak RSS (``resource.getrusage``) of that child.
* Then a few more of our signatures run under cProfile; the top entries go to
  ``bench/results/signing_profile.json`` (section ``pades``).
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

from bench.harness import record, served_pki

BIG_MB = 500
OURS_PER_ROUND = 5
PYHANKO_PER_ROUND = 2
ROUNDS = 6
GOAL_RATIO = 8.0


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


class _Ours:
    """prepare → phone → finish through the public library, services built once."""

    def __init__(self, pki_dir: Path, phone_dir: Path) -> None:
        from ltv.cli._services import build_services
        from samples.phone import Phone

        self.services = build_services(pki=pki_dir)
        self.phone = Phone(phone_dir)
        self.chain = [self.phone.certificate, *self.phone.chain]
        self.seconds = {"prepare": 0.0, "phone": 0.0, "finish": 0.0}

    def sign(self, source: Path, target: Path) -> None:
        from ltv.signing import SignatureFormat, SignatureLevel, finish, prepare

        t0 = time.perf_counter()
        pdf = source.read_bytes()
        pending = prepare(pdf, self.chain, SignatureFormat.PADES, SignatureLevel.B_LTA,
                          clock=self.services.clock)
        t1 = time.perf_counter()
        value = self.phone.sign(pending.data_to_be_signed)
        t2 = time.perf_counter()
        target.write_bytes(finish(pending, value, document=pdf, services=self.services))
        t3 = time.perf_counter()
        self.seconds["prepare"] += t1 - t0
        self.seconds["phone"] += t2 - t1
        self.seconds["finish"] += t3 - t2


class _PyHanko:
    """pyHanko's PdfSigner at PAdES B-LTA on the same key, chain, TSA and responders."""

    def __init__(self, pki_dir: Path, phone_dir: Path, tsa_url: str) -> None:
        from asn1crypto import pem
        from asn1crypto import x509 as asn1_x509
        from pyhanko.sign import signers, timestamps

        def load(path: Path) -> list[asn1_x509.Certificate]:
            return [asn1_x509.Certificate.load(der)
                    for _, _, der in pem.unarmor(path.read_bytes(), multiple=True)]

        self.root = load(pki_dir / "root.pem")[0]
        self.extra = [*load(pki_dir / "tsa.pem"), *load(phone_dir / "chain.pem")]
        simple: Any = signers.SimpleSigner
        self.signer = simple.load(
            str(phone_dir / "secure-element" / "key.pem"), str(phone_dir / "cert.pem"),
            ca_chain_files=(str(phone_dir / "chain.pem"),),
        )
        self.tsa = timestamps.HTTPTimeStamper(tsa_url)

    def sign(self, source: Path, target: Path) -> None:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import signers
        from pyhanko.sign.fields import SigSeedSubFilter
        from pyhanko_certvalidator import ValidationContext

        vc = ValidationContext(trust_roots=[self.root], other_certs=self.extra,
                               allow_fetching=True)
        meta = signers.PdfSignatureMetadata(
            field_name="Signature1", subfilter=SigSeedSubFilter.PADES,
            embed_validation_info=True, use_pades_lta=True, validation_context=vc,
        )
        pdf_signer = signers.PdfSigner(meta, signer=self.signer, timestamper=self.tsa)
        writer = IncrementalPdfFileWriter(BytesIO(source.read_bytes()))
        out = pdf_signer.sign_pdf(writer)
        target.write_bytes(out.getvalue())


_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from ltv.cli._services import build_services
from ltv.formats import pades
from ltv.signing import SignatureFormat, SignatureLevel, prepare
from samples.phone import Phone
pki_dir, phone_dir, doc, out = map(Path, sys.argv[1:5])
services = build_services(pki=pki_dir)
phone = Phone(phone_dir)
chain = [phone.certificate, *phone.chain]
start = time.perf_counter()
pending = prepare(doc, chain, SignatureFormat.PADES, SignatureLevel.B_LTA, clock=services.clock)
prepared = time.perf_counter()
value = phone.sign(pending.data_to_be_signed)
pades.finish_to_file(pending, value, document=doc, output=out, services=services)
done = time.perf_counter()
print(json.dumps({"prepare_s": prepared - start, "total_s": done - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "state_bytes": len(pending.to_bytes())}))
"""


def _big(pki_dir: Path, phone_dir: Path, work: Path) -> dict[str, float]:
    doc = work / "big.pdf"
    write_pdf(doc, payload_mb=BIG_MB)
    out = work / "big-signed.pdf"
    done = subprocess.run([sys.executable, "-c", _CHILD, str(pki_dir), str(phone_dir),
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


def _documents(work: Path, prefix: str, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = work / f"{prefix}-{i}.pdf"
        write_pdf(path, payload_mb=1, text=f"Contract {prefix} {i}")
        paths.append(path)
    return paths


def main() -> None:
    from bench.profiling import profile, record_profile
    from samples.phone import Phone
    from samples.pki import SamplePki

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-pades-") as tmp:
        work = Path(tmp)
        pki_dir = work / "pki"
        with served_pki(pki_dir) as base:
            phone_dir = work / "phone"
            Phone.enroll(phone_dir, SamplePki.load(pki_dir), key="rsa2048")
            ours_docs = _documents(work, "ours", ROUNDS * OURS_PER_ROUND + 1)
            theirs_docs = _documents(work, "pyhanko", ROUNDS * PYHANKO_PER_ROUND + 1)
            out = work / "signed.pdf"
            ours = _Ours(pki_dir, phone_dir)
            theirs = _PyHanko(pki_dir, phone_dir, f"{base}/tsa")
            ours.sign(ours_docs.pop(), out)  # warm: imports, connections, revocation caches
            theirs.sign(theirs_docs.pop(), out)
            ours.seconds = dict.fromkeys(ours.seconds, 0.0)
            ours_s = theirs_s = 0.0
            for round_ in range(ROUNDS):
                start = time.perf_counter()
                for doc in ours_docs[round_ * OURS_PER_ROUND:(round_ + 1) * OURS_PER_ROUND]:
                    ours.sign(doc, out)
                ours_s += time.perf_counter() - start
                start = time.perf_counter()
                for doc in theirs_docs[round_ * PYHANKO_PER_ROUND:
                                       (round_ + 1) * PYHANKO_PER_ROUND]:
                    theirs.sign(doc, out)
                theirs_s += time.perf_counter() - start
            n_ours = ROUNDS * OURS_PER_ROUND
            n_theirs = ROUNDS * PYHANKO_PER_ROUND
            phases = dict(ours.seconds)
            docs = iter(ours_docs * 2)
            profiled = profile(lambda: ours.sign(next(docs), out), runs=10)
            big = _big(pki_dir, phone_dir, work)
    ours_rate = n_ours / ours_s
    theirs_rate = n_theirs / theirs_s
    figures: dict[str, object] = {
        "ours_b_lta_per_s": ours_rate,
        "ours_b_lta_mean_ms": ours_s / n_ours * 1000,
        "ours_prepare_ms": phases["prepare"] / n_ours * 1000,
        "ours_phone_ms": phases["phone"] / n_ours * 1000,
        "ours_finish_ms": phases["finish"] / n_ours * 1000,
        "pyhanko_b_lta_per_s": theirs_rate,
        "pyhanko_b_lta_mean_ms": theirs_s / n_theirs * 1000,
        "ratio_ours_over_pyhanko": ours_rate / theirs_rate,
        "goal_ratio": GOAL_RATIO,
        "document_mb": 1.0,
        "signatures_ours": n_ours,
        "signatures_pyhanko": n_theirs,
        f"big_{BIG_MB}mb_b_lta_total_s": big["total_s"],
        f"big_{BIG_MB}mb_prepare_s": big["prepare_s"],
        f"big_{BIG_MB}mb_peak_rss_mb": big["peak_rss_mb"],
        "big_goal_peak_rss_mb": 300,
        f"big_{BIG_MB}mb_pending_json_bytes": big["state_bytes"],
        f"big_{BIG_MB}mb_output_growth_kb": big["output_growth_kb"],
        f"big_{BIG_MB}mb_qpdf_ok": bool(big["qpdf_ok"]),
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
    }
    record_profile("pades", {"ours_b_lta_mean_ms_unprofiled": ours_s / n_ours * 1000,
                             **profiled})
    record("pades", figures, notes=(
        "Distinct 1 MiB PDFs, each read from its file and written to a file; RSA-2048 phone "
        "key (samples.phone); loopback ltv pki serve (our TSA, sample OCSP responders, CRLs). "
        "ours: prepare -> Phone.sign -> finish at B-LTA with services built once; pyHanko: "
        "PdfSigner with SimpleSigner + HTTPTimeStamper + fetching ValidationContext (new per "
        "document), PAdES LTA. Alternating rounds; shared 2-core machine, see load_average. "
        "Big file: child process, file to file. Profile: bench/results/signing_profile.json."
    ))


if __name__ == "__main__":
    main()
