"""Beyond one machine (issue #16): the archive on a real multi-process SeaweedFS cluster.

Setup (not timed): :class:`samples.cluster.SeaweedCluster` (1 master, 3 volume servers with
replication 001 = 2 copies, a filer with the S3 gateway) under a temporary directory; a sample
PKI served on loopback (``bench.harness.served_pki``); one small contract signed CAdES B-LTA with
``ltv sign``.

Timed:

* **API ingest**: ``POST /v1/archive`` (one package per request, so one batch and one TSA call
  each), 8 requests in flight, through 1 and then 2 ``ltv serve`` replicas (round-robin) sharing
  the cluster; packages/s.
* **Node loss** (the issue's long run): ``SCALE_PACKAGES`` packages (default 1,000) ingested with
  the library in batches of 10 while a timestamp renewal runs; volume server 1 is SIGKILLed at 30 %
  and restarted at 60 %; every acknowledged package is read back afterwards. Failed ingests
  (reported errors) are retried and counted, as are the S3 requests the store resent.
* **Renewal**: ``archive.renew.renew`` (timestamp renewal of every batch, one TSA call for all)
  over the node-loss archive; records (packages) renewed per second.
* **Verify all**: ``ltv archive verify --all`` with 1 worker, then 2 workers at once
  (``--shard 0/2`` and ``--shard 1/2``); packages/s, all must pass.
* Objects and bytes per package, from a listing of the API bucket (tenant prefix, plus the
  audit trail and the store's own objects).

The machine is shared and noisy: ``loadavg`` is recorded with the figures.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from archive.errors import ArchiveError
from archive.ingest import ingest, prepare_item
from archive.package import package_ids, read_package
from archive.renew import renew
from archive.s3 import S3Store
from bench.harness import LtvServe, record, served_pki
from ltv.cli._services import build_services
from ltv.clock import SystemClock
from ltv.evidence import EvidenceSet, collect_for_tokens
from ltv.validation import load_trust_anchors
from samples.cluster import SeaweedCluster

LTV = Path(sys.executable).with_name("ltv")
KEY, SECRET = "ltvbenchkey", "ltvbenchsecret-0123456789"
API_PACKAGES = 120
IN_FLIGHT = 8
BATCH = 10


def _store(cluster: SeaweedCluster, bucket: str) -> S3Store:
    return S3Store(endpoint=cluster.endpoint, access_key=KEY, secret_key=SECRET, bucket=bucket)


async def _post_all(bases: list[str], auth: dict[str, str], signed: bytes, count: int) -> float:
    """packages/s of ``count`` POST /v1/archive, IN_FLIGHT at a time, round-robin over bases."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    robin = itertools.cycle(bases)
    async with httpx.AsyncClient(timeout=300, headers=auth) as http:

        async def one(n: int) -> None:
            async with gate:
                answer = await http.post(f"{next(robin)}/v1/archive",
                                         files={"file": ("c.p7s", signed)},
                                         data={"meta": [f"contract-id=B-{n}"]})
                if answer.status_code != 201:
                    raise RuntimeError(f"ingest failed: {answer.text[:300]}")

        await one(-1)  # warm-up
        start = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        return count / (time.perf_counter() - start)


def _api_ingest(cluster: SeaweedCluster, work: Path, pki_dir: Path, signed: bytes,
                replicas: int) -> tuple[float, str]:
    bucket = f"scale-api-{replicas}"
    env = {**os.environ, **cluster.env()}
    key = subprocess.run([str(LTV), "tenant", "add", "bench", "--store", f"s3://{bucket}"],
                         check=True, capture_output=True, text=True, env=env).stdout.strip()
    servers = [LtvServe("--pki", str(pki_dir), "--tenant-concurrency", "64", store=f"s3://{bucket}",
                        env=env, log=work / f"serve-{replicas}-{n}.log") for n in range(replicas)]
    try:
        rate = asyncio.run(_post_all([s.base for s in servers],
                                     {"Authorization": f"Bearer {key}"}, signed, API_PACKAGES))
    finally:
        for server in servers:
            server.stop()
    return rate, bucket


def _objects(store: S3Store) -> dict[str, tuple[int, int]]:
    """(objects, bytes) per top-level area: the tenant's evidence, audit, the store's own."""
    out: dict[str, tuple[int, int]] = {}
    for info in store.list():
        parts = info.key.split("/")
        area = parts[0]
        if area == "bench":  # the tenant: evidence, and per kind of object
            kind = f"evidence/{parts[1]}" + ("/" + parts[3] if parts[1] == "batches" else "")
            count, size = out.get(kind, (0, 0))
            out[kind] = (count + 1, size + info.size)
            area = "evidence"
        count, size = out.get(area, (0, 0))
        out[area] = (count + 1, size + info.size)
    return out


def _node_loss(cluster: SeaweedCluster, item: Any, services: Any, total: int) -> dict[str, Any]:
    store = _store(cluster, "scale-loss")
    material = _material(services)
    acked: list[str] = []
    failures: list[str] = []
    batches = total // BATCH
    renewal: dict[str, Any] = {}
    start = time.perf_counter()
    for b in range(batches):
        if b == int(batches * 0.3):
            cluster.kill_volume(1)
            worker = threading.Thread(target=lambda: renewal.update(summary=renew(
                store, timestamps=services.timestamp_client, margin=timedelta(days=100_000),
                material=material)))
            worker.start()
        if b == int(batches * 0.6):
            cluster.start_volume(1)
        items = [dataclasses.replace(item, metadata={"contract-id": f"L-{b}-{n}"})
                 for n in range(BATCH)]
        while True:
            try:
                acked += ingest(store, items, timestamps=services.timestamp_client,
                                material=material)
                break
            except ArchiveError as exc:  # reported; tried again
                failures.append(str(exc))
    elapsed = time.perf_counter() - start
    worker.join()
    visible = set(package_ids(store))
    lost = [pid for pid in acked if pid not in visible]
    for pid in acked:
        read_package(store, pid)
    return {"store": store, "acked": len(acked), "lost": len(lost),
            "extra_visible": len(visible - set(acked)), "failed_ingests": len(failures),
            "resent_requests": store.retries, "ingest_s": elapsed,
            "renewal_during_loss": renewal["summary"].line()}


def _material(services: Any) -> Any:
    def material(token: bytes) -> EvidenceSet:
        return collect_for_tokens([token], services=services, at=SystemClock().now())
    return material


def _verify(cluster: SeaweedCluster, pki_dir: Path, work: Path, workers: int,
            expected: int) -> float:
    env = {**os.environ, **cluster.env()}
    start = time.perf_counter()
    procs = [subprocess.Popen(
        [str(LTV), "archive", "verify", "--all", "--store", "s3://scale-loss", "--trust",
         str(pki_dir / "root.pem"), "--summary", str(work / f"verify-{workers}-{i}.json"),
         *(["--shard", f"{i}/{workers}"] if workers > 1 else [])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for i in range(workers)]
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"verify --all failed: {out[-2000:]} {err[-2000:]}")
    elapsed = time.perf_counter() - start
    import json

    passed = sum(json.loads((work / f"verify-{workers}-{i}.json").read_text())["passed"]
                 for i in range(workers))
    if passed != expected:
        raise RuntimeError(f"verify --all passed {passed} of {expected}")
    return expected / elapsed


def main() -> None:
    total = int(os.environ.get("SCALE_PACKAGES", "1000"))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        pki_dir = work / "pki"
        cluster = SeaweedCluster(work / "cluster", access_key=KEY, secret_key=SECRET)
        with served_pki(pki_dir), cluster.start(
                probe=lambda: _store(cluster, "ltv-probe").write_once_mode()):
            signer = work / "signer"
            subprocess.run([str(LTV), "pki", "issue", str(pki_dir), "Bench Signer", "--out",
                            str(signer)], check=True, capture_output=True)
            (work / "c.txt").write_bytes(b"A contract among a billion\n")
            subprocess.run([str(LTV), "sign", str(work / "c.txt"), "--format", "cades",
                            "--level", "B-LTA", "--key", str(signer / "key.pem"), "--cert",
                            str(signer / "cert.pem"), "--chain", str(signer / "chain.pem"),
                            "--pki", str(pki_dir), "-o", str(work / "c.p7s")],
                           check=True, capture_output=True)
            signed = (work / "c.p7s").read_bytes()
            api1, bucket1 = _api_ingest(cluster, work, pki_dir, signed, 1)
            api2, _ = _api_ingest(cluster, work, pki_dir, signed, 2)
            areas = _objects(_store(cluster, bucket1))
            packages = API_PACKAGES + 1
            services = build_services(pki=pki_dir, clock=SystemClock())
            if services.timestamp_client is None:
                raise RuntimeError("the sample PKI has no TSA")
            item = prepare_item(signed, services=services, at=SystemClock().now(),
                                signed_name="c.p7s",
                                trust_anchors=list(load_trust_anchors([pki_dir / "root.pem"])))
            loss = _node_loss(cluster, item, services, total)
            store = loss.pop("store")
            start = time.perf_counter()
            summary = renew(store, timestamps=services.timestamp_client,
                            margin=timedelta(days=100_000), material=_material(services))
            renew_s = time.perf_counter() - start
            verify1 = _verify(cluster, pki_dir, work, 1, loss["acked"])
            verify2 = _verify(cluster, pki_dir, work, 2, loss["acked"])
            copies = sorted(set(cluster.volume_copies().values()))
    evidence_objects, evidence_bytes = areas.get("evidence", (0, 0))
    all_objects = sum(c for k, (c, _) in areas.items() if "/" not in k)
    all_bytes = sum(s for k, (_, s) in areas.items() if "/" not in k)
    record("scale", {
        "api_ingest_packages_per_s_1_replica": api1,
        "api_ingest_packages_per_s_2_replicas": api2,
        "api_packages": API_PACKAGES,
        "api_in_flight": IN_FLIGHT,
        "objects_per_package_evidence": evidence_objects / packages,
        "bytes_per_package_evidence": evidence_bytes / packages,
        "objects_per_package_all": all_objects / packages,
        "bytes_per_package_all": all_bytes / packages,
        "objects_by_area": {k: {"objects": c, "bytes": s} for k, (c, s) in areas.items()},
        "node_loss_packages": total,
        "node_loss_batch_size": BATCH,
        **{f"node_loss_{k}": v for k, v in loss.items()},
        "node_loss_ingest_packages_per_s": loss["acked"] / loss["ingest_s"],
        "renewal_records": loss["acked"],
        "renewal_seconds": renew_s,
        "renewal_records_per_s": loss["acked"] / renew_s,
        "renewal_summary": summary.line(),
        "verify_all_packages_per_s_1_worker": verify1,
        "verify_all_packages_per_s_2_workers": verify2,
        "volume_copies_after": copies,
        "loadavg_before": list(load_before),
        "loadavg_after": list(os.getloadavg()),
    }, notes=(
        "SeaweedFS 4.48 cluster on one host (1 master, 3 volume servers, replication 001, filer "
        "+ S3), sample PKI TSA on loopback. API ingest: one package per request (one batch, one "
        "TSA call each), 8 in flight. Node loss: volume server 1 SIGKILLed at 30 % of the "
        "ingest, restarted at 60 %. The machine is shared (see loadavg): figures are a floor."
    ))


if __name__ == "__main__":
    main()
