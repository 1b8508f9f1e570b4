"""The command line in Japanese and English (``--lang``, ``LTV_LANG``, the locale, ``--tz``,
``--era``), its comforts (``validate DIR``, ``--quiet``, progress bars on a terminal only,
shell completion) and problem+json in the language of ``Accept-Language``."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner
from conftest import LTV, free_port, ltv_cli
from server_helpers import assert_problem, served
from test_validation_cades import CONTRACT, SIGNED_AT, _services

from archive.memory import MemoryStore
from ltv.cli import main
from ltv.clock import format_time
from ltv.i18n import translate, use_language
from ltv.signing import SignatureFormat, SignatureLevel, sign
from samples.phone import Phone
from samples.pki import SamplePki

AT = SIGNED_AT + timedelta(minutes=10)
JA = {"LTV_LANG": "ja"}


@pytest.fixture(scope="module")
def signed(pki: SamplePki, pki_server: Any, phone_rsa: Phone) -> bytes:
    return sign(CONTRACT, phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                SignatureFormat.CADES, SignatureLevel.B_LTA, services=_services(pki, SIGNED_AT))


@pytest.fixture
def signed_file(signed: bytes, tmp_path: Path) -> Path:
    path = tmp_path / "contract.p7s"
    path.write_bytes(signed)
    return path


def _validate(pki: SamplePki, *args: str | os.PathLike[str],
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[Any]:
    return ltv_cli("validate", *args, "--at", format_time(AT), "--trust",
                   pki.directory / "root.pem", "--offline", env=env)


def _subject(phone: Phone) -> str:
    return phone.certificate.subject.rfc4514_string()


def _holder(phone: Phone) -> str:
    from ltv.validation.holder import holder_data  # the JPKI holder name in the SAN

    name = holder_data(phone.certificate).name
    assert name
    return name


def test_failed_line_in_japanese_explains(signed: bytes, pki: SamplePki, tmp_path: Path) -> None:
    from ltv.validation.explain import explain

    assert CONTRACT in signed
    tampered = tmp_path / "tampered.p7s"
    tampered.write_bytes(signed.replace(CONTRACT, CONTRACT[:-1] + b"?"))
    english = _validate(pki, tampered)
    japanese = _validate(pki, tampered, "--lang", "ja")
    assert english.returncode == japanese.returncode == 1
    token, detail = english.stdout.split(f"FAILED: {tampered} ", 1)[1].split(" ", 1)
    plain = explain("TOTAL-FAILED", token, "ja")
    assert plain.startswith("署名は無効です。")
    assert japanese.stdout == f"FAILED（無効）: {tampered} {token}（{plain}） {detail}"


# -- verdict lines, dates, the language's sources ----------------------------------------------


def test_verdict_line_in_japanese_keeps_the_token(signed_file: Path, pki: SamplePki,
                                                  phone_rsa: Phone) -> None:
    done = _validate(pki, signed_file, "--lang", "ja")
    assert done.returncode == 0, done.stderr
    # best signature time: the signature time-stamp's, shown in JST
    line = done.stdout.strip()
    when = r"2026年1月2日 \d\d:\d\d:\d\d JST"
    assert re.fullmatch(
        re.escape(f"PASSED（有効）: {signed_file}（B-LTA、cades、スマートフォンの鍵（"
                  f"{_holder(phone_rsa)}、{_subject(phone_rsa)}）、最良署名時刻 ") + when
        + re.escape("、存在証明: ") + when + re.escape(" の署名タイムスタンプ）"), line), line
    assert done.stderr == ""


def test_english_stays_the_default(signed_file: Path, pki: SamplePki) -> None:
    done = _validate(pki, signed_file)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"PASSED: {signed_file} (B-LTA, cades, smartphone key of ")
    assert re.search(r"best signature time 2026-01-02T\d\d:\d\d:\d\d(\.\d+)?Z", done.stdout)


@pytest.mark.parametrize(("env", "japanese"), [
    ({"LTV_LANG": "ja"}, True),
    ({"LTV_LANG": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": "ja_JP.UTF-8"}, True),
    ({"LTV_LANG": "", "LC_ALL": "C", "LANG": "ja_JP.UTF-8"}, False),
    ({"LTV_LANG": "ja", "LANG": "en_US.UTF-8"}, True),
])
def test_language_from_ltv_lang_then_the_locale(signed_file: Path, pki: SamplePki,
                                                env: dict[str, str], japanese: bool) -> None:
    done = _validate(pki, signed_file, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("PASSED（有効）: " if japanese else "PASSED: "), done.stdout


def test_lang_option_beats_the_environment(signed_file: Path, pki: SamplePki) -> None:
    done = _validate(pki, signed_file, "--lang=en", env=JA)
    assert done.stdout.startswith("PASSED: "), done.stdout


def test_time_zone_and_era(signed_file: Path, pki: SamplePki) -> None:
    utc = _validate(pki, signed_file, "--lang", "ja", "--tz", "UTC")
    assert re.search(r"最良署名時刻 2026年1月2日 \d\d:\d\d:\d\d UTC", utc.stdout), utc.stdout
    era = _validate(pki, signed_file, "--lang", "ja", "--era")
    assert re.search(r"最良署名時刻 令和8年1月2日 \d\d:\d\d:\d\d JST", era.stdout), era.stdout
    english_tokyo = _validate(pki, signed_file, "--tz", "Asia/Tokyo")
    assert re.search(r"best signature time 2026-01-02 \d\d:\d\d:\d\d JST", english_tokyo.stdout)
    bad = _validate(pki, signed_file, "--tz", "Mars/Olympus")
    assert bad.returncode == 2
    assert "Invalid value for '--tz': unknown time zone 'Mars/Olympus' (an IANA name such as " \
           "Asia/Tokyo)" in bad.stderr
    bad_ja = _validate(pki, signed_file, "--tz", "Mars/Olympus", env=JA)
    assert ("エラー: '--tz' の値が不正です: 不明なタイムゾーン 'Mars/Olympus'"
            "（Asia/Tokyo のような IANA 名を指定）") in bad_ja.stderr


# -- errors ------------------------------------------------------------------------------------


def test_error_lines_in_japanese(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pdf"
    done = ltv_cli("--lang", "ja", "validate", missing, "--offline")
    assert done.returncode == 4
    assert done.stdout == ""
    assert done.stderr == f"ltv: エラー: {missing}: No such file or directory\n"
    get = ltv_cli("archive", "get", "x", "--store", tmp_path / "store", env=JA)
    assert get.returncode == 4
    assert get.stderr == ("ltv: エラー: -o OUT と --package DIR の一方または両方を指定してください"
                          "\n")
    usage = ltv_cli("validate", "--bogus-flag", env=JA)  # (--bogus: "did you mean --jobs?")
    assert usage.returncode == 2
    assert usage.stderr.splitlines()[-1] == "エラー: オプション '--bogus-flag' はありません。"
    assert usage.stderr.startswith("使い方: ltv validate [OPTIONS] FILES...")
    unknown = ltv_cli("--lang", "fr", "validate", "x")
    assert unknown.returncode == 2
    assert "Invalid value for '--lang': 'fr' is not one of 'en', 'ja'." in unknown.stderr


# -- help ---------------------------------------------------------------------------------------


def _paths(command: click.Command, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            yield from _paths(sub, (*prefix, name))


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None
        command = found
    return command


def test_help_of_every_command_in_japanese() -> None:
    runner = CliRunner()
    paths = list(_paths(main))
    assert ("validate",) in paths
    assert ("archive", "renew") in paths
    assert ("completion",) in paths
    assert len(paths) > 30
    for path in paths:
        english = runner.invoke(main, [*path, "--help"], env={"LTV_LANG": "en"})
        japanese = runner.invoke(main, [*path, "--help", "--lang", "ja"])
        assert english.exit_code == 0, (path, english.output)
        assert japanese.exit_code == 0, (path, japanese.output)
        assert english.output != japanese.output, path
        assert japanese.output.startswith("使い方: "), (path, japanese.output[:80])
        assert "オプション:" in japanese.output, path
        assert "Show this message and exit." not in japanese.output, path
        # no untranslated help: the command's and every option's differ from the English kept
        with use_language("ja"):
            command = _command(path)
        english_help = getattr(command, "_ltv_en_help_help", None)
        assert english_help, path
        assert command.help != english_help, path
        for param in command.params:
            english_text = getattr(param, "_ltv_en_help_help", None)
            if english_text:
                assert param.help != english_text, (path, param.name, english_text)
    # and back in English in the same process (the English texts were kept)
    again = runner.invoke(main, ["validate", "--help"], env={"LTV_LANG": "en"})
    assert "Validate signed FILEs (EN 319 102-1)" in again.output


@pytest.mark.parametrize("argv", [["--lang", "ja", "validate", "--help"],
                                  ["validate", "--help", "--lang", "ja"],
                                  ["validate", "--help", "--lang=ja"]])
def test_lang_anywhere_in_argv(argv: list[str]) -> None:
    done = ltv_cli(*argv)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("使い方: ltv validate [OPTIONS] FILES...")
    assert "署名ファイル FILE を検証し（EN 319 102-1）" in done.stdout
    assert "出力とヘルプの言語: ja または en" in done.stdout


# -- validate DIR, --quiet, progress ------------------------------------------------------------


@pytest.fixture
def tree(signed: bytes, tmp_path: Path) -> Path:
    root = tmp_path / "contracts"
    (root / "2026" / "q1").mkdir(parents=True)
    (root / "a.p7s").write_bytes(signed)
    (root / "2026" / "q1" / "b.p7s").write_bytes(signed)
    (root / "2026" / "notes.txt").write_text("not signed\n")
    (root / "2026" / "plain.pdf").write_bytes(b"%PDF-1.7\n%no signature here\n")
    return root


def test_validate_dir_recursive(tree: Path, pki: SamplePki, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    done = _validate(pki, tree, "--json", out)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        f"PASSED: {tree / '2026' / 'q1' / 'b.p7s'}", f"PASSED: {tree / 'a.p7s'}"]
    assert done.stderr.splitlines() == [
        f"ltv: warning: {tree / '2026' / 'notes.txt'}: skipped (not a signed file)",
        f"ltv: warning: {tree / '2026' / 'plain.pdf'}: skipped (not a signed file)"]
    assert (out / "a.p7s.json").is_file()
    assert (out / "2026" / "q1" / "b.p7s.json").is_file()
    ja = _validate(pki, tree, env=JA)
    skipped = (f"ltv: 警告: {tree / '2026' / 'notes.txt'}: "
               "スキップしました（署名ファイルではありません）")
    assert skipped in ja.stderr.splitlines()


def test_validate_empty_dir_is_an_error(tmp_path: Path, pki: SamplePki) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("nothing signed\n")
    done = _validate(pki, empty, "-q")
    assert done.returncode == 4
    assert done.stderr == f"ltv: error: {empty}: no signed file in this directory\n"


def test_quiet(tree: Path, pki: SamplePki, tmp_path: Path) -> None:
    quiet = _validate(pki, tree, "-q")
    assert quiet.returncode == 0
    assert quiet.stderr == ""
    assert len(quiet.stdout.splitlines()) == 2
    silent = _validate(pki, tree, "-qq")
    assert (silent.returncode, silent.stdout, silent.stderr) == (0, "", "")
    missing = _validate(pki, tmp_path / "missing.p7s", "-qq")
    assert (missing.returncode, missing.stdout, missing.stderr) == (4, "", "")


def _run_with_tty_stderr(argv: list[str]) -> tuple[int, str, bytes]:
    """Run with stderr on a pseudo-terminal (stdout a pipe): exit code, stdout, terminal bytes."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm-256color"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    seen = bytearray()
    while True:
        ready, _w, _x = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen.extend(chunk)
    out = proc.stdout.read().decode() if proc.stdout else ""
    code = proc.wait(timeout=60)
    os.close(master)
    return code, out, bytes(seen)


def _run_on_a_terminal(argv: list[str]) -> tuple[int, str]:
    """Run with stdout and stderr on one pseudo-terminal: exit code, what it showed."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm-256color"}
    proc = subprocess.Popen(argv, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    seen = bytearray()
    while True:
        ready, _w, _x = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen.extend(chunk)
    code = proc.wait(timeout=60)
    os.close(master)
    return code, seen.decode("utf-8", "replace")


def test_progress_bar_only_on_a_terminal(tree: Path, pki: SamplePki) -> None:
    argv = [str(LTV), "validate", str(tree), "--at", format_time(AT), "--trust",
            str(pki.directory / "root.pem"), "--offline"]
    code, out, terminal = _run_with_tty_stderr([*argv, "--lang", "ja"])
    assert code == 0
    assert len(out.splitlines()) == 2
    text = terminal.decode("utf-8", "replace")
    assert "検証中" in text, text  # rich draws (and erases) the bar
    assert "\x1b[" in text, text
    code, _out, quiet = _run_with_tty_stderr([*argv, "-q"])
    assert code == 0
    assert b"validating" not in quiet
    assert b"\x1b[" not in quiet
    # stdout on the same terminal: the verdict lines print above the bar
    code, both = _run_on_a_terminal([*argv, "--lang", "ja"])
    assert code == 0
    assert both.count("PASSED（有効）: ") == 2, both
    piped = _validate(pki, tree)
    assert "validating" not in piped.stderr
    assert "\x1b[" not in piped.stderr


# -- completion ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script(shell: str) -> None:
    done = ltv_cli("completion", shell)
    assert done.returncode == 0, done.stderr
    assert "_LTV_COMPLETE" in done.stdout
    source = ltv_cli(env={"_LTV_COMPLETE": f"{shell}_source"})
    assert source.stdout == done.stdout


def test_bash_completes_sub_commands() -> None:
    script = ltv_cli("completion", "bash").stdout
    probe = script + """
complete_words() {
    COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    COMPREPLY=(); _ltv_completion ltv; printf '%s\\n' "${COMPREPLY[@]}"
}
echo "@@top"; complete_words ltv va
echo "@@archive"; complete_words ltv archive re
echo "@@option"; complete_words ltv validate --qu
"""
    env = {**os.environ, "PATH": f"{LTV.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", probe], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    blocks = done.stdout.split("@@")
    found = {b.splitlines()[0]: b.splitlines()[1:] for b in blocks if b.strip()}
    assert found["top"] == ["validate"]
    assert found["archive"] == ["renew"]
    assert found["option"] == ["--quiet"]


# -- problem+json in Japanese -------------------------------------------------------------------


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    from ltv.server.app import create_app
    from ltv.server.settings import ServerSettings
    from ltv.signing import SigningServices

    app = create_app(ServerSettings(public_validation=True, anonymous_rate=1000,
                                    anonymous_concurrency=8),
                     store=MemoryStore(), services=SigningServices())
    with served(app, free_port()) as base:
        yield base


def test_problem_json_in_japanese(api: str) -> None:
    ja = {"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.5"}
    english = httpx.post(f"{api}/v1/signing-sessions", json={})
    body = assert_problem(english, 401, "unauthorized")
    assert (body["title"], english.headers["content-language"]) == (
        "Missing or unknown API key", "en")
    assert body["detail"] == ("this endpoint needs 'Authorization: Bearer KEY' (an API key from "
                              "'ltv tenant add NAME')")
    japanese = httpx.post(f"{api}/v1/signing-sessions", json={}, headers=ja)
    body = assert_problem(japanese, 401, "unauthorized")
    assert body["title"] == "API キーがないか、不明です"
    assert body["detail"] == ("このエンドポイントには 'Authorization: Bearer KEY' が必要です"
                              "（API キーは 'ltv tenant add NAME' で発行）")
    assert japanese.headers["content-language"] == "ja"
    assert "Accept-Language" in japanese.headers["vary"]
    assert japanese.headers["www-authenticate"].startswith("Bearer")

    missing = httpx.get(f"{api}/no/such/page", headers=ja)
    body = assert_problem(missing, 404, "not-found")
    assert (body["title"], body["detail"]) == ("見つかりません", "見つかりません")

    # a library message naming technical facts stays, inside a Japanese sentence
    en_bad = httpx.post(f"{api}/v1/validations", files={"file": ("x", b"not a signature")})
    ja_bad = httpx.post(f"{api}/v1/validations", files={"file": ("x", b"not a signature")},
                        headers=ja)
    en_body = assert_problem(en_bad, 422)
    ja_body = assert_problem(ja_bad, 422)
    assert ja_body["type"] == en_body["type"]
    ja_title = translate(en_body["title"], "ja", "server")
    assert ja_title != en_body["title"]
    assert ja_body["title"] == ja_title
    assert ja_body["detail"] == f"{ja_title}（詳細: {en_body['detail']}）"

    # English when Japanese is not preferred
    french_first = httpx.get(f"{api}/no/such/page", headers={"Accept-Language": "fr, en;q=0.8"})
    assert assert_problem(french_first, 404)["title"] == "Not Found"


def test_demo_narration_is_marked() -> None:
    # every step and remark of the demo is a catalog message (a Japanese one exists)
    source = Path(sys.modules["ltv.cli"].__file__ or "").with_name("demo.py").read_text()
    plain = re.findall(r'n\.(?:step|say)\((?!_\()"', source)
    assert plain == []


def test_refusals_before_the_routes_in_japanese() -> None:
    """What the middleware refuses (413 here) speaks the request's language too."""
    from ltv.server.app import create_app
    from ltv.server.settings import ServerSettings
    from ltv.signing import SigningServices

    app = create_app(ServerSettings(public_validation=True, max_upload=1024,
                                    anonymous_rate=1000, anonymous_concurrency=8),
                     store=MemoryStore(), services=SigningServices())
    with served(app, free_port()) as base:
        big = {"file": ("x", b"x" * 8000)}
        english = httpx.post(f"{base}/v1/validations", files=big)
        japanese = httpx.post(f"{base}/v1/validations", files=big,
                              headers={"Accept-Language": "ja"})
    en_body = assert_problem(english, 413, "payload-too-large")
    ja_body = assert_problem(japanese, 413, "payload-too-large")
    assert en_body["title"] == "Request body too large"
    assert en_body["detail"] == "the request body is larger than the server accepts (1024 bytes)"
    assert english.headers["content-language"] == "en"
    assert ja_body["title"] == "リクエスト本文が大きすぎます"
    assert ja_body["detail"] == ("リクエスト本文が大きすぎます（詳細: the request body is "
                                 "larger than the server accepts (1024 bytes)）")
    assert japanese.headers["content-language"] == "ja"


# -- the report's options: PDF, holder details, the language of the files ----------------------


def test_pdf_and_holder_details(tree: Path, signed_file: Path, pki: SamplePki,
                                tmp_path: Path) -> None:
    import json

    out = tmp_path / "one"
    out.mkdir()
    plain = _validate(pki, signed_file, "--json", out / "r.json", "--pdf", out / "r.pdf",
                      "--html", out / "r.html", "--lang", "ja")
    assert plain.returncode == 0, plain.stderr
    assert (out / "r.pdf").read_bytes().startswith(b"%PDF-")
    assert '<html lang="ja"' in (out / "r.html").read_text()
    signer = json.loads((out / "r.json").read_text())["signatures"][0]["signer"]
    assert signer["holder_name"]
    assert "holder_details" not in signer  # personal data: only when asked for
    detailed = _validate(pki, signed_file, "--json", out / "d.json", "--show-holder-details",
                         env={"LTV_VERBOSE": "1"})
    assert detailed.returncode == 0, detailed.stderr
    details = json.loads((out / "d.json").read_text())["signatures"][0]["signer"]
    assert set(details["holder_details"]) == {"address", "date_of_birth", "gender"}
    assert details["holder_details"]["address"]
    # never on stdout or stderr (not logged)
    assert details["holder_details"]["address"] not in detailed.stdout + detailed.stderr
    # several files: OUT is a directory mirroring the tree
    many = _validate(pki, tree, "--pdf", tmp_path / "pdfs", "-q")
    assert many.returncode == 0, many.stderr
    assert (tmp_path / "pdfs" / "a.p7s.pdf").read_bytes().startswith(b"%PDF-")
    assert (tmp_path / "pdfs" / "2026" / "q1" / "b.p7s.pdf").is_file()
    # an unwritable PDF target: one error line, exit 4
    bad = _validate(pki, signed_file, "--pdf", tmp_path / "no" / "such" / "r.pdf")
    assert bad.returncode == 4
    assert bad.stderr == (f"ltv: error: {signed_file}: cannot write the report: cannot write "
                          f"the report PDF to {tmp_path / 'no' / 'such' / 'r.pdf'}: no directory "
                          f"{tmp_path / 'no' / 'such'}\n")
