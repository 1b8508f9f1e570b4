"""Headless Chromium for page tests: a browser in a language, console errors, axe-core, PNGs.

    with browser(tmp_path, lang="ja") as page:
        page.goto(f"{base}/console")
        assert page.console_errors() == []
        assert page.axe_violations() == []          # serious and critical only
        page.screenshot(tmp_path / "console-ja.png")

The browser sends ``Accept-Language`` for ``lang`` (``--lang`` and the network header, so the
server's negotiation is what is tested). axe-core comes from npm (tests/js/web, installed by
``make setup``) and is injected over DevTools, which page CSP does not restrict.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from test_server_web import CHROMIUM, Cdp, _devtools_port, _page_ws, process

AXE = Path(__file__).parent / "js" / "web" / "node_modules" / "axe-core" / "axe.min.js"
ACCEPT = {"ja": "ja-JP,ja;q=0.9", "en": "en-US,en;q=0.9"}


class Page(Cdp):
    """A :class:`Cdp` that keeps console errors and uncaught exceptions as they arrive."""

    def __init__(self, ws: Any) -> None:
        super().__init__(ws)
        self.events: list[dict[str, Any]] = []
        self.log = Path()  # Chromium's own output (set by browser())

    def on_event(self, message: dict[str, Any]) -> None:
        if "method" in message:
            self.events.append(message)

    def goto(self, url: str, ready: str = "true", timeout: float = 60) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for(f"document.readyState === 'complete' && ({ready})", timeout=timeout)

    def console_errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads seen so far (drains nothing)."""
        self.evaluate("1")  # collect events that arrived since the last call
        found: list[str] = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append(str(details.get("exception", {}).get("description")
                                 or details.get("text")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(" ".join(str(a.get("value", a.get("description", "")))
                                      for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(str(params["entry"].get("text")))
        return found

    def axe_violations(self, impacts: tuple[str, ...] = ("serious", "critical")
                       ) -> list[dict[str, Any]]:
        """axe-core's violations of the given impacts on the current page (id, impact, nodes)."""
        if not AXE.is_file():
            raise RuntimeError(f"{AXE} is missing: run make setup (npm ci in tests/js/web)")
        self.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
        result = self.evaluate(
            "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v =>"
            " ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))")
        return [v for v in result if v.get("impact") in impacts]

    def screenshot(self, path: Path, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            metrics = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": metrics["width"],
                              "height": metrics["height"], "scale": 1}
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", **params)["data"]))
        return path


@contextlib.contextmanager
def browser(tmp_path: Path, lang: str = "en", width: int = 1200, height: int = 900,
            mobile: bool = False) -> Iterator[Page]:
    """Headless Chromium speaking ``lang``, one page, DevTools domains enabled."""
    profile = tmp_path / f"profile-{lang}-{width}"
    log = tmp_path / f"chromium-{lang}-{width}.log"
    args = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", "--force-color-profile=srgb",
            f"--lang={'ja-JP' if lang == 'ja' else 'en-US'}", f"--window-size={width},{height}",
            f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0", "about:blank"]
    with process(args, log) as chromium:
        ws_url = _page_ws(_devtools_port(profile, chromium, log))
        with Page.open(ws_url) as page:
            assert isinstance(page, Page)
            page.log = log
            page.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                      deviceScaleFactor=1, mobile=mobile)
            for domain in ("Page", "Runtime", "Log", "Network"):
                page.send(f"{domain}.enable")
            # headless Chromium ignores --lang: the override sets navigator.language(s) and the
            # Accept-Language header of every request
            agent = page.send("Browser.getVersion")["userAgent"]
            page.send("Network.setUserAgentOverride", userAgent=agent,
                      acceptLanguage=ACCEPT[lang])
            page.send("Emulation.setLocaleOverride", locale="ja-JP" if lang == "ja" else "en-US")
            yield page
