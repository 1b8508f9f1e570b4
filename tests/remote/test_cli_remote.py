"""``ltv remote enroll`` and ``ltv sign --remote``: CAdES, PAdES and XAdES at B-LTA with a key in
the server's token, each signature approved by the passkey; ``ltv validate`` passes them as key
kind ``remote`` and ``--refuse-key-kind remote`` refuses them."""

from __future__ import annotations

import json

import pytest
from conftest import ltv_cli


@pytest.fixture(scope="module")
def enrolled(csc_server, tmp_path_factory):
    passkey = tmp_path_factory.mktemp("jiro") / "passkey"
    result = ltv_cli("remote", "enroll", "jiro", "--server", csc_server.base,
                     "--api-key", csc_server.api_key, "--passkey", passkey)
    assert result.returncode == 0, result.stderr
    credential = result.stdout.strip()
    assert credential.startswith("rc-")
    return credential, passkey


@pytest.mark.parametrize(("fmt", "name", "content"), [
    ("cades", "contract.txt", b"remote contract\n"),
    ("xades", "contract.xml", b"<contract><party>A</party></contract>"),
    ("pades", "contract.pdf", None),
])
def test_sign_remote_b_lta_validates_as_remote_key(csc_server, enrolled, pki, pki_server,
                                                   tmp_path, fmt, name, content) -> None:
    from test_pades import sample_pdf

    credential, passkey = enrolled
    document = tmp_path / name
    document.write_bytes(content if content is not None else sample_pdf())
    out = tmp_path / f"signed-{name}"
    counter_before = json.loads((passkey / "passkey.json").read_text())["counter"]
    result = ltv_cli("sign", document, "--format", fmt, "--level", "B-LTA", "--pki",
                     pki.directory, "--remote", csc_server.base, "--api-key",
                     csc_server.api_key, "--credential", credential, "--passkey", passkey,
                     "-o", out)
    assert result.returncode == 0, result.stderr
    assert json.loads((passkey / "passkey.json").read_text())["counter"] == counter_before + 1
    report = tmp_path / "report.json"
    checked = ltv_cli("validate", out, "--trust", pki.directory / "root.pem", "--json", report)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "remote (server-held key, FIDO-authorised) key of" in checked.stdout
    body = json.loads(report.read_text())
    assert body["indication"] == "TOTAL-PASSED", body
    (sig,) = body["signatures"]
    assert sig["level"] == "B-LTA"
    assert sig["signer"]["key_kind"] == "remote"
    refused = ltv_cli("validate", out, "--trust", pki.directory / "root.pem",
                      "--refuse-key-kind", "remote")
    assert refused.returncode == 3
    assert "INDETERMINATE:" in refused.stdout
    assert "CHAIN_CONSTRAINTS_FAILURE the policy does not accept remote keys" in refused.stdout
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"name": "no remote keys", "refuse_key_kinds": ["remote"]}))
    by_policy = ltv_cli("validate", out, "--trust", pki.directory / "root.pem",
                        "--policy", policy)
    assert by_policy.returncode == 3
    assert "CHAIN_CONSTRAINTS_FAILURE the policy does not accept remote keys" in by_policy.stdout


def test_sign_remote_refusals_are_one_line(csc_server, enrolled, tmp_path) -> None:
    _, passkey = enrolled
    document = tmp_path / "a.txt"
    document.write_bytes(b"x")
    wrong = ltv_cli("sign", document, "--format", "cades", "--level", "B-B", "--remote",
                    csc_server.base, "--api-key", csc_server.api_key, "--credential",
                    "rc-not-mine-at-all", "--passkey", passkey, "-o", tmp_path / "o.p7s")
    assert wrong.returncode == 4
    assert wrong.stderr == ("ltv: error: remote signing server: invalid_request: Invalid "
                            "parameter credentialID (HTTP 400)\n")
    assert not (tmp_path / "o.p7s").exists()
    missing = ltv_cli("sign", document, "--format", "cades", "--level", "B-B", "--remote",
                      csc_server.base, "--passkey", passkey, "-o", tmp_path / "o.p7s",
                      env={"LTV_API_KEY": ""})
    assert missing.returncode == 2
    assert "--remote needs --api-key, --credential and --passkey" in missing.stderr


def test_phone_approve_then_sign_with_the_parked_sad(csc_server, enrolled) -> None:
    import base64
    import hashlib

    from ltv.online.csc import CscClient

    credential, passkey = enrolled
    client = CscClient(csc_server.base)
    client.login("jiro", csc_server.api_key)
    digest = hashlib.sha256(b"approved on the phone").digest()
    approval = client.call("ltv/approvals", {
        "credentialID": credential, "hashes": [base64.b64encode(digest).decode()],
        "document_name": "memo.txt"})
    url = f"{csc_server.base}{approval['approve_url']}"
    done = ltv_cli("phone", "approve", url, "--passkey", passkey)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "approved\n"
    again = ltv_cli("phone", "approve", url, "--passkey", passkey)
    assert again.returncode == 4
    assert again.stderr == ("ltv: error: approval refused: invalid_request: already approved "
                            "(HTTP 400)\n")
    sad = client.call("ltv/approvals/check", {"approval_id": approval["approval_id"]})["SAD"]
    from ltv.algorithms import DigestAlgorithm, SignatureMechanism, verify_signature

    (value,) = client.sign_hashes(credential, sad, DigestAlgorithm.SHA256,
                                  SignatureMechanism.ECDSA, [digest])
    verify_signature(client.certificates(credential)[0].public_key(), value,
                     mechanism=SignatureMechanism.ECDSA,
                     digest_algorithm=DigestAlgorithm.SHA256, digest=digest)
    gone = ltv_cli("phone", "approve", url, "--passkey", passkey)
    assert gone.returncode == 4
    assert gone.stderr == ("ltv: error: approval refused: invalid_request: unknown or expired "
                           "approval request (HTTP 400)\n")
