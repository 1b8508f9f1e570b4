"""The approval and enrolment pages in Japanese and English: headless Chromium speaking the
language (Accept-Language), the key texts, no console errors, no serious accessibility
violations (axe-core), a screenshot of each."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from browser_helpers import browser
from csc_helpers import b64, enroll
from test_server_web import CHROMIUM

from ltv.online.csc import CscClient

TEXTS = {
    "ja": {"approve": ("署名の承認", "文書:", "署名者:", "SHA256 ハッシュ:", "パスキーで承認",
                       "承認すると、パスキーがこれらのハッシュだけに、5分以内に1回だけ署名します。"),
           "enrol": ("署名用パスキーの作成", "利用者:", "パスキーを作成",
                     "署名鍵（rsa2048）はサービスの HSM 内で生成されます。")},
    "en": {"approve": ("Approve a signature", "Document:", "Signer:", "SHA256 hash:",
                       "Approve with passkey"),
           "enrol": ("Create your signing passkey", "User:", "Create passkey",
                     "Your signing key (rsa2048) will be made inside the service's HSM")},
}


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_pages_in_the_browsers_language(csc_server, tmp_path, lang: str) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    client, _passkey, cid = enroll(csc_server.base, csc_server.api_key, f"mio-{lang}",
                                   tmp_path / "passkey")
    digest = hashlib.sha256(b"page language").digest()
    approval = client.call("ltv/approvals", {"credentialID": cid, "hashes": [b64(digest)],
                                             "document_name": "賃貸借契約書.pdf"})
    other = CscClient(csc_server.base)
    other.login(f"nao-{lang}", csc_server.api_key)
    enrolment = other.call("ltv/enroll/begin", {"key_algorithm": "rsa2048"})
    with browser(tmp_path, lang=lang) as page:
        for kind, url in (("approve", approval["approve_url"]),
                          ("enrol", enrolment["enroll_url"])):
            page.goto(f"{csc_server.base}{url}", ready="!!document.querySelector('button')")
            text = page.evaluate("document.body.innerText")
            for expected in TEXTS[lang][kind]:
                assert expected in text, (kind, expected, text)
            assert page.evaluate("document.documentElement.lang") == lang
            assert page.console_errors() == []
            assert page.axe_violations() == [], kind
            shot = page.screenshot(tmp_path / f"{kind}-{lang}.png")
            assert shot.read_bytes().startswith(b"\x89PNG")
    # the header decides, and says so
    answer = httpx.get(f"{csc_server.base}{approval['approve_url']}",
                       headers={"Accept-Language": "ja"})
    assert answer.headers["content-language"] == "ja"
    assert "Accept-Language" in answer.headers["vary"]
