"""`ltv serve --tsa-key/--tsa-cert` also serves our RFC 3161 TSA at /tsa; openssl checks it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import free_port

from samples.pki import SamplePki


def test_api_serves_the_tsa_at_slash_tsa(pki: SamplePki, tmp_path: Path) -> None:
    port = free_port()
    ltv = str(Path(sys.executable).with_name("ltv"))
    server = subprocess.Popen(
        [ltv, "serve", "--port", str(port), "--store", str(tmp_path / "store"),
         "--tsa-key", str(pki.directory / "private" / "tsa-1.pem"),
         "--tsa-cert", str(pki.directory / "tsa-history" / "tsa-1.pem"),
         "--tsa-chain", str(pki.directory / "root.pem"),
         "--tsa-state-dir", str(tmp_path / "tsa-state"), "--public-tsa"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "ltv serve did not come up"
            time.sleep(0.05)
        (tmp_path / "data.txt").write_text("契約書\n", encoding="utf-8")
        subprocess.run(["openssl", "ts", "-query", "-sha256", "-cert", "-data",
                        str(tmp_path / "data.txt"), "-out", str(tmp_path / "q.tsq")], check=True,
                       capture_output=True)
        reply = httpx.post(f"http://127.0.0.1:{port}/tsa",
                           content=(tmp_path / "q.tsq").read_bytes(),
                           headers={"Content-Type": "application/timestamp-query"})
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"] == "application/timestamp-reply"
        (tmp_path / "r.tsr").write_bytes(reply.content)
        check = subprocess.run(
            ["openssl", "ts", "-verify", "-queryfile", str(tmp_path / "q.tsq"), "-in",
             str(tmp_path / "r.tsr"), "-CAfile", str(pki.directory / "root.pem"), "-untrusted",
             str(pki.directory / "tsa-history" / "tsa-1.pem")],
            capture_output=True, text=True, check=False)
        assert "Verification: OK" in check.stdout, check.stdout + check.stderr
        garbage = httpx.post(f"http://127.0.0.1:{port}/tsa", content=b"\x30\x03garbage",
                             headers={"Content-Type": "application/timestamp-query"})
        assert garbage.status_code < 500
    finally:
        server.terminate()
        server.wait(timeout=20)
