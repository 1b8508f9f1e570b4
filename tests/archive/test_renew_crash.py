"""``ltv archive renew`` killed with SIGKILL at many points, then rerun: every package's record
still verifies, no chain is duplicated, no object is lost.

Deterministic kill points come from the test hook ``LTV_ARCHIVE_CRASH_AFTER=N`` (the CLI kills
itself with SIGKILL before its N+1-th store write: lease, material blobs, batch entries); a few
more kills are real ``kill -9`` after a random delay. Each run starts from a copy of the same
store, before a timestamp renewal (year 4, after a TSA rollover) and before a hash-tree
renewal to SHA-512.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import LTV, PkiServer, free_port

from archive.ingest import IngestItem, ingest, read_entries
from archive.local import LocalStore
from archive.package import data_objects, package_ids
from archive.verify import load_evidence
from ltv.algorithms import DigestAlgorithm
from ltv.cli._services import build_services
from ltv.clock import OffsetClock, format_time
from ltv.ers import verify_evidence_record
from ltv.evidence import collect_for_tokens
from ltv.timestamps import parse_token
from samples.pki import SamplePki

EPOCH = datetime(2026, 4, 1, tzinfo=UTC)
Y4 = EPOCH + timedelta(days=4 * 365)


@dataclass
class World:
    pki: SamplePki
    pristine: Path
    work: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    work = tmp_path_factory.mktemp("crash")
    pki = SamplePki.init(work / "pki", port=free_port(), at=EPOCH)
    server = PkiServer(pki.directory, pki.port, at=EPOCH + timedelta(hours=1)).start()
    try:
        clock = OffsetClock(EPOCH + timedelta(hours=1))
        services = build_services(pki=pki.directory, clock=clock)
        assert services.timestamp_client is not None
        store = LocalStore(work / "pristine")
        for b in range(4):  # four batches of three packages
            items = [IngestItem(signed=f"contract {b}/{n}".encode(), metadata={"n": str(n)})
                     for n in range(3)]
            ingest(store, items, timestamps=services.timestamp_client, clock=clock,
                   material=lambda t: collect_for_tokens([t], services=services))
        server.stop()
        pki.rollover_tsa(at=Y4)
        server.start(at=Y4)
        yield World(pki=pki, pristine=work / "pristine", work=work)
    finally:
        server.stop()


def _keys(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and ".ltv" not in p.parts and "_mutable" not in p.parts}


def _renew_args(world: World, store: Path, extra: list[str]) -> list[str]:
    return [str(LTV), "archive", "renew", "--store", str(store), "--pki",
            str(world.pki.directory), "--at", format_time(Y4), *extra]


def _check(world: World, store_dir: Path, chains: list[int]) -> None:
    store = LocalStore(store_dir)
    assert _keys(world.pristine) <= _keys(store_dir), "an object was lost"
    ids = package_ids(store)
    assert len(ids) == 12
    batches = set()
    for pid in ids:
        evidence = load_evidence(store, pid)
        batches.add(evidence.package.manifest.batch)

        def check(token: bytes, digest: bytes, algorithm: DigestAlgorithm) -> datetime:
            parsed = parse_token(token)
            assert parsed.message_digest == digest
            assert parsed.digest_algorithm is algorithm
            return parsed.gen_time

        verify_evidence_record(evidence.record, data_objects(evidence.package),
                               verify_timestamp=check)
        assert [len(c) for c in evidence.record.chains] == chains
    for batch in batches:
        listed = sorted(p.name for p in (store_dir / "default" / "batches" / batch / "ats")
                        .iterdir())
        assert len(listed) == sum(chains), f"duplicated or missing chain entries: {listed}"
        assert len(read_entries(store, batch)) == sum(chains)


@pytest.mark.parametrize(("extra", "chains"), [
    (["--margin", "1095"], [2]),
    (["--hash-algorithm", "sha512"], [1, 1]),
], ids=["timestamp", "hash-tree"])
def test_kill_9_then_rerun(world: World, extra: list[str], chains: list[int]) -> None:
    kills = 0
    points = list(range(0, 10))
    for n in points:
        store = world.work / f"s-{extra[0][2:]}-{n}"
        shutil.copytree(world.pristine, store)
        crashed = subprocess.run(_renew_args(world, store, extra), capture_output=True,
                                 text=True, timeout=60, check=False,
                                 env={**os.environ, "LTV_ARCHIVE_CRASH_AFTER": str(n)})
        assert crashed.returncode in (0, -signal.SIGKILL), crashed.stderr
        kills += crashed.returncode == -signal.SIGKILL
        rerun = subprocess.run(_renew_args(world, store, extra), capture_output=True,
                               text=True, timeout=60, check=False)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        _check(world, store, chains)
        # and once more: nothing left to do
        again = subprocess.run(_renew_args(world, store, extra), capture_output=True,
                               text=True, timeout=60, check=False)
        assert "0 TSA calls" in again.stdout, again.stdout
    assert kills >= 5  # most points fall inside the job


def test_random_kill_9(world: World) -> None:
    rng = random.Random(4998)
    for n in range(4):
        store = world.work / f"r-{n}"
        shutil.copytree(world.pristine, store)
        args = _renew_args(world, store, ["--margin", "1095"])
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 0.9))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        rerun = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        _check(world, store, [2])


def test_no_renewal_needed_is_a_no_op(world: World) -> None:
    store = world.work / "noop"
    shutil.copytree(world.pristine, store)
    out = subprocess.run(_renew_args(world, store, []), capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0
    assert "0 TSA calls" in out.stdout
    assert _keys(store) == _keys(world.pristine)
