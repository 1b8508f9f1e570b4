"""The speed-ups of validation (issue #15) change no verdict and no report.

* ``ltv --help`` lists the commands without importing them, each line as click makes it;
* ``ltv validate`` defers ``pyhanko.sign``'s ``__init__`` (signers, aiohttp), which still runs
  in full at the first use of a name it defines;
* the PDF adapter's POE index is pyHanko's (``ades._build_prima_facie_poe_index_...``);
* :func:`ltv.validation.process.validate_file` of a PDF through an mmap and a file stream
  gives the report :func:`validate` gives over the bytes, for good, forged, damaged files;
* a warm process (parse caches, one reader for census and facts) gives each validation its
  own verdict: a different ``at``, trust store or policy after a pass.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import click
import pytest
from conftest import PkiServer
from pyhanko.pdf_utils.reader import PdfFileReader
from test_pades import make_pdf
from test_validation_cades import SIGNED_AT, _services

from ltv.cli import _COMMANDS, _SHORT_HELP, main
from ltv.signing import SignatureFormat, SignatureLevel, sign
from ltv.validation import ValidationPolicy, validate
from ltv.validation.pades import _poe_index
from ltv.validation.process import validate_file
from ltv.validation.report_json import to_json
from samples.phone import Phone
from samples.pki import SamplePki

AT = SIGNED_AT + timedelta(minutes=5)


def lease_contract(pki: SamplePki, phone: Phone) -> tuple[bytes, bytes]:
    """A PAdES B-LTA lease contract signed at SIGNED_AT, and the same signed once more."""
    chain = [phone.certificate, *phone.chain]
    services = _services(pki, SIGNED_AT)
    lta = sign(make_pdf("Lease contract"), phone, chain, SignatureFormat.PADES,
               SignatureLevel.B_LTA, services=services)
    twice = sign(lta, phone, chain, SignatureFormat.PADES, SignatureLevel.B_LTA,
                 services=services)
    return lta, twice


@pytest.fixture(scope="module")
def signed(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone) -> dict[str, bytes]:
    chain = [phone_rsa.certificate, *phone_rsa.chain]
    services = _services(pki, SIGNED_AT)
    lta, twice = lease_contract(pki, phone_rsa)
    return {
        "b-lta": lta,
        "b-t": sign(make_pdf("Invoice"), phone_rsa, chain, SignatureFormat.PADES,
                    SignatureLevel.B_T, services=services),
        "two-signatures": twice,
        # the incremental saving attack: an object no cross-reference section lists
        "appended-object": lta + b"99 0 obj\n(PAID)\nendobj\n",
        # a tail the PDF reader cannot read: read from the last complete revision
        "damaged-tail": lta + b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R\n",
        "unsigned": make_pdf("Draft"),
        "cades": sign(b"Contract text\n", phone_rsa, chain, SignatureFormat.CADES,
                      SignatureLevel.B_LTA, services=services),
    }


# -- start-up ---------------------------------------------------------------------------------


def test_help_lines_are_the_commands_own() -> None:
    ctx = click.Context(main)
    for name in _COMMANDS:
        command = main.get_command(ctx, name)
        assert command is not None, name
        assert command.help is not None, name
        first = " ".join(command.help.split("\n\n")[0].split())
        assert _SHORT_HELP[name] == first, name
        for limit in (30, 45, 74, 190):
            assert (click.Command(name, help=_SHORT_HELP[name]).get_short_help_str(limit)
                    == command.get_short_help_str(limit)), (name, limit)


def test_help_imports_no_command_module() -> None:
    script = ("import sys\nfrom ltv.cli import main\ntry:\n    main(['--help'])\n"
              "except SystemExit:\n    pass\n"
              "print([m for m in sys.modules if m.startswith(('ltv.cli.', 'ltv.validation',"
              " 'pyhanko', 'archive', 'httpx'))], file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=120)
    assert "Commands:" in done.stdout
    assert re.search(r"\n  validate +Validate signed FILEs", done.stdout), done.stdout
    # the language is chosen before any command loads (ltv.cli._i18n), no command module
    assert done.stderr.strip().splitlines()[-1] == "['ltv.cli._common', 'ltv.cli._i18n']"


def test_deferred_sign_package_runs_its_init_on_first_use() -> None:
    script = """
import sys
from ltv.validation._speedups import defer_sign_package
assert defer_sign_package()
assert not defer_sign_package()
import pyhanko.sign.validation.pdf_embedded, pyhanko.sign.fields
print("signers" if "pyhanko.sign.signers" in sys.modules else "no signers")
import pyhanko.sign
try:
    pyhanko.sign.no_such_name
except AttributeError as exc:
    print(exc)
from pyhanko.sign import PdfSigner, signers
print(PdfSigner is signers.PdfSigner, pyhanko.sign.DEFAULT_MD)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=120)
    assert done.stdout.splitlines() == [
        "no signers", "module 'pyhanko.sign' has no attribute 'no_such_name'", "True sha256"]


# -- the POE index ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["b-lta", "b-t", "two-signatures"])
def test_poe_index_is_pyhankos(signed: dict[str, bytes], name: str) -> None:
    from pyhanko.sign.validation.ades import (
        _build_prima_facie_poe_index_from_pdf_timestamps,
    )

    data = signed[name]
    theirs = {item.pdf_revision: frozenset(p.digest for p in item.poes_implied)
              for item in _build_prima_facie_poe_index_from_pdf_timestamps(
                  PdfFileReader(io.BytesIO(data), strict=False), include_content_ts=False,
                  diff_policy=None)}
    ours = _poe_index(PdfFileReader(io.BytesIO(data), strict=False))
    assert ours == theirs
    assert (len(ours), name) == ({"b-lta": 1, "b-t": 0, "two-signatures": 2}[name], name)


# -- streamed validation of a file ---------------------------------------------------------------


@pytest.mark.parametrize("deferred", [False, True], ids=["payloads-read", "payloads-deferred"])
@pytest.mark.parametrize("name", ["b-lta", "b-t", "two-signatures", "appended-object",
                                  "damaged-tail", "unsigned", "cades"])
def test_streamed_file_gives_the_same_report(signed: dict[str, bytes], pki: SamplePki,
                                             tmp_path: Path, name: str, deferred: bool,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Read through a file stream (with every stream payload left in the file until used,
    when ``deferred``: ltv.validation._speedups), the report is the one over the bytes."""
    from ltv.validation import _speedups

    if deferred:
        monkeypatch.setattr(_speedups, "DEFERRED_STREAM_BYTES", 1)
    policy = ValidationPolicy.default(trust_anchors=[pki.root])
    path = tmp_path / f"{name}.bin"
    path.write_bytes(signed[name])

    def outcome(run: object) -> tuple[str, str]:
        try:
            report = run()  # type: ignore[operator]
        except Exception as exc:
            return type(exc).__name__, str(exc)
        return report.indication.token, json.dumps(to_json(report), sort_keys=True)

    whole = outcome(lambda: validate(signed[name], policy=policy, at=AT, offline=True))
    streamed = outcome(lambda: validate_file(path, policy=policy, at=AT, offline=True,
                                             stream_threshold=0))
    assert streamed == whole
    assert whole[0] == {"b-lta": "TOTAL-PASSED", "b-t": "INDETERMINATE",  # no revocation data
                        "two-signatures": "TOTAL-PASSED", "appended-object": "INDETERMINATE",
                        "damaged-tail": "INDETERMINATE", "unsigned": "MalformedError",
                        "cades": "TOTAL-PASSED"}[name]


def test_cli_validates_a_large_pdf_through_the_stream(signed: dict[str, bytes], pki: SamplePki,
                                                      tmp_path: Path) -> None:
    from ltv.validation import process

    path = tmp_path / "contract.pdf"
    path.write_bytes(signed["b-lta"])
    opened: list[object] = []
    real = process._validate

    def spy(data: object, stream: object, **kwargs: object) -> object:
        opened.append(type(data).__name__)
        return real(data, stream, **kwargs)  # type: ignore[arg-type]

    from click.testing import CliRunner

    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(process, "_validate", spy)
        patch.setattr(process, "STREAM_THRESHOLD", 1024)
        done = runner.invoke(main, ["validate", "--offline", "--trust",
                                    str(pki.directory / "root.pem"), "--at", AT.isoformat(),
                                    str(path)])
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"PASSED: {path} (B-LTA, pades,")
    assert opened == ["mmap"]


# -- a warm process gives each validation its own verdict ----------------------------------------


def test_warm_process_keeps_each_verdict(signed: dict[str, bytes], pki: SamplePki,
                                         tmp_path: Path) -> None:
    data = signed["b-lta"]
    trusted = ValidationPolicy.default(trust_anchors=[pki.root])

    def verdict(policy: ValidationPolicy, at: object) -> tuple[str, str | None]:
        report = validate(data, policy=policy, at=at, offline=True)  # type: ignore[arg-type]
        sig = report.signatures[0]
        return sig.indication.token, sig.subindication.token if sig.subindication else None

    assert verdict(trusted, AT) == ("TOTAL-PASSED", None)
    # another trust store: the same caches, no chain to it
    other = ValidationPolicy.default(trust_anchors=[pki.card_ca])
    assert verdict(other, AT)[0] == "INDETERMINATE"
    # another time: before the signer's certificate existed
    assert verdict(trusted, pki.root.not_valid_before_utc - timedelta(days=1))[0] != (
        "TOTAL-PASSED")
    # another policy: a minimum level the file does not reach
    from dataclasses import replace

    stricter = replace(trusted, minimum_level=SignatureLevel.B_LTA)
    assert verdict(stricter, AT) == ("TOTAL-PASSED", None)
    two = signed["two-signatures"]
    report = validate(two, policy=replace(trusted, max_signatures=1), at=AT, offline=True)
    assert report.indication.token == "INDETERMINATE"
    assert all(s.subindication is not None for s in report.signatures)
    # and back: the first verdict again
    assert verdict(trusted, AT) == ("TOTAL-PASSED", None)


def test_name_memo_answers_as_rfc5280_comparison() -> None:
    from asn1crypto import x509 as asn1_x509

    from ltv.validation import _speedups

    _speedups.install()

    def name(**values: str) -> asn1_x509.Name:
        return asn1_x509.Name.build(values)

    printable = asn1_x509.Name.build({"common_name": "Sample CA", "country_name": "JP"},
                                     use_printable=True)
    utf8 = asn1_x509.Name.build({"common_name": "Sample CA", "country_name": "JP"},
                                use_printable=False)
    spaced = name(common_name="  sample   ca ", country_name="JP")
    other = name(common_name="Other CA", country_name="JP")
    assert printable.dump() != utf8.dump()
    for _ in range(2):  # cold, then from the memo
        assert printable == utf8
        assert printable == spaced  # caseIgnoreMatch, insignificant spaces (RFC 4518)
        assert printable != other
        assert (printable == "Sample CA") is False
    _speedups._NAME_EQUAL.clear()
    assert printable != other


def test_revocation_between_two_validations_in_one_process(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """The same B-B file, validated online twice in one warm process: good, then revoked
    (the parse caches hold the first OCSP response; the second validation fetches its own)."""
    from conftest import PKI_EPOCH, free_port
    from test_validation_matrix import SETTLED, T0, fetchers

    from ltv.cli._services import build_services
    from ltv.clock import OffsetClock
    from ltv.revocation import RevocationReason

    base = tmp_path_factory.mktemp("revoked-between")
    pki = SamplePki.init(base / "pki", port=free_port(), at=PKI_EPOCH)
    server = PkiServer(pki.directory, pki.port, at=T0).start()
    try:
        phone = Phone.enroll(base / "phone", pki, key="p256", at=T0)
        data = sign(make_pdf("Lease"), phone, [phone.certificate, *phone.chain],
                    SignatureFormat.PADES, SignatureLevel.B_B,
                    services=build_services(pki=pki.directory, clock=OffsetClock(T0)))
        policy = ValidationPolicy.default(trust_anchors=[pki.root])

        def online(at: object) -> tuple[str, str | None]:
            sig = validate(data, policy=policy, at=at, fetchers=fetchers()  # type: ignore[arg-type]
                           ).signatures[0]
            return sig.indication.token, sig.subindication.token if sig.subindication else None

        assert online(T0 + SETTLED) == ("TOTAL-PASSED", None)
        revoked_at = T0 + timedelta(days=1)
        pki.revoke(phone.certificate, reason=RevocationReason.KEY_COMPROMISE, at=revoked_at)
        later = revoked_at + timedelta(hours=1)
        server.restart(at=later)
        assert online(later + SETTLED) == ("INDETERMINATE", "REVOKED_NO_POE")
        # and the first question again, answered from the material at hand (offline, the
        # file holds none): not the cached pass
        assert validate(data, policy=policy, at=T0 + SETTLED, offline=True
                        ).signatures[0].indication.token == "INDETERMINATE"
    finally:
        server.stop()
