"""`make demo` must keep working: run `ltv demo` end to end and check what it tells."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_runs_and_narrates(tmp_path: Path) -> None:
    ltv = Path(sys.executable).with_name("ltv")
    proc = subprocess.run([str(ltv), "demo", "--dir", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=600, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for expected in ("Verification: OK", "Certificate is Trusted", "CMS Verification successful",
                     "phone/cert.pem: revoked", "Reason: superseded", "PASSED: contract-api.pdf",
                     "renewed 3 by timestamp", "3 by hash tree", "bytes proven",
                     "evidence-record.ers", "PASSED: contract-remote.pdf",
                     "remote (server-held key, FIDO-authorised) key of", "Done.",
                     "(RSA-2048 sunset 2036-01-01; TSA certificate expires",
                     "CN=LTV Sample TSA 3,O=LTV Sample PKI,C=JP PASSED"):
        assert expected in out, expected
    assert "FAILED:" not in out
    assert out.count("evidence record: 3 archive timestamps") >= 3  # year 12, all three formats
    assert "INDETERMINATE:" not in out
    assert "Traceback" not in out
