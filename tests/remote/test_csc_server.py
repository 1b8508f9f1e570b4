"""CSC API v2 on the real server (uvicorn on 127.0.0.1): enrolment, FIDO2-authorised signHash,
and each refusal of issue #18 item 3 with its exact CSC error body and HTTP status."""

from __future__ import annotations

import hashlib
import shutil

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from csc_helpers import assert_csc_error, authorize_body, b64, enroll, post

from ltv.algorithms import DigestAlgorithm, SignatureMechanism, verify_signature
from ltv.jpki import SAMPLE_REMOTE_POLICY, KeyKind
from ltv.validation.process import signer_key_kind
from samples.passkey import SoftPasskey

SHA256 = DigestAlgorithm.SHA256


def h(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


@pytest.fixture(scope="module")
def taro(csc_server, tmp_path_factory):
    return enroll(csc_server.base, csc_server.api_key, "taro",
                  tmp_path_factory.mktemp("taro") / "passkey")


@pytest.fixture(scope="module")
def hanako_rsa(csc_server, tmp_path_factory):
    return enroll(csc_server.base, csc_server.api_key, "hanako",
                  tmp_path_factory.mktemp("hanako") / "passkey", key_algorithm="rsa2048")


def test_info_lists_our_methods(csc_server) -> None:
    info = httpx.post(f"{csc_server.base}/csc/v2/info", json={}).json()
    assert info["specs"] == "2.0.0.2"
    assert "signatures/signHash" in info["methods"]
    assert "1.2.840.10045.4.3.2" in info["signAlgorithms"]["algos"]


def test_enrolment_makes_key_in_token_and_remote_certificate(csc_server, keystore,
                                                             taro) -> None:
    client, _, credential_id = taro
    assert client.call("credentials/list")["credentialIDs"] == [credential_id]
    info = client.call("credentials/info", {"credentialID": credential_id,
                                            "certificates": "chain"})
    assert info["SCAL"] == "2"
    assert info["auth"]["objects"][0] == {
        "type": "ChallengeResponse", "id": "FIDO2", "format": "A",
        "label": "WebAuthn assertion over the hashes (credentials/getChallenge)"}
    certs = client.certificates(credential_id)
    assert len(certs) == 3  # signer, smartphone CA, root
    policies = certs[0].extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == [SAMPLE_REMOTE_POLICY]
    assert signer_key_kind(certs[0]) is KeyKind.REMOTE
    attrs = keystore.attributes(f"acme/taro/{credential_id}")
    assert (attrs.sensitive, attrs.extractable, attrs.local) == (True, False, True)
    assert keystore.public_key(f"acme/taro/{credential_id}") == certs[0].public_key() \
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize(("who", "mechanism"), [("taro", SignatureMechanism.ECDSA),
                                                ("hanako_rsa", SignatureMechanism.RSA_PKCS1V15)])
def test_batch_authorised_then_signed(request, who, mechanism) -> None:
    client, passkey, credential_id = request.getfixturevalue(who)
    batch = [h(f"batch {who} {i}") for i in range(3)]
    sad = client.authorize(credential_id, SHA256, batch, passkey.get)
    public = client.certificates(credential_id)[0].public_key()
    first = client.sign_hashes(credential_id, sad, SHA256, mechanism, batch[:2])
    rest = client.sign_hashes(credential_id, sad, SHA256, mechanism, batch[2:])
    for digest, value in zip(batch, first + rest, strict=True):
        verify_signature(public, value, mechanism=mechanism, digest_algorithm=SHA256,
                         digest=digest)


# --- the ten refusals of item 3 ----------------------------------------------------------------


def _sign_body(credential_id: str, sad: str, hashes: list[bytes]) -> dict:
    return {"credentialID": credential_id, "SAD": sad, "hashes": [b64(x) for x in hashes],
            "signAlgo": "1.2.840.10045.4.3.2", "hashAlgorithmOID": SHA256.oid}


def test_refuses_hash_not_covered_by_sad(csc_server, taro) -> None:
    client, passkey, cid = taro
    sad = client.authorize(cid, SHA256, [h("covered")], passkey.get)
    assert_csc_error(post(csc_server.base, "signatures/signHash",
                          _sign_body(cid, sad, [h("not covered")]), client.token),
                     400, "invalid_request", "Hash is not authorized by the SAD")
    # nor a covered hash smuggled in with an uncovered one
    assert_csc_error(post(csc_server.base, "signatures/signHash",
                          _sign_body(cid, sad, [h("covered"), h("extra")]), client.token),
                     400, "invalid_request", "Hash is not authorized by the SAD")


def test_refuses_sad_replay(csc_server, taro) -> None:
    client, passkey, cid = taro
    sad = client.authorize(cid, SHA256, [h("once")], passkey.get)
    ok = post(csc_server.base, "signatures/signHash", _sign_body(cid, sad, [h("once")]),
              client.token)
    assert ok.status_code == 200, ok.text
    assert_csc_error(post(csc_server.base, "signatures/signHash",
                          _sign_body(cid, sad, [h("once")]), client.token),
                     400, "invalid_request", "Invalid parameter SAD")


def test_refuses_assertion_made_for_other_hashes(csc_server, taro) -> None:
    client, passkey, cid = taro
    body = authorize_body(client, cid, [h("what the user saw")], passkey,
                          hashes=[h("what the attacker wants")])
    assert_csc_error(post(csc_server.base, "credentials/authorize", body, client.token),
                     400, "invalid_authentication_data", "Wrong challenge in response")


def test_refuses_nonce_replay(csc_server, taro) -> None:
    client, passkey, cid = taro
    body = authorize_body(client, cid, [h("nonce")], passkey)
    assert post(csc_server.base, "credentials/authorize", body, client.token).status_code == 200
    assert_csc_error(post(csc_server.base, "credentials/authorize", body, client.token),
                     400, "invalid_authentication_data",
                     "unknown or already used challenge nonce")


def test_refuses_assertion_without_user_verification(csc_server, taro) -> None:
    client, passkey, cid = taro
    body = authorize_body(client, cid, [h("uv")], passkey, user_verified=False)
    assert_csc_error(post(csc_server.base, "credentials/authorize", body, client.token),
                     400, "invalid_authentication_data",
                     "User verification required, but user verified flag not set")


def test_refuses_other_authenticator_with_stolen_credential_id(csc_server, taro,
                                                               tmp_path) -> None:
    client, passkey, cid = taro
    thief_dir = tmp_path / "thief"
    shutil.copytree(passkey.directory, thief_dir)  # the credential id and counter, not the key
    (thief_dir / "key.pem").write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    thief = SoftPasskey(thief_dir)
    body = authorize_body(client, cid, [h("stolen")], thief, counter=thief.counter + 1000)
    assert_csc_error(post(csc_server.base, "credentials/authorize", body, client.token),
                     400, "invalid_authentication_data", "Invalid signature")


def test_refuses_counter_going_backwards(csc_server, taro) -> None:
    client, passkey, cid = taro
    client.authorize(cid, SHA256, [h("counter")], passkey.get)
    body = authorize_body(client, cid, [h("clone")], passkey, counter=passkey.counter - 1)
    assert_csc_error(post(csc_server.base, "credentials/authorize", body, client.token),
                     400, "invalid_authentication_data", "a cloned authenticator?")


@pytest.mark.parametrize(("misbehave", "message"), [
    ({"origin": "https://evil.example"}, "Invalid origin in CollectedClientData"),
    ({"rp_id": "evil.example"}, "Wrong RP ID hash in response"),
])
def test_refuses_wrong_origin_or_rp_id(csc_server, taro, misbehave, message) -> None:
    client, passkey, cid = taro
    body = authorize_body(client, cid, [h("phishing")], passkey, **misbehave)
    assert_csc_error(post(csc_server.base, "credentials/authorize", body, client.token),
                     400, "invalid_authentication_data", message)


def test_refuses_another_users_credential(csc_server, taro, hanako_rsa) -> None:
    taro_client, taro_passkey, taro_cid = taro
    hanako_client = hanako_rsa[0]
    for method in ("credentials/info", "credentials/getChallenge"):
        assert_csc_error(post(csc_server.base, method,
                              {"credentialID": taro_cid, "hashes": [b64(h("x"))]},
                              hanako_client.token),
                         400, "invalid_request", "Invalid parameter credentialID")
    # taro's own valid authorisation, replayed under hanako's token
    body = authorize_body(taro_client, taro_cid, [h("theirs")], taro_passkey)
    assert_csc_error(post(csc_server.base, "credentials/authorize", body, hanako_client.token),
                     400, "invalid_request", "Invalid parameter credentialID")
    sad = taro_client.authorize(taro_cid, SHA256, [h("theirs 2")], taro_passkey.get)
    assert_csc_error(post(csc_server.base, "signatures/signHash",
                          _sign_body(taro_cid, sad, [h("theirs 2")]), hanako_client.token),
                     400, "invalid_request", "Invalid parameter credentialID")


@pytest.mark.parametrize("method", ["credentials/list", "credentials/info",
                                    "credentials/getChallenge", "credentials/authorize",
                                    "signatures/signHash", "ltv/enroll/begin"])
@pytest.mark.parametrize("token", [None, "csc_made-up-token", "ltv_an-api-key-is-no-token"])
def test_refuses_missing_or_unknown_access_token(csc_server, taro, method, token) -> None:
    body = {"credentialID": taro[2], "hashes": [b64(h("x"))], "SAD": "sad_x",
            "signAlgo": "1.2.840.10045.4.3.2"}
    response = post(csc_server.base, method, body, token)
    assert_csc_error(response, 401, "invalid_token",
                     "missing or malformed access token" if token != "csc_made-up-token"
                     else "unknown or expired access token")


def test_sad_expires_after_five_minutes(csc_server, taro) -> None:
    client, passkey, cid = taro
    sad = client.authorize(cid, SHA256, [h("late")], passkey.get)
    csc_server.clock.advance(seconds=301)
    try:
        assert_csc_error(post(csc_server.base, "signatures/signHash",
                              _sign_body(cid, sad, [h("late")]), client.token),
                         400, "invalid_request", "SAD expired")
    finally:
        csc_server.clock.advance(seconds=-301)


def test_login_refusals(csc_server) -> None:
    url = f"{csc_server.base}/csc/v2/auth/login"
    assert_csc_error(httpx.post(url, json={}), 401, "invalid_client", "use 'Authorization: Basic")
    assert_csc_error(httpx.post(url, json={}, auth=("taro", "ltv_" + "x" * 40)), 401,
                     "invalid_client", "unknown API key")
    assert_csc_error(httpx.post(url, json={}, auth=("Taro Yamada", csc_server.api_key)), 400,
                     "invalid_request", "a user name is 1-63")


@pytest.mark.parametrize(("auth_data", "error", "message"), [
    (None, "invalid_request", "Missing authData"),
    ([{"id": "PIN", "value": "1234"}], "invalid_request", "Missing authData FIDO2"),
    ([{"id": "FIDO2", "value": "!!!"}], "invalid_authentication_data", "not base64url JSON"),
    ([{"id": "FIDO2", "value": "e30"}], "invalid_authentication_data", "needs {nonce, credential}"),
    ("credential-without-nonce", "invalid_authentication_data", "malformed challenge nonce"),
    ("garbage-credential", "invalid_authentication_data", "the assertion does not verify"),
])
def test_malformed_authorisations_are_csc_errors(csc_server, taro, auth_data, error,
                                                 message) -> None:
    import base64
    import json

    client, passkey, cid = taro
    body = authorize_body(client, cid, [h("malformed")], passkey)
    if auth_data == "credential-without-nonce":
        credential = json.loads(base64.urlsafe_b64decode(body["authData"][0]["value"] + "=="))
        credential.pop("nonce")
        auth_data = [{"id": "FIDO2", "value": base64.urlsafe_b64encode(
            json.dumps(credential).encode()).decode()}]
    elif auth_data == "garbage-credential":
        credential = json.loads(base64.urlsafe_b64decode(body["authData"][0]["value"] + "=="))
        credential["credential"]["response"]["authenticatorData"] = "AAAA"
        auth_data = [{"id": "FIDO2", "value": base64.urlsafe_b64encode(
            json.dumps(credential).encode()).decode()}]
    body["authData"] = auth_data
    assert_csc_error(post(csc_server.base, "credentials/authorize", body, client.token),
                     400, error, message)


def test_sign_hash_pss_with_salt_from_sign_algo_params(csc_server, hanako_rsa) -> None:
    """pyHanko asks for PSS with the largest salt (222 for RSA-2048 with SHA-256)."""
    from asn1crypto import algos
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, utils

    client, passkey, cid = hanako_rsa
    digest = h("pss")
    sad = client.authorize(cid, SHA256, [digest], passkey.get)
    params = algos.RSASSAPSSParams({
        "hash_algorithm": {"algorithm": "sha256"},
        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
        "salt_length": 222})
    answer = post(csc_server.base, "signatures/signHash", {
        "credentialID": cid, "SAD": sad, "hash": [b64(digest)], "hashAlgo": SHA256.oid,
        "signAlgo": "1.2.840.113549.1.1.10", "signAlgoParams": b64(params.dump())},
        client.token)
    assert answer.status_code == 200, answer.text
    value = __import__("base64").b64decode(answer.json()["signatures"][0])
    client.certificates(cid)[0].public_key().verify(
        value, digest, padding.PSS(padding.MGF1(hashes.SHA256()), 222),
        utils.Prehashed(hashes.SHA256()))


@pytest.mark.parametrize(("body", "message"), [
    ({"hashes": ["%%%"]}, "Invalid Base64 hashes string parameter"),
    ({"hashes": []}, "Missing (or invalid type) array parameter hashes"),
    ({"signAlgo": "1.2.840.113549.1.1.11"}, "Invalid parameter signAlgo"),
    ({"signAlgo": "1.2.840.10045.2.1"}, "Missing (or invalid type) string parameter "
                                        "hashAlgorithmOID"),
    ({"hashAlgorithmOID": "1.3.14.3.2.26"}, "hashAlgorithmOID does not match signAlgo"),
    ({"SAD": 5}, "Invalid parameter SAD"),
])
def test_malformed_sign_hash_is_a_csc_error(csc_server, taro, body, message) -> None:
    client, _, cid = taro
    request = {"credentialID": cid, "SAD": "sad_unknown", "hashes": [b64(h("m"))],
               "signAlgo": "1.2.840.10045.4.3.2", **body}
    assert_csc_error(post(csc_server.base, "signatures/signHash", request, client.token),
                     400, "invalid_request", message)


def test_non_json_body_is_a_csc_error(csc_server, taro) -> None:
    response = httpx.post(f"{csc_server.base}/csc/v2/signatures/signHash", content=b"{not json",
                          headers={"Authorization": f"Bearer {taro[0].token}",
                                   "Content-Type": "application/json"})
    assert_csc_error(response, 400, "invalid_request", "Expecting property name")


def test_audit_trail_of_authorisation_signature_and_refused_replay(csc_server, taro) -> None:
    """Item 8: each authorisation and signature, granted or refused, is a line of the store's
    audit trail (``ltv audit ls``): user, credential, hash count and prefixes, SAD id, outcome;
    never a hash in full nor the SAD."""
    import json

    from conftest import ltv_cli

    from ltv.server.routes_csc import sad_id

    client, passkey, cid = taro
    digest = h("audited")
    sad = client.authorize(cid, SHA256, [digest], passkey.get)
    client.sign_hashes(cid, sad, SHA256, SignatureMechanism.ECDSA, [digest])
    assert_csc_error(post(csc_server.base, "signatures/signHash",
                          _sign_body(cid, sad, [digest]), client.token),
                     400, "invalid_request", "Invalid parameter SAD")
    body = authorize_body(client, cid, [h("audited 2")], passkey, user_verified=False)
    post(csc_server.base, "credentials/authorize", body, client.token)
    done = ltv_cli("audit", "ls", "--store", csc_server.store_url)
    assert done.returncode == 0, done.stderr
    assert sad not in done.stdout
    assert digest.hex() not in done.stdout
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    # other tests move the shared clock, so their lines may sort after ours: pick ours by hash
    ours = (digest.hex()[:12], h("audited 2").hex()[:12])
    mine = [(e["event"], e["outcome"], e["detail"]) for e in lines
            if e["object"] == cid and any(p in (e["detail"] or "") for p in ours)]
    common = f"user=taro hashes=1 prefixes={digest.hex()[:12]} sad={sad_id(sad)}"
    assert mine == [
        ("remote.authorize", "ok", common),
        ("remote.sign", "ok", common),
        ("remote.sign", "refused", common + " reason=Invalid-parameter-SAD"),
        ("remote.authorize", "refused",
         f"user=taro hashes=1 prefixes={h('audited 2').hex()[:12]} "
         "reason=the-assertion-does-not-verify")]
    assert {(e["who"], e["tenant"]) for e in lines if e["object"] == cid} == {("tenant", "acme")}
    assert any(e["event"] == "remote.enrol" and e["object"] == cid for e in lines)


def test_audit_detail_shows_at_most_four_prefixes() -> None:
    from ltv.server.routes_csc import audit_detail

    hashes = [h(str(i)) for i in range(7)]
    detail = audit_detail(user="taro", hashes=hashes)
    assert detail == ("user=taro hashes=7 prefixes="
                      + ",".join(x.hex()[:12] for x in hashes[:4]) + "+3")
