"""The optional visible signature stamp of a PAdES signature, in Japanese.

The stamp shows the signer's name, taken from the JPKI holder-name otherName of the certificate's
subjectAltName (:data:`ltv.jpki.HOLDER_OIDS` ``name``; the subject CN when absent), the claimed
signing time (the same instant as the signature dictionary's ``/M``, EN 319 142-1 §5.2.1) in
Japan time, and the optional reason and location. Text is set with the Noto Sans CJK JP face of
Debian's ``fonts-noto-cjk`` (a collection, ``.ttc``: the JP face is extracted once to a cache
file, since pyHanko's font engine takes a single OpenType font).
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cryptography import x509

from ltv.errors import ConfigurationError
from ltv.jpki import HOLDER_OIDS

__all__ = ["CJK_FONT", "Stamp", "holder_name", "stamp_for"]

#: The CJK font collection from Debian's ``fonts-noto-cjk``; ``LTV_CJK_FONT`` overrides it.
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")

_JST = timezone(timedelta(hours=9), "JST")
_WIDTH, _HEIGHT, _MARGIN = 260, 84, 36

_STAMP_TEXT = "電子署名\n署名者: %(holder)s\n日時: %(when)s"

_lock = threading.Lock()
_font_cache: dict[Path, Path] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Stamp:
    """What pyHanko needs for a visible signature: style, field box and text parameters."""

    style: Any  # pyhanko.stamp.TextStampStyle
    box: tuple[int, int, int, int]
    text_params: dict[str, str]


def holder_name(certificate: x509.Certificate) -> str:
    """The holder name of a JPKI-like certificate (SAN otherName), else the subject CN."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        for other in san.get_values_for_type(x509.OtherName):
            if other.type_id.dotted_string == HOLDER_OIDS["name"]:
                text = _der_string(other.value)
                if text:
                    return text
    cns = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if cns:
        value = cns[0].value
        return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return certificate.subject.rfc4514_string()


def _der_string(der: bytes) -> str | None:
    """Decode a DER UTF8String / PrintableString / BMPString (the otherName value)."""
    if len(der) < 2:
        return None
    tag, length, offset = der[0], der[1], 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(der[2 : 2 + count], "big")
        offset += count
    body = der[offset : offset + length]
    if tag == 0xA0:  # an explicit [0] wrapper around the string
        return _der_string(body)
    try:
        if tag == 0x0C:
            return body.decode("utf-8")
        if tag in (0x13, 0x16):
            return body.decode("ascii")
        if tag == 0x1E:
            return body.decode("utf-16-be")
    except UnicodeDecodeError:
        return None
    return None


def _font_file() -> Path:
    """A single-face OpenType file for the JP face of the Noto CJK collection (cached)."""
    source = Path(os.environ.get("LTV_CJK_FONT", str(CJK_FONT)))
    with _lock:
        cached = _font_cache.get(source)
        if cached is not None and cached.exists():
            return cached
        if not source.exists():
            raise ConfigurationError(
                f"the CJK font {source} for visible stamps is missing; "
                "install Debian's fonts-noto-cjk (or set LTV_CJK_FONT)"
            )
        if source.suffix.lower() not in (".ttc", ".otc"):
            _font_cache[source] = source
            return source
        stat = source.stat()
        target = Path(tempfile.gettempdir()) / "ltv-fonts" / (
            f"{source.stem}-JP-{stat.st_size}-{int(stat.st_mtime)}.otf"
        )
        if not target.exists():
            _extract_jp_face(source, target)
        _font_cache[source] = target
        return target


def _extract_jp_face(source: Path, target: Path) -> None:
    from fontTools.ttLib import TTCollection

    try:
        collection = TTCollection(str(source), lazy=True)
        chosen = collection.fonts[0]
        for font in collection.fonts:
            family = font["name"].getDebugName(1) or ""
            if family.endswith(" JP"):
                chosen = font
                break
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.part")
        chosen.save(str(partial))
        partial.replace(target)
    except Exception as exc:  # fontTools raises many kinds
        raise ConfigurationError(f"cannot read the CJK font {source}: {exc}") from exc


def stamp_for(
    certificate: x509.Certificate,
    *,
    signing_time: datetime,
    reason: str | None,
    location: str | None,
    index: int,
) -> Stamp:
    """A stamp for the ``index``-th signature of a document (stacked upwards on page 1)."""
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.stamp import TextStampStyle

    text = _STAMP_TEXT
    params = {
        "holder": holder_name(certificate),
        "when": signing_time.astimezone(_JST).strftime("%Y年%m月%d日 %H:%M:%S JST"),
    }
    if reason:
        text += "\n理由: %(reason)s"
        params["reason"] = reason
    if location:
        text += "\n場所: %(location)s"
        params["location"] = location
    style = TextStampStyle(
        stamp_text=text,
        text_box_style=TextBoxStyle(
            font=GlyphAccumulatorFactory(str(_font_file()), font_size=9, bcp47_lang_code="ja")
        ),
        border_width=1,
        background=None,
    )
    y = _MARGIN + index * (_HEIGHT + 8)
    return Stamp(style=style, box=(_MARGIN, y, _MARGIN + _WIDTH, y + _HEIGHT),
                 text_params=params)
