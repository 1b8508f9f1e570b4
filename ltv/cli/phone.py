"""``ltv phone``: the simulated smartphone (enrol with the sample PKI, sign data-to-be-signed)."""

from __future__ import annotations

import base64
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Literal, cast

import click

from ltv.algorithms import DigestAlgorithm, SignatureMechanism, mechanism_for_key
from ltv.cli._common import TIME
from ltv.errors import InputError
from ltv.i18n import N_
from ltv.i18n import gettext as _
from ltv.tbs import DataToBeSigned, TbsForm

__all__ = ["phone"]

_DIR = click.Path(file_okay=False, path_type=Path)


@click.group(
             help=N_("Simulated smartphone: key made in its secure element, certificate from "
                     "the sample PKI."))
def phone() -> None:
    pass


@phone.command("enroll", help=N_("Enrol a new phone in PHONE_DIR with the sample PKI."))
@click.argument("phone_dir", type=_DIR)
@click.option("--pki", "pki_dir", required=True, type=_DIR, help=N_("The sample PKI directory."))
@click.option("--key", type=click.Choice(["rsa2048", "p256"]), default="rsa2048",
              show_default=True, help=N_("Key made on the phone."))
@click.option("--card", is_flag=True, help=N_("Have the card CA issue (a card certificate)."))
@click.option("--at", type=TIME, default=None, help=N_("Issue at this time (default: now)."))
@click.option("--name", default=None, help=N_("Holder name (SAN otherName), e.g. '署名 花子'."))
@click.option("--address", default=None, help=N_("Holder address (SAN otherName)."))
def enroll_cmd(phone_dir: Path, pki_dir: Path, key: str, card: bool, at: datetime | None,
               name: str | None, address: str | None) -> None:
    from samples.phone import Phone
    from samples.pki import Holder, SamplePki

    holder = Holder()
    if name is not None or address is not None:
        holder = Holder(name=name or holder.name, address=address or holder.address)
    made = Phone.enroll(phone_dir, SamplePki.load(pki_dir),
                        key=cast(Literal["rsa2048", "p256"], key), card=card, holder=holder,
                        at=at)
    cert = made.certificate
    click.echo(_("enrolled {dir}: {subject} serial {serial}, issued by {issuer}").format(
        dir=phone_dir, subject=cert.subject.rfc4514_string(), serial=f"{cert.serial_number:#x}",
        issuer=cert.issuer.rfc4514_string()))


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    return Path(path).read_bytes()


@phone.command("sign",
               help=N_("Sign data with the phone's key (the key never leaves "
                       "PHONE_DIR/secure-element)."))
@click.argument("phone_dir", type=_DIR)
@click.option("--in", "in_path", default=None, help=N_("Data to sign (a file, or - for stdin)."))
@click.option("--tbs-json", "tbs_json", default=None,
              help=N_("A data-to-be-signed JSON object (as the signing API hands out), or -."))
@click.option("--form", type=click.Choice([f.value for f in TbsForm]), default="message",
              show_default=True,
              help=N_("What --in holds: the whole message, its digest, or a DER DigestInfo."))
@click.option("--digest-algorithm", default="sha256", show_default=True)
@click.option("--mechanism", type=click.Choice([m.value for m in SignatureMechanism]),
              default=None, help=N_("Default: rsassa-pkcs1v15 for RSA keys, ecdsa for EC keys."))
@click.option("-o", "--out", "out_path", default="-", show_default=True,
              help=N_("Where the signature value goes (- for stdout)."))
@click.option("--base64", "as_base64", is_flag=True, help=N_("Write the value base64-encoded."))
def sign_cmd(phone_dir: Path, in_path: str | None, tbs_json: str | None, form: str,
             digest_algorithm: str, mechanism: str | None, out_path: str,
             as_base64: bool) -> None:
    from samples.phone import Phone

    device = Phone(phone_dir)
    if (in_path is None) == (tbs_json is None):
        raise click.UsageError(_("give exactly one of --in and --tbs-json"))
    if tbs_json is not None:
        try:
            obj = json.loads(_read_input(tbs_json))
        except ValueError as exc:
            raise InputError(_("--tbs-json: not JSON: {problem}").format(problem=exc)) from exc
        if not isinstance(obj, dict):
            raise InputError(_("--tbs-json: expected a JSON object"))
        tbs = DataToBeSigned.from_json(obj)
    else:
        assert in_path is not None
        alg = DigestAlgorithm.from_name(digest_algorithm)
        mech = (SignatureMechanism.from_name(mechanism) if mechanism is not None
                else mechanism_for_key(device.certificate.public_key()))
        data = _read_input(in_path)
        tbs = DataToBeSigned(form=TbsForm(form), data=data, digest_algorithm=alg,
                             mechanism=mech)
    value = device.sign(tbs)
    out = base64.b64encode(value) + b"\n" if as_base64 else value
    if out_path == "-":
        sys.stdout.buffer.write(out)
        sys.stdout.buffer.flush()
    else:
        Path(out_path).write_bytes(out)


def _register_sign_document() -> None:
    from ltv.cli.phone_document import sign_document

    phone.add_command(sign_document)


_register_sign_document()


def _register_approve() -> None:
    from ltv.cli.remote import approve

    phone.add_command(approve)


_register_approve()
