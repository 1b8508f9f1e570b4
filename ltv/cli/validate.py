"""``ltv validate``: EN 319 102-1 validation of CAdES, PAdES and XAdES files, for auditors.

One line per signature on stdout (``PASSED: FILE (...)``, ``FAILED: FILE SUBINDICATION ...``,
``INDETERMINATE: FILE SUBINDICATION ...``), diagnostics on stderr; exit 0 TOTAL-PASSED,
1 TOTAL-FAILED, 3 INDETERMINATE, 4 bad input or I/O, 2 usage. Several files: one line each, exit
code of the worst (4 > 1 > 3 > 0). ``--json/--xml/--html OUT`` write the reports; with several
files OUT is a directory that gets ``NAME.json`` (``.xml``, ``.html``) per input.

Clean output: every line is one line (control characters in a subject or message are shown as
escapes), a file that cannot be validated gives one ``ltv: error:`` line and the next file is
tried, whatever went wrong inside; ``-v`` adds each signature's errors and warnings and the
report's warnings (library messages among them) on stderr, and tracebacks.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ltv.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INDETERMINATE,
    EXIT_PASSED,
    TIME,
)
from ltv.cli._fetch import cli_egress, fetch_options
from ltv.clock import SystemClock, format_time
from ltv.errors import ConfigurationError, InputError, LtvError
from ltv.ers import EvidenceRecord
from ltv.evidence import EvidenceSet
from ltv.jpki import KeyKind
from ltv.signing import SignatureLevel
from ltv.validation import (
    Indication,
    RevocationFetchers,
    SignatureReport,
    ValidationPolicy,
    ValidationReport,
    load_trust_anchors,
)
from ltv.validation.process import validate_file
from ltv.validation.safetext import printable

# pyhanko-certvalidator logs each failed CRL-issuer path with its traceback: the verdict and
# its reason are in the report, and stderr keeps to the diagnostics (no traceback ever).
logging.getLogger("pyhanko_certvalidator").addHandler(logging.NullHandler())

__all__ = ["validate"]

ENV_TRUST = "LTV_TRUST"
_CAPS = ("max_signatures", "max_timestamps", "max_path_length", "max_fetched_certificates")
_RANK = {EXIT_PASSED: 0, EXIT_INDETERMINATE: 1, EXIT_FAILED: 2, EXIT_BAD_INPUT: 3}


def _exit_code(report: ValidationReport) -> int:
    return {
        Indication.TOTAL_PASSED: EXIT_PASSED,
        Indication.TOTAL_FAILED: EXIT_FAILED,
    }.get(report.indication, EXIT_INDETERMINATE)


def _one_line(text: str) -> str:
    """``text`` as one terminal-safe line (control characters, newlines shown as escapes)."""
    return printable(text).replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")


def _line(name: str, sig: SignatureReport, many: bool) -> str:
    return _one_line(_verdict_line(name, sig, many))


def _verdict_line(name: str, sig: SignatureReport, many: bool) -> str:
    label = f"{name}#{sig.id}" if many else name
    if sig.indication is Indication.TOTAL_PASSED:
        bits = [sig.level.value if sig.level else "no baseline level", sig.format.value]
        if sig.signer is not None:
            bits.append(f"{sig.signer.key_kind.label} key of {sig.signer.subject}")
        bits.append(f"best signature time {format_time(sig.best_signature_time)}")
        if sig.poe is not None and sig.poe.source != "validation-time":
            bits.append(f"POE: {sig.poe.source} time-stamp of {format_time(sig.poe.time)}"
                        if sig.poe.source != "evidence-record"
                        else f"POE: evidence record of {format_time(sig.poe.time)}")
        return f"PASSED: {label} ({', '.join(bits)})"
    word = "FAILED" if sig.indication is Indication.TOTAL_FAILED else "INDETERMINATE"
    sub = sig.subindication.token if sig.subindication else "-"
    detail = f" {sig.message}" if sig.message else ""
    return f"{word}: {label} {sub}{detail}"


def _fetchers() -> RevocationFetchers:
    from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher

    egress = cli_egress()
    timeout = egress.policy.timeout
    return RevocationFetchers(ocsp=HttpOCSPFetcher(timeout, egress=egress),
                              crl=HttpCRLFetcher(timeout, egress=egress),
                              certificates=HttpCertificateFetcher(timeout, egress=egress))


def _policy(trust: tuple[Path, ...], policy_file: Path | None,
            refuse: tuple[str, ...]) -> ValidationPolicy:
    paths: list[str | os.PathLike[str]] = list(trust)
    if not paths and os.environ.get(ENV_TRUST):
        paths = [p for p in os.environ[ENV_TRUST].split(os.pathsep) if p]
    policy = ValidationPolicy.default(trust_anchors=load_trust_anchors(paths))
    if policy_file is not None:
        policy = _apply_policy_file(policy, policy_file)
    if refuse:
        policy = policy.refusing(*(KeyKind(k) for k in refuse))
    return policy


def _apply_policy_file(policy: ValidationPolicy, path: Path) -> ValidationPolicy:
    """A JSON policy file: ``minimum_level``, ``refuse_key_kinds``, ``revocation_freshness_hours``,
    ``trust`` (more PEM paths, relative to the file), ``refuse_unsigned_content`` (XAdES,
    default true), the caps ``max_signatures``, ``max_timestamps``, ``max_path_length``,
    ``max_fetched_certificates`` (positive integers) and ``deadline_seconds``, ``digest_sunset``
    (algorithm → ISO 8601 time, merged over the defaults), ``allowed_content_types`` and
    ``signer_extended_key_usages`` (dotted OIDs, replacing the defaults)."""
    from dataclasses import replace
    from datetime import timedelta

    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read policy file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: a policy file is a JSON object")
    known = {"name", "minimum_level", "refuse_key_kinds", "revocation_freshness_hours", "trust",
             "refuse_unsigned_content", "deadline_seconds", *_CAPS,
             "digest_sunset", "allowed_content_types", "signer_extended_key_usages"}
    unknown = set(data) - known
    if unknown:
        raise ConfigurationError(f"{path}: unknown policy keys {sorted(unknown)}")
    try:
        if "name" in data:
            policy = replace(policy, name=str(data["name"]))
        if "minimum_level" in data:
            policy = replace(policy, minimum_level=SignatureLevel.parse(data["minimum_level"]))
        if "revocation_freshness_hours" in data:
            policy = replace(policy, revocation_freshness=timedelta(
                hours=float(data["revocation_freshness_hours"])))
        if "refuse_unsigned_content" in data:
            if not isinstance(data["refuse_unsigned_content"], bool):
                raise ConfigurationError(f"{path}: refuse_unsigned_content is true or false")
            policy = replace(policy, refuse_unsigned_content=data["refuse_unsigned_content"])
        if "refuse_key_kinds" in data:
            policy = policy.refusing(*(KeyKind(k) for k in data["refuse_key_kinds"]))
        caps: dict[str, int] = {}
        for key in _CAPS:
            if key in data:
                value = data[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ConfigurationError(f"{path}: {key} is a positive integer")
                caps[key] = value
        policy = replace(
            policy, max_signatures=caps.get("max_signatures", policy.max_signatures),
            max_timestamps=caps.get("max_timestamps", policy.max_timestamps),
            max_path_length=caps.get("max_path_length", policy.max_path_length),
            max_fetched_certificates=caps.get("max_fetched_certificates",
                                              policy.max_fetched_certificates))
        if "deadline_seconds" in data:
            seconds = float(data["deadline_seconds"])
            if not 0 < seconds < 86400:
                raise ConfigurationError(f"{path}: deadline_seconds is between 0 and 86400")
            policy = replace(policy, deadline=timedelta(seconds=seconds))
        if "digest_sunset" in data:  # {"sha1": "2016-01-01T00:00:00Z", ...}: replaces entries
            from ltv.clock import parse_time

            policy = replace(policy, digest_sunset={
                **policy.digest_sunset,
                **{str(k).lower().replace("-", ""): parse_time(str(v))
                   for k, v in dict(data["digest_sunset"]).items()}})
        if "allowed_content_types" in data:
            policy = replace(policy, allowed_content_types=_oid_list(
                path, "allowed_content_types", data["allowed_content_types"]))
        if "signer_extended_key_usages" in data:
            policy = replace(policy, signer_extended_key_usages=_oid_list(
                path, "signer_extended_key_usages", data["signer_extended_key_usages"]))
        if "trust" in data:
            policy = policy.with_trust_anchors(
                load_trust_anchors([path.parent / p for p in data["trust"]]))
    except (TypeError, ValueError) as exc:
        if isinstance(exc, LtvError):
            raise
        raise ConfigurationError(f"{path}: {exc}") from exc
    return policy


def _oid_list(path: Path, key: str, value: object) -> frozenset[str]:
    """A policy file's list of dotted OIDs; a bare string would otherwise become a set of its
    characters and silently refuse every signature."""
    import re

    if not isinstance(value, list) or not all(
            isinstance(o, str) and re.fullmatch(r"[0-2](\.[0-9]+)+", o) for o in value):
        raise ConfigurationError(f"{path}: {key} is a list of dotted OIDs "
                                 f"(e.g. [\"1.2.840.113549.1.7.1\"])")
    return frozenset(value)


def _write(out: Path, name: str, suffix: str, text: str, many: bool) -> None:
    target = out
    if many:
        out.mkdir(parents=True, exist_ok=True)
        target = out / f"{name}{suffix}"
    target.write_text(text, encoding="utf-8")


@click.command("validate")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--detached", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The signed data of a detached signature.")
@click.option("--at", "at", type=TIME, envvar="LTV_AT",
              help="Validation time (ISO 8601, e.g. 2040-01-01T00:00:00Z); default: now.")
@click.option("--trust", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Trust anchor PEM file or directory (repeatable; default: $LTV_TRUST).")
@click.option("--offline", is_flag=True, envvar="LTV_OFFLINE",
              help="Use only the material inside the file: fetch nothing.")
@click.option("--json", "json_out", type=click.Path(path_type=Path),
              help="Write the JSON report (ltv.validation-report/1) here.")
@click.option("--xml", "xml_out", type=click.Path(path_type=Path),
              help="Write the ETSI TS 119 102-2 XML report here.")
@click.option("--html", "html_out", type=click.Path(path_type=Path),
              help="Write the HTML report (with a timeline) here.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]),
              default="text", show_default=True, envvar="LTV_FORMAT",
              help="What stdout shows: one line per signature, or the JSON report.")
@click.option("--policy", "policy_file",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON policy file (minimum_level, refuse_key_kinds, ...).")
@click.option("--evidence-record", "evidence_records", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="RFC 4998 evidence record over the signed file, a proof of existence: the "
                   "DER file, or a directory from `ltv archive export-er` (evidence-record.ers "
                   "and objects/, whose certificates, CRLs and OCSP responses join the "
                   "validation material). Repeatable.")
@click.option("--signature-id", "signature_id", default=None,
              help="Report only the signature with this Id (a XAdES ds:Signature Id, a PAdES "
                   "field name, or CAdES 'signature N').")
@click.option("--refuse-key-kind", "refuse", multiple=True,
              type=click.Choice([k.value for k in KeyKind]),
              help="Do not accept signatures made with this kind of key (repeatable).")
@fetch_options
def validate(files: tuple[Path, ...], detached: Path | None, at: datetime | None,
             trust: tuple[Path, ...], offline: bool, json_out: Path | None,
             xml_out: Path | None, html_out: Path | None, output_format: str,
             policy_file: Path | None, refuse: tuple[str, ...],
             evidence_records: tuple[Path, ...], signature_id: str | None = None) -> None:
    """Validate signed FILEs (EN 319 102-1) and print one verdict line per signature."""
    from ltv.validation._speedups import defer_sign_package

    defer_sign_package()  # start-up: validation needs none of pyHanko's signers
    root = click.get_current_context().find_root()
    verbose = bool(root.obj and root.obj.get("verbose"))
    policy = _policy(trust, policy_file, refuse)
    when = at or SystemClock().now()
    detached_bytes = detached.read_bytes() if detached is not None else None
    fetchers = None if offline else _fetchers()
    many = len(files) > 1
    worst = EXIT_PASSED
    json_docs: list[dict[str, Any]] = []
    for file in files:
        try:
            records, archived = _evidence_records(evidence_records)
            # a large PDF is read through an mmap and a file stream, never whole
            report = validate_file(file, policy=policy, at=when, offline=offline,
                                   fetchers=fetchers, detached_content=detached_bytes,
                                   evidence_records=records, extra_evidence=archived)
            if signature_id is not None:
                report = _select(report, signature_id)
        except (LtvError, OSError) as exc:
            message = (f"{exc.strerror or exc}" if isinstance(exc, OSError) else str(exc))
            _diagnostic(f"ltv: error: {file}: {message}", verbose)
            worst = max(worst, EXIT_BAD_INPUT, key=_RANK.__getitem__)
            continue
        except Exception as exc:  # a bug or a library's raw error: one line, never a traceback
            _diagnostic(f"ltv: error: {file}: cannot validate ({type(exc).__name__}: {exc})"
                        f"{'' if verbose else '; -v shows the traceback'}", verbose)
            worst = max(worst, EXIT_BAD_INPUT, key=_RANK.__getitem__)
            continue
        code = _exit_code(report)
        worst = max(worst, code, key=_RANK.__getitem__)
        multi_sig = len(report.signatures) > 1
        if output_format == "text":
            for sig in report.signatures:
                click.echo(_line(str(file), sig, multi_sig))
        if verbose:
            _details(str(file), report, multi_sig)
        try:
            _render(report, file, json_out, xml_out, html_out, many)
        except OSError as exc:
            _diagnostic(f"ltv: error: {file}: cannot write the report: "
                        f"{exc.strerror or exc}: {exc.filename}", verbose)
            worst = max(worst, EXIT_BAD_INPUT, key=_RANK.__getitem__)
        if output_format == "json":
            from ltv.validation.report_json import to_json

            doc = to_json(report)
            if many:
                doc["file"] = str(file)
            json_docs.append(doc)
    if output_format == "json":
        payload: Any = json_docs if many else (json_docs[0] if json_docs else None)
        if payload is not None:
            click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    sys.exit(worst)


def _diagnostic(line: str, verbose: bool) -> None:
    """One line on stderr; with ``-v`` the traceback of the exception being handled first."""
    if verbose:
        traceback.print_exc()
    click.echo(_one_line(line), err=True)


def _details(name: str, report: ValidationReport, many: bool) -> None:
    """``-v``: what each signature's report says beyond its verdict line, one line each."""
    for note in report.warnings:
        click.echo(_one_line(f"ltv: note: {name}: {note}"), err=True)
    for sig in report.signatures:
        label = f"{name}#{sig.id}" if many else name
        for error in sig.errors:
            click.echo(_one_line(f"ltv: detail: {label}: error: {error}"), err=True)
        for warning in sig.warnings:
            click.echo(_one_line(f"ltv: detail: {label}: warning: {warning}"), err=True)


def _select(report: ValidationReport, signature_id: str) -> ValidationReport:
    """The report of the one signature named ``signature_id`` (bad input when none is)."""
    from dataclasses import replace

    chosen = tuple(s for s in report.signatures if s.id == signature_id)
    if not chosen:
        raise InputError(f"no signature with Id {signature_id!r} (the file holds: "
                         f"{', '.join(s.id for s in report.signatures)})")
    return replace(report, signatures=chosen)


def _evidence_records(paths: tuple[Path, ...]
                      ) -> tuple[list[EvidenceRecord], EvidenceSet | None]:
    """``--evidence-record`` values: DER files, or export-er directories (the record and the
    data objects it protects; certificates, CRLs and OCSP responses among them are returned
    as archived validation material)."""
    from ltv.validation.records import material_from_objects

    records: list[EvidenceRecord] = []
    objects: list[bytes] = []
    for path in paths:
        if path.is_dir():
            records.append(EvidenceRecord.from_der((path / "evidence-record.ers").read_bytes()))
            folder = path / "objects"
            if folder.is_dir():
                objects.extend(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())
        else:
            records.append(EvidenceRecord.from_der(path.read_bytes()))
    return records, (material_from_objects(objects) if objects else None)


def _render(report: ValidationReport, file: Path, json_out: Path | None, xml_out: Path | None,
            html_out: Path | None, many: bool) -> None:
    if json_out is not None:
        from ltv.validation.report_json import dumps

        _write(json_out, file.name, ".json", dumps(report) + "\n", many)
    if xml_out is not None:
        from ltv.validation.report_xml import to_xml

        _write(xml_out, file.name, ".xml", to_xml(report), many)
    if html_out is not None:
        from ltv.validation.report_html import to_html

        _write(html_out, file.name, ".html", to_html(report, title=file.name), many)
