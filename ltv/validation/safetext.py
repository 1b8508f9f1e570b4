"""Text from certificates and messages, made safe for every report format.

Subjects, issuers and library messages are attacker-chosen: a name may hold C0/C1 control
characters (``CN=evil\\x01signer``), lone surrogates from a BMPString, or U+FFFE. XML 1.0 cannot
carry them at all (lxml refuses), UTF-8 cannot encode surrogates, and HTML treats controls as
parse errors. :func:`printable` shows each such character as a visible escape (``\\x01``,
``\\ud800``), the same in the JSON, XML and HTML reports, so the three stay comparable.
"""

from __future__ import annotations

import re

__all__ = ["printable"]

# C0 controls except tab/newline/carriage return, DEL and C1, surrogates, U+FFFE/U+FFFF.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every character XML 1.0 or UTF-8 cannot carry shown as an escape."""
    return _UNSAFE.sub(_escape, text)
