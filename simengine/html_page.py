"""A self-contained HTML page: inline CSS, charts as embedded PNG data, no external resource.

The page must open offline and print well, so nothing is fetched: no fonts, scripts or
style sheets from elsewhere, and every image is a data: URI. Reports travel by mail and
board packs, and scenario names, descriptions and currencies are free text: every string
reaches the page through `esc` (the builders below call it), and a Content-Security-Policy
that allows no script and no remote load is the first thing in every page's head.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #111; max-width: 1100px;
       margin: 2em auto; padding: 0 1.5em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 2px solid #333; padding-bottom: 0.15em; margin-top: 2em; }
.lead { font-size: 1.05em; color: #333; white-space: pre-line; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15em 1.2em; margin: 1em 0; }
.facts dt { font-weight: bold; }
.facts dd { margin: 0; }
.headline { border: 2px solid #333; padding: 0.6em 1em; margin: 1em 0; }
.headline p { margin: 0.25em 0; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #999; padding: 0.25em 0.6em; text-align: right; vertical-align: top;
         white-space: nowrap; }
td .se { display: block; color: #555; font-size: 0.85em; }
th { background: #eee; }
td.text, th.text { text-align: left; white-space: normal; }
figure { margin: 1.2em 0; page-break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid #ccc; }
figcaption { font-size: 0.9em; color: #333; margin-top: 0.3em; }
.note { font-size: 0.85em; color: #444; }
@media print { body { margin: 0; max-width: none; } h2 { page-break-after: avoid; } }
"""


@dataclass
class Chart:
    """One chart: a file stem for its PNG, alternative text, a caption, and the PNG itself."""

    stem: str
    alt: str
    caption: str
    png: bytes


#: What the page needs and nothing more: its inline style and its data: images. No script,
#: no frame, no font, no form target, no <base> and no fetch of anything from anywhere.
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
       "form-action 'none'")


def esc(text) -> str:
    """Text made inert in HTML content and quoted attributes: the one escaping helper."""
    return html.escape(str(text), quote=True)


def heading(text: str, level: int = 1) -> str:
    """A heading whose text is escaped (a scenario's name is free text)."""
    return f"<h{level}>{esc(text)}</h{level}>"


def figure(chart: Chart) -> str:
    data = base64.b64encode(chart.png).decode("ascii")
    return (f'<figure id="{esc(chart.stem)}"><img src="data:image/png;base64,{data}" alt="{esc(chart.alt)}">'
            f"<figcaption>{esc(chart.caption)}</figcaption></figure>")


def table(headers: list[str], rows: list[list], text_columns: int = 1) -> str:
    """An HTML table; the first `text_columns` columns are left-aligned text. A cell given as
    (value, note) shows the note (a standard error) on a second, smaller line."""
    def cell(tag, value, j):
        cls = ' class="text"' if j < text_columns else ""
        if isinstance(value, tuple):
            main, note = value
            inner = esc(main) + (f'<span class="se">{esc(note)}</span>' if note else "")
        else:
            inner = esc(value)
        return f"<{tag}{cls}>{inner}</{tag}>"
    head = "".join(cell("th", h, j) for j, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", v, j) for j, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def facts(pairs: list[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs) + "</dl>"


def paragraph(text: str, cls: str = "") -> str:
    attr = f' class="{esc(cls)}"' if cls else ""
    return f"<p{attr}>{esc(text)}</p>"


def section(title: str, *parts: str) -> str:
    return f"<section><h2>{esc(title)}</h2>{''.join(parts)}</section>"


def page(title: str, *parts: str) -> str:
    """The whole document: the CSP first in <head>, so that it governs everything after it;
    `parts` are fragments built by the helpers above."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head>"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{esc(CSP)}\"><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"{''.join(parts)}</body></html>\n")
