"""``ltv archive``: evidence packages, RFC 4998 evidence records and their renewal (CLI edge).

``put`` ingests a signed file and prints the package id; ``get`` writes the signed document
(``--package DIR``: every object); ``ls`` lists ids; ``verify ID`` proves a package offline
(validate's exit codes); ``renew`` is the cron job (0 ok or nothing to do, 4 errors);
``export-er ID --dir OUT`` writes the DER record and its data objects. Every command takes
``--store URL`` (env ``LTV_STORE``, default ``./var/archive``) and ``--tenant`` (``LTV_TENANT``).

``LTV_ARCHIVE_CRASH_AFTER=N`` (tests only) kills the process with SIGKILL after N store writes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from ltv.cli._common import TIME, fail
from ltv.clock import Clock, OffsetClock, SystemClock, format_time, parse_time

__all__ = ["archive"]

_STORE = click.option("--store", "store_url", envvar="LTV_STORE", default="./var/archive",
                      show_default=True, help="Store URL: a path, file:///path or s3://BUCKET.")
_TENANT = click.option("--tenant", envvar="LTV_TENANT", default="default", show_default=True,
                       help="Tenant (key prefix).")


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


def _open(url: str, clock: Clock | None = None) -> Any:
    from archive.store import open_store

    store = open_store(url, clock=clock)
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
        fail("the archive needs a time-stamp authority: give --pki DIR or --tsa URL")
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


@click.group("archive")
def archive() -> None:
    """Evidence packages with RFC 4998 evidence records, renewed before they weaken."""


_PKI = click.option("--pki", type=click.Path(file_okay=False, path_type=Path), envvar="LTV_PKI",
                    help="Sample PKI directory (its TSA and certificates).")
_TSA = click.option("--tsa", "tsa_url", envvar="LTV_TSA_URL", help="RFC 3161 TSA URL.")
_AT = click.option("--at", type=TIME, default=None,
                   help="Run the job's clock from this time (ISO 8601); default: now.")


def _parse_meta(meta: tuple[str, ...]) -> tuple[dict[str, str], datetime | None]:
    out: dict[str, str] = {}
    retain: datetime | None = None
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--meta wants KEY=VALUE, got {item!r}")
        key = key.strip()
        out[key] = value
        if key in ("retain-until", "retain_until"):
            try:
                retain = parse_time(value)
            except ValueError as exc:
                fail(f"--meta {key}: {exc}")
    return out, retain


@archive.command("put")
@click.argument("signed", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--detached", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The signed data of a detached signature.")
@click.option("--meta", multiple=True, help="KEY=VALUE metadata (contract-id, parties, "
              "retain-until=ISO8601); repeatable.")
@_STORE
@_TENANT
@_PKI
@_TSA
@click.option("--trust", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Trust anchors for the ingest report (default: $LTV_TRUST or PKI root).")
@_AT
def put_cmd(signed: Path, detached: Path | None, meta: tuple[str, ...], store_url: str,
            tenant: str, pki: Path | None, tsa_url: str | None, trust: tuple[Path, ...],
            at: datetime | None) -> None:
    """Ingest SIGNED as an evidence package; prints its id."""
    from archive.ingest import ingest, prepare_item

    clock = _clock(at)
    metadata, retain = _parse_meta(meta)
    services = _services(pki, tsa_url, clock)
    item = prepare_item(
        signed.read_bytes(), services=services, at=clock.now(),
        detached=detached.read_bytes() if detached is not None else None,
        signed_name=signed.name, detached_name=detached.name if detached else "detached",
        trust_anchors=_anchors(trust, pki), metadata=metadata, retain_until=retain,
        warn=lambda text: click.echo(f"ltv: warning: {text}", err=True))
    store = _open(store_url, clock)
    ids = ingest(store, [item], timestamps=services.timestamp_client, tenant=tenant,
                 clock=clock, material=_material(services, clock))
    _audit_ingest(store, tenant, ids, item.ingest_indication, clock)
    click.echo(f"ingest report: {item.ingest_indication}", err=True)
    click.echo(ids[0])


@archive.command("get")
@click.argument("package_id", metavar="ID")
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the signed document here.")
@click.option("--package", "package_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also export every object of the package into this directory.")
@_STORE
@_TENANT
def get_cmd(package_id: str, out: Path | None, package_dir: Path | None, store_url: str,
            tenant: str) -> None:
    """Write the signed document of package ID (and optionally the whole package)."""
    from archive.export import export_package
    from archive.package import read_package

    if out is None and package_dir is None:
        fail("give -o OUT and/or --package DIR")
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


@archive.command("ls")
@_STORE
@_TENANT
def ls_cmd(store_url: str, tenant: str) -> None:
    """List package ids with their ingest date, signed file and contract id."""
    from archive.package import Manifest, manifest_key, package_ids

    store = _open(store_url)
    click.echo(f"# {store.url} (write-once: {store.write_once_mode().value})", err=True)
    for pid in package_ids(store, tenant=tenant):
        manifest = Manifest.from_bytes(store.get(manifest_key(tenant, pid)))
        signed = manifest.first("signed")
        contract = manifest.metadata.get("contract-id") or manifest.metadata.get("contract_id")
        click.echo(f"{pid}  {format_time(manifest.created)}  {signed.name if signed else '-'}"
                   + (f"  contract-id={contract}" if contract else ""))


@archive.command("verify")
@click.argument("package_id", metavar="ID")
@click.option("--at", type=TIME, default=None, help="Validation time (ISO 8601); default: now.")
@click.option("--trust", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Trust anchors (default: $LTV_TRUST, else those recorded at ingest).")
@click.option("--json", "json_out", type=click.Path(path_type=Path),
              help="Write the JSON validation report here.")
@_STORE
@_TENANT
def verify_cmd(package_id: str, at: datetime | None, trust: tuple[Path, ...],
               json_out: Path | None, store_url: str, tenant: str) -> None:
    """Prove package ID offline: evidence record -> bytes -> signature validation."""
    from archive.verify import verify_package
    from ltv.cli.validate import _exit_code, _line

    when = at or SystemClock().now()
    store = _open(store_url)
    result = verify_package(store, package_id, at=when, tenant=tenant,
                            trust_anchors=_anchors(trust, None))
    times = result.times
    click.echo(f"evidence record: {len(times)} archive timestamps, {format_time(times[0])} .. "
               f"{format_time(times[-1])}: bytes proven", err=True)
    many = len(result.report.signatures) > 1
    for sig in result.report.signatures:
        click.echo(_line(package_id, sig, many))
    if json_out is not None:
        from ltv.validation.report_json import dumps

        json_out.write_text(dumps(result.report) + "\n", encoding="utf-8")
    sys.exit(_exit_code(result.report))


@archive.command("renew")
@_AT
@click.option("--dry-run", is_flag=True, help="Say what would be renewed; write nothing.")
@click.option("--margin", type=click.IntRange(min=0), default=180, show_default=True,
              metavar="DAYS",
              help="Renew when the newest TSA certificate expires within DAYS.")
@click.option("--hash-algorithm", type=click.Choice(["sha256", "sha384", "sha512"]),
              default=None, help="Move every chain to this hash (hash-tree renewal).")
@_STORE
@_TENANT
@_PKI
@_TSA
def renew_cmd(at: datetime | None, dry_run: bool, margin: int, hash_algorithm: str | None,
              store_url: str, tenant: str, pki: Path | None, tsa_url: str | None) -> None:
    """Renew the evidence of every batch whose newest timestamp weakens (cron job)."""
    from archive.renew import renew
    from ltv.algorithms import DigestAlgorithm
    from ltv.validation.policy import DEFAULT_DIGEST_SUNSET

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
    with _Progress() as progress:
        summary = renew(store, timestamps=timestamps, tenant=tenant, clock=clock,
                        margin=timedelta(days=margin), hash_algorithm=target,
                        material=material, dry_run=dry_run, progress=progress,
                        sunsets=dict(DEFAULT_DIGEST_SUNSET))
    for p in summary.plans if dry_run else ():
        click.echo(f"would renew batch {p.batch}: {p.kind} ({p.reason})")
    click.echo(summary.line())


class _NoTsa:
    def timestamp(self, digest: bytes, algorithm: Any) -> Any:
        raise RuntimeError("dry run: no timestamps")


class _Progress:
    """A rich progress bar on a TTY, plain lines otherwise (stderr)."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        self._last: dict[str, int] = {}

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress

            self._bar = Progress(console=Console(stderr=True), transient=False)
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._bar is not None:
            task = self._tasks.get(stage)
            if task is None:
                task = self._tasks[stage] = self._bar.add_task(stage, total=total)
            self._bar.update(task, completed=done)
            return
        step = max(1, total // 10)
        if done == total or done - self._last.get(stage, 0) >= step:
            self._last[stage] = done
            click.echo(f"{stage}: {done}/{total}", err=True)


@archive.command("export-er")
@click.argument("package_id", metavar="ID")
@click.option("--dir", "directory", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="Output directory.")
@_STORE
@_TENANT
def export_er_cmd(package_id: str, directory: Path, store_url: str, tenant: str) -> None:
    """Write OUT/evidence-record.ers (RFC 4998 DER) and OUT/objects/ (its data objects)."""
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
