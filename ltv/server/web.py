"""The web page at ``/``: drop one or more signed files, see each verdict and report inline.

Japanese for browsers that ask for it (``Accept-Language``), English otherwise; ``?lang=en|ja``
overrides. The page asks the API for each report in the same language. Several files at once
(drag and drop onto the drop zone, or the file picker), an optional detached content used for
every file, an optional validation time and API key.

Self-contained (inline CSS and a few lines of JS, no external resources). Stable element ids for
end-to-end tests: ``#file``, ``#detached``, ``#at``, ``#api-key``, ``#submit``, ``#verdict``
(the worst standard token over the files), ``#report`` (an iframe, sandboxed, showing the first
file's HTML report); ``#drop`` (the drop zone) and ``#results``: one ``li.result`` per file with
``.file-name``, ``.result-verdict`` (the token), ``.result-words`` (plain words),
``.result-summary`` (the report's summary) and ``iframe.result-report``; ``#verdict-words``
says ``#verdict`` in plain words. With several files ``#report`` is hidden (each result holds
its own report).
"""

from __future__ import annotations

import json
from html import escape
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import HTMLResponse

from ltv.errors import InputError
from ltv.i18n import gettext as _
from ltv.i18n import negotiate, use_language
from ltv.validation.explain import indication_label

__all__ = ["page", "router"]

router = APIRouter(include_in_schema=False)

_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'")

_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans CJK JP',sans-serif;
margin:0 auto;padding:1rem;color:#1d2939;max-width:1100px;line-height:1.5;overflow-wrap:anywhere}
h1{font-size:1.4rem}
nav{float:right;font-size:.9rem}nav a{color:#1849a9;margin-left:.6rem}
label{display:block;margin:.6rem 0 .2rem;font-weight:600}
input[type=text],input[type=password]{width:100%;max-width:32rem;padding:.35rem;
border:1px solid #98a2b3;border-radius:.25rem;font:inherit}
.drop{border:2px dashed #98a2b3;border-radius:.5rem;padding:1rem;background:#f9fafb}
.drop.over{border-color:#1849a9;background:#eff4ff}
.drop p{margin:.3rem 0}
#chosen{font-size:.9rem;margin:.3rem 0 0;padding-left:1.2rem}
button{font:inherit;font-weight:600;padding:.45rem 1.2rem;border-radius:.3rem;border:0;
background:#1849a9;color:#fff;cursor:pointer}
#verdict{display:inline-block;margin:1rem 0 .3rem;padding:.3rem .7rem;border-radius:.3rem;
font-weight:600;min-height:1.2rem}
.TOTAL-PASSED{background:#1b7f3b;color:#fff}.TOTAL-FAILED{background:#b42318;color:#fff}
.INDETERMINATE{background:#b54708;color:#fff}.error{background:#475467;color:#fff}
#report{width:100%;height:70vh;border:1px solid #d0d5dd}
#report[hidden]{display:none}#verdict-words{font-weight:600;margin-left:.5rem}
#results{list-style:none;padding:0}
.result{border:1px solid #d0d5dd;border-radius:.4rem;padding:.6rem .8rem;margin:.6rem 0}
.file-name{font-weight:600;margin-right:.5rem}
.result-verdict{display:inline-block;padding:.1rem .5rem;border-radius:.25rem;font-weight:600}
.result-summary{margin:.4rem 0}
.result-report{width:100%;height:60vh;border:1px solid #d0d5dd}
.muted{color:#596273;font-size:.9rem}
@media (max-width:640px){body{padding:.6rem}nav{float:none}h1{font-size:1.2rem}
#report,.result-report{height:80vh}}
"""

_SCRIPT = """
"use strict";
const T = __MESSAGES__;
const LANG = document.documentElement.lang;
const RANK = {"TOTAL-PASSED": 0, "INDETERMINATE": 1, "TOTAL-FAILED": 2};
const fileInput = document.getElementById("file");
const drop = document.getElementById("drop");
const chosen = document.getElementById("chosen");
function showChosen() {
  chosen.replaceChildren(...Array.from(fileInput.files).map((f) => {
    const li = document.createElement("li"); li.textContent = f.name; return li; }));
}
fileInput.addEventListener("change", showChosen);
for (const name of ["dragenter", "dragover"]) {
  drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); });
}
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  if (e.dataTransfer && e.dataTransfer.files.length) {
    fileInput.files = e.dataTransfer.files; showChosen();
  }
});
function badge(el, token) {
  el.className = el.className.replace(/\\b(TOTAL-PASSED|TOTAL-FAILED|INDETERMINATE|error)\\b/g,
    "").trim();
  el.classList.add(token in RANK ? token : "error");
}
async function validateOne(file, index, common) {
  const li = document.createElement("li");
  li.className = "result"; li.id = "result-" + (index + 1);
  const name = document.createElement("span"); name.className = "file-name";
  name.textContent = file.name;
  const verdict = document.createElement("span"); verdict.className = "result-verdict";
  verdict.textContent = T.validating;
  const words = document.createElement("span"); words.className = "result-words";
  const summary = document.createElement("p"); summary.className = "result-summary";
  li.append(name, verdict, " ", words, summary);
  document.getElementById("results").append(li);
  const data = new FormData();
  data.append("file", file);
  if (common.detached) { data.append("detached", common.detached); }
  if (common.at) { data.append("at", common.at); }
  const headers = {"Accept": "text/html", "Accept-Language": LANG};
  if (common.key) { headers["Authorization"] = "Bearer " + common.key; }
  try {
    const response = await fetch("/v1/validations", {method: "POST", body: data, headers});
    if (response.ok) {
      const token = response.headers.get("X-Ltv-Indication") || "";
      const html = await response.text();
      verdict.textContent = token; badge(verdict, token);
      words.textContent = T.labels[token] || "";
      const doc = new DOMParser().parseFromString(html, "text/html");
      const found = doc.getElementById("summary");
      summary.textContent = found ? found.textContent : "";
      const details = document.createElement("details");
      const opener = document.createElement("summary"); opener.textContent = T.show_report;
      const frame = document.createElement("iframe");
      frame.className = "result-report"; frame.title = T.report_of + " " + file.name;
      frame.setAttribute("sandbox", ""); frame.srcdoc = html;
      details.append(opener, frame); li.append(details);
      return {token, html};
    }
    const problem = await response.json().catch(() => ({}));
    const why = problem.detail || problem.title || "";
    verdict.textContent = T.error + " " + response.status; badge(verdict, "error");
    summary.textContent = why;
    return {token: "error", html: "", message: T.error + " " + response.status + ": " + why};
  } catch (err) {
    verdict.textContent = T.error; badge(verdict, "error"); summary.textContent = String(err);
    return {token: "error", html: "", message: T.error + ": " + err};
  }
}
document.getElementById("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const files = Array.from(fileInput.files);
  const verdict = document.getElementById("verdict");
  const report = document.getElementById("report");
  if (!files.length) { verdict.className = "error"; verdict.textContent = T.no_file; return; }
  document.getElementById("results").replaceChildren();
  const common = {detached: document.getElementById("detached").files[0],
                  at: document.getElementById("at").value.trim(),
                  key: document.getElementById("api-key").value.trim()};
  verdict.className = ""; verdict.textContent = T.validating;
  document.getElementById("verdict-words").textContent = "";
  const results = [];
  for (const [index, file] of files.entries()) {
    results.push(await validateOne(file, index, common));
  }
  const errors = results.filter((r) => r.token === "error");
  if (errors.length) {
    verdict.className = "error"; verdict.textContent = errors[0].message;
  } else {
    const worst = results.reduce((a, b) => (RANK[b.token] > RANK[a.token] ? b : a));
    verdict.className = worst.token; verdict.textContent = worst.token;
    document.getElementById("verdict-words").textContent = T.labels[worst.token] || "";
  }
  report.srcdoc = results[0].html;
  report.hidden = files.length > 1;  // each file's report is in its own result
});
"""


def _messages(lang: str) -> dict[str, object]:
    """The script's words in ``lang`` (inside ``use_language(lang)``)."""
    return {
        "validating": _("validating…"),
        "error": _("error"),
        "no_file": _("Choose at least one signed file."),
        "show_report": _("Show the report"),
        "report_of": _("Validation report of"),
        "labels": {token: indication_label(token, lang)
                   for token in ("TOTAL-PASSED", "TOTAL-FAILED", "INDETERMINATE")},
    }


def _script(lang: str) -> str:
    messages = json.dumps(_messages(lang), ensure_ascii=True).replace("<", "\\u003c")
    return _SCRIPT.replace("__MESSAGES__", messages)


def page(lang: str) -> str:
    """The validation page in ``lang`` (``en`` / ``ja``)."""
    with use_language(lang) as chosen:
        other = "en" if chosen == "ja" else "ja"
        other_name = "English" if other == "en" else "日本語"
        t = {
            "title": escape(_("validate a signed file")),
            "language": escape(_("Language")),
            "heading": escape(_("Validate signed files")),
            "intro": escape(_("PAdES (PDF), XAdES (XML) or CAdES (CMS). Each file is validated "
                               "after ETSI EN 319 102-1 and not kept.")),
            "files": escape(_("Signed files")),
            "drop": escape(_("Drop one or more files here, or choose them.")),
            "chosen": escape(_("Chosen files")),
            "detached": escape(_("Detached content (optional: the signed data of a detached "
                                  "signature)")),
            "at": escape(_("Validation time (optional, e.g. 2040-01-01T00:00:00Z)")),
            "key": escape(_("API key (if the server asks for one)")),
            "validate": escape(_("Validate")),
            "results": escape(_("Results per file")),
            "report": escape(_("validation report")),
        }
        return f"""<!DOCTYPE html>
<html lang="{chosen}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ltv — {t['title']}</title>
<style>{_CSS}</style></head><body>
<nav aria-label="{t['language']}"><a href="/?lang={other}" lang="{other}"
hreflang="{other}">{other_name}</a></nav>
<main>
<h1>{t['heading']}</h1>
<p class="muted">{t['intro']} API: <a
href="/docs">/docs</a>.</p>
<form id="form">
<div id="drop" class="drop">
<label for="file">{t['files']}</label>
<p class="muted" id="drop-hint">{t['drop']}</p>
<input type="file" id="file" name="file" multiple required aria-describedby="drop-hint">
<ul id="chosen" aria-label="{t['chosen']}"></ul>
</div>
<label for="detached">{t['detached']}</label>
<input type="file" id="detached" name="detached">
<label for="at">{t['at']}</label>
<input type="text" id="at" name="at">
<label for="api-key">{t['key']}</label>
<input type="password" id="api-key" autocomplete="off">
<p><button type="submit" id="submit">{t['validate']}</button></p>
</form>
<div id="verdict" role="status" aria-live="polite"></div>
<span id="verdict-words"></span>
<ol id="results" aria-label="{t['results']}"></ol>
<iframe id="report" title="{t['report']}" sandbox></iframe>
</main>
<script>{_script(chosen)}</script>
</body></html>
"""


@router.get("/", response_class=HTMLResponse)
def index(lang: Annotated[str | None, Query(max_length=16)] = None,
          accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
          ) -> HTMLResponse:
    try:
        chosen = negotiate(lang, accept_language, environ={})
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    return HTMLResponse(page(chosen), headers={
        "Content-Security-Policy": _CSP, "Content-Language": chosen, "Vary": "Accept-Language"})
