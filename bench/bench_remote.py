"""Remote signing: ``signatures/signHash`` throughput through HTTP with ``ltv serve --workers 2``
(each worker its own PKCS#11 thread on one SoftHSM2 token), and the authorisation round trip.

Setup: a fresh sample PKI, a SoftHSM2 token in a temporary directory, a tenant, two users
enrolled with software passkeys (P-256 and RSA-2048). Throughput: SADs authorised first (each
for a batch of hashes), then all ``signHash`` calls fired with CALLS_IN_FLIGHT in flight (httpx
AsyncClient). Latency: getChallenge + passkey assertion + authorize, one after the other.
SoftHSM2's own RSA-2048 limit on 2 cores is about 1,000 sig/s (research/remote-signing.md §1.3).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.harness import LTV, ltv_serving, record, served_pki
from ltv.algorithms import DigestAlgorithm
from ltv.online.csc import CscClient
from samples.passkey import SoftPasskey
from samples.softhsm import init_token

CALLS_IN_FLIGHT = 16
PLAN = {"p256": (100, 60), "rsa2048": (50, 30)}  # key: (hashes per call, calls)
AUTH_ROUNDS = 40


@contextlib.contextmanager
def _serve(work: Path, pki_dir: Path) -> Iterator[tuple[str, str]]:
    token = init_token(work / "hsm")
    store = (work / "store").as_uri()
    env = {**os.environ, **token.environment}
    key = subprocess.run([str(LTV), "tenant", "add", "bench", "--store", store], check=True,
                         capture_output=True, text=True, env=env).stdout.strip()
    with ltv_serving("--workers", "2", "--store", store, "--pki", str(pki_dir),
                     "--pkcs11-module", str(token.module), "--token-label", token.label,
                     "--pin-file", str(token.pin_file), log=work / "api.log", env=env) as server:
        yield server.base, key


def _enroll(base: str, key: str, user: str, algorithm: str, directory: Path
            ) -> tuple[CscClient, SoftPasskey, str]:
    client = CscClient(base)
    client.login(user, key)
    options = client.call("ltv/enroll/begin", {"key_algorithm": algorithm})
    enrolment_id = options.pop("enrolment_id")
    passkey, response = SoftPasskey.create(directory, options, origin="http://localhost")
    answer = client.call("ltv/enroll/complete", {"enrolment_id": enrolment_id,
                                                 "credential": response})
    return client, passkey, str(answer["credentialID"])


async def _fire(base: str, token: str, bodies: list[dict[str, object]]) -> float:
    limits = httpx.Limits(max_connections=CALLS_IN_FLIGHT)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        gate = asyncio.Semaphore(CALLS_IN_FLIGHT)

        async def one(body: dict[str, object]) -> None:
            async with gate:
                response = await http.post("/csc/v2/signatures/signHash", json=body)
                if response.status_code != 200:
                    raise RuntimeError(f"signHash failed: {response.text[:300]}")

        start = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        return time.perf_counter() - start


def main() -> None:
    figures: dict[str, object] = {"workers": 2, "calls_in_flight": CALLS_IN_FLIGHT}
    with tempfile.TemporaryDirectory(prefix="bench-remote-") as tmp:
        work = Path(tmp)
        pki_dir = work / "pki"
        with served_pki(pki_dir), _serve(work, pki_dir) as (base, key):
            for algorithm, (batch, calls) in PLAN.items():
                client, passkey, cid = _enroll(base, key, f"bench-{algorithm}", algorithm,
                                               work / f"passkey-{algorithm}")
                sign_algo = "1.2.840.10045.4.3.2" if algorithm == "p256" \
                    else "1.2.840.113549.1.1.11"
                bodies: list[dict[str, object]] = []
                for i in range(calls):
                    hashes = [hashlib.sha256(b"%d/%d" % (i, j)).digest() for j in range(batch)]
                    sad = client.authorize(cid, DigestAlgorithm.SHA256, hashes, passkey.get)
                    bodies.append({"credentialID": cid, "SAD": sad, "signAlgo": sign_algo,
                                   "hashes": [base64.b64encode(h).decode() for h in hashes]})
                assert client.token is not None
                elapsed = asyncio.run(_fire(base, client.token, bodies))
                figures[f"{algorithm}_signatures"] = batch * calls
                figures[f"{algorithm}_hashes_per_call"] = batch
                figures[f"{algorithm}_signhash_per_s"] = batch * calls / elapsed
                if algorithm == "p256":
                    start = time.perf_counter()
                    for i in range(AUTH_ROUNDS):
                        client.authorize(cid, DigestAlgorithm.SHA256,
                                         [hashlib.sha256(b"auth %d" % i).digest()], passkey.get)
                    figures["authorisation_round_trip_ms"] = \
                        (time.perf_counter() - start) / AUTH_ROUNDS * 1000
                client.close()
    record("remote", figures, notes=(
        "signatures/signHash through HTTP against ltv serve --workers 2 (loopback, file: store, "
        "SoftHSM2 2.6.1 token, one PKCS#11 thread per worker); SADs authorised beforehand. "
        "authorisation_round_trip_ms: getChallenge + software passkey assertion + authorize, "
        "sequential, one hash."))


if __name__ == "__main__":
    main()
