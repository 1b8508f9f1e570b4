"""``ltv pki``: the JPKI-like sample PKI (init, serve, revoke, rollover-tsa, issue)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from cryptography import x509

from ltv.cli._common import TIME
from ltv.clock import SystemClock, format_time
from ltv.errors import InputError
from ltv.i18n import N_
from ltv.i18n import gettext as _
from ltv.revocation import RevocationReason

__all__ = ["pki"]

_REASONS = ["superseded", "keyCompromise", "affiliationChanged", "cessationOfOperation"]
_DIR = click.Path(file_okay=False, path_type=Path)


def _now(at: datetime | None) -> datetime:
    return at if at is not None else SystemClock().now()


@click.group(help=N_("Sample JPKI-like PKI: root, card CA, smartphone CA, TSA, OCSP responders."))
def pki() -> None:
    pass


@pki.command("init", help=N_("Create a sample PKI in DIRECTORY (which must be absent or empty)."))
@click.argument("directory", type=_DIR)
@click.option("--port", type=click.IntRange(1, 65535), default=8380, show_default=True,
              help=N_("Port the certificates' OCSP/CRL/CA URLs name (http://127.0.0.1:PORT/)."))
@click.option("--at", type=TIME, default=None, help=N_("Issue at this time (default: now)."))
@click.option("--tsa-key", type=click.Choice(["rsa2048", "p256", "ml-dsa-65", "ml-dsa-87"]),
              default="rsa2048", show_default=True,
              help=N_("Key type of the TSA (ML-DSA: issued by the post-quantum root "
                      "pq-root.pem)."))
def init_cmd(directory: Path, port: int, at: datetime | None, tsa_key: str) -> None:
    from samples.pki import SamplePki

    made = SamplePki.init(directory, port=port, at=_now(at), tsa_key=tsa_key)
    click.echo(_("sample PKI in {dir} (services at {url}; trust anchor {root})").format(
        dir=made.directory, url=made.base_url, root=made.directory / "root.pem"))


@pki.command("serve",
             help=N_("Serve OCSP, CRLs, CA certificates and the TSA on 127.0.0.1 (port from "
                     "DIRECTORY)."))
@click.argument("directory", type=_DIR)
@click.option("--at", type=TIME, default=None,
              help=N_("Run the servers' clock from this time (default: now)."))
def serve_cmd(directory: Path, at: datetime | None) -> None:
    from samples.server import serve

    serve(directory, at=at)


def _load_certificate(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise InputError(_("{path} is not a certificate: {problem}").format(
            path=path, problem=exc)) from exc


@pki.command("revoke",
             help=N_("Revoke a certificate issued by this PKI (OCSP and CRLs show it from --at "
                     "on)."))
@click.argument("directory", type=_DIR)
@click.option("--cert", "cert_path", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help=N_("The certificate to revoke (PEM or DER)."))
@click.option("--reason", required=True, type=click.Choice(_REASONS),
              help=N_("RFC 5280 revocation reason."))
@click.option("--at", type=TIME, default=None, help=N_("Revocation time (default: now)."))
def revoke_cmd(directory: Path, cert_path: Path, reason: str, at: datetime | None) -> None:
    from samples.pki import SamplePki

    cert = _load_certificate(cert_path)
    when = _now(at)
    SamplePki.load(directory).revoke(cert, reason=RevocationReason(reason), at=when)
    click.echo(_("revoked serial {serial} ({reason}) at {time}").format(
        serial=f"{cert.serial_number:#x}", reason=reason, time=format_time(when)))


@pki.command("rollover-tsa",
             help=N_("New TSA key and certificate; DIR/tsa.pem becomes the new one, the old "
                     "stays valid."))
@click.argument("directory", type=_DIR)
@click.option("--at", type=TIME, default=None,
              help=N_("Validity start of the new TSA certificate."))
@click.option("--tsa-key", type=click.Choice(["rsa2048", "p256", "ml-dsa-65", "ml-dsa-87"]),
              default=None, help=N_("Key type of the new TSA (default: the current one's); "
                                    "ml-dsa-65/87 moves the time-stamps onto post-quantum keys."))
def rollover_cmd(directory: Path, at: datetime | None, tsa_key: str | None) -> None:
    from samples.pki import SamplePki

    cert = SamplePki.load(directory).rollover_tsa(at=_now(at), key_type=tsa_key)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    click.echo(_("new TSA certificate {subject}, valid {start} .. {end}").format(
        subject=cert.subject.rfc4514_string(), start=format_time(start), end=format_time(end)))


@pki.command("issue",
             help=N_("A plain software-key signer NAME from the card CA (for other tools in "
                     "tests)."))
@click.argument("directory", type=_DIR)
@click.argument("name")
@click.option("--out", "out_dir", required=True, type=_DIR,
              help=N_("Directory for key.pem, cert.pem and chain.pem."))
@click.option("--at", type=TIME, default=None, help=N_("Issue at this time (default: now)."))
@click.option("--key", type=click.Choice(["rsa2048", "p256"]), default="rsa2048",
              show_default=True)
def issue_cmd(directory: Path, name: str, out_dir: Path, at: datetime | None, key: str) -> None:
    from samples.pki import SamplePki

    SamplePki.load(directory).issue_software_signer(name, out_dir, at=_now(at), key=key)
    click.echo(f"{out_dir / 'key.pem'}, {out_dir / 'cert.pem'}, {out_dir / 'chain.pem'}")
