"""Session fixtures shared by the whole suite: the sample PKI, its live servers, enrolled phones.

Everything runs on 127.0.0.1 with ports picked at run time (pytest-xdist gives each worker its
own session, hence its own PKI and server). Time never depends on today's date: the PKI is made
at :data:`PKI_EPOCH` and the server runs with ``--at`` :data:`SERVER_AT`.

* ``pki``: a :class:`samples.pki.SamplePki` initialised at ``PKI_EPOCH`` on a free port.
* ``pki_server``: ``ltv pki serve DIR --at SERVER_AT`` as a subprocess (``.base_url``,
  ``.tsa_url``, ``.stop()``, ``.restart(at=...)``; restore the default with ``restart()``).
* ``phone_rsa``, ``phone_ec``: :class:`samples.phone.Phone` enrolled at ``SERVER_AT``.
* ``ltv_cli(*args)``: runs the ``ltv`` console script; also importable (``from conftest import
  ltv_cli``) and offered as a fixture of the same name.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ltv.clock import format_time
from samples.phone import Phone
from samples.pki import SamplePki

# English unless a test asks for Japanese: a developer's ja locale (LANG=ja_JP.UTF-8) must not
# change what the suite reads; LTV_LANG outranks the locale (tests of the locale set it empty)
os.environ["LTV_LANG"] = "en"

PKI_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
SERVER_AT = PKI_EPOCH + timedelta(days=1)
LTV = Path(sys.executable).with_name("ltv")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ltv_cli(*args: str | os.PathLike[str], input: bytes | str | None = None,
            text: bool = True, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[Any]:
    """Run ``ltv ARGS...`` (the console script next to sys.executable); never raises on exit."""
    if text and isinstance(input, bytes):
        input = input.decode()
    return subprocess.run(
        [str(LTV), *map(str, args)], input=input, capture_output=True, text=text,
        timeout=timeout, check=False, env={**os.environ, **(env or {})},
    )


@pytest.fixture(name="ltv_cli", scope="session")
def _ltv_cli_fixture() -> object:
    return ltv_cli


class PkiServer:
    """``ltv pki serve DIR --at T`` as a child process, ready when /healthz answers."""

    def __init__(self, directory: Path, port: int, *, at: datetime = SERVER_AT) -> None:
        self.directory = Path(directory)
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.tsa_url = f"{self.base_url}/tsa"
        self.default_at = at
        self.at = at
        self.log = self.directory.parent / f"server-{port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, at: datetime | None = None) -> PkiServer:
        if self._process is not None:
            raise RuntimeError("already running")
        self.at = at if at is not None else self.default_at
        log = self.log.open("ab")
        self._process = subprocess.Popen(
            [str(LTV), "pki", "serve", str(self.directory), "--at", format_time(self.at)],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise RuntimeError(f"ltv pki serve exited ({code}): {self.log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ltv pki serve did not come up: {self.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self, at: datetime | None = None) -> PkiServer:
        """Stop and start again with the clock at ``at`` (default: the initial time)."""
        self.stop()
        return self.start(at)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SamplePki:
    directory = tmp_path_factory.mktemp("pki-session") / "pki"
    return SamplePki.init(directory, port=free_port(), at=PKI_EPOCH)


@pytest.fixture(scope="session")
def pki_server(pki: SamplePki) -> Iterator[PkiServer]:
    server = PkiServer(pki.directory, pki.port).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def phone_rsa(pki: SamplePki, tmp_path_factory: pytest.TempPathFactory) -> Phone:
    return Phone.enroll(tmp_path_factory.mktemp("phone-rsa") / "phone", pki, key="rsa2048",
                        at=SERVER_AT)


@pytest.fixture(scope="session")
def phone_ec(pki: SamplePki, tmp_path_factory: pytest.TempPathFactory) -> Phone:
    return Phone.enroll(tmp_path_factory.mktemp("phone-ec") / "phone", pki, key="p256",
                        at=SERVER_AT)
