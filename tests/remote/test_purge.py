"""Issue #18: expired remote-signing state (access tokens, enrolments, approvals, challenge
nonces, SADs) is purged on the server's session-purge timer; credentials never are. Time is an
injected clock."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

from conftest import SERVER_AT, free_port
from server_helpers import MutableClock, served

from archive.store import ObjectStore, open_store
from ltv.algorithms import DigestAlgorithm
from ltv.server.app import create_app
from ltv.server.remote_state import AccessToken, RemoteState, Sad
from ltv.server.settings import ServerSettings
from ltv.signing import SigningServices

ROOT = "_mutable/remote/"

def _fill(state: RemoteState, clock: MutableClock, *, tenant: str = "acme",
          user: str = "taro") -> AccessToken:
    """One of each: a token (1 h), an enrolment (10 min), an approval with its nonce (2 min),
    a nonce (5 min), a SAD (5 min)."""
    state.issue_token(tenant, user, lifetime=timedelta(hours=1))
    state.begin_enrolment(tenant, {"user": user}, lifetime=timedelta(minutes=10))
    caller = AccessToken(tenant=tenant, user=user, expires=clock.now() + timedelta(hours=1))
    state.create_approval(caller, {"credential_id": "rc-1"}, lifetime=timedelta(minutes=2))
    state.issue_nonce(caller, "rc-1", lifetime=timedelta(minutes=5))
    state.issue_sad(caller, Sad(credential_id="rc-1", user=user,
                                hash_algorithm=DigestAlgorithm.SHA256,
                                hashes=frozenset({b"\x01" * 32}),
                                expires=clock.now() + timedelta(minutes=5)))
    return caller

def _credential_lookalike(store: ObjectStore, key: str) -> None:
    # a credential object (even one carrying an old "expires") is never purged
    store.create_exclusive(ROOT + key, json.dumps(
        {"schema": "ltv.remote-credential/1", "expires": "2000-01-01T00:00:00Z"}).encode())

def test_purge_removes_each_kind_once_it_expired() -> None:
    store = open_store("memory:")
    clock = MutableClock(SERVER_AT)
    state = RemoteState(store, clock=clock)
    _fill(state, clock)
    _credential_lookalike(store, "acme/taro/credentials/rc-1.json")
    # a user named like a state folder cannot make its credential look like a nonce
    _credential_lookalike(store, "acme/nonces/credentials/rc-2.json")
    before = len(list(store.list(ROOT)))
    assert before == 8  # token, enrolment, approval, 2 nonces, SAD, 2 credentials
    assert state.purge_expired() == 0
    clock.advance(minutes=2, seconds=1)  # the approval and its nonce
    assert state.purge_expired() == 2
    clock.advance(minutes=3)  # the other nonce, the SAD
    assert state.purge_expired() == 2
    clock.advance(minutes=5)  # the enrolment
    assert state.purge_expired() == 1
    assert state.purge_expired() == 0
    clock.advance(hours=1)  # the access token
    assert state.purge_expired() == 1
    assert sorted(info.key for info in store.list(ROOT)) == [
        ROOT + "acme/nonces/credentials/rc-2.json", ROOT + "acme/taro/credentials/rc-1.json"]

def test_server_timer_purges_expired_remote_state(tmp_path: Path) -> None:
    """The injected clock moves past expiry; the server's timer (every 0.05 s) does the rest."""
    store = open_store((tmp_path / "store").as_uri())
    clock = MutableClock(SERVER_AT)
    state = RemoteState(store, clock=clock)
    app = create_app(ServerSettings(session_purge_interval=0.05), store=store,
                     services=SigningServices(clock=clock))

    def wait_until(count: int) -> None:
        deadline = time.monotonic() + 20
        while len(list(store.list(ROOT))) != count:
            assert time.monotonic() < deadline, "the purge timer did not run"
            time.sleep(0.02)

    with served(app, free_port()):
        _fill(state, clock)
        _credential_lookalike(store, "acme/taro/credentials/rc-1.json")
        time.sleep(0.3)  # several timer runs: nothing expired, nothing purged
        assert len(list(store.list(ROOT))) == 7
        clock.advance(minutes=5, seconds=1)
        wait_until(3)  # token, enrolment, credential
        clock.advance(hours=1)
        wait_until(1)
    assert [info.key for info in store.list(ROOT)] == [ROOT + "acme/taro/credentials/rc-1.json"]
