"""ltv.xmlsafe: hostile XML is refused with a clear MalformedError, never expanded or fetched."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltv.errors import MalformedError
from ltv.formats.xades import verify_xades_core
from ltv.xmlsafe import XmlLimits, parse_xml

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol9;</lolz>"""


def _xxe(path: Path) -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{path}">]>'
            "<r>&x;</r>").encode()


class _Recorder(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'<!ENTITY x "PWNED">')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def dtd_server() -> object:
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.hits = []
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(MalformedError, match="DOCTYPE"):
        parse_xml(BILLION_LAUGHS)


def test_xxe_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    with pytest.raises(MalformedError, match="DOCTYPE") as info:
        parse_xml(_xxe(secret))
    assert "TOP SECRET" not in str(info.value)


def test_external_dtd_is_refused_without_fetching(dtd_server: HTTPServer) -> None:
    port = dtd_server.server_address[1]
    for doc in (
        f'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:{port}/x.dtd"><r>&x;</r>',
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p">%p;]>'
        "<r/>",
        f'<?xml version="1.0"?><!DOCTYPE r PUBLIC "-//X//Y" "http://127.0.0.1:{port}/y.dtd"><r/>',
    ):
        with pytest.raises(MalformedError, match="DOCTYPE"):
            parse_xml(doc.encode())
    assert _Recorder.hits == []


def test_doctype_in_utf16_is_refused() -> None:
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'
    with pytest.raises(MalformedError, match="DOCTYPE"):
        parse_xml(doc.encode("utf-16"))


def test_undefined_entity_and_broken_xml() -> None:
    with pytest.raises(MalformedError, match="not well-formed"):
        parse_xml(b"<r>&x;</r>")
    with pytest.raises(MalformedError, match="not well-formed"):
        parse_xml(b"<r><a></r>")
    with pytest.raises(MalformedError, match="empty"):
        parse_xml(b"  \n")


def test_limits() -> None:
    with pytest.raises(MalformedError, match="deeper"):
        parse_xml(b"<a>" * 150 + b"</a>" * 150, limits=XmlLimits(max_depth=100))
    with pytest.raises(MalformedError, match="limit"):
        parse_xml(b"<a>" + b"x" * 2000 + b"</a>", limits=XmlLimits(max_bytes=1000))
    with pytest.raises(MalformedError, match="elements"):
        parse_xml(b"<a>" + b"<b/>" * 50 + b"</a>", limits=XmlLimits(max_elements=10))
    with pytest.raises(MalformedError):
        parse_xml(b"<a>" * 300 + b"</a>" * 300)  # libxml2's own depth limit


def test_japanese_xml_parses_with_whitespace_kept() -> None:
    doc = '<?xml version="1.0" encoding="Shift_JIS"?>\n<契約書>\n  <本文>甲と乙</本文>\n</契約書>'
    tree = parse_xml(doc.encode("shift_jis"))
    assert tree.getroot().tag == "契約書"
    assert tree.getroot().text == "\n  "
    assert tree.getroot()[0].text == "甲と乙"


def test_hostile_signatures_are_refused_by_the_verifier(tmp_path: Path) -> None:
    for doc in (BILLION_LAUGHS, _xxe(tmp_path / "x")):
        with pytest.raises(MalformedError, match="DOCTYPE"):
            verify_xades_core(doc)
    with pytest.raises(MalformedError, match="no XAdES signature"):
        verify_xades_core(b"<r/>")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_in_gives_malformed_never_a_crash(data: bytes) -> None:
    with contextlib.suppress(MalformedError):
        parse_xml(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_signature_gives_an_input_error(data: bytes) -> None:
    with pytest.raises(MalformedError, match=r"not well-formed|no XAdES signature"):
        verify_xades_core(b"<r>" + data.replace(b"<", b"") + b"</r>")
