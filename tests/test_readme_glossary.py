"""README's glossary (under "## 日本語 / Japanese") is the catalog's, term for term."""

from __future__ import annotations

import re
from pathlib import Path

from ltv.i18n.terms import GLOSSARY, term

README = Path(__file__).resolve().parents[1] / "README.md"


def _glossary_rows() -> list[tuple[str, str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## 日本語 / Japanese\n", 1)[1].split("\n## ", 1)[0]
    table = section.split("\n### 用語集 / Glossary\n", 1)[1]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and not re.fullmatch(r"-+", cells[0]):
            rows.append((cells[0], cells[1], cells[2]))
    return rows[1:]  # below the header row


def test_readme_glossary_equals_the_catalog() -> None:
    assert _glossary_rows() == [(english, term(english, "ja"), where)
                                for english, where in GLOSSARY.items()]


def test_japanese_section_follows_the_walkthrough() -> None:
    headings = re.findall(r"^## (.+)$", README.read_text(encoding="utf-8"), re.M)
    assert headings[headings.index("Walkthrough") + 1] == "日本語 / Japanese"
    assert "![" in README.read_text(encoding="utf-8").split("### レポート / Report", 1)[1] \
        .split("### 用語集", 1)[0]
    assert (README.parent / "docs" / "img" / "report-ja.png").is_file()
