"""Mutation fuzzing of every parser entry point, from real signatures (issue 11 §8).

Seeds: a fresh sample PKI served by ``ltv pki serve`` on loopback, one phone (RSA-2048), and
real artefacts made through it: a CAdES B-LTA, a XAdES B-LTA (enveloped, over the sample
contract), a PAdES B-LTA, a time-stamp token, an OCSP response and a CRL fetched from the
responders, and a TSA request. Targets and the entry point each input goes through:

======== ================================================ ==========================
target   entry point                                      our error types
======== ================================================ ==========================
cms      ``ltv.validation.validate`` (CAdES, offline)     ``LtvError``
tst      ``ltv.timestamps.parse_token``                   ``LtvError``
ocsp     ``ltv.revocation.parse_ocsp_response``           ``LtvError``
crl      ``ltv.revocation.parse_crl``                     ``LtvError``
xml      ``ltv.validation.validate`` (XAdES, offline)     ``LtvError``
pdf      ``ltv.validation.validate`` (PAdES, offline)     ``LtvError``
tsq      ``tsa.authority.TimeStampAuthority.respond``     never raises, logs nothing
======== ================================================ ==========================

Each input is either a *random* mutation (1-4 of: bit flip, interesting byte, random byte,
delete / duplicate / insert a chunk, truncate, DER length tweak, splice with another seed) or
a *signed* mutation: exactly one byte (one hex digit in a PDF's /Contents, one base64 character
in XML) changed inside the signature value or the signed bytes (CMS eContent and signed
attributes, TSTInfo, tbsResponseData, tbsCertList, the PDF's ByteRange, the XML's signed
content and ds:SignatureValue). Checks:

* no crash: only our error types escape (the TSA: answers, never logs an exception);
* no hang: an input taking over 10 s (``SIGALRM``) counts as a hang;
* no pass for a signed mutation: never TOTAL-PASSED, and a parser must refuse it.

Each crash or hang is written once per (target, exception type, innermost frame) to
``tests/fuzz_corpus/`` where ``tests/test_fuzz_corpus.py`` replays it. Figures go to
bench/results/fuzz.json.

Run: ``make bench BENCH=fuzz`` (100,000 inputs per target; hours), or fewer with
``python -m bench.bench_fuzz --quick`` / ``--inputs N`` / ``--seconds S`` / ``--targets cms,pdf``,
or the environment: ``LTV_FUZZ_QUICK=1``, ``LTV_FUZZ_INPUTS``, ``LTV_FUZZ_SECONDS`` (time budget
per target), ``LTV_FUZZ_TARGETS``, ``LTV_FUZZ_SEED``.
"""

from __future__ import annotations

import argparse
import binascii
import contextlib
import hashlib
import json
import logging
import os
import random
import re
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from bench.harness import record, served_pki

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "fuzz_corpus"
FULL_INPUTS = 100_000
QUICK_INPUTS = 2_000
QUICK_SECONDS = 8.0
HANG_SECONDS = 10
TARGETS = ("cms", "tst", "ocsp", "crl", "xml", "pdf", "tsq")
EXTENSIONS = {"cms": "p7s", "tst": "tst", "ocsp": "ocsp", "crl": "crl", "xml": "xml",
              "pdf": "pdf", "tsq": "tsq"}
SIGNED_SHARE = 0.3

_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84, 0xFF, 0xFE, 0x30, 0x31, 0x04,
                0x02, 0x05, 0x06, 0xA0, 0xA3)
_HEX = b"0123456789abcdefABCDEF"
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class _Hang(Exception):
    """Raised by SIGALRM when one input runs over HANG_SECONDS."""


# ---------------------------------------------------------------------------------------------
# Mutations


@dataclass(frozen=True, slots=True)
class Region:
    """Bytes that are signed: changing one must never pass. ``alphabet`` (if any) is what a
    replacement byte is drawn from (hex digits, base64), so the encoding stays valid."""

    start: int
    end: int
    alphabet: bytes | None = None


def mutate_random(rng: random.Random, data: bytes, others: list[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            out = bytearray(rng.randbytes(rng.randint(1, 64)))
            continue
        pos = rng.randrange(len(out))
        op = rng.randrange(10)
        if op == 0:
            out[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            out[pos] = rng.choice(_INTERESTING)
        elif op == 2:
            out[pos] = rng.randrange(256)
        elif op == 3:
            del out[pos:pos + rng.randint(1, 256)]
        elif op == 4:
            chunk = out[pos:pos + rng.randint(1, 256)]
            at = rng.randrange(len(out))
            out[at:at] = chunk * rng.randint(1, 8)
        elif op == 5:
            out[pos:pos] = rng.randbytes(rng.randint(1, 32))
        elif op == 6:
            del out[rng.randrange(len(out)):]
        elif op == 7:  # a DER length byte: after a tag byte, set lengths to odd values
            if pos + 1 < len(out):
                out[pos + 1] = rng.choice((0x00, 0x7F, 0x80, 0x81, 0x82, 0x84, 0x89, 0xFF))
        elif op == 8 and others:  # splice a piece of another seed in
            other = rng.choice(others)
            if other:
                start = rng.randrange(len(other))
                out[pos:pos + rng.randint(0, 64)] = other[start:start + rng.randint(1, 256)]
        else:  # repeat one byte many times (deep nesting, huge lengths)
            out[pos:pos] = bytes([out[pos]]) * rng.choice((16, 256, 4096))
    return bytes(out)


def mutate_signed(rng: random.Random, data: bytes, regions: list[Region]) -> bytes:
    region = rng.choice(regions)
    pos = rng.randrange(region.start, region.end)
    out = bytearray(data)
    if region.alphabet is None:
        out[pos] ^= rng.randrange(1, 256)
    else:
        current = out[pos]
        out[pos] = rng.choice([c for c in region.alphabet
                               if c != current and chr(c).lower() != chr(current).lower()])
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# Signed regions of each seed


def _find(data: bytes, needle: bytes, what: str) -> int:
    pos = data.find(needle)
    if pos < 0 or not needle:
        raise RuntimeError(f"seed: {what} not found")
    return pos


def cms_regions(data: bytes) -> list[Region]:
    """Signature values, signed attributes and the eContent of a CMS SignedData."""
    from ltv.formats import cms

    parts = cms.parse_signed_data(data)
    regions: list[Region] = []
    _, econtent = parts.encap
    if econtent:
        pos = _find(data, econtent, "eContent")
        regions.append(Region(pos, pos + len(econtent)))
    for info in parts.signer_infos:
        value = info.signature_value
        pos = _find(data, value, "signature value")
        regions.append(Region(pos, pos + len(value)))
        attrs = info.signed_attrs_der  # re-tagged as SET: the content is as in the file
        body = attrs[2 + (attrs[1] & 0x7F if attrs[1] & 0x80 else 0):] if attrs else b""
        if body:
            pos = _find(data, body, "signed attributes")
            regions.append(Region(pos, pos + len(body)))
    return regions


def _asn1_regions(data: bytes, tbs: bytes, signature: bytes) -> list[Region]:
    start = _find(data, tbs, "to-be-signed part")
    sig = _find(data, signature, "signature")
    return [Region(start, start + len(tbs)), Region(sig, sig + len(signature))]


def ocsp_regions(data: bytes) -> list[Region]:
    from asn1crypto import ocsp

    basic = ocsp.OCSPResponse.load(data)["response_bytes"]["response"].parsed
    return _asn1_regions(data, basic["tbs_response_data"].dump(), basic["signature"].contents)


def crl_regions(data: bytes) -> list[Region]:
    from asn1crypto import crl

    parsed = crl.CertificateList.load(data)
    return _asn1_regions(data, parsed["tbs_cert_list"].dump(), parsed["signature"].contents)


def pdf_regions(data: bytes) -> list[Region]:
    """The bytes the last signature's /ByteRange covers, and its signature value's hex digits
    inside /Contents (the first signature of the file: the approval signature)."""
    from ltv.formats import cms

    found = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    if found is None:
        raise RuntimeError("seed: no /ByteRange")
    a, b, c, d = (int(x) for x in found.groups())
    hex_start = a + b + 1  # after '<'
    raw = binascii.unhexlify(data[hex_start:c - 1])
    der_end = 4 + int.from_bytes(raw[2:4], "big") if raw[1] == 0x82 else len(raw.rstrip(b"\0"))
    parts = cms.parse_signed_data(raw[:der_end])
    value = parts.signer_infos[0].signature_value
    pos = _find(raw, value, "signature value")
    return [Region(a, a + b), Region(c, c + d),
            Region(hex_start + 2 * pos, hex_start + 2 * (pos + len(value)), _HEX)]


def xml_regions(data: bytes) -> list[Region]:
    """Base64 characters of ds:SignatureValue (not the last quantum: padding bits) and the
    text of the signed contract's elements (the enveloped document)."""
    regions: list[Region] = []
    value = re.search(rb"<ds:SignatureValue[^>]*>([^<]+)</ds:SignatureValue>", data)
    if value is None:
        raise RuntimeError("seed: no ds:SignatureValue")
    regions.append(Region(value.start(1), value.end(1) - 4, _B64))
    for text in re.finditer(rb">([A-Za-z0-9][^<]{3,})</", data[:data.find(b"<ds:Signature")]):
        regions.append(Region(text.start(1), text.end(1), _B64[:52]))
    return regions


# ---------------------------------------------------------------------------------------------
# Targets


@dataclass(slots=True)
class Target:
    name: str
    seeds: list[bytes]
    regions: list[list[Region]]
    run: Callable[[bytes], bool]  # True: the input passed (a verdict or a parse that accepted)
    ours: tuple[type[BaseException], ...]
    #: What a replay needs besides the input (validation time, trust anchor, OCSP/CRL issuer)
    context: dict[str, str] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Tally:
    inputs: int = 0
    signed_inputs: int = 0
    refused: int = 0
    passed: int = 0
    crashes: int = 0
    hangs: int = 0
    signed_passed: int = 0
    slowest_s: float = 0.0
    crash_kinds: dict[str, int] = field(default_factory=dict)
    saved: list[str] = field(default_factory=list)


@contextlib.contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    def fire(signum: int, frame: FrameType | None) -> None:
        raise _Hang(f"over {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _kind(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__}@{where}"


def _save(target: Target, data: bytes, kind: str, tally: Tally) -> None:
    """The input, once per kind, with a ``.json`` sidecar: the kind and the replay context."""
    CORPUS.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(f"{target.name}/{kind}".encode()).hexdigest()[:12]
    path = CORPUS / f"{target.name}-{digest}.{EXTENSIONS[target.name]}"
    if not path.exists():
        path.write_bytes(data)
        sidecar = {"target": target.name, "kind": kind, **target.context}
        path.with_name(path.name + ".json").write_text(
            json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tally.saved.append(path.name)


def fuzz(target: Target, *, inputs: int, seconds: float | None, rng: random.Random) -> Tally:
    tally = Tally()
    started = time.perf_counter()
    others = [s for t in target.seeds for s in (t,)]
    while tally.inputs < inputs and (seconds is None or
                                     time.perf_counter() - started < seconds):
        index = rng.randrange(len(target.seeds))
        seed = target.seeds[index]
        signed = bool(target.regions[index]) and rng.random() < SIGNED_SHARE
        data = (mutate_signed(rng, seed, target.regions[index]) if signed
                else mutate_random(rng, seed, others))
        tally.inputs += 1
        tally.signed_inputs += signed
        begin = time.perf_counter()
        try:
            with _alarm(HANG_SECONDS):
                passed = target.run(data)
        except _Hang:
            tally.hangs += 1
            _save(target, data, "hang", tally)
            continue
        except target.ours:
            tally.refused += 1
            continue
        except Exception as exc:  # the finding this bench exists for
            kind = _kind(exc)
            tally.crashes += 1
            tally.crash_kinds[kind] = tally.crash_kinds.get(kind, 0) + 1
            _save(target, data, kind, tally)
            continue
        finally:
            tally.slowest_s = max(tally.slowest_s, time.perf_counter() - begin)
        if passed:
            tally.passed += 1
            if signed:
                tally.signed_passed += 1
                _save(target, data, "signed-passed", tally)
        else:
            tally.refused += 1
    target.figures = {
        "inputs": tally.inputs, "signed_mutations": tally.signed_inputs,
        "refused": tally.refused, "passed": tally.passed, "crashes": tally.crashes,
        "hangs": tally.hangs, "signed_mutations_passed": tally.signed_passed,
        "slowest_input_s": round(tally.slowest_s, 3),
        "inputs_per_s": round(tally.inputs / max(time.perf_counter() - started, 1e-9), 1),
        "crash_kinds": tally.crash_kinds, "corpus_files_written": tally.saved,
    }
    return tally


class _TsaLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.failures: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.failures.append(record)


class TsaCrash(Exception):
    """The TSA logged an exception while answering (its ``respond`` never raises)."""


def build_targets(root: Path) -> tuple[list[Target], dict[str, Any]]:
    """Sign the seeds through a served sample PKI and wire each target."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from ltv.algorithms import DigestAlgorithm
    from ltv.cli._services import build_services
    from ltv.clock import FixedClock, SystemClock, format_time
    from ltv.errors import LtvError
    from ltv.revocation import crl_urls, parse_crl, parse_ocsp_response
    from ltv.signing import SignatureFormat, SignatureLevel, sign
    from ltv.timestamps import build_request, parse_response, parse_token
    from ltv.validation import Indication, ValidationPolicy, validate
    from samples.contracts import __file__ as contracts_init
    from samples.phone import Phone
    from samples.pki import SamplePki
    from tsa.authority import TimeStampAuthority
    from tsa.serials import MemorySerialSource

    pki = SamplePki.load(root / "pki")
    phone = Phone.enroll(root / "phone", pki, key="rsa2048")
    chain = [phone.certificate, *phone.chain]
    services = build_services(pki=pki.directory)
    contracts = Path(contracts_init).parent
    document = (contracts / "contract.txt").read_bytes()
    cades = sign(document, phone, chain, SignatureFormat.CADES, SignatureLevel.B_LTA,
                 services=services)
    xades = sign((contracts / "contract.xml").read_bytes(), phone, chain,
                 SignatureFormat.XADES, SignatureLevel.B_LTA, services=services)
    pades = sign((contracts / "contract.pdf").read_bytes(), phone, chain,
                 SignatureFormat.PADES, SignatureLevel.B_LTA, services=services)
    imprint = hashlib.sha256(document).digest()
    token = services.require_timestamps().timestamp(imprint, DigestAlgorithm.SHA256).der
    ca = phone.chain[0]
    assert services.ocsp_fetcher is not None
    assert services.crl_fetcher is not None
    ocsp_der = services.ocsp_fetcher.fetch_ocsp(phone.certificate, ca).der
    crl_der = services.crl_fetcher.fetch_crl(crl_urls(phone.certificate)[0], issuer=ca).der
    request = build_request(imprint, DigestAlgorithm.SHA256, nonce=0x1234567890)

    at = SystemClock().now() + timedelta(minutes=5)
    policy = ValidationPolicy.default(trust_anchors=[pki.root])

    def run_validate(data: bytes) -> bool:
        report = validate(data, policy=policy, at=at, offline=True)
        return any(s.indication is Indication.TOTAL_PASSED for s in report.signatures)

    def run_tst(data: bytes) -> bool:
        parse_token(data)
        return True

    def run_ocsp(data: bytes) -> bool:
        parse_ocsp_response(data, certificate=phone.certificate, issuer=ca)
        return True

    def run_crl(data: bytes) -> bool:
        parse_crl(data, issuer=ca)
        return True

    authority = TimeStampAuthority(pki.tsa_identity(), serials=MemorySerialSource(),
                                   clock=FixedClock(at))
    tsa_log = _TsaLog()
    logging.getLogger("tsa").addHandler(tsa_log)

    def run_tsq(data: bytes) -> bool:
        """The TSA answers; a grant must pass our client's checks against the request."""
        from asn1crypto import tsp

        from ltv.formats.cms import read_single

        tsa_log.failures.clear()
        answer = authority.respond(data)
        if tsa_log.failures:
            first = tsa_log.failures[0]
            raise TsaCrash(first.getMessage() + (
                f": {first.exc_info[1]!r}" if first.exc_info else ""))
        try:
            status_raw = read_single(answer, "TimeStampResp").children()[0].raw
            status = tsp.PKIStatusInfo.load(status_raw)["status"].native
        except (ValueError, IndexError) as exc:
            raise TsaCrash(f"the TSA's answer does not parse: {exc}") from exc
        if status not in ("granted", "granted_with_mods"):
            return False
        request = tsp.TimeStampReq.load(data)
        imprint = request["message_imprint"]
        try:
            parse_response(
                answer, digest=imprint["hashed_message"].native,
                algorithm=DigestAlgorithm(imprint["hash_algorithm"]["algorithm"].native),
                nonce=request["nonce"].native, extra_certificates=pki.tsa_certificates)
        except LtvError as exc:
            raise TsaCrash(f"a granted answer fails the client's checks: {exc}") from exc
        return True

    ours: tuple[type[BaseException], ...] = (LtvError,)
    pem = Encoding.PEM
    context = {"at": format_time(at), "trust": pki.root.public_bytes(pem).decode(),
               "certificate": phone.certificate.public_bytes(pem).decode(),
               "issuer": ca.public_bytes(pem).decode()}
    targets = [
        Target("cms", [cades], [cms_regions(cades)], run_validate, ours),
        Target("tst", [token], [cms_regions(token)], run_tst, ours),
        Target("ocsp", [ocsp_der], [ocsp_regions(ocsp_der)], run_ocsp, ours),
        Target("crl", [crl_der], [crl_regions(crl_der)], run_crl, ours),
        Target("xml", [xades], [xml_regions(xades)], run_validate, ours),
        Target("pdf", [pades], [pdf_regions(pades)], run_validate, ours),
        Target("tsq", [request], [[]], run_tsq, ()),
    ]
    for target in targets:
        target.context = context
    seeds: dict[str, Any] = {
        t.name: {"bytes": len(t.seeds[0]), "signed_regions": len(t.regions[0]),
                 "seed_passes": t.run(t.seeds[0])} for t in targets}
    # the cap of issue 11 §6 (security review finding 10): 4,000 SignerInfos, refused at once
    from dataclasses import replace

    from ltv.formats import cms

    single = sign(document, phone, chain, SignatureFormat.CADES, SignatureLevel.B_B,
                  services=services)
    parts = cms.parse_signed_data(single)
    flood = replace(parts, signer_infos=parts.signer_infos * 4000).dump()
    begin = time.perf_counter()
    report = validate(flood, policy=policy, at=at, offline=True)
    elapsed = time.perf_counter() - begin
    verdict = report.signatures[0]
    seeds["caps_4000_signer_infos"] = {
        "bytes": len(flood), "refusal_s": round(elapsed, 3),
        "entries": len(report.signatures),
        "verdict": f"{verdict.indication.token}/"
                   f"{verdict.subindication.token if verdict.subindication else '-'}",
    }
    return targets, seeds


def _options(argv: list[str]) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m bench.bench_fuzz")
    parser.add_argument("--quick", action="store_true",
                        default=env.get("LTV_FUZZ_QUICK", "") not in ("", "0"))
    parser.add_argument("--inputs", type=int, default=int(env["LTV_FUZZ_INPUTS"])
                        if env.get("LTV_FUZZ_INPUTS") else None)
    parser.add_argument("--seconds", type=float, default=float(env["LTV_FUZZ_SECONDS"])
                        if env.get("LTV_FUZZ_SECONDS") else None)
    parser.add_argument("--targets", default=env.get("LTV_FUZZ_TARGETS", ",".join(TARGETS)))
    parser.add_argument("--seed", type=int, default=int(env.get("LTV_FUZZ_SEED", "11")))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    options = _options(sys.argv[1:] if argv is None and __name__ == "__main__" else argv or [])
    inputs = options.inputs or (QUICK_INPUTS if options.quick else FULL_INPUTS)
    seconds = options.seconds or (QUICK_SECONDS if options.quick else None)
    wanted = [t for t in options.targets.split(",") if t]
    unknown = set(wanted) - set(TARGETS)
    if unknown:
        raise SystemExit(f"unknown fuzz targets {sorted(unknown)}; known: {', '.join(TARGETS)}")
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as tmp:
        root = Path(tmp)
        with served_pki(root / "pki"):
            targets, seeds = build_targets(root)
        # fuzzing runs offline: nothing below reaches the (stopped) servers
        figures: dict[str, Any] = {
            "caps_4000_signer_infos": seeds.pop("caps_4000_signer_infos"), "seeds": seeds}
        logging.getLogger().setLevel(logging.CRITICAL)  # library chatter is not a finding
        total_crashes = total_hangs = total_signed_passed = 0
        for target in targets:
            if target.name not in wanted:
                continue
            rng = random.Random(f"{options.seed}/{target.name}")
            tally = fuzz(target, inputs=inputs, seconds=seconds, rng=rng)
            figures[target.name] = target.figures
            total_crashes += tally.crashes
            total_hangs += tally.hangs
            total_signed_passed += tally.signed_passed
            print(f"  {target.name:<5} {tally.inputs:>7} inputs  {tally.crashes} crashes  "
                  f"{tally.hangs} hangs  {tally.signed_passed} signed-mutation passes",
                  flush=True)
    short = inputs < FULL_INPUTS or seconds is not None
    figures.update({
        "run": "short" if short else "full",
        "target_inputs_per_target": inputs,
        "time_budget_s_per_target": seconds,
        "hang_limit_s": HANG_SECONDS,
        "rng_seed": options.seed,
        "crashes": total_crashes, "hangs": total_hangs,
        "signed_mutations_passed": total_signed_passed,
        "regression_corpus": sorted(
            p.name for p in CORPUS.glob("*") if p.suffix not in (".json", ".md")),
    })
    notes = ("Mutation fuzzing from real seeds (sample PKI on loopback): random mutations check "
             "for crashes (an exception other than LtvError; the TSA: a logged exception) and "
             f"hangs (> {HANG_SECONDS} s); signed mutations (one byte of a signature value or "
             "of the signed bytes) must never pass. ")
    if short:
        notes += (f"SHORT RUN: at most {inputs} inputs"
                  + (f" and {seconds:g} s" if seconds else "")
                  + " per target, on a shared 2-core machine; the target of the full run "
                  f"(make bench BENCH=fuzz) is {FULL_INPUTS:,} inputs per target.")
    record("fuzz", figures, notes=notes)


if __name__ == "__main__":
    main()
