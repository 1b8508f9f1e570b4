"""Fixtures for remote signing: a SoftHSM2 token of this test session in a temporary directory.

``SOFTHSM2_CONF`` is exported for the whole session (the module reads it when first loaded), and
one :class:`~ltv.remote.pkcs11_keys.Pkcs11KeyStore` serves the session, as one server process
would (a second login to the same token from the same process is refused by PKCS#11).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ltv.remote.pkcs11_keys import Pkcs11KeyStore
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
