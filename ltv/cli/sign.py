"""``ltv sign`` and ``ltv extend``: the two-step signing core on the command line, any format.

Both run through :mod:`ltv.signing` (``prepare`` -> signer -> ``finish``; ``extend``) so CAdES,
PAdES and XAdES behave alike. The output file appears only on success (temporary file in the
same directory, then rename); any failure prints one line and exits 4.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click
from cryptography import x509

from ltv.algorithms import DigestAlgorithm, SignatureMechanism
from ltv.cli._fetch import cli_egress, fetch_options
from ltv.cli._services import ENV_PKI, ENV_TSA, build_services
from ltv.errors import ConfigurationError, InputError
from ltv.files import write_atomic
from ltv.i18n import N_
from ltv.i18n import gettext as _
from ltv.signing import (
    Packaging,
    SignatureFormat,
    SignatureLevel,
    SigningOptions,
    SigningServices,
)
from ltv.tbs import Signer

__all__ = ["extend", "load_certificates", "sign", "write_atomic"]

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
_LEVELS = [level.value for level in SignatureLevel]
_FORMATS = [fmt.value for fmt in SignatureFormat]


def load_certificates(path: Path) -> list[x509.Certificate]:
    """PEM (one or more) or DER certificates from a file."""
    data = path.read_bytes()
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ConfigurationError(_("{path}: not a certificate file: {problem}").format(
            path=path, problem=exc)) from exc


def _services(pki: Path | None, tsa: str | None) -> SigningServices:
    return build_services(pki=pki, tsa_url=tsa, egress=cli_egress())


def _signer(phone: Path | None, key: Path | None, cert: Path | None, chain: Path | None
            ) -> tuple[Signer, list[x509.Certificate]]:
    if phone is not None:
        if key is not None or cert is not None:
            raise click.UsageError(_("give either --phone or --key/--cert, not both"))
        from samples.phone import Phone

        handset = Phone(phone)
        return handset, [handset.certificate, *handset.chain]
    if key is None or cert is None:
        raise click.UsageError(_("give --phone PHONE_DIR, or --key KEY with --cert CERT"))
    from ltv.keys import KeySigner, load_private_key

    certs = load_certificates(cert)
    extra = load_certificates(chain) if chain is not None else certs[1:]
    return KeySigner(load_private_key(key)), [certs[0], *extra]


def _remote_signer(url: str, api_key: str | None, credential: str | None,
                   passkey_dir: Path | None) -> tuple[Signer, list[x509.Certificate]]:
    if not api_key or not credential or passkey_dir is None:
        raise click.UsageError(_("--remote needs --api-key, --credential and --passkey"))
    from ltv.online.csc import CscClient, RemoteSigner
    from samples.passkey import SoftPasskey

    passkey = SoftPasskey(passkey_dir)
    client = CscClient(url)
    client.login(passkey.user_name, api_key)
    return RemoteSigner(client, credential, passkey.get), client.certificates(credential)


@click.command("sign",
               help=N_("Sign FILE and raise the signature to --level (B-B, B-T, B-LT, B-LTA)."))
@click.argument("file", type=_FILE)
@click.option("--format", "fmt", type=click.Choice(_FORMATS), required=True,
              help=N_("Signature format."))
@click.option("--level", type=click.Choice(_LEVELS, case_sensitive=False), default="B-LTA",
              show_default=True, help=N_("Baseline level to reach."))
@click.option("--phone", type=_DIR, default=None, help=N_("Sign with this simulated phone."))
@click.option("--key", type=_FILE, default=None,
              help=N_("Private key (PEM/DER) for a local signer."))
@click.option("--cert", type=_FILE, default=None, help=N_("Signer certificate (with --key)."))
@click.option("--chain", type=_FILE, default=None, help=N_("Issuing CA certificates (PEM)."))
@click.option("--pki", type=_DIR, default=None, envvar=ENV_PKI,
              help=N_("Sample PKI directory: its TSA and certificates. [env LTV_PKI]"))
@click.option("--tsa", default=None, envvar=ENV_TSA, help=N_("RFC 3161 TSA URL. [env LTV_TSA_URL]"))
@click.option("--detached", is_flag=True, help=N_("CAdES: do not encapsulate the content."))
@click.option("--packaging", type=click.Choice([p.value for p in Packaging]), default=None,
              help=N_("XAdES packaging (default: enveloped for XML, detached otherwise)."))
@click.option("--digest-algorithm", default="sha256", show_default=True,
              help=N_("sha256, sha384 or sha512."))
@click.option("--mechanism", type=click.Choice([m.value for m in SignatureMechanism]),
              default=None, help=N_("Default: rsassa-pkcs1v15 for RSA keys, ecdsa for EC keys."))
@click.option("--c14n", "canonicalization", type=click.Choice(["exc-c14n", "c14n", "c14n11"]),
              default=None, help=N_("XAdES canonicalisation (default: exc-c14n)."))
@click.option("--visible", is_flag=True,
              help=N_("PAdES: draw a stamp with the signer's name and the signing time."))
@click.option("--reason", default=None, help=N_("PAdES: /Reason of the signature."))
@click.option("--location", default=None, help=N_("PAdES: /Location of the signature."))
@click.option("--remote", "remote_url", default=None,
              help=N_("Sign with a key in this remote signing server's HSM (CSC API v2)."))
@click.option("--api-key", default=None, envvar="LTV_API_KEY",
              help=N_("--remote: the tenant's API key. [env LTV_API_KEY]"))
@click.option("--credential", default=None, help=N_("--remote: the credential id (enroll)."))
@click.option("--passkey", "passkey_dir", type=_DIR, default=None,
              help=N_("--remote: the passkey that approves the signature (a directory)."))
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help=N_("Where the signed file goes."))
@fetch_options
def sign(file: Path, fmt: str, level: str, phone: Path | None, key: Path | None,
         cert: Path | None, chain: Path | None, pki: Path | None, tsa: str | None,
         detached: bool, packaging: str | None, digest_algorithm: str, mechanism: str | None,
         canonicalization: str | None, visible: bool, reason: str | None, location: str | None,
         remote_url: str | None, api_key: str | None, credential: str | None,
         passkey_dir: Path | None, out: Path) -> None:
    from ltv import signing

    target = SignatureLevel.parse(level)
    if remote_url is not None:
        if phone is not None or key is not None:
            raise click.UsageError(_("give either --remote or --phone/--key, not both"))
        signer, signer_chain = _remote_signer(remote_url, api_key, credential, passkey_dir)
    else:
        signer, signer_chain = _signer(phone, key, cert, chain)
    options = SigningOptions(
        digest_algorithm=DigestAlgorithm.from_name(digest_algorithm),
        mechanism=SignatureMechanism.from_name(mechanism) if mechanism else None,
        detached=detached or packaging == Packaging.DETACHED.value,
        packaging=Packaging(packaging) if packaging else None,
        file_name=file.name,
        canonicalization=canonicalization,
        visible=visible,
        reason=reason,
        location=location,
    )
    services = _services(pki, tsa) if target is not SignatureLevel.B_B else SigningServices()
    if target is not SignatureLevel.B_B:
        services.require_timestamps()
    pending = signing.prepare(file, signer_chain, SignatureFormat(fmt), target, options,
                              clock=services.clock)
    value = signer.sign(pending.data_to_be_signed)
    if pending.format is SignatureFormat.PADES:
        from ltv.formats import pades  # file to file: a 200 MB PDF never sits in memory

        pades.finish_to_file(pending, value, document=file, output=out, services=services)
    else:
        signed = signing.finish(pending, value, document=file, services=services)
        write_atomic(out, signed)
    click.echo(_("signed {file} -> {out} ({format} {level})").format(
        file=file, out=out, format=fmt, level=target.value))


@click.command("extend",
               help=N_("Raise an existing signature (ours or another tool's) to --level."))
@click.argument("signed_file", type=_FILE)
@click.option("--level", type=click.Choice(_LEVELS, case_sensitive=False), required=True,
              help=N_("Level to reach; B-LTA on a B-LTA adds a new archive time-stamp."))
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default=None,
              help=N_("Default: detected (PDF -> pades, XML -> xades, else cades)."))
@click.option("--detached", "detached", type=_FILE, default=None,
              help=N_("The signed data of a detached signature."))
@click.option("--pki", type=_DIR, default=None, envvar=ENV_PKI,
              help=N_("Sample PKI directory: its TSA and certificates. [env LTV_PKI]"))
@click.option("--tsa", default=None, envvar=ENV_TSA, help=N_("RFC 3161 TSA URL. [env LTV_TSA_URL]"))
@click.option("--timestamp-digest", default=None,
              help=N_("Hash of the new timestamp's imprint: sha256 (default), sha384 or sha512."))
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help=N_("Where the extended file goes."))
@fetch_options
def extend(signed_file: Path, level: str, fmt: str | None, detached: Path | None,
           pki: Path | None, tsa: str | None, timestamp_digest: str | None, out: Path) -> None:
    from ltv import signing

    with signed_file.open("rb") as stream:
        head = stream.read(1024)
    if not head:
        raise InputError(_("{file} is empty").format(file=signed_file))
    # Anything not recognised goes to CAdES, whose parser names what is wrong with it.
    chosen = SignatureFormat(fmt) if fmt else (SignatureFormat.sniff(head)
                                               or SignatureFormat.CADES)
    target = SignatureLevel.parse(level)
    services = _services(pki, tsa)
    if timestamp_digest:
        services = replace(services,
                           timestamp_digest=DigestAlgorithm.from_name(timestamp_digest))
    if chosen is SignatureFormat.PADES:
        from ltv.formats import pades  # file to file, as for signing

        pades.extend_file(signed_file, target, output=out, services=services)
    else:
        result = signing.extend(signed_file.read_bytes(), chosen, target,
                                detached_content=detached, services=services)
        write_atomic(out, result)
    click.echo(_("extended {file} -> {out} ({format} {level})").format(
        file=signed_file, out=out, format=chosen.value, level=target.value))
