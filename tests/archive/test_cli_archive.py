"""``ltv archive`` on the command line: put / ls / get / verify / renew --dry-run / export-er,
and bad input answered with one line and exit 4, nothing half-written."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import SERVER_AT, PkiServer, ltv_cli

from ltv.clock import format_time
from samples.phone import Phone
from samples.pki import SamplePki

AT = format_time(SERVER_AT + timedelta(hours=2))


@pytest.fixture(scope="module")
def archived(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("cli-archive")
    (work / "c.txt").write_bytes(b"CLI contract\n")
    signed = ltv_cli("sign", work / "c.txt", "--format", "cades", "--level", "B-LTA",
                     "--phone", phone_rsa.directory, "--pki", pki.directory,
                     "-o", work / "c.p7s")
    assert signed.returncode == 0, signed.stderr
    put = ltv_cli("archive", "put", work / "c.p7s", "--meta", "contract-id=K-7", "--meta",
                  "retain-until=2056-01-01T00:00:00Z", "--store", work / "store", "--pki",
                  pki.directory, "--at", AT)
    assert put.returncode == 0, put.stderr
    pid = put.stdout.strip()
    assert len(pid) == 64
    assert "ingest report: TOTAL-PASSED" in put.stderr
    return work, pid


def test_ls_get_verify_export(archived: tuple[Path, str], pki: SamplePki) -> None:
    work, pid = archived
    store = work / "store"
    ls = ltv_cli("archive", "ls", "--store", store)
    assert ls.returncode == 0
    assert pid in ls.stdout
    assert "contract-id=K-7" in ls.stdout
    assert "write-once: exclusive-create" in ls.stderr
    get = ltv_cli("archive", "get", pid, "-o", work / "out.p7s", "--package", work / "pkg",
                  "--store", store)
    assert get.returncode == 0, get.stderr
    assert (work / "out.p7s").read_bytes() == (work / "c.p7s").read_bytes()
    assert (work / "pkg" / "manifest.json").is_file()
    assert json.loads((work / "pkg" / "validation-report.json").read_text())["signatures"]
    verify = ltv_cli("archive", "verify", pid, "--store", store, "--at", AT)
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.startswith("PASSED: "), verify.stdout
    # LTV_STORE is honoured
    env = {"LTV_STORE": str(store)}
    assert ltv_cli("archive", "verify", pid, "--at", AT, env=env).returncode == 0
    dry = ltv_cli("archive", "renew", "--store", store, "--dry-run", "--margin", "100000",
                  "--at", AT)
    assert dry.returncode == 0, dry.stderr
    assert "would renew batch" in dry.stdout, dry.stdout
    assert ltv_cli("archive", "renew", "--store", store, "--at", AT, "--pki",
                   pki.directory).stdout.strip().endswith("0 TSA calls")
    exp = ltv_cli("archive", "export-er", pid, "--dir", work / "er", "--store", store)
    assert exp.returncode == 0, exp.stderr
    assert (work / "er" / "evidence-record.ers").is_file()


@pytest.mark.parametrize("args", [
    ["archive", "get", "0" * 64, "-o", "x"],
    ["archive", "get", "../../etc/passwd", "-o", "x"],
    ["archive", "verify", "f" * 64],
    ["archive", "export-er", "nonsense", "--dir", "out"],
])
def test_bad_ids_exit_4(archived: tuple[Path, str], args: list[str]) -> None:
    work, _ = archived
    result = ltv_cli(*args, "--store", work / "store")
    assert result.returncode == 4, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_bad_input_writes_nothing(archived: tuple[Path, str], pki: SamplePki) -> None:
    work, _ = archived
    (work / "garbage.p7s").write_bytes(b"\x30\x03garbage")
    store = work / "fresh"
    for args in (["archive", "put", work / "garbage.p7s", "--pki", pki.directory],
                 ["archive", "put", work / "c.p7s", "--meta", "novalue", "--pki", pki.directory],
                 ["archive", "put", work / "c.p7s", "--tsa", ""]):
        result = ltv_cli(*args, "--store", store)
        assert result.returncode == 4, result.stdout + result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not store.exists() or not any((store / "default").glob("packages/*"))
    bad_store = ltv_cli("archive", "ls", "--store", "ftp://nowhere")
    assert bad_store.returncode == 4
    assert "unsupported store URL" in bad_store.stderr
