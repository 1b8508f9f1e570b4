"""Revocation figures: OCSP responses/s from ``ltv pki serve`` over HTTP, and lookups in a
1,000,000-entry CRL (ours through cryptography vs an asn1crypto linear scan, same CRL).

All traffic stays on 127.0.0.1; the load is bounded (a few client processes, one request in
flight each).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from bench.harness import record
from ltv.revocation import CertStatus, parse_crl, parse_ocsp_response
from samples.pki import SamplePki, generate_key

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
CRL_ENTRIES = 1_000_000
CLIENTS = 3
SECONDS = 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _client_loop(url: str, requests: list[bytes], seconds: float) -> int:
    done = 0
    with httpx.Client(timeout=10) as client:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            body = requests[done % len(requests)]
            response = client.post(url, content=body,
                                   headers={"content-type": "application/ocsp-request"})
            response.raise_for_status()
            done += 1
    return done


def bench_ocsp(work: Path) -> dict[str, float]:
    pki = SamplePki.init(work / "pki", port=_free_port(), at=EPOCH)
    certs = [pki.issue_end_entity(generate_key("p256").public_key(), kind="smartphone",
                                  at=EPOCH) for _ in range(20)]
    requests = [
        ocsp.OCSPRequestBuilder().add_certificate(c, pki.smartphone_ca, hashes.SHA1())  # noqa: S303
        .build().public_bytes(Encoding.DER)
        for c in certs
    ]
    ltv = Path(sys.executable).with_name("ltv")
    server = subprocess.Popen(
        [str(ltv), "pki", "serve", str(pki.directory), "--at", "2026-01-02T00:00:00Z"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{pki.base_url}/healthz").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        url = f"{pki.base_url}/ocsp/smartphone-ca"
        answer = httpx.post(url, content=requests[0],
                            headers={"content-type": "application/ocsp-request"}).content
        assert parse_ocsp_response(answer, certificate=certs[0],
                                   issuer=pki.smartphone_ca).status is CertStatus.GOOD
        single = _client_loop(url, requests, 2.0) / 2.0
        start = time.perf_counter()
        with ProcessPoolExecutor(CLIENTS) as pool:
            counts = list(pool.map(_client_loop, [url] * CLIENTS, [requests] * CLIENTS,
                                   [SECONDS] * CLIENTS))
        elapsed = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {
        "ocsp_http_responses_per_s_1_client": single,
        f"ocsp_http_responses_per_s_{CLIENTS}_clients": sum(counts) / elapsed,
    }


def _big_crl(work: Path) -> tuple[bytes, x509.Certificate, int, int]:
    pki = SamplePki.init(work / "crl-pki", port=_free_port(), at=EPOCH)
    when = EPOCH + timedelta(days=1)
    reason = x509.CRLReason(x509.ReasonFlags.superseded)
    base = 10**30
    revoked = [
        x509.RevokedCertificateBuilder().serial_number(base + 7 * i).revocation_date(when)
        .add_extension(reason, critical=False).build()
        for i in range(CRL_ENTRIES)
    ]
    # The builder's add_revoked_certificate copies its list on every call (quadratic): hand
    # the entries to the constructor at once.
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=pki.card_ca.subject, last_update=when, next_update=when + timedelta(days=1),
        extensions=[x509.Extension(x509.CRLNumber.oid, False, x509.CRLNumber(1))],
        revoked_certificates=revoked,
    )
    der = builder.sign(pki.ca_key("card-ca"), hashes.SHA256()).public_bytes(Encoding.DER)
    return der, pki.card_ca, base + 7 * (CRL_ENTRIES - 1), base + 3  # last listed, absent


def bench_crl(work: Path) -> dict[str, float]:
    start = time.perf_counter()
    der, issuer, listed, absent = _big_crl(work)
    generated = time.perf_counter() - start

    start = time.perf_counter()
    crl = parse_crl(der, issuer=issuer)
    parsed = time.perf_counter() - start
    start = time.perf_counter()
    entry = crl.revoked_entry(listed)
    first_lookup = time.perf_counter() - start
    assert entry is not None
    start = time.perf_counter()
    for _ in range(20):
        assert crl.revoked_entry(absent) is None
        assert crl.revoked_entry(listed) is not None
    repeated = (time.perf_counter() - start) / 40

    from asn1crypto import crl as asn1_crl

    start = time.perf_counter()
    loaded = asn1_crl.CertificateList.load(der)
    found = None
    for revoked in loaded["tbs_cert_list"]["revoked_certificates"]:
        if revoked["user_certificate"].native == listed:
            found = revoked
            break
    scan = time.perf_counter() - start
    assert found is not None
    return {
        "crl_entries": float(CRL_ENTRIES),
        "crl_size_mib": len(der) / 2**20,
        "crl_generate_s": generated,
        "crl_ltv_parse_verify_s": parsed,
        "crl_ltv_first_lookup_s": first_lookup,
        "crl_ltv_lookup_after_first_s": repeated,
        "crl_ltv_total_s": parsed + first_lookup,
        "crl_asn1crypto_load_scan_s": scan,
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-revocation-") as tmp:
        work = Path(tmp)
        figures: dict[str, float] = {}
        figures.update(bench_ocsp(work))
        figures.update(bench_crl(work))
    record("revocation", figures, notes=(
        f"OCSP: ltv pki serve (uvicorn, 1 process, RSA-2048 delegated responder) on 127.0.0.1, "
        f"{CLIENTS} client processes each with one request in flight, {SECONDS:.0f} s; "
        f"CRL: {CRL_ENTRIES:,} entries signed by the card CA (RSA-2048); lookup of the last "
        f"entry. cpus={os.cpu_count()}"
    ))


if __name__ == "__main__":
    main()
