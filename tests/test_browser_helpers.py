"""The page-test helpers themselves: axe-core finds a real violation, console errors are seen."""

from __future__ import annotations

import base64

import pytest
from browser_helpers import browser
from test_server_web import CHROMIUM

BAD_PAGE = ("<!doctype html><html><head><title>t</title></head><body>"
            "<img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='>"
            "<script>console.error('boom')</script></body></html>")


def test_axe_and_console_errors_are_seen(tmp_path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    url = "data:text/html;base64," + base64.b64encode(BAD_PAGE.encode()).decode()
    with browser(tmp_path, lang="ja") as page:
        page.goto(url)
        assert page.evaluate("navigator.language") == "ja-JP"
        ids = {v["id"] for v in page.axe_violations(("minor", "moderate", "serious",
                                                     "critical"))}
        assert "image-alt" in ids  # an <img> without alt text
        assert "html-has-lang" in ids
        assert any("boom" in line for line in page.console_errors())
        shot = page.screenshot(tmp_path / "bad.png")
        assert shot.read_bytes().startswith(b"\x89PNG")
