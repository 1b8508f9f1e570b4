"""Regenerate the sample contracts in this directory (deterministic output; run from anywhere).

``python -m samples.contracts.make_contracts`` writes:

* ``contract.pdf``: a one-page PDF 1.7 with the Japanese contract text, written by the tiny
  writer below. Japanese uses the non-embedded CJK font HeiseiMin-W3 with UniJIS-UCS2-H (every
  PDF viewer substitutes a Mincho face), so the file stays small and needs no font file.
* ``contract.xml``: the same contract as UTF-8 XML (for XAdES enveloped/enveloping signing).
* ``contract.txt``: the same text as UTF-8 (for CAdES, detached or attached).
* ``contract.bin``: the text gzip-compressed (mtime 0): an opaque binary document for CAdES.
"""

from __future__ import annotations

import gzip
from pathlib import Path

HERE = Path(__file__).parent

TITLE = "業務委託契約書"
PARTIES = ("甲: 株式会社サンプル商事", "乙: 署名 太郎")
CLAUSES = (
    "第1条 (目的) 甲は乙に対し、ソフトウェア開発業務を委託し、乙はこれを受託する。",
    "第2条 (期間) 本契約の期間は、2026年1月1日から2026年12月31日までとする。",
    "第3条 (報酬) 甲は乙に対し、委託料として金1,000,000円(税別)を支払う。",
    "第4条 (秘密保持) 甲および乙は、本契約に関して知り得た相手方の秘密を第三者に開示しない。",
    "本契約の成立を証するため、電子署名により本書を作成し、各自その電磁的記録を保管する。",
)
DATE = "2026年1月2日"


def contract_lines() -> list[str]:
    return [TITLE, "", *PARTIES, "", *CLAUSES, "", DATE]


def _utf16(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def make_pdf() -> bytes:
    """A minimal, valid PDF: catalog, one page, one content stream, one CJK font."""
    y = 780
    ops = ["BT"]
    for i, line in enumerate(contract_lines()):
        size = 18 if i == 0 else 10.5
        if line:
            ops.append(f"/F1 {size} Tf 1 0 0 1 {72 if i else 220} {y} Tm <{_utf16(line)}> Tj")
        y -= 28 if i == 0 else 20
    ops.append("ET")
    content = "\n".join(ops).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /HeiseiMin-W3 /Encoding /UniJIS-UCS2-H "
        b"/DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /HeiseiMin-W3 "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement 2 >> "
        b"/FontDescriptor 7 0 R /DW 1000 >>",
        b"<< /Type /FontDescriptor /FontName /HeiseiMin-W3 /Flags 6 "
        b"/FontBBox [-123 -257 1001 910] /ItalicAngle 0 /Ascent 723 /Descent -241 "
        b"/CapHeight 709 /StemV 69 >>",
        b"<< /Title <FEFF" + _utf16(TITLE).encode() + b"> /Producer (ltv samples) >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    doc_id = b"<4C5456206B656979616B7573686F3031>"
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Info 8 0 R /ID [%s %s] >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, doc_id, doc_id, xref))
    return bytes(out)


def make_xml() -> bytes:
    clauses = "\n".join(f"    <条項 番号=\"{i}\">{c}</条項>" for i, c in enumerate(CLAUSES, 1))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<契約書 xmlns="urn:example:ltv:contract" 日付="2026-01-02">\n'
        f"  <表題>{TITLE}</表題>\n"
        f"  <当事者 区分=\"甲\">{PARTIES[0][3:]}</当事者>\n"
        f"  <当事者 区分=\"乙\">{PARTIES[1][3:]}</当事者>\n"
        f"  <本文>\n{clauses}\n  </本文>\n"
        "</契約書>\n"
    ).encode()


def make_txt() -> bytes:
    return ("\n".join(contract_lines()) + "\n").encode("utf-8")


def make_bin() -> bytes:
    return gzip.compress(make_txt(), compresslevel=9, mtime=0)


def main() -> None:
    (HERE / "contract.pdf").write_bytes(make_pdf())
    (HERE / "contract.xml").write_bytes(make_xml())
    (HERE / "contract.txt").write_bytes(make_txt())
    (HERE / "contract.bin").write_bytes(make_bin())


if __name__ == "__main__":
    main()
