"""``ltv archive``: evidence packages, RFC 4998 evidence records and their renewal (CLI edge).

``put`` ingests a signed file and prints the package id; ``get`` writes the signed document
(``--package DIR``: every object); ``ls`` lists ids; ``verify ID`` proves a package offline
(validate's exit codes); ``verify --all`` proves every package batch by batch (0 all passed, 1
otherwise; ``--summary FILE``: the JSON summary of :mod:`archive.verify_all`); ``renew`` is the
cron job over every tenant (``--tenant`` narrows it; 0 ok or nothing to do, 4 errors);
``renew`` and ``verify --all`` take ``--shard I/N`` (:mod:`archive.shard`: N workers split the
work by key prefix, each renewal shard under its own lease); ``export-er ID --dir OUT`` writes
the DER record and its data objects. Every command takes ``--store URL`` (env ``LTV_STORE``,
default ``./var/archive``),
``--allow-unlocked`` (``LTV_ALLOW_UNLOCKED``: accept an S3 bucket without object lock) and
``--tenant`` (``LTV_TENANT``); ``put`` and ``renew`` take ``--min-retention``
(``LTV_MIN_RETENTION``, default 10y), the operator's retention floor.

Test hooks: ``LTV_ARCHIVE_CRASH_AFTER=N`` kills the process with SIGKILL after N store writes;
``LTV_ARCHIVE_PAUSE_AFTER_LEASE=PATH`` makes ``renew`` create ``PATH.paused`` right after it
took a lease and wait until ``PATH.resume`` exists.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from ltv.cli._common import TIME, fail
from ltv.cli._i18n import date_options, show_time
from ltv.cli._progress import Progress
from ltv.clock import Clock, OffsetClock, SystemClock, parse_time
from ltv.i18n import N_
from ltv.i18n import gettext as _

__all__ = ["archive"]

_STORE = click.option("--store", "store_url", envvar="LTV_STORE", default="./var/archive",
                      show_default=True, help=N_("Store URL: a path, file:///path or s3://BUCKET."))
_TENANT = click.option("--tenant", envvar="LTV_TENANT", default="default", show_default=True,
                       help=N_("Tenant (key prefix)."))
_META_UNLOCKED = "ltv.allow_unlocked"
_META_MIN_RETENTION = "ltv.min_retention"


def _remember(key: str) -> Any:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        ctx.meta[key] = value
        return value

    return callback


_UNLOCKED = click.option(
    "--allow-unlocked", is_flag=True, envvar="LTV_ALLOW_UNLOCKED", expose_value=False,
    callback=_remember(_META_UNLOCKED),
    help=N_("Accept an S3 bucket without object lock (nothing archived there is under "
            "COMPLIANCE retention)."))
_MIN_RETENTION = click.option(
    "--min-retention", envvar="LTV_MIN_RETENTION", default="10y", show_default=True,
    metavar="PERIOD", expose_value=False, callback=_remember(_META_MIN_RETENTION),
    help=N_("Retention floor of everything archived (10y, 3650d, 1y180d); a retain-until may "
            "extend it, never shorten it."))


class _CrashingStore:
    """Test hook: SIGKILL itself after ``after`` writes (LTV_ARCHIVE_CRASH_AFTER)."""

    def __init__(self, inner: Any, after: int) -> None:
        self._inner = inner
        self._left = after

    def _tick(self) -> None:
        if self._left <= 0:
            os.kill(os.getpid(), signal.SIGKILL)
        self._left -= 1

    def put(self, *args: Any, **kwargs: Any) -> None:
        self._tick()
        self._inner.put(*args, **kwargs)

    def create_exclusive(self, *args: Any, **kwargs: Any) -> Any:
        self._tick()
        return self._inner.create_exclusive(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _min_retention() -> Any:
    """The ``--min-retention`` floor of this command (None where the command has none)."""
    from archive.retention import RetentionPeriod

    text = click.get_current_context().meta.get(_META_MIN_RETENTION)
    return RetentionPeriod.parse(text) if text is not None else None


def _open(url: str, clock: Clock | None = None) -> Any:
    from archive.store import open_store

    meta = click.get_current_context().meta
    store = open_store(url, clock=clock, min_retention=_min_retention(),
                       allow_unlocked=bool(meta.get(_META_UNLOCKED)))
    crash = os.environ.get("LTV_ARCHIVE_CRASH_AFTER")
    if crash:
        return _CrashingStore(store, int(crash))
    return store


def _audit_ingest(store: Any, tenant: str, ids: list[str], indication: str | None,
                  clock: Clock) -> None:
    from archive.audit import AuditEvent, Who, record

    for package_id in ids:
        record(store, AuditEvent.ARCHIVE_INGEST, who=Who.OPERATOR, tenant=tenant,
               object_id=package_id, detail=indication, clock=clock)


def _clock(at: datetime | None) -> Clock:
    return OffsetClock(at) if at is not None else SystemClock()


def _services(pki: Path | None, tsa: str | None, clock: Clock) -> Any:
    from ltv.cli._services import build_services

    services = build_services(pki=pki, tsa_url=tsa, clock=clock)
    if services.timestamp_client is None:
        fail(_("the archive needs a time-stamp authority: give --pki DIR or --tsa URL"))
    return services


def _material(services: Any, clock: Clock) -> Any:
    from ltv.evidence import EvidenceSet, collect_for_tokens

    def material(token: bytes) -> EvidenceSet:
        return collect_for_tokens([token], services=services, at=clock.now())

    return material


def _anchors(trust: tuple[Path, ...], pki: Path | None) -> list[Any]:
    from ltv.validation import load_trust_anchors

    paths: list[str | os.PathLike[str]] = list(trust)
    if not paths and os.environ.get("LTV_TRUST"):
        paths = [p for p in os.environ["LTV_TRUST"].split(os.pathsep) if p]
    if not paths and pki is not None and (pki / "root.pem").is_file():
        paths = [pki / "root.pem"]
    return list(load_trust_anchors(paths)) if paths else []


@click.group("archive",
             help=N_("Evidence packages with RFC 4998 evidence records, renewed before they "
                     "weaken."))
def archive() -> None:
    pass


_PKI = click.option("--pki", type=click.Path(file_okay=False, path_type=Path), envvar="LTV_PKI",
                    help=N_("Sample PKI directory (its TSA and certificates)."))
_TSA = click.option("--tsa", "tsa_url", envvar="LTV_TSA_URL", help=N_("RFC 3161 TSA URL."))
_AT = click.option("--at", type=TIME, default=None,
                   help=N_("Run the job's clock from this time (ISO 8601); default: now."))


def _parse_meta(meta: tuple[str, ...]) -> tuple[dict[str, str], datetime | None]:
    out: dict[str, str] = {}
    retain: datetime | None = None
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(_("--meta wants KEY=VALUE, got {item!r}").format(item=item))
        key = key.strip()
        out[key] = value
        if key in ("retain-until", "retain_until"):
            try:
                retain = parse_time(value)
            except ValueError as exc:
                fail(f"--meta {key}: {exc}")
    return out, retain


@archive.command("put", help=N_("Ingest SIGNED as an evidence package; prints its id."))
@click.argument("signed", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--detached", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=N_("The signed data of a detached signature."))
@click.option("--meta", multiple=True, help=N_("KEY=VALUE metadata (contract-id, parties, "
                 "retain-until=ISO8601); repeatable."))
@_STORE
@_UNLOCKED
@_TENANT
@_PKI
@_TSA
@click.option("--trust", multiple=True, type=click.Path(exists=True, path_type=Path),
              help=N_("Trust anchors for the ingest report (default: $LTV_TRUST or PKI root)."))
@_AT
@_MIN_RETENTION
def put_cmd(signed: Path, detached: Path | None, meta: tuple[str, ...], store_url: str,
            tenant: str, pki: Path | None, tsa_url: str | None, trust: tuple[Path, ...],
            at: datetime | None) -> None:
    from archive.ingest import ingest, prepare_item
    from archive.retention import effective_retention

    clock = _clock(at)
    metadata, retain = _parse_meta(meta)
    floor = _min_retention()
    effective_retention(retain, now=clock.now(), floor=floor)  # refuse before any fetch
    services = _services(pki, tsa_url, clock)
    item = prepare_item(
        signed.read_bytes(), services=services, at=clock.now(),
        detached=detached.read_bytes() if detached is not None else None,
        signed_name=signed.name, detached_name=detached.name if detached else "detached",
        trust_anchors=_anchors(trust, pki), metadata=metadata, retain_until=retain,
        warn=lambda text: click.echo(_("ltv: warning: {message}").format(message=text),
                                     err=True))
    store = _open(store_url, clock)
    ids = ingest(store, [item], timestamps=services.timestamp_client, tenant=tenant,
                 clock=clock, material=_material(services, clock), min_retention=floor)
    _audit_ingest(store, tenant, ids, item.ingest_indication, clock)
    click.echo(_("ingest report: {indication}").format(indication=item.ingest_indication),
               err=True)
    click.echo(ids[0])


@archive.command("get",
                 help=N_("Write the signed document of package ID (and optionally the whole "
                         "package)."))
@click.argument("package_id", metavar="ID")
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help=N_("Write the signed document here."))
@click.option("--package", "package_dir", type=click.Path(file_okay=False, path_type=Path),
              help=N_("Also export every object of the package into this directory."))
@_STORE
@_UNLOCKED
@_TENANT
def get_cmd(package_id: str, out: Path | None, package_dir: Path | None, store_url: str,
            tenant: str) -> None:
    from archive.export import export_package
    from archive.package import read_package

    if out is None and package_dir is None:
        fail(_("give -o OUT and/or --package DIR"))
    store = _open(store_url)
    package = read_package(store, package_id, tenant=tenant)
    if out is not None:
        obj = package.manifest.first("signed")
        assert obj is not None
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_bytes(package.content(obj))
        os.replace(tmp, out)
    if package_dir is not None:
        export_package(store, package_id, package_dir, tenant=tenant)


@archive.command("ls",
                 help=N_("List package ids with their ingest date, signed file and contract id."))
@_STORE
@_UNLOCKED
@_TENANT
@date_options
def ls_cmd(store_url: str, tenant: str) -> None:
    from archive.package import Manifest, manifest_key, package_ids

    store = _open(store_url)
    click.echo(_("# {url} (write-once: {mode})").format(
        url=store.url, mode=store.write_once_mode().value), err=True)
    for pid in package_ids(store, tenant=tenant):
        manifest = Manifest.from_bytes(store.get(manifest_key(tenant, pid)))
        signed = manifest.first("signed")
        contract = manifest.metadata.get("contract-id") or manifest.metadata.get("contract_id")
        click.echo(f"{pid}  {show_time(manifest.created)}  {signed.name if signed else '-'}"
                   + (f"  contract-id={contract}" if contract else ""))


_SHARD = click.option(
    "--shard", default=None, metavar="I/N",
    help=N_("Only shard I of N (0 <= I < N): the I-th of N equal ranges of batch and package "
            "key prefixes; N workers with I = 0..N-1 share the work, each under its own lease."))


@archive.command("verify",
                 help=N_("Prove packages offline: evidence record -> bytes -> signature "
                         "validation; ID... (one verdict line per signature, exit code of the "
                         "worst) or --all (batch by batch, a summary line, exit 0 when all "
                         "passed)."))
@click.argument("package_ids", metavar="ID...", nargs=-1)
@click.option("--all", "all_packages", is_flag=True,
              help=N_("Verify every package (of every tenant unless --tenant names one); one "
                      "line per failure and a summary line; exit 0 when all passed, 1 "
                      "otherwise."))
@_SHARD
@click.option("--summary", "summary_out", type=click.Path(dir_okay=False, path_type=Path),
              help=N_("With --all: write the JSON summary (packages, passed, failed, weakest "
                      "evidence) here."))
@click.option("--at", type=TIME, default=None, help=N_("Validation time (ISO 8601); default: now."))
@click.option("--trust", multiple=True, type=click.Path(exists=True, path_type=Path),
              help=N_("Trust anchors (default: $LTV_TRUST, else those recorded at ingest)."))
@click.option("--json", "json_out", type=click.Path(path_type=Path),
              help=N_("Write the JSON validation report here (with several packages: a "
                      "directory of ID.json)."))
@click.option("-q", "--quiet", count=True,
              help=N_("-q: only the verdict lines and error lines; -qq: only the exit code."))
@_STORE
@_UNLOCKED
@_TENANT
@date_options
def verify_cmd(package_ids: tuple[str, ...], all_packages: bool, shard: str | None,
               summary_out: Path | None, at: datetime | None, trust: tuple[Path, ...],
               json_out: Path | None, quiet: int, store_url: str, tenant: str) -> None:
    from archive.verify import verify_package
    from ltv.cli._common import EXIT_BAD_INPUT, EXIT_USAGE
    from ltv.cli.validate import _RANK, _exit_code, _line

    if not package_ids and not all_packages:
        fail(_("name the package IDs to verify, or give --all"), EXIT_USAGE)
    when = at or SystemClock().now()
    if all_packages or shard is not None or summary_out is not None:
        if package_ids or not all_packages:
            fail(_("give either ID or --all (--shard and --summary go with --all)"))
        _verify_all(store_url, tenant, when, trust, shard, summary_out, quiet)
        return
    store = _open(store_url)
    ids = list(package_ids)
    many = len(ids) > 1
    worst = 0
    anchors = _anchors(trust, None)
    with Progress(plain=False, enabled=quiet == 0 and many, transient=True) as progress:
        for done, package_id in enumerate(ids):
            progress(_("verifying"), done, len(ids))
            try:
                result = verify_package(store, package_id, at=when, tenant=tenant,
                                        trust_anchors=anchors)
            except Exception as exc:
                if not many:
                    raise
                if quiet < 2:
                    click.echo(_("ltv: error: {message}").format(
                        message=f"{package_id}: {exc}"), err=True)
                worst = max(worst, EXIT_BAD_INPUT, key=_RANK.__getitem__)
                continue
            times = result.times
            if quiet == 0:
                click.echo(_("evidence record: {count} archive timestamps, {first} .. {last}: "
                             "bytes proven").format(count=len(times), first=show_time(times[0]),
                                                    last=show_time(times[-1])), err=True)
            multi_sig = len(result.report.signatures) > 1
            if quiet < 2:
                for sig in result.report.signatures:
                    click.echo(_line(package_id, sig, multi_sig))
            if json_out is not None:
                from ltv.validation.report_json import dumps

                target = json_out / f"{package_id}.json" if many else json_out
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(dumps(result.report) + "\n", encoding="utf-8")
            worst = max(worst, _exit_code(result.report), key=_RANK.__getitem__)
        progress(_("verifying"), len(ids), len(ids))
    sys.exit(worst)


def _verify_all(store_url: str, tenant: str, when: datetime, trust: tuple[Path, ...],
                shard_text: str | None, summary_out: Path | None, quiet: int = 0) -> None:
    from click.core import ParameterSource

    from archive.package import DEFAULT_TENANT, archive_tenants, tenant_prefix
    from archive.shard import Shard
    from archive.verify_all import verify_all

    shard = Shard.parse(shard_text) if shard_text is not None else None
    source = click.get_current_context().get_parameter_source("tenant")
    store = _open(store_url)
    if source in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP):
        tenants = sorted({*archive_tenants(store, record=False), DEFAULT_TENANT})
    else:
        tenant_prefix(tenant)
        tenants = [tenant]

    from archive.package import package_ids

    # the bar's total only where a bar is drawn (a terminal, not --quiet): listing costs
    bar = quiet == 0 and sys.stderr.isatty()
    total = sum(1 for name in tenants for _pid in package_ids(store, tenant=name)) if bar else 0
    done = 0
    with Progress(plain=False, enabled=bar, transient=True) as shown:
        def progress(name: str, package_id: str, passed: bool, text: str) -> None:
            nonlocal done
            done += 1
            shown(_("verifying"), min(done, total), total)
            if not passed and quiet < 2:
                click.echo(_("FAILED: {package} (tenant {tenant}): {reason}").format(
                    package=package_id, tenant=name, reason=text))

        summary = verify_all(store, at=when, tenants=tenants, shard=shard,
                             trust_anchors=_anchors(trust, None), progress=progress)
    if summary_out is not None:
        tmp = summary_out.with_name(f".{summary_out.name}.tmp")
        tmp.write_text(json.dumps(summary.to_json(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, summary_out)
    if quiet < 2:
        click.echo(summary.line())
    sys.exit(0 if summary.failed == 0 else 1)


@archive.command("renew",
                 help=N_("Renew the evidence of every batch whose newest timestamp weakens "
                         "(cron job), for every tenant of the store unless --tenant narrows it."))
@_AT
@click.option("--dry-run", is_flag=True, help=N_("Say what would be renewed; write nothing."))
@click.option("--margin", type=click.IntRange(min=0), default=180, show_default=True,
              metavar="DAYS",
              help=N_("Renew when the newest TSA certificate expires, or a key it rests on "
                      "(RSA-2048, P-256) reaches its sunset, within DAYS."))
@click.option("--hash-algorithm", type=click.Choice(["sha256", "sha384", "sha512"]),
              default=None, help=N_("Move every chain to this hash (hash-tree renewal)."))
@_STORE
@_UNLOCKED
@click.option("--tenant", "tenants", multiple=True,
              help=N_("Renew only this tenant (repeatable); default: every tenant of the store."))
@_SHARD
@_PKI
@_TSA
@_MIN_RETENTION
def renew_cmd(at: datetime | None, dry_run: bool, margin: int, hash_algorithm: str | None,
              store_url: str, tenants: tuple[str, ...], shard: str | None, pki: Path | None,
              tsa_url: str | None) -> None:
    from archive.errors import ArchiveError
    from archive.package import DEFAULT_TENANT, archive_tenants, tenant_prefix
    from archive.renew import renew_all
    from archive.shard import Shard
    from ltv.algorithms import DigestAlgorithm
    from ltv.validation.policy import DEFAULT_DIGEST_SUNSET, DEFAULT_KEY_SUNSET

    for name in tenants:
        tenant_prefix(name)  # a bad name: one line, exit 4, before anything is opened
    part = Shard.parse(shard) if shard is not None else None
    clock = _clock(at)
    store = _open(store_url, clock)
    target = DigestAlgorithm.from_name(hash_algorithm) if hash_algorithm else None
    if dry_run:
        services: Any = None
        material = None
        timestamps: Any = _NoTsa()
    else:
        services = _services(pki, tsa_url, clock)
        material = _material(services, clock)
        timestamps = services.timestamp_client
    known = sorted({*archive_tenants(store, record=not dry_run), DEFAULT_TENANT})
    if tenants:
        others = [t for t in known if t not in tenants]
        if others:
            click.echo(_("ltv: note: {count} other tenant(s) not renewed by this run: {names}")
                       .format(count=len(others), names=", ".join(others[:10])
                               + (" ..." if len(others) > 10 else "")), err=True)
    with Progress() as progress:
        results = renew_all(store, tenants=list(tenants) or known, timestamps=timestamps,
                            clock=clock, margin=timedelta(days=margin),
                            hash_algorithm=target, material=material, dry_run=dry_run,
                            progress=progress, sunsets=dict(DEFAULT_DIGEST_SUNSET),
                            key_sunsets=dict(DEFAULT_KEY_SUNSET),
                            on_lease=_pause_hook(), shard=part)
    failed: list[tuple[str, ArchiveError]] = []
    for name, summary in results.items():
        if isinstance(summary, ArchiveError):
            failed.append((name, summary))
            continue
        for p in summary.plans if dry_run else ():
            click.echo(_("would renew batch {batch} (tenant {tenant}): {kind} ({reason})").format(
                batch=p.batch, tenant=name, kind=p.kind, reason=p.reason))
        where = _(" shard {shard}").format(shard=part) if part is not None else ""
        click.echo(_("tenant {tenant}{shard}: {summary}").format(
            tenant=name, shard=where, summary=summary.line()))
    if len(failed) == 1 and len(results) == 1:
        fail(str(failed[0][1]))
    for name, exc in failed:
        click.echo(_("ltv: error: {message}").format(
            message=_("tenant {tenant}: {problem}").format(tenant=name, problem=exc)), err=True)
    if failed:
        sys.exit(4)


def _pause_hook() -> Any:
    """``LTV_ARCHIVE_PAUSE_AFTER_LEASE=PATH`` (tests only): stop after taking a lease, say so
    with ``PATH.paused``, go on once ``PATH.resume`` exists (a short poll; at most 10 min)."""
    marker = os.environ.get("LTV_ARCHIVE_PAUSE_AFTER_LEASE")
    if not marker:
        return None

    def pause(_lease: Any) -> None:
        Path(marker + ".paused").write_text(str(os.getpid()), encoding="ascii")
        deadline = time.monotonic() + 600
        while not Path(marker + ".resume").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    return pause


class _NoTsa:
    def timestamp(self, digest: bytes, algorithm: Any) -> Any:
        raise RuntimeError("dry run: no timestamps")


@archive.command("export-er",
                 help=N_("Write OUT/evidence-record.ers (RFC 4998 DER) and OUT/objects/ (its "
                         "data objects)."))
@click.argument("package_id", metavar="ID")
@click.option("--dir", "directory", required=True,
              type=click.Path(file_okay=False, path_type=Path), help=N_("Output directory."))
@_STORE
@_UNLOCKED
@_TENANT
def export_er_cmd(package_id: str, directory: Path, store_url: str, tenant: str) -> None:
    from archive.export import export_evidence_record
    from ltv.ers import EvidenceRecord

    store = _open(store_url)
    files = export_evidence_record(store, package_id, directory, tenant=tenant)
    record = EvidenceRecord.from_der((directory / "evidence-record.ers").read_bytes())
    summary = {
        "record": str(directory / "evidence-record.ers"),
        "digest_algorithms": [a.value for a in record.digest_algorithms],
        "chains": [len(c) for c in record.chains],
        "objects": [str(f) for f in files],
    }
    click.echo(json.dumps(summary, indent=2))
