"""A self-contained HTML page of a validation report, with an inline SVG timeline.

No external resources (no scripts, fonts, images or style sheets from elsewhere): the page
renders the same offline, in an archive, decades later. Per signature: the verdict, the signer,
the time-stamps, and a timeline with one validity bar per certificate (signer, CAs, TSAs), a
red mark at a known revocation, markers for the claimed signing time, each time-stamp, the
best-signature-time and the validation time, with the POE that carried the verdict highlighted.
XAdES signatures list what they sign (each reference: URI, what it resolved to, transforms,
digest) and, highlighted, any content of the file that no reference signs.
"""

from __future__ import annotations

from datetime import MAXYEAR, datetime
from html import escape as _escape

from ltv.clock import format_time
from ltv.validation.model import Indication, SignatureReport, ValidationReport
from ltv.validation.safetext import printable

__all__ = ["to_html"]

_COLORS = {
    Indication.TOTAL_PASSED: "#1b7f3b",
    Indication.TOTAL_FAILED: "#b42318",
    Indication.INDETERMINATE: "#b54708",
}
_ROLE_COLORS = {"signer": "#2f6fde", "signer-ca": "#7a9cd9", "trust-anchor": "#a7b8d6",
                "tsa": "#8e44ad", "tsa-ca": "#b58fc7"}
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans CJK JP',sans-serif;margin:2rem;
color:#1d2939;max-width:1100px}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
.verdict{display:inline-block;padding:.2rem .6rem;border-radius:.3rem;color:#fff;font-weight:600}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
td,th{border:1px solid #d0d5dd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f7}.muted{color:#667085}code{font-size:.85rem}
svg text{font-family:inherit;font-size:11px}
"""


def escape(text: str) -> str:
    """HTML-escaped, with control characters and lone surrogates shown as escapes."""
    return _escape(printable(text))


def _year_ticks(lo: datetime, hi: datetime) -> list[datetime]:
    """January 1st of every year (every 2nd, 5th, 10th... so that at most ~20 are drawn)
    between ``lo`` and ``hi``; clamped to the years :class:`datetime` can hold (a certificate
    valid until 9999-12-31, a validation time in year 1)."""
    first, last = lo.year + (0 if (lo.month, lo.day) == (1, 1) and lo.time() == lo.min.time()
                             else 1), hi.year
    years = last - first + 1
    step = next((s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
                 if years / s <= 20), 10000)
    start = -(-first // step) * step
    return [lo.replace(year=year, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
            for year in range(max(start, 1), min(last, MAXYEAR) + 1, step)]


def _t(value: datetime | None) -> str:
    return format_time(value) if value is not None else "-"


def to_html(report: ValidationReport, *, title: str = "validation report") -> str:
    """The report as one HTML document (UTF-8 text)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)} — {report.indication.token}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}: <span class=\"verdict\" style=\"background:"
        f"{_COLORS.get(report.indication, '#475467')}\">{report.indication.token}</span></h1>",
        f"<p class=\"muted\">Validated at {_t(report.validation_time)} "
        f"({'offline' if report.offline else 'online'}) under policy "
        f"{escape(report.policy)}; document SHA-256 <code>{report.document_sha256}</code>; "
        f"schema {escape(report.schema)}.</p>",
    ]
    for note in report.warnings:
        parts.append(f"<p class=\"muted\">Note: {escape(note)}</p>")
    for index, sig in enumerate(report.signatures):
        parts.append(_signature(sig, index))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _signature(sig: SignatureReport, index: int) -> str:
    color = _COLORS.get(sig.indication, "#475467")
    sub = f" / {sig.subindication.token}" if sig.subindication else ""
    rows = [
        ("Format / level", f"{sig.format.value.upper()} {sig.level.value if sig.level else '-'}"),
        ("Signer", escape(sig.signer.subject) if sig.signer else "-"),
        ("Key", (f"{sig.signer.key_kind.label} ({sig.signer.key_algorithm}-"
                 f"{sig.signer.key_size})") if sig.signer else "-"),
        ("Claimed signing time", _t(sig.signing_time)),
        ("Best signature time", _t(sig.best_signature_time)),
        ("Proof of existence", escape(sig.poe.description) if sig.poe else "-"),
        ("Algorithms", escape(f"{sig.digest_algorithm or '-'} / {sig.signature_algorithm or '-'}")),
    ]
    if sig.pdf_changes_after_signing is not None:
        rows.append(("Changes after signing", escape(sig.pdf_changes_after_signing)))
    if sig.weakest_algorithm is not None:
        w = sig.weakest_algorithm
        rows.append(("Weakest algorithm", escape(f"{w.algorithm} in the {w.what} "
                                                 f"(sunset {w.sunset.date().isoformat()})")))
    if sig.message:
        rows.append(("Reason", escape(sig.message)))
    out = [
        f"<section id=\"signature-{index + 1}\"><h2>{escape(sig.id)}: "
        f"<span class=\"verdict\" style=\"background:{color}\">{sig.indication.token}{sub}"
        f"</span></h2>",
        "<table>",
        *(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows),
        "</table>",
        _timeline(sig, index),
    ]
    if sig.timestamps:
        out.append("<table><tr><th>#</th><th>Time-stamp</th><th>genTime</th><th>TSA</th>"
                   "<th>Result</th><th>POE</th></tr>")
        for i, ts in enumerate(sig.timestamps):
            result = ts.indication.token + (f" / {ts.subindication.token}"
                                            if ts.subindication else "")
            if ts.past_validation:
                result += " (past validation)"
            out.append(
                f"<tr><td>{i}</td><td>{ts.kind.value}</td><td>{_t(ts.gen_time)}</td>"
                f"<td>{escape(ts.tsa or '-')}</td><td>{escape(result)}"
                f"{'<br><span class=muted>' + escape(ts.message) + '</span>' if ts.message else ''}"
                f"</td><td>{'yes' if ts.used_as_poe else 'no'}</td></tr>")
        out.append("</table>")
    out.append(_signed_data(sig))
    for label, items in (("Errors", sig.errors), ("Warnings", sig.warnings)):
        if items:
            out.append(f"<p><strong>{label}</strong></p><ul>"
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
        out.append("<table class=\"signed-data-objects\"><caption>Signed data objects"
                   "</caption><tr><th>#</th><th>URI</th><th>Signs</th><th>Transforms</th>"
                   "<th>Digest</th><th>MIME type</th></tr>")
        for i, obj in enumerate(sig.signed_data_objects):
            where = f"<br><code>{escape(obj.path)}</code>" if obj.path else ""
            what = escape(obj.resolved_to) + (" (signed properties)"
                                              if obj.signed_properties else "")
            transforms = "<br>".join(f"<code>{escape(_TRANSFORMS.get(t, t))}</code>"
                                     for t in obj.transforms) or "-"
            uri = '""' if obj.uri == "" else (obj.uri or "-")
            out.append(
                f"<tr><td>{i}</td><td><code>{escape(uri)}</code></td>"
                f"<td>{what}{where}</td><td>{transforms}</td>"
                f"<td>{escape(obj.digest_algorithm)}</td>"
                f"<td>{escape(obj.mime_type or '-')}</td></tr>")
        out.append("</table>")
    if sig.unsigned_content:
        out.append("<p class=\"unsigned-content\" style=\"color:#b42318\"><strong>Unsigned "
                   "content</strong> (in the file, outside every reference: not signed)</p><ul>"
                   + "".join(f"<li>{escape(u.description)}</li>" for u in sig.unsigned_content)
                   + "</ul>")
    return "\n".join(out)


def _timeline(sig: SignatureReport, index: int) -> str:
    """Inline SVG: validity bars, revocation marks, time markers (no external resources)."""
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
    pad = span * 0.04
    left, width, label_w = 250, 800, 240
    row_h = 22
    top = 30
    rows = len(sig.certificates)
    markers_y = top + rows * row_h + 10
    height = markers_y + 30 + 18 * (len(sig.timestamps) + 3)

    def x(when: datetime) -> float:
        seconds = (when - lo).total_seconds() + pad
        return left + width * seconds / (span + 2 * pad)

    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="timeline" '
           f'id="timeline-{index + 1}" width="{left + width + 20}" height="{height}" '
           f'aria-label="timeline of {escape(sig.id)}">',
           f'<rect x="0" y="0" width="{left + width + 20}" height="{height}" fill="#fcfcfd"/>']
    for tick in _year_ticks(lo, hi):
        svg.append(f'<line x1="{x(tick):.1f}" y1="{top - 8}" x2="{x(tick):.1f}" '
                   f'y2="{markers_y}" stroke="#eaecf0"/>'
                   f'<text x="{x(tick) + 2:.1f}" y="{top - 12}" fill="#667085">{tick.year}</text>')
    for row, cert in enumerate(sig.certificates):
        y = top + row * row_h
        color = _ROLE_COLORS.get(cert.role, "#98a2b3")
        name = cert.subject.split(",")[0]
        svg.append(f'<text x="4" y="{y + 14}" fill="#344054">{escape(cert.role)}: '
                   f'{escape(name[:label_w // 7])}</text>')
        svg.append(f'<rect class="validity" data-role="{escape(cert.role)}" '
                   f'x="{x(cert.not_before):.1f}" y="{y + 4}" '
                   f'width="{max(x(cert.not_after) - x(cert.not_before), 1):.1f}" height="12" '
                   f'rx="3" fill="{color}"><title>{escape(cert.subject)}: '
                   f'{_t(cert.not_before)} – {_t(cert.not_after)}</title></rect>')
        if cert.revocation_time is not None:
            rx = x(cert.revocation_time)
            svg.append(f'<g class="revocation"><line x1="{rx:.1f}" y1="{y + 1}" x2="{rx:.1f}" '
                       f'y2="{y + 19}" stroke="#d92d20" stroke-width="3"/>'
                       f'<title>revoked {_t(cert.revocation_time)} '
                       f'({escape(cert.revocation_reason or "no reason")})</title></g>')
    markers: list[tuple[str, datetime, str, bool]] = [
        ("validation time", sig.validation_time, "#101828", False),
        ("best signature time", sig.best_signature_time, "#1b7f3b", False),
    ]
    if sig.signing_time:
        markers.append(("claimed signing time", sig.signing_time, "#f79009", False))
    poe_index = sig.poe.timestamp_index if sig.poe else None
    for i, ts in enumerate(sig.timestamps):
        if ts.gen_time.year > 1:
            markers.append((f"{ts.kind.value} time-stamp #{i}", ts.gen_time, "#8e44ad",
                            i == poe_index))
    for n, (label, when, color, carried) in enumerate(markers):
        mx = x(when)
        width_px = 4 if carried else 1.5
        svg.append(f'<g class="marker" data-label="{escape(label)}">'
                   f'<line x1="{mx:.1f}" y1="{top - 4}" x2="{mx:.1f}" y2="{markers_y}" '
                   f'stroke="{color}" stroke-width="{width_px}" stroke-dasharray="'
                   f'{"none" if carried else "4 3"}"/>'
                   f'<title>{escape(label)}: {_t(when)}</title></g>')
        ly = markers_y + 18 + 18 * n
        svg.append(f'<text x="4" y="{ly}" fill="{color}">{"★ " if carried else ""}'
                   f'{escape(label)}: {_t(when)}{" — carried the verdict" if carried else ""}'
                   f'</text>')
    svg.append("</svg>")
    return "\n".join(svg)
