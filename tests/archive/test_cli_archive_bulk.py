"""``ltv archive verify ID... | --all`` (bulk: one verdict line per signature, the worst exit
code, a progress bar on a terminal only), ``-q``/``-qq``, and ``archive ls`` dates in Japanese
with the era."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import LTV, SERVER_AT, PkiServer, ltv_cli
from test_cli_i18n import _run_with_tty_stderr

from ltv.clock import format_time
from samples.phone import Phone
from samples.pki import SamplePki

AT = format_time(SERVER_AT + timedelta(hours=2))


@pytest.fixture(scope="module")
def store(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone,
          tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    work = tmp_path_factory.mktemp("cli-archive-bulk")
    ids = []
    for name in ("one", "two"):
        (work / f"{name}.txt").write_bytes(f"contract {name}\n".encode())
        signed = ltv_cli("sign", work / f"{name}.txt", "--format", "cades", "--level", "B-LTA",
                         "--phone", phone_rsa.directory, "--pki", pki.directory,
                         "-o", work / f"{name}.p7s")
        assert signed.returncode == 0, signed.stderr
        put = ltv_cli("archive", "put", work / f"{name}.p7s", "--store", work / "store",
                      "--pki", pki.directory, "--at", AT)
        assert put.returncode == 0, put.stderr
        ids.append(put.stdout.strip())
    return work / "store", sorted(ids)


def test_verify_all_and_several(store: tuple[Path, list[str]], tmp_path: Path) -> None:
    path, ids = store
    every = ltv_cli("archive", "verify", *ids, "--store", path, "--at", AT,
                    "--json", tmp_path / "reports")
    assert every.returncode == 0, every.stderr
    assert [line.split(" (")[0] for line in every.stdout.splitlines()] == [
        f"PASSED: {pid}" for pid in ids]
    assert every.stderr.count("evidence record: 1 archive timestamps") == 2
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        f"{pid}.json" for pid in ids]
    # one unknown id among good ones: its error line, the others' verdicts, exit 4
    mixed = ltv_cli("archive", "verify", ids[0], "f" * 64, "--store", path, "--at", AT, "-q")
    assert mixed.returncode == 4
    assert mixed.stdout.startswith(f"PASSED: {ids[0]} (")
    assert mixed.stderr.splitlines()[0].startswith(f"ltv: error: {'f' * 64}: ")
    assert len(mixed.stderr.splitlines()) == 1
    # --all: batch by batch (see "Scaling"), one line per failure and the summary line
    every = ltv_cli("archive", "verify", "--all", "--store", path, "--at", AT)
    assert every.returncode == 0, every.stderr
    assert every.stdout.startswith("2 packages in 2 batches: 2 passed, 0 failed"), every.stdout
    assert len(every.stdout.splitlines()) == 1
    silent = ltv_cli("archive", "verify", "--all", "--store", path, "--at", AT, "-qq")
    assert (silent.returncode, silent.stdout, silent.stderr) == (0, "", "")
    neither = ltv_cli("archive", "verify", "--store", path, env={"LTV_LANG": "ja"})
    assert neither.returncode == 2
    assert neither.stderr == ("ltv: エラー: 検証するパッケージ ID を指定するか、--all を指定して"
                              "ください\n")


def test_verify_all_progress_on_a_terminal(store: tuple[Path, list[str]]) -> None:
    path, _ids = store
    code, out, terminal = _run_with_tty_stderr(
        [str(LTV), "archive", "verify", "--all", "--store", str(path), "--at", AT])
    assert code == 0
    assert len(out.splitlines()) == 1  # the summary line
    assert out.startswith("2 packages in 2 batches: 2 passed"), out
    assert b"verifying" in terminal
    assert b"\x1b[" in terminal


def test_ls_dates_in_japanese_with_the_era(store: tuple[Path, list[str]]) -> None:
    path, _ids = store
    english = ltv_cli("archive", "ls", "--store", path)
    lines = english.stdout.splitlines()
    assert len(lines) == 2
    assert all(re.fullmatch(r"[0-9a-f]{64}  2026-01-02T02:00:\d\d(\.\d+)?Z  (one|two)\.p7s",
                            line) for line in lines), lines
    japanese = ltv_cli("archive", "ls", "--store", path, "--lang", "ja", "--era")
    # the same packages, their ingest time in JST with the era
    assert [line.split()[0] for line in japanese.stdout.splitlines()] == \
        [line.split()[0] for line in lines]
    assert all(re.fullmatch(r"[0-9a-f]{64}  令和8年1月2日 11:00:\d\d JST  (one|two)\.p7s", line)
               for line in japanese.stdout.splitlines()), japanese.stdout
    assert japanese.stderr.startswith("# ")
    assert "（追記のみ: exclusive-create）" in japanese.stderr
