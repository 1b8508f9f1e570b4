"""The archive console's HTML pages: a shell per page, translated on the server.

Each page is static HTML in the negotiated language (``<html lang>``), the page's texts, a
``<script type="application/json" id="console-i18n">`` data block with the texts the script
needs (a data block is not executed, so the strict CSP holds), and two files of this package,
``/console/static/console.css`` and ``console.js``: the page's CSP allows scripts, styles and
connections from this origin only, and no inline script or style.

The script asks for the tenant's API key once, keeps it in ``sessionStorage`` (this tab only,
gone when it closes) and sends it as ``Authorization: Bearer`` to the JSON endpoints
(``/v1/console/...``, ``/v1/archive/...``); the key never appears in a URL, so neither in a log.

Stable element ids for tests: ``#signin-form``, ``#api-key``, ``#signin-error``, ``#signout``,
``#content``, ``#status``; dashboard ``#counts``, ``#next-renewal``, ``#last-run``,
``#weakening-table``; packages ``#search-form``, ``#q``, ``#field``, ``#packages``,
``#prev``, ``#next``, ``#page-info``; package ``#verify``, ``#verify-result``,
``#download-record``, ``#download-package``, ``#download-result``, ``#timeline``, ``#chain``,
``#due``; weakening ``#days-form``, ``#days``, ``#weakening-table``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from ltv.i18n import N_, translate

__all__ = ["CONSOLE_CSP", "PAGES", "render", "strings"]

#: Scripts, styles and fetches from this origin only; nothing inline runs, nobody frames it.
CONSOLE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
               "form-action 'none'")

# The console's texts by key, in English; the catalogs hold the Japanese.
_TEXTS: dict[str, str] = {
    "console": N_("Archive console"),
    "skip": N_("Skip to the content"),
    "nav": N_("Console pages"),
    "dashboard": N_("Dashboard"),
    "packages": N_("Packages"),
    "weakening": N_("Weakening soon"),
    "language": N_("Language"),
    "signout": N_("Sign out"),
    "signin": N_("Sign in"),
    "signin_help": N_("Enter your tenant's API key (from ltv tenant add NAME). It stays in this "
                      "browser tab only and is sent with each request; it never appears in an "
                      "address."),
    "api_key": N_("API key"),
    "signin_refused": N_("This API key was refused. Check it and try again."),
    "loading": N_("Loading…"),
    "error": N_("Error {status}: {detail}"),
    "network_error": N_("The server could not be reached."),
    "overview": N_("Overview"),
    "count_packages": N_("Packages"),
    "count_batches": N_("Batches (one time-stamp each at ingest)"),
    "count_stamps": N_("Archive time-stamps"),
    "count_due": N_("Due for renewal now"),
    "renewal": N_("Renewal"),
    "next_renewal": N_("Next renewal due"),
    "next_renewal_text": N_("{date}: {n} package(s). {reason}."),
    "next_renewal_overdue": N_("Now: the next run of ltv archive renew renews {n} package(s). "
                               "{reason}."),
    "no_packages": N_("No packages yet."),
    "last_run": N_("Last renewal run"),
    "last_run_text": N_("{date}: {outcome}. {batches} batch(es) checked, {renewed} renewed, "
                        "{calls} TSA call(s)."),
    "last_run_failed": N_("{date}: {outcome} ({error})."),
    "no_run": N_("No renewal run recorded yet (ltv archive renew)."),
    "margin_note": N_("Renewal margin: {days} days before the evidence weakens."),
    "weakening_title": N_("Evidence weakening within {days} days"),
    "see_all": N_("All packages weakening soon"),
    "col_package": N_("Contract / file"),
    "col_metadata": N_("Metadata"),
    "col_archived": N_("Archived"),
    "col_due": N_("Next renewal due"),
    "col_weakens": N_("Weakens on"),
    "col_why": N_("Why"),
    "none_weakening": N_("No package weakens within {days} days."),
    "overdue_date": N_("{date} (due now)"),
    "weakened": N_("already weakened"),
    "days_left": N_("{days} days left"),
    "search_label": N_("Search the metadata"),
    "field_label": N_("Field"),
    "all_fields": N_("All fields"),
    "search_button": N_("Search"),
    "prev": N_("Previous"),
    "next": N_("Next"),
    "page_info": N_("{first}–{last} of {total}"),
    "no_match": N_("No package matches."),
    "package": N_("Package"),
    "contract": N_("Contract"),
    "signature": N_("Signature"),
    "signer": N_("Signer"),
    "signing_time": N_("Signing time"),
    "level": N_("Format and level"),
    "at_ingest": N_("Verdict at ingest"),
    "signer_expires": N_("Signer certificate expiry"),
    "retain_until": N_("Kept until"),
    "actions": N_("Actions"),
    "verify": N_("Verify now"),
    "verifying": N_("Verifying offline…"),
    "verified": N_("Verified offline now: {verdict} ({token}). The evidence record holds {n} "
                   "archive time-stamp(s)."),
    "verdict_TOTAL-PASSED": N_("Valid"),
    "verdict_TOTAL-FAILED": N_("Invalid"),
    "verdict_INDETERMINATE": N_("Indeterminate"),
    "download_record": N_("Download the evidence record (RFC 4998)"),
    "download_package": N_("Download the package (ZIP)"),
    "downloaded": N_("Downloaded {name} ({size} bytes)."),
    "timeline": N_("Timeline"),
    "future": N_("to come"),
    "chain": N_("Evidence chain"),
    "col_time": N_("Time"),
    "col_kind": N_("Kind"),
    "col_tsa": N_("TSA"),
    "col_tsa_expiry": N_("TSA certificate expiry"),
    "col_hash": N_("Hash algorithm"),
    "in_signature": N_("in the signed file"),
    "in_record": N_("in the evidence record"),
    "due_text": N_("Renew by {due}: {reason} on {weakens}."),
    "days_label": N_("Weakens within (days)"),
    "show": N_("Show"),
    "weakening_intro": N_("Packages whose evidence weakens (the TSA certificate of their newest "
                          "archive time-stamp expires, or its hash algorithm reaches its sunset) "
                          "within the given number of days. With the renewal margin, these are "
                          "the packages the next renewal run renews."),
}

def strings(lang: str) -> dict[str, str]:
    """Every console text in ``lang``."""
    return {key: translate(text, lang, domain="console") for key, text in _TEXTS.items()}


# page name -> (path, title key, nav key)
PAGES: Mapping[str, tuple[str, str]] = {
    "dashboard": ("/console", "dashboard"),
    "packages": ("/console/packages", "packages"),
    "weakening": ("/console/weakening", "weakening"),
    "package": ("/console/packages/", "package"),
}


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _content(page: str, t: Mapping[str, str]) -> str:
    if page == "dashboard":
        return f"""
<section aria-labelledby="h-overview"><h2 id="h-overview">{_e(t['overview'])}</h2>
<dl id="counts" class="counts">
<div><dt>{_e(t['count_packages'])}</dt><dd data-count="packages">–</dd></div>
<div><dt>{_e(t['count_stamps'])}</dt><dd data-count="archive_timestamps">–</dd></div>
<div><dt>{_e(t['count_batches'])}</dt><dd data-count="batches">–</dd></div>
<div><dt>{_e(t['count_due'])}</dt><dd data-count="due_soon">–</dd></div>
</dl></section>
<section aria-labelledby="h-renewal"><h2 id="h-renewal">{_e(t['renewal'])}</h2>
<dl class="facts">
<div><dt>{_e(t['next_renewal'])}</dt><dd id="next-renewal">–</dd></div>
<div><dt>{_e(t['last_run'])}</dt><dd id="last-run">–</dd></div>
</dl><p id="margin-note" class="muted"></p></section>
<section aria-labelledby="h-weakening"><h2 id="h-weakening">{_e(t['weakening'])}</h2>
{_weakening_table(t)}
<p><a id="see-all" href="/console/weakening">{_e(t['see_all'])}</a></p></section>"""
    if page == "packages":
        return f"""
<form id="search-form" role="search" class="search" novalidate>
<div><label for="q">{_e(t['search_label'])}</label>
<input id="q" name="q" type="search" maxlength="200" autocomplete="off"></div>
<div><label for="field">{_e(t['field_label'])}</label>
<select id="field" name="field"><option value="">{_e(t['all_fields'])}</option></select></div>
<div><button type="submit" id="search">{_e(t['search_button'])}</button></div>
</form>
<div class="scroll"><table id="packages">
<caption class="sr-only">{_e(t['packages'])}</caption>
<thead><tr><th scope="col">{_e(t['col_package'])}</th><th scope="col">{_e(t['col_metadata'])}</th>
<th scope="col">{_e(t['col_archived'])}</th><th scope="col">{_e(t['col_due'])}</th></tr></thead>
<tbody></tbody></table></div>
<nav class="pager" aria-label="{_e(t['packages'])}">
<button type="button" id="prev" disabled>{_e(t['prev'])}</button>
<span id="page-info" aria-live="polite"></span>
<button type="button" id="next" disabled>{_e(t['next'])}</button></nav>"""
    if page == "weakening":
        return f"""
<p class="muted">{_e(t['weakening_intro'])}</p>
<form id="days-form" class="search" novalidate>
<div><label for="days">{_e(t['days_label'])}</label>
<input id="days" name="days" type="number" min="0" max="36500" step="1" inputmode="numeric">
</div><div><button type="submit" id="show">{_e(t['show'])}</button></div></form>
<h2 id="weakening-title"></h2>
{_weakening_table(t)}"""
    # one package
    return f"""
<p class="mono" id="package-id"></p>
<section aria-labelledby="h-actions"><h2 id="h-actions" class="sr-only">{_e(t['actions'])}</h2>
<div class="actions">
<button type="button" id="verify">{_e(t['verify'])}</button>
<button type="button" id="download-record">{_e(t['download_record'])}</button>
<button type="button" id="download-package">{_e(t['download_package'])}</button></div>
<p id="verify-result" role="status" aria-live="polite"></p>
<p id="download-result" role="status" aria-live="polite"></p></section>
<div class="columns">
<section aria-labelledby="h-contract"><h2 id="h-contract">{_e(t['contract'])}</h2>
<dl id="metadata" class="facts"></dl></section>
<section aria-labelledby="h-signature"><h2 id="h-signature">{_e(t['signature'])}</h2>
<dl id="signature" class="facts"></dl></section></div>
<section aria-labelledby="h-due"><h2 id="h-due">{_e(t['next_renewal'])}</h2>
<p id="due" class="due"></p></section>
<section aria-labelledby="h-timeline"><h2 id="h-timeline">{_e(t['timeline'])}</h2>
<ol id="timeline" class="timeline"></ol></section>
<section aria-labelledby="h-chain"><h2 id="h-chain">{_e(t['chain'])}</h2>
<div class="scroll"><table id="chain">
<caption class="sr-only">{_e(t['chain'])}</caption>
<thead><tr><th scope="col">{_e(t['col_time'])}</th><th scope="col">{_e(t['col_kind'])}</th>
<th scope="col">{_e(t['col_tsa'])}</th><th scope="col">{_e(t['col_tsa_expiry'])}</th>
<th scope="col">{_e(t['col_hash'])}</th></tr></thead><tbody></tbody></table></div></section>"""


def _weakening_table(t: Mapping[str, str]) -> str:
    return f"""<div class="scroll"><table id="weakening-table">
<caption class="sr-only">{_e(t['weakening'])}</caption>
<thead><tr><th scope="col">{_e(t['col_package'])}</th><th scope="col">{_e(t['col_metadata'])}</th>
<th scope="col">{_e(t['col_weakens'])}</th><th scope="col">{_e(t['col_due'])}</th>
<th scope="col">{_e(t['col_why'])}</th></tr></thead><tbody></tbody></table></div>"""


def render(page: str, lang: str, *, path: str, package_id: str | None = None,
           extra: Mapping[str, Any] | None = None) -> str:
    """The HTML of console page ``page`` in ``lang``; ``path`` is its own path (for the
    language switch)."""
    t = strings(lang)
    title_key = PAGES[page][1]
    nav = []
    for name in ("dashboard", "packages", "weakening"):
        href = f"{PAGES[name][0]}?lang={lang}"
        current = ' aria-current="page"' if name == page else ""
        nav.append(f'<li><a href="{_e(href)}"{current}>{_e(t[name])}</a></li>')
    switch = []
    for code, name in (("ja", "日本語"), ("en", "English")):
        if code == lang:
            switch.append(f'<span lang="{code}" aria-current="true">{name}</span>')
        else:
            switch.append(f'<a lang="{code}" hreflang="{code}" '
                          f'href="{_e(path)}?lang={code}">{name}</a>')
    data = json.dumps({"lang": lang, "page": page, "package": package_id, "t": t,
                       **(extra or {})}, ensure_ascii=False)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>{_e(t[title_key])} — {_e(t['console'])} — ltv</title>
<link rel="stylesheet" href="/console/static/console.css">
<script type="application/json" id="console-i18n">{data}</script>
<script src="/console/static/console.js" defer></script>
</head><body data-page="{page}">
<a class="skip" href="#main">{_e(t['skip'])}</a>
<header class="top">
<p class="brand"><a href="/console?lang={lang}">ltv <span>{_e(t['console'])}</span></a></p>
<nav aria-label="{_e(t['nav'])}"><ul>{''.join(nav)}</ul></nav>
<div class="tools"><span class="sr-only">{_e(t['language'])}:</span>
{' / '.join(switch)}
<button type="button" id="signout" hidden>{_e(t['signout'])}</button></div>
</header>
<main id="main" tabindex="-1">
<h1 id="title">{_e(t[title_key])}</h1>
<section id="signin" aria-labelledby="h-signin" hidden>
<h2 id="h-signin">{_e(t['signin'])}</h2>
<p>{_e(t['signin_help'])}</p>
<form id="signin-form" novalidate>
<label for="api-key">{_e(t['api_key'])}</label>
<input id="api-key" name="api-key" type="password" autocomplete="off" spellcheck="false"
 required>
<button type="submit" id="signin-submit">{_e(t['signin'])}</button>
</form>
<p id="signin-error" class="problem" role="alert"></p>
</section>
<div id="content" hidden>{_content(page, t)}
</div>
<p id="status" role="status" aria-live="polite"></p>
</main>
</body></html>
"""
