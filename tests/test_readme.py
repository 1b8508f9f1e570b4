"""Executable docs: the README walkthrough runs exactly as written (STYLE.md, "Surface").

The block under "## Walkthrough" is replayed line by line with bash from a new directory inside a
copy of the checkout layout; the only substitution is the port (a free one instead of 8380), so
parallel test workers do not collide. A line ending in ``&`` starts a server: the test waits for
its /healthz before going on, and stops it at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def walkthrough_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Walkthrough", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README walkthrough has no sh block"
    commands: list[str] = []
    pending = ""
    for raw in block.group(1).splitlines():
        line = raw.rstrip()
        if pending:
            line = pending + " " + line.strip()
            pending = ""
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        code = line.split("  #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if code:
            commands.append(code)
    return commands


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    commands = walkthrough_commands()
    assert commands[0] == "source .venv/bin/activate && mkdir try && cd try"
    shutil.copytree(ROOT / "samples" / "contracts", tmp_path / "samples" / "contracts")
    workdir = tmp_path / "try"
    workdir.mkdir()
    ports = {"8380": str(_free_port()), "8400": str(_free_port())}
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    servers: list[subprocess.Popen[bytes]] = []
    outputs: list[str] = []
    try:
        for command in commands[1:]:
            for documented, free in ports.items():
                command = command.replace(documented, free)
            if command.endswith("&"):
                port = re.search(r"--port (\d+)", command) or re.search(
                    r"127\.0\.0\.1:(\d+)", command)
                port_no = port.group(1) if port else ports["8380"]
                servers.append(subprocess.Popen(
                    ["bash", "-c", "exec " + command[:-1]], cwd=workdir, env=env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
                deadline = time.monotonic() + 30
                while True:
                    try:
                        url = f"http://127.0.0.1:{port_no}/healthz"
                        if httpx.get(url).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    assert time.monotonic() < deadline, f"server of {command!r} never answered"
                    time.sleep(0.05)
                continue
            proc = subprocess.run(["bash", "-c", command], cwd=workdir, env=env,
                                  capture_output=True, text=True, timeout=300, check=False)
            assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
            outputs.append(proc.stdout + proc.stderr)
        # The Library section's Python runs next, in the same directory, servers still up.
        library = re.search(r"## Library.*?```python\n(.*?)```",
                            (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
        assert library, "README Library section has no python block"
        code = library.group(1)
        for documented, free in ports.items():
            code = code.replace(documented, free)
        proc = subprocess.run([sys.executable, "-c", code], cwd=workdir, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert b"ArchiveTimeStamp" in (workdir / "contract-library.xml").read_bytes()
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
    everything = "\n".join(outputs)
    assert "CMS Verification successful" in everything
    assert "phone/cert.pem: revoked" in everything
    assert "Reason: superseded" in everything
    assert everything.count("PASSED: ") == 6, everything
    assert "<svg" in (workdir / "report.html").read_text(encoding="utf-8")
    for name in ("contract-signed.pdf", "contract-signed.xml", "contract.txt.p7s",
                 "contract-renewed.pdf", "contract-api.pdf"):
        assert (workdir / name).stat().st_size > 0


@pytest.mark.parametrize(
    "command",
    ["pki", "phone", "sign", "extend", "validate", "archive", "tsa", "serve", "tenant", "demo",
     "remote"],
)
def test_readme_names_only_commands_that_exist(command: str) -> None:
    proc = subprocess.run([str(Path(sys.executable).with_name("ltv")), command, "--help"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"ltv {command}" in (ROOT / "README.md").read_text(encoding="utf-8")
