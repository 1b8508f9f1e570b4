"""``ltv demo``: the sample story, narrated, driving the real command line.

Every step prints the exact command it runs, so a newcomer can replay any of them by hand.
The servers run on 127.0.0.1 only and are stopped at the end, whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import click
import httpx

from ltv.clock import SystemClock, format_time
from ltv.i18n import N_, current_language
from ltv.i18n import gettext as _

__all__ = ["demo"]

_BOLD = "\033[1m"
_DIM = "\033[2m"
_RESET = "\033[0m"


def _ltv_executable() -> list[str]:
    script = Path(sys.executable).with_name("ltv")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from ltv.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Narrator:
    def __init__(self, workdir: Path, *, color: bool) -> None:
        self.workdir = workdir
        self.color = color
        self.step_no = 0

    def _c(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def step(self, title: str) -> None:
        self.step_no += 1
        click.echo("")
        click.echo(self._c(_BOLD, f"{self.step_no}. {title}"))

    def say(self, text: str) -> None:
        click.echo(f"   {text}")

    def run(self, args: Sequence[str], *, check: bool = True, show: bool = True,
            expect: int | None = None, keep: Sequence[str] = ()
            ) -> subprocess.CompletedProcess[str]:
        shown = " ".join(shlex.quote(a) for a in args)
        click.echo(self._c(_DIM, f"   $ {shown}"))
        argv = _ltv_executable() + list(args[1:]) if args[0] == "ltv" else list(args)
        proc = subprocess.run(argv, cwd=self.workdir, capture_output=True, text=True,
                              check=False, timeout=300)
        if show:
            for line in (proc.stdout + proc.stderr).strip().splitlines()[:40]:
                if not keep or any(k in line for k in keep):
                    click.echo(f"     {line}")
        wanted = expect if expect is not None else 0
        if check and proc.returncode != wanted:
            raise click.ClickException(
                _("demo step failed: {command} exited {code}, expected {wanted}").format(
                    command=shown, code=proc.returncode, wanted=wanted)
            )
        return proc


@contextlib.contextmanager
def _pki_server(n: Narrator, pki_dir: str, port: int, *, at: datetime | None = None
                ) -> Iterator[None]:
    args = ["ltv", "pki", "serve", pki_dir]
    if at is not None:
        args += ["--at", format_time(at)]
    with _background(n, args, port):
        yield


@contextlib.contextmanager
def _background(n: Narrator, args: list[str], port: int) -> Iterator[None]:
    """Run an ``ltv`` server in the background until its /healthz answers; stop it after."""
    click.echo(n._c(_DIM, "   $ " + " ".join(args) + " &"))
    proc = subprocess.Popen(_ltv_executable() + args[1:], cwd=n.workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise click.ClickException(_("{command} did not start: {error}").format(
                    command=f"{args[1]} {args[2]}", error=err.strip()))
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise click.ClickException(_("{command} did not answer within 30 s").format(
                    command=f"{args[1]} {args[2]}"))
            time.sleep(0.1)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


_PDFSIG_LINES = ("Signature #", "Common Name", "Signature Type", "Validation")


def _copy_samples(n: Narrator) -> None:
    source = Path(__file__).resolve().parents[2] / "samples" / "contracts"
    for name in ("contract.pdf", "contract.xml", "contract.txt"):
        shutil.copyfile(source / name, n.workdir / name)


def _sign_contracts(n: Narrator) -> None:
    _copy_samples(n)
    n.step(_("The phone signs a PDF contract: PAdES B-LTA (prepare → phone signs → finish)"))
    n.say(_("The server computes the data to be signed; the key never leaves the phone."))
    n.run(["ltv", "sign", "contract.pdf", "--format", "pades", "--level", "B-LTA",
           "--phone", "phone", "--pki", "pki", "-o", "contract-signed.pdf"])
    n.say(_("Independent checks: poppler's pdfsig (with an NSS database trusting root.pem) "
            "and qpdf."))
    (n.workdir / "nssdb").mkdir(exist_ok=True)
    n.run(["certutil", "-N", "-d", "sql:nssdb", "--empty-password"], show=False)
    n.run(["certutil", "-A", "-d", "sql:nssdb", "-n", "sample-root", "-t", "CT,C,C",
           "-i", "pki/root.pem"], show=False)
    n.run(["pdfsig", "-nssdir", "sql:nssdb", "contract-signed.pdf"], keep=_PDFSIG_LINES)
    n.run(["qpdf", "--check", "contract-signed.pdf"], show=False)
    n.say(_("qpdf --check: no structural problems"))

    n.step(_("The same phone signs an XML contract (XAdES B-LTA, enveloped) and a text file "
              "(CAdES B-LTA, detached)"))
    n.run(["ltv", "sign", "contract.xml", "--format", "xades", "--level", "B-LTA",
           "--phone", "phone", "--pki", "pki", "-o", "contract-signed.xml"])
    n.run(["xmlsec1", "--verify", "--enabled-key-data", "x509", "--trusted-pem", "pki/root.pem",
           "--untrusted-pem", "pki/smartphone-ca.pem", "--id-attr:Id",
           "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", "contract-signed.xml"])
    n.run(["ltv", "sign", "contract.txt", "--format", "cades", "--level", "B-LTA", "--detached",
           "--phone", "phone", "--pki", "pki", "-o", "contract.txt.p7s"])
    n.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "contract.txt.p7s",
           "-content", "contract.txt", "-CAfile", "pki/root.pem", "-certfile",
           "pki/smartphone-ca.pem", "-purpose", "any", "-out", "/dev/null"])

    n.step(_("Renew the PDF's archive timestamp once (what the nightly job does before a TSA "
              "certificate or algorithm weakens)"))
    n.run(["ltv", "extend", "contract-signed.pdf", "--level", "B-LTA", "--pki", "pki",
           "-o", "contract-renewed.pdf"])
    n.run(["pdfsig", "-nssdir", "sql:nssdb", "contract-renewed.pdf"], keep=_PDFSIG_LINES)
    n.say(_("(pdfsig cannot check RFC 3161 document timestamps; `ltv validate` does, below)"))


def _sign_over_api(n: Narrator) -> None:
    n.step(_("The same over the HTTP API: the platform prepares, the phone signs, the platform "
              "finishes"))
    port = _free_port()
    key = n.run(["ltv", "tenant", "add", "acme", "--store", "api-store"]).stdout.strip()
    from samples.services import pki_fetch_allow

    # the API refuses loopback fetches unless allowed: --pki allows its own server anyway,
    # --fetch-allow shows how a deployment names its CA's responders
    allow = pki_fetch_allow(n.workdir / "pki")
    with _background(n, ["ltv", "serve", "--pki", "pki", "--store", "api-store", "--port",
                         str(port), "--fetch-allow", allow], port):
        n.run(["ltv", "phone", "sign-document", "contract.pdf", "--phone", "phone", "--server",
               f"http://127.0.0.1:{port}", "--api-key", key, "--format", "pades",
               "--level", "B-LTA", "-o", "contract-api.pdf"])


def _sign_remotely(n: Narrator) -> None:
    """Remote signing (issue #18): the key in an HSM (SoftHSM2 here), a passkey approves."""
    from samples.softhsm import init_token

    n.step(_("A phone without a secure element: its key lives in the service's HSM (PKCS#11, "
              "SoftHSM2 here) and its passkey approves each signature (CSC API v2)"))
    token = init_token(n.workdir / "hsm")
    os.environ.update(token.environment)  # the servers started below inherit SOFTHSM2_CONF
    n.say(_("(a SoftHSM2 token in hsm/, SOFTHSM2_CONF={conf}; PIN in hsm/pin)").format(
        conf=token.conf.name))
    port = _free_port()
    key = n.run(["ltv", "tenant", "add", "acme", "--store", "remote-store"]).stdout.strip()
    with _background(n, ["ltv", "serve", "--pki", "pki", "--store", "remote-store", "--port",
                         str(port), "--pkcs11-module", str(token.module), "--token-label",
                         token.label, "--pin-file", "hsm/pin"], port):
        url = f"http://127.0.0.1:{port}"
        credential = n.run(["ltv", "remote", "enroll", "hanako", "--server", url, "--api-key",
                            key, "--passkey", "hanako-passkey"]).stdout.strip()
        n.say(_("the key was generated inside the token (sensitive, never extractable); the "
                 "certificate carries the remote signing policy"))
        n.run(["ltv", "sign", "contract.pdf", "--format", "pades", "--level", "B-LTA", "--pki",
               "pki", "--remote", url, "--api-key", key, "--credential", credential,
               "--passkey", "hanako-passkey", "-o", "contract-remote.pdf"])
        n.say(_("the passkey signed a WebAuthn challenge derived from exactly this hash; the "
                 "one-time SAD it earned was spent by that one signature"))
        n.run(["ltv", "validate", "contract-remote.pdf", "--trust", "pki/root.pem"])


def _validate_after_revocation(n: Narrator) -> None:
    n.step(_("Validate (ETSI EN 319 102-1): the certificate is revoked now, but the signature "
              "timestamps prove the signatures are older than the revocation"))
    n.run(["ltv", "validate", "contract-renewed.pdf", "contract-signed.xml", "contract-api.pdf",
           "--trust", "pki/root.pem"])
    n.run(["ltv", "validate", "contract.txt.p7s", "--detached", "contract.txt", "--trust",
           "pki/root.pem"])


def _validate_years_later(n: Narrator, now: datetime) -> None:
    later = now + timedelta(days=5 * 365)
    n.step(_("Five years later ({date}): the phone's certificate has expired, no server "
             "is running; validate offline from the embedded material alone").format(
                 date=later.date()))
    n.run(["ltv", "validate", "contract-renewed.pdf", "--trust", "pki/root.pem", "--offline",
           "--at", format_time(later), "--html", "report.html", "--json", "report.json"])
    n.say(_("report.html shows the timeline: certificate validity, revocation, signing time, each "
             "timestamp and the proof of existence that carried the verdict."))
    n.say(_("Without timestamps the same signature would now be INDETERMINATE "
             "(OUT_OF_BOUNDS_NO_POE): that is why ltv signs at B-T or higher."))


_ARCHIVED = (("contract-signed.pdf", "PDF-2026-001", ()),
             ("contract-signed.xml", "XML-2026-002", ()),
             ("contract.txt.p7s", "TXT-2026-003", ("--detached", "contract.txt")))


def _archive_contracts(n: Narrator) -> dict[str, str]:
    n.step(_("Archive the three signed contracts: evidence packages with an RFC 4998 evidence "
              "record (one timestamp for the batch)"))
    n.say(_("Each package keeps the signed file, every certificate, CRL, OCSP response and "
             "timestamp, the validation report at ingest and metadata; the id is printed."))
    ids: dict[str, str] = {}
    for name, contract_id, extra in _ARCHIVED:
        proc = n.run(["ltv", "archive", "put", name, *extra, "--meta",
                      f"contract-id={contract_id}", "--meta", "parties=Seller KK; Buyer",
                      "--pki", "pki"])
        ids[name] = proc.stdout.strip().splitlines()[-1]
    n.run(["ltv", "archive", "ls"])
    return ids


def _ten_years(n: Narrator, port: int, now: datetime, ids: dict[str, str]) -> None:
    year = timedelta(days=365)
    y3, y8 = now + 3 * year, now + 8 * year
    # 2040 (for a demo run in 2026): RSA-2048 is past its NIST IR 8547 sunset (2036-01-01)
    y_end = datetime(now.year + 14, 1, 1, tzinfo=now.tzinfo)
    n.step(_("Year 3 ({date}): NIST IR 8547 deprecates RSA-2048 after 2030 and disallows "
             "it after 2035. The TSA moves to ML-DSA-65 (FIPS 204) under the post-quantum root, "
             "and the nightly job renews every evidence record whose newest timestamp rests on "
             "RSA").format(date=y3.date()))
    n.run(["ltv", "pki", "rollover-tsa", "pki", "--tsa-key", "ml-dsa-65", "--at",
           format_time(y3)])
    with _pki_server(n, "pki", port, at=y3):
        n.say(_("--margin 2555: renew what weakens within seven years (RSA-2048's sunset too)."))
        n.run(["ltv", "archive", "renew", "--dry-run", "--margin", "2555", "--at",
               format_time(y3)])
        n.run(["ltv", "archive", "renew", "--pki", "pki", "--margin", "2555", "--at",
               format_time(y3)])
        n.say(_("Run it again with the usual 180-day margin: idempotent, nothing left to do "
                "(ML-DSA has no sunset)."))
        n.run(["ltv", "archive", "renew", "--pki", "pki", "--at", format_time(y3)])

    n.step(_("Year 8 ({date}): a new ML-DSA TSA key, and the archive moves from SHA-256 to "
             "SHA-512 (hash-tree renewal, RFC 4998 §5.2)").format(date=y8.date()))
    n.run(["ltv", "pki", "rollover-tsa", "pki", "--at", format_time(y8)])
    with _pki_server(n, "pki", port, at=y8):
        n.run(["ltv", "archive", "renew", "--pki", "pki", "--hash-algorithm", "sha512", "--at",
               format_time(y8)])

    n.step(_("{year} ({date}): RSA-2048 is past its sunset, every original certificate has "
             "expired, no server runs; prove each package offline from the archive alone"
             ).format(year=y_end.year, date=y_end.date()))
    n.say(_("The signatures, their CAs and first timestamps are RSA-2048: they count because "
            "the ML-DSA timestamps of year 3 prove they existed before the sunset."))
    trust = ["--trust", "pki/root.pem", "--trust", "pki/pq-root.pem"]
    for name, _contract_id, _extra in _ARCHIVED:
        n.run(["ltv", "archive", "verify", ids[name], "--at", format_time(y_end), *trust])
    pdf = ids["contract-signed.pdf"]
    n.run(["ltv", "archive", "verify", pdf, "--at", format_time(y_end), *trust,
           "--json", "archive-report.json"], show=False)
    report = json.loads((n.workdir / "archive-report.json").read_text("utf-8"))
    for ts in report["signatures"][0]["timestamps"]:
        n.say(f"  {ts['kind']:<16} {ts['gen_time']}  {ts.get('tsa') or '':<40} "
              f"{ts['indication']}")
    n.say(_("Export the PDF's RFC 4998 evidence record and exactly the data objects it protects, "
             "for any other verifier:"))
    n.run(["ltv", "archive", "export-er", pdf, "--dir", "evidence-record"])


@click.command(
               help=N_("Play the sample story: PKI, phone, timestamps, signatures, revocation, "
                       "validation."))
@click.option("--dir", "workdir", type=click.Path(path_type=Path), default=Path("demo-out"),
              show_default=True, help=N_("Where the demo writes its PKI, phone and files."))
@click.option("--keep", is_flag=True, help=N_("Reuse the demo directory."))
def demo(workdir: Path, keep: bool) -> None:
    # every ltv the demo runs speaks the demo's language
    os.environ["LTV_LANG"] = current_language()
    if workdir.exists() and not keep:
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    n = Narrator(workdir.resolve(), color=sys.stdout.isatty())
    now = SystemClock().now().replace(microsecond=0)
    port = _free_port()
    click.echo(_("ltv demo — working in {dir} (servers on 127.0.0.1:{port})").format(
        dir=workdir.resolve(), port=port))

    n.step(_("A JPKI-like sample PKI: root, card CA, smartphone CA, TSA, delegated OCSP "
             "responders"))
    n.run(["ltv", "pki", "init", "pki", "--port", str(port), "--at", format_time(now)])
    n.say(_("root.pem is the trust anchor; the certificates point at the servers for OCSP, CRLs "
             "and CA certificates."))

    with _pki_server(n, "pki", port):
        n.step(_("A smartphone enrols: its key is made on the phone, the smartphone CA "
                 "certifies it"))
        n.run(["ltv", "phone", "enroll", "phone", "--pki", "pki", "--key", "rsa2048"])
        n.run(["openssl", "x509", "-in", "phone/cert.pem", "-noout", "-subject", "-enddate",
               "-ext", "certificatePolicies"])

        n.step(_("Our RFC 3161 time-stamp authority answers; OpenSSL checks the reply"))
        contract = n.workdir / "contract.txt"
        contract.write_text("売買契約書 — sample contract\n", encoding="utf-8")
        n.run(["openssl", "ts", "-query", "-sha256", "-cert", "-data", "contract.txt",
               "-out", "contract.tsq"], show=False)
        tsq = (n.workdir / "contract.tsq").read_bytes()
        n.say(f"$ curl --data-binary @contract.tsq -H 'Content-Type: application/timestamp-query'"
              f" http://127.0.0.1:{port}/tsa > contract.tsr")
        reply = httpx.post(f"http://127.0.0.1:{port}/tsa", content=tsq,
                           headers={"Content-Type": "application/timestamp-query"}, timeout=10)
        (n.workdir / "contract.tsr").write_bytes(reply.content)
        n.run(["openssl", "ts", "-verify", "-queryfile", "contract.tsq", "-in", "contract.tsr",
               "-CAfile", "pki/root.pem", "-untrusted", "pki/tsa.pem"])

        _sign_contracts(n)
        _sign_over_api(n)
        _sign_remotely(n)
        archived = _archive_contracts(n)

        n.step(_("OCSP says the phone's certificate is good"))
        aia = f"http://127.0.0.1:{port}/ocsp/smartphone-ca"
        n.run(["openssl", "ocsp", "-issuer", "pki/smartphone-ca.pem", "-cert", "phone/cert.pem",
               "-url", aia, "-CAfile", "pki/root.pem"])

        n.step(_("The phone is replaced: its certificate is revoked (reason superseded)"))
        # Revocation times are whole seconds (as OCSP and CRLs encode them): revoke a moment
        # after the last signature so the story is not decided by a sub-second race.
        revoked_at = SystemClock().now().replace(microsecond=0) + timedelta(seconds=2)
        n.run(["ltv", "pki", "revoke", "pki", "--cert", "phone/cert.pem", "--reason",
               "superseded", "--at", format_time(revoked_at)])
    later = now + timedelta(minutes=5)
    with _pki_server(n, "pki", port, at=later):
        n.say(_("(servers restarted with their clock at {time})").format(
            time=format_time(later)))
        n.run(["openssl", "ocsp", "-issuer", "pki/smartphone-ca.pem", "-cert", "phone/cert.pem",
               "-url", aia, "-CAfile", "pki/root.pem"])

        _validate_after_revocation(n)
    _validate_years_later(n, now)
    _ten_years(n, port, now, archived)

    click.echo("")
    click.echo(_("Done. Everything the demo made is in {dir}.").format(dir=workdir.resolve()))
