"""Beyond one machine (issue #16), on the real multi-process SeaweedFS cluster
(``seaweed_cluster``: 1 master, 3 volume servers with replication 001, a filer with S3):

* node loss: a volume server is SIGKILLed during an ingest and a renewal, later restarted; the
  S3 gateway is SIGKILLed too, so operations fail for a while: they report one clear error and
  succeed when retried. Every acknowledged package is readable afterwards, nothing else is
  visible, and ``ltv archive verify --all`` passes for all of them;
* sharded workers: ``ltv archive renew --shard I/N`` workers run at once, each under its own
  fenced lease; a worker killed mid-run (SIGKILL) leaves its shard to the next run;
  ``ltv archive verify --all --shard I/N`` workers split the packages and write JSON summaries;
* API replicas: two ``ltv serve`` processes share the bucket; ingests through both at once give
  no duplicate and no lost package, and a session prepared on one is finished on the other.

The whole module shares one cluster (session-scoped, started by the first test that needs it).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import LTV, SERVER_AT, PkiServer, ltv_cli
from server_helpers import b64, session_body

from archive.errors import StoreError
from archive.ingest import IngestItem, batch_ids, ingest, prepare_item, read_entries
from archive.package import package_ids, read_package
from archive.renew import renew
from archive.s3 import S3Store
from archive.shard import Shard
from bench.harness import LtvServe
from ltv.cli._services import build_services
from ltv.clock import OffsetClock, format_time
from ltv.evidence import EvidenceSet, collect_for_tokens
from ltv.tbs import DataToBeSigned
from samples.cluster import SeaweedCluster
from samples.phone import Phone
from samples.pki import SamplePki

AT = SERVER_AT + timedelta(hours=2)
CHECK_AT = SERVER_AT + timedelta(hours=6)
_buckets = itertools.count(1)


def _bucket(name: str) -> str:
    return f"ltv-{name}-{os.getpid()}-{next(_buckets)}"


def _store(cluster: SeaweedCluster, bucket: str, **kwargs: Any) -> S3Store:
    return S3Store(endpoint=cluster.endpoint, access_key=cluster.access_key,
                   secret_key=cluster.secret_key, bucket=bucket, **kwargs)


def _probe(cluster: SeaweedCluster) -> Any:
    def probe() -> None:
        _store(cluster, "ltv-probe", retry_time=0).write_once_mode()
    return probe


@pytest.fixture(scope="module")
def signed(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone,
           tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("cluster-signed")
    (work / "c.txt").write_bytes(b"A contract kept on a cluster that loses a node\n")
    done = ltv_cli("sign", work / "c.txt", "--format", "cades", "--level", "B-LTA",
                   "--phone", phone_rsa.directory, "--pki", pki.directory, "-o", work / "c.p7s")
    assert done.returncode == 0, done.stderr
    return work / "c.p7s"


@pytest.fixture(scope="module")
def services(pki: SamplePki, pki_server: PkiServer) -> Any:
    return build_services(pki=pki.directory, clock=OffsetClock(AT))


@pytest.fixture(scope="module")
def item(signed: Path, services: Any, pki: SamplePki) -> IngestItem:
    from ltv.validation import load_trust_anchors

    return prepare_item(signed.read_bytes(), services=services, at=AT, signed_name="c.p7s",
                        trust_anchors=list(load_trust_anchors([pki.directory / "root.pem"])))


def _items(item: IngestItem, start: int, count: int) -> list[IngestItem]:
    return [dataclasses.replace(item, metadata={"contract-id": f"C-{n:05d}"})
            for n in range(start, start + count)]


def _material(services: Any) -> Any:
    def material(token: bytes) -> EvidenceSet:
        return collect_for_tokens([token], services=services, at=AT)
    return material


class KillAfter:
    """The store, but the S3 gateway is SIGKILLed just before write number ``writes``."""

    def __init__(self, inner: S3Store, cluster: SeaweedCluster, *, writes: int) -> None:
        self._inner = inner
        self._cluster = cluster
        self._left = writes

    def put(self, *args: Any, **kwargs: Any) -> None:
        self._left -= 1
        if self._left == 0:
            self._cluster.kill("filer")
        self._inner.put(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _cli_env(cluster: SeaweedCluster) -> dict[str, str]:
    return {**cluster.env(), "LTV_S3_RETRY_SECONDS": "20"}


# --- node loss -------------------------------------------------------------------------------


def test_node_loss_during_ingest_and_renewal(seaweed_cluster: SeaweedCluster, item: IngestItem,
                                              services: Any, pki: SamplePki,
                                              tmp_path: Path) -> None:
    cluster = seaweed_cluster
    bucket = _bucket("loss")
    store = _store(cluster, bucket)
    clock = OffsetClock(AT)
    acked: list[str] = []

    def ingest_batches(first: int, batches: int) -> None:
        for b in range(first, first + batches):
            acked.extend(ingest(store, _items(item, b * 4, 4), timestamps=services.timestamp_client,
                                clock=clock, material=_material(services)))

    ingest_batches(0, 3)
    assert set(cluster.volume_copies().values()) == {2}  # replication 001: two copies each
    # a volume server dies (SIGKILL) while an ingest and a renewal run
    cluster.kill_volume(1)
    renewal: dict[str, Any] = {}

    def renewer() -> None:
        renewal["summary"] = renew(store, timestamps=services.timestamp_client,
                                   clock=OffsetClock(AT + timedelta(minutes=30)),
                                   margin=timedelta(days=100_000), material=_material(services))

    worker = threading.Thread(target=renewer)
    worker.start()
    ingest_batches(3, 6)
    worker.join(timeout=120)
    assert renewal["summary"].timestamp_renewed >= 3, renewal
    assert len(acked) == 36
    # the S3 gateway dies too: with a short retry budget an operation reports one clear error
    # (killed in the middle of an ingest: after its first blobs were written)
    impatient = _store(cluster, bucket, retry_time=0.5)
    with pytest.raises(StoreError) as info:
        ingest(KillAfter(impatient, cluster, writes=3), _items(item, 9000, 4),
               timestamps=services.timestamp_client, clock=clock, material=_material(services))
    assert re.fullmatch(rf"while writing default/(blobs|pending)/\S+ to s3://{bucket}/: "
                        r"no answer from the server \(.*Connection refused\) "
                        r"\(gave up after \d+ attempts in 0.5 s\)", str(info.value)), info.value
    cluster.restart("filer", probe=_probe(cluster))
    cluster.start_volume(1)
    # the failed ingest, tried again, succeeds; its first attempt left nothing visible
    acked += ingest(impatient, _items(item, 9000, 4), timestamps=services.timestamp_client,
                    clock=clock, material=_material(services))
    ingest_batches(10, 3)  # and more after the restart: 52 packages in all
    assert len(acked) == 52
    visible = package_ids(store)
    assert sorted(visible) == sorted(acked)  # no half-visible package, none lost
    for pid in acked:
        read_package(store, pid)
    assert set(cluster.volume_copies().values()) == {2}  # two copies of every volume again

    # every package passes ltv archive verify (--all: batch by batch, a JSON summary)
    out = tmp_path / "summary.json"
    verified = ltv_cli("archive", "verify", "--all", "--store", f"s3://{bucket}", "--at",
                       format_time(CHECK_AT), "--trust", pki.directory / "root.pem",
                       "--summary", out, env=_cli_env(cluster))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("52 packages in 13 batches: 52 passed, 0 failed, "
                                      "0 unpublished; weakest evidence: "), verified.stdout
    report = json.loads(out.read_text())
    assert report["schema"] == "ltv.verify-all/1"
    assert (report["packages"], report["passed"], report["failed"]) == (52, 52, 0)
    assert report["weakest_evidence"]["digest_algorithm"] == "sha256"
    assert report["weakest_evidence"]["package"] in acked


# --- sharded renewal and verification workers ------------------------------------------------


def _renewed(store: S3Store, batches: list[str]) -> int:
    """How many of ``batches`` have been renewed (at least once: the margin makes every batch
    due, so a batch the killed worker renewed is renewed again by the rerun)."""
    return sum(1 for b in batches if len(read_entries(store, b)) >= 2)


def test_sharded_workers_with_their_own_leases(seaweed_cluster: SeaweedCluster,
                                               item: IngestItem, services: Any, pki: SamplePki,
                                               tmp_path: Path) -> None:
    cluster = seaweed_cluster
    bucket = _bucket("shards")
    store = _store(cluster, bucket)
    zero, one = Shard(0, 2), Shard(1, 2)
    n = 0
    while True:  # batch ids are random: ingest until each shard has three batches
        ingest(store, _items(item, n, 1), timestamps=services.timestamp_client,
               clock=OffsetClock(AT), material=_material(services))
        n += 1
        batches = batch_ids(store)
        mine = {s: [b for b in batches if s.owns_batch(b)] for s in (zero, one)}
        if min(len(v) for v in mine.values()) >= 3:
            break
        assert n < 40
    url = f"s3://{bucket}"
    env = _cli_env(cluster)
    renew_args = ["archive", "renew", "--store", url, "--pki", str(pki.directory), "--at",
                  format_time(AT + timedelta(hours=1)), "--margin", "100000"]
    # worker 1 takes the lease of shard 1/2 and is paused there
    marker = tmp_path / "pause"
    paused = subprocess.Popen([str(LTV), *renew_args, "--shard", "1/2"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env={**os.environ, **env,
                                   "LTV_ARCHIVE_PAUSE_AFTER_LEASE": str(marker)})
    try:
        _wait_for(Path(f"{marker}.paused"), paused)
        # a second worker on the same shard is refused: the shard's lease is held
        same = ltv_cli(*renew_args, "--shard", "1/2", env=env)
        assert same.returncode == 4, same.stdout + same.stderr
        assert same.stderr.strip() == ("ltv: error: another renewer holds the lease "
                                       "_mutable/default/renew-1-of-2.lease; try again later")
        # shard 0/2 runs at the same time; its worker is killed (SIGKILL) mid-run
        killed = ltv_cli(*renew_args, "--shard", "0/2",
                         env={**env, "LTV_ARCHIVE_CRASH_AFTER": "3"})
        assert killed.returncode == -9, killed.stdout + killed.stderr
        assert _renewed(store, mine[zero]) < len(mine[zero])
        # the next run of shard 0/2 (its dead holder's lease is broken) finishes the shard
        again = ltv_cli(*renew_args, "--shard", "0/2", env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert again.stdout.startswith(f"tenant default shard 0/2: {len(mine[zero])} batches "
                                       "checked; renewed "), again.stdout
        assert _renewed(store, mine[zero]) == len(mine[zero])
        assert _renewed(store, mine[one]) == 0  # nobody touched shard 1 meanwhile
        Path(f"{marker}.resume").write_text("go")
        out, err = paused.communicate(timeout=120)
    finally:
        if paused.poll() is None:
            paused.kill()
            paused.wait()
    assert paused.returncode == 0, out + err
    assert out.startswith(f"tenant default shard 1/2: {len(mine[one])} batches checked; "
                          f"renewed {len(mine[one])} by timestamp"), out
    assert _renewed(store, batches) == len(batches)

    # two verification workers at once, one per shard, each with its JSON summary
    workers = [subprocess.Popen(
        [str(LTV), "archive", "verify", "--all", "--shard", f"{i}/2", "--store", url, "--at",
         format_time(CHECK_AT), "--trust", str(pki.directory / "root.pem"), "--summary",
         str(tmp_path / f"verify-{i}.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
        for i in range(2)]
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, out + err
    summaries = [json.loads((tmp_path / f"verify-{i}.json").read_text()) for i in range(2)]
    assert [s["shard"] for s in summaries] == ["0/2", "1/2"]
    assert [s["batches"] for s in summaries] == [len(mine[zero]), len(mine[one])]
    assert sum(s["packages"] for s in summaries) == n
    assert sum(s["passed"] for s in summaries) == n
    assert all(s["failed"] == 0 for s in summaries)
    for s in summaries:  # after the renewal the weakest record has two archive timestamps
        assert s["weakest_evidence"]["archive_timestamps"] >= 2
    bad = ltv_cli("archive", "verify", "--all", "--shard", "2/2", "--store", url, env=env)
    assert bad.returncode == 4
    assert bad.stderr.strip() == ("ltv: error: bad shard 2/2 (use I/N with 0 <= I < N <= "
                                  "4096)")
    both = ltv_cli("archive", "verify", "0" * 64, "--all", "--store", url, env=env)
    assert both.returncode == 4
    assert both.stderr.strip() == ("ltv: error: give either ID or --all (--shard and "
                                   "--summary go with --all)")


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    import time

    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the worker never took its lease"
        time.sleep(0.05)


# --- API replicas ----------------------------------------------------------------------------


@pytest.fixture
def replicas(seaweed_cluster: SeaweedCluster, pki: SamplePki,
             tmp_path: Path) -> Iterator[tuple[list[LtvServe], dict[str, str], str]]:
    bucket = _bucket("replicas")
    url = f"s3://{bucket}"
    env = {**os.environ, **_cli_env(seaweed_cluster)}
    added = ltv_cli("tenant", "add", "acme", "--store", url, env=env)
    assert added.returncode == 0, added.stderr
    auth = {"Authorization": f"Bearer {added.stdout.strip()}"}
    started: dict[str, LtvServe | BaseException] = {}

    def start(name: str) -> None:  # both at once: each waits for its /healthz
        try:
            started[name] = LtvServe("--pki", str(pki.directory), "--tenant-concurrency", "16",
                                     store=url, env=env, log=tmp_path / f"serve-{name}.log")
        except BaseException as exc:
            started[name] = exc

    threads = [threading.Thread(target=start, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    servers = [s for s in (started["a"], started["b"]) if isinstance(s, LtvServe)]
    try:
        for outcome in started.values():
            if isinstance(outcome, BaseException):
                raise outcome
        yield servers, auth, bucket
    finally:
        for server in servers:
            server.stop()


def test_two_api_replicas_share_the_cluster(replicas: tuple[list[LtvServe], dict[str, str], str],
                                            seaweed_cluster: SeaweedCluster, signed: Path,
                                            phone_rsa: Phone) -> None:
    servers, auth, bucket = replicas
    bases = itertools.cycle([s.base for s in servers])  # a small round-robin client
    created: list[str] = []
    errors: list[str] = []

    def post(n: int, base: str) -> None:
        answer = httpx.post(f"{base}/v1/archive", headers=auth, timeout=120,
                            files={"file": ("c.p7s", signed.read_bytes())},
                            data={"meta": [f"contract-id=R-{n}"]})
        if answer.status_code == 201:
            created.append(answer.json()["id"])
        else:
            errors.append(answer.text)

    threads = [threading.Thread(target=post, args=(n, next(bases))) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert errors == []
    assert len(created) == len(set(created)) == 12  # no duplicate
    for server in servers:  # each replica lists every package: none lost
        listed: list[str] = []
        after: str | None = ""
        while after is not None:
            page = httpx.get(f"{server.base}/v1/archive", headers=auth, timeout=30,
                             params={"limit": 5, **({"after": after} if after else {})}).json()
            listed += [p["id"] for p in page["items"]]
            after = page["next"]
        assert listed == sorted(created)
    assert sorted(package_ids(_store(seaweed_cluster, bucket), tenant="acme")) == \
        sorted(created)

    # a session prepared on replica a is finished on replica b, exactly once
    a, b = servers
    session = httpx.post(f"{a.base}/v1/signing-sessions", headers=auth, timeout=120,
                         json=session_body(b"A contract signed across replicas\n", phone_rsa,
                                           format="cades", level="B-T"))
    assert session.status_code == 201, session.text
    body = session.json()
    value = phone_rsa.sign(DataToBeSigned.from_json(body["data_to_be_signed"]))
    finished = httpx.post(b.base + body["signature_url"], headers=auth, timeout=120,
                          json={"signature_value": b64(value)})
    assert finished.status_code == 200, finished.text
    again = httpx.post(a.base + body["signature_url"], headers=auth, timeout=60,
                       json={"signature_value": b64(value)})
    assert again.status_code == 409, again.text
