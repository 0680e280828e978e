"""``Document`` → PDF with ReportLab, offline: Chinese is set in the STSong-Light CID font that every PDF
reader provides, so no font file ships or downloads.

>>> from citybrain.core.documents import Document, Table
>>> pdf = to_pdf(Document("情况报告", ["燃气泄漏"], [Table("阶段", ("a", "b"), [("核实", "3 min")])]))
>>> pdf[:5]
b'%PDF-'
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

from citybrain.core.documents import BarChart, Document, Table

FONT = "STSong-Light"


@lru_cache(maxsize=1)
def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontName=FONT, fontSize=16, leading=22),
        "h2": ParagraphStyle("h", parent=base["Heading2"], fontName=FONT, fontSize=12, leading=16, spaceBefore=10),
        "body": ParagraphStyle("b", parent=base["BodyText"], fontName=FONT, fontSize=9, leading=13),
        "cell": ParagraphStyle("c", parent=base["BodyText"], fontName=FONT, fontSize=8, leading=10),
        "banner": ParagraphStyle("x", parent=base["Title"], fontName=FONT, fontSize=18, textColor="#bb0000"),
    }


def _p(text: str, style: Any) -> Any:
    from xml.sax.saxutils import escape

    from reportlab.platypus import Paragraph

    return Paragraph(escape(str(text)), style)


def _table(t: Table, styles: dict[str, Any], width: float) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table as RLTable
    from reportlab.platypus import TableStyle

    data = [[_p(c, styles["cell"]) for c in t.columns]]
    data += [[_p(v, styles["cell"]) for v in row] for row in t.rows]
    cols = max(1, len(t.columns))
    table = RLTable(data, colWidths=[width / cols] * cols, repeatRows=1)
    style = [("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
             ("VALIGN", (0, 0), (-1, -1), "TOP")]
    style += [("TEXTCOLOR", (j, i + 1), (j, i + 1), colors.HexColor("#bb0000")) for i, j in t.flagged]
    table.setStyle(TableStyle(style))
    return table


def _chart(c: BarChart, width: float) -> Any:
    from reportlab.graphics.shapes import Drawing, Rect, String

    row_h, label_w = 14, 150
    drawing = Drawing(width, row_h * max(1, len(c.bars)))
    top = max((v for _, v in c.bars), default=0) or 1.0
    for i, (label, value) in enumerate(c.bars):
        y = drawing.height - (i + 1) * row_h
        w = max(0.0, value) / top * (width - label_w - 60)
        drawing.add(String(0, y + 3, str(label)[:24], fontName=FONT, fontSize=8))
        drawing.add(Rect(label_w, y + 2, w, row_h - 4, fillColor="#3b6ea5", strokeColor=None))
        drawing.add(String(label_w + w + 4, y + 3, f"{value:g}{c.unit}", fontName=FONT, fontSize=8))
    return drawing


def to_pdf(doc: Document) -> bytes:
    """The document as A4 PDF bytes."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import cm
    from reportlab.platypus import SimpleDocTemplate, Spacer

    styles = _styles()
    out = io.BytesIO()
    page = SimpleDocTemplate(out, pagesize=A4, leftMargin=1.5 * cm, rightMargin=1.5 * cm, topMargin=1.5 * cm,
                             bottomMargin=1.5 * cm, title=doc.title, invariant=1)
    width = A4[0] - 3 * cm
    story: list[Any] = []
    if doc.banner:
        story.append(_p(doc.banner, styles["banner"]))
    story.append(_p(doc.title, styles["title"]))
    story += [_p(line, styles["body"]) for line in doc.subtitle]
    for s in doc.sections:
        story.append(_p(s.heading, styles["h2"]))
        if isinstance(s, Table):
            story.append(_table(s, styles, width))
        elif isinstance(s, BarChart):
            story.append(_chart(s, width) if s.bars else _p("—", styles["body"]))
        else:
            story += [_p(line, styles["body"]) for line in s.lines]
        story.append(Spacer(1, 4))
    story += [_p(line, styles["body"]) for line in doc.footer]
    page.build(story)
    return out.getvalue()
