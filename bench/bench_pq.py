"""Post-quantum time-stamps (issue #17): ML-DSA-65 tokens/s over HTTP next to RSA-2048 and
P-256 in the same run (`python -m tsa --workers 2`, the load generator of bench_tsa), token
sizes, and RFC 4998 evidence-record sizes before and after renewal onto ML-DSA.

The TSA certificates are issued by one P-256 root, so the token sizes differ by the TSA key,
signature and attributes only (certReq TRUE: the TSA certificate travels in the token, the root
does not). The evidence record is one data object under an RSA-2048 token (as archived in
2026), then timestamp-renewed (RFC 4998 §5.2) with an ML-DSA-65 token, then hash-tree renewed
to SHA-512 with ML-DSA-65 again (what the demo does in years 3 and 8).
"""

from __future__ import annotations

import hashlib
import os
import signal
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from bench.bench_tsa import CLIENT_PROCESSES, _free_port, _http_rate, _start
from bench.bench_tsa import _pki as _tsa_pki
from bench.harness import rate, record
from ltv.algorithms import DigestAlgorithm
from ltv.clock import SystemClock
from ltv.ers import new_evidence_records, renew_hash_tree, renew_timestamp
from ltv.timestamps import LocalTimestampClient, build_request
from tsa.authority import TimeStampAuthority, TsaIdentity
from tsa.serials import MemorySerialSource

KINDS = ("rsa2048", "p256", "ml-dsa-65")


def _pki(directory: Path) -> dict[str, tuple[Path, Path]]:
    return _tsa_pki(directory, KINDS)


def _authority(files: dict[str, tuple[Path, Path]], kind: str) -> TimeStampAuthority:
    key, cert = files[kind]
    return TimeStampAuthority(TsaIdentity.from_files(key, cert), serials=MemorySerialSource(),
                              clock=SystemClock())


def _stamper(authority: TimeStampAuthority) -> Any:
    client = LocalTimestampClient(authority.respond)
    return lambda digest, algorithm: client.timestamp(digest, algorithm).der


def _evidence_record_sizes(files: dict[str, tuple[Path, Path]]) -> dict[str, int]:
    data = os.urandom(4096)
    rsa_stamp = _stamper(_authority(files, "rsa2048"))
    pq_stamp = _stamper(_authority(files, "ml-dsa-65"))
    (record_2026,) = new_evidence_records([[data]], algorithm=DigestAlgorithm.SHA256,
                                          timestamper=rsa_stamp)
    renewed = renew_timestamp(record_2026, timestamper=pq_stamp)
    rehashed = renew_hash_tree(renewed, [data], algorithm=DigestAlgorithm.SHA512,
                               timestamper=pq_stamp)
    return {
        "er_bytes_rsa2048_only": len(record_2026.to_der()),
        "er_bytes_after_ml_dsa_timestamp_renewal": len(renewed.to_der()),
        "er_bytes_after_ml_dsa_sha512_hash_tree_renewal": len(rehashed.to_der()),
    }


def main() -> None:
    figures: dict[str, Any] = {"load_average_1min_at_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-pq-") as tmp:
        directory = Path(tmp)
        files = _pki(directory)
        request = build_request(hashlib.sha256(b"x").digest(), DigestAlgorithm.SHA256, nonce=7,
                                cert_req=True)
        for kind in KINDS:
            authority = _authority(files, kind)
            figures[f"token_bytes_{kind}_cert_req"] = len(authority.respond(request)) - 5
            figures[f"respond_in_process_{kind}_per_s_1_thread"] = rate(
                partial(authority.respond, request), seconds=2.0)
        for kind in KINDS:
            key, cert = files[kind]
            port = _free_port()
            server = _start(key, cert, directory / f"state-{kind}", port)
            try:
                measured = _http_rate(f"http://127.0.0.1:{port}/tsa", server.pid,
                                      CLIENT_PROCESSES)
                figures[f"http_{kind}_2_workers_tokens_per_s"] = measured.pop("tokens_per_s")
                figures[f"http_{kind}_server_cpu_ms_per_token"] = measured[
                    "server_cpu_ms_per_token"]
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(30)
        figures.update(_evidence_record_sizes(files))
    figures["ratio_http_ml_dsa_65_vs_rsa2048"] = (
        figures["http_ml-dsa-65_2_workers_tokens_per_s"]
        / figures["http_rsa2048_2_workers_tokens_per_s"])
    figures["ratio_http_ml_dsa_65_vs_p256"] = (
        figures["http_ml-dsa-65_2_workers_tokens_per_s"]
        / figures["http_p256_2_workers_tokens_per_s"])
    figures["load_average_1min_at_end"] = os.getloadavg()[0]
    record("pq", figures, notes=(
        "Same run, same machine (2 vCPU shared by eight helpers: noisy, see the load "
        "averages), 3 client processes posting to `python -m tsa --workers 2` for 6 s per key. "
        "token_bytes = the DER token (TimeStampResp minus its 5-byte status), certReq TRUE, "
        "TSA certificate issued by a P-256 root. ER sizes: one 4 KiB object, RSA-2048 token; "
        "then + an ML-DSA-65 timestamp renewal; then + a SHA-512 hash-tree renewal (ML-DSA-65)."
    ))


if __name__ == "__main__":
    main()
