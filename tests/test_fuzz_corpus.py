"""Every crash the fuzz bench found (bench/bench_fuzz.py), replayed: a clean refusal now.

tests/fuzz_corpus/ holds one input per (target, exception type, innermost frame) that once
escaped as a raw exception; the extension names the entry point it went through. Each must now
end in one of our errors or a report that does not pass, never a raw exception.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import SERVER_AT

from ltv.clock import FixedClock
from ltv.errors import LtvError
from ltv.revocation import parse_crl, parse_ocsp_response
from ltv.timestamps import parse_token
from ltv.validation import Indication, ValidationPolicy, validate
from samples.phone import Phone
from samples.pki import SamplePki

CORPUS = Path(__file__).parent / "fuzz_corpus"
FILES = sorted(p for p in CORPUS.iterdir() if p.is_file() and p.suffix != ".md")
AT = SERVER_AT + timedelta(hours=2)


def test_corpus_is_not_empty() -> None:
    assert FILES, "the fuzz corpus lost its files"
    assert {p.suffix for p in FILES} <= {".p7s", ".tst", ".ocsp", ".crl", ".xml", ".pdf", ".tsq"}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_replayed_input_is_refused_cleanly(path: Path, pki: SamplePki, phone_rsa: Phone,
                                           caplog: pytest.LogCaptureFixture) -> None:
    data = path.read_bytes()
    ca = phone_rsa.chain[0]
    if path.suffix in (".p7s", ".xml", ".pdf", ".tst"):
        if path.suffix == ".tst":
            with pytest.raises(LtvError):
                parse_token(data)
        try:
            report = validate(data, policy=ValidationPolicy.default(trust_anchors=[pki.root]),
                              at=AT, offline=True)
        except LtvError:
            return
        assert report.signatures
        assert all(s.indication is not Indication.TOTAL_PASSED for s in report.signatures)
    elif path.suffix == ".crl":
        with pytest.raises(LtvError):
            parse_crl(data, issuer=ca)
    elif path.suffix == ".ocsp":
        with pytest.raises(LtvError):
            parse_ocsp_response(data, certificate=phone_rsa.certificate, issuer=ca)
    else:  # .tsq: the TSA answers (a rejection or a token) and logs no exception
        from tsa.authority import TimeStampAuthority
        from tsa.serials import MemorySerialSource

        authority = TimeStampAuthority(pki.tsa_identity(at=AT), serials=MemorySerialSource(),
                                       clock=FixedClock(AT))
        with caplog.at_level(logging.ERROR, logger="tsa"):
            answer = authority.respond(data)
        assert answer[:1] == b"\x30"
        assert not [r for r in caplog.records if r.name.startswith("tsa")]
