"""The HTML report and the validation page in headless Chromium, in Japanese and English, on a
phone (375 px) and a desktop: key texts, nothing clipped or overflowing, no console errors, no
serious or critical axe-core violations, screenshots.

``LTV_UPDATE_SCREENSHOTS=1`` writes the Japanese report's desktop screenshot to
docs/img/report-ja.png (shown in README); otherwise the committed PNG is only checked to be a
plausible, non-blank screenshot of the same width.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import Page, browser
from conftest import LTV, SERVER_AT, PkiServer, free_port
from test_report_ja import AT, HOLDER, expired_report, hanako, report, signed  # noqa: F401
from test_server_web import CHROMIUM, _wait_http, process
from test_validation_cades import CONTRACT
from test_validation_reports import decode_png

from ltv.clock import format_time
from ltv.validation import ValidationReport
from ltv.validation.report_html import to_html
from ltv.validation.report_options import ReportOptions
from samples.pki import SamplePki

ROOT = Path(__file__).resolve().parents[1]
REPORT_PNG = ROOT / "docs" / "img" / "report-ja.png"
SIZES = {"phone": (375, 812, True), "desktop": (1200, 900, False)}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing")

# Elements whose content overflows their box (clipped text), and whether the page scrolls
# sideways: neither may happen at any width.
_OVERFLOW = """(() => {
  const doc = document.documentElement;
  const clipped = [];
  for (const el of document.querySelectorAll('th, td, li, p, h1, h2, figcaption, span')) {
    if (el.closest('.scroll')) { continue; }  // wide tables scroll inside their own region
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).display !== 'inline') {
      clipped.push(el.tagName + ': ' + el.textContent.slice(0, 60));
    }
  }
  for (const svg of document.querySelectorAll('svg')) {
    const box = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll('text')) {
      const r = t.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) { continue; }  // not drawn (display: none)
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5) {
        clipped.push('svg text: ' + t.textContent);
      }
    }
  }
  return {clipped, page: doc.scrollWidth, view: window.innerWidth};
})()"""


def _layout_ok(page: Page) -> None:
    found = page.evaluate(_OVERFLOW)
    assert found["clipped"] == [], found["clipped"]
    assert found["page"] <= found["view"], found


def _check_png(path: Path, width: int) -> None:
    png_width, height, channels, pixels = decode_png(path.read_bytes())
    assert png_width == width, (png_width, width)
    assert height > 400
    assert len(set(pixels[::channels * 97])) > 8, f"{path} looks blank"


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_html_report_in_chromium(expired_report: ValidationReport,  # noqa: F811
                                 tmp_path: Path, lang: str, size: str) -> None:
    width, height, mobile = SIZES[size]
    file = tmp_path / f"report-{lang}.html"
    file.write_text(to_html(expired_report, title="業務委託契約書_株式会社サンプル商事_2026年度"
                            "_最終版_署名済み.p7s", options=ReportOptions(lang=lang)),
                    encoding="utf-8")
    with browser(tmp_path, lang=lang, width=width, height=height, mobile=mobile) as page:
        page.goto(file.as_uri(), "!!document.querySelector('#summary')")
        text = page.evaluate("document.querySelector('#summary').textContent")
        holder = page.evaluate("document.querySelector('.holder-name').textContent")
        assert holder == HOLDER.name
        if lang == "ja":
            assert text.startswith("この契約書の署名は有効です。署名者は電子 花子です")
            assert "有効期限が切れましたが、署名時点の存在がタイムスタンプで証明されています" \
                in text
            assert page.evaluate("document.documentElement.lang") == "ja"
            assert page.evaluate("document.querySelector('#overall').textContent") \
                == "有効 (TOTAL-PASSED)"
        else:
            assert text.startswith("The signature on this contract is valid. The signer is ")
            assert page.evaluate("document.querySelector('#overall').textContent") \
                == "Valid (TOTAL-PASSED)"
        legend = page.evaluate("Array.from(document.querySelectorAll('.legend li'))"
                               ".map(li => li.textContent)")
        assert any("★" in item for item in legend), legend
        _layout_ok(page)
        assert page.console_errors() == []
        assert page.axe_violations() == []
        shot = page.screenshot(tmp_path / f"report-{lang}-{size}.png", full_page=True)
        # the layout check does see a label cut off (so its silence above means something)
        page.evaluate("(() => { const s = document.createElement('style'); s.textContent ="
                      " '.legend li{white-space:nowrap;overflow:hidden;max-width:60px}';"
                      " document.head.append(s); return true; })()")
        assert page.evaluate(_OVERFLOW)["clipped"], "the clipping check sees nothing"

    _check_png(shot, width)
    if lang == "ja" and size == "desktop":
        if os.environ.get("LTV_UPDATE_SCREENSHOTS") == "1":
            REPORT_PNG.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, REPORT_PNG)
        assert REPORT_PNG.is_file(), "run with LTV_UPDATE_SCREENSHOTS=1 to make the README PNG"
        _check_png(REPORT_PNG, width)


def test_print_layout_is_a4(expired_report: ValidationReport,  # noqa: F811
                            tmp_path: Path) -> None:
    """Printing (Chromium's print to PDF, A4 from the page's @page rule) keeps the text."""
    import base64
    import subprocess

    file = tmp_path / "report.html"
    file.write_text(to_html(expired_report, options=ReportOptions(lang="ja")), encoding="utf-8")
    with browser(tmp_path, lang="ja") as page:
        page.goto(file.as_uri(), "!!document.querySelector('#summary')")
        pdf = page.send("Page.printToPDF", preferCSSPageSize=True, printBackground=True)
    out = tmp_path / "printed.pdf"
    out.write_bytes(base64.b64decode(pdf["data"]))
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo (poppler-utils) is not installed")
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True,
                          check=True).stdout
    assert "(A4)" in info, info
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "この契約書の署名は有効です。" in text.replace("\n", "")


# -- the validation page ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(pki: SamplePki, pki_server: PkiServer,
           tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("web-server")
    port = free_port()
    log = tmp / "serve.log"
    serve = [str(LTV), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--store", str(tmp / "store"), "--pki", str(pki.directory), "--public-validation"]
    env = {k: v for k, v in os.environ.items() if k not in ("LTV_PKI", "LTV_TSA_URL")}
    with process(serve, log, env) as proc:
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/healthz", proc, log)
        yield base


def _drop(page: Page, files: dict[str, bytes]) -> None:
    """Drop ``files`` on the drop zone, as a drag from the desktop would."""
    payload = json.dumps({name: list(data) for name, data in files.items()})
    page.evaluate(f"""(() => {{
      const dt = new DataTransfer();
      for (const [name, bytes] of Object.entries({payload})) {{
        dt.items.add(new File([new Uint8Array(bytes)], name));
      }}
      const zone = document.getElementById('drop');
      zone.dispatchEvent(new DragEvent('dragover', {{dataTransfer: dt, bubbles: true,
                                                    cancelable: true}}));
      zone.dispatchEvent(new DragEvent('drop', {{dataTransfer: dt, bubbles: true,
                                                cancelable: true}}));
      return true;
    }})()""")


_RESULTS = """Array.from(document.querySelectorAll('#results li.result')).map(li => ({
  name: li.querySelector('.file-name').textContent,
  token: li.querySelector('.result-verdict').textContent,
  words: li.querySelector('.result-words').textContent,
  summary: li.querySelector('.result-summary').textContent,
  report: !!li.querySelector('iframe.result-report')}))"""


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_validation_page_several_files(server: str, signed: bytes,  # noqa: F811
                                       tmp_path: Path, lang: str, size: str) -> None:
    width, height, mobile = SIZES[size]
    pos = signed.index(CONTRACT[:16])
    tampered = signed[:pos] + b"X" + signed[pos + 1:]
    with browser(tmp_path, lang=lang, width=width, height=height, mobile=mobile) as page:
        page.goto(f"{server}/", "!!document.querySelector('#submit')")
        assert page.evaluate("document.documentElement.lang") == lang
        heading = page.evaluate("document.querySelector('h1').textContent")
        assert heading == ("署名済みファイルの検証" if lang == "ja" else "Validate signed files")
        assert page.evaluate("document.querySelector('#submit').textContent") == (
            "検証する" if lang == "ja" else "Validate")
        _layout_ok(page)
        assert page.axe_violations() == []
        _drop(page, {"契約書-署名済み.p7s": signed, "改ざん.p7s": tampered})
        assert page.evaluate("Array.from(document.getElementById('file').files)"
                             ".map(f => f.name)") == ["契約書-署名済み.p7s", "改ざん.p7s"]
        assert page.evaluate("document.querySelectorAll('#chosen li').length") == 2
        page.evaluate(f"document.getElementById('at').value = {json.dumps(format_time(AT))}")
        page.evaluate("document.getElementById('submit').click()")
        verdict = page.wait_for("(() => { const t = document.querySelector('#verdict')"
                                ".textContent; return /^(TOTAL-|INDETERMINATE|error|エラー)/"
                                ".test(t) ? t : ''; })()", timeout=120)
        assert verdict == "TOTAL-FAILED"  # the worst of the two
        assert page.evaluate("document.getElementById('verdict-words').textContent") == (
            "無効" if lang == "ja" else "Not valid")
        assert page.evaluate("document.getElementById('report').hidden") is True
        results = page.evaluate(_RESULTS)
        if lang == "ja":
            assert results[0]["words"] == "有効"
            assert results[0]["summary"].startswith("この契約書の署名は有効です。署名者は電子 花子")
            assert results[1]["words"] == "無効"
            assert "署名後に文書が変更されています" in results[1]["summary"]
        else:
            assert results[0]["words"] == "Valid"
            assert results[0]["summary"].startswith("The signature on this contract is valid.")
            assert results[1]["words"] == "Not valid"
            assert "changed after signing" in results[1]["summary"]
        assert [(r["name"], r["token"], r["report"]) for r in results] == [
            ("契約書-署名済み.p7s", "TOTAL-PASSED", True), ("改ざん.p7s", "TOTAL-FAILED", True)]
        first = page.evaluate("document.getElementById('report').srcdoc")
        assert f'<html lang="{lang}">' in first
        assert "電子 花子" in first
        _layout_ok(page)
        assert page.console_errors() == []
        assert page.axe_violations() == []
        shot = page.screenshot(tmp_path / f"page-{lang}-{size}.png", full_page=True)
    _check_png(shot, width)


def test_validation_page_detached_content(server: str, pki: SamplePki, hanako: Any,  # noqa: F811
                                          tmp_path: Path) -> None:
    """A detached CAdES signature with its content chosen in #detached (Japanese page)."""
    from test_validation_cades import _services

    from ltv.signing import SignatureFormat, SignatureLevel, SigningOptions, sign

    p7s = tmp_path / "契約書.txt.p7s"
    p7s.write_bytes(sign(CONTRACT, hanako, [hanako.certificate, *hanako.chain],
                         SignatureFormat.CADES, SignatureLevel.B_T,
                         options=SigningOptions(detached=True),
                         services=_services(pki, AT - timedelta(minutes=5))))
    content = tmp_path / "契約書.txt"
    content.write_bytes(CONTRACT)
    with browser(tmp_path, lang="ja") as page:
        page.goto(f"{server}/", "!!document.querySelector('#submit')")
        root = page.send("DOM.getDocument", depth=1)["root"]["nodeId"]
        for selector, path in (("#file", p7s), ("#detached", content)):
            node = page.send("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
            page.send("DOM.setFileInputFiles", files=[str(path)], nodeId=node)
        page.evaluate(f"document.getElementById('at').value = {json.dumps(format_time(AT))}")
        page.evaluate("document.getElementById('submit').click()")
        verdict = page.wait_for("(() => { const t = document.querySelector('#verdict')"
                                ".textContent; return /^(TOTAL-|INDETERMINATE|error|エラー)/"
                                ".test(t) ? t : ''; })()", timeout=120)
        assert verdict == "TOTAL-PASSED"
        assert page.evaluate("document.getElementById('verdict-words').textContent") == "有効"
        results = page.evaluate(_RESULTS)
        assert [(r["name"], r["token"]) for r in results] == [(p7s.name, "TOTAL-PASSED")]
        assert page.evaluate("document.getElementById('report').hidden") is False
        assert page.console_errors() == []


def test_validation_page_language_choice(server: str, tmp_path: Path) -> None:
    """Japanese for a Japanese browser, ?lang=en overrides; an unknown language is refused."""
    import httpx

    ja = httpx.get(f"{server}/", headers={"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.5"})
    assert ja.headers["content-language"] == "ja"
    assert "<h1>署名済みファイルの検証</h1>" in ja.text
    en = httpx.get(f"{server}/?lang=en", headers={"Accept-Language": "ja-JP"})
    assert en.headers["content-language"] == "en"
    assert "<h1>Validate signed files</h1>" in en.text
    assert httpx.get(f"{server}/").headers["content-language"] == "en"
    bad = httpx.get(f"{server}/?lang=fr")
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["detail"] == "unsupported language 'fr' (choose en, ja)"
    with browser(tmp_path, lang="ja") as page:
        page.goto(f"{server}/?lang=en", "!!document.querySelector('#submit')")
        assert page.evaluate("document.documentElement.lang") == "en"
        page.goto(f"{server}/", "!!document.querySelector('#submit')")
        assert page.evaluate("document.documentElement.lang") == "ja"
        assert page.evaluate("document.querySelector('nav a').textContent") == "English"


def test_report_api_speaks_the_accept_language(server: str, signed: bytes  # noqa: F811
                                               ) -> None:
    import httpx

    files = {"file": ("c.p7s", signed)}
    at = {"at": format_time(AT)}
    ja = httpx.post(f"{server}/v1/validations", files=files, data=at, timeout=60,
                    headers={"Accept": "text/html", "Accept-Language": "ja"})
    assert ja.status_code == 200, ja.text
    assert ja.headers["content-language"] == "ja"
    assert "この契約書の署名は有効です。" in ja.text
    en = httpx.post(f"{server}/v1/validations", files=files, data=at, timeout=60,
                    headers={"Accept": "text/html"})
    assert en.headers["content-language"] == "en"
    assert "The signature on this contract is valid." in en.text
    assert SERVER_AT < AT
