"""``ltv validate --jobs N``: many files in forked workers print exactly what one process prints
(same lines, same order, same exit code, same reports), a worker that dies costs only its file,
and Ctrl-C ends the workers and leaves no report half written."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import LTV, PkiServer
from test_pades import make_pdf
from test_validation_cades import CONTRACT, SIGNED_AT, _services

from ltv.clock import format_time
from ltv.signing import SignatureFormat, SignatureLevel, sign
from samples.phone import Phone
from samples.pki import SamplePki

AT = SIGNED_AT + timedelta(minutes=10)

# ``ltv ARGS`` with a validate_file that misbehaves for chosen file names, in worker processes
# only (the parent validates the first file itself): crash-* kills its process, stall-* makes
# the report's fsync wait for a signal (a worker stopped in the middle of writing a report).
_WRAPPER = """
import os, signal, sys
import ltv.cli.validate as v
parent = os.getpid()
real_validate, real_fsync = v.validate_file, os.fsync
def validate_file(path, **kw):
    if os.getpid() != parent and path.name.startswith("crash-"):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_validate(path, **kw)
def fsync(fd):
    if os.getpid() != parent and "stall-" in os.readlink(f"/proc/self/fd/{fd}"):
        while True:
            signal.pause()
    return real_fsync(fd)
v.validate_file, os.fsync = validate_file, fsync
from ltv.cli import main
sys.argv[0] = "ltv"
main()
"""


@pytest.fixture(scope="module")
def cades(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone) -> bytes:
    return sign(CONTRACT, phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                SignatureFormat.CADES, SignatureLevel.B_LTA, services=_services(pki, SIGNED_AT))


@pytest.fixture(scope="module")
def pades(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone) -> bytes:
    return sign(make_pdf("Lease contract"), phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                SignatureFormat.PADES, SignatureLevel.B_LTA, services=_services(pki, SIGNED_AT))


@pytest.fixture
def mix(cades: bytes, pades: bytes, tmp_path: Path) -> list[Path]:
    """Good, forged, unreadable and non-signature files, in an order that mixes them."""
    root = tmp_path / "mix"
    root.mkdir()
    at = cades.index(CONTRACT[:40])
    forged = cades[:at] + b"K" + cades[at + 1:]  # the attached content changed: HASH_FAILURE
    files = {"a.p7s": cades, "b.pdf": pades, "forged.p7s": forged,
             "notes.txt": b"no signature here\n", "c.pdf": pades,
             "truncated.pdf": pades[: len(pades) // 2], "d.p7s": cades}
    for name, data in files.items():
        (root / name).write_bytes(data)
    (root / "dangling.pdf").symlink_to(root / "nowhere.pdf")
    order = ["a.p7s", "forged.p7s", "notes.txt", "b.pdf", "dangling.pdf", "c.pdf",
             "missing.p7s", "truncated.pdf", "d.p7s"]
    return [root / name for name in order]


def _ltv(pki: SamplePki, *args: str | os.PathLike[str], wrapper: bool = False
         ) -> subprocess.CompletedProcess[str]:
    head = [sys.executable, "-c", _WRAPPER] if wrapper else [str(LTV)]
    return subprocess.run([*head, "validate", "--at", format_time(AT), "--trust",
                           str(pki.directory / "root.pem"), "--offline", *map(str, args)],
                          capture_output=True, text=True, timeout=300, check=False)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _same(pki: SamplePki, tmp_path: Path, args: Sequence[str | os.PathLike[str]],
          *, reports: str = "--json") -> subprocess.CompletedProcess[str]:
    """Run with --jobs 1 and --jobs 2 (reports into two directories); assert all is equal."""
    runs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"reports-{jobs}"
        done = _ltv(pki, *args, reports, out, "--jobs", jobs)
        runs.append((done.returncode, done.stdout, done.stderr,
                     _tree(out) if out.is_dir() else None))
    assert runs[0] == runs[1]
    return done


def test_mixed_files_same_lines_order_code_and_reports(pki: SamplePki, mix: list[Path],
                                                       tmp_path: Path) -> None:
    done = _same(pki, tmp_path, mix)
    assert done.returncode == 4
    out = done.stdout.splitlines()
    assert [line.split(" (")[0].split(" HASH")[0] for line in out] == [
        f"PASSED: {mix[0]}", f"FAILED: {mix[1]}", f"PASSED: {mix[3]}", f"PASSED: {mix[5]}",
        f"PASSED: {mix[8]}"]
    err = done.stderr.splitlines()
    assert [line.split(": ")[2] for line in err] == [
        str(mix[2]), str(mix[4]), str(mix[6]), str(mix[7])]
    assert all(line.startswith("ltv: error: ") for line in err)
    reports = sorted(p.name for p in (tmp_path / "reports-2").iterdir())
    assert reports == ["a.p7s.json", "b.pdf.json", "c.pdf.json", "d.p7s.json",
                       "forged.p7s.json"]


@pytest.mark.parametrize("args", [["-q"], ["-qq"], ["--format", "json"]])
def test_quiet_and_json_output_the_same(pki: SamplePki, mix: list[Path], tmp_path: Path,
                                        args: list[str]) -> None:
    done = _same(pki, tmp_path, [*args, *mix], reports="--xml")
    assert done.returncode == 4
    if args == ["-qq"]:
        assert (done.stdout, done.stderr) == ("", "")
    if args[0] == "--format":
        assert [doc["file"] for doc in json.loads(done.stdout)] == [
            str(mix[i]) for i in (0, 1, 3, 5, 8)]


def test_directory_the_same(pki: SamplePki, mix: list[Path], tmp_path: Path) -> None:
    root = mix[0].parent
    (root / "sub").mkdir()
    (root / "sub" / "e.p7s").write_bytes(mix[0].read_bytes())
    (root / "dangling.pdf").unlink()
    (root / "sub" / "broken.pdf").write_bytes(b"%PDF-1.7\n/ByteRange [0 1 2 3]\n%%EOF\n")
    done = _same(pki, tmp_path, [root])
    assert done.returncode == 4
    assert [line.split(" (")[0].split(" HASH")[0] for line in done.stdout.splitlines()] == [
        f"PASSED: {root / name}" for name in ("a.p7s", "b.pdf", "c.pdf", "d.p7s")] + [
        f"FAILED: {root / 'forged.p7s'}", f"PASSED: {root / 'sub' / 'e.p7s'}"]
    assert [line.split(": ")[:3] for line in done.stderr.splitlines()] == [
        ["ltv", "warning", str(root / "notes.txt")],
        ["ltv", "warning", str(root / "truncated.pdf")],
        ["ltv", "error", str(root / "sub" / "broken.pdf")]]
    assert sorted(_tree(tmp_path / "reports-2")) == [
        "a.p7s.json", "b.pdf.json", "c.pdf.json", "d.p7s.json", "forged.p7s.json",
        "sub/e.p7s.json"]


def test_a_dead_worker_costs_only_its_file(pki: SamplePki, mix: list[Path],
                                           tmp_path: Path) -> None:
    good = mix[0]
    files = [good]
    for i in range(6):
        name = f"crash-{i}.p7s" if i in (1, 4) else f"ok-{i}.p7s"
        files.append(tmp_path / name)
        files[-1].write_bytes(good.read_bytes())
    done = _ltv(pki, *files, "--jobs", "2", wrapper=True)
    assert done.returncode == 4
    assert [line.split(" (")[0] for line in done.stdout.splitlines()] == [
        f"PASSED: {f}" for f in files if not f.name.startswith("crash-")]
    assert done.stderr.splitlines() == [
        f"ltv: error: {f}: cannot validate (the worker process was killed by SIGKILL)"
        for f in files if f.name.startswith("crash-")]


def _wait_for(predicate: Any, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_interrupted_run_leaves_no_half_report_and_no_worker(pki: SamplePki, mix: list[Path],
                                                             tmp_path: Path) -> None:
    good = mix[0]
    files = [good]
    for i in range(4):
        files.append(tmp_path / f"stall-{i}.p7s")
        files[-1].write_bytes(good.read_bytes())
    out = tmp_path / "reports"
    argv = [sys.executable, "-c", _WRAPPER, "validate", "--at", format_time(AT), "--trust",
            str(pki.directory / "root.pem"), "--offline", "--json", str(out), "--jobs", "2",
            *map(str, files)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        ready, _w, _x = select.select([proc.stdout], [], [], 120)
        assert ready, "no first line"
        first = proc.stdout.readline().decode()
        assert first.startswith(f"PASSED: {good}")

        def stalled() -> bool:  # both workers hold a half-written report
            return len([p for p in out.iterdir() if p.name.endswith(".tmp")]) == 2

        _wait_for(stalled, "two reports being written")
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        code = proc.wait(timeout=60)
        rest, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert code == 1  # click: Aborted!
    assert rest == ""
    assert err.strip() == "Aborted!"
    assert [p.name for p in out.iterdir()] == [f"{good.name}.json"]
    json.loads((out / f"{good.name}.json").read_text())
    with pytest.raises(ProcessLookupError):  # no worker left behind
        os.killpg(proc.pid, 0)


_POOL = """
import os, signal, sys
from ltv.cli._pool import Lost, OrderedPool
def work(i):
    if i == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    if i == 5:
        os._exit(7)
    return i * i
with OrderedPool(work, 9, 3) as pool:
    print([r.why if isinstance(r, Lost) else r for r in pool])
"""


def test_pool_keeps_the_order_and_replaces_dead_workers() -> None:
    done = subprocess.run([sys.executable, "-c", _POOL], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == str([
        0, 1, 4, "the worker process was killed by SIGKILL", 16,
        "the worker process ended with exit code 7", 36, 49, 64])


def test_unwritable_report_names_its_path_not_a_temporary_file(pki: SamplePki, mix: list[Path],
                                                               tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "report.json"
    done = _ltv(pki, mix[0], "--json", target)
    assert done.returncode == 4
    assert done.stderr == (f"ltv: error: {mix[0]}: cannot write the report: "
                           f"No such file or directory: {target}\n")
    assert not target.parent.exists()
