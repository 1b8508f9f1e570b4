"""Keep the message catalogs complete (development tool; needs Babel, a dev dependency).

    python -m ltv.i18n.catalogs update   # extract marked messages, merge into every .po
    python -m ltv.i18n.catalogs compile  # .po -> .mo (the .mo files are committed)
    python -m ltv.i18n.catalogs check    # exit 1 naming every gap (what the test runs)

English catalogs repeat the English message (the msgid) so that both languages hold every
message explicitly; a new message gets an empty Japanese msgstr, which ``check`` reports until
someone translates it. Messages are extracted from ``_()``, ``gettext()``, ``N_()`` and
``ngettext()`` calls in the files each domain lists (:data:`ltv.i18n.DOMAINS`).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

from ltv.i18n import DOMAINS, LANGUAGES, LOCALE_DIR

__all__ = ["check", "compile_catalogs", "extract", "update"]

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS: dict[str, Any] = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}


def _po_path(lang: str, domain: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po"


def extract(domain: str) -> dict[str, list[str]]:
    """msgid -> source locations of the messages marked in ``domain``'s files."""
    from babel.messages.extract import extract_python

    found: dict[str, list[str]] = {}
    for pattern in DOMAINS[domain]:
        for path in sorted(ROOT.glob(pattern)):
            with path.open("rb") as handle:
                for lineno, _func, message, _comments in extract_python(
                        handle, KEYWORDS, [], {}):
                    messages = message if isinstance(message, tuple) else (message,)
                    for msgid in messages:
                        if isinstance(msgid, str) and msgid:
                            rel = path.relative_to(ROOT).as_posix()
                            found.setdefault(msgid, []).append(f"{rel}:{lineno}")
    return found


def _read(lang: str, domain: str):  # type: ignore[no-untyped-def]
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po

    path = _po_path(lang, domain)
    if not path.is_file():
        return Catalog(locale=lang, domain=domain)
    with path.open("rb") as handle:
        return read_po(handle, locale=lang, domain=domain)


def update() -> None:
    """Merge extracted messages into every catalog; drop messages no longer in the code."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    for domain in DOMAINS:
        messages = extract(domain)
        for lang in LANGUAGES:
            old = _read(lang, domain)
            new = Catalog(locale=lang, domain=domain, project="ltv",
                          charset="utf-8", fuzzy=False)
            for msgid, locations in messages.items():
                previous = old.get(msgid)
                text = previous.string if previous is not None else ""
                if lang == "en" and not text:
                    text = msgid
                new.add(msgid, text, locations=[(loc.rsplit(":", 1)[0],
                                                 int(loc.rsplit(":", 1)[1]))
                                                for loc in locations])
            path = _po_path(lang, domain)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as handle:
                write_po(handle, new, width=100, omit_header=False, sort_output=True)


def _mo_bytes(lang: str, domain: str) -> bytes:
    from babel.messages.mofile import write_mo

    buffer = io.BytesIO()
    write_mo(buffer, _read(lang, domain), use_fuzzy=False)
    return buffer.getvalue()


def compile_catalogs() -> None:
    for domain in DOMAINS:
        for lang in LANGUAGES:
            if _po_path(lang, domain).is_file():
                _po_path(lang, domain).with_suffix(".mo").write_bytes(_mo_bytes(lang, domain))


def check() -> list[str]:
    """Every gap: a message missing or untranslated in a language, stale entries, stale .mo."""
    problems: list[str] = []
    for domain in DOMAINS:
        messages = extract(domain)
        for lang in LANGUAGES:
            catalog = _read(lang, domain)
            present = {m.id: m.string for m in catalog if m.id}
            for msgid, locations in sorted(messages.items()):
                if not present.get(msgid):
                    problems.append(f"{lang}/{domain}: no translation for {msgid!r} "
                                    f"({locations[0]})")
            for msgid in sorted(set(present) - set(messages)):
                problems.append(f"{lang}/{domain}: {msgid!r} is in the catalog, not in the code")
            po = _po_path(lang, domain)
            if po.is_file():
                mo = po.with_suffix(".mo")
                if not mo.is_file() or mo.read_bytes() != _mo_bytes(lang, domain):
                    problems.append(f"{lang}/{domain}: {mo.name} is stale "
                                    "(python -m ltv.i18n.catalogs compile)")
            elif messages:
                problems.append(f"{lang}/{domain}: no catalog {po}")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "check"
    if command == "update":
        update()
        compile_catalogs()
        return 0
    if command == "compile":
        compile_catalogs()
        return 0
    if command == "check":
        problems = check()
        for line in problems:
            print(line, file=sys.stderr)
        return 1 if problems else 0
    print("usage: python -m ltv.i18n.catalogs update|compile|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
