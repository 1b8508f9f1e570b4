"""The catalogs hold every marked message in both languages; language negotiation."""

from __future__ import annotations

import pytest

from ltv.i18n import gettext, negotiate, parse_accept_language, use_language
from ltv.i18n.catalogs import check, extract
from ltv.i18n.terms import GLOSSARY, term


def test_every_message_exists_in_both_languages() -> None:
    assert check() == []


def test_check_names_a_message_with_no_japanese(tmp_path, monkeypatch) -> None:
    import ltv.i18n.catalogs as catalogs

    source = tmp_path / "ltv" / "cli" / "new.py"
    source.parent.mkdir(parents=True)
    source.write_text('from ltv.i18n import gettext as _\n_("a message only English has")\n')
    monkeypatch.setattr(catalogs, "ROOT", tmp_path)
    assert "a message only English has" in extract("cli")
    problems = check()
    assert "ja/cli: no translation for 'a message only English has' (ltv/cli/new.py:2)" in problems
    assert "en/cli: no translation for 'a message only English has' (ltv/cli/new.py:2)" in problems


def test_glossary_terms_in_japanese() -> None:
    assert term("proof of existence", "ja") == "存在証明"
    assert term("archive time-stamp", "ja") == "アーカイブタイムスタンプ"
    assert term("proof of existence", "en") == "proof of existence"
    assert all(term(t, "ja") != t for t in GLOSSARY)


def test_use_language_scopes_the_translation() -> None:
    with use_language("ja"):
        assert gettext("revocation") == "失効"
    with use_language("en"):
        assert gettext("revocation") == "revocation"


@pytest.mark.parametrize(("header", "expected"), [
    ("ja-JP,ja;q=0.9,en;q=0.8", "ja"),
    ("en-US,en;q=0.9,ja;q=0.8", "en"),
    ("fr-FR, ja;q=0.1", "ja"),
    ("fr-FR", None),
    ("ja;q=0, en", "en"),
    ("", None),
    (None, None),
])
def test_accept_language(header: str | None, expected: str | None) -> None:
    assert parse_accept_language(header) == expected


def test_negotiation_order() -> None:
    env = {"LTV_LANG": "en", "LANG": "ja_JP.UTF-8"}
    assert negotiate("ja", "en", env) == "ja"
    assert negotiate(None, "ja", env) == "ja"
    assert negotiate(None, None, env) == "en"
    assert negotiate(None, None, {"LANG": "ja_JP.UTF-8"}) == "ja"
    assert negotiate(None, None, {"LC_ALL": "C", "LANG": "ja_JP.UTF-8"}) == "en"
    assert negotiate(None, None, {}) == "en"
    with pytest.raises(ValueError, match=r"unsupported language 'fr' \(choose en, ja\)"):
        negotiate("fr", None, {})


def test_dates_in_japanese_and_english() -> None:
    from datetime import UTC, date, datetime

    from ltv.i18n.dates import era_year, format_date, format_datetime

    moment = datetime(2026, 12, 3, 11, 31, 5, tzinfo=UTC)
    assert format_datetime(moment, "ja") == "2026年12月3日 20:31:05 JST"
    assert format_datetime(moment, "ja", era=True) == "令和8年12月3日 20:31:05 JST"
    assert format_datetime(moment, "en") == "2026-12-03 11:31:05 UTC"
    assert format_datetime(moment, "en", tz="Asia/Tokyo") == "2026-12-03 20:31:05 JST"
    assert format_date(date(2019, 5, 1), "ja", era=True) == "令和元年5月1日"
    assert format_date(date(2019, 4, 30), "ja", era=True) == "平成31年4月30日"
    assert era_year(date(1989, 1, 8)) == ("平成", 1)
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        format_datetime(moment, "en", tz="Mars/Base")
