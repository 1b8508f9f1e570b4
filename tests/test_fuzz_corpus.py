"""Every crash the fuzz bench found (bench/bench_fuzz.py), replayed: a clean refusal now.

tests/fuzz_corpus/ holds one input per (target, exception type, innermost frame) that once
escaped as a raw exception; the extension names the entry point it went through, and a
``.json`` sidecar (when the bench wrote one) the validation time, trust anchor and OCSP/CRL
issuer of the run that found it, so the replay takes the same path. Each must now end in one
of our errors or a report that does not pass, never a raw exception.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import SERVER_AT
from cryptography import x509

from ltv.clock import FixedClock, parse_time
from ltv.errors import LtvError
from ltv.revocation import parse_crl, parse_ocsp_response
from ltv.timestamps import parse_token
from ltv.validation import Indication, ValidationPolicy, validate
from samples.phone import Phone
from samples.pki import SamplePki

CORPUS = Path(__file__).parent / "fuzz_corpus"
FILES = sorted(p for p in CORPUS.iterdir() if p.is_file() and p.suffix not in (".md", ".json"))
AT = SERVER_AT + timedelta(hours=2)


def test_corpus_is_not_empty() -> None:
    assert FILES, "the fuzz corpus lost its files"
    assert {p.suffix for p in FILES} <= {".p7s", ".tst", ".ocsp", ".crl", ".xml", ".pdf", ".tsq"}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_replayed_input_is_refused_cleanly(path: Path, pki: SamplePki, phone_rsa: Phone,
                                           caplog: pytest.LogCaptureFixture) -> None:
    data = path.read_bytes()
    ca, certificate, root, at = phone_rsa.chain[0], phone_rsa.certificate, pki.root, AT
    sidecar = path.with_name(path.name + ".json")
    if sidecar.exists():
        context = json.loads(sidecar.read_text("utf-8"))
        at = parse_time(context["at"])
        root = x509.load_pem_x509_certificate(context["trust"].encode())
        ca = x509.load_pem_x509_certificate(context["issuer"].encode())
        certificate = x509.load_pem_x509_certificate(context["certificate"].encode())
    if path.suffix in (".p7s", ".xml", ".pdf", ".tst"):
        if path.suffix == ".tst":
            with pytest.raises(LtvError):
                parse_token(data)
        try:
            report = validate(data, policy=ValidationPolicy.default(trust_anchors=[root]),
                              at=at, offline=True)
        except LtvError:
            return
        assert report.signatures
        assert all(s.indication is not Indication.TOTAL_PASSED for s in report.signatures)
    elif path.suffix == ".crl":
        with pytest.raises(LtvError):
            parse_crl(data, issuer=ca)
    elif path.suffix == ".ocsp":
        with pytest.raises(LtvError):
            parse_ocsp_response(data, certificate=certificate, issuer=ca)
    else:  # .tsq: the TSA answers (a rejection or a token) and logs no exception
        from tsa.authority import TimeStampAuthority
        from tsa.serials import MemorySerialSource

        authority = TimeStampAuthority(pki.tsa_identity(at=AT), serials=MemorySerialSource(),
                                       clock=FixedClock(AT))
        with caplog.at_level(logging.ERROR, logger="tsa"):
            answer = authority.respond(data)
        assert answer[:1] == b"\x30"
        assert not [r for r in caplog.records if r.name.startswith("tsa")]
