"""Validation reports: JSON against its published schema, TS 119 102-2 XML, the HTML timeline,
and ``ltv validate`` on the command line (exit codes, one line per signature)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import PkiServer, ltv_cli
from jsonschema import Draft202012Validator
from lxml import etree  # type: ignore[import-untyped,unused-ignore]
from test_validation_cades import CONTRACT, SIGNED_AT, _services

from ltv.clock import format_time
from ltv.signing import SignatureFormat, SignatureLevel, sign
from ltv.validation import Indication, ValidationPolicy, ValidationReport, validate
from ltv.validation.report_html import to_html
from ltv.validation.report_json import json_schema, to_json
from ltv.validation.report_xml import NS, to_xml
from samples.phone import Phone
from samples.pki import SamplePki

AT = SIGNED_AT + timedelta(minutes=10)


# -- the JSON Schema, checked by the jsonschema package (draft 2020-12) ----------------------


def schema_errors(doc: Any) -> list[str]:
    """Every violation of report.schema.json, as "path: message" lines (empty: valid)."""
    validator = Draft202012Validator(json_schema(),
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{error.json_path}: {error.message}"
            for error in sorted(validator.iter_errors(doc), key=lambda e: e.json_path)]


def test_published_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(json_schema())


@pytest.fixture(scope="module")
def signed_lta(pki: SamplePki, pki_server: PkiServer, phone_rsa: Phone) -> bytes:
    return sign(CONTRACT, phone_rsa, [phone_rsa.certificate, *phone_rsa.chain],
                SignatureFormat.CADES, SignatureLevel.B_LTA, services=_services(pki, SIGNED_AT))


@pytest.fixture(scope="module")
def report(signed_lta: bytes, pki: SamplePki) -> ValidationReport:
    return validate(signed_lta, policy=ValidationPolicy.default(trust_anchors=[pki.root]),
                    at=AT, offline=True)


def test_json_report_matches_schema(report: ValidationReport) -> None:
    doc = to_json(report)
    assert schema_errors(doc) == []
    assert doc["schema"] == "ltv.validation-report/1"
    sig = doc["signatures"][0]
    assert sig["indication"] == "TOTAL-PASSED"
    assert sig["indication_uri"] == "urn:etsi:019102:mainindication:total-passed"
    assert sig["signer"]["key_kind"] == "smartphone"
    assert {t["kind"] for t in sig["timestamps"]} == {"signature", "archive"}
    assert json.loads(json.dumps(doc)) == doc


def test_schema_catches_problems(report: ValidationReport) -> None:
    doc = to_json(report)
    doc["signatures"][0]["indication"] = "MAYBE"
    del doc["signatures"][0]["signer"]
    problems = schema_errors(doc)
    assert any("MAYBE" in p for p in problems), problems
    assert any("signer" in p for p in problems), problems


def test_xml_report_is_ts_119_102_2(report: ValidationReport) -> None:
    root = etree.fromstring(to_xml(report).encode())
    ns = {"v": NS}
    assert root.tag == f"{{{NS}}}ValidationReport"
    status = root.find("v:SignatureValidationReport/v:SignatureValidationStatus", ns)
    assert status is not None
    assert status.findtext("v:MainIndication", namespaces=ns) == Indication.TOTAL_PASSED.value
    best = root.findtext("v:SignatureValidationReport/v:ValidationTimeInfo/"
                         "v:BestSignatureTime/v:POETime", namespaces=ns)
    assert best is not None
    assert best.endswith("Z")
    objects = root.findall("v:SignatureValidationObjects/v:ValidationObject", ns)
    types = {o.findtext("v:ObjectType", namespaces=ns) for o in objects}
    assert "urn:etsi:019102:validationObject:certificate" in types
    assert "urn:etsi:019102:validationObject:timestamp" in types
    ids = {o.get("id") for o in objects}
    for ref in root.iter(f"{{{NS}}}SignerCertificate", f"{{{NS}}}POEObject"):
        assert ref.get("VOReference") in ids


def test_html_report_has_timeline(report: ValidationReport) -> None:
    page = to_html(report, title="contract.p7s")
    assert page.startswith("<!DOCTYPE html>")
    assert "TOTAL-PASSED" in page
    for banned in ("<script", "http://", "https://", "<link", "@import", "url("):
        assert banned not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    root = etree.fromstring(page.split("\n", 1)[1].encode(), etree.HTMLParser())
    svg = root.find(".//svg")
    assert svg is not None
    bars = svg.findall(".//rect[@class='validity']")
    assert {b.get("data-role") for b in bars} >= {"signer", "tsa"}
    labels = [g.get("data-label") for g in svg.findall(".//g[@class='marker']")]
    assert "validation time" in labels
    assert "best signature time" in labels
    assert any(label and "time-stamp" in label for label in labels)
    assert "carried the verdict" in page


# -- the HTML report as Chromium draws it ---------------------------------------------------------


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """A small PNG decoder (8-bit RGB/RGBA, not interlaced): ``(width, height, channels,
    pixels)``, the pixel rows unfiltered (PNG spec §9: None, Sub, Up, Average, Paeth)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    width = height = channels = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, interlace) == (8, 0), (depth, interlace)
            assert color in (2, 6), color
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    out = bytearray()
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = prev[i]
                c = prev[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        else:
            assert kind == 0, f"unknown PNG filter {kind}"
        out += line
        prev = line
    return width, height, channels, bytes(out)


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and shutil.which("apt-get") is not None:
        subprocess.run(["apt-get", "install", "-y", "chromium"], capture_output=True,
                       check=False, timeout=600)
        found = shutil.which("chromium")
    return found


def test_html_timeline_drawn_by_headless_chromium(report: ValidationReport,
                                                  tmp_path: Path) -> None:
    from ltv.validation.report_html import _ROLE_COLORS

    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium is not installed and apt-get could not install it")
    page = tmp_path / "report.html"
    page.write_text(to_html(report, title="contract.p7s"), encoding="utf-8")
    png = tmp_path / "report.png"
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--hide-scrollbars", "--force-color-profile=srgb",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
         "--window-size=1200,900", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert png.is_file(), (done.returncode, done.stderr[-2000:])
    width, height, channels, pixels = decode_png(png.read_bytes())
    assert (width, height) == (1200, 900)

    def at(x: int, y: int) -> tuple[int, int, int]:
        i = (y * width + x) * channels
        return pixels[i], pixels[i + 1], pixels[i + 2]

    # The timeline region: the bounding box of the SVG's background colour (#fcfcfd).
    background = _rgb("#fcfcfd")
    box = [(x, y) for y in range(0, height, 2) for x in range(0, width, 4)
           if at(x, y) == background]
    assert box, "no timeline background in the screenshot"
    x0, x1 = min(x for x, _ in box), max(x for x, _ in box)
    y0, y1 = min(y for _, y in box), max(y for _, y in box)
    assert x1 - x0 > 600, (x0, x1)
    assert y1 - y0 > 60, (y0, y1)
    seen = {at(x, y) for y in range(y0, y1 + 1) for x in range(x0, x1 + 1)}
    roles = {c.role for c in report.signatures[0].certificates}
    assert {"signer", "tsa"} <= roles
    for role in ("signer", "tsa"):
        assert _rgb(_ROLE_COLORS[role]) in seen, f"no {role} validity bar drawn"
    # and nowhere above the timeline (it is the timeline that carries them)
    above = {at(x, y) for y in range(0, y0, 2) for x in range(0, width, 2)}
    assert _rgb(_ROLE_COLORS["signer"]) not in above


# -- the command line ---------------------------------------------------------------------------


def test_cli_passed_and_reports(signed_lta: bytes, pki: SamplePki, tmp_path: Path) -> None:
    file = tmp_path / "contract.p7s"
    file.write_bytes(signed_lta)
    out = tmp_path / "r"
    result = ltv_cli("validate", file, "--at", format_time(AT), "--trust", pki.directory /
                     "root.pem", "--offline", "--json", f"{out}.json", "--xml", f"{out}.xml",
                     "--html", f"{out}.html")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"PASSED: {file} (B-LTA"), lines
    doc = json.loads(Path(f"{out}.json").read_text())
    assert schema_errors(doc) == []
    etree.fromstring(Path(f"{out}.xml").read_bytes())
    assert "<svg" in Path(f"{out}.html").read_text()


def test_cli_exit_codes_and_worst(signed_lta: bytes, pki: SamplePki, tmp_path: Path) -> None:
    good = tmp_path / "good.p7s"
    good.write_bytes(signed_lta)
    pos = signed_lta.index(CONTRACT[:16])
    bad = tmp_path / "bad.p7s"
    bad.write_bytes(signed_lta[:pos] + b"X" + signed_lta[pos + 1:])
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"not a signature at all")
    common = ["--at", format_time(AT), "--offline", "--trust", str(pki.directory / "root.pem")]
    failed = ltv_cli("validate", good, bad, *common)
    assert failed.returncode == 1, failed.stderr
    assert [ln.split(":")[0] for ln in failed.stdout.splitlines()] == ["PASSED", "FAILED"]
    assert "HASH_FAILURE" in failed.stdout
    no_trust = ltv_cli("validate", good, "--at", format_time(AT), "--offline",
                       env={"LTV_TRUST": ""})
    assert no_trust.returncode == 3
    assert no_trust.stdout.startswith(f"INDETERMINATE: {good} NO_CERTIFICATE_CHAIN_FOUND")
    env_trust = ltv_cli("validate", good, "--at", format_time(AT), "--offline",
                        env={"LTV_TRUST": str(pki.directory / "root.pem")})
    assert env_trust.returncode == 0, env_trust.stdout
    worst = ltv_cli("validate", good, garbage, *common)
    assert worst.returncode == 4
    assert worst.stderr.count("\n") == 1
    assert "garbage.bin" in worst.stderr
    assert "Traceback" not in worst.stderr
    refused = ltv_cli("validate", good, *common, "--refuse-key-kind", "smartphone")
    assert refused.returncode == 3
    assert "CHAIN_CONSTRAINTS_FAILURE" in refused.stdout
    as_json = ltv_cli("validate", good, *common, "--format", "json")
    assert json.loads(as_json.stdout)["indication"] == "TOTAL-PASSED"
    usage = ltv_cli("validate", good, "--at", "yesterday")
    assert usage.returncode == 2
