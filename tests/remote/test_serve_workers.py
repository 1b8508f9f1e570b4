"""A real ``ltv serve --workers 2 --pkcs11-module ... --pin-file ...`` process: each worker opens
the token itself (settings travel to the workers as JSON), and a SAD raced by many concurrent
``signHash`` calls across both workers signs exactly once."""

from __future__ import annotations

import concurrent.futures
import hashlib

import pytest
from conftest import ltv_cli
from csc_helpers import assert_csc_error, b64, enroll, post
from test_server_replicas import ApiProcess

from ltv.algorithms import DigestAlgorithm
from ltv.server.settings import ServerSettings


@pytest.fixture(scope="module")
def served_hsm(softhsm, pki, pki_server, tmp_path_factory):
    store = (tmp_path_factory.mktemp("csc-store") / "store").as_uri()
    made = ltv_cli("tenant", "add", "acme", "--store", store)
    assert made.returncode == 0, made.stderr
    api = ApiProcess("--workers", "2", "--store", store, "--pki", str(pki.directory),
                     "--pkcs11-module", str(softhsm.module), "--token-label", softhsm.label,
                     "--pin-file", str(softhsm.pin_file),
                     log=tmp_path_factory.mktemp("csc-log") / "serve.log")
    try:
        yield api.base_url, made.stdout.strip()
    finally:
        api.stop()


def test_sad_raced_across_two_workers_signs_once(served_hsm, tmp_path) -> None:
    base, api_key = served_hsm
    client, passkey, cid = enroll(base, api_key, "race", tmp_path / "passkey")
    digest = hashlib.sha256(b"raced").digest()
    sad = client.authorize(cid, DigestAlgorithm.SHA256, [digest], passkey.get)
    body = {"credentialID": cid, "SAD": sad, "hashes": [b64(digest)],
            "signAlgo": "1.2.840.10045.4.3.2"}
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda _: post(base, "signatures/signHash", body, client.token),
                                range(24)))
    assert sorted(r.status_code for r in answers) == [200] + [400] * 23
    for refused in (r for r in answers if r.status_code == 400):
        assert_csc_error(refused, 400, "invalid_request", "Invalid parameter SAD")


def test_serve_refuses_a_module_without_pin_file(softhsm) -> None:
    result = ltv_cli("serve", "--pkcs11-module", softhsm.module, "--port", "1")
    assert result.returncode == 4
    assert result.stderr.strip().splitlines()[-1] == \
        "ltv: error: --pkcs11-module needs --pin-file"


def test_settings_round_trip_remote_fields(softhsm) -> None:
    settings = ServerSettings(pkcs11_module=softhsm.module, pin_file=softhsm.pin_file,
                              token_label="t1", webauthn_rp_id="example.org",
                              webauthn_origins=("https://example.org",), sad_lifetime=60)
    back = ServerSettings.from_environment(settings.to_environment())
    assert back.pkcs11_module == softhsm.module.resolve()
    assert back.pin_file == softhsm.pin_file.resolve()
    assert (back.token_label, back.webauthn_rp_id, back.webauthn_origins, back.sad_lifetime) \
        == ("t1", "example.org", ("https://example.org",), 60)
