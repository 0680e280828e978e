"""Reports as data: a ``Document`` of sections (tables, paragraphs, bar charts), rendered to HTML or PDF.

A report module builds one ``Document`` from its records (pure, testable); ``to_html`` gives a printable,
self-contained page (no external assets) and ``core.pdf.to_pdf`` the same content as a PDF, so the two
never disagree.

>>> doc = Document("情况报告", ["燃气泄漏 · I"], [Table("阶段", ("phase", "took"), [("核实", "3 min 0 s")])])
>>> html = to_html(doc)
>>> "<h2>阶段</h2>" in html and "<td>3 min 0 s</td>" in html
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape


@dataclass(frozen=True, slots=True)
class Table:
    heading: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    flagged: frozenset[tuple[int, int]] = frozenset()  # (row, column) cells shown as a warning


@dataclass(frozen=True, slots=True)
class Paragraphs:
    heading: str
    lines: Sequence[str]


@dataclass(frozen=True, slots=True)
class BarChart:
    heading: str
    bars: Sequence[tuple[str, float]]  # (label, value)
    unit: str = ""


Section = Table | Paragraphs | BarChart


@dataclass(frozen=True, slots=True)
class Document:
    title: str
    subtitle: Sequence[str] = ()
    sections: Sequence[Section] = ()
    banner: str = ""  # e.g. "演练 EXERCISE", shown large and red at the top
    lang: str = "zh-CN"
    footer: Sequence[str] = field(default_factory=tuple)


CSS = """
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", sans-serif; margin: 2em; color: #111; }
h1 { font-size: 1.5em; } h2 { font-size: 1.1em; margin-top: 1.6em; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
td, th { border: 1px solid #ccc; padding: .25em .5em; text-align: left; vertical-align: top; }
.flag { color: #b00; font-weight: bold; } .banner { color: #b00; font-weight: bold; font-size: 1.4em; }
.bar { fill: #3b6ea5; } .chart text { font-size: 11px; }
@media print { body { margin: 1cm; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"""


def _table(t: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in t.columns)
    body = []
    for i, row in enumerate(t.rows):
        cells = "".join(f"<td{' class=flag' if (i, j) in t.flagged else ''}>{escape(str(v))}</td>"
                        for j, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<h2>{escape(t.heading)}</h2><table><tr>{head}</tr>{''.join(body)}</table>"


def _chart(c: BarChart) -> str:
    if not c.bars:
        return f"<h2>{escape(c.heading)}</h2><p>—</p>"
    top = max((v for _, v in c.bars), default=0) or 1.0
    row_h, label_w, width = 20, 180, 640
    parts = []
    for i, (label, value) in enumerate(c.bars):
        y = i * row_h
        w = max(0.0, value) / top * (width - label_w - 80)
        parts.append(f"<text x='0' y='{y + 14}'>{escape(label)}</text>"
                     f"<rect class='bar' x='{label_w}' y='{y + 3}' width='{w:.1f}' height='{row_h - 6}'/>"
                     f"<text x='{label_w + w + 6:.1f}' y='{y + 14}'>{value:g}{escape(c.unit)}</text>")
    h = row_h * len(c.bars)
    return (f"<h2>{escape(c.heading)}</h2><svg class='chart' role='img' width='{width}' height='{h}' "
            f"viewBox='0 0 {width} {h}' xmlns='http://www.w3.org/2000/svg'>{''.join(parts)}</svg>")


def to_html(doc: Document) -> str:
    """A self-contained printable page (inline CSS and SVG only)."""
    sections = []
    for s in doc.sections:
        if isinstance(s, Table):
            sections.append(_table(s))
        elif isinstance(s, BarChart):
            sections.append(_chart(s))
        else:
            sections.append(f"<h2>{escape(s.heading)}</h2>" + "".join(f"<p>{escape(x)}</p>" for x in s.lines))
    banner = f"<p class='banner'>{escape(doc.banner)}</p>" if doc.banner else ""
    sub = "".join(f"<p>{escape(x)}</p>" for x in doc.subtitle)
    foot = "".join(f"<p><small>{escape(x)}</small></p>" for x in doc.footer)
    return (f"<!doctype html>\n<html lang='{escape(doc.lang)}'><head><meta charset='utf-8'>"
            f"<title>{escape(doc.title)}</title><style>{CSS}</style></head><body>\n{banner}<h1>{escape(doc.title)}</h1>"
            f"{sub}\n{''.join(sections)}\n{foot}</body></html>\n")
