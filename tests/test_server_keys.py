"""API keys and the audit trail against a real server: the app under uvicorn on 127.0.0.1 (tests/
server_helpers.py) over a ``file:`` store that the ``ltv tenant`` / ``ltv audit`` console
scripts change and read at the same time, with the server's clock injected (no sleeps).

Security review findings 6 (keys could not be revoked or rotated) and 19 (reserved tenant
names), issue #12 parts 5 and 8.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import SERVER_AT, free_port, ltv_cli
from server_helpers import MutableClock, assert_problem, b64, served, session_body

from archive.audit import AuditEvent, Outcome, Who, read_audit
from archive.store import ObjectStore, open_store
from ltv.cli._services import build_services
from ltv.clock import FixedClock, format_time
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.server.app import create_app
from ltv.server.sessions import SessionStore
from ltv.server.settings import ServerSettings
from ltv.server.tenants import Tenant, add_tenant, hash_key, key_id
from ltv.tbs import DataToBeSigned
from ltv.validation import RevocationFetchers

SIGN_AT = SERVER_AT + timedelta(hours=1)


@pytest.fixture
def world(tmp_path: Path, pki: Any, pki_server: Any) -> Iterator[dict[str, Any]]:
    """A served app over a fresh file store, its clock, and the store's URL for the CLI."""
    url = (tmp_path / "store").as_uri()
    store = open_store(url)
    clock = MutableClock(SIGN_AT)
    services = build_services(pki=pki.directory, clock=clock)
    fetchers = RevocationFetchers(ocsp=HttpOCSPFetcher(), crl=HttpCRLFetcher(),
                                  certificates=HttpCertificateFetcher())
    app = create_app(ServerSettings(trust=(pki.directory / "root.pem",)), store=store,
                     services=services, fetchers=fetchers, clock=clock)
    with served(app, free_port()) as base:
        yield {"url": url, "store": store, "clock": clock, "base": base}


def cli_ok(*args: str) -> str:
    proc = ltv_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return str(proc.stdout)


def new_tenant(world: dict[str, Any], name: str) -> str:
    key = cli_ok("tenant", "add", name, "--store", world["url"], "--at",
                 format_time(SERVER_AT)).strip()
    assert key.startswith("ltv_")
    return key


def listing(base: str, key: str) -> httpx.Response:
    return httpx.get(f"{base}/v1/archive", headers={"Authorization": f"Bearer {key}"})


def ls_json(world: dict[str, Any], *extra: str) -> list[dict[str, Any]]:
    out = cli_ok("tenant", "ls", "--store", world["url"], "--format", "json", *extra)
    return [json.loads(line) for line in out.splitlines()]


# --- keys ------------------------------------------------------------------------------------


def test_revoked_key_is_refused_at_once(world: dict[str, Any]) -> None:
    key = new_tenant(world, "acme")
    other = new_tenant(world, "beta")
    assert listing(world["base"], key).status_code == 200
    out = cli_ok("tenant", "revoke-key", "acme", key_id(key), "--store", world["url"])
    assert out.strip() == f"revoked key {key_id(key)} of tenant acme"
    body = assert_problem(listing(world["base"], key), 401, "unauthorized")
    assert body["detail"] == "this API key was revoked"
    assert listing(world["base"], other).status_code == 200  # only that key
    # revoking again changes nothing; an unknown id, or none at all, is refused in one line
    again = ltv_cli("tenant", "revoke-key", "acme", key_id(key), "--store", world["url"])
    assert again.returncode == 0
    assert again.stdout == ""
    unknown = ltv_cli("tenant", "revoke-key", "acme", "0123456789abcdef", "--store", world["url"])
    assert unknown.returncode == 4
    assert unknown.stderr.startswith("ltv: error: tenant 'acme' has no key '0123456789abcdef'")
    assert unknown.stderr.count("\n") == 1
    neither = ltv_cli("tenant", "revoke-key", "acme", "--store", world["url"])
    assert neither.returncode == 2
    assert neither.stderr == ("ltv: error: name the KEY_IDs to revoke (see ltv tenant ls) or "
                              "give --all\n")
    assert ltv_cli("tenant", "revoke-key", "nobody", "--all", "--store",
                   world["url"]).returncode == 4


def test_rotated_key_works_in_grace_period_then_refused(world: dict[str, Any]) -> None:
    old = new_tenant(world, "acme")
    clock: MutableClock = world["clock"]
    new = cli_ok("tenant", "rotate-key", "acme", "--grace", "1h", "--at", format_time(SIGN_AT),
                 "--store", world["url"]).strip()
    assert new.startswith("ltv_")
    assert new != old
    clock.advance(minutes=59)
    assert listing(world["base"], old).status_code == 200
    assert listing(world["base"], new).status_code == 200
    clock.advance(minutes=1)  # exactly the end of the grace period: no longer valid
    body = assert_problem(listing(world["base"], old), 401, "unauthorized")
    assert body["detail"] == "this API key has expired (it was rotated)"
    assert listing(world["base"], new).status_code == 200
    states = {(e["key_id"], e["state"]) for e in ls_json(world, "--at",
                                                         format_time(clock.now()))}
    assert states == {(key_id(old), "expired"), (key_id(new), "active")}
    # --grace 0: the previous key is refused at once
    newest = cli_ok("tenant", "rotate-key", "acme", "--grace", "0", "--at",
                    format_time(clock.now()), "--store", world["url"]).strip()
    assert_problem(listing(world["base"], new), 401, "unauthorized")
    assert listing(world["base"], newest).status_code == 200
    for bad in ("-1h", "1y", "soon", ""):
        proc = ltv_cli("tenant", "rotate-key", "acme", "--grace", bad, "--store", world["url"])
        assert proc.returncode == 2, (bad, proc.stderr)
        assert "not a duration" in proc.stderr


def test_tenant_ls_shows_keys_and_states_without_secrets(world: dict[str, Any]) -> None:
    first = new_tenant(world, "acme")
    lonely = new_tenant(world, "beta")
    second = cli_ok("tenant", "rotate-key", "acme", "--grace", "2h", "--at", format_time(SIGN_AT),
                    "--store", world["url"]).strip()
    cli_ok("tenant", "revoke-key", "beta", "--all", "--store", world["url"])
    at = format_time(SIGN_AT + timedelta(hours=1))
    text = cli_ok("tenant", "ls", "--store", world["url"], "--at", at)
    lines = text.splitlines()
    assert len(lines) == 3, text
    assert lines[0].startswith(f"acme  {key_id(first)}  expiring  created ")
    assert lines[0].endswith(f"until {format_time(SIGN_AT + timedelta(hours=2))}")
    assert lines[1].startswith(f"acme  {key_id(second)}  active    created ")
    assert lines[2].startswith(f"beta  {key_id(lonely)}  revoked   created ")
    entries = ls_json(world, "--at", at)
    assert [(e["tenant"], e["state"]) for e in entries] == [
        ("acme", "expiring"), ("acme", "active"), ("beta", "revoked")]
    for key in (first, second, lonely):  # neither the key nor its full hash is shown
        assert key not in text
        assert hash_key(key) not in text
        assert key not in json.dumps(entries)
        assert hash_key(key) not in json.dumps(entries)


@pytest.mark.parametrize(("name", "message"), [
    ("default", "tenant name 'default' is reserved (reserved: admin, "),
    ("admin", "tenant name 'admin' is reserved (reserved: admin, "),
    ("audit", "tenant name 'audit' is reserved (reserved: admin, "),
    ("tenants", "tenant name 'tenants' is reserved (reserved: admin, "),
    ("a/b", "bad tenant name 'a/b': '/', '\\' and '..' are not allowed"),
    ("../x", "bad tenant name '../x': '/', '\\' and '..' are not allowed"),
    ("a..b", "bad tenant name 'a..b': '/', '\\' and '..' are not allowed"),
    ("", "a tenant name cannot be empty"),
    ("ac\x01me", "bad tenant name 'ac\\x01me': it contains a control character"),
    ("ac\tme", "bad tenant name 'ac\\tme': it contains a control character"),
    ("a" * 64, f"bad tenant name '{'a' * 20}'...: longer than 63 characters"),
    ("Acme", "bad tenant name 'Acme': use 1-63 of a-z, 0-9, '_' and '-', starting with a "
             "letter or digit"),
])
def test_reserved_and_bad_tenant_names_refused(tmp_path: Path, name: str, message: str) -> None:
    url = (tmp_path / "store").as_uri()
    proc = ltv_cli("tenant", "add", name, "--store", url)
    assert proc.returncode == 4
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"ltv: error: {message}"), proc.stderr
    assert proc.stderr.count("\n") == 1  # one line, no traceback
    assert list(open_store(url).list("")) == []  # nothing written, no audit line either


def _legacy_tenant(store: ObjectStore, name: str) -> str:
    """A tenant as stores made before revocable keys hold it (write-once key record)."""
    key = "ltv_" + "L" * 43 + name
    body = json.dumps({"schema": "ltv.tenant/1", "name": name,
                       "created": format_time(SERVER_AT)}, sort_keys=True).encode()
    store.put(f"tenants/names/{name}.json", body, content_type="application/json")
    store.put(f"tenants/keys/{hash_key(key)}.json", body, content_type="application/json")
    return key


def test_legacy_key_records_keep_working_and_can_be_revoked(world: dict[str, Any]) -> None:
    store: ObjectStore = world["store"]
    key = _legacy_tenant(store, "old")
    assert listing(world["base"], key).status_code == 200
    # migrated on read: a mutable record now stands beside the write-once one
    assert store.read_mutable(f"_mutable/tenants/keys/{hash_key(key)}.json").data
    assert [(e["tenant"], e["key_id"], e["state"]) for e in ls_json(world)] == [
        ("old", key_id(key), "active")]
    cli_ok("tenant", "revoke-key", "old", key_id(key), "--store", world["url"])
    assert_problem(listing(world["base"], key), 401, "unauthorized")
    # a legacy record never migrated is revocable too
    other = _legacy_tenant(store, "older")
    cli_ok("tenant", "revoke-key", "older", "--all", "--store", world["url"])
    assert_problem(listing(world["base"], other), 401, "unauthorized")
    # an old store's tenant named like a reserved one no longer authenticates (finding 19)
    shadow = _legacy_tenant(store, "default")
    body = assert_problem(listing(world["base"], shadow), 401, "unauthorized")
    assert body["detail"] == "unknown API key"


# --- the audit trail -------------------------------------------------------------------------


def _events(lines: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines.splitlines()]


def test_audit_trail_of_every_state_change(world: dict[str, Any], phone_ec: Any, pki: Any,
                                           capfd: pytest.CaptureFixture[str]) -> None:
    base, url, clock = world["base"], world["url"], world["clock"]
    key = new_tenant(world, "acme")
    other = new_tenant(world, "beta")
    auth = {"Authorization": f"Bearer {key}"}
    capfd.readouterr()
    # a signing session, created then refused once (wrong value) then finished
    created = httpx.post(f"{base}/v1/signing-sessions", headers=auth, json=session_body(
        b"contract", phone_ec, format="cades", level="B-B")).json()
    tbs = DataToBeSigned.from_json(created["data_to_be_signed"])
    wrong = phone_ec.sign(DataToBeSigned.from_json(
        {**created["data_to_be_signed"], "data": b64(bytes(32))}))
    assert_problem(httpx.post(f"{base}{created['signature_url']}", headers=auth,
                              json={"signature_value": b64(wrong)}), 422, "signature-value")
    signed = httpx.post(f"{base}{created['signature_url']}", headers=auth,
                        json={"signature_value": b64(phone_ec.sign(tbs))})
    assert signed.status_code == 200, signed.text
    assert_problem(httpx.post(f"{base}{created['signature_url']}", headers=auth,
                              json={"signature_value": b64(phone_ec.sign(tbs))}),
                   409, "session-used")  # a replay: refused
    # the server's stderr carries the same lines, each valid JSON on its own
    err = capfd.readouterr().err
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [(e["event"], e["outcome"]) for e in logged] == [
        ("session.create", "ok"), ("session.finish", "refused"), ("session.finish", "ok"),
        ("session.finish", "refused")]
    assert all(e["time"] == "2026-01-02T01:00:00.000000Z" for e in logged)  # the app's clock
    # ingest (the API), renewal (the operator's cron job), key rotation and revocation
    archived = httpx.post(f"{base}/v1/archive", headers=auth,
                          files={"file": ("deal.p7m", signed.content)},
                          data={"meta": ["contract-id=C-1", "parties=Alice Example"]})
    assert archived.status_code == 201, archived.text
    package_id = archived.json()["id"]
    cli_ok("archive", "renew", "--store", url, "--tenant", "acme", "--pki", str(pki.directory),
           "--margin", "36500", "--at", format_time(SIGN_AT))
    rotated = cli_ok("tenant", "rotate-key", "acme", "--grace", "1h", "--at",
                     format_time(SIGN_AT), "--store", url).strip()
    cli_ok("tenant", "revoke-key", "acme", key_id(key), "--store", url)
    # a revoked key's use is refused by policy: recorded as such
    assert_problem(listing(base, key), 401, "unauthorized")
    clock.advance(seconds=1)
    assert_problem(listing(base, key), 401, "unauthorized")

    out = cli_ok("audit", "ls", "--store", url)
    events = _events(out)
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)  # time order
    seen = {(e["event"], e["who"], e["tenant"], e["object"], e["outcome"]) for e in events}
    expected = {
        ("tenant.add", "operator", "acme", "acme", "ok"),
        ("tenant.add", "operator", "beta", "beta", "ok"),
        ("session.create", "tenant", "acme", created["id"], "ok"),
        ("session.finish", "tenant", "acme", created["id"], "refused"),
        ("session.finish", "tenant", "acme", created["id"], "ok"),
        ("archive.ingest", "tenant", "acme", package_id, "ok"),
        ("archive.renew", "operator", "acme", "acme", "ok"),
        ("key.rotate", "operator", "acme", key_id(rotated), "ok"),
        ("key.revoke", "operator", "acme", key_id(key), "ok"),
        ("auth", "tenant", "acme", key_id(key), "refused"),
    }
    assert expected <= seen, sorted(seen - expected)
    # the replay is a second refused finish; the second key refusal within a minute: stderr only
    assert len(events) == len(expected) + 1
    assert [e["detail"] for e in events if e["event"] == "session.finish"] == [
        "signature-value", None, "used"]
    by_event = {e["event"]: e for e in events}
    assert by_event["archive.ingest"]["detail"] == "TOTAL-PASSED"
    assert by_event["archive.renew"]["detail"] == "timestamp=1 hash-tree=0 skipped=0"
    assert by_event["auth"]["detail"] == "key-revoked"
    assert by_event["key.rotate"]["detail"] == (
        f"old keys {key_id(key)} valid until {format_time(SIGN_AT + timedelta(hours=1))}")
    # no API key, key hash or personal data (metadata, signer subject) in the trail
    stored = b"".join(world["store"].get(i.key) for i in world["store"].list("audit/"))
    for secret in (key, other, rotated, hash_key(key), hash_key(rotated)):
        assert secret not in out
        assert secret.encode() not in stored
    for personal in ("Alice", "C-1", "deal.p7m", phone_ec.certificate.subject.rfc4514_string()):
        assert personal not in out
    # --tenant and --since narrow it
    assert {e["tenant"] for e in _events(cli_ok("audit", "ls", "--store", url, "--tenant",
                                                 "beta"))} == {"beta"}
    revoked_at = by_event["key.revoke"]["time"]  # the operator's clock: the newest event
    assert _events(cli_ok("audit", "ls", "--store", url, "--since", revoked_at)) == [
        by_event["key.revoke"]]
    bad = ltv_cli("audit", "ls", "--store", url, "--since", "yesterday")
    assert bad.returncode == 2
    assert "not an ISO 8601 time" in bad.stderr


def test_cli_audit_line_on_stderr_is_json(tmp_path: Path) -> None:
    url = (tmp_path / "store").as_uri()
    proc = ltv_cli("tenant", "add", "acme", "--store", url, "--at", "2030-01-01T00:00:00Z")
    assert proc.returncode == 0, proc.stderr
    line, human = proc.stderr.splitlines()
    event = json.loads(line)
    assert event == {"schema": "ltv.audit/1", "time": "2030-01-01T00:00:00.000000Z",
                     "who": "operator", "tenant": "acme", "event": "tenant.add",
                     "object": "acme", "outcome": "ok",
                     "detail": f"key {key_id(proc.stdout.strip())}"}
    assert human.startswith("created tenant acme")
    [stored] = read_audit(open_store(url))
    assert stored.line() == line
    # the trail is evidence: a damaged entry is an error naming it, never skipped silently
    open_store(url).put("audit/29991231T000000.000000Z-00000000-bad.json", b"{not json")
    damaged = ltv_cli("audit", "ls", "--store", url)
    assert damaged.returncode == 4
    assert damaged.stderr.startswith("ltv: error: audit object "
                                     "audit/29991231T000000.000000Z-00000000-bad.json is damaged")
    assert damaged.stderr.count("\n") == 1


def test_expired_sessions_purged_are_audited(tmp_path: Path, phone_ec: Any) -> None:
    from ltv.signing import SignatureFormat, SignatureLevel, SigningOptions, prepare

    store = open_store((tmp_path / "store").as_uri())
    clock = MutableClock(SIGN_AT)
    sessions = SessionStore(store, clock=clock)
    pending = prepare(b"doc", [phone_ec.certificate, *phone_ec.chain], SignatureFormat.CADES,
                      SignatureLevel.B_B, SigningOptions(session_lifetime=timedelta(minutes=5)),
                      clock=clock)
    tenant = Tenant(name="acme", created=SIGN_AT)
    sessions.create(tenant, pending, b"doc")
    clock.advance(days=2)
    assert sessions.purge_expired() == 1
    events = [(e.event, e.who, e.tenant, e.object_id, e.outcome) for e in read_audit(store)]
    assert events == [
        (AuditEvent.SESSION_CREATE, Who.TENANT, "acme", pending.id, Outcome.OK),
        (AuditEvent.SESSION_EXPIRE, Who.OPERATOR, "acme", pending.id, Outcome.OK)]
    since = list(read_audit(store, since=SIGN_AT + timedelta(days=1)))
    assert [e.event for e in since] == [AuditEvent.SESSION_EXPIRE]


def test_api_add_tenant_key_hash_compare(tmp_path: Path) -> None:
    """The store keeps the hash only; the record names its own hash (compared in constant
    time), so a record copied under another key's hash does not authenticate that key."""
    from ltv.server.errors import AuthenticationError
    from ltv.server.tenants import authenticate

    store = open_store((tmp_path / "store").as_uri())
    _, key = add_tenant(store, "acme", clock=FixedClock(SIGN_AT))
    record = store.read_mutable(f"_mutable/tenants/keys/{hash_key(key)}.json").data
    assert key.encode() not in record
    forged = "ltv_" + "F" * 43
    store.put_mutable(f"_mutable/tenants/keys/{hash_key(forged)}.json", record)
    with pytest.raises(AuthenticationError, match="unknown API key"):
        authenticate(store, f"Bearer {forged}")
    assert authenticate(store, f"Bearer {key}").name == "acme"
    assert hashlib.sha256(key.encode()).hexdigest() == hash_key(key)


def test_readme_names_every_reserved_tenant_name() -> None:
    from ltv.server.tenants import RESERVED_NAMES

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Tenants and API keys", 1)[1].split("\n## ", 1)[0]
    for name in RESERVED_NAMES:
        assert f"`{name}`" in section, name
