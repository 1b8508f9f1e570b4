"""The web page at ``/``: upload a signed file, see the HTML report.

Self-contained (inline CSS and a few lines of JS, no external resources). Stable element ids for
end-to-end tests: ``#file``, ``#detached``, ``#at``, ``#api-key``, ``#submit``, ``#verdict``,
``#report`` (an iframe, sandboxed, showing the HTML report).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ltv — validate a signed file</title>
<style>
body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans CJK JP',sans-serif;margin:2rem;
color:#1d2939;max-width:1100px}
label{display:block;margin:.6rem 0 .2rem}
#verdict{display:inline-block;margin:1rem 0;padding:.3rem .7rem;border-radius:.3rem;
font-weight:600;min-height:1.2rem}
.TOTAL-PASSED{background:#1b7f3b;color:#fff}.TOTAL-FAILED{background:#b42318;color:#fff}
.INDETERMINATE{background:#b54708;color:#fff}.error{background:#475467;color:#fff}
#report{width:100%;height:70vh;border:1px solid #d0d5dd}
.muted{color:#667085;font-size:.9rem}
</style></head><body>
<h1>Validate a signed file</h1>
<p class="muted">PAdES (PDF), XAdES (XML) or CAdES (CMS). The file is validated after
ETSI EN 319 102-1 and not kept. API: <a href="/docs">/docs</a>.</p>
<form id="form">
<label for="file">Signed file</label><input type="file" id="file" name="file" required>
<label for="detached">Detached data (optional)</label>
<input type="file" id="detached" name="detached">
<label for="at">Validation time (optional, e.g. 2040-01-01T00:00:00Z)</label>
<input type="text" id="at" name="at" size="30">
<label for="api-key">API key (if the server asks for one)</label>
<input type="password" id="api-key" size="50" autocomplete="off">
<p><button type="submit" id="submit">Validate</button></p>
</form>
<div id="verdict" role="status" aria-live="polite"></div>
<iframe id="report" title="validation report" sandbox></iframe>
<script>
"use strict";
document.getElementById("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const verdict = document.getElementById("verdict");
  const report = document.getElementById("report");
  const data = new FormData();
  const file = document.getElementById("file").files[0];
  if (!file) { return; }
  data.append("file", file);
  const detached = document.getElementById("detached").files[0];
  if (detached) { data.append("detached", detached); }
  const at = document.getElementById("at").value.trim();
  if (at) { data.append("at", at); }
  const headers = {"Accept": "text/html"};
  const key = document.getElementById("api-key").value.trim();
  if (key) { headers["Authorization"] = "Bearer " + key; }
  verdict.className = ""; verdict.textContent = "validating…";
  try {
    const response = await fetch("/v1/validations", {method: "POST", body: data, headers});
    if (response.ok) {
      const indication = response.headers.get("X-Ltv-Indication") || "";
      verdict.className = indication; verdict.textContent = indication;
      report.srcdoc = await response.text();
    } else {
      const problem = await response.json().catch(() => ({}));
      verdict.className = "error";
      const why = problem.detail || problem.title || "";
      verdict.textContent = "error " + response.status + ": " + why;
      report.srcdoc = "";
    }
  } catch (err) {
    verdict.className = "error"; verdict.textContent = "error: " + err;
  }
});
</script>
</body></html>
"""


@router.get("/", response_class=HTMLResponse)
def index() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={
        "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
        "style-src 'unsafe-inline'; connect-src 'self'; frame-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"})
