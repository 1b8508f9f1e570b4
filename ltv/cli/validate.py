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

import contextlib
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ltv.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INDETERMINATE,
    EXIT_PASSED,
    TIME,
)
from ltv.cli._fetch import cli_egress, fetch_options
from ltv.cli._i18n import date_options, date_settings, show_time
from ltv.cli._progress import Progress
from ltv.clock import SystemClock
from ltv.errors import ConfigurationError, InputError, LtvError
from ltv.ers import EvidenceRecord
from ltv.evidence import EvidenceSet
from ltv.i18n import N_, current_language
from ltv.i18n import gettext as _
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
from ltv.validation.report_options import ReportOptions
from ltv.validation.safetext import printable

if TYPE_CHECKING:
    from ltv.cli._pool import Lost

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


_POE_KINDS = {"signature": N_("signature time-stamp"), "archive": N_("archive time-stamp"),
              "document": N_("document time-stamp"), "content": N_("content time-stamp")}
_KEY_KINDS = (N_("smartphone"), N_("card"), N_("remote (server-held key, FIDO-authorised)"),
              N_("other"))


def _explain(sig: SignatureReport) -> str:
    """The verdict in plain words (:func:`ltv.validation.explain.explain` when present)."""
    from ltv.validation.explain import explain

    text = explain(sig.indication.value,
                   sig.subindication.value if sig.subindication else None, current_language())
    return _(" ({explanation})").format(explanation=text) if text else ""


def _verdict_line(name: str, sig: SignatureReport, many: bool) -> str:
    """``PASSED: FILE (...)``; in Japanese the standard token stays and plain words follow."""
    label = f"{name}#{sig.id}" if many else name
    ja = current_language() == "ja"
    if sig.indication is Indication.TOTAL_PASSED:
        bits = [sig.level.value if sig.level else _("no baseline level"), sig.format.value]
        if sig.signer is not None:
            who = sig.signer.subject
            if ja and sig.signer.holder_name:  # the JPKI holder's name, then the subject
                who = f"{sig.signer.holder_name}、{who}"
            bits.append(_("{kind} key of {subject}").format(
                kind=_(sig.signer.key_kind.label), subject=who))
        bits.append(_("best signature time {time}").format(
            time=show_time(sig.best_signature_time)))
        if sig.poe is not None and sig.poe.source != "validation-time":
            if sig.poe.source == "evidence-record":
                bits.append(_("POE: evidence record of {time}").format(
                    time=show_time(sig.poe.time)))
            elif sig.poe.source in _POE_KINDS and ja:
                bits.append(_("POE: {kind} of {time}").format(
                    kind=_(_POE_KINDS[sig.poe.source]), time=show_time(sig.poe.time)))
            else:
                bits.append(_("POE: {source} time-stamp of {time}").format(
                    source=sig.poe.source, time=show_time(sig.poe.time)))
        return _("PASSED: {label} ({details})").format(
            label=label, details=_(", ").join(bits), explanation="")
    sub = sig.subindication.token if sig.subindication else "-"
    detail = f" {sig.message}" if sig.message else ""
    explanation = _explain(sig) if ja else ""
    if sig.indication is Indication.TOTAL_FAILED:
        return _("FAILED: {label} {sub}{detail}").format(
            label=label, sub=sub, detail=detail, explanation=explanation)
    return _("INDETERMINATE: {label} {sub}{detail}").format(
        label=label, sub=sub, detail=detail, explanation=explanation)


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
    (algorithm → ISO 8601 time, merged over the defaults), ``key_sunset`` (key class such as
    ``rsa-2048`` → ISO 8601 time or null, merged over NIST IR 8547's defaults),
    ``allowed_content_types`` and
    ``signer_extended_key_usages`` (dotted OIDs, replacing the defaults)."""
    from dataclasses import replace
    from datetime import timedelta

    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(_("cannot read policy file {path}: {problem}").format(
            path=path, problem=exc)) from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: a policy file is a JSON object")
    known = {"name", "minimum_level", "refuse_key_kinds", "revocation_freshness_hours", "trust",
             "refuse_unsigned_content", "deadline_seconds", *_CAPS,
             "digest_sunset", "key_sunset", "allowed_content_types",
             "signer_extended_key_usages"}
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
        if "key_sunset" in data:  # {"rsa-2048": "2036-01-01T00:00:00Z", "p-256": null}
            from ltv.validation.policy import key_sunset_from

            policy = replace(policy, key_sunset=key_sunset_from(policy.key_sunset,
                                                                data["key_sunset"]))
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
    """Write a report whole or not at all (a temporary file renamed: Ctrl-C or a full disk
    never leaves half a report)."""
    from ltv.files import write_atomic

    target = out
    if many:
        target = out / f"{name}{suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomic(target, text.encode("utf-8"))
    except OSError as exc:  # named by the report's path, not its temporary file's
        raise type(exc)(exc.errno, exc.strerror, str(target)) from exc


@click.command("validate",
               help=N_("Validate signed FILEs (EN 319 102-1) and print one verdict line per "
                       "signature."))
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--detached", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=N_("The signed data of a detached signature."))
@click.option("--at", "at", type=TIME, envvar="LTV_AT",
              help=N_("Validation time (ISO 8601, e.g. 2040-01-01T00:00:00Z); default: now."))
@click.option("--trust", multiple=True, type=click.Path(exists=True, path_type=Path),
              help=N_("Trust anchor PEM file or directory (repeatable; default: $LTV_TRUST)."))
@click.option("--offline", is_flag=True, envvar="LTV_OFFLINE",
              help=N_("Use only the material inside the file: fetch nothing."))
@click.option("--json", "json_out", type=click.Path(path_type=Path),
              help=N_("Write the JSON report (ltv.validation-report/1) here."))
@click.option("--xml", "xml_out", type=click.Path(path_type=Path),
              help=N_("Write the ETSI TS 119 102-2 XML report here."))
@click.option("--html", "html_out", type=click.Path(path_type=Path),
              help=N_("Write the HTML report (with a timeline) here."))
@click.option("--format", "output_format", type=click.Choice(["text", "json"]),
              default="text", show_default=True, envvar="LTV_FORMAT",
              help=N_("What stdout shows: one line per signature, or the JSON report."))
@click.option("--policy", "policy_file",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=N_("JSON policy file (minimum_level, refuse_key_kinds, ...)."))
@click.option("--evidence-record", "evidence_records", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help=N_("RFC 4998 evidence record over the signed file, a proof of existence: the "
                      "DER file, or a directory from `ltv archive export-er` (evidence-record.ers "
                      "and objects/, whose certificates, CRLs and OCSP responses join the "
                      "validation material). Repeatable."))
@click.option("--signature-id", "signature_id", default=None,
              help=N_("Report only the signature with this Id (a XAdES ds:Signature Id, a PAdES "
                      "field name, or CAdES 'signature N')."))
@click.option("--refuse-key-kind", "refuse", multiple=True,
              type=click.Choice([k.value for k in KeyKind]),
              help=N_("Do not accept signatures made with this kind of key (repeatable)."))
@click.option("--pdf", "pdf_out", type=click.Path(path_type=Path),
              help=N_("Write the report as an A4 PDF here (for filing), in the output's "
                      "language."))
@click.option("--show-holder-details", is_flag=True,
              help=N_("Show the JPKI holder's address, date of birth and gender in the "
                      "reports (personal data: off by default, never logged)."))
@click.option("-q", "--quiet", count=True,
              help=N_("-q: only the verdict lines and error lines (no progress, notes or "
                      "skipped-file warnings); -qq: nothing at all, only the exit code."))
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, envvar="LTV_JOBS",
              metavar="N",
              help=N_("Files validated at once, each in a worker process (default: one per CPU "
                      "with two files or more; 1: one after the other). The output is the same "
                      "either way, in the order of the FILEs."))
@date_options
@fetch_options
def validate(files: tuple[Path, ...], detached: Path | None, at: datetime | None,
             trust: tuple[Path, ...], offline: bool, json_out: Path | None,
             xml_out: Path | None, html_out: Path | None, output_format: str,
             policy_file: Path | None, refuse: tuple[str, ...],
             evidence_records: tuple[Path, ...], signature_id: str | None = None,
             quiet: int = 0, pdf_out: Path | None = None,
             show_holder_details: bool = False, jobs: int | None = None) -> None:
    """Validate signed FILEs (EN 319 102-1) and print one verdict line per signature."""
    from ltv.validation._speedups import defer_sign_package

    defer_sign_package()  # start-up: validation needs none of pyHanko's signers
    root = click.get_current_context().find_root()
    verbose = bool(root.obj and root.obj.get("verbose")) and quiet == 0
    policy = _policy(trust, policy_file, refuse)
    when = at or SystemClock().now()
    detached_bytes = detached.read_bytes() if detached is not None else None
    fetchers = None if offline else _fetchers()
    entries, worst = _expand(files, quiet)
    many = len(entries) > 1 or any(f.is_dir() for f in files)
    run = _Run(policy, when, offline, fetchers, detached_bytes, evidence_records, signature_id)
    outputs = _Outputs(json_out, xml_out, html_out, pdf_out, _options(show_holder_details))

    def work(index: int) -> _Outcome:
        file, name = entries[index]
        return _validate_one(file, name, many=many, verbose=verbose, quiet=quiet,
                             output_format=output_format, run=run, outputs=outputs)

    json_docs: list[dict[str, Any]] = []
    # closing: an exception here (Ctrl-C, a closed stdout) ends the workers before it goes on
    with contextlib.closing(_outcomes(work, [f for f, _n in entries], jobs, quiet)) as outs:
        for outcome in outs:
            for to_stderr, text in outcome.lines:
                click.echo(text, err=to_stderr)
            if outcome.json_doc is not None:
                json_docs.append(outcome.json_doc)
            worst = max(worst, outcome.code, key=_RANK.__getitem__)
    if output_format == "json" and quiet < 2:
        payload: Any = json_docs if many else (json_docs[0] if json_docs else None)
        if payload is not None:
            click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    sys.exit(worst)


#: A first file up to this size is validated here before the workers are forked (it warms this
#: process); a larger one goes to a worker like the rest, so big files run side by side.
WARM_UP_BYTES = 4 << 20


def _outcomes(work: Callable[[int], _Outcome], files: list[Path], jobs: int | None,
              quiet: int) -> Generator[_Outcome, None, None]:
    """Each file's outcome in input order: in this process (``--jobs 1``, one file, or no
    sound fork), else from a pool of forked workers (:mod:`ltv.cli._pool`).

    Children print nothing: their lines are printed here, in input order, so the output is the
    sequential run's. A small first file is validated here first: that warms this process
    (the lazily imported parts of the validation stack, about 0.2 s), and the children forked
    after it inherit all of it with the run's policy instead of each paying it again. The
    progress bar (a terminal only) redraws without a thread, so forking stays sound and a
    worker lost to a crash can be replaced."""
    count = len(files)
    if count < 2:  # one file never pays for a pool, nor imports one
        for index in range(count):
            yield work(index)
        return
    from ltv.cli._pool import Lost, OrderedPool, can_fork, default_jobs

    jobs = default_jobs(count) if jobs is None else min(jobs, count)
    with Progress(plain=False, enabled=quiet == 0 and count > 1, transient=True,
                  threadless=True) as progress:
        progress(_("validating"), 0, count)
        start = 0
        if jobs > 1 and _small(files[0]):
            start = 1
            yield work(0)
            progress(_("validating"), 1, count)
        workers = min(jobs, count - start)
        if workers < 2 or not can_fork():
            for index in range(start, count):
                yield work(index)
                progress(_("validating"), index + 1, count)
            return
        with OrderedPool(lambda i: work(start + i), count - start, workers) as pool:
            for index, result in enumerate(pool, start=start):
                yield _lost(files[index], result, quiet) if isinstance(result, Lost) \
                    else result
                progress(_("validating"), index + 1, count)


def _small(file: Path) -> bool:
    try:
        return file.stat().st_size <= WARM_UP_BYTES
    except OSError:  # its error line comes from validating it
        return True


def _lost(file: Path, lost: Lost, quiet: int) -> _Outcome:
    """The outcome of a file whose worker process died: one error line, exit code 4."""
    lines: list[tuple[bool, str]] = []
    if quiet < 2:
        lines.append((True, _one_line(_error(_("{file}: cannot validate ({problem})").format(
            file=file, problem=lost.why)))))
    return _Outcome(EXIT_BAD_INPUT, lines, None)


def _options(show_holder_details: bool) -> ReportOptions:
    """How this run's reports are shown: its language, ``--tz``, ``--era``, holder details."""
    tz, era = date_settings()
    return ReportOptions(lang=current_language(), tz=tz, era=era,
                         show_holder_details=show_holder_details)


class _Outputs:
    """Where this run writes its reports, and how they are shown."""

    def __init__(self, json_out: Path | None, xml_out: Path | None, html_out: Path | None,
                 pdf_out: Path | None, options: ReportOptions) -> None:
        self.json_out = json_out
        self.xml_out = xml_out
        self.html_out = html_out
        self.pdf_out = pdf_out
        self.options = options


class _Run:
    """What every file of one ``ltv validate`` run is validated with."""

    def __init__(self, policy: ValidationPolicy, when: datetime, offline: bool,
                 fetchers: RevocationFetchers | None, detached: bytes | None,
                 evidence_records: tuple[Path, ...], signature_id: str | None) -> None:
        self.policy = policy
        self.when = when
        self.offline = offline
        self.fetchers = fetchers
        self.detached = detached
        self.evidence_records = evidence_records
        self.signature_id = signature_id


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One file's result: its exit code, its lines in order (``(to_stderr, text)``) and its
    JSON report (``--format json``); a plain value, so a worker process can send it back."""

    code: int
    lines: list[tuple[bool, str]]
    json_doc: dict[str, Any] | None


def _validate_one(file: Path, name: str, *, many: bool, verbose: bool, quiet: int,
                  output_format: str, run: _Run, outputs: _Outputs) -> _Outcome:
    """Validate one file and write its reports; what to print, and its exit code."""
    lines: list[tuple[bool, str]] = []
    with _logged_into(lines):
        return _validate_into(lines, file, name, many=many, verbose=verbose, quiet=quiet,
                              output_format=output_format, run=run, outputs=outputs)


class _Lines:
    """A text stream for a logging handler: each record becomes one stderr entry of ``lines``."""

    def __init__(self, lines: list[tuple[bool, str]]) -> None:
        self.lines = lines

    def write(self, text: str) -> int:
        if text.endswith("\n"):
            self.lines.append((True, text[:-1]))
        elif text:
            self.lines.append((True, text))  # pragma: no cover - StreamHandler ends each record
        return len(text)

    def flush(self) -> None:
        pass


@contextlib.contextmanager
def _logged_into(lines: list[tuple[bool, str]]) -> Iterator[None]:
    """While one file is validated, what the command's stderr log handler would print goes
    into its ``lines`` instead, in order: printed with the file's other lines, so a worker
    process's log records come out where the sequential run prints them."""
    from ltv.cli import _HANDLER_NAME

    handlers = [h for h in logging.getLogger().handlers
                if isinstance(h, logging.StreamHandler) and h.get_name() == _HANDLER_NAME]
    streams = [h.setStream(_Lines(lines)) for h in handlers]
    try:
        yield
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream)


def _validate_into(lines: list[tuple[bool, str]], file: Path, name: str, *, many: bool,
                   verbose: bool, quiet: int, output_format: str, run: _Run,
                   outputs: _Outputs) -> _Outcome:
    say = quiet < 2
    try:
        records, archived = _evidence_records(run.evidence_records)
        # a large PDF is read through an mmap and a file stream, never whole
        report = validate_file(file, policy=run.policy, at=run.when, offline=run.offline,
                               fetchers=run.fetchers, detached_content=run.detached,
                               evidence_records=records, extra_evidence=archived)
        if run.signature_id is not None:
            report = _select(report, run.signature_id)
    except (LtvError, OSError) as exc:
        message = (f"{exc.strerror or exc}" if isinstance(exc, OSError) else str(exc))
        if say:
            _diagnostic(lines, _error(f"{file}: {message}"), verbose)
        return _Outcome(EXIT_BAD_INPUT, lines, None)
    except Exception as exc:  # a bug or a library's raw error: one line, never a traceback
        if say:
            _diagnostic(lines, _error(_("{file}: cannot validate ({problem})").format(
                file=file, problem=f"{type(exc).__name__}: {exc}"))
                + ("" if verbose else _("; -v shows the traceback")), verbose)
        return _Outcome(EXIT_BAD_INPUT, lines, None)
    code = _exit_code(report)
    multi_sig = len(report.signatures) > 1
    if output_format == "text" and say:
        lines.extend((False, _line(str(file), sig, multi_sig)) for sig in report.signatures)
    if verbose:
        _details(lines, str(file), report, multi_sig)
    try:
        _render(report, name, outputs, many)
    except (OSError, LtvError) as exc:
        problem = f"{exc.strerror or exc}: {exc.filename}" if isinstance(exc, OSError) \
            else str(exc)
        if say:
            _diagnostic(lines, _error(_("{file}: cannot write the report: {problem}").format(
                file=file, problem=problem)), verbose)
        code = max(code, EXIT_BAD_INPUT, key=_RANK.__getitem__)
    json_doc = None
    if output_format == "json":
        from ltv.validation.report_json import to_json

        json_doc = to_json(report, outputs.options)
        if many:
            json_doc["file"] = str(file)
    return _Outcome(code, lines, json_doc)


def _error(message: str) -> str:
    return _("ltv: error: {message}").format(message=message)


# what a file that is signed starts with / holds (``ltv validate DIR`` takes only these)
_CMS_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
_XMLDSIG = b"http://www.w3.org/2000/09/xmldsig#"


def _looks_signed(data: bytes) -> bool:
    """A PDF with a signature's /ByteRange, XML with an XML-DSig signature, or DER CMS
    signed-data (a .p7s / .p7m); anything else is not a signed file."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if data.startswith(b"%PDF-"):
        return b"/ByteRange" in data
    if head.startswith(b"<"):
        return _XMLDSIG in data and b"Signature" in data
    # a ContentInfo whose contentType (right after the outer SEQUENCE header) is signed-data;
    # a time-stamp reply (.tsr) holds one deeper and is not a signed file
    return data[:1] == b"\x30" and 2 <= data.find(_CMS_SIGNED_DATA, 0, 16) <= 6


def _expand(paths: tuple[Path, ...], quiet: int) -> tuple[list[tuple[Path, str]], int]:
    """The files to validate: each FILE as given; each DIR walked recursively (sorted), taking
    the files that look signed (:func:`_looks_signed`). A file that does not is skipped with
    one warning line; one that cannot be read gives an error line and exit code 4; a DIR
    with no signed file is an error (exit 4). Entries: (path, report name); each file is read
    when it is validated."""
    entries: list[tuple[Path, str]] = []
    worst = EXIT_PASSED
    for path in paths:
        if not path.is_dir():
            entries.append((path, path.name))
            continue
        taken = 0
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            try:
                data = file.read_bytes()
            except OSError as exc:
                if quiet < 2:
                    click.echo(_one_line(_error(f"{file}: {exc.strerror or exc}")), err=True)
                worst = EXIT_BAD_INPUT
                continue
            if not _looks_signed(data):
                if quiet == 0:
                    click.echo(_one_line(_("ltv: warning: {file}: skipped (not a signed file)")
                                         .format(file=file)), err=True)
                continue
            taken += 1
            # validated from the file later: a directory of large PDFs is never held at once
            entries.append((file, file.relative_to(path).as_posix()))
            del data
        if taken == 0:
            if quiet < 2:
                click.echo(_one_line(_error(_("{dir}: no signed file in this directory")
                                            .format(dir=path))), err=True)
            worst = EXIT_BAD_INPUT
    return entries, worst


def _diagnostic(lines: list[tuple[bool, str]], line: str, verbose: bool) -> None:
    """One line for stderr; with ``-v`` the traceback of the exception being handled first."""
    if verbose:
        lines.append((True, traceback.format_exc().rstrip("\n")))
    lines.append((True, _one_line(line)))


def _details(lines: list[tuple[bool, str]], name: str, report: ValidationReport,
             many: bool) -> None:
    """``-v``: what each signature's report says beyond its verdict line, one line each."""
    for note in report.warnings:
        lines.append((True, _one_line(_("ltv: note: {name}: {note}").format(
            name=name, note=note))))
    for sig in report.signatures:
        label = f"{name}#{sig.id}" if many else name
        for error in sig.errors:
            lines.append((True, _one_line(_("ltv: detail: {label}: error: {error}").format(
                label=label, error=error))))
        for warning in sig.warnings:
            lines.append((True, _one_line(_("ltv: detail: {label}: warning: {warning}").format(
                label=label, warning=warning))))


def _select(report: ValidationReport, signature_id: str) -> ValidationReport:
    """The report of the one signature named ``signature_id`` (bad input when none is)."""
    from dataclasses import replace

    chosen = tuple(s for s in report.signatures if s.id == signature_id)
    if not chosen:
        raise InputError(_("no signature with Id {id!r} (the file holds: {ids})").format(
            id=signature_id, ids=", ".join(s.id for s in report.signatures)))
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


def _render(report: ValidationReport, name: str, outputs: _Outputs, many: bool) -> None:
    options = outputs.options
    if outputs.json_out is not None:
        from ltv.validation.report_json import dumps

        _write(outputs.json_out, name, ".json", dumps(report, options=options) + "\n", many)
    if outputs.xml_out is not None:
        from ltv.validation.report_xml import to_xml

        _write(outputs.xml_out, name, ".xml", to_xml(report, options), many)
    if outputs.html_out is not None:
        from ltv.validation.report_html import to_html

        _write(outputs.html_out, name, ".html",
               to_html(report, title=Path(name).name, options=options), many)
    if outputs.pdf_out is not None:
        from ltv.report_pdf import write_report_pdf

        target = outputs.pdf_out
        if many:
            target = outputs.pdf_out / f"{name}.pdf"
            target.parent.mkdir(parents=True, exist_ok=True)
        write_report_pdf(report, target, options, title=Path(name).name)
