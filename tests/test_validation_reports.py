"""Validation reports: JSON against its published schema, TS 119 102-2 XML, the HTML timeline,
and ``ltv validate`` on the command line (exit codes, one line per signature)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import PkiServer, ltv_cli
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


# -- a small JSON Schema checker (the subset report.schema.json uses; jsonschema is not a dep) --


def check_schema(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$"
                 ) -> list[str]:
    if "$ref" in schema:
        ref = schema["$ref"].removeprefix("#/$defs/")
        return check_schema(value, root["$defs"][ref], root, path)
    errors: list[str] = []
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: {value!r} != {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    types = schema.get("type")
    if types is not None:
        allowed = types if isinstance(types, list) else [types]
        kinds = {"string": str, "boolean": bool, "object": dict, "array": list,
                 "integer": int, "null": type(None)}
        if not any(isinstance(value, kinds[t]) and not (t == "integer" and isinstance(value, bool))
                   for t in allowed):
            return [*errors, f"{path}: {type(value).__name__} is not {allowed}"]
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, str) and schema.get("format") == "date-time":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            errors.append(f"{path}: {value!r} is not a date-time")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing {key}")
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                errors += check_schema(item, props[key], root, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected {key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += check_schema(item, schema["items"], root, f"{path}[{i}]")
    return errors


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
    assert check_schema(doc, json_schema(), json_schema()) == []
    assert doc["schema"] == "ltv.validation-report/1"
    sig = doc["signatures"][0]
    assert sig["indication"] == "TOTAL-PASSED"
    assert sig["indication_uri"] == "urn:etsi:019102:mainindication:total-passed"
    assert sig["signer"]["key_kind"] == "smartphone"
    assert {t["kind"] for t in sig["timestamps"]} == {"signature", "archive"}
    assert json.loads(json.dumps(doc)) == doc


def test_schema_checker_catches_problems(report: ValidationReport) -> None:
    doc = to_json(report)
    doc["signatures"][0]["indication"] = "MAYBE"
    del doc["signatures"][0]["signer"]
    problems = check_schema(doc, json_schema(), json_schema())
    assert any("MAYBE" in p for p in problems)
    assert any("signer" in p for p in problems)


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
    assert check_schema(doc, json_schema(), json_schema()) == []
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
