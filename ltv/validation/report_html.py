"""A self-contained HTML page of a validation report, in English or Japanese, with a timeline.

No external resources (no scripts, fonts, images or style sheets from elsewhere): the page
renders the same offline, in an archive, decades later. At the top, a short plain-language
summary (:mod:`ltv.validation.summary`). Per signature: the verdict (the standard token and
plain words, :mod:`ltv.validation.explain`), who signed (the JPKI holder name, the key kind,
the issuing CA; the holder's address, birth date and gender only with
``ReportOptions.show_holder_details``), the time-stamps, and a timeline with one validity bar
per certificate (signer, CAs, TSAs), a red mark at a known revocation, markers for the claimed
signing time, each time-stamp, the best-signature-time and the validation time, with the POE
that carried the verdict highlighted. XAdES signatures list what they sign and, highlighted,
any content of the file that no reference signs.

Layout: reads on a phone (375 px) and a desktop. The timeline's SVG places bars by percentages
(it stretches with the page, text keeps its size) and numbers its rows; names and times are in
an HTML legend below it that wraps, so no label is ever clipped. Print CSS lays it out on A4.
Language, time zone and era come from :class:`ReportOptions` (JST by default for Japanese).
"""

from __future__ import annotations

from datetime import MAXYEAR, datetime
from html import escape as _escape

from ltv.i18n import gettext as _
from ltv.i18n import use_language
from ltv.i18n.dates import resolve_timezone
from ltv.i18n.terms import term
from ltv.validation.explain import explain, indication_label
from ltv.validation.model import (
    Indication,
    SignatureReport,
    SignerSummary,
    TimestampKind,
    ValidationReport,
)
from ltv.validation.report_options import ReportOptions
from ltv.validation.safetext import printable
from ltv.validation.summary import date_text, key_kind_text, normalized, summary, time_text

__all__ = ["to_html"]

_DEFAULT_OPTIONS = ReportOptions()
_DEFAULT_TITLE = "validation report"

_COLORS = {
    Indication.TOTAL_PASSED: "#1b7f3b",
    Indication.TOTAL_FAILED: "#b42318",
    Indication.INDETERMINATE: "#b54708",
}
_ROLE_COLORS = {"signer": "#2f6fde", "signer-ca": "#7a9cd9", "trust-anchor": "#a7b8d6",
                "tsa": "#8e44ad", "tsa-ca": "#b58fc7"}
_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans CJK JP','Noto Sans JP',
sans-serif;margin:0 auto;padding:1rem 1rem 2rem;color:#1d2939;max-width:1100px;line-height:1.5;
overflow-wrap:anywhere}
h1{font-size:1.4rem;margin:.5rem 0}h2{font-size:1.15rem;margin-top:2rem}
.verdict{display:inline-block;padding:.1rem .6rem;border-radius:.3rem;color:#fff;font-weight:600}
.summary{font-size:1.05rem;border-left:.3rem solid #98a2b3;background:#f9fafb;
padding:.6rem .9rem;margin:1rem 0}
.explain{margin:.3rem 0}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem;max-width:100%}
td,th{border:1px solid #d0d5dd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f7;font-weight:600}.muted{color:#596273}code{font-size:.85rem;
word-break:break-all}
.facts th{width:13rem}
.scroll{overflow-x:auto;max-width:100%}
.scroll table{min-width:40rem}.scroll td,.scroll th{overflow-wrap:break-word}
.timeline{margin:1rem 0}
.timeline svg{display:block;width:100%;border:1px solid #eaecf0}
svg text{font-family:inherit;font-size:11px}
.tick text{text-anchor:middle}.tick-end text{text-anchor:end}.tick-start text{text-anchor:start}
.legend{list-style:none;padding:0;margin:.4rem 0;font-size:.85rem}
.legend li{margin:.15rem 0;padding-left:1.6rem;text-indent:-1.6rem}
.swatch{display:inline-block;width:1.1rem;height:.7rem;margin-right:.5rem;border-radius:2px;
vertical-align:middle}
.line{display:inline-block;width:1.1rem;height:0;margin-right:.5rem;vertical-align:middle;
border-top:3px dashed}
.line.carried{border-top-style:solid;border-top-width:5px}
.num{display:inline-block;min-width:1.1rem;font-weight:600}
.legend .num,.legend .swatch,.legend .line{text-indent:0}
@media (max-width:640px){
body{padding:.6rem}
h1{font-size:1.2rem}
.facts th,.facts td{display:block;width:auto;border-bottom:0}
.facts tr:last-child td{border-bottom:1px solid #d0d5dd}
.tick-minor{display:none}
}
@media print{
@page{size:A4;margin:14mm 12mm}
.scroll table{min-width:0}
body{max-width:none;padding:0;font-size:10pt}
.summary{background:none}
section,figure,tr{break-inside:avoid}
h2{break-after:avoid}
.scroll{overflow:visible}
.verdict{-webkit-print-color-adjust:exact;print-color-adjust:exact}
.timeline svg,.swatch{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""


def escape(text: str) -> str:
    """HTML-escaped, with control characters and lone surrogates shown as escapes."""
    return _escape(printable(text))


def _year_ticks(lo: datetime, hi: datetime, most: int = 20) -> list[datetime]:
    """January 1st of every year (every 2nd, 5th, 10th... so that at most ``most`` are
    drawn) between ``lo`` and ``hi``; clamped to the years :class:`datetime` can hold (a
    certificate valid until 9999-12-31, a validation time in year 1)."""
    first, last = lo.year + (0 if (lo.month, lo.day) == (1, 1) and lo.time() == lo.min.time()
                             else 1), hi.year
    years = last - first + 1
    step = next((s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
                 if years / s <= most), 10000)
    start = -(-first // step) * step
    return [lo.replace(year=year, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
            for year in range(max(start, 1), min(last, MAXYEAR) + 1, step)]


def _ts_kind(kind: TimestampKind | str) -> str:
    """A time-stamp's kind in the glossary's words (the token when it has none)."""
    value = kind.value if isinstance(kind, TimestampKind) else kind
    english = {
        "signature": "signature time-stamp", "archive": "archive time-stamp",
        "document": "document time-stamp", "evidence-record": "evidence record",
    }.get(value)
    return term(english) if english else value


def to_html(report: ValidationReport, *, title: str = _DEFAULT_TITLE,
            options: ReportOptions = _DEFAULT_OPTIONS) -> str:
    """The report as one HTML document (UTF-8 text) in ``options.lang``.

    An unknown ``options.tz`` raises :class:`ValueError` naming it.
    """
    options = normalized(options)
    resolve_timezone(options.tz, options.lang)
    with use_language(options.lang):
        return _page(report, title, options)


def _page(report: ValidationReport, title: str, options: ReportOptions) -> str:
    shown_title = _("validation report") if title == _DEFAULT_TITLE else title
    token = report.indication.token
    color = _COLORS.get(report.indication, "#475467")
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{escape(options.lang)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(shown_title)} — {token}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>{escape(shown_title)}: <span class=\"verdict\" id=\"overall\" "
        f"style=\"background:{color}\">{escape(indication_label(token, options.lang))} "
        f"({token})</span></h1>",
        f"<p class=\"summary\" id=\"summary\">{escape(summary(report, options))}</p>",
        f"<p class=\"muted\">{escape(_meta(report, options))}</p>",
    ]
    note_word = escape(_("Note:"))
    for note in report.warnings:
        parts.append(f"<p class=\"muted\">{note_word} {escape(note)}</p>")
    for index, sig in enumerate(report.signatures):
        parts.append(_signature(sig, index, options))
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _meta(report: ValidationReport, options: ReportOptions) -> str:
    return _("Validated at %(when)s (%(mode)s) under policy %(policy)s; document SHA-256 "
             "%(sha)s; schema %(schema)s.") % {
        "when": time_text(report.validation_time, options),
        "mode": _("offline") if report.offline else _("online"),
        "policy": report.policy, "sha": report.document_sha256, "schema": report.schema}


def _signer_rows(signer: SignerSummary | None,
                 options: ReportOptions) -> list[tuple[str, str, str]]:
    """(label, HTML value, row id) of who signed."""
    if signer is None:
        return [(_("Signer"), "-", "signer")]
    rows = [
        (_("Signer"), f"<strong class=\"holder-name\">{escape(signer.display_name)}"
                      f"</strong>", "signer"),
        (_("Key"), escape(f"{key_kind_text(signer.key_kind)} ({signer.key_algorithm}-"
                          f"{signer.key_size})"), "key"),
        (_("Issuing CA"), escape(signer.issuer_name or signer.issuer), "issuer"),
        (_("Certificate subject"), f"<code>{escape(signer.subject)}</code>", "subject"),
        (_("Certificate validity"), escape(f"{time_text(signer.not_before, options)} – "
                                           f"{time_text(signer.not_after, options)}"),
         "validity"),
    ]
    if options.show_holder_details:
        rows += [
            (_("Address"), escape(signer.holder_address or "-"), "holder-address"),
            (_("Date of birth"), escape(signer.holder_date_of_birth or "-"),
             "holder-date-of-birth"),
            (_("Gender"), escape(_gender(signer.holder_gender)), "holder-gender"),
        ]
    return rows


def _gender(code: str | None) -> str:
    """JIS X 0303 codes in words (the code itself when unknown)."""
    words = {"0": _("unknown"), "1": _("male"), "2": _("female"), "9": _("not applicable")}
    return words.get(code or "", code or "-")


def _poe_text(sig: SignatureReport, options: ReportOptions) -> str:
    poe = sig.poe
    if poe is None:
        return "-"
    if poe.source == "validation-time":
        return _("none needed: the signer's certificate is valid at the validation time")
    return _("%(kind)s of %(when)s") % {"kind": _ts_kind(poe.source),
                                        "when": time_text(poe.time, options)}


def _signature(sig: SignatureReport, index: int, options: ReportOptions) -> str:
    color = _COLORS.get(sig.indication, "#475467")
    sub = sig.subindication.token if sig.subindication else None
    token = sig.indication.token + (f" / {sub}" if sub else "")
    rows: list[tuple[str, str, str]] = [*_signer_rows(sig.signer, options)]
    rows += [
        (_("Format / level"),
         f"{sig.format.value.upper()} {sig.level.value if sig.level else '-'}"
         + (f" ({escape(sig.form)})" if sig.form else ""), "format"),
        (_("Claimed signing time"), escape(time_text(sig.signing_time, options)),
         "signing-time"),
        (_("Best signature time"), escape(time_text(sig.best_signature_time, options)),
         "best-signature-time"),
        (_("Proof of existence"), escape(_poe_text(sig, options)), "poe"),
        (_("Algorithms"),
         escape(f"{sig.digest_algorithm or '-'} / {sig.signature_algorithm or '-'}"),
         "algorithms"),
    ]
    if sig.pdf_changes_after_signing is not None:
        rows.append((_("Changes after signing"), escape(sig.pdf_changes_after_signing),
                     "changes"))
    if sig.weakest_algorithm is not None:
        w = sig.weakest_algorithm
        rows.append((_("Weakest algorithm"), escape(
            _("%(algorithm)s in the %(what)s (sunset %(date)s)") % {
                "algorithm": w.algorithm, "what": w.what,
                "date": date_text(w.sunset, options)}), "weakest-algorithm"))
    if sig.message:
        rows.append((_("Reason"), escape(sig.message), "reason"))
    out = [
        f"<section id=\"signature-{index + 1}\"><h2>{escape(sig.id)}: "
        f"<span class=\"verdict\" style=\"background:{color}\">"
        f"{escape(indication_label(sig.indication.token, options.lang))} ({token})"
        f"</span></h2>",
        f"<p class=\"explain\">{escape(explain(sig.indication.token, sub, options.lang))}"
        f"</p>",
        "<table class=\"facts\">",
        *(f"<tr class=\"row-{rid}\"><th>{escape(name)}</th><td>{value}</td>"
          f"</tr>" for name, value, rid in rows),
        "</table>",
        _timeline(sig, index, options),
    ]
    if sig.timestamps:
        region, kind_h, result_h, poe_h = (escape(w) for w in (
            _("Time-stamps"), _("Time-stamp"), _("Result"), _("POE")))
        yes, no = _("yes"), _("no")
        out.append(f"<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\""
                   f"{region}\"><table class=\"timestamps\"><tr><th scope=\"col\">#</th>"
                   f"<th scope=\"col\">{kind_h}</th>"
                   f"<th scope=\"col\">genTime</th><th scope=\"col\">TSA</th>"
                   f"<th scope=\"col\">{result_h}</th><th scope=\"col\">{poe_h}</th></tr>")
        for i, ts in enumerate(sig.timestamps):
            result = ts.indication.token + (f" / {ts.subindication.token}"
                                            if ts.subindication else "")
            if ts.past_validation:
                result += " " + _("(past validation)")
            note = (f"<br><span class=\"muted\">{escape(ts.message)}</span>"
                    if ts.message else "")
            out.append(
                f"<tr><td>{i}</td><td>{escape(_ts_kind(ts.kind))}</td>"
                f"<td>{escape(time_text(ts.gen_time, options))}</td>"
                f"<td>{escape(ts.tsa or '-')}</td><td>{escape(result)}{note}</td>"
                f"<td>{escape(yes if ts.used_as_poe else no)}</td></tr>")
        out.append("</table></div>")
    out.append(_signed_data(sig))
    for label, items in ((_("Errors"), sig.errors), (_("Warnings"), sig.warnings)):
        if items:
            out.append(f"<p><strong>{escape(label)}</strong></p><ul>"
                       + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")
    out.append("</section>")
    return "\n".join(out)


#: Short names of the XMLDSIG transforms a baseline signature uses (the page names no URLs).
_TRANSFORMS = {
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature": "enveloped-signature",
    "http://www.w3.org/2000/09/xmldsig#base64": "base64",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315": "C14N 1.0",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments": "C14N 1.0 with comments",
    "http://www.w3.org/2006/12/xml-c14n11": "C14N 1.1",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments": "C14N 1.1 with comments",
    "http://www.w3.org/2001/10/xml-exc-c14n#": "exclusive C14N",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments": "exclusive C14N with comments",
}


def _signed_data(sig: SignatureReport) -> str:
    """The signed data objects (XAdES references) and the unsigned content, if known."""
    out: list[str] = []
    if sig.signed_data_objects:
        objects_h, signs_h, transforms_h, digest_h, mime_h = (escape(w) for w in (
            _("Signed data objects"), _("Signs"), _("Transforms"), _("Digest"),
            _("MIME type")))
        out.append(f"<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\""
                   f"{objects_h}\"><table class=\"signed-data-objects\"><caption>"
                   f"{objects_h}</caption><tr><th scope=\"col\">#</th>"
                   f"<th scope=\"col\">URI</th><th scope=\"col\">{signs_h}</th>"
                   f"<th scope=\"col\">{transforms_h}</th><th scope=\"col\">{digest_h}</th>"
                   f"<th scope=\"col\">{mime_h}</th></tr>")
        for i, obj in enumerate(sig.signed_data_objects):
            where = f"<br><code>{escape(obj.path)}</code>" if obj.path else ""
            what = escape(obj.resolved_to) + (
                " " + escape(_("(signed properties)")) if obj.signed_properties else "")
            transforms = "<br>".join(f"<code>{escape(_TRANSFORMS.get(t, t))}</code>"
                                     for t in obj.transforms) or "-"
            uri = '""' if obj.uri == "" else (obj.uri or "-")
            out.append(
                f"<tr><td>{i}</td><td><code>{escape(uri)}</code></td>"
                f"<td>{what}{where}</td><td>{transforms}</td>"
                f"<td>{escape(obj.digest_algorithm)}</td>"
                f"<td>{escape(obj.mime_type or '-')}</td></tr>")
        out.append("</table></div>")
    if sig.unsigned_content:
        unsigned_h = escape(_("Unsigned content"))
        unsigned_note = escape(_("(in the file, outside every reference: not signed)"))
        out.append(f"<p class=\"unsigned-content\" style=\"color:#b42318\"><strong>"
                   f"{unsigned_h}</strong> {unsigned_note}</p><ul>"
                   + "".join(f"<li>{escape(u.description)}</li>" for u in sig.unsigned_content)
                   + "</ul>")
    return "\n".join(out)


def _role_text(role: str) -> str:
    return {"signer": _("signer"), "signer-ca": _("signer's CA"),
            "trust-anchor": term("trust anchor"), "tsa": term("time-stamp authority"),
            "tsa-ca": _("TSA's CA")}.get(role, role)


def _cn(subject: str) -> str:
    for part in subject.split(","):
        if part.strip().upper().startswith("CN="):
            return part.strip()[3:]
    return subject


def _timeline(sig: SignatureReport, index: int, options: ReportOptions) -> str:
    """Inline SVG (bars and markers, placed by percentages) and an HTML legend (names and
    times, which wrap): no label is cut off at any width."""
    times: list[datetime] = [sig.validation_time, sig.best_signature_time]
    for c in sig.certificates:
        times += [c.not_before, c.not_after]
        if c.revocation_time:
            times.append(c.revocation_time)
    times += [t.gen_time for t in sig.timestamps if t.gen_time.year > 1]
    if sig.signing_time:
        times.append(sig.signing_time)
    lo, hi = min(times), max(times)
    span = max((hi - lo).total_seconds(), 86400.0)
    row_h, top = 22, 24
    rows = len(sig.certificates)
    height = top + rows * row_h + 8
    left_pct, right_pct = 7.0, 98.0  # the row numbers live left of the plot

    def x(when: datetime) -> float:
        return left_pct + (right_pct - left_pct) * (when - lo).total_seconds() / span

    label = _("timeline of %(id)s") % {"id": sig.id}
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="timeline-svg" '
           f'id="timeline-{index + 1}" width="100%" height="{height}" '
           f'aria-label="{escape(label)}">',
           f'<rect x="0" y="0" width="100%" height="{height}" fill="#fcfcfd"/>']
    ticks = _year_ticks(lo, hi, most=10)
    for n, tick in enumerate(ticks):
        at = x(tick)
        minor = " tick-minor" if len(ticks) > 5 and n % 2 else ""
        # the label sits in a 1-unit viewport at the tick (text keeps its size at any width);
        # near either edge it is anchored inwards so it never leaves the picture
        anchor = " tick-end" if at > 90 else (" tick-start" if at < 12 else "")
        svg.append(f'<g class="tick{minor}{anchor}"><line x1="{at:.2f}%" y1="{top - 6}" '
                   f'x2="{at:.2f}%" y2="{height - 4}" stroke="#eaecf0"/>'
                   f'<svg x="{at:.2f}%" y="0" width="1" height="{top}" overflow="visible">'
                   f'<text x="0" y="{top - 10}" fill="#667085">{tick.year}</text></svg></g>')
    legend: list[str] = []
    revoked_word = escape(_("revoked"))
    carried_word = escape(_("carried the verdict"))
    for row, cert in enumerate(sig.certificates):
        y = top + row * row_h
        color = _ROLE_COLORS.get(cert.role, "#98a2b3")
        svg.append(f'<text x="4" y="{y + 14}" fill="#344054">{row + 1}</text>')
        start, end = x(cert.not_before), x(cert.not_after)
        svg.append(f'<rect class="validity" data-role="{escape(cert.role)}" '
                   f'x="{start:.2f}%" y="{y + 4}" width="{max(end - start, 0.2):.2f}%" '
                   f'height="12" rx="3" fill="{color}"><title>{escape(cert.subject)}: '
                   f'{escape(time_text(cert.not_before, options))} – '
                   f'{escape(time_text(cert.not_after, options))}</title></rect>')
        revoked = ""
        if cert.revocation_time is not None:
            rx = x(cert.revocation_time)
            revoked_at = time_text(cert.revocation_time, options)
            svg.append(f'<g class="revocation"><line x1="{rx:.2f}%" y1="{y + 1}" '
                       f'x2="{rx:.2f}%" y2="{y + 19}" stroke="#d92d20" stroke-width="3"/>'
                       f'<title>{revoked_word} {escape(revoked_at)} '
                       f'({escape(cert.revocation_reason or "-")})</title></g>')
            revoked = (f" — <strong style=\"color:#b42318\">{escape(term('revocation'))}"
                       f" {escape(revoked_at)}</strong>")
        legend.append(
            f"<li><span class=\"num\">{row + 1}</span><span class=\"swatch\" "
            f"style=\"background:{color}\"></span>{escape(_role_text(cert.role))}: "
            f"{escape(_cn(cert.subject))} <span class=\"muted\">("
            f"{escape(date_text(cert.not_before, options))} – "
            f"{escape(date_text(cert.not_after, options))})</span>{revoked}</li>")
    markers: list[tuple[str, str, datetime, str, bool]] = [
        ("validation time", _("validation time"), sig.validation_time, "#101828", False),
        ("best signature time", _("best signature time"), sig.best_signature_time,
         "#1b7f3b", False),
    ]
    if sig.signing_time:
        markers.append(("claimed signing time", _("claimed signing time"), sig.signing_time,
                        "#f79009", False))
    poe_index = sig.poe.timestamp_index if sig.poe else None
    for i, ts in enumerate(sig.timestamps):
        if ts.gen_time.year > 1:
            markers.append((f"{ts.kind.value} time-stamp #{i}", f"{_ts_kind(ts.kind)} #{i}",
                            ts.gen_time, "#8e44ad", i == poe_index))
    marker_items: list[str] = []
    for key, shown, when, color, carried in markers:
        mx = x(when)
        width_px = 4 if carried else 1.5
        svg.append(f'<g class="marker" data-label="{escape(key)}">'
                   f'<line x1="{mx:.2f}%" y1="{top - 4}" x2="{mx:.2f}%" y2="{height - 2}" '
                   f'stroke="{color}" stroke-width="{width_px}" stroke-dasharray="'
                   f'{"none" if carried else "4 3"}"/>'
                   f'<title>{escape(shown)}: {escape(time_text(when, options))}</title></g>')
        marker_items.append(
            f"<li class=\"{'carried' if carried else 'mark'}\"><span class=\"line"
            f"{' carried' if carried else ''}\" style=\"border-color:{color}\"></span>"
            f"{'★ ' if carried else ''}{escape(shown)}: "
            f"{escape(time_text(when, options))}"
            f"{(' — ' + carried_word) if carried else ''}</li>")
    svg.append("</svg>")
    caption = _("Timeline: validity of each certificate and the moments that matter")
    return (f"<figure class=\"timeline\"><figcaption class=\"muted\">{escape(caption)}"
            f"</figcaption>\n" + "\n".join(svg)
            + f"\n<ol class=\"legend certificates\">{''.join(legend)}</ol>"
            + f"\n<ul class=\"legend markers\">{''.join(marker_items)}</ul></figure>")
