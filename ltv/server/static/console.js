// The archive console (ltv.server.console_pages): signs in with the tenant's API key, kept in
// sessionStorage (this tab only) and sent as "Authorization: Bearer"; never in a URL.
// Every text comes translated from the page's data block; data is written with textContent.
"use strict";

(() => {
  const data = JSON.parse(document.getElementById("console-i18n").textContent);
  const t = data.t;
  const lang = data.lang;
  const STORE = "ltv-console-key";
  const $ = (id) => document.getElementById(id);

  const fmt = (text, vars) =>
    text.replace(/\{(\w+)\}/g, (all, name) => (name in vars ? String(vars[name]) : all));

  class SignedOut extends Error {}

  class Problem extends Error {
    constructor(status, detail) {
      super(fmt(t.error, {status, detail}));
      this.status = status;
    }
  }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function status(text, problem) {
    const node = $("status");
    node.textContent = text || "";
    node.className = problem ? "problem" : "";
  }

  function showSignin(message) {
    $("signin").hidden = false;
    $("content").hidden = true;
    $("signout").hidden = true;
    $("signin-error").textContent = message || "";
    status("");
  }

  function showContent() {
    $("signin").hidden = true;
    $("content").hidden = false;
    $("signout").hidden = false;
  }

  async function call(path, params, raw) {
    const key = sessionStorage.getItem(STORE);
    if (!key) throw new SignedOut();
    const url = new URL(path, window.location.origin);
    if (path.startsWith("/v1/console/")) url.searchParams.set("lang", lang);
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== undefined && value !== null && value !== "") {
        url.searchParams.set(name, value);
      }
    }
    let response;
    try {
      response = await fetch(url, {headers: {"Authorization": "Bearer " + key}});
    } catch (err) {
      throw new Problem(0, t.network_error);
    }
    if (response.status === 401) {
      sessionStorage.removeItem(STORE);
      throw new SignedOut(t.signin_refused);
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      throw new Problem(response.status, problem.detail || problem.title || response.statusText);
    }
    return raw ? response : response.json();
  }

  const href = (path, extra) => {
    const url = new URL(path, window.location.origin);
    url.searchParams.set("lang", lang);
    for (const [name, value] of Object.entries(extra || {})) url.searchParams.set(name, value);
    return url.pathname + url.search;
  };

  const packageLink = (item) =>
    el("a", {href: href("/console/packages/" + item.id)}, item.signed_name || item.id.slice(0, 16));

  function chips(metadata) {
    const list = el("ul", {class: "chips"});
    for (const [name, value] of Object.entries(metadata || {})) {
      list.append(el("li", {class: "chip"}, el("span", {class: "chip-key"}, name + ": "), value));
    }
    return list;
  }

  function dueCell(next) {
    if (!next) return el("span", {class: "muted"}, "–");
    if (next.overdue) {
      return el("span", {class: "due-now date"}, fmt(t.overdue_date, {date: next.due.text}));
    }
    const soon = next.days_left !== null && next.days_left <= 2 * data.margin_days;
    return el("span", {class: soon ? "due-soon date" : "date"}, next.due.text);
  }

  const label = (text, cls) => el("td", {"data-label": text, class: cls});

  function weakeningRows(tbody, items) {
    tbody.replaceChildren();
    const heads = [t.col_package, t.col_metadata, t.col_weakens, t.col_due, t.col_why];
    for (const item of items) {
      const next = item.next_renewal;
      const cells = [packageLink(item), chips(item.metadata),
        el("span", {}, el("span", {class: "date"}, next.weakens.text), el("br"),
          el("span", {class: "muted"}, next.days_left < 0 ? t.weakened
            : fmt(t.days_left, {days: next.days_left}))),
        dueCell(next), next.reason];
      const row = el("tr");
      cells.forEach((cell, n) => { const td = label(heads[n]); td.append(cell); row.append(td); });
      tbody.append(row);
    }
  }

  function facts(dl, pairs) {
    dl.replaceChildren();
    for (const [name, value] of pairs) {
      if (value === null || value === undefined || value === "") continue;
      dl.append(el("div", {}, el("dt", {}, name), el("dd", {}, value)));
    }
  }

  // --- pages ---------------------------------------------------------------------------------

  async function dashboard() {
    const s = await call("/v1/console/summary");
    for (const node of document.querySelectorAll("[data-count]")) {
      node.textContent = String(s.counts[node.dataset.count]);
    }
    const next = s.next_renewal;
    if (!next) {
      $("next-renewal").textContent = t.no_packages;
    } else if (next.overdue) {
      $("next-renewal").textContent = fmt(t.next_renewal_overdue,
        {n: next.packages, reason: next.reason});
    } else {
      $("next-renewal").textContent = fmt(t.next_renewal_text,
        {date: next.due.text, n: next.packages, reason: next.reason});
    }
    const run = s.last_run;
    const last = $("last-run");
    if (!run) {
      last.textContent = t.no_run;
    } else {
      last.textContent = run.outcome === "ok"
        ? fmt(t.last_run_text, {date: run.finished.text, outcome: run.outcome_text,
          batches: run.batches, renewed: run.renewed, calls: run.tsa_calls})
        : fmt(t.last_run_failed, {date: run.finished.text, outcome: run.outcome_text,
          error: run.error || "?"});
      last.className = run.outcome === "ok" ? "ok" : "problem";
    }
    $("margin-note").textContent = fmt(t.margin_note, {days: s.margin_days});
    $("h-weakening").textContent = fmt(t.weakening_title, {days: s.margin_days});
    $("see-all").setAttribute("href", href("/console/weakening"));
    weakeningRows(document.querySelector("#weakening-table tbody"), s.weakening);
    if (!s.weakening.length) {
      status(fmt(t.none_weakening, {days: s.margin_days}));
    }
  }

  const listState = {q: "", field: "", offset: 0, limit: 20};

  async function packages() {
    const params = new URLSearchParams(window.location.search);
    listState.q = params.get("q") || "";
    listState.field = params.get("field") || "";
    listState.offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
    $("q").value = listState.q;
    $("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      listState.q = $("q").value.trim();
      listState.field = $("field").value;
      listState.offset = 0;
      run(loadPackages);
    });
    $("prev").addEventListener("click", () => {
      listState.offset = Math.max(0, listState.offset - listState.limit);
      run(loadPackages);
    });
    $("next").addEventListener("click", () => {
      listState.offset += listState.limit;
      run(loadPackages);
    });
    await loadPackages();
  }

  async function loadPackages() {
    const page = await call("/v1/console/packages", {q: listState.q, field: listState.field,
      offset: listState.offset, limit: listState.limit});
    const select = $("field");
    const chosen = listState.field;
    select.replaceChildren(el("option", {value: ""}, t.all_fields),
      ...page.fields.map((name) => el("option", {value: name, selected: name === chosen}, name)));
    const tbody = document.querySelector("#packages tbody");
    tbody.replaceChildren();
    const heads = [t.col_package, t.col_metadata, t.col_archived, t.col_due];
    for (const item of page.items) {
      const row = el("tr");
      const first = el("span", {}, packageLink(item), el("br"),
        el("span", {class: "mono muted"}, item.id.slice(0, 12) + "…"));
      [first, chips(item.metadata), el("span", {class: "date"}, item.created.text),
        dueCell(item.next_renewal)]
        .forEach((cell, n) => { const td = label(heads[n]); td.append(cell); row.append(td); });
      tbody.append(row);
    }
    const last = page.offset + page.items.length;
    $("page-info").textContent = page.total
      ? fmt(t.page_info, {first: page.offset + 1, last, total: page.total}) : t.no_match;
    $("prev").disabled = page.offset === 0;
    $("next").disabled = last >= page.total;
    const query = {};
    if (listState.q) query.q = listState.q;
    if (listState.field) query.field = listState.field;
    if (listState.offset) query.offset = listState.offset;
    window.history.replaceState(null, "", href("/console/packages", query));
  }

  async function weakening() {
    const params = new URLSearchParams(window.location.search);
    $("days").value = params.get("days") || String(data.margin_days);
    $("days-form").addEventListener("submit", (event) => {
      event.preventDefault();
      run(loadWeakening);
    });
    await loadWeakening();
  }

  async function loadWeakening() {
    const days = $("days").value.trim();
    const answer = await call("/v1/console/weakening", {days});
    $("weakening-title").textContent = fmt(t.weakening_title, {days: answer.days});
    weakeningRows(document.querySelector("#weakening-table tbody"), answer.items);
    status(answer.items.length ? "" : fmt(t.none_weakening, {days: answer.days}));
    window.history.replaceState(null, "", href("/console/weakening", {days: answer.days}));
  }

  async function onePackage() {
    const id = data.package;
    const p = await call("/v1/console/packages/" + id);
    $("title").textContent = t.package + ": " + (p.signed_name || id.slice(0, 16));
    $("package-id").textContent = id;
    facts($("metadata"), [...Object.entries(p.metadata),
      [t.col_archived, p.created.text],
      [t.retain_until, p.retain_until ? p.retain_until.text : null]]);
    const sig = p.signature || {};
    facts($("signature"), [[t.signer, sig.signer], [t.signing_time, sig.signing_time
      ? sig.signing_time.text : null], [t.level, [sig.format, sig.level].filter(Boolean)
      .join(" ").toUpperCase()], [t.at_ingest, sig.indication_at_ingest],
    [t.signer_expires, sig.signer_expires ? sig.signer_expires.text : null]]);
    const next = p.next_renewal;
    const due = $("due");
    if (next) {
      const by = next.overdue ? fmt(t.overdue_date, {date: next.due.text}) : next.due.text;
      due.textContent = fmt(t.due_text, {due: by, reason: next.reason,
        weakens: next.weakens.text});
      due.className = "due " + (next.overdue ? "due-now" : "");
    }
    const timeline = $("timeline");
    timeline.replaceChildren();
    for (const event of p.timeline) {
      const item = el("li", {class: [event.kind, event.future ? "future" : ""].join(" ").trim()},
        el("time", {class: "when", datetime: event.at.iso}, event.at.text),
        el("span", {class: "label"}, event.label,
          event.future && event.kind !== "now" ? el("span", {class: "tag"}, t.future) : null));
      if (event.detail) item.append(el("span", {class: "detail"}, event.detail));
      timeline.append(item);
    }
    const tbody = document.querySelector("#chain tbody");
    tbody.replaceChildren();
    const heads = [t.col_time, t.col_kind, t.col_tsa, t.col_tsa_expiry, t.col_hash];
    const rows = [
      ...p.signature_timestamps.map((s) => [s, t.in_signature]),
      ...p.evidence_record.map((s) => [s, t.in_record])];
    for (const [s, where] of rows) {
      const kind = el("span", {}, s.label, el("br"), el("span", {class: "muted"}, where));
      const row = el("tr");
      [s.at.text, kind, s.tsa || "–", s.tsa_expires ? s.tsa_expires.text : "–", s.algorithm]
        .forEach((cell, n) => { const td = label(heads[n]); td.append(cell); row.append(td); });
      tbody.append(row);
    }
    $("verify").addEventListener("click", () => verify(id));
    $("download-record").addEventListener("click",
      () => download("/v1/archive/" + id + "/evidence-record", "evidence-record.ers"));
    $("download-package").addEventListener("click",
      () => download("/v1/console/packages/" + id + "/package.zip", "package.zip"));
  }

  async function verify(id) {
    const out = $("verify-result");
    out.className = "";
    out.textContent = t.verifying;
    try {
      const v = await call("/v1/archive/" + id + "/verification");
      const verdict = t["verdict_" + v.indication] || v.indication;
      out.textContent = fmt(t.verified, {verdict, token: v.indication,
        n: v.evidence_record.timestamps.length});
      out.className = "verdict " + v.indication;
    } catch (err) {
      failed(err, out);
    }
  }

  function filename(response, fallback) {
    const found = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    return found ? found[1] : fallback;
  }

  async function download(path, fallback) {
    const out = $("download-result");
    out.className = "";
    out.textContent = t.loading;
    try {
      const response = await call(path, {}, true);
      const blob = await response.blob();
      const name = filename(response, fallback);
      const url = URL.createObjectURL(blob);
      const link = el("a", {href: url, download: name, hidden: true});
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 60000);
      out.textContent = fmt(t.downloaded, {name, size: blob.size});
    } catch (err) {
      failed(err, out);
    }
  }

  function failed(err, node) {
    if (err instanceof SignedOut) {
      showSignin(err.message);
      return;
    }
    const target = node || $("status");
    target.textContent = err instanceof Problem ? err.message : String(err);
    target.className = "problem";
  }

  async function run(load) {
    try {
      status(t.loading);
      await load();
      status($("status").textContent === t.loading ? "" : $("status").textContent);
    } catch (err) {
      if (err instanceof SignedOut) showSignin(err.message);
      else failed(err);
    }
  }

  const PAGES = {dashboard, packages, weakening, package: onePackage};

  async function start() {
    showContent();
    await run(PAGES[data.page]);
  }

  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) {
      $("signin-error").textContent = t.signin_refused;
      return;
    }
    sessionStorage.setItem(STORE, key);
    $("api-key").value = "";
    try {
      await call("/v1/console/summary");
    } catch (err) {
      sessionStorage.removeItem(STORE);
      showSignin(err instanceof SignedOut ? t.signin_refused : err.message);
      return;
    }
    $("signin-error").textContent = "";
    start();
  });

  $("signout").addEventListener("click", () => {
    sessionStorage.removeItem(STORE);
    window.location.reload();
  });

  if (sessionStorage.getItem(STORE)) start();
  else showSignin();
})();
