"""EN 319 102-1 validation throughput: ours vs pyHanko's AdES engine, on the same 1,000 files.

Setup: a fresh sample PKI served by ``ltv pki serve`` on loopback, one phone (RSA-2048,
smartphone CA). ``COUNT`` (default 1,000) distinct PAdES B-LTA contracts are signed once into a
temporary directory by two worker processes (each its own services and revocation caches; every
file is a real, separately signed document: its own content, signature, time-stamps, DSS and
document time-stamp).

* pyHanko: ``ades_lta_validation`` per file (root.pem the only trust anchor,
  ``REQUIRE_REVINFO``, LOCAL_ONLY fetching), run first, before any of our code has touched
  pyHanko (our PDF hex-string speed-up is process-wide, see ``ltv.validation._speedups``).
* ours: ``ltv.validation.validate(..., offline=True)`` per file, in the same process: the
  parse caches of ``ltv.validation.certpath`` are shared across documents (that is the point).
* latency: median wall time of one offline validation of a CAdES, PAdES and XAdES B-LTA.
* whole process, as a user runs it: ``ltv validate --offline --trust root.pem --at T f1 ...
  f100`` (one process, start-up included) against one Python process running pyHanko's
  ``ades_lta_validation`` over the same ``CLI_COUNT`` files (imports included), wall and CPU
  time; then the same ``ltv validate`` under cProfile, whose top entries go to
  ``bench/results/validation_profile.json``.

Run: ``python -m bench.bench_validation [COUNT]``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

from bench.harness import record, served_pki

COUNT = 1000
WORKERS = 2
CLI_COUNT = 100
PROFILE_TOP = 30

#: pyHanko's side of the whole-process figure: argv = root.pem, ISO time, files.
_PYHANKO_LOOP = r"""
import asyncio, logging, sys
from datetime import datetime
from io import BytesIO
logging.disable(logging.WARNING)
from asn1crypto import x509
from asn1crypto import pem
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec, RevinfoOnlineFetchingRule, RevocationInfoGatheringSpec,
    SignatureValidationSpec)
from pyhanko_certvalidator.authority import CertTrustAnchor
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager
raw = open(sys.argv[1], "rb").read()
root = x509.Certificate.load(pem.unarmor(raw)[2] if pem.detect(raw) else raw)
at = datetime.fromisoformat(sys.argv[2])
spec = PdfSignatureValidationSpec(SignatureValidationSpec(
    cert_validation_policy=CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=[CertTrustAnchor(root)]),
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO)),
    revinfo_gathering_policy=RevocationInfoGatheringSpec(
        online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY)))
timing = ValidationTimingInfo(validation_time=at, best_signature_time=at,
                              point_in_time_validation=True)
for name in sys.argv[3:]:
    with open(name, "rb") as f:
        sig = PdfFileReader(BytesIO(f.read())).embedded_regular_signatures[0]
    result = asyncio.run(ades_lta_validation(sig, spec, timing_info=timing))
    print(result.ades_subindic.status.name, result.ades_subindic.name, name)
"""


def _pdf(text: str) -> bytes:
    content = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def _sign_range(args: tuple[str, str, str, int, int]) -> int:
    """Worker: sign documents ``start..stop`` into ``out`` (one services object per worker)."""
    pki_dir, phone_dir, out, start, stop = args
    from ltv.cli._services import build_services
    from ltv.signing import SignatureFormat, SignatureLevel, sign
    from samples.phone import Phone

    phone = Phone(Path(phone_dir))
    services = build_services(pki=Path(pki_dir))
    chain = [phone.certificate, *phone.chain]
    for i in range(start, stop):
        signed = sign(_pdf(f"Lease contract no. {i}"), phone, chain, SignatureFormat.PADES,
                      SignatureLevel.B_LTA, services=services)
        (Path(out) / f"contract-{i:05d}.pdf").write_bytes(signed)
    return stop - start


def _pyhanko_validate(data: bytes, spec: Any, timing: Any) -> str:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.ades import ades_lta_validation

    sig = PdfFileReader(BytesIO(data)).embedded_regular_signatures[0]
    result = asyncio.run(ades_lta_validation(sig, spec, timing_info=timing))
    return f"{result.ades_subindic.status.name}:{result.ades_subindic.name}"


def _pyhanko_spec(root_der: bytes) -> Any:
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.validation.policy_decl import (
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.authority import CertTrustAnchor
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
    from pyhanko_certvalidator.registry import SimpleTrustManager

    root = asn1_x509.Certificate.load(root_der)
    return PdfSignatureValidationSpec(SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=[CertTrustAnchor(root)]),
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
        ),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY),
    ))


def main(count: int = COUNT) -> None:
    import logging

    logging.disable(logging.WARNING)  # pyHanko logs every revocation lookup it rejects
    from cryptography.hazmat.primitives.serialization import Encoding

    from ltv.clock import SystemClock
    from samples.phone import Phone
    from samples.pki import SamplePki

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        docs_dir = base / "docs"
        docs_dir.mkdir()
        with served_pki(base / "pki"):
            pki = SamplePki.load(base / "pki")
            phone = Phone.enroll(base / "phone", pki, key="rsa2048")
            started = time.perf_counter()
            step = -(-count // WORKERS)
            jobs = [(str(base / "pki"), str(base / "phone"), str(docs_dir), s,
                     min(s + step, count)) for s in range(0, count, step)]
            with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
                made = sum(pool.map(_sign_range, jobs))
            figures["setup_signed_documents"] = made
            figures["setup_signing_seconds"] = time.perf_counter() - started
            others = _sign_other_formats(base, pki, phone)
        files = sorted(docs_dir.iterdir())
        datas = [f.read_bytes() for f in files]
        at = SystemClock().now()

        # -- pyHanko first, untouched by our process-wide speed-up -----------------------
        import pyhanko.pdf_utils.generic as generic
        from pyhanko_certvalidator.ltv.types import ValidationTimingInfo

        assert generic.read_hex_string_from_stream.__module__ == "pyhanko.pdf_utils.generic"
        spec = _pyhanko_spec(pki.root.public_bytes(Encoding.DER))
        timing = ValidationTimingInfo(validation_time=at, best_signature_time=at,
                                      point_in_time_validation=True)
        started = time.perf_counter()
        theirs = [_pyhanko_validate(d, spec, timing) for d in datas]
        pyhanko_seconds = time.perf_counter() - started

        # -- ours ------------------------------------------------------------------------
        from ltv.validation import ValidationPolicy, validate

        policy = ValidationPolicy.default(trust_anchors=[pki.root])
        started = time.perf_counter()
        ours = [validate(d, policy=policy, at=at, offline=True).indication.token for d in datas]
        ours_seconds = time.perf_counter() - started

        figures["pades_lta_documents"] = len(datas)
        figures["ours_validations_per_s"] = len(datas) / ours_seconds
        figures["pyhanko_ades_lta_validations_per_s"] = len(datas) / pyhanko_seconds
        figures["ours_vs_pyhanko_ratio"] = pyhanko_seconds / ours_seconds
        figures["ours_total_passed"] = sum(v == "TOTAL-PASSED" for v in ours)
        figures["pyhanko_passed_ok"] = sum(v == "PASSED:OK" for v in theirs)

        # -- per-format latency -------------------------------------------------------------
        for name, data in others.items():
            samples = []
            for _ in range(15):
                started = time.perf_counter()
                verdict = validate(data, policy=policy, at=at, offline=True).indication.token
                samples.append(time.perf_counter() - started)
            assert verdict == "TOTAL-PASSED", (name, verdict)
            figures[f"latency_ms_{name}_b_lta_median"] = statistics.median(samples) * 1000
        figures.update(_whole_process(base, files[:CLI_COUNT], at))
    record("validation", figures, notes=(
        f"{len(datas)} distinct PAdES B-LTA files (each signed separately by {WORKERS} worker "
        "processes, not copies) from one smartphone CA; offline validation at the time of the "
        "run. pyHanko ades_lta_validation runs first, without our PDF hex-string speed-up; ours "
        "shares parsed certificates/CRLs/OCSP responses across documents "
        "(ltv.validation.certpath.PARSED) and reads /Contents hex strings in one call "
        "(ltv.validation._speedups). Latency: median of 15 offline validations. Whole process: "
        f"one `ltv validate --offline` of {CLI_COUNT} of these files (its default: a worker "
        "per CPU; and again with --jobs 1, the *_jobs1 figures) against one Python "
        "process running pyHanko's ades_lta_validation over them (imports included), each "
        "run twice alternately, best of two (ltv's modules byte-compiled first, as an installed "
        "package's are); CPU = user + system time of the process and its workers. The "
        "machine is shared with other work: see loadavg."))


def _sign_other_formats(base: Path, pki: Any, phone: Any) -> dict[str, bytes]:
    from ltv.cli._services import build_services
    from ltv.signing import SignatureFormat, SignatureLevel, sign

    services = build_services(pki=base / "pki")
    chain = [phone.certificate, *phone.chain]
    xml = (b'<?xml version="1.0" encoding="UTF-8"?>\n<contract><amount currency="JPY">100'
           b"</amount></contract>\n")
    return {
        "cades": sign(b"Contract text\n" * 100, phone, chain, SignatureFormat.CADES,
                      SignatureLevel.B_LTA, services=services),
        "pades": sign(_pdf("Latency contract"), phone, chain, SignatureFormat.PADES,
                      SignatureLevel.B_LTA, services=services),
        "xades": sign(xml, phone, chain, SignatureFormat.XADES, SignatureLevel.B_LTA,
                      services=services),
    }



def _whole_process(base: Path, files: list[Path], at: Any) -> dict[str, Any]:
    """``ltv validate f1 ... fN`` against pyHanko's loop, whole processes; then a profile."""
    import os

    from bench.bench_startup import compile_sources, run_timed
    from bench.harness import LTV

    compile_sources()  # as installed: no compiling ltv from source in each process

    root = str(base / "pki" / "root.pem")
    names = [str(f) for f in files]
    ours_argv = [str(LTV), "validate", "--offline", "--trust", root, "--at", at.isoformat(),
                 *names]
    # the same run on one core: what the validation itself costs, without ltv's worker pool
    serial_argv = [*ours_argv[:2], "--jobs", "1", *ours_argv[2:]]
    theirs_argv = [sys.executable, "-c", _PYHANKO_LOOP, root, at.isoformat(), *names]
    figures: dict[str, Any] = {"cli_files": len(files), "loadavg_before": list(os.getloadavg())}
    best: dict[str, tuple[float, float, int]] = {}
    out = base / "out.txt"
    for _ in range(2):
        for name, argv in (("pyhanko", theirs_argv), ("ltv", ours_argv),
                           ("ltv_jobs1", serial_argv)):
            wall, cpu, _, _code = run_timed(argv, stdout=out)
            lines = out.read_text().splitlines()
            passed = sum(ln.startswith("PASSED OK" if name == "pyhanko" else "PASSED:")
                         for ln in lines)
            if name not in best or wall < best[name][0]:
                best[name] = (wall, cpu, passed)
    for name, (wall, cpu, passed) in best.items():
        figures[f"cli_{name}_wall_s"] = wall
        figures[f"cli_{name}_cpu_s"] = cpu
        figures[f"cli_{name}_passed"] = passed
    figures["cli_ratio_wall_pyhanko_over_ltv"] = best["pyhanko"][0] / best["ltv"][0]
    figures["cli_ratio_cpu_pyhanko_over_ltv"] = best["pyhanko"][1] / best["ltv"][1]
    figures["cli_ratio_wall_pyhanko_over_ltv_jobs1"] = best["pyhanko"][0] / best["ltv_jobs1"][0]
    figures["cli_ratio_cpu_pyhanko_over_ltv_jobs1"] = best["pyhanko"][1] / best["ltv_jobs1"][1]
    figures["loadavg_after"] = list(os.getloadavg())
    _profile(base, serial_argv)  # a pool would hide the work from the profiler
    return figures


def _profile(base: Path, argv: list[str]) -> None:
    """cProfile of one ``ltv validate`` run: top entries by cumulative and by own time."""
    import pstats
    import subprocess

    out = base / "ltv.prof"
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), *argv],
                   capture_output=True, check=False)
    stats = pstats.Stats(str(out))
    total = max(stats.total_tt, 1e-9)  # type: ignore[attr-defined]

    def top(key: int) -> list[dict[str, Any]]:
        rows = sorted(stats.stats.items(), key=lambda kv: kv[1][key], reverse=True)  # type: ignore[attr-defined]
        return [{"function": f"{'/'.join(Path(file).parts[-2:])}:{line}({name})",
                 "calls": calls,
                 "own_s": round(own, 4), "cumulative_s": round(cum, 4),
                 "cumulative_share": round(cum / total, 4)}
                for (file, line, name), (_, calls, own, cum, _) in rows[:PROFILE_TOP]]

    record("validation_profile", {
        "command": "ltv validate --jobs 1 --offline --trust root.pem --at T <files>",
        "files": len(argv) - 9,
        "total_s": total,
        "by_cumulative": top(3),
        "by_own_time": top(2),
    }, notes="cProfile of the whole-process ltv validate run of bench_validation (profiler "
              "overhead included: shares, not absolute times, are what to read).")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else COUNT)
