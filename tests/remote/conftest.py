"""Fixtures for remote signing: a SoftHSM2 token of this test session in a temporary directory.

``SOFTHSM2_CONF`` is exported for the whole session (the module reads it when first loaded), and
one :class:`~ltv.remote.pkcs11_keys.Pkcs11KeyStore` serves the session, as one server process
would (a second login to the same token from the same process is refused by PKCS#11).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import SERVER_AT, free_port
from server_helpers import MutableClock, served

from archive.store import ObjectStore, open_store
from ltv.cli._services import build_services
from ltv.remote.pkcs11_keys import Pkcs11KeyStore
from ltv.server.app import create_app
from ltv.server.routes_csc import install_remote_signing
from ltv.server.settings import ServerSettings
from ltv.server.tenants import add_tenant
from samples.softhsm import ENV_CONF, SoftHsmToken, init_token


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsmToken]:
    token = init_token(tmp_path_factory.mktemp("softhsm"), label="ltv-test")
    previous = os.environ.get(ENV_CONF)
    os.environ[ENV_CONF] = str(token.conf)
    yield token
    if previous is None:
        os.environ.pop(ENV_CONF, None)
    else:
        os.environ[ENV_CONF] = previous


@pytest.fixture(scope="session")
def keystore(softhsm: SoftHsmToken) -> Iterator[Pkcs11KeyStore]:
    store = Pkcs11KeyStore(module=softhsm.module, token_label=softhsm.label,
                           pin=Path(softhsm.pin_file).read_text(encoding="utf-8").strip())
    yield store
    store.close()


@dataclass
class CscServer:
    base: str
    api_key: str
    clock: MutableClock
    store: ObjectStore
    store_url: str  # a file: store, so ``ltv audit ls --store`` reads the same trail


@pytest.fixture(scope="session")
def csc_server(pki, pki_server, keystore, tmp_path_factory) -> Iterator[CscServer]:
    """``ltv serve``'s app with remote signing on (the session's token), on 127.0.0.1."""
    store_url = tmp_path_factory.mktemp("csc-store").as_uri()
    store = open_store(store_url)
    _, api_key = add_tenant(store, "acme")
    clock = MutableClock(SERVER_AT)  # the sample PKI's servers answer as of SERVER_AT
    settings = ServerSettings(pki=pki.directory, trust=(pki.directory / "root.pem",),
                              webauthn_rp_id="localhost", webauthn_origins=("http://localhost",))
    services = build_services(pki=pki.directory, clock=clock)
    app = create_app(settings, store=store, services=services, clock=clock)
    install_remote_signing(app, settings, store=store, clock=clock, keystore=keystore)
    with served(app, free_port()) as base:
        yield CscServer(base=base, api_key=api_key, clock=clock, store=store,
                        store_url=store_url)
