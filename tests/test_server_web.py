"""The web page end to end: a real ``ltv serve --public-validation`` subprocess on 127.0.0.1,
driven by headless Debian Chromium over the DevTools protocol (a tiny CDP client on the
``websockets`` package): load ``/``, put a B-LTA PDF into ``#file``, submit, read ``#verdict``
and screenshot the page."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import LTV, SERVER_AT, free_port

from ltv.cli._services import build_services
from ltv.clock import OffsetClock, format_time
from ltv.signing import SignatureFormat, SignatureLevel, sign

CHROMIUM = Path("/usr/bin/chromium")
SIGN_AT = SERVER_AT + timedelta(hours=1)
CHECK_AT = format_time(SERVER_AT + timedelta(hours=2))
VERDICT_GREEN = (0x1B, 0x7F, 0x3B)  # .TOTAL-PASSED in ltv.server.web


class Cdp:
    """A minimal Chrome DevTools Protocol client over one page target's websocket."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._next = 0

    @classmethod
    @contextlib.contextmanager
    def open(cls, ws_url: str) -> Iterator[Cdp]:
        from websockets.sync.client import connect

        with connect(ws_url, max_size=64 * 1024 * 1024, open_timeout=20) as ws:
            yield cls(ws)

    def send(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"CDP {method}: no answer in {timeout}s")
            message = json.loads(self._ws.recv(timeout=left))
            if message.get("id") != ident:
                self.on_event(message)
                continue
            if "error" in message:
                raise RuntimeError(f"CDP {method}: {message['error']}")
            result: dict[str, Any] = message.get("result", {})
            return result

    def on_event(self, message: dict[str, Any]) -> None:
        """An event (a message without our id) arrived; ignored here."""

    def evaluate(self, expression: str) -> Any:
        answer = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in answer:
            raise RuntimeError(f"JS failed: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"timed out waiting for {expression}")


@contextlib.contextmanager
def process(args: list[str], log: Path, env: dict[str, str] | None = None
            ) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited {proc.returncode}: {log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up: {log.read_text()[-3000:]}")
        time.sleep(0.1)


def _devtools_port(profile: Path, proc: subprocess.Popen[bytes], log: Path) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while not marker.is_file() or not marker.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"chromium did not open DevTools: {log.read_text()[-3000:]}")
        time.sleep(0.05)
    return int(marker.read_text().splitlines()[0])


def _page_ws(port: int) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            for target in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json():
                if target.get("type") == "page":
                    return str(target["webSocketDebuggerUrl"])
        time.sleep(0.1)
    raise RuntimeError("chromium has no page target")


def test_web_page_validates_an_uploaded_b_lta_pdf(pki: Any, pki_server: Any, phone_rsa: Any,
                                                  tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    from test_pades import sample_pdf
    from test_validation_reports import decode_png

    signed = sign(sample_pdf(), phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                  SignatureFormat.PADES, SignatureLevel.B_LTA,
                  services=build_services(pki=pki.directory, clock=OffsetClock(SIGN_AT)))
    upload = tmp_path / "contract-signed.pdf"
    upload.write_bytes(signed)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_log = tmp_path / "serve.log"
    profile = tmp_path / "profile"
    browser_log = tmp_path / "chromium.log"
    serve = [str(LTV), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--store", str(tmp_path / "store"), "--pki", str(pki.directory),
             "--public-validation"]
    env = {k: v for k, v in os.environ.items() if k not in ("LTV_PKI", "LTV_TSA_URL")}
    with process(serve, server_log, env) as server:
        _wait_http(f"{base}/healthz", server, server_log)
        browser = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                   "--disable-quic", "--no-first-run", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                   "--force-color-profile=srgb", "--window-size=1200,900",
                   f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
                   "--remote-debugging-port=0", "about:blank"]
        with process(browser, browser_log) as chromium:
            ws_url = _page_ws(_devtools_port(profile, chromium, browser_log))
            with Cdp.open(ws_url) as cdp:
                cdp.send("Emulation.setDeviceMetricsOverride", width=1200, height=900,
                         deviceScaleFactor=1, mobile=False)
                cdp.send("Page.enable")
                cdp.send("Runtime.enable")
                cdp.send("Page.navigate", url=f"{base}/")
                cdp.wait_for("document.readyState === 'complete' && "
                             "!!document.querySelector('#submit') && location.href")
                assert cdp.evaluate("document.title").startswith("ltv")
                root = cdp.send("DOM.getDocument", depth=1)["root"]["nodeId"]
                node = cdp.send("DOM.querySelector", nodeId=root, selector="#file")["nodeId"]
                assert node, "no #file input"
                cdp.send("DOM.setFileInputFiles", files=[str(upload)], nodeId=node)
                assert cdp.evaluate("document.getElementById('file').files[0].name") \
                    == upload.name
                cdp.evaluate(f"document.getElementById('at').value = {json.dumps(CHECK_AT)}")
                cdp.evaluate("document.getElementById('submit').click()")
                verdict = cdp.wait_for(
                    "(() => { const t = document.querySelector('#verdict').textContent;"
                    " return /PASSED|FAILED|INDETERMINATE|error/.test(t) ? t : ''; })()",
                    timeout=120)
                assert verdict == "TOTAL-PASSED", (verdict, server_log.read_text()[-2000:])
                assert cdp.evaluate("document.querySelector('#verdict').className") \
                    == "TOTAL-PASSED"
                report = cdp.evaluate("document.getElementById('report').srcdoc")
                assert "TOTAL-PASSED" in report or "total-passed" in report.lower()
                box = cdp.evaluate("(() => { const r = document.querySelector('#verdict')"
                                   ".getBoundingClientRect(); return [r.left, r.top, r.right,"
                                   " r.bottom].map(Math.round); })()")
                time.sleep(0.3)  # let the iframe paint
                shot = cdp.send("Page.captureScreenshot", format="png")["data"]
    png = tmp_path / "web-page.png"
    png.write_bytes(base64.b64decode(shot))
    width, height, channels, pixels = decode_png(png.read_bytes())
    assert (width, height) == (1200, 900), (width, height)
    left, top, right, bottom = box
    assert right - left > 40, box
    assert bottom - top > 10, box
    inside = [tuple(pixels[(y * width + x) * channels:(y * width + x) * channels + 3])
              for y in range(top, bottom) for x in range(left, right)]
    greens = sum(1 for rgb in inside if rgb == VERDICT_GREEN)
    # the badge is green where the text is not
    assert greens > len(inside) // 2, f"#verdict is not the green TOTAL-PASSED badge in {png}"


def test_docs_page_renders_swagger_ui_from_local_assets(tmp_path: Path) -> None:
    """/docs under its CSP (scripts from this origin only) still renders every operation."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_log = tmp_path / "serve.log"
    profile = tmp_path / "profile"
    browser_log = tmp_path / "chromium.log"
    serve = [str(LTV), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--store", str(tmp_path / "store")]
    env = {k: v for k, v in os.environ.items() if k not in ("LTV_PKI", "LTV_TSA_URL")}
    with process(serve, server_log, env) as server:
        _wait_http(f"{base}/healthz", server, server_log)
        browser = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                   "--disable-quic", "--no-first-run", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync",
                   f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
                   "--remote-debugging-port=0", "about:blank"]
        with process(browser, browser_log) as chromium:
            ws_url = _page_ws(_devtools_port(profile, chromium, browser_log))
            with Cdp.open(ws_url) as cdp:
                cdp.send("Page.enable")
                cdp.send("Runtime.enable")
                cdp.send("Page.navigate", url=f"{base}/docs")
                title = cdp.wait_for("(() => { const t = document.querySelector("
                                     "'.swagger-ui .info .title'); return t ? t.textContent"
                                     " : ''; })()", timeout=60)
                assert title.startswith("ltv"), title
                operations = cdp.wait_for("document.querySelectorAll('.opblock').length")
                assert operations >= 4, operations
                resources = cdp.evaluate("performance.getEntriesByType('resource')"
                                         ".map(e => e.name)")
    assert resources, "the page loaded nothing"
    outside = [r for r in resources if not r.startswith(base + "/")]
    assert not outside, outside
