"""Interop (issue #18, done-when row 1): pyHanko's own ``CSCSigner`` (CSC 1.0.4 field names,
``api_ver="v2"`` URLs) signs a PDF through our server, with an authorisation manager that does
the FIDO2 step; pdfsig, ``openssl cms -verify`` and ``ltv validate`` accept the result."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from io import BytesIO

import aiohttp
import pytest
from asn1crypto import cms
from conftest import ltv_cli
from csc_helpers import enroll
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.csc_signer import (
    CSCAuthorizationInfo,
    CSCAuthorizationManager,
    CSCServiceSessionInfo,
    CSCSigner,
    fetch_certs_in_csc_credential,
)
from test_pades import sample_pdf
from test_pades_interop import nssdb, pdfsig  # noqa: F401 (nssdb is a fixture)


class PasskeyAuthorization(CSCAuthorizationManager):
    """credentials/getChallenge -> the passkey's assertion -> credentials/authorize (SCAL2)."""

    def __init__(self, session, info, credential, passkey) -> None:
        super().__init__(info, credential)
        self.session = session
        self.passkey = passkey

    async def _post(self, method: str, body: dict) -> dict:
        url = self.csc_session_info.endpoint_url(method)
        async with self.session.post(url, json=body, headers=self.auth_headers,
                                     raise_for_status=True) as response:
            return await response.json()

    async def authorize_signature(self, hash_b64s: list[str]) -> CSCAuthorizationInfo:
        cid = self.csc_session_info.credential_id
        options = await self._post("credentials/getChallenge",
                                   {"credentialID": cid, "hashes": hash_b64s})
        assertion = self.passkey.get({"publicKey": options["publicKey"]})
        value = base64.urlsafe_b64encode(json.dumps(
            {"nonce": options["nonce"], "credential": assertion}).encode()).decode().rstrip("=")
        request = self.format_csc_auth_request(hash_b64s=hash_b64s)  # v1 names: "hash"
        request["authData"] = [{"id": "FIDO2", "value": value}]
        return self.parse_csc_auth_response(await self._post("credentials/authorize", request))


async def _sign(base: str, token: str, credential_id: str, passkey, pdf: bytes) -> bytes:
    async with aiohttp.ClientSession() as session:
        info = CSCServiceSessionInfo(service_url=base, credential_id=credential_id,
                                     api_ver="v2", oauth_token=token)
        credential = await fetch_certs_in_csc_credential(session, info)
        assert credential.hash_pinning_required  # SCAL "2"
        signer = CSCSigner(session, auth_manager=PasskeyAuthorization(session, info, credential,
                                                                      passkey))
        meta = signers.PdfSignatureMetadata(field_name="Sig1",
                                            subfilter=fields.SigSeedSubFilter.PADES)
        out = await signers.PdfSigner(meta, signer=signer).async_sign_pdf(
            IncrementalPdfFileWriter(BytesIO(pdf)))
        return bytes(out.getvalue())


@pytest.mark.parametrize("key_algorithm", ["p256", "rsa2048"])
def test_pyhanko_csc_signer_through_our_server(csc_server, pki, pki_server, nssdb,  # noqa: F811
                                               tmp_path, key_algorithm) -> None:
    client, passkey, cid = enroll(csc_server.base, csc_server.api_key, f"py-{key_algorithm}",
                                  tmp_path / "passkey", key_algorithm=key_algorithm)
    signed = asyncio.run(_sign(csc_server.base, client.token, cid, passkey, sample_pdf()))

    # pdfsig checks the signature value; its certificate verdict needs NSS to reach the sample
    # PKI's OCSP as of now, which the session's PKI server (frozen at SERVER_AT) does not give,
    # so the chain is judged by openssl (below) and ltv validate instead.
    (verdict,) = pdfsig(signed, nssdb, tmp_path)
    assert verdict["kind"] == "ETSI.CAdES.detached", verdict
    assert verdict["signature"] == "Signature is Valid.", verdict

    embedded = PdfFileReader(BytesIO(signed)).embedded_signatures[0]
    start, first, second, length = embedded.sig_object["/ByteRange"]
    (tmp_path / "content.bin").write_bytes(signed[start:start + first]
                                           + signed[second:second + length])
    (tmp_path / "sig.der").write_bytes(cms.ContentInfo({
        "content_type": "signed_data", "content": embedded.signed_data}).dump())
    openssl = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "sig.der",
         "-content", tmp_path / "content.bin", "-CAfile", pki.directory / "root.pem",
         "-purpose", "any", "-out", "/dev/null"], capture_output=True, text=True, check=False)
    assert "CMS Verification successful" in openssl.stderr, openssl.stderr

    # pyHanko made B-B; ltv raises it to B-LTA (the sample PKI answers OCSP as of SERVER_AT, so
    # a B-B alone has no proof of existence at that time) and validates it
    (tmp_path / "signed.pdf").write_bytes(signed)
    extended = ltv_cli("extend", tmp_path / "signed.pdf", "--level", "B-LTA", "--pki",
                       pki.directory, "-o", tmp_path / "lta.pdf")
    assert extended.returncode == 0, extended.stderr
    report = tmp_path / "report.json"
    checked = ltv_cli("validate", tmp_path / "lta.pdf", "--trust",
                      pki.directory / "root.pem", "--json", report)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    body = json.loads(report.read_text())
    assert body["indication"] == "TOTAL-PASSED", body
    assert body["signatures"][0]["signer"]["key_kind"] == "remote"
    assert body["signatures"][0]["level"] == "B-LTA"
