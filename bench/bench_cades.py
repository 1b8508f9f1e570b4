"""CAdES B-LTA signing of distinct 100 KB documents, ours vs an OpenSSL shell chain, and where
the time goes.

Setup: a fresh sample PKI served by an ``ltv pki serve`` subprocess on loopback (our TSA, the
sample OCSP responders, CRLs), a phone enrolled with it (``samples.phone.Phone``, RSA-2048),
distinct 100 KiB documents in files, detached signatures written to files.

* ours: ``prepare`` → ``Phone.sign`` → ``finish`` at B-LTA (signature check, assembly,
  signature time-stamp, every chain's certificates/OCSP/CRLs, archive-time-stamp-v3) with the
  services a program builds once (``build_services``: one egress with pooled keep-alive
  connections, revocation caches). The phone's RSA operations and the TSA round trips are timed
  separately (thin wrappers around the phone and the TSA client).
* peer: what a shell script does with OpenSSL, one process per step, for the same documents,
  key and servers: ``openssl cms -sign -cades`` (detached, DER), ``openssl ts -query`` over the
  signature, ``curl`` to the TSA, ``openssl ts -reply -token_out``, ``openssl ocsp`` for the
  signer certificate, then an archive time-stamp (``ts -query`` over signature + token + OCSP
  response, ``curl``, ``ts -reply``). Loose files, not one CAdES B-LTA (the OCSP response is
  the signer's only; no TSA chain data): the ratio flatters the peer.
* Alternating rounds; the load average is recorded. A few more of our signatures run under
  cProfile; the top entries go to ``bench/results/signing_profile.json`` (section ``cades``).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from bench.harness import record, served_pki
from ltv.algorithms import DigestAlgorithm
from ltv.cli._services import build_services
from ltv.signing import (
    SignatureFormat,
    SignatureLevel,
    SigningOptions,
    SigningServices,
    finish,
    prepare,
)
from ltv.tbs import DataToBeSigned
from ltv.timestamps import TimestampClient, TimestampToken

DOCUMENT_BYTES = 100 * 1024
OURS_PER_ROUND = 20
OPENSSL_PER_ROUND = 5
ROUNDS = 3

_OPENSSL_CHAIN = r"""
set -euo pipefail
for doc in "$@"; do
  openssl cms -sign -binary -cades -md sha256 -in "$doc" -signer "$CERT" -inkey "$KEY" \
    -certfile "$CHAIN" -outform DER -out "$doc.p7s"
  openssl ts -query -data "$doc.p7s" -sha256 -cert -out "$doc.tsq" 2>/dev/null
  curl -sS --fail -H 'Content-Type: application/timestamp-query' \
    --data-binary @"$doc.tsq" -o "$doc.tsr" "$TSA"
  openssl ts -reply -in "$doc.tsr" -token_out -out "$doc.tst" 2>/dev/null
  openssl ocsp -issuer "$ISSUER" -cert "$CERT" -url "$OCSP" -noverify \
    -respout "$doc.ocsp" >/dev/null 2>&1
  cat "$doc.p7s" "$doc.tst" "$doc.ocsp" > "$doc.lt"
  openssl ts -query -data "$doc.lt" -sha256 -cert -out "$doc.atsq" 2>/dev/null
  curl -sS --fail -H 'Content-Type: application/timestamp-query' \
    --data-binary @"$doc.atsq" -o "$doc.atsr" "$TSA"
  openssl ts -reply -in "$doc.atsr" -token_out -out "$doc.ats" 2>/dev/null
done
"""


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
    from bench.profiling import profile, record_profile
    from ltv.revocation import ocsp_urls
    from samples.phone import Phone
    from samples.pki import SamplePki

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-cades-") as tmp:
        root = Path(tmp)
        with served_pki(root / "pki") as base:
            pki = SamplePki.load(root / "pki")
            phone = Phone.enroll(root / "phone", pki, key="rsa2048")
            chain = [phone.certificate, *phone.chain]
            built = build_services(pki=pki.directory)
            tsa = _TimedTsa(built.require_timestamps())
            services = SigningServices(
                timestamp_client=tsa, ocsp_fetcher=built.ocsp_fetcher,
                crl_fetcher=built.crl_fetcher, certificate_fetcher=built.certificate_fetcher,
                clock=built.clock, known_certificates=built.known_certificates,
            )
            signer = _TimedSigner(phone)
            options = SigningOptions(detached=True)
            docs = []
            for i in range(ROUNDS * (OURS_PER_ROUND + OPENSSL_PER_ROUND) + 2):
                path = root / f"doc-{i}.bin"
                path.write_bytes(os.urandom(DOCUMENT_BYTES))
                docs.append(path)

            def ours(path: Path) -> int:
                document = path.read_bytes()
                pending = prepare(document, chain, SignatureFormat.CADES, SignatureLevel.B_LTA,
                                  options, clock=services.clock)
                value = signer.sign(pending.data_to_be_signed)
                signed = finish(pending, value, document=document, services=services)
                path.with_suffix(".p7s").write_bytes(signed)
                return len(signed)

            script = root / "openssl-chain.sh"
            script.write_text(_OPENSSL_CHAIN)
            env = {**os.environ, "CERT": str(root / "phone" / "cert.pem"),
                   "KEY": str(root / "phone" / "secure-element" / "key.pem"),
                   "CHAIN": str(root / "phone" / "chain.pem"),
                   "ISSUER": str(root / "issuer.pem"),
                   "TSA": f"{base}/tsa", "OCSP": ocsp_urls(phone.certificate)[0]}
            (root / "issuer.pem").write_bytes(phone.chain[0].public_bytes(Encoding.PEM))

            def openssl(paths: list[Path]) -> None:
                subprocess.run(["bash", str(script), *map(str, paths)], env=env, check=True,
                               capture_output=True)

            size = ours(docs.pop())  # warm the revocation caches and the HTTP connections
            openssl([docs.pop()])
            signer.seconds = tsa.seconds = 0.0
            ours_s = peer_s = 0.0
            for _ in range(ROUNDS):
                start = time.perf_counter()
                for _ in range(OURS_PER_ROUND):
                    ours(docs.pop())
                ours_s += time.perf_counter() - start
                batch = [docs.pop() for _ in range(OPENSSL_PER_ROUND)]
                start = time.perf_counter()
                openssl(batch)
                peer_s += time.perf_counter() - start
            phone_s, tsa_s = signer.seconds, tsa.seconds
            again = sorted(root.glob("doc-*.bin"))
            profiled = profile(lambda: ours(again[0]), runs=20)
    n_ours = ROUNDS * OURS_PER_ROUND
    n_peer = ROUNDS * OPENSSL_PER_ROUND
    per = ours_s / n_ours
    record_profile("cades", {"ours_b_lta_mean_ms_unprofiled": per * 1000, **profiled})
    record("cades", {
        "b_lta_signatures_per_s": n_ours / ours_s,
        "ms_per_signature": per * 1000,
        "openssl_chain_per_s": n_peer / peer_s,
        "openssl_chain_ms_per_document": peer_s / n_peer * 1000,
        "ratio_ours_over_openssl_chain": (n_ours / ours_s) / (n_peer / peer_s),
        "phone_rsa_ms_per_signature": phone_s / n_ours * 1000,
        "share_outside_phone_rsa": 1 - phone_s / ours_s,
        "tsa_round_trips_ms_per_signature": tsa_s / n_ours * 1000,
        "share_in_tsa_round_trips": tsa_s / ours_s,
        "share_local_cpu_excluding_rsa_and_tsa": 1 - (phone_s + tsa_s) / ours_s,
        "signature_bytes": size,
        "document_bytes": DOCUMENT_BYTES,
        "signatures_ours": n_ours,
        "documents_openssl": n_peer,
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
    }, notes="Distinct 100 KiB documents, detached, RSA-2048 phone key (samples.phone), 2 TSA "
             "requests per signature (signature-time-stamp + archive-time-stamp-v3) to `ltv pki "
             "serve` on loopback, OCSP/CRL caches warm. Peer: an OpenSSL shell chain per "
             "document (cms -sign -cades, ts -query, curl, ts -reply, ocsp, archive ts), loose "
             "files with the signer's OCSP only. Alternating rounds; shared 2-core machine, see "
             "load_average. Profile: bench/results/signing_profile.json.")


if __name__ == "__main__":
    main()
