"""CAdES B-LTA signatures per second, and where the time goes.

Setup: a fresh sample PKI served by an ``ltv pki serve`` subprocess on loopback (TSA, OCSP,
CRLs), an RSA-2048 phone key held in process, a 100 KB document, the HTTP fetchers behind the
revocation caches (warmed by one signature first). Each B-LTA signature = prepare, phone RSA
signature, finish (signature check, assembly, signature time-stamp, validation data, archive
time-stamp-v3). The phone's RSA operations and the TSA round trips are timed separately.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.harness import record, served_pki
from ltv.algorithms import DigestAlgorithm
from ltv.cli._services import build_services
from ltv.signing import SignatureFormat, SignatureLevel, SigningServices, finish, prepare
from ltv.tbs import DataToBeSigned
from ltv.timestamps import TimestampClient, TimestampToken


class _TimedSigner:
    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.seconds = 0.0

    def sign(self, tbs: DataToBeSigned) -> bytes:
        start = time.perf_counter()
        value: bytes = self.inner.sign(tbs)  # type: ignore[attr-defined]
        self.seconds += time.perf_counter() - start
        return value


class _TimedTsa:
    def __init__(self, inner: TimestampClient) -> None:
        self.inner = inner
        self.seconds = 0.0

    def timestamp(self, digest: bytes, algorithm: DigestAlgorithm) -> TimestampToken:
        start = time.perf_counter()
        token = self.inner.timestamp(digest, algorithm)
        self.seconds += time.perf_counter() - start
        return token


def main() -> None:
    from samples.phone import Phone
    from samples.pki import SamplePki

    with tempfile.TemporaryDirectory(prefix="bench-cades-") as tmp:
        root = Path(tmp)
        with served_pki(root / "pki"):
            pki = SamplePki.load(root / "pki")
            phone = Phone.enroll(root / "phone", pki, key="rsa2048")
            chain = [phone.certificate, *phone.chain]
            base = build_services(pki=pki.directory)
            tsa = _TimedTsa(base.require_timestamps())
            services = SigningServices(
                timestamp_client=tsa, ocsp_fetcher=base.ocsp_fetcher,
                crl_fetcher=base.crl_fetcher, certificate_fetcher=base.certificate_fetcher,
                clock=base.clock, known_certificates=base.known_certificates,
            )
            signer = _TimedSigner(phone)
            document = bytes(range(256)) * 400  # 100 KiB

            def one() -> bytes:
                pending = prepare(document, chain, SignatureFormat.CADES, SignatureLevel.B_LTA,
                                  clock=services.clock)
                value = signer.sign(pending.data_to_be_signed)
                return finish(pending, value, document=document, services=services)

            size = len(one())  # warm the revocation caches and the HTTP connections
            signer.seconds = tsa.seconds = 0.0
            runs = 0
            start = time.perf_counter()
            while runs < 10 or time.perf_counter() - start < 5.0:
                one()
                runs += 1
            elapsed = time.perf_counter() - start
    per = elapsed / runs
    record("cades", {
        "b_lta_signatures_per_s": runs / elapsed,
        "ms_per_signature": per * 1000,
        "phone_rsa_ms_per_signature": signer.seconds / runs * 1000,
        "share_outside_phone_rsa": 1 - signer.seconds / elapsed,
        "tsa_round_trips_ms_per_signature": tsa.seconds / runs * 1000,
        "share_in_tsa_round_trips": tsa.seconds / elapsed,
        "share_local_cpu_excluding_rsa_and_tsa": 1 - (signer.seconds + tsa.seconds) / elapsed,
        "signature_bytes": size,
        "runs": runs,
    }, notes="100 KiB document, RSA-2048 phone key in process, 2 TSA requests per signature "
             "(signature-time-stamp + archive-time-stamp-v3) to `ltv pki serve` on loopback, "
             "OCSP/CRL caches warm.")


if __name__ == "__main__":
    main()
