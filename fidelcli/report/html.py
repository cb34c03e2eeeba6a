"""report.html: one self-contained page (inline CSS and SVG, no script, no font or file fetched).

The page has a table of contents, the headline KPI cards (value, change, sparkline), then one
section per analysis (its charts and tables, `fidelcli.report.views`). It reads well from a phone
(one column under 700 px, tables scroll sideways) to a laptop, and prints cleanly (print CSS: no
TOC, no page break inside a chart or a card). Numbers are formatted by the caller's `Formatter`
(the terminal's rules, in the report's language); this module only lays them out.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from fidelcli.cli.labels import LABEL_COLUMNS, value_label
from fidelcli.report.views import Block, Chart, Note, TableBlock
from fidelcli.report.warnings_fr import french_warning

# headers, formatted rows, right-aligned columns (`fidelcli.cli.render.formatted_cells`).
Cells = Callable[[pl.DataFrame], tuple[list[str], list[list[str]], list[bool]]]


@dataclass
class Card:
    """A headline KPI: its label, formatted value, change (text and sign: 1 up, -1 down, 0), sparkline SVG."""

    key: str
    label: str
    value: str
    change: str = ""
    sign: int = 0
    spark: str = ""


@dataclass
class PageSection:
    anchor: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


CSS = """
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#fff;--card:#f9fafb;--up:#15803d;--down:#b91c1c;--accent:#2563eb}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:1.2rem 1.5rem;border-bottom:1px solid var(--line)}
header h1{margin:0;font-size:1.5rem}
header p{margin:.2rem 0 0;color:var(--muted)}
.layout{display:grid;grid-template-columns:220px minmax(0,1fr);gap:1.5rem;padding:1rem 1.5rem;max-width:1400px}
nav.toc{position:sticky;top:1rem;align-self:start;font-size:.9rem}
nav.toc ol{padding-left:1.2rem;margin:.3rem 0}
nav.toc a{color:var(--accent);text-decoration:none}
main section{margin:0 0 2rem;break-inside:auto}
h2{font-size:1.2rem;border-bottom:2px solid var(--line);padding-bottom:.2rem}
h3{font-size:1rem;margin:1rem 0 .4rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:.7rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.6rem .8rem;break-inside:avoid}
.card .label{color:var(--muted);font-size:.8rem}
.card .value{font-size:1.35rem;font-weight:600;font-variant-numeric:tabular-nums}
.card .change{font-size:.8rem}
.up{color:var(--up)}.down{color:var(--down)}.flat{color:var(--muted)}
.spark{color:var(--accent);display:block;margin-top:.2rem}
figure{margin:.5rem 0 1rem;break-inside:avoid}
figure svg{width:100%;height:auto;max-width:900px}
figure .tip:hover{opacity:.7}
.table{overflow-x:auto;margin-bottom:.6rem}
table{border-collapse:collapse;font-size:.85rem;font-variant-numeric:tabular-nums}
th,td{padding:.25rem .6rem;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{background:var(--card)}
td.num,th.num{text-align:right}
.note{color:var(--muted);font-size:.8rem}
.warn{color:#92400e;font-size:.85rem}
@media (max-width:700px){.layout{grid-template-columns:minmax(0,1fr);padding:.6rem}nav.toc{position:static}header{padding:.8rem}}
@media print{nav.toc{display:none}.layout{display:block;padding:0}body{font-size:11pt}section{break-before:auto}
figure,.card,table{break-inside:avoid}a{color:inherit;text-decoration:none}}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(block: TableBlock, cells: Cells) -> str:
    headers, rows, numeric = cells(block.frame)
    head = "".join(f'<th class="num">{_e(h)}</th>' if n else f"<th>{_e(h)}</th>" for h, n in zip(headers, numeric, strict=True))
    body = "".join("<tr>" + "".join(f'<td class="num">{_e(c)}</td>' if n else f"<td>{_e(c)}</td>" for c, n in zip(r, numeric, strict=True))
                   + "</tr>" for r in rows)
    note = f'<p class="note">{_e(block.note)}</p>' if block.note else ""
    return f'<h3>{_e(block.title)}</h3><div class="table"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{note}'


def _block(block: Block, cells: Cells) -> str:
    if isinstance(block, Chart):
        return f'<figure data-chart="{_e(block.name)}">{block.svg}</figure>'
    if isinstance(block, TableBlock):
        return _table(block, cells)
    assert isinstance(block, Note)
    return f'<p class="note">{_e(block.text)}</p>'


def section_warnings(section: PageSection, lang: str) -> list[str]:
    """The section's warnings in the page's language (the analyses write them in English)."""
    return [french_warning(w) for w in section.warnings] if lang == "fr" else list(section.warnings)


def labelled_cells(cells: Cells, lang: str) -> Cells:
    """`cells` with the values of the label columns (`fidelcli.cli.labels.LABEL_COLUMNS`) in `lang`: a table's row names
    (`uplift (difference in differences)`, `revenue_per_customer`...) read like its headers. Translated after formatting,
    since the formatting of a long table's values depends on its row names."""
    if lang != "fr":
        return cells

    def labelled(frame: pl.DataFrame) -> tuple[list[str], list[list[str]], list[bool]]:
        headers, rows, numeric = cells(frame)
        at = {i for i, c in enumerate(frame.columns) if c in LABEL_COLUMNS}
        return headers, [[value_label(v, lang) if i in at else v for i, v in enumerate(r)] for r in rows], numeric

    return labelled


def _cards(cards: list[Card]) -> str:
    out = []
    for c in cards:
        cls = "up" if c.sign > 0 else "down" if c.sign < 0 else "flat"
        change = f'<div class="change {cls}">{_e(c.change)}</div>' if c.change else ""
        out.append(f'<div class="card" data-kpi="{_e(c.key)}"><div class="label">{_e(c.label)}</div>'
                   f'<div class="value">{_e(c.value)}</div>{change}{c.spark}</div>')
    return f'<div class="cards">{"".join(out)}</div>'


def page(*, title: str, subtitle: str, lang: str, cards: list[Card], cards_title: str, sections: list[PageSection],
         toc_title: str, cells: Cells, warnings_title: str) -> str:
    """The whole HTML document."""
    toc = [("kpis", cards_title), *[(s.anchor, s.title) for s in sections]]
    nav = "".join(f'<li><a href="#{_e(a)}">{_e(t)}</a></li>' for a, t in toc)
    cells = labelled_cells(cells, lang)
    parts = [f'<section id="kpis"><h2>{_e(cards_title)}</h2>{_cards(cards)}</section>']
    for s in sections:
        colon = " : " if lang == "fr" else ": "
        warn = "".join(f'<p class="warn">{_e(warnings_title)}{colon}{_e(w)}</p>' for w in section_warnings(s, lang))
        blocks = "".join(_block(b, cells) for b in s.blocks)
        parts.append(f'<section id="{_e(s.anchor)}" data-section="{_e(s.anchor)}"><h2>{_e(s.title)}</h2>{warn}{blocks}</section>')
    return (
        f'<!DOCTYPE html>\n<html lang="{_e(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>{_e(subtitle)}</p></header>"
        f'<div class="layout"><nav class="toc" aria-label="{_e(toc_title)}"><strong>{_e(toc_title)}</strong><ol>{nav}</ol></nav>'
        f'<main>{"".join(parts)}</main></div></body></html>\n'
    )
